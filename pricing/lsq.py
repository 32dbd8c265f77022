"""Bounded nonlinear least squares whose every step is the same on every IEEE-754 machine.

Why not ``scipy.optimize.least_squares``: its trust-region steps go through BLAS and LAPACK
(``dot``, SVD/QR), and OpenBLAS picks its kernels by CPU at load time (Haswell, SkylakeX,
Zen, ... and NEON on ARM), so the same fit summed in another order on another CPU. Measured on
the bundled chains: the raw-SVI parameters of one expiry moved by up to 2.1e-4 relative between
OpenBLAS' Haswell and SkylakeX kernels, a fit's flat directions turning last-bit noise in the
normal equations into a different stopping point (``docs/reproducibility.md``).

Here the only operations on floats are IEEE-754 basic operations (+, -, x, /, sqrt; each
correctly rounded, so the same bits everywhere): the normal equations are summed with
:func:`math.fsum` (correctly rounded, independent of order and vector width) and solved by a
Cholesky factorisation in plain Python floats (five unknowns at most here). Given residual and
Jacobian functions that are themselves made of such operations, the whole iteration, and so the
result, is a deterministic function of the inputs, whatever BLAS, SIMD width or core count.

Method: Levenberg-Marquardt with Marquardt's diagonal scaling and Nielsen's damping update
(H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05, DTU, 1999;
K. Madsen, H. B. Nielsen & O. Tingleff, *Methods for non-linear least squares problems*, 2nd
ed., DTU 2004, Algorithm 3.16). Bounds by projection with an active set: a parameter at its
bound whose gradient pushes outward is held there for the step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pricing._typing import FloatArray

Residuals = Callable[[FloatArray], FloatArray]
Jacobian = Callable[[FloatArray], FloatArray]


@dataclass(frozen=True)
class LsqResult:
    """Solution of :func:`levenberg_marquardt`; ``cost`` is 0.5 * sum(residuals^2).

    Attributes
    ----------
    x : ndarray
        The parameters found.
    cost : float
        0.5 Σ r_i² at ``x``.
    iterations : int
        Iterations used.
    converged : bool
        Whether a stopping tolerance was met (False: the iteration cap).
    """

    x: FloatArray
    cost: float
    iterations: int
    converged: bool


def _half_sum_squares(r: FloatArray) -> float:
    return 0.5 * math.fsum((r * r).tolist())


def _normal_equations(jac: FloatArray, r: FloatArray) -> tuple[list[list[float]], list[float]]:
    """(J^T J, J^T r), each entry correctly rounded (math.fsum of exact-rounded products)."""
    n = jac.shape[1]
    rows, cols = np.tril_indices(n)
    # Every product rounded once by numpy (the same IEEE products as one column pair at a time),
    # then each sum correctly rounded: one conversion to Python floats for all pairs.
    pairs = (jac[:, rows] * jac[:, cols]).T.tolist()
    a = [[0.0] * n for _ in range(n)]
    for i, j, column in zip(rows.tolist(), cols.tolist(), pairs):
        a[i][j] = a[j][i] = math.fsum(column)
    g = [math.fsum(column) for column in (jac * r[:, None]).T.tolist()]
    return a, g


def _cholesky_solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """x with a x = b for symmetric positive definite ``a`` (plain floats); None if not SPD."""
    n = len(b)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - math.fsum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if not s > 0.0:
                    return None
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    y = [0.0] * n
    for i in range(n):
        y[i] = (b[i] - math.fsum(low[i][k] * y[k] for k in range(i))) / low[i][i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - math.fsum(low[k][i] * x[k] for k in range(i + 1, n))) / low[i][i]
    return x


def levenberg_marquardt(
    residuals: Residuals,
    jacobian: Jacobian,
    x0: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    *,
    max_iter: int = 1000,
    xtol: float = 1e-15,
    ftol: float = 1e-15,
) -> LsqResult:
    """Minimise 0.5 * ||residuals(x)||^2 subject to lower <= x <= upper.

    Parameters
    ----------
    residuals : callable
        x (n,) -> r (m,).
    jacobian : callable
        x (n,) -> dr/dx (m, n).
    x0 : ndarray
        Start; projected onto the bounds.
    lower, upper : ndarray
        Bounds (may be infinite).
    max_iter : int
        Iterations (accepted or rejected steps) at most.
    xtol, ftol : float
        Stop when a step moves no parameter by more than ``xtol * (|x| + xtol)``, or an
        accepted step lowers the cost by no more than ``ftol * cost``.

    Returns
    -------
    LsqResult
        ``converged`` is False only when ``max_iter`` ran out.

    Notes
    -----
    Step: :math:`(A_F + \\mu\\,\\mathrm{diag}(A_F))\\,\\delta_F = -g_F` on the free set F, with
    :math:`A = J^T J`, :math:`g = J^T r`; the gain ratio
    :math:`\\varrho = (c(x) - c(x + \\delta)) / (-\\delta^T g - \\tfrac12 \\delta^T A \\delta)` updates
    :math:`\\mu \\leftarrow \\mu \\max(1/3, 1 - (2\\varrho - 1)^3)` on success and
    :math:`\\mu \\leftarrow \\mu\\nu,\\ \\nu \\leftarrow 2\\nu` on failure (Madsen, Nielsen & Tingleff
    2004, Alg. 3.16). Every float operation is an IEEE-754 basic operation or a correctly
    rounded sum, so the result does not depend on the CPU, BLAS or SIMD width.
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    x = np.clip(np.asarray(x0, dtype=np.float64), lo, hi)
    n = x.size
    r = residuals(x)
    cost = _half_sum_squares(r)
    a, g = _normal_equations(jacobian(x), r)
    mu = 1e-3 * max(max(a[i][i] for i in range(n)), 1e-300)
    nu = 2.0
    for iteration in range(1, max_iter + 1):
        free = [i for i in range(n) if not ((x[i] <= lo[i] and g[i] > 0.0) or (x[i] >= hi[i] and g[i] < 0.0))]
        if not free or max(abs(g[i]) for i in free) == 0.0:
            return LsqResult(x, cost, iteration, True)
        biggest = max(a[i][i] for i in free)
        m = [[a[i][j] for j in free] for i in free]
        for f, i in enumerate(free):
            # Marquardt's scaling, floored so that a parameter the data do not move still gets a finite step.
            m[f][f] += mu * max(a[i][i], 1e-12 * biggest, 1e-300)
        solved = _cholesky_solve(m, [-g[i] for i in free])
        if solved is None:
            mu *= nu
            nu *= 2.0
            continue
        step = np.zeros(n)
        step[free] = solved
        trial = np.clip(x + step, lo, hi)
        dx = trial - x
        if bool(np.all(np.abs(dx) <= xtol * (np.abs(x) + xtol))):
            return LsqResult(x, cost, iteration, True)
        r_trial = residuals(trial)
        cost_trial = _half_sum_squares(r_trial)
        if cost_trial < cost:
            dxl = dx.tolist()
            predicted = -math.fsum(d * gi for d, gi in zip(dxl, g)) - 0.5 * math.fsum(
                dxl[i] * a[i][j] * dxl[j] for i in range(n) for j in range(n)
            )
            gain = (cost - cost_trial) / predicted if predicted > 0.0 else 0.0
            small = cost - cost_trial <= ftol * cost
            x, r, cost = trial, r_trial, cost_trial
            a, g = _normal_equations(jacobian(x), r)
            lean = 2.0 * gain - 1.0
            mu *= max(1.0 / 3.0, 1.0 - lean * lean * lean)  # products, not pow: libm's pow differs by platform
            nu = 2.0
            if small:
                return LsqResult(x, cost, iteration, True)
        else:
            mu *= nu
            nu *= 2.0
            if not math.isfinite(mu):
                return LsqResult(x, cost, iteration, True)
    return LsqResult(x, cost, max_iter, False)
