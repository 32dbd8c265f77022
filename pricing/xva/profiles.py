"""Time grids, discount factors and exposure profiles shared by the lifetime XVA forms."""

from __future__ import annotations

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import PricingInputError, parse_choice
from pricing.xva.rates import check_tenor

PROFILE_SHAPES = {"flat": "flat", "sqrt": "sqrt", "sqrt_runoff": "sqrt"}


def grid(tenor_years: float, step_days: float = 7.0) -> FloatArray:
    """t_0 = 0 < t_1 < ... < t_n = T, ACT/365 years, steps of ``step_days`` (the last one shorter)."""
    t = check_tenor(tenor_years)
    if not step_days > 0:
        raise PricingInputError(f"step_days: must be > 0, got {step_days!r}")
    step = step_days / 365.0
    points = np.arange(0.0, t, step)
    return np.append(points, t) if t > 0 else np.zeros(1)


def profile(value0: float, times: FloatArray, shape: str = "flat") -> FloatArray:
    """A run-off profile v(t_i): flat (v0) or square-root run-off v0 √((T - t)/T) (docs/methodology.md §D3)."""
    kind = parse_choice(shape, "profile", PROFILE_SHAPES)
    t = np.asarray(times, dtype=np.float64)
    if kind == "flat" or t[-1] <= 0:
        return np.full(t.shape, float(value0))
    return np.asarray(float(value0) * np.sqrt(np.maximum(t[-1] - t, 0.0) / t[-1]), dtype=np.float64)


def discount(times: FloatArray, rate: float) -> FloatArray:
    """DF(t) = exp(-r t), continuously compounded on ACT/365 years."""
    return np.exp(-rate * np.asarray(times, dtype=np.float64))


def period_default_probability(times: FloatArray, pd_annual: float) -> FloatArray:
    """PD(t_{i-1}, t_i) for a constant hazard λ = -ln(1 - PD_1y); length n (one per period)."""
    if not (0.0 <= pd_annual < 1.0):
        raise PricingInputError(f"pd_annual: must be a probability in [0, 1), got {pd_annual!r}")
    lam = -np.log1p(-pd_annual)
    survival = np.exp(-lam * np.asarray(times, dtype=np.float64))
    return np.asarray(survival[:-1] - survival[1:], dtype=np.float64)
