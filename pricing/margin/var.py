"""Scenario VaR / ES margin with full revaluation: ``hvar`` (HS), ``fhs`` (filtered HS), ``mc``.

Core IM = VaR_α (or ES_α) of the portfolio's scenario losses by the k-th-worst rule
(docs/methodology.md §C4), with α = 99.5% and h = 2 days by default (the source article's choice; note
that EMIR pairs 99.5% with OTC and 2 days with ETD, C1). The stressed scenarios (appended to the
historical set) feed the EMIR Art. 28(b) floor and never the core quantile.

Euler allocation: for VaR, position i's share is its loss in the VaR scenario (the k-th worst);
for ES, its mean loss over the k worst. Both add up exactly to the core IM (Tasche 1999; for a
discrete scenario set the VaR form is the scenario-based Euler estimator).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import PricingInputError, parse_choice
from pricing.fused import FusedScenarios
from pricing.margin.addons import backtest_exceptions
from pricing.margin.engine import Contributions
from pricing.margin.quantile import check_alpha, tail_count, tail_indices
from pricing.market import Market
from pricing.marketdata import UNDERLYINGS
from pricing.portfolio import Portfolio
from pricing.positions import PositionState, expand
from pricing.revaluation import reprice
from pricing.scenarios import (
    McParams,
    ScenarioParams,
    ScenarioSet,
    historical_scenarios,
    monte_carlo_scenarios,
    tenor_vol_weights,
)
from pricing.surface import SHOCK_RULES

MEASURES = {"var": "var", "es": "es"}


@lru_cache(maxsize=32)
def _cached_historical(underlyings: tuple[str, ...], params: ScenarioParams) -> ScenarioSet:
    return historical_scenarios(underlyings, params)


@lru_cache(maxsize=16)
def _cached_mc(underlyings: tuple[str, ...], params: McParams) -> ScenarioSet:
    return monte_carlo_scenarios(underlyings, params)


def scenario_scope(portfolio: Portfolio, market: Market, params: ScenarioParams | McParams) -> tuple[tuple[str, ...], Any]:
    """The underlyings and window of the scenario set for ``portfolio`` on ``market``.

    Parameters
    ----------
    portfolio : Portfolio
        The positions; their underlyings join the market's in the scenario set.
    market : Market
        Its underlyings with a bundled history join the window; its date ends it.
    params : ScenarioParams or McParams
        How the set is built; ``as_of`` None means the market's date.

    Returns
    -------
    (underlyings, params) : (tuple of str, ScenarioParams or McParams)
        The sorted underlyings of the joint set, and ``params`` with ``as_of`` filled in.

    Notes
    -----
    Policy (README, "Scenario window"): one joint window per market, never per request. The set
    covers every underlying the market carries (plus any the portfolio adds), and ends on the
    market's date or, if earlier, the last date every one of those histories has. So a BTC
    quote is the same whether or not an ETH RFQ sits in the same file, and no scenario uses
    history after the market's own date.
    """
    # The market's underlyings that have a bundled history join the window; one without (a user's
    # chain for another coin) cannot, and only matters if the portfolio holds it (then it errors).
    with_history = {str(u).upper() for u in market.surfaces if str(u).lower() in UNDERLYINGS}
    unds = tuple(sorted(set(portfolio.underlyings) | with_history))
    if params.as_of is None:
        params = dataclasses.replace(params, as_of=market.as_of.date())
    return unds, params


def _split(linear: FloatArray, layout: ScenarioSet) -> tuple[FloatArray, FloatArray | None]:
    """(core, stressed) scenario columns; views when the stressed set is appended at the end."""
    n_stress = int(layout.stressed.sum())
    if n_stress == 0:
        return linear, None
    n_core = layout.stressed.size - n_stress
    if not layout.stressed[:n_core].any():
        return linear[:, :n_core], linear[:, n_core:]
    return linear[:, ~layout.stressed], linear[:, layout.stressed]


def pnl_var_es(pnl: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    """VaR and ES (losses positive) from P&Ls along the last axis, by the k-th-worst rule.

    Parameters
    ----------
    pnl : ndarray, shape (..., N)
        Scenario P&L, USD (gains positive).
    alpha : float
        Confidence in (0, 1).

    Returns
    -------
    (var, es) : ndarrays of shape (...)
        USD, losses positive.

    Notes
    -----
    VaR = -P_(k), ES = -mean(P_(1..k)) over the k smallest P&Ls, k = max(1, ⌊N (1 - α)⌋)
    (:mod:`pricing.margin.quantile`, docs/methodology.md §C4). Partitions the P&L itself at its
    k-th smallest value (no negated copy of the matrix).
    """
    n = pnl.shape[-1]
    k = tail_count(n, alpha)
    low = np.partition(pnl, k - 1, axis=-1)[..., :k]
    return -low.max(axis=-1), -low.mean(axis=-1)


@dataclass(frozen=True)
class ScenarioVarModel:
    """VaR/ES on a joint scenario set with full revaluation.

    Attributes
    ----------
    name : str
        ``"hvar"``, ``"fhs"`` or ``"mc"``.
    alpha : float
        Confidence level in (0, 1); default 0.995.
    measure : {"var", "es"}
        Which tail measure is the core IM (both are reported).
    rule : {"sticky_moneyness", "sticky_strike"}
        How the smile moves with the spot in a scenario.
    scenario_params : ScenarioParams or McParams
        How scenarios are built (bundled history).
    scenarios : ScenarioSet, optional
        A prebuilt set (overrides ``scenario_params``): hand-made histories, tests, benchmarks.
    vol_tenor_power_short, vol_tenor_power_long : float
        How an option's vol change scales with its tenor below and from 30 days
        (:func:`pricing.scenarios.tenor_vol_weights`; 0.3, 0.13).

    Notes
    -----
    Each scenario fully reprices every position (Black-76 on the shocked smile); VaR = the k-th
    worst loss and ES = the mean of the k worst, k = max(1, ⌊N (1 - α)⌋) (docs/methodology.md §C4).

    Examples
    --------
    Ten short 3-month BTC calls on a flat 60% surface, the bundled BTC history (five years of
    overlapping 2-day changes to the market's date, plus the stressed windows):

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.examples import short_call
    >>> book, m = short_call()
    >>> r = margin(book, m, hvar_model())
    >>> r.scenario_pnl.size, r.components["es"] > r.components["var"] == r.core > 0, r.total >= r.market_im >= r.core
    (2037, True, True)
    """

    name: str = "hvar"
    alpha: float = 0.995
    measure: str = "var"
    rule: str = "sticky_moneyness"
    scenario_params: ScenarioParams | McParams = field(default_factory=lambda: ScenarioParams(include_stress=True))
    scenarios: ScenarioSet | None = None
    vol_tenor_power_short: float = 0.3
    vol_tenor_power_long: float = 0.13
    venue_replica: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        parse_choice(self.measure, "measure", MEASURES)
        parse_choice(self.rule, "rule", SHOCK_RULES)

    @property
    def horizon_days(self) -> float:
        if self.scenarios is not None:
            return float(self.scenarios.horizon_days)
        return float(self.scenario_params.horizon_days)

    def prepare(self, portfolio: Portfolio, market: Market) -> ScenarioSet:
        """The scenario set (cached per underlyings and window): the given one, or built by :func:`scenario_scope`.

        Parameters
        ----------
        portfolio : Portfolio
            The positions, one row each, with signed quantities in contracts.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        ScenarioSet
            The scenario set for the portfolio's underlyings, core then stressed.

        Raises
        ------
        PricingInputError
            A prebuilt set lacks an underlying the portfolio holds.
        """
        if self.scenarios is not None:
            for u in portfolio.underlyings:
                self.scenarios.index(u)
            return self.scenarios
        unds, params = scenario_scope(portfolio, market, self.scenario_params)
        if isinstance(params, McParams):
            return _cached_mc(unds, params)
        return _cached_historical(unds, params)

    def vol_weights(self, state: PositionState) -> FloatArray:
        """Each position's share of its underlying's 30-day vol change (:func:`tenor_vol_weights`).

        Parameters
        ----------
        state : PositionState
            n positions' state (``t_years``, ACT/365).

        Returns
        -------
        ndarray, shape (n,)
            Multipliers of the scenario's log vol change.

        Notes
        -----
        w = (30/DTE)^p, p = ``vol_tenor_power_short`` below 30 days, ``vol_tenor_power_long`` from 30
        days (Deribit's vol-shock scaling, docs/methodology.md §B3).
        """
        return tenor_vol_weights(state.t_years, self.vol_tenor_power_short, self.vol_tenor_power_long)

    def contributions(self, portfolio: Portfolio, market: Market, layout: ScenarioSet, state: PositionState) -> Contributions:
        """Each position's P&L in every scenario, full revaluation.

        Parameters
        ----------
        portfolio : Portfolio
            n positions.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        layout : ScenarioSet
            S scenarios (from :meth:`prepare`).
        state : PositionState
            The positions' state on ``market``.

        Returns
        -------
        Contributions
            ``linear`` (n, S): P&L in USD, gains positive; no extensive part.
        """
        returns = expand(layout.returns, layout.underlyings, portfolio)
        factor = np.exp(expand(layout.vol_changes, layout.underlyings, portfolio) * self.vol_weights(state)[:, None])
        pnl = reprice(
            portfolio,
            market,
            returns,
            vol_factor=factor,
            horizon_days=layout.horizon_days,
            rule=self.rule,
            state=state,
            coin=False,
        )
        empty = np.zeros((len(portfolio), 0))
        return Contributions(pnl.usd, empty, empty)

    def fused(self, portfolio: Portfolio, market: Market, layout: ScenarioSet, state: PositionState) -> FusedScenarios | None:
        """The fused-kernel view of ``portfolio`` on the scenario set (None: use :meth:`contributions`).

        Parameters
        ----------
        portfolio : Portfolio
            The positions, one row each, with signed quantities in contracts.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        layout : ScenarioSet
            What :meth:`prepare` returned for this portfolio and market: the scenario set, core then stressed.
        state : PositionState
            Per-position time, forward, spot, vol and value at ``as_of``, from :func:`pricing.positions.position_state` of the
            same portfolio and market.

        Returns
        -------
        FusedScenarios or None
            The fused form, or None when the portfolio needs the unfused path.
        """
        return FusedScenarios.build(
            portfolio,
            market,
            state,
            layout.underlyings,
            layout.returns,
            layout.vol_changes,
            layout.stressed,
            layout.horizon_days,
            self.rule,
            self.vol_weights(state),
        )

    def fused_marginal(
        self, fused: FusedScenarios, quantity: FloatArray, starts: np.ndarray, base_core: FloatArray, layout: ScenarioSet
    ) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
        """Model parts (as :meth:`assemble`) of base +/- each trade, without a (T, S) matrix.

        Parameters
        ----------
        fused : FusedScenarios
            The candidates' fused positions.
        quantity : ndarray
            Signed contracts of each fused position.
        starts : ndarray of int, shape (T + 1,)
            Trade t is the fused positions ``starts[t]:starts[t + 1]``.
        base_core : ndarray, shape (S,)
            The held portfolio's scenario P&L, USD.
        layout : ScenarioSet
            What :meth:`prepare` returned for this portfolio and market: the scenario set, core then stressed.

        Returns
        -------
        (plus, minus) : (dict of str to ndarray, dict of str to ndarray)
            ``var``, ``es``, ``core`` (and ``stressed``) per trade, USD, shape (T,).
        """
        n_stress = int(layout.stressed.sum())
        k_core = tail_count(fused.n_core, self.alpha)
        k_stress = tail_count(n_stress, self.alpha) if n_stress else 1
        t = fused.tails(quantity, starts, base_core, k_core, k_stress)

        def parts(off: int) -> dict[str, FloatArray]:
            var, es, s_var, s_es = (np.ascontiguousarray(t[:, off + j]) for j in range(4))
            out = {"var": var, "es": es, "core": var if self.measure == "var" else es}
            if n_stress:
                out["stressed"] = s_var if self.measure == "var" else s_es
            return out

        return parts(0), parts(4)

    def allocate_fused(self, fused: FusedScenarios, quantity: FloatArray, linear: FloatArray, layout: ScenarioSet) -> FloatArray:
        """:meth:`allocate` repricing only the tail scenarios.

        Parameters
        ----------
        fused : FusedScenarios
            The portfolio's plan on the scenario set, from :meth:`fused` with the same layout.
        quantity : ndarray
            Signed contracts of each fused position.
        linear : ndarray, shape (S,)
            The portfolio's scenario P&L, USD.
        layout : ScenarioSet
            What :meth:`prepare` returned for this portfolio and market: the scenario set, core then stressed.

        Returns
        -------
        ndarray
            Each position's share of core IM, USD.
        """
        core_cols = np.flatnonzero(~layout.stressed)
        cols = core_cols[tail_indices(-linear[core_cols], self.alpha)]
        per = np.asarray(quantity, dtype=np.float64)[:, None] * fused.columns(cols)
        return -per[:, -1] if self.measure == "var" else -per.mean(axis=1)

    def assemble(self, linear: FloatArray, ext: FloatArray, layout: ScenarioSet, market: Market) -> dict[str, FloatArray]:
        """VaR and ES of each candidate's P&L on the core scenarios (and on the stressed ones).

        Parameters
        ----------
        linear : ndarray, shape (batch, S)
            Portfolio P&L per scenario, USD.
        ext : ndarray
            Not used (no extensive part).
        layout : ScenarioSet
            What :meth:`prepare` returned for this portfolio and market: the scenario set, core then stressed.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        dict of str to ndarray
            ``var``, ``es``, ``core`` (the chosen measure), ``stressed`` (if the set has
            stressed scenarios), USD, and ``scenario_pnl`` (``linear``).
        """
        core_pnl, stress_pnl = _split(linear, layout)
        var, es = pnl_var_es(core_pnl, self.alpha)
        out: dict[str, FloatArray] = {"var": var, "es": es, "core": var if self.measure == "var" else es, "scenario_pnl": linear}
        if stress_pnl is not None:
            s_var, s_es = pnl_var_es(stress_pnl, self.alpha)
            out["stressed"] = s_var if self.measure == "var" else s_es
        return out

    def allocate(
        self, linear_per_position: FloatArray, ext_per_position: FloatArray, layout: ScenarioSet, parts: dict[str, Any]
    ) -> FloatArray:
        """Each position's loss in the VaR scenario (or its mean over the ES tail): Euler allocation.

        Parameters
        ----------
        linear_per_position : ndarray, shape (n, S)
            Each position's scenario P&L, USD.
        ext_per_position : ndarray
            Not used.
        layout : ScenarioSet
            What :meth:`prepare` returned for this portfolio and market: the scenario set, core then stressed.
        parts : dict of str to ndarray
            The portfolio's :meth:`assemble` output.

        Returns
        -------
        ndarray, shape (n,)
            USD, adding up to ``core``.
        """
        core_cols = np.flatnonzero(~layout.stressed)
        total = linear_per_position[:, core_cols].sum(axis=0)
        tail = tail_indices(-total, self.alpha)
        cols = core_cols[tail]
        if self.measure == "var":
            return -linear_per_position[:, cols[-1]]
        return np.asarray(-linear_per_position[:, cols].mean(axis=1), dtype=np.float64)

    def backtest(self, linear: FloatArray, layout: ScenarioSet, days: int) -> tuple[int, int, int] | None:
        """A rolling backtest of the VaR on the date-ordered historical scenarios.

        Parameters
        ----------
        linear : ndarray, shape (S,)
            The portfolio's scenario P&L, USD.
        layout : ScenarioSet
            What :meth:`prepare` returned for this portfolio and market: the scenario set, core then stressed.
        days : int
            Days to test (the last ``days`` historical scenarios).

        Returns
        -------
        (exceptions, days, bound) or None
            None for Monte Carlo scenarios or too short a history
            (:func:`pricing.margin.addons.backtest_exceptions`).
        """
        if layout.kind == "mc":
            return None
        pnl = linear[~layout.stressed]
        if pnl.size < 2 * days:
            return None
        return backtest_exceptions(pnl, self.alpha, pnl.size - days, days)


def hvar_model(
    alpha: float = ScenarioVarModel.alpha,
    *,
    measure: str = ScenarioVarModel.measure,
    horizon_days: int = ScenarioParams.horizon_days,
    lookback_years: float = ScenarioParams.lookback_years,
    **kwargs: Any,
) -> ScenarioVarModel:
    """Historical-simulation VaR (plain, unfiltered) with the stressed set for APC.

    Parameters
    ----------
    alpha : float
        Confidence in (0, 1) (0.995).
    measure : {"var", "es"}
        The core IM.
    horizon_days : int
        Margin period of risk: overlapping changes over this many days (2).
    lookback_years : float
        History before the market's date (5).
    **kwargs
        Further :class:`~pricing.scenarios.ScenarioParams` fields.

    Returns
    -------
    ScenarioVarModel
        Historical-simulation VaR on the bundled histories.

    Notes
    -----
    The scenarios are the bundled history's overlapping ``horizon_days`` log returns and log
    changes of the 30-day vol, plus the stressed windows (docs/methodology.md §C1-C4).

    Examples
    --------
    The collar of :class:`~pricing.margin.span.SpanModel`'s example (short 10 calls at 70,000,
    long 10 puts at 50,000, flat 60% at 60,000, three months) under the default 99.5% 2-day VaR:

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.examples import collar
    >>> book, m = collar()
    >>> r = margin(book, m, hvar_model())
    >>> round(r.core), r.components["es"] > r.components["var"] == r.core
    (47253, True)
    >>> bool(abs(r.contributions.sum() - r.core) < 1e-6)
    True
    """
    params = ScenarioParams(horizon_days=horizon_days, lookback_years=lookback_years, include_stress=True, **kwargs)
    return ScenarioVarModel("hvar", alpha, measure, scenario_params=params)


def fhs_model(
    alpha: float = ScenarioVarModel.alpha,
    *,
    measure: str = ScenarioVarModel.measure,
    horizon_days: int = ScenarioParams.horizon_days,
    lookback_years: float = ScenarioParams.lookback_years,
    ewma_lambda: float = ScenarioParams.ewma_lambda,
    **kwargs: Any,
) -> ScenarioVarModel:
    """Filtered historical simulation (EWMA λ = 0.97 by default) with the stressed set for APC.

    Parameters
    ----------
    alpha : float
        Confidence in (0, 1) (0.995).
    measure : {"var", "es"}
        The core IM.
    horizon_days : int
        Margin period of risk, days (2).
    lookback_years : float
        History before the market's date (5).
    ewma_lambda : float
        Decay of the EWMA variance that filters the returns (0.97).
    **kwargs
        Further :class:`~pricing.scenarios.ScenarioParams` fields.

    Returns
    -------
    ScenarioVarModel
        Filtered historical simulation VaR (EWMA-rescaled returns) on the bundled histories.

    Notes
    -----
    r̃_t = r_t σ_T / σ_t, σ² by EWMA (Hull and White 1998, "Incorporating volatility updating
    into the historical simulation method for VaR"; docs/methodology.md §C2).

    Examples
    --------
    The collar of :func:`hvar_model`'s example (short 10 calls at 70,000, long 10 puts at 50,000,
    flat 60% at 60,000, three months) under the default 99.5% 2-day filtered VaR. The whole-dollar
    IM is the same under ``CLEARQUOTE_KERNELS=numpy`` and ``=numba`` (they differ by ~1e-9 USD):

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.examples import collar
    >>> book, m = collar()
    >>> r = margin(book, m, fhs_model())
    >>> round(r.core), r.components["es"] > r.components["var"] == r.core
    (43376, True)
    >>> bool(abs(r.contributions.sum() - r.core) < 1e-6)
    True
    """
    params = ScenarioParams(
        horizon_days=horizon_days,
        lookback_years=lookback_years,
        filtered=True,
        ewma_lambda=ewma_lambda,
        include_stress=True,
        **kwargs,
    )
    return ScenarioVarModel("fhs", alpha, measure, scenario_params=params)


def mc_model(
    alpha: float = ScenarioVarModel.alpha,
    *,
    measure: str = ScenarioVarModel.measure,
    horizon_days: int = ScenarioParams.horizon_days,
    n_paths: int = McParams.n_paths,
    seed: int = McParams.seed,
    **kwargs: Any,
) -> ScenarioVarModel:
    """Monte Carlo VaR: Student-t innovations, EWMA vol, fixed seed (deterministic).

    Parameters
    ----------
    alpha : float
        Confidence in (0, 1) (0.995).
    measure : {"var", "es"}
        The core IM.
    horizon_days : int
        Margin period of risk, days (2).
    n_paths : int
        Scenarios drawn.
    seed : int
        Seed of the generator (the same seed gives the same set).
    **kwargs
        Further :class:`~pricing.scenarios.McParams` fields.

    Returns
    -------
    ScenarioVarModel
        Monte Carlo VaR on simulated scenarios.

    Notes
    -----
    docs/methodology.md §C3.

    Examples
    --------
    The same collar (short 10 calls at 70,000, long 10 puts at 50,000, flat 60% at 60,000, three
    months) under the default 99.5% 2-day Monte Carlo VaR. The draws come from numpy's seeded
    generator, so the set, and the whole-dollar IM, are the same on every run and under either
    ``CLEARQUOTE_KERNELS`` (the kernels differ by ~1e-9 USD):

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.examples import collar
    >>> book, m = collar()
    >>> r = margin(book, m, mc_model())
    >>> round(r.core), r.components["es"] > r.components["var"] == r.core
    (35816, True)
    >>> margin(book, m, mc_model()).core == r.core, margin(book, m, mc_model(seed=1)).core == r.core
    (True, False)
    """
    params = McParams(n_paths=n_paths, seed=seed, horizon_days=horizon_days, **kwargs)
    return ScenarioVarModel("mc", alpha, measure, scenario_params=params)


def model_from_scenarios(
    scenarios: ScenarioSet,
    alpha: float = ScenarioVarModel.alpha,
    *,
    measure: str = ScenarioVarModel.measure,
    rule: str = ScenarioVarModel.rule,
) -> ScenarioVarModel:
    """A VaR model on a given scenario set.

    Parameters
    ----------
    scenarios : ScenarioSet
        At least one scenario; its ``kind`` names the model.
    alpha : float
        Confidence in (0, 1) (0.995).
    measure : {"var", "es"}
        The core IM.
    rule : {"sticky_moneyness", "sticky_strike"}
        Smile dynamics.

    Returns
    -------
    ScenarioVarModel
        A VaR model on the given scenario set.

    Raises
    ------
    PricingInputError
        The set is empty.
    """
    if len(scenarios) < 1:
        raise PricingInputError("scenarios: the set is empty")
    return ScenarioVarModel(scenarios.kind, alpha, measure, rule, scenarios=scenarios)
