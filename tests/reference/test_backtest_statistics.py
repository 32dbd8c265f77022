"""Backtest statistics against their defining formulas and the Basel table.

- Basel traffic light: BCBS (1996), "Supervisory framework for the use of backtesting ...",
  Table 2, 250 observations at 99%: green 0-4, yellow 5-9, red 10 or more.
- Kupiec (1995) and Christoffersen (1998): the likelihood ratios computed by hand from their
  definitions (the test restates the formula independently of the code's log-likelihood helper).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pricing.errors import PricingInputError
from pricing.margin.backtest import christoffersen_independence, kupiec_pof, traffic_light


def test_basel_traffic_light_zones_at_250_days_and_99_percent() -> None:
    zones = [traffic_light(x, 250, 0.99) for x in range(0, 13)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 3


@pytest.mark.parametrize(("x", "n", "alpha"), [(2, 250, 0.99), (10, 250, 0.99), (0, 500, 0.995), (7, 1249, 0.995)])
def test_kupiec_matches_its_definition(x: int, n: int, alpha: float) -> None:
    p = 1 - alpha
    log_null = (n - x) * math.log(1 - p) + (x * math.log(p) if x else 0.0)
    phat = x / n
    log_alt = ((n - x) * math.log(1 - phat) if x < n else 0.0) + (x * math.log(phat) if x else 0.0)
    lr = -2 * (log_null - log_alt)
    got, pval = kupiec_pof(x, n, alpha)
    assert got == pytest.approx(lr, rel=1e-12, abs=1e-12)
    assert pval == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-12)


def test_christoffersen_independence_by_hand() -> None:
    e = np.array([0, 1, 1, 0, 0, 0, 0, 1, 1, 0], dtype=bool)
    # transitions: 00: 3 (3-4, 4-5, 5-6), 01: 2, 10: 2, 11: 2
    n00, n01, n10, n11 = 3, 2, 2, 2
    pi, pi0, pi1 = 4 / 9, 2 / 5, 2 / 4
    null = (n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
    alt = n00 * math.log(1 - pi0) + n01 * math.log(pi0) + n10 * math.log(1 - pi1) + n11 * math.log(pi1)
    lr, _ = christoffersen_independence(e)
    assert lr == pytest.approx(-2 * (null - alt), rel=1e-12)


def test_clustered_exceptions_fail_independence_and_scattered_do_not() -> None:
    clustered = np.zeros(500, bool)
    clustered[100:106] = True
    scattered = np.zeros(500, bool)
    scattered[[50, 150, 250, 350, 450, 499]] = True
    assert christoffersen_independence(clustered)[1] < 0.01
    assert christoffersen_independence(scattered)[1] > 0.5


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(PricingInputError, match="not a count"):
        kupiec_pof(5, 3, 0.99)


def test_summary_fails_when_independence_or_coverage_is_rejected() -> None:
    """The verdict is "fail" when Christoffersen (1998) rejects independence at 5% even if the
    count is in the green zone, or Kupiec (1995) rejects coverage; "pass" otherwise."""
    from pricing.margin.backtest import _result

    n = 1000
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n)
    im = np.ones(n)
    clustered = np.zeros(n)
    clustered[[100, 101, 102, 103, 500]] = -2.0  # 5 exceptions (10 expected at 99%): green, but in a run
    res = _result("m", 0.99, 2, dates, im, clustered, False)
    assert res.traffic_light == "green" and res.christoffersen_ind_p < 0.05
    assert res.summary()["verdict"].startswith("fail: independence")
    spread_out = np.zeros(n)
    spread_out[::100] = -2.0  # 10 exceptions, evenly spaced
    assert _result("m", 0.99, 2, dates, im, spread_out, False).summary()["verdict"] == "pass"
    many = np.zeros(n)
    many[::25] = -2.0  # 40 exceptions: coverage rejected, red
    verdict = _result("m", 0.99, 2, dates, im, many, False).summary()["verdict"]
    assert verdict.startswith("fail: coverage") and "too many" in verdict and "traffic light red" in verdict
    # Overlapping dates: the independence test is not valid there, so it does not decide.
    assert "independence" not in _result("m", 0.99, 2, dates, im, clustered, True).summary()["verdict"]
