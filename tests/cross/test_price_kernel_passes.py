"""The price kernel's passes give the one-pass formula's numbers, bit for bit.

Issue 33 (docs/speed.md, "Part four"): :func:`pricing.accel.black76.price_kernel` computes d1 in
one pass, the price with the near piece of the normal CDF alone in a second, and recomputes the
options that pass flags (an argument of a CDF at or beyond ``Z_SPLIT``, or NaN) by the full
formula :func:`pricing.accel.black76._price_one`, gathered into one vectorised loop; a sub-block
of 512 whose options are mostly far takes the full formula for all of them instead. The oracle is that formula run on every option
in one plain loop (a second route to the same numbers, compiled here), so the guarantee is exact
equality (NaN where NaN) for any mix of near, far and edge-case options, any size (sub-block and
block boundaries included), discounted or not, linear or inverse. A kernel that skipped the
recomputation, or flagged too few options, gives near-piece values for |d| >= 5 and fails.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import accel

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


@pytest.fixture(scope="module")
def one_pass():
    from numba import njit

    from pricing.accel.black76 import _price_one
    from pricing.accel.jit import FASTMATH

    @njit(nogil=True, error_model="numpy", fastmath=FASTMATH)
    def run(w, f, k, t, v, r, discounted, inverse, out):
        for i in range(f.size):
            p = _price_one(w[i], f[i], k[i], t[i], v[i], r[i], discounted)
            out[i] = p / f[i] if inverse else p

    return run


def _kernel(w, f, k, t, v, r, discounted, inverse):
    from pricing.accel.black76 import price_kernel

    out = np.empty_like(f)
    price_kernel(w, f, k, t, v, r, discounted, inverse, out)
    return out


def _options(seed: int, n: int, far_share: float, edge_share: float) -> tuple[np.ndarray, ...]:
    """Random options: log-moneyness up to +-3 and total vol down to 1e-3, so |d| runs far past
    Z_SPLIT = 5 for a share of them; edge cases (expiry, zero vol, invalid, NaN, inf) mixed in."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(100.0, 150_000.0, n)
    wide = rng.random(n) < far_share
    m = np.where(wide, rng.uniform(-3.0, 3.0, n), rng.uniform(-0.5, 0.5, n))
    k = f * np.exp(m)
    t = np.where(wide, rng.uniform(1e-4, 0.05, n), rng.uniform(1e-3, 3.0, n))
    v = rng.uniform(0.01, 2.5, n)
    r = rng.uniform(-0.02, 0.08, n)
    w = rng.choice([-1.0, 1.0], n)
    edge = np.nonzero(rng.random(n) < edge_share)[0]
    kinds = rng.integers(0, 9, edge.size)
    for i, kind in zip(edge, kinds):
        if kind == 0:
            t[i] = 0.0
        elif kind == 1:
            v[i] = 0.0
        elif kind == 2:
            f[i] = -1.0
        elif kind == 3:
            k[i] = 0.0
        elif kind == 4:
            v[i] = math.nan
        elif kind == 5:
            t[i] = -0.1
        elif kind == 6:
            v[i] = math.inf
        elif kind == 7:
            k[i] = f[i]  # at the money: d1 = s / 2
        else:
            r[i] = math.nan
    return w, f, k, t, v, r


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.one_of(st.integers(1, 40), st.sampled_from([511, 512, 513, 4095, 4096, 4097, 9000, 20_000])),
    far_share=st.sampled_from([0.0, 0.01, 0.3, 1.0]),
    edge_share=st.sampled_from([0.0, 0.02, 0.5]),
    discounted=st.booleans(),
    inverse=st.booleans(),
)
def test_passes_equal_the_one_pass_formula(one_pass, seed, n, far_share, edge_share, discounted, inverse) -> None:
    w, f, k, t, v, r = _options(seed, n, far_share, edge_share)
    if not discounted:
        r = np.zeros(n)
    expected = np.empty(n)
    one_pass(w, f, k, t, v, r, discounted, inverse, expected)
    got = _kernel(w, f, k, t, v, r, discounted, inverse)
    assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("discounted", [False, True])
def test_far_options_are_recomputed_on_every_route(one_pass, discounted) -> None:
    """Options far out (|d| >> 5), where the near pass alone would be wrong by far more than the
    tolerances: sub-blocks of 512 mostly far (the full-formula route), then mostly near with a
    few far (the gathered recomputation), alternating within one block; the kernel's numbers are
    still the formula's."""
    parts = [_options(7 + i, 512, 1.0 if i % 2 == 0 else 0.02, 0.0) for i in range(12)]
    w, f, k, t, v, r = (np.concatenate([p[j] for p in parts]) for j in range(6))
    if not discounted:
        r = np.zeros_like(r)
    s = v * np.sqrt(t)
    d1 = np.log(f / k) / s + 0.5 * s
    far = np.maximum(np.abs(d1), np.abs(d1 - s)) >= 5.0
    assert far[:512].mean() > 0.5 and 0 < far[512:1024].sum() < 256  # the routes this test is about
    expected = np.empty(f.size)
    one_pass(w, f, k, t, v, r, discounted, False, expected)
    assert np.array_equal(_kernel(w, f, k, t, v, r, discounted, False), expected, equal_nan=True)
