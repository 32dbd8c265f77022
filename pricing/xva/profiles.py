"""Time grids, discount factors and exposure profiles shared by the lifetime XVA forms."""

from __future__ import annotations

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError, parse_choice
from pricing.xva.rates import check_tenor

PROFILE_SHAPES = {"flat": "flat", "sqrt": "sqrt", "sqrt_runoff": "sqrt"}


def grid(tenor_years: float, step_days: float = 7.0) -> FloatArray:
    """The XVA time grid t_0 = 0 < t_1 < ... < t_n = T, ACT/365 years.

    Parameters
    ----------
    tenor_years : float
        T, the trade's life in ACT/365 years (>= 0).
    step_days : float
        Calendar days between grid points (> 0); default 7 (weekly).

    Returns
    -------
    ndarray, shape (n + 1,)
        0, step, 2 step, ... below T, then T itself (the last period is the shorter one);
        ``[0.0]`` when T = 0.

    Raises
    ------
    PricingInputError
        T negative or not finite, or ``step_days`` not > 0.

    Notes
    -----
    t_i = i · step_days / 365 for t_i < T, then T (docs/methodology.md §D, notation: Δ_i = t_i − t_{i−1}).

    Examples
    --------
    >>> (grid(14 / 365) * 365).round(6).tolist(), (grid(0.05) * 365).round(2).tolist()
    ([0.0, 7.0, 14.0], [0.0, 7.0, 14.0, 18.25])
    """
    t = check_tenor(tenor_years)
    if not step_days > 0:
        raise PricingInputError(f"step_days: must be > 0, got {step_days!r}")
    step = step_days / DAYS_PER_YEAR
    points = np.arange(0.0, t, step)
    return np.append(points, t) if t > 0 else np.zeros(1)


def profile(value0: float, times: FloatArray, shape: str = "flat") -> FloatArray:
    """A run-off profile v(t_i) of today's value ``value0`` (a ΔIM or an EAD) over a grid.

    Parameters
    ----------
    value0 : float
        v(0), USD.
    times : ndarray, shape (n + 1,)
        The grid (:func:`grid`), ACT/365 years; its last point is the tenor T.
    shape : {"flat", "sqrt", "sqrt_runoff"}
        ``flat`` keeps v(0) to expiry; ``sqrt`` (alias ``sqrt_runoff``) runs it off as √ of the
        remaining life.

    Returns
    -------
    ndarray, shape (n + 1,)
        v(t_i), USD.

    Notes
    -----
    flat: v(t) = v_0; sqrt: v(t) = v_0 √((T − t)/T), flat when T = 0 (docs/methodology.md §D3,
    the ΔIM profile of ``fva_im``).

    Examples
    --------
    >>> profile(100.0, np.array([0.0, 0.5, 1.0]), "sqrt").round(2).tolist()
    [100.0, 70.71, 0.0]
    """
    kind = parse_choice(shape, "profile", PROFILE_SHAPES)
    t = np.asarray(times, dtype=np.float64)
    if kind == "flat" or t[-1] <= 0:
        return np.full(t.shape, float(value0))
    return np.asarray(float(value0) * np.sqrt(np.maximum(t[-1] - t, 0.0) / t[-1]), dtype=np.float64)


def discount(times: FloatArray, rate: float) -> FloatArray:
    """Discount factors at a constant continuously compounded rate.

    Parameters
    ----------
    times : array_like
        t, ACT/365 years (any shape).
    rate : float
        r, decimal per year (0.0365 = 3.65%).

    Returns
    -------
    ndarray
        DF(t), the shape of ``times``.

    Notes
    -----
    DF(t) = exp(−r t): the riskless DF_i of docs/methodology.md §D (notation), r = SOFR by default.

    Examples
    --------
    >>> discount(np.array([0.0, 1.0]), 0.05).round(6).tolist()
    [1.0, 0.951229]
    """
    return np.exp(-rate * np.asarray(times, dtype=np.float64))


