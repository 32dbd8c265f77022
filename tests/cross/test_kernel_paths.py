"""The numba kernels and the numpy path give the same numbers (issue 7).

Tolerances: the fast normal CDF is within 2e-15 absolute of ``scipy.special.ndtr`` and the fast
exp/log within 2 ulp (``test_mathfn``), so a price F N(d1) - K N(d2) may differ by a few
1e-15 x (F + K): we allow 1e-13 x (F + K). Greeks are compared at 1e-12 of their scale.
Implied vols converge to 1e-13 relative in s on both paths (the solver's own stop), so 1e-11
absolute. Trees: the kernel moves node spots by multiplication (n roundings) where numpy
takes exp(m ln u): 1e-12 relative. Margin: sums of ~2,000 scenario P&Ls of up to 1e6 USD,
each agreeing to ~1e-9 USD: 1e-6 USD absolute on IMs of ~1e6 (1e-12 relative).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import accel
from pricing.binomial import binomial_price
from pricing.black import black76_greeks, black76_price
from pricing.implied_vol import implied_vol

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


def _both(fn, *args, **kwargs):
    with accel.using("numpy"):
        a = fn(*args, **kwargs)
    with accel.using("numba"):
        b = fn(*args, **kwargs)
    return a, b


def _random_options(seed: int, n: int = 20_000) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    f = rng.uniform(1_000, 150_000, n)
    k = f * np.exp(rng.uniform(-1.5, 1.5, n))
    t = rng.uniform(0.0, 3.0, n)
    v = rng.uniform(0.0, 2.5, n)
    r = rng.uniform(-0.02, 0.08, n)
    cp = rng.choice([-1.0, 1.0], n)
    # Edge cases mixed in: expiry, zero vol, invalid inputs, NaN.
    t[:50] = 0.0
    v[50:100] = 0.0
    f[100:110] = -1.0
    k[110:120] = 0.0
    v[120:130] = np.nan
    t[130:140] = -0.1
    return cp, f, k, t, v, r


@pytest.mark.parametrize("settle", ["linear", "inverse"])
def test_black76_price_paths_agree(settle: str) -> None:
    cp, f, k, t, v, r = _random_options(1)
    a, b = _both(black76_price, cp, f, k, t, v, rate=r, settle=settle)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    scale = (f + k) if settle == "linear" else (f + k) / f
    ok = ~np.isnan(a)
    assert np.all(np.abs(a - b)[ok] <= 1e-13 * scale[ok])


@pytest.mark.parametrize("settle", ["linear", "inverse"])
def test_black76_greeks_paths_agree(settle: str) -> None:
    cp, f, k, t, v, r = _random_options(2)
    a, b = _both(black76_greeks, cp, f, k, t, v, rate=r, settle=settle)
    for name in a.FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        ok = ~np.isnan(x)
        scale = np.abs(x[ok]).max()
        assert np.abs(x - y)[ok].max() <= 1e-12 * scale, name


@settings(max_examples=60, deadline=None)
@given(
    f=st.floats(100.0, 2e5),
    m=st.floats(-2.0, 2.0),
    t=st.floats(1e-4, 5.0),
    v=st.floats(0.01, 3.0),
    r=st.floats(-0.05, 0.1),
    call=st.booleans(),
)
def test_black76_price_paths_agree_hypothesis(f: float, m: float, t: float, v: float, r: float, call: bool) -> None:
    k = f * np.exp(m)
    a, b = _both(black76_price, 1.0 if call else -1.0, f, k, t, v, rate=r)
    assert abs(float(a) - float(b)) <= 1e-13 * (f + k)


def test_implied_vol_paths_agree() -> None:
    cp, f, k, t, v, r = _random_options(3)
    with accel.using("numpy"):
        price = black76_price(cp, f, k, t, v, rate=r)
    a, b = _both(implied_vol, price, cp, f, k, t, rate=r)
    assert np.array_equal(a.reason, b.reason)
    assert np.array_equal(np.isnan(a.vol), np.isnan(b.vol))
    ok = ~np.isnan(a.vol)
    assert np.abs(a.vol - b.vol)[ok].max() <= 1e-11


@pytest.mark.parametrize("method", ["crr", "lr"])
@pytest.mark.parametrize("style", ["american", "european"])
def test_binomial_paths_agree(method: str, style: str) -> None:
    rng = np.random.default_rng(4)
    n = 300
    cp = rng.choice([-1.0, 1.0], n)
    s = rng.uniform(50, 150, n)
    k = rng.uniform(50, 150, n)
    t = rng.uniform(0.0, 2.0, n)
    v = rng.uniform(0.0, 1.5, n)
    r = rng.uniform(0.0, 0.1, n)
    a, b = _both(binomial_price, cp, s, k, t, v, r, carry=r * 0.5, steps=101, style=style, method=method)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    assert np.all(np.abs(a - b)[ok] <= 1e-12 * np.maximum(np.abs(a[ok]), 1.0))


def test_unknown_kernel_choice_is_named() -> None:
    with pytest.raises(accel.KernelSettingError, match=r"CLEARQUOTE_KERNELS.*auto, numba, numpy"), accel.using("gpu"):
        pass
