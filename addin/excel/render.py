"""Catalogue output as the Office.js client takes it."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from udfs.excel import XlError


def render(value: Any) -> Any:
    """Error cells as their Excel code; NaN and infinities as #NUM! (JSON has no such numbers,
    and a cell must never show a plausible number for a result that overflowed).

    A range of plain finite floats (the common case: a column of prices) is returned as it is,
    checked in one numpy pass rather than cell by cell."""
    if isinstance(value, list) and value and all(type(r) is list for r in value):
        if set(map(type, itertools.chain.from_iterable(value))) == {float} and len(set(map(len, value))) == 1:
            if np.isfinite(np.array(value, dtype=float)).all():
                return value
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, XlError):
        return str.__str__(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "#NUM!"
    return value
