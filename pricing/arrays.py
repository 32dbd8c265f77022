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

    Parameters
    ----------
    *args : array_like
        Numbers or arrays that broadcast together.

    Returns
    -------
    (shape, arrays) : (tuple of int, list of ndarray)
        The broadcast shape, and each argument as a flat float64 array of prod(shape) elements.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in args]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in arrays]
    return shape, flat


def option_signs(cp: Any) -> FloatArray:
    """Map option types to +1.0 (call) / -1.0 (put), keeping the shape.

    Strings are case-insensitive (``C``, ``call``, ``P``, ``put``); numbers must be +1 or -1.
    Any other value raises :class:`PricingInputError` listing the allowed values.

    Parameters
    ----------
    cp : str, number or array_like of them
        Option types.

    Returns
    -------
    ndarray
        +1.0 / -1.0, the shape of ``cp``.

    Examples
    --------
    >>> option_signs(["C", "put", "P"]).tolist(), option_signs([[1], [-1]]).tolist()
    ([1.0, -1.0, -1.0], [[1.0], [-1.0]])
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
