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

import dataclasses
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeGuard, runtime_checkable

import numpy as np

from pricing import accel
from pricing._typing import BoolArray, FloatArray
from pricing.errors import PricingInputError
from pricing.fused import FusedScenarios
from pricing.margin.addons import AddOnParams, apc_floor, concentration_addon, daily_capacity_usd, half_spreads_usd
from pricing.market import Market
from pricing.portfolio import Portfolio, concat
from pricing.positions import PositionState, position_state

#: Legs repriced per block on the matrix path (block x D floats stay ~30 MB at D = 1,824).
CANDIDATE_BLOCK = 2048


@dataclass(frozen=True)
class Contributions:
    """Per-contract contributions of positions to a model's aggregate vectors.

    ``linear`` (P, D) is multiplied by the signed quantity; ``long`` and ``short`` (P, A) by
    max(q, 0) and max(-q, 0).

    Attributes
    ----------
    linear : ndarray, shape (P, D)
        Per contract, multiplied by the signed quantity (scenario P&L, risk arrays, deltas).
    long, short : ndarray, shape (P, A)
        Per contract, multiplied by max(q, 0) and max(-q, 0) (bid-ask costs, short option counts).
    """

    linear: FloatArray
    long: FloatArray
    short: FloatArray

    def aggregate(self, quantity: FloatArray, names: tuple[str, ...] | None = None) -> tuple[FloatArray, FloatArray]:
        """Summed (linear, ext) vectors; with ``names``, the long/short parts use the net
        quantity per instrument (a position and its exact offset leave no bid-ask cost or
        short-option count behind).

        Parameters
        ----------
        quantity : ndarray, shape (P,)
            Signed contracts of each position.
        names : tuple of str, optional
            Each position's instrument name.

        Returns
        -------
        (linear, ext) : (ndarray of shape (D,), ndarray of shape (A,))
            q @ linear, and max(net, 0) @ long + max(-net, 0) @ short.
        """
        q = np.asarray(quantity, dtype=np.float64)
        rows, net = (np.arange(q.size), q) if names is None else net_by_instrument(names, q)
        return q @ self.linear, np.maximum(net, 0.0) @ self.long[rows] + np.maximum(-net, 0.0) @ self.short[rows]


