"""Time grids, discount factors and exposure profiles shared by the lifetime XVA forms."""

from __future__ import annotations

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError, parse_choice
from pricing.xva.rates import check_tenor

PROFILE_SHAPES = {"flat": "flat", "sqrt": "sqrt", "sqrt_runoff": "sqrt"}


def grid(tenor_years: float, step_days: float = 7.0) -> FloatArray:
    """t_0 = 0 < t_1 < ... < t_n = T, ACT/365 years, steps of ``step_days`` (the last one shorter)."""
    t = check_tenor(tenor_years)
    if not step_days > 0:
        raise PricingInputError(f"step_days: must be > 0, got {step_days!r}")
    step = step_days / DAYS_PER_YEAR
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
    return np.asarray(survival[..., :-1] - survival[..., 1:], dtype=np.float64)


def grid_matrix(tenor_years: FloatArray, step_days: float = 7.0) -> FloatArray:
    """Every trade's :func:`grid` as one row of a (T, N) matrix, padded by repeating its last point.

    Row t holds ``grid(tenor_years[t], step_days)`` then T_t again up to the longest grid: the
    padding periods have zero width, so a sum over a row's periods (see :func:`period_sum`) is the
    sum over the trade's own grid, exactly.
    """
    t = np.asarray(tenor_years, dtype=np.float64).reshape(-1)
    if t.size and not (np.isfinite(t).all() and (t >= 0).all()):
        raise PricingInputError("tenor_years: must be finite and >= 0")
    if not step_days > 0:
        raise PricingInputError(f"step_days: must be > 0, got {step_days!r}")
    step = step_days / DAYS_PER_YEAR
    # The count np.arange(0, t, step) gives: points strictly before t.
    before = np.ceil(t / step).astype(np.int64)
    width = int(before.max()) + 1 if t.size else 1
    i = np.arange(width)
    return np.where(i[None, :] < before[:, None], i[None, :] * step, t[:, None])


def profile_matrix(value0: FloatArray, times: FloatArray, shape: str = "flat") -> FloatArray:
    """:func:`profile` of each row of a :func:`grid_matrix` (the row's last point is its tenor)."""
    kind = parse_choice(shape, "profile", PROFILE_SHAPES)
    v = np.asarray(value0, dtype=np.float64)[:, None]
    t = np.asarray(times, dtype=np.float64)
    if kind == "flat":
        return np.broadcast_to(v, t.shape).copy()
    end = t[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(end > 0, np.maximum(end - t, 0.0) / np.where(end > 0, end, 1.0), 1.0)
    return np.asarray(v * np.sqrt(frac), dtype=np.float64)


def period_sum(x: FloatArray) -> FloatArray:
    """Σ over the last axis, accumulated in order.

    In order (not numpy's pairwise sum) so that a row padded with zero-width periods sums to
    exactly what the trade's own grid gives: a one-trade call and a batch agree to the bit.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.shape[-1] == 0:
        return np.zeros(a.shape[:-1])
    return np.asarray(np.cumsum(a, axis=-1)[..., -1], dtype=np.float64)


def tenor_blocks(tenor_years: FloatArray, step_days: float = 7.0, max_cells: int = 1_000_000) -> list[np.ndarray]:
    """Indices of trades in blocks, by increasing tenor, whose (T, N) grids hold at most ``max_cells`` points
    (at least one trade a block): memory stays bounded however many trades, and short trades
    are not padded to the longest grid of the whole set."""
    t = np.asarray(tenor_years, dtype=np.float64).reshape(-1)
    order = np.argsort(t, kind="stable")
    width = np.ceil(t[order] / (step_days / DAYS_PER_YEAR)).astype(np.int64) + 1
    blocks, lo, n = [], 0, order.size
    while lo < n:
        # Sorted, so a block's widest grid is its last trade's; (count x width) grows along the
        # block, so the largest block that fits is a search, over at most max_cells / width rows.
        window = min(n, lo + max(1, max_cells // int(width[lo])))
        cells = np.arange(1, window - lo + 1) * width[lo:window]
        hi = lo + max(1, int(np.searchsorted(cells, max_cells, side="right")))
        blocks.append(order[lo:hi])
        lo = hi
    return blocks
