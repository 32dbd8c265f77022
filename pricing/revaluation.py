"""Full revaluation of positions under market scenarios, P&L in USD and in coin.

Every position is repriced from scratch under every scenario (no greeks approximation):

* the spot and every forward move by the scenario's log return r: F' = F(T') e^r, where
  T' = max(T - h, 0) is the time to expiry after the horizon h (the carry of the remaining
  life is kept, so an aged position rolls down its forward curve);
* implied vol is read from the surface at T' (sticky-moneyness by default: the smile moves
  with the forward) and shocked: σ' = max(σ_smile · factor + add, 0);
* options are priced with Black-76 (rate 0, as margin models value without discounting
  over a two-day horizon); an option that expires inside the horizon is worth its intrinsic
  value at the shocked forward.

Units: linear instruments are valued in USD; inverse (coin-settled) ones in coin, converted
to USD at the scenario spot S' = S e^r. The coin P&L of a linear instrument is its USD P&L
divided by S'. Futures P&L: linear q (F' - F); inverse q (1 - F/F') coin (Deribit's inverse
contract, docs/methodology.md §B3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy.special import ndtr

from pricing import accel
from pricing._typing import ArrayLike, FloatArray
from pricing.black import black76_greeks, black76_price
from pricing.chain import OptionChain
from pricing.daycount import days_to_years
from pricing.errors import PricingInputError, parse_choice
from pricing.portfolio import OPTION, PERPETUAL, Portfolio
from pricing.surface import SHOCK_RULES, VolSurface, build_surface


@dataclass(frozen=True)
class Market:
    """A market snapshot: one vol surface (with its forward curve) per underlying.

    Attributes
    ----------
    as_of : datetime
        Valuation instant (timezone-aware).
    surfaces : mapping str -> VolSurface
        Keyed by underlying code (``"BTC"``).
    chains : mapping str -> OptionChain
        Optional chains, used for bid/ask (liquidity add-on) and open interest.
    """

    as_of: datetime
    surfaces: Mapping[str, VolSurface]
    chains: Mapping[str, OptionChain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise PricingInputError("as_of: must be timezone-aware (UTC)")

    def surface(self, underlying: str) -> VolSurface:
        try:
            return self.surfaces[str(underlying).upper()]
        except KeyError:
            have = ", ".join(sorted(self.surfaces)) or "none"
            raise PricingInputError(f"underlying: no market data for {underlying!r}; the market has {have}") from None

    def spot(self, underlying: str) -> float:
        return self.surface(underlying).spot

    @classmethod
    def from_chains(cls, chains: Mapping[str, OptionChain] | Sequence[OptionChain], *, smile: str = "svi") -> Market:
        """The market of option chains: a fitted surface per underlying, as of the latest snapshot.

        Parameters
        ----------
        chains : mapping of underlying -> OptionChain, or a sequence of chains
            One chain per underlying (Deribit layout, :mod:`pricing.chain`).
        smile : {"svi", "sabr"}
            Smile model of each expiry (:func:`pricing.surface.build_surface`).

        Returns
        -------
        Market
            ``as_of`` = the latest chain timestamp; the chains are kept for bid/ask and open interest.

        Examples
        --------
        >>> from pricing.chain import load_bundled_chain
        >>> m = Market.from_chains([load_bundled_chain("BTC", "2026-08-21")])
        >>> sorted(m.surfaces), f"{m.as_of:%Y-%m-%d %H:%M}"
        (['BTC'], '2026-08-21 09:47')
        """
        by_code = dict(chains) if isinstance(chains, Mapping) else {c.underlying: c for c in chains}
        if not by_code:
            raise PricingInputError("chains: at least one option chain is needed")
        surfaces = {u: build_surface(c, model=smile) for u, c in by_code.items()}
        return cls(max(c.as_of for c in by_code.values()), surfaces, by_code)


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


def reprice(
    portfolio: Portfolio,
    market: Market,
    returns: ArrayLike,
    *,
    vol_factor: ArrayLike = 1.0,
    vol_add: ArrayLike = 0.0,
    horizon_days: float = 0.0,
    rule: str = "sticky_moneyness",
    state: PositionState | None = None,
    coin: bool = True,
) -> ScenarioPnl:
    """P&L of every position under every scenario by full revaluation.

    Parameters
    ----------
    portfolio : Portfolio
    market : Market
    returns : array_like (P, S) or (S,)
        Log return of the position's underlying in each scenario.
    vol_factor, vol_add : array_like, broadcast to (P, S)
        Implied-vol shock: σ' = max(σ_smile(T', K; F') · factor + add, 0).
    horizon_days : float
        Calendar days the market moves over; options age by it.
    rule : {"sticky_moneyness", "sticky_strike"}
    state : PositionState, optional
        Precomputed :func:`position_state` (saves a pass when repricing in blocks).
    coin : bool
        Also compute the coin P&L (``ScenarioPnl.coin`` is empty when False).

    Returns
    -------
    ScenarioPnl
        ``usd`` and ``coin`` arrays of shape (P, S), P&L per position (quantity included).

    Notes
    -----
    Options use Black-76 written on the normalised price c = V/F' (rate 0):
    c = ω [N(ω d1) - e^k N(ω d2)], k = ln(K/F'), d1 = -k/s + s/2, s = σ'√T'. Because
    F' = F(T') e^r, k and e^k are an outer sum/product of a per-position and a per-scenario
    term, and s = √w · factor + add √T' needs no division by T'. The USD value is c F' for
    linear options and c S' for inverse ones (S'/F' = S/F(T') per position), so one
    expression serves both settlements.
    """
    how = parse_choice(rule, "rule", SHOCK_RULES)
    if not (np.isfinite(horizon_days) and horizon_days >= 0):
        raise PricingInputError(f"horizon_days: must be >= 0, got {horizon_days!r}")
    st = state or position_state(portfolio, market)
    ret = np.asarray(returns, dtype=np.float64)
    n_scen = ret.shape[-1] if ret.ndim else 1
    shape = (len(portfolio), n_scen)
    ret = np.broadcast_to(ret, shape)
    factor = np.broadcast_to(np.asarray(vol_factor, dtype=np.float64), shape)
    add = np.broadcast_to(np.asarray(vol_add, dtype=np.float64), shape)
    usd = np.empty(shape)
    coin_pnl = np.empty(shape) if coin else np.empty((len(portfolio), 0))
    if accel.enabled() and len(portfolio):
        plan = plan_revaluation(portfolio, market, horizon_days, st)
        if plan is not None:
            grid = ScenarioGrid.build(ret, factor, add, np.arange(len(portfolio)))
            return fused_pnl_matrix(plan, grid, how, coin)
    hy = float(days_to_years(horizon_days))
    t1 = np.where(portfolio.kind == PERPETUAL, 0.0, np.maximum(st.t_years - hy, 0.0))
    for u in portfolio.underlyings:
        surf = market.surface(u)
        idx = np.flatnonzero(portfolio.underlying == u)
        f1 = surf.forward(t1[idx])
        opt = portfolio.kind[idx] == OPTION
        if (~opt).any():
            _futures(portfolio, st, idx[~opt], f1[~opt], ret, usd, coin_pnl)
        if opt.any():
            _options(portfolio, st, surf, idx[opt], t1[idx[opt]], f1[opt], ret, factor, add, how, usd, coin_pnl)
    return ScenarioPnl(usd, coin_pnl)


@dataclass(frozen=True)
class RevaluationPlan:
    """Per-position invariants of a full revaluation, the inputs of :mod:`pricing.accel.scenario`.

    One row per position: ``kind`` (LIVE/EXPIRED option or LINEAR), ``omega`` (+1/-1),
    ``lk`` = ln(K/F(T')), ``ek`` = K/F(T'), ``g`` = USD per unit of c e^r (F(T') for linear
    options, S F(T')/F(T') = S for inverse ones; for LINEAR rows the slope of the P&L in e^r),
    ``base_usd``/``base_c`` (value at as-of per unit, USD and normalised), ``sqrt_t1`` = sqrt(T'),
    ``svi`` (c0, a0, b0, rho0, m0, sigma0^2, c1, a1, ..., sigma1^2): the total variance at T' is
    c0 w_SVI0(k) + c1 w_SVI1(k). ``units`` = quantity x contract size.
    """

    kind: np.ndarray
    omega: FloatArray
    lk: FloatArray
    ek: FloatArray
    g: FloatArray
    base_usd: FloatArray
    base_c: FloatArray
    sqrt_t1: FloatArray
    svi: FloatArray
    units: FloatArray
    inverse_option: np.ndarray
    spot: FloatArray


def _svi_table(surf: VolSurface) -> FloatArray | None:
    """(a, b, rho, m, sigma^2) per expiry when every smile is raw SVI or flat, else None."""
    rows = []
    for smile in surf.smiles:
        params = smile.params()
        if {"a", "b", "rho", "m", "sigma"} <= params.keys():
            rows.append((params["a"], params["b"], params["rho"], params["m"], params["sigma"] ** 2))
        elif params.keys() == {"vol"}:
            rows.append((smile.total_variance(np.zeros(1))[0], 0.0, 0.0, 0.0, 1.0))
        else:
            return None
    return np.array(rows, dtype=np.float64)


def plan_revaluation(
    portfolio: Portfolio, market: Market, horizon_days: float, state: PositionState | None = None
) -> RevaluationPlan | None:
    """The :class:`RevaluationPlan` of ``portfolio``, or None when a smile is not SVI or flat
    (SABR surfaces go through the numpy path)."""
    from pricing.accel.scenario import EXPIRED, LINEAR, LIVE

    st = state or position_state(portfolio, market)
    n = len(portfolio)
    hy = float(days_to_years(horizon_days))
    t1 = np.where(portfolio.kind == PERPETUAL, 0.0, np.maximum(st.t_years - hy, 0.0))
    kind = np.full(n, LINEAR, dtype=np.int64)
    omega, lk, ek, g, base_usd, base_c, sqrt_t1 = (np.zeros(n) for _ in range(7))
    svi = np.zeros((n, 12))
    opt = portfolio.kind == OPTION
    inverse = portfolio.inverse.astype(bool)
    for u in portfolio.underlyings:
        surf = market.surface(u)
        table = _svi_table(surf)
        if table is None:
            return None
        rows = np.flatnonzero(portfolio.underlying == u)
        f1 = surf.forward(t1[rows])
        o = opt[rows]
        ro, rf = rows[o], rows[~o]
        # LINEAR rows: unit P&L = g e^r - base (see _futures).
        g[rf] = np.where(inverse[rf], st.spot[rf], f1[~o])
        base_usd[rf] = np.where(inverse[rf], st.forward[rf] * st.spot[rf] / f1[~o], st.forward[rf])
        if ro.size:
            f1o = f1[o]
            kind[ro] = np.where(t1[ro] > 0, LIVE, EXPIRED)
            omega[ro] = portfolio.cp[ro]
            ek[ro] = portfolio.strike[ro] / f1o
            lk[ro] = np.log(ek[ro])
            g[ro] = f1o * np.where(inverse[ro], st.spot[ro] / f1o, 1.0)
            base_c[ro] = (
                black76_price(omega[ro], st.forward[ro], portfolio.strike[ro], st.t_years[ro], st.vol[ro]) / st.forward[ro]
            )
            base_usd[ro] = base_c[ro] * st.forward[ro] * np.where(inverse[ro], st.spot[ro] / st.forward[ro], 1.0)
            sqrt_t1[ro] = np.sqrt(t1[ro])
            i0, i1, c0, c1 = surf.variance_weights(t1[ro])
            svi[ro, 0], svi[ro, 1:6] = c0, table[i0]
            svi[ro, 6], svi[ro, 7:12] = c1, table[i1]
    return RevaluationPlan(
        kind,
        omega,
        lk,
        ek,
        g,
        base_usd,
        base_c,
        sqrt_t1,
        svi,
        portfolio.units.astype(np.float64),
        opt & inverse,
        st.spot.astype(np.float64),
    )


@dataclass(frozen=True)
class ScenarioGrid:
    """Per-underlying scenario rows (U, S) in the form the kernels take, and each position's row."""

    ret: FloatArray
    growth: FloatArray
    inv_growth: FloatArray
    factor: FloatArray
    add: FloatArray
    row: np.ndarray

    @staticmethod
    def build(ret: ArrayLike, factor: ArrayLike, add: ArrayLike, row: np.ndarray) -> ScenarioGrid:
        r = np.ascontiguousarray(np.atleast_2d(np.asarray(ret, dtype=np.float64)))
        shape = r.shape
        fac = np.ascontiguousarray(np.broadcast_to(np.asarray(factor, dtype=np.float64), shape))
        ad = np.ascontiguousarray(np.broadcast_to(np.asarray(add, dtype=np.float64), shape))
        return ScenarioGrid(r, np.exp(r), np.exp(-r), fac, ad, np.ascontiguousarray(row, dtype=np.int64))


def fused_pnl_sum(plan: RevaluationPlan, grid: ScenarioGrid, weight: FloatArray, rule: str) -> FloatArray:
    """sum_p weight[p] x unit P&L(p, s) in USD (weight = quantity x contract size), no (P, S) matrix."""
    from pricing.accel.scenario import pnl_sum

    out = np.empty(grid.ret.shape[1])
    pnl_sum(
        plan.kind,
        plan.omega,
        plan.lk,
        plan.ek,
        plan.g,
        plan.base_usd,
        plan.sqrt_t1,
        plan.svi,
        grid.row,
        np.ascontiguousarray(weight, dtype=np.float64),
        grid.ret,
        grid.growth,
        grid.inv_growth,
        grid.factor,
        grid.add,
        rule == "sticky_moneyness",
        out,
    )
    return out


def fused_pnl_matrix(plan: RevaluationPlan, grid: ScenarioGrid, rule: str, coin: bool) -> ScenarioPnl:
    """The (P, S) P&L of :func:`reprice` from the fused kernel."""
    from pricing.accel.scenario import pnl_matrix

    shape = (plan.kind.size, grid.ret.shape[1])
    usd = np.empty(shape)
    coin_pnl = np.empty(shape) if coin else np.empty((shape[0], 0))
    pnl_matrix(
        plan.kind,
        plan.omega,
        plan.lk,
        plan.ek,
        plan.g,
        plan.base_usd,
        plan.base_c,
        plan.sqrt_t1,
        plan.svi,
        grid.row,
        plan.units,
        plan.inverse_option,
        plan.spot,
        grid.ret,
        grid.growth,
        grid.inv_growth,
        grid.factor,
        grid.add,
        rule == "sticky_moneyness",
        usd,
        coin_pnl if coin else usd,
        coin,
    )
    return ScenarioPnl(usd, coin_pnl)


def fused_marginal_tail(
    plan: RevaluationPlan,
    grid: ScenarioGrid,
    weight: FloatArray,
    rule: str,
    base_pnl: FloatArray,
    n_core: int,
    k_core: int,
    k_stress: int,
) -> FloatArray:
    """(C, 8): VaR, ES, stressed VaR, stressed ES of base + weight x candidate, then of base - weight x candidate."""
    from pricing.accel.scenario import marginal_tail

    out = np.empty((plan.kind.size, 8))
    marginal_tail(
        plan.kind,
        plan.omega,
        plan.lk,
        plan.ek,
        plan.g,
        plan.base_usd,
        plan.sqrt_t1,
        plan.svi,
        grid.row,
        np.ascontiguousarray(weight, dtype=np.float64),
        grid.ret,
        grid.growth,
        grid.inv_growth,
        grid.factor,
        grid.add,
        rule == "sticky_moneyness",
        np.ascontiguousarray(base_pnl, dtype=np.float64),
        int(n_core),
        int(k_core),
        int(k_stress),
        out,
    )
    return out


@dataclass(frozen=True)
class FusedScenarios:
    """A portfolio's :class:`RevaluationPlan` on a scenario set, for the fused kernels.

    Scenario columns are held core first, then stressed (``order`` maps them back to the set's
    own order); ``n_core`` is the number of core columns.
    """

    plan: RevaluationPlan
    grid: ScenarioGrid
    rule: str
    order: np.ndarray
    n_core: int

    @staticmethod
    def build(
        portfolio: Portfolio,
        market: Market,
        state: PositionState,
        underlyings: tuple[str, ...],
        returns: FloatArray,
        vol_factor: FloatArray,
        stressed: np.ndarray,
        horizon_days: float,
        rule: str,
    ) -> FusedScenarios | None:
        """None when the fused kernels are off or a smile is not SVI/flat."""
        if not accel.enabled() or not len(portfolio):
            return None
        plan = plan_revaluation(portfolio, market, horizon_days, state)
        if plan is None:
            return None
        row = underlying_rows(underlyings, portfolio)
        flags = np.asarray(stressed, dtype=bool)
        order = np.concatenate([np.flatnonzero(~flags), np.flatnonzero(flags)])
        grid = ScenarioGrid.build(np.asarray(returns)[:, order], np.asarray(vol_factor)[:, order], 0.0, row)
        return FusedScenarios(plan, grid, parse_choice(rule, "rule", SHOCK_RULES), order, int((~flags).sum()))

    def pnl_sum(self, quantity: FloatArray) -> FloatArray:
        """sum_p quantity[p] x P&L per contract (p, s), USD, in the scenario set's column order."""
        out = np.empty(self.order.size)
        out[self.order] = fused_pnl_sum(self.plan, self.grid, np.asarray(quantity, dtype=np.float64) * self.plan.units, self.rule)
        return out

    def columns(self, cols: np.ndarray) -> FloatArray:
        """(P, len(cols)) P&L per contract in the scenario set's columns ``cols``."""
        where = np.argsort(self.order)[np.asarray(cols, dtype=np.int64)]
        g = self.grid
        ret, growth, inv_growth, factor, add = (
            np.ascontiguousarray(a[:, where]) for a in (g.ret, g.growth, g.inv_growth, g.factor, g.add)
        )
        sub = ScenarioGrid(ret, growth, inv_growth, factor, add, g.row)
        return fused_pnl_matrix(self.plan, sub, self.rule, coin=False).usd

    def tails(self, size: FloatArray, base_pnl: FloatArray, k_core: int, k_stress: int) -> FloatArray:
        """(C, 8) tail measures of base +/- size x each position (see :func:`fused_marginal_tail`)."""
        weight = np.asarray(size, dtype=np.float64) * self.plan.units
        return fused_marginal_tail(
            self.plan, self.grid, weight, self.rule, np.asarray(base_pnl)[self.order], self.n_core, k_core, k_stress
        )


def _futures(
    p: Portfolio, st: PositionState, rows: np.ndarray, f1: FloatArray, ret: FloatArray, usd: FloatArray, coin: FloatArray
) -> None:
    units = p.units[rows][:, None]
    f0 = st.forward[rows][:, None]
    growth = np.exp(ret[rows])
    f_new = f1[:, None] * growth
    s_new = st.spot[rows][:, None] * growth
    inv = p.inverse[rows][:, None]
    unit_coin = np.where(inv, 1.0 - f0 / f_new, (f_new - f0) / s_new)
    usd[rows] = units * np.where(inv, unit_coin * s_new, f_new - f0)
    if coin.shape[1]:
        coin[rows] = units * unit_coin


#: Elements per kernel block: ~12 live float64 temporaries of 16K elements stay in L2.
KERNEL_CELLS = 16_384


def _options(
    p: Portfolio,
    st: PositionState,
    surf: VolSurface,
    rows: np.ndarray,
    t1: FloatArray,
    f1: FloatArray,
    ret: FloatArray,
    factor: FloatArray,
    add: FloatArray,
    how: str,
    usd: FloatArray,
    coin: FloatArray,
) -> None:
    """Fused, blocked repricing of option rows (see :func:`reprice` Notes)."""
    n_scen = ret.shape[1]
    strike = p.strike[rows]
    omega = p.cp[rows]
    units = p.units[rows]
    inverse = p.inverse[rows]
    lk = np.log(strike / f1)  # ln(K / F(T')) per row
    ek = strike / f1
    ratio = np.where(inverse, st.spot[rows] / f1, 1.0)  # USD value per unit c F'
    g = f1 * ratio
    # Base value per unit, normalised the same way (c0 F0 ratio0).
    base_c = black76_price(omega, st.forward[rows], strike, st.t_years[rows], st.vol[rows]) / st.forward[rows]
    base_usd = base_c * st.forward[rows] * np.where(inverse, st.spot[rows] / st.forward[rows], 1.0)
    sqrt_t = np.sqrt(t1)
    i0, i1, c0, c1 = surf.variance_weights(t1)
    live = t1 > 0
    groups = {(int(a), int(b)) for a, b in zip(i0[live], i1[live])}
    per_block = max(1, KERNEL_CELLS // max(n_scen, 1))
    for a, b in sorted(groups):
        members = np.flatnonzero(live & (i0 == a) & (i1 == b))
        for lo in range(0, members.size, per_block):
            m = members[lo : lo + per_block]
            r = rows[m]
            ret_b = ret[r]
            k = lk[m, None] - ret_b
            kv = k if how == "sticky_moneyness" else lk[m, None]
            w = c0[m, None] * surf.smiles[a].total_variance(kv)
            if np.any(c1[m] != 0):
                w += c1[m, None] * surf.smiles[b].total_variance(kv)
            sd = np.sqrt(np.maximum(w, 0.0)) * factor[r] + add[r] * sqrt_t[m, None]
            np.maximum(sd, 0.0, out=sd)
            c = _normalised_black(omega[m, None], k, ek[m, None] * np.exp(-ret_b), sd)
            _store(c, g[m], ret_b, base_usd[m], base_c[m], inverse[m], units[m], st.spot[rows][m], r, usd, coin)
    expired = np.flatnonzero(~live)
    if expired.size:
        r = rows[expired]
        ret_b = ret[r]
        ekr = ek[expired, None] * np.exp(-ret_b)
        c = np.maximum(omega[expired, None] * (1.0 - ekr), 0.0)
        _store(
            c,
            g[expired],
            ret_b,
            base_usd[expired],
            base_c[expired],
            inverse[expired],
            units[expired],
            st.spot[rows][expired],
            r,
            usd,
            coin,
        )


def _normalised_black(omega: FloatArray, k: FloatArray, ek: FloatArray, sd: FloatArray) -> FloatArray:
    """c = ω [N(ω d1) - e^k N(ω d2)]; intrinsic where sd = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = -k / sd + 0.5 * sd
    d2 = d1 - sd
    c = omega * (ndtr(omega * d1) - ek * ndtr(omega * d2))
    zero = sd <= 0
    if zero.any():
        c = np.where(zero, np.maximum(omega * (1.0 - ek), 0.0), c)
    return np.asarray(c, dtype=np.float64)


def _store(
    c: FloatArray,
    g: FloatArray,
    ret_b: FloatArray,
    base_usd: FloatArray,
    base_c: FloatArray,
    inverse: np.ndarray,
    units: FloatArray,
    spot: FloatArray,
    r: np.ndarray,
    usd: FloatArray,
    coin: FloatArray,
) -> None:
    growth = np.exp(ret_b)
    unit_usd = c * g[:, None] * growth - base_usd[:, None]
    usd[r] = units[:, None] * unit_usd
    if coin.shape[1]:
        unit_coin = np.where(inverse[:, None], c - base_c[:, None], unit_usd / (spot[:, None] * growth))
        coin[r] = units[:, None] * unit_coin
