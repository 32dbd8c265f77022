"""Broadcasting helpers: inputs are broadcast once, at the boundary, and the shape is kept."""

from __future__ import annotations

from typing import Any

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.errors import PricingInputError
from pricing.instruments import CALL_PUT

_CP_CODES = {k: float(v) for k, v in CALL_PUT.items()}


def as_float_arrays(*args: ArrayLike) -> tuple[tuple[int, ...], list[FloatArray]]:
    """Broadcast the arguments together and return (shape, flat float64 arrays).

    The flat arrays are contiguous; they are views when no broadcasting was needed.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in args]
    shapes = {a.shape for a in arrays}
    shape = shapes.pop() if len(shapes) == 1 else np.broadcast_shapes(*shapes)
    # Why not ``broadcast_to`` for every argument: it costs ~5 µs an array, most of a one-option
    # price (the per-row Excel path prices single legs). Arrays already of the result's shape
    # pass as they are; a scalar is filled in (the same values broadcast_to would give).
    flat = [
        np.ascontiguousarray(a).reshape(-1)
        if a.shape == shape
        else np.full(shape, a[()]).reshape(-1)
        if a.ndim == 0
        else np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)
        for a in arrays
    ]
    return shape, flat


def option_signs(cp: Any) -> FloatArray:
    """Map option types to +1.0 (call) / -1.0 (put), keeping the shape.

    Strings are case-insensitive (``C``, ``call``, ``P``, ``put``); numbers must be +1 or -1.
    Any other value raises :class:`PricingInputError` listing the allowed values.
    """
    arr = np.asarray(cp)
    if arr.dtype.kind in "iuf":
        signs = np.asarray(arr, dtype=np.float64)  # no copy of a float64 input: nothing here writes to it
        bad = np.abs(signs) != 1.0
        if bad.any():
            raise PricingInputError(f"cp: {signs[bad].ravel()[0]!r} is not allowed; use +1/-1 or one of 'c', 'call', 'p', 'put'")
        return signs
    if arr.dtype.kind in "UO":
        flat = arr.ravel()
        out = np.empty(flat.shape, dtype=np.float64)
        for value in np.unique(flat.astype(str)):
            key = value.strip().lower()
            if key not in _CP_CODES:
                raise PricingInputError(f"cp: {value!r} is not allowed; use one of 'c', 'call', 'p', 'put' (any case) or +1/-1")
            out[flat.astype(str) == value] = _CP_CODES[key]
        return out.reshape(arr.shape)
    raise PricingInputError(f"cp: unsupported type {arr.dtype}; use 'call'/'put' or +1/-1")
