"""Margin assembly, marginal IM for many candidate trades, sequential acceptance, Euler allocation.

Every margin model here is written as **aggregate, then assemble**:

1. each position contributes, per contract, a vector of quantities that add up across the
   portfolio: a ``linear`` part scaled by the signed quantity (scenario P&Ls, deltas, option
   values) and a ``long``/``short`` part scaled by the positive or negative part of the
   quantity (short-option counts, bid-ask costs);
2. the model turns the summed vectors into the IM with a function that is vectorised over a
   leading batch axis (k-th worst loss, max over SPAN scenarios, Deribit's dampened worst
   case plus roll shock, ...).

So IM(P + trade) for C candidates is one repricing of the candidates (C x D, in blocks) plus
one batched assembly, for both directions (dealer buys: + q, dealer sells: - q) at once: no
candidate is repriced twice and no (scenarios x candidates) matrix outlives its block.

IM = max(core, APC floor) + liquidity + concentration + model risk, all in USD, every
component reported (docs/methodology.md §C5).

Fused path: a model may also offer ``fused`` (a view of a portfolio on its scenarios through
the numba kernels, or None), ``fused_marginal`` and ``allocate_fused`` (the scenario VaR models
do). With the kernels on, :func:`margin` and :func:`marginal_im` then take the portfolio's P&L
vector and each candidate's tail measures straight from the kernels (no (P, S) or (C, S)
matrix); the add-on columns and :func:`_finish` are shared with the matrix path, so both
paths give the same numbers (``tests/accel``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pricing import accel
from pricing._typing import BoolArray, FloatArray
from pricing.accel.fused import FusedScenarios
from pricing.errors import PricingInputError
from pricing.margin.addons import AddOnParams, apc_floor, concentration_addon, daily_capacity_usd, half_spreads_usd
from pricing.portfolio import Portfolio, concat
from pricing.revaluation import Market, PositionState, position_state

#: Candidates repriced per block in :func:`marginal_im` (block x D floats stay ~30 MB at D = 1,824).
CANDIDATE_BLOCK = 2048


@dataclass(frozen=True)
class Contributions:
    """Per-contract contributions of positions to a model's aggregate vectors.

    ``linear`` (P, D) is multiplied by the signed quantity; ``long`` and ``short`` (P, A) by
    max(q, 0) and max(-q, 0).
    """

    linear: FloatArray
    long: FloatArray
    short: FloatArray

    def aggregate(self, quantity: FloatArray, names: tuple[str, ...] | None = None) -> tuple[FloatArray, FloatArray]:
        """Summed (linear, ext) vectors; with ``names``, the long/short parts use the net
        quantity per instrument (a position and its exact offset leave no bid-ask cost or
        short-option count behind)."""
        q = np.asarray(quantity, dtype=np.float64)
        rows, net = (np.arange(q.size), q) if names is None else net_by_instrument(names, q)
        return q @ self.linear, np.maximum(net, 0.0) @ self.long[rows] + np.maximum(-net, 0.0) @ self.short[rows]


def net_by_instrument(names: tuple[str, ...], quantity: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """(index of each instrument's first row, net quantity per instrument)."""
    uniq, first, inverse = np.unique(np.asarray(names, dtype=str), return_index=True, return_inverse=True)
    net: FloatArray = np.bincount(inverse.ravel(), weights=quantity, minlength=uniq.size).astype(np.float64)
    return first, net


class MarginModel(Protocol):
    """What a margin model provides to the engine (see the module docstring)."""

    @property
    def name(self) -> str:
        """The model's name (``"hvar"``, ``"span"``, ...)."""

    @property
    def horizon_days(self) -> float:
        """Margin period of risk in days."""

    @property
    def venue_replica(self) -> bool:
        """True for a replica of a venue's own model (no APC unless asked), False for a CCP-style model."""

    def prepare(self, portfolio: Portfolio, market: Market) -> Any:
        """Everything fixed for a portfolio and its candidates (scenario set, tiers, ...)."""

    def contributions(self, portfolio: Portfolio, market: Market, layout: Any, state: PositionState) -> Contributions:
        """Per-contract contributions of each position."""

    def assemble(self, linear: FloatArray, ext: FloatArray, layout: Any, market: Market) -> dict[str, FloatArray]:
        """Core IM (key ``"core"``, USD), optional ``"stressed"``, and model components, per batch row."""

    def allocate(
        self, linear_per_position: FloatArray, ext_per_position: FloatArray, layout: Any, parts: dict[str, FloatArray]
    ) -> FloatArray:
        """Each position's share of ``core`` (sums to core)."""

    def backtest(self, linear: FloatArray, layout: Any, days: int) -> tuple[int, int, int] | None:
        """(exceptions, days, bound) for the model-risk add-on, or None if not applicable."""


@runtime_checkable
class FusedMarginModel(MarginModel, Protocol):
    """A margin model that can also run on the fused scenario kernels (:mod:`pricing.accel`):
    portfolio P&L without a (positions x scenarios) matrix, and marginal IM for many candidates
    without a (candidates x scenarios) matrix."""

    def fused(self, portfolio: Portfolio, market: Market, layout: Any, state: PositionState) -> FusedScenarios | None:
        """The fused view of ``portfolio`` on ``layout`` (None: use the matrix path)."""

    def fused_marginal(
        self, fused: FusedScenarios, size: FloatArray, base_linear: FloatArray, layout: Any
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """Model parts of IM(P + size x c) and IM(P - size x c) per candidate c."""

    def allocate_fused(self, fused: FusedScenarios, quantity: FloatArray, linear: FloatArray, layout: Any) -> FloatArray:
        """Each position's share of core IM, from the fused view."""


@dataclass(frozen=True)
class MarginResult:
    """An IM with every component, USD.

    ``total = max(core, apc_floor) + liquidity + concentration + model_risk``.
    """

    model: str
    core: float
    stressed: float
    apc_floor: float
    market_im: float
    liquidity: float
    concentration: float
    model_risk: float
    total: float
    components: dict[str, float] = field(default_factory=dict)
    contributions: FloatArray = field(default_factory=lambda: np.zeros(0))
    names: tuple[str, ...] = ()
    scenario_pnl: FloatArray | None = None
    backtest: tuple[int, int, int] | None = None
    notes: tuple[str, ...] = ()

    def as_rows(self) -> list[tuple[str, float]]:
        """(component, USD) rows in display order."""
        rows = [("core", self.core), ("stressed", self.stressed), ("apc_floor", self.apc_floor), ("market_im", self.market_im)]
        rows += [("liquidity", self.liquidity), ("concentration", self.concentration), ("model_risk", self.model_risk)]
        rows += list(self.components.items())
        rows.append(("total", self.total))
        return rows


@dataclass(frozen=True)
class _Setup:
    layout: Any
    underlyings: tuple[str, ...]
    capacity: FloatArray
    model_risk_on: bool
    backtest: tuple[int, int, int] | None


def _addon_columns(
    portfolio: Portfolio, market: Market, setup: _Setup, params: AddOnParams, state: PositionState
) -> Contributions:
    """Add-on columns per contract: USD delta per underlying (linear), stressed half spread (long and short)."""
    delta_cols = np.zeros((len(portfolio), len(setup.underlyings)))
    for j, u in enumerate(setup.underlyings):
        rows = portfolio.underlying == u
        delta_cols[rows, j] = state.delta_coin[rows] * state.spot[rows]
    hs = half_spreads_usd(portfolio, market, state, params)[:, None]
    return Contributions(delta_cols, hs, hs)


def _unit(portfolio: Portfolio, market: Market) -> tuple[Portfolio, PositionState]:
    # Contributions are per contract: every position is valued at quantity 1.
    unit = portfolio.with_quantity(np.ones(len(portfolio)))
    return unit, position_state(unit, market)


def _contrib_with_addons(
    model: MarginModel, portfolio: Portfolio, market: Market, setup: _Setup, params: AddOnParams
) -> Contributions:
    unit, state = _unit(portfolio, market)
    base = model.contributions(unit, market, setup.layout, state)
    add = _addon_columns(unit, market, setup, params, state)
    return Contributions(
        np.hstack([base.linear, add.linear]), np.hstack([base.long, add.long]), np.hstack([base.short, add.short])
    )


@dataclass(frozen=True)
class _Fused:
    """A portfolio seen through a model's fused kernels: scenario P&L without a (P, S) matrix."""

    scenarios: Any
    addons: Contributions


def _fused(model: MarginModel, portfolio: Portfolio, market: Market, setup: _Setup, params: AddOnParams) -> _Fused | None:
    """The fused view when the model has one and the kernels are on (else None: matrix path)."""
    if not isinstance(model, FusedMarginModel) or not accel.enabled() or not len(portfolio):
        return None
    unit, state = _unit(portfolio, market)
    scen = model.fused(unit, market, setup.layout, state)
    return None if scen is None else _Fused(scen, _addon_columns(unit, market, setup, params, state))


def _fused_aggregate(fz: _Fused, portfolio: Portfolio) -> tuple[FloatArray, FloatArray]:
    """(linear, ext) aggregates as :meth:`Contributions.aggregate` gives them on the matrix path."""
    add_lin, ext = fz.addons.aggregate(portfolio.quantity, portfolio.names)
    return np.concatenate([fz.scenarios.pnl_sum(portfolio.quantity), add_lin]), ext


def _assemble(
    model: MarginModel, linear: FloatArray, ext: FloatArray, setup: _Setup, market: Market, params: AddOnParams
) -> dict[str, FloatArray]:
    n_u = len(setup.underlyings)
    core_lin, delta_usd = linear[:, : linear.shape[1] - n_u], linear[:, linear.shape[1] - n_u :]
    core_ext, liquidity = ext[:, :-1], ext[:, -1]
    return _finish(model, model.assemble(core_lin, core_ext, setup.layout, market), delta_usd, liquidity, setup, params)


def _finish(
    model: MarginModel,
    parts: dict[str, FloatArray],
    delta_usd: FloatArray,
    liquidity: FloatArray,
    setup: _Setup,
    params: AddOnParams,
) -> dict[str, FloatArray]:
    """The model's parts plus APC floor and add-ons, per batch row."""
    core = np.maximum(parts["core"], 0.0)
    stressed = parts.get("stressed")
    floor = apc_floor(core, stressed, params, venue_replica=model.venue_replica)
    market_im = np.maximum(core, floor)
    conc = concentration_addon(market_im, delta_usd, setup.capacity, model.horizon_days, params)
    model_risk = market_im * params.model_risk_rate if setup.model_risk_on else np.zeros_like(core)
    out = dict(parts)
    out.update(
        core=core,
        stressed=stressed if stressed is not None else np.full_like(core, np.nan),
        apc_floor=floor,
        market_im=market_im,
        liquidity=liquidity,
        concentration=conc,
        model_risk=model_risk,
        total=market_im + liquidity + conc + model_risk,
    )
    return out


def _setup(model: MarginModel, universe: Portfolio, market: Market, params: AddOnParams) -> _Setup:
    layout = model.prepare(universe, market)
    unds = universe.underlyings
    capacity = np.array([daily_capacity_usd(u, market, params) for u in unds])
    return _Setup(layout, unds, capacity, False, None)


def _with_backtest(model: MarginModel, setup: _Setup, linear: FloatArray, params: AddOnParams) -> _Setup:
    """The setup with the model-risk add-on switched on if the book's backtest fails."""
    n_u = len(setup.underlyings)
    bt = model.backtest(linear[: linear.size - n_u], setup.layout, params.backtest_days)
    return replace(setup, model_risk_on=bool(bt is not None and bt[0] > bt[2]), backtest=bt)


_ADDON_KEYS = ("core", "stressed", "apc_floor", "market_im", "liquidity", "concentration", "model_risk", "total")


def margin(
    portfolio: Portfolio,
    market: Market,
    model: MarginModel,
    addons: AddOnParams | None = None,
) -> MarginResult:
    """Initial margin of ``portfolio`` under ``model`` with add-ons and APC, every component in USD.

    Parameters
    ----------
    portfolio : Portfolio
    market : Market
    model : MarginModel
        A venue replica (SPAN, Deribit PM) or a CCP-style VaR model (HS, FHS, MC).
    addons : AddOnParams, optional
        Liquidity, concentration, model-risk add-ons and the APC floor.

    Returns
    -------
    MarginResult
        ``total = max(core, apc_floor) + liquidity + concentration + model_risk``, with the
        model's components and each position's Euler contribution.

    Notes
    -----
    docs/methodology.md §A (SPAN), §B (Deribit), §C (VaR, add-ons, APC). An empty portfolio has
    IM 0 under every model.
    """
    params = addons or AddOnParams()
    if len(portfolio) == 0:
        return MarginResult(model.name, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, notes=("empty portfolio",))
    setup = _setup(model, portfolio, market, params)
    n_u = len(setup.underlyings)
    fz = _fused(model, portfolio, market, setup, params)
    if fz is None:
        contrib = _contrib_with_addons(model, portfolio, market, setup, params)
        lin, ext = contrib.aggregate(portfolio.quantity, portfolio.names)
    else:
        lin, ext = _fused_aggregate(fz, portfolio)
    setup = _with_backtest(model, setup, lin, params)
    bt = setup.backtest
    parts = _assemble(model, lin[None, :], ext[None, :], setup, market, params)
    if fz is None:
        q = portfolio.quantity[:, None]
        per_lin = q * contrib.linear[:, : lin.size - n_u]
        per_ext = np.maximum(q, 0) * contrib.long[:, :-1] + np.maximum(-q, 0) * contrib.short[:, :-1]
        alloc = model.allocate(per_lin, per_ext, setup.layout, {k: v[0] for k, v in parts.items()})
    else:
        assert isinstance(model, FusedMarginModel)  # _fused gives a view only for these
        alloc = model.allocate_fused(fz.scenarios, portfolio.quantity, lin[: lin.size - n_u], setup.layout)
    comps = {k: float(v[0]) for k, v in parts.items() if k not in _ADDON_KEYS and np.ndim(v) == 1}
    pnl = parts.get("scenario_pnl")
    core, stressed, apc_floor, market_im, liquidity, concentration, model_risk, total = (float(parts[k][0]) for k in _ADDON_KEYS)
    return MarginResult(
        model.name,
        core,
        stressed,
        apc_floor,
        market_im,
        liquidity,
        concentration,
        model_risk,
        total,
        components=comps,
        contributions=alloc,
        names=portfolio.names,
        scenario_pnl=None if pnl is None else np.asarray(pnl)[0],
        backtest=bt,
        notes=tuple(getattr(setup.layout, "notes", ())),
    )


@dataclass(frozen=True)
class MarginalResult:
    """ΔIM of each candidate against the portfolio alone, both directions, USD.

    ``delta_buy[c] = IM(P + q_c · c) - IM(P)``, ``delta_sell[c] = IM(P - q_c · c) - IM(P)``
    (the dealer buys or sells |q_c| contracts of candidate c).
    """

    im_base: float
    im_buy: FloatArray
    im_sell: FloatArray
    names: tuple[str, ...]

    @property
    def delta_buy(self) -> FloatArray:
        return self.im_buy - self.im_base

    @property
    def delta_sell(self) -> FloatArray:
        return self.im_sell - self.im_base


def _universe(portfolio: Portfolio, candidates: Portfolio) -> Portfolio:
    return concat([portfolio, candidates])


def marginal_im(
    portfolio: Portfolio,
    candidates: Portfolio,
    market: Market,
    model: MarginModel,
    addons: AddOnParams | None = None,
    *,
    block: int = CANDIDATE_BLOCK,
    groups: np.ndarray | None = None,
) -> MarginalResult:
    """ΔIM for C candidate trades at once, each against ``portfolio`` alone, both directions.

    Parameters
    ----------
    portfolio : Portfolio
        Current positions (may be empty).
    candidates : Portfolio
        One row per candidate; |quantity| is the trade size in contracts (its sign is ignored:
        both directions are returned).
    market, model, addons :
        As for :func:`margin`.
    block : int
        Candidates repriced at once (memory is O(block x scenarios)).
    groups : array of int, optional
        Trade id of each candidate row (multi-leg structures): rows sharing an id are one trade,
        with their signed quantities; the result has one entry per id (0..G-1).

    Returns
    -------
    MarginalResult
        IM now, and IM after buying and after selling each candidate (USD).

    Notes
    -----
    The model-risk add-on state (backtest failing or not) is that of the current portfolio
    and is held for the candidates: one trade does not re-run the backtest.
    """
    params = addons or AddOnParams()
    if len(candidates) == 0:
        return MarginalResult(margin(portfolio, market, model, params).total, np.zeros(0), np.zeros(0), ())
    if block < 1:
        raise PricingInputError(f"block: must be >= 1, got {block!r}")
    setup = _setup(model, _universe(portfolio, candidates), market, params)
    if len(portfolio):
        fz0 = _fused(model, portfolio, market, setup, params)
        if fz0 is None:
            lin0, ext0 = _contrib_with_addons(model, portfolio, market, setup, params).aggregate(
                portfolio.quantity, portfolio.names
            )
        else:
            lin0, ext0 = _fused_aggregate(fz0, portfolio)
        setup = _with_backtest(model, setup, lin0, params)
        im0 = float(_assemble(model, lin0[None], ext0[None], setup, market, params)["total"][0])
    else:
        probe = _contrib_with_addons(model, candidates.select(np.arange(1)), market, setup, params)
        lin0, ext0 = np.zeros(probe.linear.shape[1]), np.zeros(probe.long.shape[1])
        im0 = 0.0
    if groups is not None:
        return _grouped(candidates, np.asarray(groups, dtype=np.int64), model, market, setup, params, lin0, ext0, im0, portfolio)
    size = np.abs(candidates.quantity)
    unit = candidates.with_quantity(np.ones(len(candidates)))
    held = _held(portfolio, candidates)
    fz = _fused(model, candidates, market, setup, params)
    if fz is not None:
        buy, sell = _fused_marginal(model, fz, size, held, lin0, ext0, setup, params)
    else:
        buy, sell = _blocked_marginal(model, unit, size, held, lin0, ext0, setup, market, params, block)
    # An exactly offsetting trade must give IM 0, not a rounding residue of the scenario sums.
    buy[size == 0] = im0
    sell[size == 0] = im0
    return MarginalResult(im0, buy, sell, candidates.names)


def _fused_marginal(
    model: MarginModel,
    fz: _Fused,
    size: FloatArray,
    held: FloatArray,
    lin0: FloatArray,
    ext0: FloatArray,
    setup: _Setup,
    params: AddOnParams,
) -> tuple[FloatArray, FloatArray]:
    """Totals of IM(P +/- size x c) from the model's fused tail kernel and the add-on columns."""
    n_u = len(setup.underlyings)
    assert isinstance(model, FusedMarginModel)  # _fused gives a view only for these
    parts_buy, parts_sell = model.fused_marginal(fz.scenarios, size, lin0[: lin0.size - n_u], setup.layout)
    q = size[:, None]
    h = held[:, None]
    delta0, liq0 = lin0[lin0.size - n_u :], ext0[-1]
    out = []
    for parts, sign in ((parts_buy, 1.0), (parts_sell, -1.0)):
        delta = delta0 + sign * q * fz.addons.linear
        liquidity = liq0 + _ext_change(fz.addons, h, sign * q)[:, -1]
        out.append(_finish(model, parts, delta, liquidity, setup, params)["total"])
    return out[0], out[1]


def _blocked_marginal(
    model: MarginModel,
    unit: Portfolio,
    size: FloatArray,
    held: FloatArray,
    lin0: FloatArray,
    ext0: FloatArray,
    setup: _Setup,
    market: Market,
    params: AddOnParams,
    block: int,
) -> tuple[FloatArray, FloatArray]:
    """Totals of IM(P +/- size x c), candidates repriced ``block`` at a time (matrix path)."""
    buy = np.empty(len(unit))
    sell = np.empty(len(unit))
    for lo in range(0, len(unit), block):
        idx = np.arange(lo, min(lo + block, len(unit)))
        c = _contrib_with_addons(model, unit.select(idx), market, setup, params)
        q = size[idx][:, None]
        h = held[idx][:, None]
        buy[idx] = _assemble(model, lin0 + q * c.linear, ext0 + _ext_change(c, h, q), setup, market, params)["total"]
        sell[idx] = _assemble(model, lin0 - q * c.linear, ext0 + _ext_change(c, h, -q), setup, market, params)["total"]
    return buy, sell


def _held(portfolio: Portfolio, candidates: Portfolio) -> FloatArray:
    """Net quantity the portfolio already holds in each candidate's instrument (0 if none)."""
    if not len(portfolio):
        return np.zeros(len(candidates))
    first, net = net_by_instrument(portfolio.names, portfolio.quantity)
    lookup = {portfolio.names[i]: net[j] for j, i in enumerate(first)}
    return np.array([lookup.get(n, 0.0) for n in candidates.names])


def _grouped(
    candidates: Portfolio,
    groups: np.ndarray,
    model: MarginModel,
    market: Market,
    setup: _Setup,
    params: AddOnParams,
    lin0: FloatArray,
    ext0: FloatArray,
    im0: float,
    portfolio: Portfolio,
) -> MarginalResult:
    """ΔIM per multi-leg trade: legs' contributions summed per group before assembly."""
    if groups.shape != (len(candidates),) or (groups.size and groups.min() < 0):
        raise PricingInputError("groups: one non-negative trade id per candidate row")
    n_groups = int(groups.max()) + 1 if groups.size else 0
    c = _contrib_with_addons(model, candidates.with_quantity(np.ones(len(candidates))), market, setup, params)
    q = candidates.quantity[:, None]
    h = _held(portfolio, candidates)[:, None]
    lin = np.zeros((n_groups, lin0.size))
    ext_buy = np.zeros((n_groups, ext0.size))
    ext_sell = np.zeros((n_groups, ext0.size))
    np.add.at(lin, groups, q * c.linear)
    np.add.at(ext_buy, groups, _ext_change(c, h, q))
    np.add.at(ext_sell, groups, _ext_change(c, h, -q))
    buy = _assemble(model, lin0 + lin, ext0 + ext_buy, setup, market, params)["total"]
    sell = _assemble(model, lin0 - lin, ext0 + ext_sell, setup, market, params)["total"]
    names = tuple(" + ".join(candidates.names[i] for i in np.flatnonzero(groups == g)) for g in range(n_groups))
    return MarginalResult(im0, buy, sell, names)


def _ext_change(c: Contributions, held: FloatArray, trade: FloatArray) -> FloatArray:
    """Change of the long/short aggregates when ``trade`` is added to a net holding ``held``."""
    new = held + trade
    return (np.maximum(new, 0) - np.maximum(held, 0)) * c.long + (np.maximum(-new, 0) - np.maximum(-held, 0)) * c.short


@dataclass(frozen=True)
class SequentialResult:
    """Trades taken in order; accepted ones join the portfolio before the next is priced."""

    im_before: FloatArray
    im_after: FloatArray
    accepted: BoolArray
    names: tuple[str, ...]

    @property
    def delta_im(self) -> FloatArray:
        return self.im_after - self.im_before


def sequential_im(
    portfolio: Portfolio,
    trades: Portfolio,
    market: Market,
    model: MarginModel,
    addons: AddOnParams | None = None,
    *,
    accept: BoolArray | None = None,
) -> SequentialResult:
    """ΔIM of signed trades in order, each accepted trade (default: all) updating the portfolio.

    Parameters
    ----------
    portfolio : Portfolio
    trades : Portfolio
        Signed quantities, in the order they arrive.
    market, model, addons :
        As for :func:`margin`.
    accept : array of bool, optional
        Which trades join the portfolio after being priced.

    Returns
    -------
    SequentialResult

    Notes
    -----
    The running aggregate is updated in place, so each step costs one assembly, not a
    repricing of the whole portfolio.
    """
    params = addons or AddOnParams()
    acc = np.ones(len(trades), bool) if accept is None else np.asarray(accept, dtype=bool)
    if acc.shape != (len(trades),):
        raise PricingInputError(f"accept: expected {len(trades)} flags, got {acc.size}")
    if len(trades) == 0:
        return SequentialResult(np.zeros(0), np.zeros(0), acc, ())
    setup = _setup(model, _universe(portfolio, trades), market, params)
    tc = _contrib_with_addons(model, trades, market, setup, params)
    if len(portfolio):
        lin, ext = _contrib_with_addons(model, portfolio, market, setup, params).aggregate(portfolio.quantity, portfolio.names)
        first, net = net_by_instrument(portfolio.names, portfolio.quantity)
        held = {portfolio.names[i]: net[j] for j, i in enumerate(first)}
    else:
        lin, ext = np.zeros(tc.linear.shape[1]), np.zeros(tc.long.shape[1])
        held = {}
    q = trades.quantity
    before, after = np.empty(len(trades)), np.empty(len(trades))
    empty = len(portfolio) == 0
    now = 0.0 if empty else float(_assemble(model, lin[None], ext[None], setup, market, params)["total"][0])
    for i in range(len(trades)):
        row = Contributions(tc.linear[i : i + 1], tc.long[i : i + 1], tc.short[i : i + 1])
        h = np.array([[held.get(trades.names[i], 0.0)]])
        new_lin = lin + q[i] * tc.linear[i]
        new_ext = ext + _ext_change(row, h, np.array([[q[i]]]))[0]
        new = float(_assemble(model, new_lin[None], new_ext[None], setup, market, params)["total"][0])
        before[i], after[i] = now, new
        if acc[i]:
            lin, ext, now = new_lin, new_ext, new
            held[trades.names[i]] = float(h[0, 0] + q[i])
    return SequentialResult(before, after, acc, trades.names)
