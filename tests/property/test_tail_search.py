"""The pruned tail search of the marginal-VaR kernels gives what the plain search gives.

Invariant (``pricing.accel.scenario._tail_pruned`` against ``_tail``, the insertion into a
sorted buffer of the k smallest): for any P&L vector, any range [lo, hi) and any k, the same
VaR (minus the k-th smallest) and the same ES (minus the mean of the k smallest), bit for bit,
up to the sign of a zero. Hostile values included: NaN (never in the tail), +/-inf, ties
everywhere, -0.0 beside 0.0, constant vectors, ranges shorter than 2 k columns (the plain search
runs), and k larger than the range (the buffer keeps +inf).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pricing import accel

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


def _pair():  # type: ignore[no-untyped-def]
    from numba import njit

    from pricing.accel.scenario import TAIL_STRIDE, _tail, _tail_pruned

    @njit(cache=False)
    def both(x: np.ndarray, lo: int, hi: int, k: int) -> tuple[float, float, float, float]:
        buf = np.empty(k)
        mins = np.empty((hi - lo) // TAIL_STRIDE + 1)
        a, b = _tail(x, lo, hi, k, buf)
        c, d = _tail_pruned(x, lo, hi, k, buf, mins)
        return a, b, c, d

    return both


_BOTH = _pair() if accel.numba_installed() else None

_values = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 5e-324]),
    st.floats(-1e9, 1e9, allow_nan=False),
)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    n = draw(st.integers(1, 3_000))
    if draw(st.booleans()):
        x = draw(hnp.arrays(np.float64, n, elements=_values))
    else:  # realistic P&L with repeats: few distinct values make ties at the boundary likely
        levels = draw(st.integers(1, 50))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        x = np.round(rng.normal(0.0, 1e4, n), 0) if levels > 25 else rng.integers(-levels, levels + 1, n).astype(np.float64)
    lo = draw(st.integers(0, n - 1))
    hi = draw(st.integers(lo + 1, n))
    k = draw(st.integers(1, 40))
    return x, lo, hi, k


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@given(_cases())
def test_pruned_tail_equals_plain_tail(case: tuple[np.ndarray, int, int, int]) -> None:
    x, lo, hi, k = case
    assert _BOTH is not None
    var, es, var_p, es_p = _BOTH(x, lo, hi, k)
    assert _same(var, var_p) and _same(es, es_p), (var, es, var_p, es_p)


def test_the_benchmark_shape_is_pruned_and_equal() -> None:
    # 1,824 scenarios, k = 10: 57 columns >= 2 k, so the pruned route runs (not the fallback).
    assert _BOTH is not None
    rng = np.random.default_rng(7)
    for _ in range(50):
        x = rng.standard_t(3, 1_824) * 1e5
        var, es, var_p, es_p = _BOTH(x, 0, 1_824, 10)
        assert (var, es) == (var_p, es_p)
        assert var == -np.sort(x)[9] and math.isclose(es, -np.sort(x)[:10].mean(), rel_tol=1e-15)
