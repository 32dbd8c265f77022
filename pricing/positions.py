"""Per-position market state: forwards, vols, values and deltas of a portfolio on a market.

What every margin model, the XVA and the fused scenario kernels share about the positions
(:func:`position_state`), and the scenario P&L container (:class:`ScenarioPnl`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pricing._typing import FloatArray
from pricing.black import black76_greeks
from pricing.errors import PricingInputError
from pricing.market import Market
from pricing.portfolio import OPTION, PERPETUAL, Portfolio


@dataclass(frozen=True)
class ScenarioPnl:
    """P&L per position (rows) and scenario (columns).

    Attributes
    ----------
    usd : ndarray, shape (positions, scenarios)
        USD.
    coin : ndarray, shape (positions, scenarios)
        In coin of the underlying (inverse positions' own unit).
    """

    usd: FloatArray
    coin: FloatArray


@dataclass(frozen=True)
class PositionState:
    """Per-position market state at ``as_of`` (inputs every margin model shares).

    Attributes
    ----------
    t_years : ndarray
        Time to expiry, years ACT/365 (0 for perpetuals).
    forward : ndarray
        The expiry's forward, USD.
    spot : ndarray
        The index, USD.
    vol : ndarray
        The surface's vol at the strike and expiry, decimal (0 for futures).
    value_usd : ndarray
        Value today, USD, for the whole quantity (:func:`position_state`).
    delta_coin : ndarray
        dV/dF x units, coins.
    delta_premium_adjusted : ndarray
        dV/dF - V/F per coin for inverse options, x units, coins.
    vega_usd : ndarray
        Vega of ``value_usd`` per 1.00 of vol, USD.
    """

    t_years: FloatArray
    forward: FloatArray
    spot: FloatArray
    vol: FloatArray
    value_usd: FloatArray
    delta_coin: FloatArray
    delta_premium_adjusted: FloatArray
    vega_usd: FloatArray

    def scaled(self, quantity: FloatArray) -> PositionState:
        """The state of the same positions at ``quantity`` times the quantity this state was taken at
        (value, deltas and vega scale; time, forward, spot and vol do not).

        Parameters
        ----------
        quantity : ndarray
            Multiplier per position.

        Returns
        -------
        PositionState
            The same state with quantity-proportional columns scaled.
        """
        q = np.asarray(quantity, dtype=np.float64)
        return PositionState(
            self.t_years,
            self.forward,
            self.spot,
            self.vol,
            self.value_usd * q,
            self.delta_coin * q,
            self.delta_premium_adjusted * q,
            self.vega_usd * q,
        )

    def take(self, rows: np.ndarray) -> PositionState:
        """The state of the positions at ``rows``.

        Parameters
        ----------
        rows : ndarray of int or bool
            Row indices or a boolean mask of length P.

        Returns
        -------
        PositionState
            The state of the selected positions.
        """
        return PositionState(*(getattr(self, f)[rows] for f in PositionState.__dataclass_fields__))


def _check(portfolio: Portfolio, market: Market) -> FloatArray:
    t = portfolio.t_years(market.as_of)
    expired = (portfolio.kind != PERPETUAL) & ~(t > 0)
    if expired.any():
        name = portfolio.names[int(np.flatnonzero(expired)[0])]
        raise PricingInputError(
            f"instrument {name!r}: expired at or before {market.as_of:%Y-%m-%d %H:%M} UTC; remove it from the portfolio"
        )
    for u in portfolio.underlyings:
        market.surface(u)
    return t


def position_state(portfolio: Portfolio, market: Market) -> PositionState:
    """Forward, vol, USD value and deltas of each position at ``market.as_of``.

    Parameters
    ----------
    portfolio : Portfolio
        Positions (contracts, + long); none may have expired at the market's time.
    market : Market
        Must carry a surface for every underlying of the portfolio.

    Returns
    -------
    PositionState
        Per position: ``t_years`` (ACT/365), ``forward`` and ``spot`` (USD), ``vol`` (decimal),
        ``value_usd``, ``delta_coin``, ``delta_premium_adjusted``, ``vega_usd`` (per 1.00 vol),
        all for the position's whole quantity.

    Raises
    ------
    PricingInputError
        An expired position or an underlying the market does not carry, named.

    Notes
    -----
    Options by Black-76 at rate 0 on the surface's forward and vol (:mod:`pricing.black`).
    ``value_usd`` is what the position is worth in USD today as the venue marks it: a linear
    (USD-settled) option's undiscounted Black-76 value on its expiry's forward (the mark; the
    premium paid today discounts it, :func:`pricing.xva.risks.leg_premiums`), an inverse
    (coin-settled) option's coin mark c = Black-76/F times the index S — not c x F, which is
    the forward value of the coin at expiry (docs/methodology.md §D6). ``vega_usd`` is the vega
    of that value. ``delta_coin`` is dV/dF x units of the Black-76 value (coins of underlying),
    the exposure concentration and SPAN use; ``delta_premium_adjusted`` is the coin-denominated
    delta Deribit reports for inverse options (dV/dF - V/F per coin of premium).

    Examples
    --------
    >>> from pricing.daycount import utc
    >>> from pricing.instruments import OptionContract
    >>> from pricing.portfolio import from_contracts
    >>> from pricing.surface import flat_surface
    >>> m = Market(utc(2026, 8, 21, 8), {"BTC": flat_surface("BTC", 60_000.0, 0.6)})
    >>> st = position_state(from_contracts([OptionContract("BTC", utc(2026, 9, 20, 8), 60_000.0, 1, "inverse")], [2.0]), m)
    >>> round(float(st.t_years[0]) * 365, 6), float(st.vol[0]), bool(st.value_usd[0] > 0)
    (30.0, 0.6, True)
    """
    t = _check(portfolio, market)
    n = len(portfolio)
    fwd, spot, vol, value, delta, padj, vega = (np.zeros(n) for _ in range(7))
    units = portfolio.units
    for u in portfolio.underlyings:
        rows = portfolio.underlying == u
        surf = market.surface(u)
        spot[rows] = surf.spot
        fwd[rows] = surf.forward(t[rows])
        opt = rows & (portfolio.kind == OPTION)
        if opt.any():
            vol[opt] = surf.vol(portfolio.strike[opt], t[opt])
            g = black76_greeks(portfolio.cp[opt], fwd[opt], portfolio.strike[opt], t[opt], vol[opt])
            inv = portfolio.inverse[opt]
            # USD today per USD of Black-76 value: 1 for a USD mark, S/F for a coin mark (c = V/F coins at S).
            today = np.where(inv, spot[opt] / fwd[opt], 1.0)
            value[opt] = units[opt] * g.price * today
            delta[opt] = units[opt] * g.delta
            vega[opt] = units[opt] * g.vega * today
            padj[opt] = units[opt] * np.where(inv, g.delta - g.price / fwd[opt], g.delta)
        fut = rows & (portfolio.kind != OPTION)
        delta[fut] = units[fut]
        padj[fut] = units[fut]
    return PositionState(t, fwd, spot, vol, value, delta, padj, vega)


def underlying_rows(underlyings: tuple[str, ...], portfolio: Portfolio) -> np.ndarray:
    """Index into ``underlyings`` of each position's underlying.

    Parameters
    ----------
    underlyings : tuple of str
        The rows of a per-underlying table (a scenario set's underlyings, say).
    portfolio : Portfolio
        The positions, one row each, with signed quantities in contracts.

    Returns
    -------
    ndarray of int64
        One index per position.

    Raises
    ------
    PricingInputError
        An underlying of the portfolio missing from ``underlyings``, named.

    Notes
    -----
    One dictionary lookup per distinct underlying, then a vectorised gather over the positions.
    """
    lookup = {u: i for i, u in enumerate(underlyings)}
    missing = [u for u in portfolio.underlyings if u not in lookup]
    if missing:
        raise PricingInputError(
            f"underlying: no scenarios for {', '.join(missing)}; scenarios cover {', '.join(underlyings) or 'none'}"
        )
    codes = np.array([lookup[u] for u in portfolio.underlyings], dtype=np.int64)
    # One lookup per distinct underlying, then a vectorised gather over the positions.
    return (
        codes[np.searchsorted(np.array(portfolio.underlyings), np.asarray(portfolio.underlying, dtype=str))]
        if len(portfolio)
        else codes[:0]
    )


def expand(values: FloatArray, underlyings: tuple[str, ...], portfolio: Portfolio) -> FloatArray:
    """Per-underlying rows ``values[u, s]`` to per-position rows (P, S).

    Parameters
    ----------
    values : ndarray, shape (U, S)
        One row per entry of ``underlyings``.
    underlyings : tuple of str
        The underlyings, in the order of the output's columns.
    portfolio : Portfolio
        The positions, one row each, with signed quantities in contracts.

    Returns
    -------
    ndarray, shape (P, S)
        Row p is the row of position p's underlying.

    Notes
    -----
    ``values[underlying_rows(underlyings, portfolio)]``; an empty portfolio gives (0, S).
    """
    index = underlying_rows(underlyings, portfolio)
    return np.asarray(values)[index] if index.size else np.zeros((0, np.shape(values)[1]))
