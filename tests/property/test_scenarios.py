"""Properties of the historical, filtered and Monte Carlo scenario sets: counts, order, joint dates,
rescaling, determinism.
"""

from __future__ import annotations

import numpy as np

from pricing.scenarios import McParams, ScenarioParams, historical_scenarios, monte_carlo_scenarios
from tests.histories import PRICES, hand_made


def test_overlapping_returns_count_and_order() -> None:
    hist = hand_made()
    # Look-back of 11 days from the last date: prices S_0..S_11 (n = 11), h = 2 -> N = n - h + 1 = 10.
    params = ScenarioParams(horizon_days=2, lookback_years=11 / 365)
    s = historical_scenarios(["BTC"], params, histories=hist, dvols={"BTC": None})
    assert len(s) == 10
    expected = np.log(np.array(PRICES[2:]) / np.array(PRICES[:-2]))
    np.testing.assert_allclose(s.returns[0], expected, rtol=0, atol=1e-15)
    assert np.all(np.diff(s.end_dates.astype(np.int64)) == 1)
    assert s.end_dates[-1] == hist["BTC"].dates[-1]
    assert s.vol_fallback.all()  # no DVOL given: realised-vol fallback everywhere, and said so
    assert any("realised vol" in note for note in s.notes)


def test_five_year_window_gives_1824_scenarios() -> None:
    s = historical_scenarios(["BTC"], ScenarioParams())
    assert len(s) == 1824  # 1,826 daily closes -> n = 1,825 -> N = n - 2 + 1 (docs/methodology.md §C3.2)


def test_joint_scenarios_share_dates() -> None:
    joint = historical_scenarios(["BTC", "ETH"], ScenarioParams())
    btc = historical_scenarios(["BTC"], ScenarioParams(as_of=joint.end_dates[-1].astype(object)))
    np.testing.assert_array_equal(joint.end_dates, btc.end_dates)
    np.testing.assert_allclose(joint.returns[0], btc.returns[0], atol=0)
    corr = np.corrcoef(joint.returns)[0, 1]
    assert 0.6 < corr < 0.95  # BTC/ETH two-day returns are strongly, not perfectly, correlated


def test_filtered_scenarios_rescale_to_current_vol() -> None:
    plain = historical_scenarios(["BTC"], ScenarioParams())
    fhs = historical_scenarios(["BTC"], ScenarioParams(filtered=True))
    ratio = fhs.returns[0] / plain.returns[0]
    assert np.all(ratio[np.isfinite(ratio)] > 0)  # rescaling keeps each scenario's sign
    assert not np.allclose(ratio[np.isfinite(ratio)], 1.0)


def test_monte_carlo_is_deterministic() -> None:
    a = monte_carlo_scenarios(["BTC", "ETH"], McParams(n_paths=2000, seed=7))
    b = monte_carlo_scenarios(["BTC", "ETH"], McParams(n_paths=2000, seed=7))
    c = monte_carlo_scenarios(["BTC", "ETH"], McParams(n_paths=2000, seed=8))
    np.testing.assert_array_equal(a.returns, b.returns)
    assert not np.array_equal(a.returns, c.returns)
