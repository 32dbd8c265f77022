"""Price sanity: every quote leaving the desk lies within no-arbitrage bounds.

Per unit of underlying, an option's value is at least 0 and at most what it can pay: a call
at most the discounted forward, a put at most the discounted strike (Hull, *Options, Futures,
and Other Derivatives*, 10th ed., §11.3, the upper and lower bounds, written on the forward as
Black-76 does). A structure's price lies within the sum of its legs' bounds: a leg bought adds
[0, U], a leg sold [-U, 0]. A quote whose bid or ask falls outside, is not finite, whose bid is
above its ask (crossed), or that prices a structure of bought options (a positive cost) at zero or
less is refused with the reason, never sent.

Every quote leaving the desk passes here: :meth:`pricing.desk.service.Desk.quote` calls
:func:`checked` on what :func:`pricing.xva.quote.quote_rfqs` returns.

Futures and perpetual legs have no premium bound here (a future costs nothing to enter); a
structure holding one is bounded by its option legs only on the side they bound.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import ACT360_PER_ACT365
from pricing.market import Market
from pricing.portfolio import OPTION
from pricing.xva.params import QuoteParams
from pricing.xva.quote import QuoteTable
from pricing.xva.rates import latest_sofr
from pricing.xva.rfq import RfqBatch


def leg_bounds(
    is_option: np.ndarray, cp: FloatArray, forward: FloatArray, strike: FloatArray, df: FloatArray, units: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper value of each leg, USD, for its signed ``units`` (contracts x multiplier).

    Parameters
    ----------
    is_option : bool array
        False for futures and perpetuals (unbounded here).
    cp : array
        +1 call, -1 put (options).
    forward, strike : array
        USD per unit of underlying.
    df : array
        Discount factor from expiry to the premium date (1 for coin-settled premiums).
    units : array
        Signed units held when the structure is bought.

    Returns
    -------
    (lo, hi) : arrays
        USD. Notes: per unit a call lies in [0, df F] and a put in [0, df K]; a leg of ``u`` units
        spans [min(0, u U), max(0, u U)]; a future leg spans (-inf, inf).
    """
    upper = df * np.where(cp > 0, forward, strike) * units
    lo = np.where(is_option, np.minimum(upper, 0.0), -np.inf)
    hi = np.where(is_option, np.maximum(upper, 0.0), np.inf)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def structure_bounds(lo: FloatArray, hi: FloatArray, starts: np.ndarray) -> tuple[FloatArray, FloatArray]:
    """Per trade, the sum of its legs' bounds (legs of trade t are ``starts[t]:starts[t+1]``).

    Parameters
    ----------
    lo, hi : ndarray, shape (legs,)
        Each leg's lower and upper no-arbitrage bound, USD for its signed quantity (NaN: none).
    starts : ndarray of int, shape (T + 1,)
        Trade boundaries.

    Returns
    -------
    (lo, hi) : ndarrays of shape (T,)
        USD; NaN when a leg has no bound.
    """
    first = starts[:-1]
    with np.errstate(invalid="ignore"):
        return np.add.reduceat(lo, first), np.add.reduceat(hi, first)


