"""Binomial-tree properties: American >= European, convergence to Black, bad inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.binomial import binomial_price, binomial_reasons
from pricing.black import black76_price
from pricing.errors import PricingInputError, Reason


@settings(max_examples=40, deadline=None)
@given(
    st.floats(70, 130),
    st.floats(0.05, 2.0),
    st.floats(0.1, 1.2),
    st.floats(0.0, 0.1),
    st.floats(-0.05, 0.1),
    st.sampled_from([1, -1]),
)
def test_american_at_least_european_and_intrinsic(k: float, t: float, v: float, r: float, b: float, cp: int) -> None:
    am = binomial_price(cp, 100.0, k, t, v, r, carry=b, steps=101)
    eu = binomial_price(cp, 100.0, k, t, v, r, carry=b, steps=101, style="european")
    assert am >= eu - 1e-12
    assert am >= max(cp * (100.0 - k), 0.0) - 1e-12


def test_european_lr_converges_to_black() -> None:
    """Leisen-Reimer converges at O(1/n^2): 401 steps are within 5e-5 of Black on S = 100."""
    rng = np.random.default_rng(5)
    n = 200
    k = rng.uniform(70, 130, n)
    t = rng.uniform(0.05, 2, n)
    v = rng.uniform(0.1, 1.0, n)
    r = rng.uniform(0, 0.08, n)
    cp = rng.choice([-1, 1], n)
    tree = binomial_price(cp, 100.0, k, t, v, r, steps=401, method="lr", style="european")
    black = black76_price(cp, 100.0 * np.exp(r * t), k, t, v, rate=r)
    assert np.max(np.abs(tree - black)) <= 5e-5


def test_european_crr_converges_to_black() -> None:
    """CRR's error is O(1/n) with an oscillating constant; averaging n and n + 1 steps cancels
    the odd-even oscillation, and at 2,000/2,001 steps the average is within 2e-3 of Black
    on S = 100 (the O(1/n) term, ~ S vol sqrt(T) / n)."""
    rng = np.random.default_rng(9)
    n = 50
    k = rng.uniform(70, 130, n)
    t = rng.uniform(0.1, 2, n)
    v = rng.uniform(0.1, 1.0, n)
    cp = rng.choice([-1, 1], n)
    avg = 0.5 * (
        binomial_price(cp, 100.0, k, t, v, 0.03, steps=2000, style="european")
        + binomial_price(cp, 100.0, k, t, v, 0.03, steps=2001, style="european")
    )
    black = black76_price(cp, 100.0 * np.exp(0.03 * t), k, t, v, rate=0.03)
    assert np.max(np.abs(avg - black)) <= 2e-3


def test_american_call_without_dividends_equals_european() -> None:
    """Merton (1973): with carry = rate >= 0 early exercise of a call is never optimal."""
    am = binomial_price("c", 100, [80, 100, 120], 1.0, 0.5, 0.05, steps=200)
    eu = binomial_price("c", 100, [80, 100, 120], 1.0, 0.5, 0.05, steps=200, style="european")
    np.testing.assert_allclose(am, eu, rtol=1e-13)


def test_edges_and_reasons() -> None:
    prices = binomial_price(["p", "p", "p", "p"], 100, [110, 110, -1, 110], [0.0, 1.0, 1.0, -1.0], [0.3, 0.0, 0.3, 0.3], 0.05)
    assert prices[0] == pytest.approx(10.0)
    assert prices[1] == pytest.approx(10.0)  # zero vol: exercise now beats waiting when r > 0
    assert np.isnan(prices[2:]).all()
    codes = binomial_reasons(["p", "p"], 100, [-1, 110], [1.0, -1.0], 0.3, 0.05)
    assert list(codes) == [Reason.NONPOSITIVE_STRIKE, Reason.EXPIRED]
    # 2 steps over 10 years with 1% vol and 10% carry: CRR probability exceeds 1.
    assert binomial_reasons("c", 100, 100, 10.0, 0.01, 0.1, steps=2) == Reason.BAD_TREE
    assert np.isnan(binomial_price("c", 100, 100, 10.0, 0.01, 0.1, steps=2))
    with pytest.raises(PricingInputError, match="steps"):
        binomial_price("c", 100, 100, 1.0, 0.3, 0.0, steps=0)
    with pytest.raises(PricingInputError, match="'american'"):
        binomial_price("c", 100, 100, 1.0, 0.3, 0.0, style="bermudan")