def net_by_instrument(names: tuple[str, ...], quantity: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """(index of each instrument's first row, net quantity per instrument).

    Parameters
    ----------
    names : tuple of str
        Instrument of each of n rows.
    quantity : ndarray, shape (n,)
        Signed contracts.

    Returns
    -------
    (first, net) : (ndarray of int, ndarray)
        Per distinct instrument (sorted by name) its first row and its net quantity.
    """
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
        """Everything fixed for a portfolio and its candidates (scenario set, tiers, ...).

        It may depend on the market and on the set of (underlying, expiry tier, settlement, kind)
        the portfolio holds, nothing else (:meth:`MarginBasis.for_trades` relies on it).

        Parameters
        ----------
        portfolio : Portfolio
            The universe: the book and every candidate trade.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        Any
            The layout the other methods take.
        """

    def contributions(self, portfolio: Portfolio, market: Market, layout: Any, state: PositionState) -> Contributions:
        """Per-contract contributions of each position.

        Parameters
        ----------
        portfolio : Portfolio
            n positions at quantity 1.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        layout : Any
            From :meth:`prepare`.
        state : PositionState
            The positions' state on ``market``.

        Returns
        -------
        Contributions
            Per contract, the positions' contributions to the model's aggregate vectors.
        """

    def assemble(self, linear: FloatArray, ext: FloatArray, layout: Any, market: Market) -> dict[str, FloatArray]:
        """Core IM (key ``"core"``, USD), optional ``"stressed"``, and model components, per batch row.

        Parameters
        ----------
        linear, ext : ndarray, shape (batch, columns)
            Aggregated contributions of each candidate portfolio.
        layout : Any
            What this model's :meth:`prepare` returned for the same portfolio and market (opaque to the engine).
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        dict of str to ndarray
            Shape (batch,) each.
        """

    def allocate(
        self, linear_per_position: FloatArray, ext_per_position: FloatArray, layout: Any, parts: dict[str, FloatArray]
    ) -> FloatArray:
        """Each position's share of ``core`` (sums to core).

        Parameters
        ----------
        linear_per_position, ext_per_position : ndarray, shape (n, columns)
            Each position's contributions times its quantity.
        layout : Any
            What this model's :meth:`prepare` returned for the same portfolio and market (opaque to the engine).
        parts : dict of str to ndarray
            The portfolio's :meth:`assemble` output.

        Returns
        -------
        ndarray, shape (n,)
            USD.
        """

    def backtest(self, linear: FloatArray, layout: Any, days: int) -> tuple[int, int, int] | None:
        """(exceptions, days, bound) for the model-risk add-on, or None if not applicable.

        Parameters
        ----------
        linear : ndarray
            The portfolio's aggregated model columns.
        layout : Any
            What this model's :meth:`prepare` returned for the same portfolio and market (opaque to the engine).
        days : int
            Days to test.

        Returns
        -------
        (int, int, int) or None
            (exceptions, days tested, exception bound) for the model-risk add-on, or None if the model has no such test.
        """


@runtime_checkable
class FusedMarginModel(MarginModel, Protocol):
    """A margin model that can also run on the fused scenario kernels (:mod:`pricing.accel`):
    portfolio P&L without a (positions x scenarios) matrix, and marginal IM for many candidates
    without a (candidates x scenarios) matrix."""

    def fused(self, portfolio: Portfolio, market: Market, layout: Any, state: PositionState) -> FusedScenarios | None:
        """The fused view of ``portfolio`` on ``layout`` (None: use the matrix path).

        Parameters
        ----------
        portfolio : Portfolio
            Positions at quantity 1.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        layout : Any
            What this model's :meth:`prepare` returned for the same portfolio and market (opaque to the engine).
        state : PositionState
            Per-position time, forward, spot, vol and value at ``as_of``, from :func:`pricing.positions.position_state` of the
            same portfolio and market.

        Returns
        -------
        FusedScenarios or None
            The fused form, or None when the portfolio needs the unfused path.
        """

    def fused_marginal(
        self, fused: FusedScenarios, quantity: FloatArray, starts: np.ndarray, base_linear: FloatArray, layout: Any
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """Model parts of IM(P + trade) and IM(P - trade) per trade: the fused positions
        ``starts[t]:starts[t + 1]`` with their signed ``quantity``.

        Parameters
        ----------
        fused : FusedScenarios
            The portfolio's plan on the scenario set, from :meth:`fused` with the same layout.
        quantity : ndarray
            Signed contracts of each fused position.
        starts : ndarray of int, shape (T + 1,)
            Trade boundaries.
        base_linear : ndarray
            The held portfolio's scenario P&L, USD.
        layout : Any
            What this model's :meth:`prepare` returned for the same portfolio and market (opaque to the engine).

        Returns
        -------
        (plus, minus) : (dict of str to ndarray, dict of str to ndarray)
            As :meth:`MarginModel.assemble`, shape (T,) each.
        """

    def allocate_fused(self, fused: FusedScenarios, quantity: FloatArray, linear: FloatArray, layout: Any) -> FloatArray:
        """Each position's share of core IM, from the fused view.

        Parameters
        ----------
        fused : FusedScenarios
            The portfolio's plan on the scenario set, from :meth:`fused` with the same layout.
        quantity : ndarray
            Signed contracts.
        linear : ndarray
            The portfolio's scenario P&L, USD.
        layout : Any
            What this model's :meth:`prepare` returned for the same portfolio and market (opaque to the engine).

        Returns
        -------
        ndarray
            USD per position.
        """


_FUSED_TYPES: dict[type, bool] = {}


def is_fused_model(model: MarginModel) -> TypeGuard[FusedMarginModel]:
    """Whether ``model`` offers the fused methods (an isinstance check on a runtime protocol
    inspects every method; its answer is kept per class).

    Parameters
    ----------
    model : MarginModel
        Any margin model.

    Returns
    -------
    bool
        True if ``model`` is a :class:`FusedMarginModel`.
    """
    kind = type(model)
    if kind not in _FUSED_TYPES:
        _FUSED_TYPES[kind] = isinstance(model, FusedMarginModel)
    return _FUSED_TYPES[kind]


@dataclass(frozen=True)
class MarginResult:
    """An IM with every component, USD.

    ``total = max(core, apc_floor) + liquidity + concentration + model_risk``.

    Attributes
    ----------
    model : str
        The model's name.
    core : float
        The model's own requirement, USD.
    stressed : float
        The same on the stressed scenarios (NaN when the model has none).
    apc_floor : float
        The anti-procyclicality floor, USD.
    market_im : float
        max(core, apc_floor), USD.
    liquidity, concentration, model_risk : float
        The add-ons, USD.
    total : float
        market_im + liquidity + concentration + model_risk, USD.
    components : dict of str to float
        The model's own parts (``scan_risk``, ``worst_case``, ``var``, ``es``, ...), USD.
    contributions : ndarray, shape (n,)
        Each position's Euler share of ``core``, USD.
    names : tuple of str
        The positions' instruments.
    scenario_pnl : ndarray or None
        The portfolio's P&L per scenario (VaR models), USD.
    backtest : (int, int, int) or None
        (exceptions, days, bound) of the VaR backtest.
    notes : tuple of str
        Remarks for the user.
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
        """(component, USD) rows in display order.

        Returns
        -------
        list of (str, float)
            (component, USD): core, stressed, APC floor, market IM, the add-ons, the model's own components, then total.
        """
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


def _fused(
    model: MarginModel,
    portfolio: Portfolio,
    market: Market,
    setup: _Setup,
    params: AddOnParams,
    unit_state: PositionState | None = None,
) -> _Fused | None:
    """The fused view when the model has one and the kernels are on (else None: matrix path).

    ``unit_state`` is the positions' state at quantity 1, when the caller has it already.
    """
    if not is_fused_model(model) or not accel.enabled("scenario", len(portfolio)) or not len(portfolio):
        return None
    if unit_state is None:
        unit, state = _unit(portfolio, market)
    else:
        unit, state = portfolio.with_quantity(np.ones(len(portfolio))), unit_state
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
        The positions, one row each, with signed quantities in contracts.
    market : Market
        The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
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
        assert is_fused_model(model)  # _fused gives a view only for these
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
    """ΔIM of each trade against the portfolio alone, both directions, USD.

    ``delta_buy[t] = IM(P + trade_t) - IM(P)``, ``delta_sell[t] = IM(P - trade_t) - IM(P)``
    (the dealer buys or sells the trade: its legs with their signed quantities, or the reverse).

    Attributes
    ----------
    im_base : float
        IM(P), USD.
    im_buy, im_sell : ndarray, shape (T,)
        IM(P + trade_t), IM(P - trade_t), USD.
    names : tuple of str
        The trades' names.
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


#: Layout variants one basis keeps (a SPAN or Deribit trade on a new expiry gets its own).
_BASIS_VARIANTS = 8
_VARIANTS_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class MarginBasis:
    """What marginal IM needs of a portfolio that no trade changes, built once and reused.

    The portfolio's aggregate vectors (its scenario P&L, risk-array sums, add-on columns), its
    IM and model-risk state, and its net holding per instrument, all on ``setup``'s layout.
    Every ΔIM call against the same book, market, model and add-ons can start from here and
    reprice only its own trades: :func:`trade_margins`, :func:`sequential_margins`.

    Attributes
    ----------
    portfolio : Portfolio
        The book.
    market : Market
        The market the basis was built on.
    model : MarginModel
        The margin model the basis is for.
    params : AddOnParams
        The add-on and APC parameters in force.
    setup : _Setup
        The model's layout, the add-on capacities and the backtest state.
    lin0, ext0 : ndarray
        The book's aggregated linear and extensive columns.
    im0 : float
        The book's total IM, USD.
    held_names : ndarray of str
        The instruments the book holds, sorted.
    held_net : ndarray
        Its net contracts in each.
    layout_key : Any
        :func:`layout_key` of the layout.
    book_features : frozenset of tuple
        :func:`layout_features` of the book.
    covers_book_only : bool
        True when the layout was built on the book alone.
    """

    portfolio: Portfolio
    market: Market
    model: MarginModel
    params: AddOnParams
    setup: _Setup
    lin0: FloatArray
    ext0: FloatArray
    im0: float
    held_names: np.ndarray
    held_net: FloatArray
    layout_key: Any
    book_features: frozenset[tuple[Any, ...]] = frozenset()
    covers_book_only: bool = True
    _variants: dict[Any, MarginBasis] = field(default_factory=dict, compare=False, repr=False)

    def held(self, names: tuple[str, ...]) -> FloatArray:
        """Net quantity the portfolio holds in each of ``names`` (0 if none).

        Parameters
        ----------
        names : tuple of str
            Instruments.

        Returns
        -------
        ndarray, shape (len(names),)
            Signed contracts.
        """
        if not self.held_names.size:
            return np.zeros(len(names))
        want = np.asarray(names, dtype=self.held_names.dtype)
        at = np.minimum(np.searchsorted(self.held_names, want), self.held_names.size - 1)
        return np.where(self.held_names[at] == want, self.held_net[at], 0.0)

    def for_trades(self, trades: Portfolio) -> MarginBasis:
        """This basis if its layout already covers ``trades``, else the basis on the layout of
        portfolio + trades (kept: a SPAN or Deribit trade on a new expiry widens the layout).

        A layout is a function of the universe's (underlying, expiry tier, settlement, kind)
        set (:meth:`MarginModel.prepare`), so trades that add none to the book's keep the
        book's layout without asking the model.

        Parameters
        ----------
        trades : Portfolio
            The legs about to be priced.

        Returns
        -------
        MarginBasis
            A basis that also covers the trades' legs; this one is unchanged.
        """
        if self.covers_book_only and layout_features(trades) <= self.book_features:
            return self
        key = layout_key(self.model.prepare(_universe(self.portfolio, trades), self.market))
        if key == self.layout_key:
            return self
        hit = self._variants.get(key)
        if hit is None:
            hit = margin_basis(self.portfolio, self.market, self.model, self.params, trades)
            with _VARIANTS_LOCK:  # the server runs calls in threads
                while len(self._variants) >= _BASIS_VARIANTS:
                    self._variants.pop(next(iter(self._variants)))
                self._variants[key] = hit
        return hit


def layout_features(portfolio: Portfolio) -> frozenset[tuple[Any, ...]]:
    """The distinct (underlying, expiry tier, inverse, kind) of the positions: what a layout depends on.

    Parameters
    ----------
    portfolio : Portfolio
        The positions, one row each, with signed quantities in contracts.

    Returns
    -------
    frozenset of tuple
        The distinct (underlying, expiry tier, inverse, kind) of the positions; empty for an empty portfolio.
    """
    if not len(portfolio):
        return frozenset()
    table = zip(
        np.asarray(portfolio.underlying, dtype=str).tolist(),
        portfolio.tier_keys().tolist(),
        np.asarray(portfolio.inverse, dtype=bool).tolist(),
        np.asarray(portfolio.kind).tolist(),
    )
    return frozenset(table)


def layout_key(layout: Any) -> Any:
    """A hashable key equal for equal layouts: small arrays by content, large ones (scenario
    sets, which the models build once per window and share) by identity; the basis holding the
    layout keeps that identity from being reused.

    Parameters
    ----------
    layout : Any
        What :meth:`MarginModel.prepare` returned.

    Returns
    -------
    Any
        Hashable.
    """
    if dataclasses.is_dataclass(layout) and not isinstance(layout, type):
        return (type(layout).__name__, *(layout_key(getattr(layout, f.name)) for f in dataclasses.fields(layout)))
    if isinstance(layout, dict):
        return tuple(sorted((str(k), layout_key(v)) for k, v in layout.items()))
    if isinstance(layout, np.ndarray):
        return (layout.dtype.str, layout.shape, layout.tobytes()) if layout.size <= 1024 else ("id", id(layout))
    if isinstance(layout, (tuple, list)):
        return tuple(layout_key(v) for v in layout)
    return layout


def margin_basis(
    portfolio: Portfolio,
    market: Market,
    model: MarginModel,
    addons: AddOnParams | None = None,
    trades: Portfolio | None = None,
) -> MarginBasis:
    """The :class:`MarginBasis` of ``portfolio`` on the layout of portfolio + ``trades``.

    Parameters
    ----------
    portfolio : Portfolio
        Current positions (may be empty).
    market, model, addons :
        As for :func:`margin`.
    trades : Portfolio, optional
        Trades the basis must cover (their underlyings and expiries join the layout).

    Returns
    -------
    MarginBasis
        The book's basis: its layout, state and aggregate vectors, reused for every trade quoted against it.

    Notes
    -----
    The model-risk add-on state (backtest failing or not) is the portfolio's and holds for every
    trade priced from this basis: one trade does not re-run the backtest.
    """
    params = addons or AddOnParams()
    universe = _universe(portfolio, trades) if trades is not None and len(trades) else portfolio
    if not len(universe):
        raise PricingInputError("margin_basis: the portfolio and the trades are both empty")
    setup = _setup(model, universe, market, params)
    if len(portfolio):
        fz0 = _fused(model, portfolio, market, setup, params)
        if fz0 is None:
            contrib = _contrib_with_addons(model, portfolio, market, setup, params)
            lin0, ext0 = contrib.aggregate(portfolio.quantity, portfolio.names)
        else:
            lin0, ext0 = _fused_aggregate(fz0, portfolio)
        setup = _with_backtest(model, setup, lin0, params)
        im0 = float(_assemble(model, lin0[None], ext0[None], setup, market, params)["total"][0])
        first, net = net_by_instrument(portfolio.names, portfolio.quantity)
        names = np.asarray(portfolio.names, dtype=str)[first]
    else:
        assert trades is not None
        probe = _contrib_with_addons(model, trades.select(np.arange(1)), market, setup, params)
        lin0, ext0 = np.zeros(probe.linear.shape[1]), np.zeros(probe.long.shape[1])
        im0, names, net = 0.0, np.zeros(0, dtype=str), np.zeros(0)
    order = np.argsort(names)
    book = layout_features(portfolio)
    return MarginBasis(
        portfolio,
        market,
        model,
        params,
        setup,
        lin0,
        ext0,
        im0,
        names[order],
        net[order],
        layout_key(setup.layout),
        book,
        trades is None or layout_features(trades) <= book,
    )


def _universe(portfolio: Portfolio, candidates: Portfolio) -> Portfolio:
    return concat([portfolio, candidates])


@dataclass(frozen=True)
class TradeLegs:
    """Trades as runs of legs: trade t is ``legs.select(starts[t]:starts[t + 1])`` with its
    signed quantities (the dealer buying the trade).

    Attributes
    ----------
    legs : Portfolio
        Every trade's legs, trade by trade.
    starts : ndarray of int, shape (T + 1,)
        Trade t's legs are ``starts[t]:starts[t + 1]``.
    """

    legs: Portfolio
    starts: np.ndarray

    @property
    def count(self) -> int:
        return int(self.starts.size - 1)

    @staticmethod
    def single(candidates: Portfolio) -> TradeLegs:
        """One trade per row.

        Parameters
        ----------
        candidates : Portfolio
            One leg per trade.

        Returns
        -------
        TradeLegs
            Each row of ``candidates`` as a one-leg trade, in order.
        """
        return TradeLegs(candidates, np.arange(len(candidates) + 1, dtype=np.int64))

    @staticmethod
    def grouped(candidates: Portfolio, groups: np.ndarray) -> tuple[TradeLegs, np.ndarray]:
        """Rows grouped by trade id (0..T-1; an id with no rows is an empty trade), and the row order used.

        Parameters
        ----------
        candidates : Portfolio
            The legs, in any order.
        groups : ndarray of int
            Each leg's trade id in 0..T-1.

        Returns
        -------
        (TradeLegs, ndarray of int)
            The trades, and the order of ``candidates``' rows in them.
        """
        g = np.asarray(groups)
        if g.shape != (len(candidates),) or not np.issubdtype(g.dtype, np.integer) or (g.size and g.min() < 0):
            raise PricingInputError("groups: one non-negative integer trade id per candidate row")
        order = np.argsort(g, kind="stable")
        n = int(g.max()) + 1 if g.size else 0
        starts = np.searchsorted(g[order], np.arange(n + 1)).astype(np.int64)
        return TradeLegs(candidates.select(order), starts), order

    def names(self) -> tuple[str, ...]:
        """Each trade's name: its legs' instruments joined by `` + ``.

        Returns
        -------
        tuple of str
            One per trade.
        """
        legs = self.legs.names
        return tuple(" + ".join(legs[self.starts[t] : self.starts[t + 1]]) for t in range(self.count))

    def sum_rows(self, x: FloatArray) -> FloatArray:
        """(T, k) sums of the rows of ``x`` (one per leg) over each trade's legs.

        Parameters
        ----------
        x : ndarray, shape (legs, k)
            One row per leg.

        Returns
        -------
        ndarray, shape (T, k)
            Per trade, the sum of its legs' rows.
        """
        out = np.zeros((self.count, x.shape[1]))
        full = self.starts[:-1] < self.starts[1:]
        if full.any():
            out[full] = np.add.reduceat(x, self.starts[:-1][full], axis=0)
        return out

    def blocks(self, max_legs: int) -> list[tuple[int, int]]:
        """Runs of whole trades [t0, t1) with at most ``max_legs`` legs (at least one trade) each.

        Parameters
        ----------
        max_legs : int
            Legs per block (a trade with more gets a block of its own).

        Returns
        -------
        list of (int, int)
            [t0, t1) trade ranges, in order, covering every trade.
        """
        out, t0 = [], 0
        while t0 < self.count:
            t1 = int(np.searchsorted(self.starts, self.starts[t0] + max_legs, side="right")) - 1
            t1 = min(max(t1, t0 + 1), self.count)
            out.append((t0, t1))
            t0 = t1
        return out

    def take(self, t0: int, t1: int) -> TradeLegs:
        """Trades t0 to t1 - 1 alone.

        Parameters
        ----------
        t0, t1 : int
            The trade range [t0, t1).

        Returns
        -------
        TradeLegs
            The selected trades, in the order given.
        """
        lo, hi = int(self.starts[t0]), int(self.starts[t1])
        return TradeLegs(self.legs.select(np.arange(lo, hi)), self.starts[t0 : t1 + 1] - lo)


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
        One row per candidate; without ``groups``, |quantity| is the trade size in contracts
        (its sign is ignored: both directions are returned).
    market, model, addons :
        As for :func:`margin`.
    block : int
        Legs repriced at once on the matrix path (memory is O(block x scenarios)).
    groups : array of int, optional
        Trade id of each candidate row (multi-leg structures): rows sharing an id are one trade,
        with their signed quantities; the result has one entry per id (0..T-1).

    Returns
    -------
    MarginalResult
        IM now, and IM after buying and after selling each trade (USD).

    Notes
    -----
    :func:`margin_basis` then :func:`trade_margins`; see there.
    """
    params = addons or AddOnParams()
    if len(candidates) == 0:
        return MarginalResult(margin(portfolio, market, model, params).total, np.zeros(0), np.zeros(0), ())
    if groups is None:
        trades = TradeLegs.single(candidates.with_quantity(np.abs(candidates.quantity)))
    else:
        trades, _ = TradeLegs.grouped(candidates, groups)
    basis = margin_basis(portfolio, market, model, params, candidates)
    buy, sell = trade_margins(basis, trades, block=block)
    return MarginalResult(basis.im0, buy, sell, candidates.names if groups is None else trades.names())


def trade_margins(
    basis: MarginBasis, trades: TradeLegs, *, block: int = CANDIDATE_BLOCK, unit_state: PositionState | None = None
) -> tuple[FloatArray, FloatArray]:
    """IM(P + trade) and IM(P - trade) for every trade, USD, from the portfolio's basis.

    Parameters
    ----------
    basis : MarginBasis
        The portfolio's basis; its layout must cover the trades (:meth:`MarginBasis.for_trades`).
    trades : TradeLegs
        The trades as runs of legs with signed quantities, contracts (:class:`~pricing.margin.engine.TradeLegs`).
    block : int
        Legs repriced at once on the matrix path (memory is O(block x scenarios)).
    unit_state : PositionState, optional
        The legs' state at quantity 1, if the caller has it (it is not recomputed).

    Returns
    -------
    (ndarray, ndarray)
        Totals after buying and after selling each trade.

    Notes
    -----
    Each leg is repriced once on the scenarios; a trade's legs are summed per scenario and added
    to the portfolio's aggregate before the model's assembly, both directions at once. With the
    fused kernels (scenario VaR models) no (trades x scenarios) matrix exists at all: the kernel
    keeps each trade's tail order statistics in a buffer of O(k); on the matrix path the legs go
    ``block`` at a time, whole trades per block. A trade whose legs are all of quantity 0 has
    IM(P) exactly.
    """
    if block < 1:
        raise PricingInputError(f"block: must be >= 1, got {block!r}")
    if trades.count == 0:
        return np.zeros(0), np.zeros(0)
    legs = trades.legs
    held = basis.held(legs.names)
    fz = _fused(basis.model, legs, basis.market, basis.setup, basis.params, unit_state)
    if fz is not None:
        buy, sell = _fused_trades(basis, fz, trades, held)
    else:
        buy, sell = np.empty(trades.count), np.empty(trades.count)
        for t0, t1 in trades.blocks(block):
            part = trades.take(t0, t1)
            c = _contrib_with_addons(basis.model, part.legs, basis.market, basis.setup, basis.params)
            buy[t0:t1], sell[t0:t1] = _matrix_trades(basis, part, c, basis.held(part.legs.names))
    zero = trades.sum_rows(np.abs(legs.quantity)[:, None])[:, 0] == 0
    buy[zero] = basis.im0
    sell[zero] = basis.im0
    return buy, sell


def _fused_trades(basis: MarginBasis, fz: _Fused, trades: TradeLegs, held: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Totals of IM(P +/- each trade) from the model's fused tail kernel and the add-on columns."""
    model, setup = basis.model, basis.setup
    assert is_fused_model(model)  # _fused gives a view only for these
    n_u = len(setup.underlyings)
    q = trades.legs.quantity
    lin0, ext0 = basis.lin0, basis.ext0
    parts_buy, parts_sell = model.fused_marginal(fz.scenarios, q, trades.starts, lin0[: lin0.size - n_u], setup.layout)
    delta = trades.sum_rows(q[:, None] * fz.addons.linear)
    delta0, liq0 = lin0[lin0.size - n_u :], ext0[-1]
    out = []
    for parts, sign in ((parts_buy, 1.0), (parts_sell, -1.0)):
        liquidity = liq0 + trades.sum_rows(_ext_change(fz.addons, held[:, None], sign * q[:, None]))[:, -1]
        out.append(_finish(model, parts, delta0 + sign * delta, liquidity, setup, basis.params)["total"])
    return out[0], out[1]


def _matrix_trades(basis: MarginBasis, trades: TradeLegs, c: Contributions, held: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Totals of IM(P +/- each trade) from the legs' contribution rows (matrix path)."""
    q = trades.legs.quantity[:, None]
    h = held[:, None]
    lin = trades.sum_rows(q * c.linear)
    ext_buy = trades.sum_rows(_ext_change(c, h, q))
    ext_sell = trades.sum_rows(_ext_change(c, h, -q))
    b, m = basis, basis.model
    buy = _assemble(m, b.lin0 + lin, b.ext0 + ext_buy, b.setup, b.market, b.params)["total"]
    sell = _assemble(m, b.lin0 - lin, b.ext0 + ext_sell, b.setup, b.market, b.params)["total"]
    return buy, sell


def _ext_change(c: Contributions, held: FloatArray, trade: FloatArray) -> FloatArray:
    """Change of the long/short aggregates when ``trade`` is added to a net holding ``held``."""
    new = held + trade
    return (np.maximum(new, 0) - np.maximum(held, 0)) * c.long + (np.maximum(-new, 0) - np.maximum(-held, 0)) * c.short


@dataclass(frozen=True)
class SequentialMargins:
    """Trades taken in order, each priced both ways against the book as it stands, USD.

    Attributes
    ----------
    im_before : ndarray, shape (T,)
        The book's IM before trade t, USD.
    im_buy, im_sell : ndarray, shape (T,)
        IM after the dealer buys or sells trade t, USD.
    filled : ndarray, shape (T,)
        The signed multiple of trade t taken into the book (0: not taken).
    """

    im_before: FloatArray
    im_buy: FloatArray
    im_sell: FloatArray
    filled: FloatArray


def sequential_margins(
    basis: MarginBasis, trades: TradeLegs, fill: FloatArray, *, block: int = CANDIDATE_BLOCK
) -> SequentialMargins:
    """IM(book_t ± trade_t) for trades in order, where book_t holds the fills of trades before t.

    Parameters
    ----------
    basis : MarginBasis
        The starting portfolio's basis, covering the trades.
    trades : TradeLegs
        The trades as runs of legs with signed quantities, contracts (:class:`~pricing.margin.engine.TradeLegs`).
    fill : array of float
        Per trade: +1 the dealer buys it once priced, -1 sells it, 0 leaves it (a two-way quote).
    block : int
        Legs repriced at once (memory O(block x scenarios)).

    Returns
    -------
    SequentialMargins
        IM after each trade in turn, and each trade's increment, USD.

    Notes
    -----
    Each leg is repriced once (in blocks); the running aggregate and net holdings are updated in
    place after each fill, so a step costs one two-row assembly, never a repricing of the book.
    The steps are a loop because each depends on the fills before it.
    """
    f = np.asarray(fill, dtype=np.float64)
    if f.shape != (trades.count,) or not np.isin(f, (-1.0, 0.0, 1.0)).all():
        raise PricingInputError(f"fill: one of +1, -1, 0 per trade ({trades.count})")
    b = basis
    lin, ext, now = b.lin0.copy(), b.ext0.copy(), b.im0
    held = dict(zip(b.held_names.tolist(), b.held_net.tolist()))
    before, buy, sell = (np.empty(trades.count) for _ in range(3))
    for t0, t1 in trades.blocks(block):
        part = trades.take(t0, t1)
        c = _contrib_with_addons(b.model, part.legs, b.market, b.setup, b.params)
        q = part.legs.quantity
        names = part.legs.names
        for t in range(part.count):
            rows = np.arange(part.starts[t], part.starts[t + 1])
            h = np.array([held.get(names[i], 0.0) for i in rows])[:, None]
            row = Contributions(c.linear[rows], c.long[rows], c.short[rows])
            d_lin = q[rows] @ c.linear[rows]
            d_ext = np.stack([_ext_change(row, h, s * q[rows][:, None]).sum(axis=0) for s in (1.0, -1.0)])
            both = _assemble(b.model, np.stack([lin + d_lin, lin - d_lin]), ext + d_ext, b.setup, b.market, b.params)
            i = t0 + t
            before[i], buy[i], sell[i] = now, both["total"][0], both["total"][1]
            if not q[rows].any():
                buy[i] = sell[i] = now
            s = f[i]
            if s != 0.0:
                k = 0 if s > 0 else 1
                lin, ext, now = lin + s * d_lin, ext + d_ext[k], float(buy[i] if s > 0 else sell[i])
                for j in rows:
                    held[names[j]] = held.get(names[j], 0.0) + s * q[j]
    return SequentialMargins(before, buy, sell, f)


@dataclass(frozen=True)
class SequentialResult:
    """Trades taken in order; accepted ones join the portfolio before the next is priced.

    Attributes
    ----------
    im_before, im_after : ndarray, shape (T,)
        The portfolio's IM before and after trade t, USD.
    accepted : ndarray of bool, shape (T,)
        Whether trade t joined the portfolio.
    names : tuple of str
        The trades' names.
    """

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
        The positions, one row each, with signed quantities in contracts.
    trades : Portfolio
        Signed quantities, in the order they arrive.
    market, model, addons :
        As for :func:`margin`.
    accept : array of bool, optional
        Which trades join the portfolio after being priced.

    Returns
    -------
    SequentialResult
        IM after each position is added in turn, and each increment, USD.

    Notes
    -----
    :func:`sequential_margins` with one trade per row.
    """
    acc = np.ones(len(trades), bool) if accept is None else np.asarray(accept, dtype=bool)
    if acc.shape != (len(trades),):
        raise PricingInputError(f"accept: expected {len(trades)} flags, got {acc.size}")
    if len(trades) == 0:
        return SequentialResult(np.zeros(0), np.zeros(0), acc, ())
    basis = margin_basis(portfolio, market, model, addons, trades)
    res = sequential_margins(basis, TradeLegs.single(trades), acc.astype(np.float64))
    return SequentialResult(res.im_before, res.im_buy, acc, trades.names)