def period_default_probability(times: FloatArray, pd_annual: float) -> FloatArray:
    """The probability of default in each period of a grid, at a constant hazard rate.

    Parameters
    ----------
    times : array_like, shape (..., n + 1)
        Grid points along the last axis, ACT/365 years.
    pd_annual : float
        PD_1y, the one-year default probability, decimal in [0, 1).

    Returns
    -------
    ndarray, shape (..., n)
        PD(t_{i−1}, t_i), one per period.

    Raises
    ------
    PricingInputError
        ``pd_annual`` outside [0, 1).

    Notes
    -----
    λ = −ln(1 − PD_1y), S(t) = e^{−λ t}, PD(t_{i−1}, t_i) = S(t_{i−1}) − S(t_i): the PD term of
    the CCVA (docs/methodology.md §D3, CCVA; ORE's CVA form §D2).

    Examples
    --------
    >>> period_default_probability(np.array([0.0, 0.5, 1.0]), 0.01).sum().round(12)
    np.float64(0.01)
    """
    if not (0.0 <= pd_annual < 1.0):
        raise PricingInputError(f"pd_annual: must be a probability in [0, 1), got {pd_annual!r}")
    lam = -np.log1p(-pd_annual)
    survival = np.exp(-lam * np.asarray(times, dtype=np.float64))
    return np.asarray(survival[..., :-1] - survival[..., 1:], dtype=np.float64)


def grid_matrix(tenor_years: FloatArray, step_days: float = 7.0) -> FloatArray:
    """Every trade's :func:`grid` as one row of a (T, N) matrix, padded by repeating its last point.

    Parameters
    ----------
    tenor_years : array_like, shape (T,)
        Each trade's life, ACT/365 years (finite, >= 0).
    step_days : float
        Calendar days between grid points (> 0); default 7.

    Returns
    -------
    ndarray, shape (T, N)
        Row t is ``grid(tenor_years[t], step_days)`` then its tenor repeated up to N, the longest
        grid's length.

    Raises
    ------
    PricingInputError
        A tenor negative or not finite, or ``step_days`` not > 0.

    Notes
    -----
    The padding periods have zero width (Δ = 0), so a sum over a row's periods (see
    :func:`period_sum`) is the sum over the trade's own grid, exactly.

    Examples
    --------
    >>> (grid_matrix(np.array([14.0, 3.0]) / 365) * 365).round(6).tolist()
    [[0.0, 7.0, 14.0], [0.0, 3.0, 3.0]]
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
    """:func:`profile` of each row of a :func:`grid_matrix` (the row's last point is its tenor).

    Parameters
    ----------
    value0 : array_like, shape (T,)
        Each trade's v(0), USD.
    times : ndarray, shape (T, N)
        The trades' grids (:func:`grid_matrix`), ACT/365 years.
    shape : {"flat", "sqrt", "sqrt_runoff"}
        As for :func:`profile`.

    Returns
    -------
    ndarray, shape (T, N)
        v_t(t_i), USD; a new array (writable) also when flat.

    Notes
    -----
    Row by row the formula of :func:`profile`: v_0 or v_0 √((T − t)/T) (docs/methodology.md §D3);
    the padding points sit at T, where the √ run-off is 0.
    """
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

    Parameters
    ----------
    x : array_like, shape (..., n)
        Per-period terms (USD), zero on padding periods.

    Returns
    -------
    ndarray, shape (...)
        Σ_i x_i along the last axis; 0 when n = 0.

    Notes
    -----
    In order (not numpy's pairwise sum) so that a row padded with zero-width periods sums to
    exactly what the trade's own grid gives: a one-trade call and a batch agree to the bit.

    Examples
    --------
    >>> period_sum(np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])).tolist()
    [3.0, 3.0]
    """
    a = np.asarray(x, dtype=np.float64)
    if a.shape[-1] == 0:
        return np.zeros(a.shape[:-1])
    return np.asarray(np.cumsum(a, axis=-1)[..., -1], dtype=np.float64)


def tenor_blocks(tenor_years: FloatArray, step_days: float = 7.0, max_cells: int = 1_000_000) -> list[np.ndarray]:
    """Indices of trades in blocks, by increasing tenor, whose (T, N) grids hold at most ``max_cells`` points.

    Parameters
    ----------
    tenor_years : array_like, shape (T,)
        Each trade's life, ACT/365 years.
    step_days : float
        The grid step in calendar days, as for :func:`grid_matrix`.
    max_cells : int
        Most grid points (rows x columns) of one block's :func:`grid_matrix`; default 1,000,000.

    Returns
    -------
    list of ndarray of int
        Trade indices, each block's in increasing tenor; every trade in exactly one block, and
        at least one trade a block (a single trade whose grid alone exceeds ``max_cells``).

    Notes
    -----
    Memory stays bounded however many trades, and short trades are not padded to the longest
    grid of the whole set. A trade's grid has ⌈365 T / step_days⌉ + 1 points.

    Examples
    --------
    >>> [b.tolist() for b in tenor_blocks(np.array([1.0, 0.1, 0.5]), 7.0, 60)]
    [[1, 2], [0]]
    """
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