def quote_refusals(
    bid: FloatArray, ask: FloatArray, lo: FloatArray, hi: FloatArray, long_options: np.ndarray, names: tuple[str, ...]
) -> list[str | None]:
    """Why each trade's quote must not leave the desk (None: it may), prices USD for the whole quantity.

    Parameters
    ----------
    bid, ask : arrays
        NaN on a side not quoted.
    lo, hi : arrays
        The structure's bounds (:func:`structure_bounds`).
    long_options : bool array
        The structure is bought options only: a price of zero or less is nonsense.
    names : tuple of str
        Trade names for the message.

    Returns
    -------
    list of str or None
        Per quote the reason it is refused, or None where it passes.
    """
    quoted_bid, quoted_ask = ~np.isnan(bid), ~np.isnan(ask)
    with np.errstate(invalid="ignore"):
        bad_bid = quoted_bid & (~np.isfinite(bid) | (long_options & (bid <= 0)) | (bid < lo) | (bid > hi))
        bad_ask = quoted_ask & (~np.isfinite(ask) | (long_options & (ask <= 0)) | (ask < lo) | (ask > hi))
        # Crossed is bid > ask. A locked quote (bid == ask) is a quote: a future or perpetual
        # (base 0) quoted two-way with no funding, capital or spread configured is 0 / 0, and
        # refusing it made every such request unquotable (found by tests/property/test_desk.py).
        crossed = quoted_bid & quoted_ask & ~(bid <= ask)
    out: list[str | None] = [None] * bid.size
    # Messages are built for the refused trades only: the check itself is vectorised.
    for t in np.flatnonzero(bad_bid | bad_ask | crossed).tolist():
        why = [
            _why(label, float(px[t]), float(lo[t]), float(hi[t]), bool(long_options[t]))
            for label, px, bad in (("bid", bid, bad_bid), ("ask", ask, bad_ask))
            if bad[t]
        ]
        if crossed[t]:
            why.append(f"bid {bid[t]:.2f} is above ask {ask[t]:.2f} (crossed)")
        out[t] = f"{names[t]}: price sanity: " + "; ".join(why)
    return out


def _why(label: str, px: float, lo: float, hi: float, long_options: bool) -> str:
    if not np.isfinite(px):
        return f"{label} {px} is not a price"
    if long_options and px <= 0:
        return f"{label} {px:.2f} USD: bought options are worth more than 0"
    return f"{label} {px:.2f} USD is outside the no-arbitrage bounds [{lo:.2f}, {hi:.2f}]"


def checked(batch: RfqBatch, table: QuoteTable, market: Market, p: QuoteParams) -> QuoteTable:
    """The table with every quote that breaks its bounds refused: its bid and ask NaN, its reason in ``refusals``.

    Parameters
    ----------
    batch : RfqBatch
        The requests quoted (``batch.trades`` are the legs, the dealer buying each structure).
    table : QuoteTable
        Their quotes (:func:`pricing.xva.quote.quote_rfqs`), USD for the whole quantity.
    market : Market
        The market they were priced on (forwards per leg).
    p : QuoteParams
        The premium's discounting: coin-settled legs undiscounted, USD-settled at SOFR from expiry
        (as :func:`pricing.xva.risks.leg_premiums` values them).

    Returns
    -------
    QuoteTable
        The table with every quote that fails a sanity check refused, with its reason.

    Notes
    -----
    Bounds per :func:`leg_bounds` and :func:`structure_bounds`; the checks per :func:`quote_refusals`.
    """
    trades = batch.trades
    if trades.count == 0:
        return table
    legs = trades.legs
    t = legs.t_years(market.as_of)
    forward = np.ones(len(legs))
    for u in legs.underlyings:
        rows = legs.underlying == u
        forward[rows] = market.surface(u).forward(t[rows])
    sofr = latest_sofr() if p.sofr is None else p.sofr
    df = np.where(legs.inverse, 1.0, np.exp(-sofr * t * ACT360_PER_ACT365))
    is_option = legs.kind == OPTION
    lo, hi = leg_bounds(is_option, legs.cp, forward, legs.strike, df, legs.units)
    t_lo, t_hi = structure_bounds(lo, hi, trades.starts)
    long_options = np.logical_and.reduceat(np.where(is_option, legs.units > 0, False), trades.starts[:-1])
    refusals = quote_refusals(table.bid["price"], table.ask["price"], t_lo, t_hi, long_options, table.names)
    bad = np.array([r is not None for r in refusals])
    if not bad.any():
        return dataclasses.replace(table, refusals=tuple(refusals))
    bid = {**table.bid, "price": np.where(bad, np.nan, table.bid["price"])}
    ask = {**table.ask, "price": np.where(bad, np.nan, table.ask["price"])}
    return dataclasses.replace(table, bid=bid, ask=ask, refusals=tuple(refusals))
