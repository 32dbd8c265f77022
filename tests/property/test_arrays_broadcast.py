"""``as_float_arrays`` (the broadcast at every pricing boundary) equals numpy's broadcast.

Invariant: for any arguments that broadcast together, the shape is ``np.broadcast_shapes`` of
theirs and each flat array holds exactly ``np.broadcast_to(a, shape).ravel()`` as float64,
C-contiguous; arguments that do not broadcast raise numpy's ValueError as before. The function
skips ``broadcast_to`` for arguments already of the result's shape and fills scalars (issue 33,
the per-row path); this pins that those shortcuts give the same arrays as the general route.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pricing.arrays import as_float_arrays

_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(2**40), 2**40).map(float),
)


@st.composite
def _broadcastable(draw: st.DrawFn) -> list[object]:
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=draw(st.integers(1, 6)), min_dims=0, max_dims=3, max_side=4))
    out: list[object] = []
    for shape in shapes.input_shapes:
        kind = draw(st.sampled_from(["f8", "i8", "f4", "scalar", "list"]))
        if kind == "scalar" or shape == ():
            out.append(draw(_values) if draw(st.booleans()) else np.float64(draw(_values)))
            continue
        arr = draw(hnp.arrays(np.float64, shape, elements=_values))
        if kind == "i8":
            arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=-1.0).clip(-1e12, 1e12).astype(np.int64)
        elif kind == "f4":
            with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf, as a user's would
                arr = arr.astype(np.float32)
        if draw(st.booleans()) and arr.ndim >= 1:
            arr = np.asfortranarray(arr) if arr.ndim > 1 else arr[::-1]  # non-C-contiguous inputs too
        out.append(arr.tolist() if kind == "list" else arr)
    return out


@given(_broadcastable())
def test_matches_numpy_broadcast(args: list[object]) -> None:
    arrays = [np.asarray(a, dtype=np.float64) for a in args]
    want_shape = np.broadcast_shapes(*(a.shape for a in arrays))
    shape, flat = as_float_arrays(*args)
    assert shape == want_shape
    assert len(flat) == len(args)
    for got, a in zip(flat, arrays):
        want = np.broadcast_to(a, want_shape).reshape(-1)
        assert got.dtype == np.float64 and got.ndim == 1 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want, strict=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays -0.0


def test_no_copy_when_no_broadcast_is_needed() -> None:
    a, b = np.arange(6.0), np.ones(6)
    _, (fa, fb) = as_float_arrays(a, b)
    assert np.shares_memory(fa, a) and np.shares_memory(fb, b)


def test_shapes_that_do_not_broadcast_still_raise() -> None:
    with pytest.raises(ValueError):
        as_float_arrays(np.zeros(3), np.zeros(4))
