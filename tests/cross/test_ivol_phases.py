"""The implied-vol kernel's two phases against the numpy solver and against the true vol.

Issue 33: the kernel now solves each block in a vectorised phase (branch-free exp, log and a
Mills-ratio normal CDF, a fixed number of Halley steps for every element) and finishes the
rest one element at a time with libm (``pricing/accel/ivol.py``). Oracles: the numpy solver
(``scipy.special.ndtr``, an independent route to the same root) and the vol the price was
made from (a round trip).

Tolerances: both solvers stop at a relative step of 1e-7 after a Halley step (error then
~1e-21) or a bracket of 1e-13 relative; ``tests/cross/test_kernel_paths.py`` already holds
them to 1e-11 apart on 20,000 random options. Here the domain is wider (log-moneyness to
+-6, total vol 0.002-5), so a batch mixes elements that finish in the vectorised phase with
elements the scalar phase finishes; where the time value is below 1e-8 of the forward the
round trip is not asked for, and the bound adds eps x price / vega, the price's own rounding
(both as in ``tests/property/test_implied_vol.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import accel
from pricing.black import black76_greeks, black76_price
from pricing.implied_vol import implied_vol

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3_000))
def test_kernel_agrees_with_numpy_and_round_trips(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    f = rng.uniform(100.0, 150_000.0, n)
    x = rng.uniform(-6.0, 6.0, n)
    k = f * np.exp(x)
    t = rng.uniform(1 / 365, 5.0, n)
    v = np.exp(rng.uniform(np.log(0.002), np.log(5.0), n)) / np.sqrt(t)
    cp = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    r = rng.uniform(-0.02, 0.1, n)
    with accel.using("numpy"):
        price = black76_price(cp, f, k, t, v, rate=r)
        ref = implied_vol(price, cp, f, k, t, rate=r)
        vega = black76_greeks(cp, f, k, t, v, rate=r).vega
    with accel.using("numba"):
        got = implied_vol(price, cp, f, k, t, rate=r)
    assert np.array_equal(got.reason, ref.reason)
    assert np.array_equal(np.isnan(got.vol), np.isnan(ref.vol))
    ok = ~np.isnan(ref.vol)
    assert np.all(np.abs(got.vol - ref.vol)[ok] <= 1e-11)
    time_value = price * np.exp(r * t) - np.maximum(cp * (f - k), 0.0)
    solid = ok & (time_value >= 1e-8 * f)
    # The price carries its own rounding (eps x price), which no solver can undo: eps x price / vega.
    with np.errstate(all="ignore"):  # vega underflows to 0 far out: an infinite bound there
        bound = 1e-10 + 8 * np.finfo(float).eps * np.abs(price) / vega
    assert np.all((np.abs(got.vol - v) <= bound)[solid])


def test_a_price_near_underflow_skips_the_vectorised_phase_and_is_solved() -> None:
    """ln beta = -711.6 (time value 3e-301 of a strike e^30 forwards away): the branch-free exp
    flushes below e^-708, so this element is solved by libm alone, to the vol it came from."""
    f, k, t, v = 100.0, 100.0 * np.exp(30.0), 1.0, 0.8
    price = black76_price(1, f, k, t, v)
    assert np.log(price) - 0.5 * np.log(f * k) < -700.0
    with accel.using("numba"):
        res = implied_vol(np.array([price, 5.0]), 1, f, np.array([k, 100.0]), t)
    assert res.vol[0] == pytest.approx(v, abs=1e-10)
    assert np.isfinite(res.vol[1])
