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

import numpy as np
from scipy.special import ndtr

from pricing import accel
from pricing._typing import ArrayLike, FloatArray
from pricing.black import black76_price
from pricing.daycount import days_to_years
from pricing.errors import PricingInputError, parse_choice
from pricing.market import Market
from pricing.portfolio import OPTION, PERPETUAL, Portfolio
from pricing.positions import PositionState, ScenarioPnl, position_state
from pricing.surface import SHOCK_RULES, VolSurface


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
        The positions, one row each, with signed quantities in contracts.
    market : Market
        The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
    returns : array_like (P, S) or (S,)
        Log return of the position's underlying in each scenario.
    vol_factor, vol_add : array_like, broadcast to (P, S)
        Implied-vol shock: σ' = max(σ_smile(T', K; F') · factor + add, 0).
    horizon_days : float
        Calendar days the market moves over; options age by it.
    rule : {"sticky_moneyness", "sticky_strike"}
        Smile dynamics under a spot move: the vol is read at the same moneyness K/F (``sticky_moneyness``) or at the same strike
        (``sticky_strike``).
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
    if accel.enabled("scenario", len(portfolio)) and len(portfolio):
        from pricing.fused import ScenarioGrid, fused_pnl_matrix, plan_revaluation

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
