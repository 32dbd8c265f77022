"""Implied-vol round trips and per-element failure reasons."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.black import black76_greeks, black76_price
from pricing.errors import Reason
from pricing.implied_vol import implied_vol

EPS = np.finfo(float).eps


@settings(max_examples=300)
@given(
    st.floats(10.0, 200_000.0),
    st.floats(-2.0, 2.0),
    st.floats(1.0 / (365 * 24), 3.0),
    st.floats(0.01, 3.0),
    st.floats(0.0, 0.1),
    st.sampled_from([1, -1]),
    st.sampled_from(["linear", "inverse"]),
)
def test_round_trip(f: float, x: float, t: float, v: float, r: float, cp: int, settle: str) -> None:
    """|vol - vol_true| <= 1e-10 wherever the time value is >= 1e-8 F.

    An in-the-money input carries the rounding of its own price (eps x price, dominated by
    intrinsic), which no solver can undo: that bound, eps x price / vega, is added."""
    k = f * np.exp(x)
    price = float(black76_price(cp, f, k, t, v, rate=r, settle=settle))
    g = black76_greeks(cp, f, k, t, v, rate=r, settle=settle)
    usd_price = price * (f if settle == "inverse" else 1.0)
    time_value = usd_price * np.exp(r * t) - max(cp * (f - k), 0.0)
    if time_value < 1e-8 * f:
        return
    res = implied_vol(price, cp, f, k, t, rate=r, settle=settle)
    assert res.reason == Reason.OK
    vega = float(g.vega)
    assert abs(res.vol - v) <= 1e-10 + 8 * EPS * abs(price) / vega


def test_random_grid_is_accurate_and_vectorised() -> None:
    rng = np.random.default_rng(7)
    n = 50_000
    f = rng.uniform(1_000, 100_000, n)
    k = f * np.exp(rng.uniform(-1.0, 1.0, n))
    t = rng.uniform(1 / 365, 2.0, n)
    v = rng.uniform(0.1, 2.0, n)
    cp = np.where(k > f, 1.0, -1.0)  # OTM quotes, as a chain is quoted
    price = black76_price(cp, f, k, t, v)
    res = implied_vol(
        price.reshape(100, 500), cp.reshape(100, 500), f.reshape(100, 500), k.reshape(100, 500), t.reshape(100, 500)
    )
    assert res.vol.shape == (100, 500)
    ok = price >= 1e-8 * f
    assert np.max(np.abs(res.vol.ravel() - v)[ok]) <= 1e-10


def test_failure_reasons_are_per_element() -> None:
    f, k, t = 100.0, 100.0, 1.0
    prices = [10.0, -1.0, 100.5, 5.0, np.nan, 5.0]
    cps = [1, 1, 1, 1, 1, 1]
    strikes = [k, k, k, 50.0, k, k]
    times = [t, t, t, t, t, -1.0]
    res = implied_vol(prices, cps, f, strikes, times)
    assert np.isfinite(res.vol[0])
    assert list(res.reason) == [
        Reason.OK,
        Reason.NONPOSITIVE_PRICE,
        Reason.ABOVE_MAXIMUM,
        Reason.BELOW_INTRINSIC,
        Reason.NAN_INPUT,
        Reason.EXPIRED,
    ]
    assert np.isnan(res.vol[1:]).all()


def test_price_at_intrinsic_has_no_implied_vol() -> None:
    """Within float resolution of intrinsic, every small vol gives the price: no number is shown
    (the adversarial review saw 0.0 returned for a time value below resolution)."""
    res = implied_vol(black76_price("c", 120.0, 100.0, 1.0, 0.0), "c", 120.0, 100.0, 1.0)
    assert res.reason == Reason.UNDETERMINED and np.isnan(res.vol)
    res = implied_vol(50_000.0 + 1e-12, "c", 60_000.0, 10_000.0, 0.01)
    assert res.reason == Reason.UNDETERMINED and np.isnan(res.vol)


def test_deep_tail_and_high_vol_are_solved() -> None:
    cases = [(100.0, 400.0, 0.05, 0.8), (100.0, 20.0, 0.1, 1.2), (100.0, 100.0, 2.0, 2.5), (100.0, 101.0, 1 / 8760, 0.3)]
    for f, k, t, v in cases:
        cp = 1 if k >= f else -1
        res = implied_vol(black76_price(cp, f, k, t, v), cp, f, k, t)
        assert res.vol == pytest.approx(v, abs=1e-10), (f, k, t, v)
