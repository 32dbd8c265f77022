"""Rate inputs: decimals only, with a hint when a percentage is passed by mistake."""

from __future__ import annotations

import math

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.errors import PricingInputError
from pricing.marketdata import load_sofr


def check_rate(value: float, field: str, *, lo: float = -0.05, hi: float = 1.0) -> float:
    """A rate as a decimal in [lo, hi]; 5.26 (a percentage) is refused with the decimal it meant."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PricingInputError(f"{field}: {value!r} is not a number; give a decimal rate such as 0.0526") from None
    if not math.isfinite(x):
        raise PricingInputError(f"{field}: must be a finite decimal rate, got {value!r}")
    if x > hi:
        raise PricingInputError(f"{field}: {x} looks like a percentage; give decimals ({x / 100:.6g} for {x}%)")
    if x < lo:
        raise PricingInputError(f"{field}: {x} is below the allowed {lo}; give a decimal rate in [{lo}, {hi}]")
    return x


def check_rates(values: ArrayLike, field: str, *, lo: float = -0.05, hi: float = 1.0) -> FloatArray:
    """:func:`check_rate` of every element (the first bad one is named)."""
    x = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(x) & (x >= lo) & (x <= hi))
    if bad.any():
        check_rate(float(x[bad].reshape(-1)[0]), field, lo=lo, hi=hi)
    return x


def latest_sofr() -> float:
    """The last bundled SOFR fixing, decimal (FRED series SOFR)."""
    return load_sofr().latest()[1]


def check_tenor(years: float, field: str = "tenor_years") -> float:
    try:
        t = float(years)
    except (TypeError, ValueError):
        raise PricingInputError(f"{field}: {years!r} is not a number of years") from None
    if not (math.isfinite(t) and t >= 0):
        raise PricingInputError(f"{field}: must be >= 0 years, got {years!r}")
    return t
