"""Catalogue output as the Office.js client takes it."""

from __future__ import annotations

import math
from typing import Any

from udfs.excel import XlError


def render(value: Any) -> Any:
    """Error cells as their Excel code; NaN and infinities as #NUM! (JSON has no such numbers,
    and a cell must never show a plausible number for a result that overflowed)."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, XlError):
        return str.__str__(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "#NUM!"
    return value
