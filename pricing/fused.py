"""Adapters between the engine and the fused scenario kernels (:mod:`pricing.accel.scenario`).

A :class:`RevaluationPlan` holds each position's invariants of a full revaluation, a
:class:`ScenarioGrid` the per-underlying scenario rows in the form the kernels take, and
:class:`FusedScenarios` a portfolio's plan on a scenario set, which the VaR models use for the
portfolio P&L and marginal VaR/ES without (positions x scenarios) or (candidates x scenarios)
matrices. numpy code only: the kernels are imported when first called, so importing this module
never needs numba.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace
from functools import cached_property

import numpy as np

from pricing import accel
from pricing._typing import ArrayLike, FloatArray
from pricing.black import black76_price
from pricing.daycount import days_to_years
from pricing.errors import parse_choice
from pricing.market import Market
from pricing.portfolio import OPTION, PERPETUAL, Portfolio
from pricing.positions import PositionState, ScenarioPnl, position_state, underlying_rows
from pricing.surface import SHOCK_RULES, VolSurface


@dataclass(frozen=True)
class RevaluationPlan:
    """Per-position invariants of a full revaluation, the inputs of :mod:`pricing.accel.scenario`.

    One row per position: ``kind`` (LIVE/EXPIRED option or LINEAR), ``omega`` (+1/-1),
    ``lk`` = ln(K/F(T')), ``ek`` = K/F(T'), ``g`` = USD per unit of c e^r (F(T') for linear
    options, S F(T')/F(T') = S for inverse ones; for LINEAR rows the slope of the P&L in e^r),
    ``base_usd``/``base_c`` (value at as-of per unit, USD and normalised), ``sqrt_t1`` = sqrt(T'),
    ``svi`` (c0, a0, b0, rho0, m0, sigma0^2, c1, a1, ..., sigma1^2): the total variance at T' is
    c0 w_SVI0(k) + c1 w_SVI1(k). ``units`` = quantity x contract size.

    Attributes
    ----------
    kind : ndarray of int
        LIVE, EXPIRED or LINEAR per position.
    omega : ndarray
        +1 call, -1 put.
    lk, ek : ndarray
        ln(K/F(T')) and K/F(T').
    g : ndarray
        USD per unit of c e^r.
    base_usd, base_c : ndarray
        Value at as-of per unit, USD and normalised.
    sqrt_t1 : ndarray
        √T', T' the time to expiry after the horizon, years ACT/365.
    svi : ndarray, shape (P, 12)
        The two SVI slices' weights and parameters.
    units : ndarray
        Quantity x contract size.
    inverse_option : ndarray of bool
        Coin-settled options.
    spot : ndarray
        The underlying's index, USD.
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

    def take(self, rows: np.ndarray) -> RevaluationPlan:
        """The plan of positions ``rows`` (in that order).

        Parameters
        ----------
        rows : ndarray of int
            Row indices into this plan (any order, repeats allowed).

        Returns
        -------
        RevaluationPlan
            A new plan whose row i is this plan's row ``rows[i]``, every field contiguous.
        """
        return RevaluationPlan(*(np.ascontiguousarray(getattr(self, f.name)[rows]) for f in fields(self)))


def revaluation_classes(plan: RevaluationPlan, grid_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One representative row per class of positions whose unit P&L is the same.

    Parameters
    ----------
    plan : RevaluationPlan
        The positions' plan (P rows).
    grid_row : array of int (P,)
        Each position's scenario row (:attr:`ScenarioGrid.row`).

    Returns
    -------
    (ndarray, ndarray) of int64
        ``first`` (C,): a representative row of each class; ``inverse`` (P,): row p's class.

    Notes
    -----
    Two rows whose plan entries (``kind``, ``omega``, ``lk``, ``ek``, ``g``, ``base_usd``,
    ``sqrt_t1``, ``svi``) and scenario row are bitwise equal revalue to the same unit P&L in
    every scenario (the kernels of :mod:`pricing.accel.scenario` read nothing else), so only
    ``first`` needs revaluing: sum_p w_p P&L_p(s) = sum_c (sum_{p in c} w_p) P&L_c(s). A book
    holds one instrument in several lines, and a screen of candidates draws from the listed
    chain: 1,000 positions on 570 instruments, 10,000 candidates on 784 (the benchmark's).
    Bitwise, not by name: two lines of one instrument always have equal plans, and equal plans
    of different names are the same P&L anyway; -0.0 and 0.0, or two NaN payloads, only split
    a class (one more revaluation), never merge two different ones.
    """
    key = np.column_stack(
        (
            plan.kind.astype(np.float64),
            plan.omega,
            plan.lk,
            plan.ek,
            plan.g,
            plan.base_usd,
            plan.sqrt_t1,
            plan.svi,
            np.asarray(grid_row).astype(np.float64),
        )
    )
    key = np.ascontiguousarray(key)
    rows = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.ravel().astype(np.int64)


#: Largest (classes x scenarios) unit P&L matrix :meth:`FusedScenarios.tails` builds, bytes:
#: above it the candidates are revalued leg by leg inside the tail kernel (no matrix).
UNIT_ROWS_MAX_BYTES = 32 * 2**20


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
    (SABR surfaces go through the numpy path).

    Parameters
    ----------
    portfolio : Portfolio
        The positions, one row each, with signed quantities in contracts.
    market : Market
        The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
    horizon_days : float
        The scenarios' horizon: options age by it.
    state : PositionState, optional
        The positions' state on ``market``, if the caller has it.

    Returns
    -------
    RevaluationPlan or None
        The plan, or None when a position cannot be revalued by the fused kernels (the caller falls back to
        :func:`pricing.revaluation.reprice`).
    """
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
    """Per-underlying scenario rows (U, S) in the form the kernels take, and each position's row.

    Attributes
    ----------
    ret : ndarray, shape (U, S)
        Log returns of the spot.
    growth, inv_growth : ndarray, shape (U, S)
        e^ret and e^-ret.
    factor, add : ndarray, shape (U, S)
        Vol multiplier and additive vol shift per scenario.
    row : ndarray of int, shape (P,)
        Each position's row.
    """

    ret: FloatArray
    growth: FloatArray
    inv_growth: FloatArray
    factor: FloatArray
    add: FloatArray
    row: np.ndarray

    @staticmethod
    def build(ret: ArrayLike, factor: ArrayLike, add: ArrayLike, row: np.ndarray) -> ScenarioGrid:
        """The grid from returns and vol shocks (broadcast to the returns' shape, contiguous).

        Parameters
        ----------
        ret : array_like, shape (U, S) or (S,)
            Log returns.
        factor, add : array_like
            Vol multiplier and additive vol shift, broadcast to ``ret``.
        row : ndarray of int
            Each position's row.

        Returns
        -------
        ScenarioGrid
            The kernels' form of the scenario set, for the plan's positions.
        """
        r = np.ascontiguousarray(np.atleast_2d(np.asarray(ret, dtype=np.float64)))
        shape = r.shape
        fac = np.ascontiguousarray(np.broadcast_to(np.asarray(factor, dtype=np.float64), shape))
        ad = np.ascontiguousarray(np.broadcast_to(np.asarray(add, dtype=np.float64), shape))
        return ScenarioGrid(r, np.exp(r), np.exp(-r), fac, ad, np.ascontiguousarray(row, dtype=np.int64))


def fused_pnl_sum(plan: RevaluationPlan, grid: ScenarioGrid, weight: FloatArray, rule: str) -> FloatArray:
    """sum_p weight[p] x unit P&L(p, s) in USD (weight = quantity x contract size), no (P, S) matrix.

    Parameters
    ----------
    plan : RevaluationPlan
        The per-position invariants of the revaluation, from :func:`plan_revaluation` of the same portfolio and market.
    grid : ScenarioGrid
        The scenario rows per underlying and each position's row, from :meth:`ScenarioGrid.build` on the same scenario set.
    weight : ndarray, shape (P,)
        Quantity x contract size.
    rule : {"sticky_moneyness", "sticky_strike"}
        Smile dynamics under a spot move: the vol is read at the same moneyness K/F (``sticky_moneyness``) or at the same strike
        (``sticky_strike``).

    Returns
    -------
    ndarray, shape (S,)
        USD.
    """
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
    """The (P, S) P&L of :func:`reprice` from the fused kernel.

    Parameters
    ----------
    plan : RevaluationPlan
        The per-position invariants of the revaluation, from :func:`plan_revaluation` of the same portfolio and market.
    grid : ScenarioGrid
        The scenario rows per underlying and each position's row, from :meth:`ScenarioGrid.build` on the same scenario set.
    rule : {"sticky_moneyness", "sticky_strike"}
        Smile dynamics under a spot move: the vol is read at the same moneyness K/F (``sticky_moneyness``) or at the same strike
        (``sticky_strike``).
    coin : bool
        Also fill the coin P&L.

    Returns
    -------
    ScenarioPnl
        (P, S).
    """
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
    starts: np.ndarray,
    rule: str,
    base_pnl: FloatArray,
    n_core: int,
    k_core: int,
    k_stress: int,
) -> FloatArray:
    """(T, 8): VaR, ES, stressed VaR, stressed ES of base + trade t, then of base - trade t.

    Trade t is the plan rows ``starts[t]:starts[t + 1]`` with ``weight`` (signed quantity x units).

    Parameters
    ----------
    plan : RevaluationPlan
        The per-position invariants of the revaluation, from :func:`plan_revaluation` of the same portfolio and market.
    grid : ScenarioGrid
        The scenario rows per underlying and each position's row, from :meth:`ScenarioGrid.build` on the same scenario set.
    weight : ndarray
        Signed quantity x units per plan row.
    starts : ndarray of int, shape (T + 1,)
        Trade boundaries.
    rule : {"sticky_moneyness", "sticky_strike"}
        Smile dynamics under a spot move: the vol is read at the same moneyness K/F (``sticky_moneyness``) or at the same strike
        (``sticky_strike``).
    base_pnl : ndarray, shape (S,)
        The held portfolio's P&L, USD.
    n_core : int
        Core scenario columns (the rest are stressed).
    k_core, k_stress : int
        Tail counts (:func:`pricing.margin.quantile.tail_count`).

    Returns
    -------
    ndarray, shape (T, 8)
        USD.
    """
    from pricing.accel.scenario import marginal_tail

    out = np.empty((np.asarray(starts).size - 1, 8))
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
        np.ascontiguousarray(starts, dtype=np.int64),
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
class _OrderedRows:
    """A scenario set's per-underlying rows in the kernels' column order (core, then stressed),
    with e^r and e^-r: the same for every portfolio priced on the set."""

    order: np.ndarray
    n_core: int
    ret: FloatArray
    growth: FloatArray
    inv_growth: FloatArray
    dvol: FloatArray
    sources: tuple[FloatArray, FloatArray, np.ndarray]


_ORDERED: dict[tuple[int, int, int], _OrderedRows] = {}
_ORDERED_LOCK = threading.Lock()


def _ordered_rows(returns: FloatArray, vol_changes: FloatArray, stressed: np.ndarray) -> _OrderedRows:
    """:class:`_OrderedRows` of a scenario set, kept per set (by the identity of its arrays, which
    the entry holds, so an identity is never reused while its entry lives; the last 8 are kept)."""
    key = (id(returns), id(vol_changes), id(stressed))
    hit = _ORDERED.get(key)
    if hit is not None:
        return hit
    flags = np.asarray(stressed, dtype=bool)
    order = np.concatenate([np.flatnonzero(~flags), np.flatnonzero(flags)])
    ret = np.ascontiguousarray(np.asarray(returns, dtype=np.float64)[:, order])
    rows = _OrderedRows(
        order,
        int((~flags).sum()),
        ret,
        np.exp(ret),
        np.exp(-ret),
        np.ascontiguousarray(np.asarray(vol_changes, dtype=np.float64)[:, order]),
        (returns, vol_changes, stressed),
    )
    with _ORDERED_LOCK:  # the server runs calls in threads
        while len(_ORDERED) >= 8:
            _ORDERED.pop(next(iter(_ORDERED)))
        _ORDERED[key] = rows
    return rows


@dataclass(frozen=True)
class FusedScenarios:
    """A portfolio's :class:`RevaluationPlan` on a scenario set, for the fused kernels.

    Scenario columns are held core first, then stressed (``order`` maps them back to the set's
    own order); ``n_core`` is the number of core columns.

    Attributes
    ----------
    plan : RevaluationPlan
        The per-position invariants of the portfolio (:func:`plan_revaluation`).
    grid : ScenarioGrid
        The scenario rows, columns held core first then stressed.
    rule : str
        Smile dynamics.
    order : ndarray of int
        The set's column of each held column.
    n_core : int
        Core columns.
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
        vol_changes: FloatArray,
        stressed: np.ndarray,
        horizon_days: float,
        rule: str,
        vol_weights: FloatArray | None = None,
    ) -> FusedScenarios | None:
        """None when the fused kernels are off or a smile is not SVI/flat.

        ``vol_changes`` are Δ ln σ per underlying and scenario; position p takes
        ``vol_weights[p]`` times its underlying's (1 for all: a parallel shift). The kernels read
        one row per (underlying, weight) pair, so tenors that share a weight share a row.

        Parameters
        ----------
        portfolio : Portfolio
            Positions at quantity 1.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        state : PositionState
            Per-position time, forward, spot, vol and value at ``as_of``, from :func:`pricing.positions.position_state` of the
            same portfolio and market.
        underlyings : tuple of str
            The set's underlyings (rows of ``returns``).
        returns, vol_changes : ndarray, shape (U, S)
            Log returns and Δ ln σ.
        stressed : ndarray of bool, shape (S,)
            True for the scenarios of the stressed set (they are held after the core ones).
        horizon_days : float
            Margin period of risk, calendar days: each position's time to expiry is shortened by it.
        rule : {"sticky_moneyness", "sticky_strike"}
            Smile dynamics under a spot move: the vol is read at the same moneyness K/F (``sticky_moneyness``) or at the same
            strike (``sticky_strike``).
        vol_weights : ndarray, optional
            Per position.

        Returns
        -------
        FusedScenarios or None
            The fused form, or None when a position cannot be revalued by the fused kernels.
        """
        if not accel.enabled("scenario", len(portfolio)) or not len(portfolio):
            return None
        plan = plan_revaluation(portfolio, market, horizon_days, state)
        if plan is None:
            return None
        u_row = underlying_rows(underlyings, portfolio)
        w = np.ones(len(portfolio)) if vol_weights is None else np.asarray(vol_weights, dtype=np.float64)
        # (underlying, weight) pairs as one complex key: a 1-D unique, lexicographic like the pair.
        pairs, row = np.unique(u_row.astype(np.float64) + 1j * w, return_inverse=True)
        pair_u = pairs.real.astype(np.int64)
        rows = _ordered_rows(returns, vol_changes, stressed)
        dvol = rows.dvol[pair_u]
        grid = ScenarioGrid(
            rows.ret[pair_u],
            rows.growth[pair_u],
            rows.inv_growth[pair_u],
            np.exp(dvol * pairs.imag[:, None]),
            np.zeros(dvol.shape),
            np.ascontiguousarray(row.ravel(), dtype=np.int64),
        )
        return FusedScenarios(plan, grid, parse_choice(rule, "rule", SHOCK_RULES), rows.order, rows.n_core)

    @cached_property
    def classes(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`revaluation_classes` of the plan (computed once per view)."""
        return revaluation_classes(self.plan, self.grid.row)

    def _grid_rows(self, rows: np.ndarray) -> ScenarioGrid:
        return replace(self.grid, row=np.ascontiguousarray(self.grid.row[rows]))

    def pnl_sum(self, quantity: FloatArray) -> FloatArray:
        """sum_p quantity[p] x P&L per contract (p, s), USD, in the scenario set's column order.

        Positions that revalue alike (:func:`revaluation_classes`) are netted first: the sum
        is sum over classes of (sum of the class's weights) x the class's unit P&L, one
        revaluation per class. The same terms, summed in another order (the difference is
        rounding, ~1e-16 of the total).

        Parameters
        ----------
        quantity : ndarray, shape (P,)
            Signed contracts.

        Returns
        -------
        ndarray, shape (S,)
            USD.
        """
        weight = np.asarray(quantity, dtype=np.float64) * self.plan.units
        first, inverse = self.classes
        out = np.empty(self.order.size)
        if first.size < weight.size:
            net = np.asarray(np.bincount(inverse, weights=weight, minlength=first.size), dtype=np.float64)
            out[self.order] = fused_pnl_sum(self.plan.take(first), self._grid_rows(first), net, self.rule)
        else:
            out[self.order] = fused_pnl_sum(self.plan, self.grid, weight, self.rule)
        return out

    def columns(self, cols: np.ndarray) -> FloatArray:
        """(P, len(cols)) P&L per contract in the scenario set's columns ``cols``.

        Parameters
        ----------
        cols : ndarray of int
            Columns of the scenario set.

        Returns
        -------
        ndarray, shape (P, len(cols))
            USD.
        """
        where = np.argsort(self.order)[np.asarray(cols, dtype=np.int64)]
        g = self.grid
        ret, growth, inv_growth, factor, add = (
            np.ascontiguousarray(a[:, where]) for a in (g.ret, g.growth, g.inv_growth, g.factor, g.add)
        )
        sub = ScenarioGrid(ret, growth, inv_growth, factor, add, g.row)
        return fused_pnl_matrix(self.plan, sub, self.rule, coin=False).usd

    def tails(self, quantity: FloatArray, starts: np.ndarray, base_pnl: FloatArray, k_core: int, k_stress: int) -> FloatArray:
        """(T, 8) tail measures of base +/- each trade (see :func:`fused_marginal_tail`).

        ``quantity`` is each position's signed quantity in its trade; trade t is the positions
        ``starts[t]:starts[t + 1]``.

        Parameters
        ----------
        quantity : ndarray
            Signed quantity per position, contracts, shape (P,).
        starts : ndarray of int, shape (T + 1,)
            Trade t's positions are ``starts[t]:starts[t + 1]``.
        base_pnl : ndarray, shape (S,)
            The held portfolio's P&L, USD, in held column order.
        k_core, k_stress : int
            Tail counts.

        Returns
        -------
        ndarray, shape (T, 8)
            USD.
        """
        weight = np.asarray(quantity, dtype=np.float64) * self.plan.units
        base = np.asarray(base_pnl)[self.order]
        first, inverse = self.classes if weight.size > 1 else (np.zeros(1, np.int64), np.zeros(1, np.int64))
        n_scen = self.grid.ret.shape[1]
        # Legs that share a class are revalued once (a (classes, S) matrix of unit P&L) when
        # that saves a quarter of the revaluations and the matrix stays small; else leg by leg.
        if 4 * first.size <= 3 * weight.size and first.size * n_scen * 8 <= UNIT_ROWS_MAX_BYTES:
            from pricing.accel.scenario import marginal_tail_rows

            unit_plan = replace(self.plan.take(first), units=np.ones(first.size))
            unit = fused_pnl_matrix(unit_plan, self._grid_rows(first), self.rule, coin=False).usd
            out = np.empty((np.asarray(starts).size - 1, 8))
            marginal_tail_rows(
                unit,
                inverse,
                np.ascontiguousarray(weight),
                np.ascontiguousarray(starts, dtype=np.int64),
                np.ascontiguousarray(base, dtype=np.float64),
                int(self.n_core),
                int(k_core),
                int(k_stress),
                out,
            )
            return out
        return fused_marginal_tail(self.plan, self.grid, weight, starts, self.rule, base, self.n_core, k_core, k_stress)
