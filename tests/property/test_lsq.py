"""The deterministic least-squares solver (pricing.lsq) and the fits built on it.

Invariants:
- the normal-equation solve equals LAPACK's on any well-conditioned SPD system;
- on a linear problem the solver lands on the least-squares solution (numpy's lstsq) and on a
  box-constrained one it stays inside the box and satisfies the KKT sign conditions;
- a fit is a pure function of its inputs: refitting gives the same bits (and the subprocess
  test in tests/workbook/test_cross_cpu.py gives the same books with other BLAS/SIMD kernels);
- the SVI fit's exact Jacobian equals central differences of its residuals (so the polish
  converges to the optimum of the objective it states).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.chain import load_bundled_chain
from pricing.lsq import _cholesky_solve, levenberg_marquardt
from pricing.surface import otm_quotes
from pricing.svi import SVI_RIDGE, _SviObjective, fit_svi, penalty_grid

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@given(seeds, st.integers(min_value=1, max_value=5))
def test_cholesky_equals_lapack_on_spd_systems(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, n))
    a = q @ q.T + n * np.eye(n)  # condition number below ~10 x n: 1e-12 relative is ~100 ulp of room
    b = rng.standard_normal(n)
    x = _cholesky_solve(a.tolist(), b.tolist())
    assert x is not None
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-12, atol=1e-12)


def test_cholesky_refuses_an_indefinite_matrix() -> None:
    assert _cholesky_solve([[1.0, 2.0], [2.0, 1.0]], [1.0, 1.0]) is None


@given(seeds)
@settings(max_examples=30)
def test_linear_problem_reaches_the_least_squares_solution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((20, 3))
    y = rng.standard_normal(20)
    inf = np.full(3, np.inf)
    res = levenberg_marquardt(lambda p: a @ p - y, lambda p: a, np.zeros(3), -inf, inf)
    expected = np.linalg.lstsq(a, y, rcond=None)[0]
    best = 0.5 * float(np.sum((a @ expected - y) ** 2))
    # What the stopping rule guarantees is the cost, not the last digits of x: the solver stops
    # when an accepted step lowers the cost by <= ftol (1e-15) x cost, and with Nielsen's damping
    # a linear model converges linearly, so x can stop ~1e-8 from x* (seed 1282: 4.6e-9) while
    # the cost is optimal to ~1e-17 relative. For a linear model the excess cost is exactly
    # 0.5 ||A (x - x*)||^2, so bounding it at 1e-12 x cost* bounds x - x* in the A-norm too.
    excess = 0.5 * float(np.sum((a @ (res.x - expected)) ** 2))
    assert res.cost <= best * (1 + 1e-12) + 1e-300
    assert excess <= 1e-12 * best + 1e-300
    np.testing.assert_allclose(res.x, expected, rtol=0, atol=1e-6)  # coarse: the A-norm bound above is the sharp one
    assert res.converged


@given(seeds)
@settings(max_examples=30)
def test_bounded_solution_stays_in_the_box_and_meets_kkt(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((15, 3))
    y = 3.0 * rng.standard_normal(15)
    lo, hi = -np.ones(3), np.ones(3)
    res = levenberg_marquardt(lambda p: a @ p - y, lambda p: a, np.zeros(3), lo, hi)
    assert np.all(res.x >= lo) and np.all(res.x <= hi)
    grad = a.T @ (a @ res.x - y)
    scale = np.abs(a).sum() * (np.abs(y).sum() + 1.0)
    for i in range(3):
        if res.x[i] <= lo[i]:
            assert grad[i] >= -1e-9 * scale
        elif res.x[i] >= hi[i]:
            assert grad[i] <= 1e-9 * scale
        else:
            assert abs(grad[i]) <= 1e-6 * scale


def _quotes(expiry_index: int):  # type: ignore[no-untyped-def]
    chain = load_bundled_chain("BTC", "2026-08-21")
    return otm_quotes(chain, np.unique(chain.expiry)[expiry_index])


def test_svi_exact_jacobian_equals_central_differences() -> None:
    q = _quotes(3)
    obj = _SviObjective(
        q.k, q.vols, np.sqrt(q.vegas / q.vegas.mean()), penalty_grid(q.k), q.t_years, math.sqrt(SVI_RIDGE * q.k.size)
    )
    rng = np.random.default_rng(7)
    for _ in range(5):
        p = np.array([0.01, 0.1, -0.3, 0.02, 0.1]) * (1.0 + 0.5 * rng.standard_normal(5))
        p[[1, 4]] = np.abs(p[[1, 4]])
        jac = obj.jacobian(p)
        fd = np.empty_like(jac)
        for j in range(5):
            h = 1e-6 * max(abs(p[j]), 1e-3)
            up, dn = p.copy(), p.copy()
            up[j] += h
            dn[j] -= h
            fd[:, j] = (obj.residuals(up) - obj.residuals(dn)) / (2.0 * h)
        # Central differences err by O(h^2 f''') ~ 1e-9 here, plus the kinks of max(-g, 0)
        # that a step may straddle: 1e-6 of the Jacobian's scale bounds both.
        np.testing.assert_allclose(jac, fd, atol=1e-6 * np.abs(jac).max())


def test_svi_fit_is_a_pure_function_of_its_inputs() -> None:
    q = _quotes(5)
    first = fit_svi(q.k, q.vols, q.t_years, weights=q.vegas)
    again = fit_svi(q.k.copy(), q.vols.copy(), q.t_years, weights=q.vegas.copy())
    assert first == again


def _sabr_objective(beta: float):  # type: ignore[no-untyped-def]
    from pricing.sabr import _SabrObjective

    q = _quotes(6)
    one_b = 1.0 - beta
    fk_pow = np.exp(0.5 * one_b * (2.0 * np.log(q.forward) + q.k))
    ob2, lf2 = one_b * one_b, q.k * q.k
    denom = fk_pow * (1.0 + ob2 / 24.0 * lf2 + ob2 * ob2 / 1920.0 * lf2 * lf2)
    obj = _SabrObjective(
        q.vols, np.ones_like(q.k), fk_pow * -q.k, denom, ob2 / (24.0 * fk_pow**2), beta / (4.0 * fk_pow), q.t_years
    )
    return obj, q, 0.5 * q.forward**one_b


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_sabr_objective_is_hagans_formula_and_its_jacobian_exact(beta: float) -> None:
    """The fit's residuals equal pricing.sabr.hagan_lognormal_vol (the smile the surface then
    evaluates) to a few ulp, and its exact Jacobian equals central differences."""
    from pricing.sabr import hagan_lognormal_vol

    obj, q, alpha = _sabr_objective(beta)
    for p in ([alpha, -0.2, 1.3], [alpha * 1.2, 0.3, 0.4], [alpha * 0.8, -0.7, 5.0]):
        x = np.array(p)
        model = hagan_lognormal_vol(q.forward, q.forward * np.exp(q.k), q.t_years, x[0], beta, x[1], x[2])
        np.testing.assert_allclose(obj.residuals(x), model - q.vols, rtol=0, atol=1e-14)
        jac = obj.jacobian(x)
        fd = np.empty_like(jac)
        for j in range(3):
            h = 1e-4 * abs(x[j])
            up, dn = x.copy(), x.copy()
            up[j] += h
            dn[j] -= h
            fd[:, j] = (obj.residuals(up) - obj.residuals(dn)) / (2.0 * h)
        # Central differences at h = 1e-4 relative err by ~h^2 (1e-8) of the column's scale;
        # measured 3e-10 at beta = 1 and 3e-8 at beta = 0.5 (the rho column): 1e-7 bounds both.
        np.testing.assert_allclose(jac, fd, atol=1e-7 * np.abs(jac).max())
