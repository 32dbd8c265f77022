"""Shared type aliases for the pricing engine."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: Anything numpy turns into a float array: a scalar, a sequence or an array.
ArrayLike = float | int | npt.ArrayLike
