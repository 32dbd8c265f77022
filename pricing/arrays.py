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

    Each element is read on its own: text is case-insensitive (``C``, ``call``, ``P``, ``put``,
    surrounding spaces ignored) or the text of +1/-1; numbers must be +1 or -1. A mixed range
    (``["C", -1]``, as an Excel range of text and numbers arrives) is read element by element.
    Any other value raises :class:`PricingInputError` naming it and listing the allowed values.

    Parameters
    ----------
    cp : str, number or array_like of them
        Option types.

    Returns
    -------
    ndarray
        +1.0 / -1.0, the shape of ``cp``.

    Notes
    -----
    numpy turns a list mixing text and numbers into text (``["C", -1]`` becomes ``["C", "-1"]``,
    ``-1.0`` becomes ``"-1.0"``), so a text element that is not a spelling is read as a number
    and kept if it is exactly +1 or -1; ``True``, ``None`` and ``nan`` stay refused. The text is
    mapped once per distinct value, not once per element.

    Examples
    --------
    >>> option_signs(["C", "put", "P"]).tolist(), option_signs([[1], [-1]]).tolist()
    ([1.0, -1.0, -1.0], [[1.0], [-1.0]])
    >>> option_signs(["C", -1, " Put ", 1.0]).tolist()
    [1.0, -1.0, -1.0, 1.0]
    """
    try:
        arr = np.asarray(cp)
    except ValueError:
        raise PricingInputError("cp: a ragged range; give one option type per cell ('call'/'put' or +1/-1)") from None
    if arr.dtype.kind in "iuf":
        signs = np.asarray(arr, dtype=np.float64)  # no copy of a float64 input: nothing here writes to it
        bad = np.abs(signs) != 1.0
        if bad.any():
            raise PricingInputError(f"cp: {signs[bad].ravel()[0]!r} is not allowed; use +1/-1 or one of 'c', 'call', 'p', 'put'")
        return signs
    if arr.dtype.kind in "UO":
        flat = arr.ravel()
        text = flat.astype(str)
        out = np.empty(flat.shape, dtype=np.float64)
        for value in np.unique(text):
            sign = _sign_of_text(value)
            if sign is None:
                raise PricingInputError(
                    f"cp: {str(value)!r} is not allowed; use one of 'c', 'call', 'p', 'put' (any case) or +1/-1"
                )
            out[text == value] = sign
        return out.reshape(arr.shape)
    raise PricingInputError(f"cp: unsupported type {arr.dtype}; use 'call'/'put' or +1/-1")


def _sign_of_text(value: str) -> float | None:
    """+1.0/-1.0 of one text element: a spelling of call/put or the text of +1/-1; None otherwise."""
    key = value.strip().lower()
    if key in _CP_CODES:
        return _CP_CODES[key]
    try:
        number = float(key)
    except ValueError:
        return None
    return number if number in (1.0, -1.0) else None
