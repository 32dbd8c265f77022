"""The order-statistic rule for VaR and expected shortfall on a discrete scenario set.

docs/methodology.md §C4 [D]: sort losses descending L_(1) >= ... >= L_(N); VaR_α = L_(k) with
k = max(1, ⌊N (1 - α)⌋) and ES_α = mean(L_(1..k)). At most k - 1 <= N (1 - α) scenarios lie
strictly above VaR, so the empirical exceedance rate never exceeds 1 - α (conservative).
N = 1,824, α = 99.5% gives k = 9; N = 2,500 gives k = 12.
"""

from __future__ import annotations

import math

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import PricingInputError


def check_alpha(alpha: float) -> float:
    """α as a float in (0, 1), or a PricingInputError naming the field.

    Parameters
    ----------
    alpha : float
        A confidence such as 0.995.

    Returns
    -------
    float
        The confidence level, unchanged, once checked to be in (0, 1).

    Raises
    ------
    PricingInputError
        Not a number, or outside (0, 1).
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise PricingInputError(f"alpha: {alpha!r} is not a number; use a confidence in (0, 1), e.g. 0.995") from None
    if not (0.0 < value < 1.0):
        raise PricingInputError(f"alpha: must be in (0, 1) (a confidence such as 0.995), got {alpha!r}")
    return value


def tail_count(n_scenarios: int, alpha: float) -> int:
    """k = max(1, ⌊N (1 - α)⌋); a tiny tolerance keeps 2,000 x 0.005 = 10 from becoming 9.

    Parameters
    ----------
    n_scenarios : int
        N >= 1.
    alpha : float
        Confidence in (0, 1).

    Returns
    -------
    int
        k in [1, N].

    Notes
    -----
    docs/methodology.md §C4 (module docstring).

    Examples
    --------
    >>> tail_count(1_824, 0.995), tail_count(2_000, 0.995), tail_count(10, 0.995)
    (9, 10, 1)
    """
    a = check_alpha(alpha)
    if n_scenarios < 1:
        raise PricingInputError("scenarios: at least one scenario is needed")
    return max(1, min(n_scenarios, math.floor(n_scenarios * (1.0 - a) + 1e-9)))


def var_es(losses: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    """VaR and ES along the last axis of ``losses`` (losses positive), by the k-th-worst rule.

    Uses ``np.partition`` (O(N) per row) rather than a full sort.

    Parameters
    ----------
    losses : array_like, shape (..., N)
        Scenario losses, USD (positive = loss).
    alpha : float
        Confidence in (0, 1).

    Returns
    -------
    (var, es) : ndarrays of shape (...)
        The k-th largest loss and the mean of the k largest.

    Examples
    --------
    >>> var, es = var_es(np.arange(1.0, 201.0), 0.99)   # k = 2: losses 200 and 199
    >>> float(var), float(es)
    (199.0, 199.5)
    """
    x = np.asarray(losses, dtype=np.float64)
    n = x.shape[-1]
    k = tail_count(n, alpha)
    top = np.partition(x, n - k, axis=-1)[..., n - k :]
    return top.min(axis=-1), top.mean(axis=-1)


def tail_indices(losses: FloatArray, alpha: float) -> np.ndarray:
    """Indices of the k worst scenarios of a 1-D loss vector, worst first.

    Parameters
    ----------
    losses : array_like, shape (N,)
        Scenario losses (positive = loss).
    alpha : float
        Confidence in (0, 1).

    Returns
    -------
    ndarray of int, shape (k,)
        Columns of the k worst scenarios, worst first.

    Notes
    -----
    k = max(1, ⌊N (1 - α)⌋) (module docstring); the last index is the VaR scenario.
    """
    x = np.asarray(losses, dtype=np.float64)
    k = tail_count(x.size, alpha)
    idx = np.argpartition(x, x.size - k)[x.size - k :]
    return idx[np.argsort(-x[idx], kind="stable")]
