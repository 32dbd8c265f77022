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
    """P&L per position (rows) and scenario (columns)."""

    usd: FloatArray
    coin: FloatArray


@dataclass(frozen=True)
class PositionState:
    """Per-position market state at ``as_of`` (inputs every margin model shares)."""

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
        (value, deltas and vega scale; time, forward, spot and vol do not)."""
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
        """The state of the positions at ``rows``."""
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

    ``delta_coin`` is dV_USD/dF x units (coins of underlying), the exposure concentration and
    SPAN use; ``delta_premium_adjusted`` is the coin-denominated delta Deribit reports for
    inverse options (dV/dF - V/F per coin of premium), used by the Deribit roll shock.
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
            value[opt] = units[opt] * g.price
            delta[opt] = units[opt] * g.delta
            vega[opt] = units[opt] * g.vega
            inv = portfolio.inverse[opt]
            padj[opt] = units[opt] * np.where(inv, g.delta - g.price / fwd[opt], g.delta)
        fut = rows & (portfolio.kind != OPTION)
        delta[fut] = units[fut]
        padj[fut] = units[fut]
    return PositionState(t, fwd, spot, vol, value, delta, padj, vega)


def underlying_rows(underlyings: tuple[str, ...], portfolio: Portfolio) -> np.ndarray:
    """Index into ``underlyings`` of each position's underlying (a named error if one is missing)."""
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
    """Per-underlying rows ``values[u, s]`` to per-position rows (P, S)."""
    index = underlying_rows(underlyings, portfolio)
    return np.asarray(values)[index] if index.size else np.zeros((0, np.shape(values)[1]))
