"""Hybrid margin: a historical-simulation VaR per combined commodity fed into SPAN's assembly.

The source article's hybrid (issue 16: "VaR fed into a SPAN-like assembly") keeps SPAN's
building blocks and replaces the one part SPAN gets from fixed moves, the scan risk, by a
full-revaluation VaR on dated scenarios:

* per combined commodity (all positions on one underlying), core risk VaR_u = the k-th worst
  loss of the commodity's positions over the joint scenario set (FHS by default, §C3-C4),
  the same scenarios for every commodity so that dates line up;
* intra-commodity spread charge from the composite deltas by expiry tier, exactly as SPAN
  (§A4): ``intra_spread_rate`` x spot x min(long tier deltas, short tier deltas);
* inter-commodity credit between BTC and ETH as SPAN's "Normal" method (§A5) with the price
  risk taken to be VaR_u (a VaR has no time/vol split) and WPR = VaR_u / |net delta|;
* short option minimum per CME's form (§A6), on the PSR of :class:`SpanParams`;
* risk_u = max(VaR_u + intra_u - credit_u, SOM_u); requirement = max(Σ_u risk_u - NOV, 0)
  with the NOV credit of premium-style options (§A7; ``nov_credit=False`` turns it off).

Unlike a venue replica, the hybrid is a CCP-style model: the EMIR Art. 28 APC floor applies
under ``apc="auto"``, option (b) from the same assembly run on the stressed scenarios.
Across commodities the hybrid adds VaRs (less SPAN's inter credit), so it is never below the
joint VaR of the same scenarios by more than the credit; that gap is SPAN's conservatism kept
on purpose, and the reported ``joint_var`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pricing._typing import FloatArray
from pricing.margin.engine import Contributions
from pricing.margin.quantile import tail_count
from pricing.margin.span import (
    RiskMeasure,
    SpanLayout,
    SpanParams,
    allocate_commodities,
    assemble_commodities,
    commodity_layout,
    spread_columns,
)
from pricing.margin.var import ScenarioVarModel, fhs_model
from pricing.market import Market
from pricing.portfolio import Portfolio
from pricing.positions import PositionState
from pricing.scenarios import ScenarioSet


@dataclass(frozen=True)
class HybridLayout:
    """The commodity columns (risk columns = every scenario, core then stressed) and the set.

    Attributes
    ----------
    span : SpanLayout
        The commodity columns (risk columns = every scenario, core then stressed).
    scenarios : ScenarioSet
        The scenario set.
    """

    span: SpanLayout
    scenarios: ScenarioSet

    @property
    def notes(self) -> tuple[str, ...]:
        return self.scenarios.notes


def kth_worst_measure(alpha: float) -> RiskMeasure:
    """The hybrid's commodity risk: the k-th worst loss of the risk columns (§C4), and the same
    as the price risk of the inter-commodity credit.

    Parameters
    ----------
    alpha : float
        Confidence in (0, 1).

    Returns
    -------
    callable
        Risk columns (batch, S) -> (VaR, VaR), USD, shape (batch,).

    Notes
    -----
    VaR = the k-th largest loss, k = max(1, ⌊S (1 - α)⌋) (docs/methodology.md §C4).
    """

    def measure(losses: FloatArray) -> tuple[FloatArray, FloatArray]:
        k = tail_count(losses.shape[1], alpha)
        var = -np.partition(-losses, k - 1, axis=1)[:, k - 1]
        return var, np.maximum(var, 0.0)

    return measure


@dataclass(frozen=True)
class HybridModel:
    """VaR per combined commodity in SPAN's assembly; see the module docstring.

    Attributes
    ----------
    var : ScenarioVarModel
        The scenario engine and confidence level (default :func:`fhs_model`: FHS, 99.5%, 2 days,
        5 years, EWMA 0.97, stressed set for the APC floor). Its ``measure`` is ignored: the
        hybrid charges VaR, as SPAN charges one scenario.
    span : SpanParams
        Spread tiers, inter-commodity credit, short option minimum and NOV credit. The scan
        parameters (VSR, extremes, look-ahead) are unused; the PSR sizes the SOM only.
    name : str
        How results name the model (``"hybrid"``).

    Examples
    --------
    Ten short 3-month BTC calls on a flat 60% surface: FHS VaR as the risk charge, SPAN's short
    option minimum beside it, the net option value (the calls' premium, owed) added to the core:

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.span import SpanParams
    >>> from pricing.margin.examples import short_call
    >>> book, m = short_call()
    >>> r = margin(book, m, HybridModel(fhs_model(), SpanParams()))
    >>> c = r.components
    >>> c["net_option_value"] < 0 < c["var"] == c["risk"], abs(r.core - (c["risk"] - c["net_option_value"])) < 1e-6
    (True, True)
    """

    var: ScenarioVarModel = field(default_factory=fhs_model)
    span: SpanParams = field(default_factory=SpanParams)
    name: str = "hybrid"
    venue_replica: ClassVar[bool] = False

    @property
    def horizon_days(self) -> float:
        return self.var.horizon_days

    def prepare(self, portfolio: Portfolio, market: Market) -> HybridLayout:
        """The commodity layout with one risk column per scenario, and the scenario set.

        Parameters
        ----------
        portfolio : Portfolio
            The positions, one row each, with signed quantities in contracts.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        HybridLayout
            The commodity columns and the scenario set.
        """
        scenarios = self.var.prepare(portfolio, market)
        return HybridLayout(commodity_layout(portfolio, self.span, len(scenarios)), scenarios)

    def contributions(self, portfolio: Portfolio, market: Market, layout: HybridLayout, state: PositionState) -> Contributions:
        """Each position's scenario losses as SPAN's risk columns, with tier deltas, NOV and short counts.

        Parameters
        ----------
        portfolio : Portfolio
            n positions.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        layout : HybridLayout
            What :meth:`prepare` returned for this portfolio and market: the commodity columns and the scenario set.
        state : PositionState
            Per-position time, forward, spot, vol and value at ``as_of``, from :func:`pricing.positions.position_state` of the
            same portfolio and market.

        Returns
        -------
        Contributions
            As :func:`pricing.margin.span.spread_columns`, USD.
        """
        pnl = self.var.contributions(portfolio, market, layout.scenarios, state).linear
        risk = {u: -pnl[portfolio.underlying == u] for u in layout.span.underlyings}
        return spread_columns(self.span, portfolio, state, layout.span, risk)

    def assemble(self, linear: FloatArray, ext: FloatArray, layout: HybridLayout, market: Market) -> dict[str, FloatArray]:
        """SPAN's assembly with the k-th worst scenario loss as each commodity's risk (core and stressed).

        Parameters
        ----------
        linear, ext : ndarray, shape (batch, columns)
            The summed linear contributions and the long/short extras, one row per portfolio of the batch.
        layout : HybridLayout
            What :meth:`prepare` returned for this portfolio and market: the commodity columns and the scenario set.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        dict of str to ndarray
            ``core``, ``stressed``, ``var`` (the commodities' VaRs before spreads), ``joint_var`` (the
            VaR of the whole portfolio), SPAN's other parts, USD, and ``scenario_pnl``.
        """
        stressed = layout.scenarios.stressed
        measure = kth_worst_measure(self.var.alpha)
        core_cols = np.flatnonzero(~stressed)
        out = assemble_commodities(self.span, linear, ext, layout.span, market, measure, core_cols)
        if stressed.any():
            out["stressed"] = assemble_commodities(
                self.span, linear, ext, layout.span, market, measure, np.flatnonzero(stressed)
            )["core"]
        joint = self._joint_pnl(linear, layout.span)
        out["var"] = out.pop("scan_risk")
        out["joint_var"] = measure(-joint[:, core_cols])[0]
        out["scenario_pnl"] = joint
        return out

    @staticmethod
    def _joint_pnl(linear: FloatArray, layout: SpanLayout) -> FloatArray:
        """The book's scenario P&L over all commodities, (batch, S)."""
        r = layout.risk_width
        return -sum((linear[:, o : o + r] for o in layout.offsets.values()), start=np.zeros((linear.shape[0], r)))

    def allocate(
        self, linear_per_position: FloatArray, ext_per_position: FloatArray, layout: HybridLayout, parts: dict[str, Any]
    ) -> FloatArray:
        """Each position's loss in its commodity's VaR scenario (Euler), the rest pro rata to it.

        Parameters
        ----------
        linear_per_position, ext_per_position : ndarray, shape (n, columns)
            The same contributions per position, quantity applied.
        layout : HybridLayout
            What :meth:`prepare` returned for this portfolio and market: the commodity columns and the scenario set.
        parts : dict of str to ndarray
            The portfolio's :meth:`assemble` output.

        Returns
        -------
        ndarray, shape (n,)
            USD, adding up to ``core``.
        """
        core_cols = np.flatnonzero(~layout.scenarios.stressed)
        k = tail_count(core_cols.size, self.var.alpha)

        def worst(losses: FloatArray) -> int:
            return int(core_cols[np.argsort(-losses[core_cols], kind="stable")[k - 1]])

        return allocate_commodities(linear_per_position, layout.span, float(parts["core"]), worst)

    def backtest(self, linear: FloatArray, layout: HybridLayout, days: int) -> tuple[int, int, int] | None:
        """The scenario VaR's backtest on the summed scenario columns (the model-risk add-on).

        Parameters
        ----------
        linear : ndarray
            The portfolio's aggregated columns.
        layout : HybridLayout
            What :meth:`prepare` returned for this portfolio and market: the commodity columns and the scenario set.
        days : int
            Days to test.

        Returns
        -------
        (int, int, int) or None
            (exceptions, days, bound), or None when the history is too short.
        """
        joint = self._joint_pnl(linear[None, :], layout.span)[0]
        return self.var.backtest(joint, layout.scenarios, days)
