"""Netting positions that revalue alike (``pricing.fused.revaluation_classes``) changes no number.

Two routes to the same figures, on the bundled BTC chain, surface and scenario history:

* marginal VaR/ES of candidates: the unit-row tail kernel (one revaluation per class of
  instruments, ``marginal_tail_rows``) against the leg-by-leg tail kernel (``marginal_tail``,
  every leg revalued inside it). Same rows, same sums in the same order: **bitwise equal**.
* the portfolio's scenario P&L: classes netted first (sum of weights x one unit P&L) against one
  revaluation per position. The same terms summed in another order, so equal up to rounding:
  the bound is 1e-13 of the sum of |terms| per scenario (each reordered addition errs by at most
  half an ulp, 1.1e-16 relative, of a partial sum no larger than that; 1,000 additions give
  < 1.2e-13 in the worst case; the measured difference is ~1e-16).

Hypothesis draws how many instruments, how often each repeats, and the quantities (with signs,
and lines that net to zero).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import accel, fused
from pricing.chain import load_bundled_chain
from pricing.margin.var import hvar_model
from pricing.market import Market
from pricing.portfolio import Portfolio, from_contracts
from pricing.positions import position_state
from pricing.scenarios import ScenarioParams, historical_scenarios
from pricing.surface import build_surface

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")

_CHAIN = load_bundled_chain("BTC", "2026-08-21")
_MARKET = Market(_CHAIN.as_of, {"BTC": build_surface(_CHAIN)}, {"BTC": _CHAIN})
_LIVE = [c for c in _CHAIN.contracts() if (c.expiry - _CHAIN.as_of).total_seconds() > 3 * 86400]
_SCEN = historical_scenarios(["BTC"], ScenarioParams())
_MODEL = hvar_model()


def _view(p: Portfolio) -> fused.FusedScenarios:
    unit = p.with_quantity(np.ones(len(p)))
    view = fused.FusedScenarios.build(
        unit,
        _MARKET,
        position_state(unit, _MARKET),
        _SCEN.underlyings,
        _SCEN.returns,
        _SCEN.vol_changes,
        _SCEN.stressed,
        _SCEN.horizon_days,
        _MODEL.rule,
        _MODEL.vol_weights(position_state(unit, _MARKET)),
    )
    assert view is not None
    return view


@st.composite
def _lines(draw: st.DrawFn, max_instruments: int, max_repeat: int) -> tuple[Portfolio, np.ndarray]:
    n = draw(st.integers(1, max_instruments))
    picks = draw(st.lists(st.integers(0, len(_LIVE) - 1), min_size=n, max_size=n))
    repeats = draw(st.lists(st.integers(1, max_repeat), min_size=n, max_size=n))
    idx = np.repeat(np.array(picks), repeats)
    order = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(idx.size)
    idx = idx[order]
    qty = np.array(draw(st.lists(st.integers(-25, 25), min_size=idx.size, max_size=idx.size)), dtype=np.float64)
    return from_contracts([_LIVE[i] for i in idx], np.where(qty == 0, 1.0, qty)), qty


@settings(max_examples=25)
@given(_lines(max_instruments=12, max_repeat=5), st.sampled_from([1, 2, 3]))
def test_unit_row_tails_equal_leg_by_leg_tails(lines: tuple[Portfolio, np.ndarray], legs_per_trade: int) -> None:
    book = from_contracts(_LIVE[:40:3], np.arange(1.0, 15.0)[: len(_LIVE[:40:3])])
    base = _view(book).pnl_sum(book.quantity)
    cands, qty = lines
    view = _view(cands)
    n = len(cands)
    starts = np.unique(np.r_[np.arange(0, n, legs_per_trade), n]).astype(np.int64)
    k_core = 10
    calls: list[int] = []
    real = fused.fused_pnl_matrix

    def counted(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    fused.fused_pnl_matrix = counted  # type: ignore[assignment]
    try:
        with_classes = view.tails(qty, starts, base, k_core, 1)
    finally:
        fused.fused_pnl_matrix = real
    # The unit-row route is taken exactly when it saves a quarter of the revaluations.
    assert bool(calls) == (n > 1 and 4 * view.classes[0].size <= 3 * n)
    limit = fused.UNIT_ROWS_MAX_BYTES
    try:
        fused.UNIT_ROWS_MAX_BYTES = 0  # forces the leg-by-leg kernel
        leg_by_leg = view.tails(qty, starts, base, k_core, 1)
    finally:
        fused.UNIT_ROWS_MAX_BYTES = limit
    np.testing.assert_array_equal(with_classes, leg_by_leg)


@settings(max_examples=25)
@given(_lines(max_instruments=40, max_repeat=6))
def test_netted_portfolio_pnl_equals_position_by_position(lines: tuple[Portfolio, np.ndarray]) -> None:
    book, qty = lines
    view = _view(book)
    netted = view.pnl_sum(qty)
    weight = qty * view.plan.units
    each = np.empty(view.order.size)
    each[view.order] = fused.fused_pnl_sum(view.plan, view.grid, weight, view.rule)
    # The bound of the module docstring: 1e-13 of the sum of |terms| per scenario.
    unit = fused.fused_pnl_matrix(view.plan, view.grid, view.rule, coin=False).usd
    scale = np.empty(view.order.size)
    scale[view.order] = np.abs(weight[:, None] * unit).sum(axis=0)
    assert np.all(np.abs(netted - each) <= 1e-13 * scale + 1e-300)


def test_classes_are_instruments_and_scenario_rows() -> None:
    book = from_contracts([_LIVE[3], _LIVE[7], _LIVE[3], _LIVE[3], _LIVE[7], _LIVE[11]], [1.0, -2.0, 3.0, -4.0, 5.0, 6.0])
    view = _view(book)
    first, inverse = fused.revaluation_classes(view.plan, view.grid.row)
    assert first.size == 3
    assert inverse[0] == inverse[2] == inverse[3] and inverse[1] == inverse[4] and len({inverse[0], inverse[1], inverse[5]}) == 3
