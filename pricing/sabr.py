"""SABR smiles with beta fixed: Hagan's lognormal implied-vol expansion and its fit.

Hagan, Kumar, Lesniewski & Woodward, "Managing smile risk", Wilmott (2002), eq. (2.17a):

.. math::
    \\sigma_B(K) = \\frac{\\alpha}{(FK)^{(1-\\beta)/2}\\,[1 + \\frac{(1-\\beta)^2}{24}\\ln^2\\frac FK
    + \\frac{(1-\\beta)^4}{1920}\\ln^4\\frac FK]}\\,\\frac{z}{x(z)}\\,
    \\Bigl[1 + \\Bigl(\\frac{(1-\\beta)^2\\alpha^2}{24 (FK)^{1-\\beta}}
    + \\frac{\\rho\\beta\\nu\\alpha}{4 (FK)^{(1-\\beta)/2}} + \\frac{2 - 3\\rho^2}{24}\\nu^2\\Bigr) T\\Bigr]

with :math:`z = \\frac{\\nu}{\\alpha}(FK)^{(1-\\beta)/2}\\ln(F/K)` and
:math:`x(z) = \\ln\\frac{\\sqrt{1 - 2\\rho z + z^2} + z - \\rho}{1 - \\rho}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.lsq import LsqResult, levenberg_marquardt


def hagan_lognormal_vol(
    forward: ArrayLike, strike: ArrayLike, t_years: ArrayLike, alpha: float, beta: float, rho: float, nu: float
) -> FloatArray:
    """Hagan (2002) Black implied vol of the SABR model, vectorised over strikes.

    Parameters
    ----------
    forward : array_like
        F, USD (> 0).
    strike : array_like
        K, USD (> 0).
    t_years : array_like
        Time to expiry, years ACT/365.
    alpha, beta, rho, nu : float
        SABR parameters: initial vol, backbone exponent in [0, 1], correlation in (-1, 1), vol of vol.

    Returns
    -------
    ndarray
        Black implied vol, decimal, the broadcast shape.

    Notes
    -----
    σ_B = α / ((FK)^((1-β)/2) (1 + (1-β)²/24 ln²(F/K) + (1-β)⁴/1920 ln⁴(F/K))) · z/x(z) ·
    (1 + ((1-β)² α² / (24 (FK)^(1-β)) + ρβνα / (4 (FK)^((1-β)/2)) + (2 - 3ρ²) ν²/24) T),
    z = ν/α (FK)^((1-β)/2) ln(F/K), x(z) = ln((√(1 - 2ρz + z²) + z - ρ)/(1 - ρ)) (Hagan, Kumar,
    Lesniewski and Woodward 2002, "Managing smile risk", Wilmott, eq. 2.17a).
    """
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(t_years, dtype=np.float64)
    one_b = 1.0 - beta
    log_fk = np.log(f / k)
    fk_pow = (f * k) ** (0.5 * one_b)
    z = nu / alpha * fk_pow * log_fk
    with np.errstate(divide="ignore", invalid="ignore"):
        # x(z) = ln((D + z - rho) / (1 - rho)), D = sqrt(1 - 2 rho z + z^2), written as log1p of
        # (z + D - 1) / (1 - rho) with D - 1 = (z^2 - 2 rho z) / (D + 1): no cancellation near the
        # money, where the plain form loses eps / |z| of relative accuracy.
        root = np.sqrt(1.0 - 2.0 * rho * z + z * z)
        x = np.log1p((z + (z * z - 2.0 * rho * z) / (root + 1.0)) / (1.0 - rho))
        # z / x(z) -> 1 at the money; the series 1 - rho z / 2 keeps it smooth near z = 0.
        ratio = np.where(np.abs(z) < 1e-7, 1.0 - 0.5 * rho * z, z / x)
    denom = fk_pow * (1.0 + one_b**2 / 24.0 * log_fk**2 + one_b**4 / 1920.0 * log_fk**4)
    correction = (
        1.0
        + (
            one_b**2 * alpha**2 / (24.0 * fk_pow**2)
            + rho * beta * nu * alpha / (4.0 * fk_pow)
            + (2.0 - 3.0 * rho**2) / 24.0 * nu**2
        )
        * t
    )
    return alpha / denom * ratio * correction


@dataclass(frozen=True)
class SabrSmile:
    """SABR parameters of one expiry; ``forward`` is the expiry's forward (USD).

    Attributes
    ----------
    alpha, beta, rho, nu : float
        SABR parameters (:func:`hagan_lognormal_vol`).
    forward : float
        The expiry's forward, USD.
    t_years : float
        Time to expiry, years ACT/365.
    """

    alpha: float
    beta: float
    rho: float
    nu: float
    forward: float
    t_years: float

    def implied_vol(self, k: ArrayLike) -> FloatArray:
        """Black vol at log-moneyness k = ln(K/F).

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        ndarray
            Decimal vol, shape of ``k``.

        Notes
        -----
        :func:`hagan_lognormal_vol` at K = F e^k (Hagan et al. 2002, eq. 2.17a).
        """
        strike = self.forward * np.exp(np.asarray(k, dtype=np.float64))
        return hagan_lognormal_vol(self.forward, strike, self.t_years, self.alpha, self.beta, self.rho, self.nu)

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """Total implied variance w(k) = σ_B(k)² T at log-moneyness k = ln(K/F).

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        ndarray
            Year units, shape of ``k``.
        """
        return self.implied_vol(k) ** 2 * self.t_years

    def params(self) -> dict[str, float]:
        """The fitted parameters by name (for fit reports).

        Returns
        -------
        dict of str to float
            ``alpha``, ``beta``, ``rho``, ``nu``.
        """
        return {"alpha": self.alpha, "beta": self.beta, "rho": self.rho, "nu": self.nu}


def _log1p(x: FloatArray) -> FloatArray:
    """ln(1 + x) element by element through libm, not numpy's SIMD code: numpy picks its
    transcendental code by instruction set (AVX2, AVX-512: results differ in the last bit),
    libm does not on x86-64."""
    return np.fromiter((math.log1p(v) for v in x.tolist()), dtype=np.float64, count=x.size)


#: Below this |z| the ratio z / x(z) and its derivatives come from their series (Hagan 2002):
#: z/x = 1 - rho z/2 + (2 - 3 rho^2) z^2/12 + O(z^3). At 1e-4 the series' truncation (~z^3)
#: and the closed form's cancellation (~eps / z^2) are both ~1e-8 relative.
_Z_SERIES = 1e-4


@dataclass(frozen=True)
class _SabrObjective:
    """Residuals of the SABR fit (beta fixed) and their exact Jacobian in (alpha, rho, nu).

    Everything that does not depend on the parameters is computed once (``scale`` =
    (FK)^((1-beta)/2) ln(F/K), so z = nu / alpha * scale; ``denom``, ``c1``, ``c2`` of Hagan's
    formula); the one transcendental left, x(z), goes through libm (:func:`_log1p`).
    """

    vol: FloatArray
    sqrt_w: FloatArray
    scale: FloatArray
    denom: FloatArray
    c1: FloatArray
    c2: FloatArray
    t: float

    def _parts(self, p: FloatArray) -> tuple[float, float, float, FloatArray, FloatArray, FloatArray, FloatArray, float]:
        alpha, rho, nu = float(p[0]), float(p[1]), float(p[2])
        z = nu / alpha * self.scale
        near = np.abs(z) < _Z_SERIES
        zs = np.where(near, 1.0, z)
        root = np.sqrt(1.0 - 2.0 * rho * zs + zs * zs)
        arg = root + zs - rho
        x = _log1p((zs + (zs * zs - 2.0 * rho * zs) / (root + 1.0)) / (1.0 - rho))  # as in hagan_lognormal_vol
        q = 2.0 - 3.0 * rho * rho
        ratio = np.where(near, 1.0 - 0.5 * rho * z + q * z * z / 12.0, zs / x)
        # d ratio / dz and d ratio / d rho, with dx/dz = 1/root and dx/drho = (-z/root - 1)/arg + 1/(1 - rho).
        dx_drho = (-zs / root - 1.0) / arg + 1.0 / (1.0 - rho)
        dr_dz = np.where(near, -0.5 * rho + q * z / 6.0, (x - zs / root) / (x * x))
        dr_drho = np.where(near, -0.5 * z - 0.5 * rho * z * z, -zs / (x * x) * dx_drho)
        return alpha, rho, nu, z, ratio, dr_dz, dr_drho, q

    def residuals(self, p: FloatArray) -> FloatArray:
        alpha, rho, nu, _, ratio, _, _, q = self._parts(p)
        corr = 1.0 + (self.c1 * alpha * alpha + self.c2 * rho * nu * alpha + q / 24.0 * nu * nu) * self.t
        return (alpha / self.denom * ratio * corr - self.vol) * self.sqrt_w

    def jacobian(self, p: FloatArray) -> FloatArray:
        alpha, rho, nu, z, ratio, dr_dz, dr_drho, q = self._parts(p)
        corr = 1.0 + (self.c1 * alpha * alpha + self.c2 * rho * nu * alpha + q / 24.0 * nu * nu) * self.t
        dc_dalpha = (2.0 * self.c1 * alpha + self.c2 * rho * nu) * self.t
        dc_drho = (self.c2 * nu * alpha - 0.25 * rho * nu * nu) * self.t
        dc_dnu = (self.c2 * rho * alpha + q / 12.0 * nu) * self.t
        lead = alpha / self.denom
        d_alpha = ratio * corr / self.denom + lead * (dr_dz * (-z / alpha) * corr + ratio * dc_dalpha)
        d_rho = lead * (dr_drho * corr + ratio * dc_drho)
        d_nu = lead * (dr_dz * (z / nu) * corr + ratio * dc_dnu)
        return np.stack([d_alpha, d_rho, d_nu], axis=1) * self.sqrt_w[:, None]


def fit_sabr(
    k: ArrayLike, vol: ArrayLike, forward: float, t_years: float, *, beta: float = 1.0, weights: ArrayLike | None = None
) -> SabrSmile:
    """Least-squares fit of (alpha, rho, nu) with beta fixed, residuals in vol.

    beta = 1 (lognormal backbone) is the default for crypto, whose smiles are quoted in
    log-moneyness and move roughly sticky-moneyness; any beta in [0, 1] is accepted.
    Nine starts in (rho, nu), the best wins (ties to the earlier start); each runs the
    deterministic :func:`pricing.lsq.levenberg_marquardt` with the exact Jacobian (no BLAS; the
    Hagan formula's logs through libm), so the fit does not depend on the CPU's BLAS kernels or
    SIMD width.

    Parameters
    ----------
    k : array_like
        Log-moneyness of the quotes.
    vol : array_like
        Their implied vols, decimal.
    forward : float
        The expiry's forward, USD.
    t_years : float
        Time to expiry, years ACT/365.
    beta : float
        Fixed backbone exponent in [0, 1].
    weights : array_like, optional
        Per-quote weights of the squared residuals (default 1).

    Returns
    -------
    SabrSmile
        The fitted smile.

    Notes
    -----
    min over (α, ρ, ν) of Σ_i w_i (σ_Hagan(k_i; α, β, ρ, ν) - σ_i)², by Levenberg-Marquardt
    (Moré 1978, "The Levenberg-Marquardt algorithm: implementation and theory").
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta: must be in [0, 1], got {beta!r}")
    kk = np.asarray(k, dtype=np.float64)
    vv = np.asarray(vol, dtype=np.float64)
    ww = np.ones_like(kk) if weights is None else np.asarray(weights, dtype=np.float64)
    sqrt_w = np.sqrt(ww / (math.fsum(ww.tolist()) / ww.size))
    atm = float(np.interp(0.0, kk, vv)) if kk.min() <= 0 <= kk.max() else float(np.median(vv))
    one_b = 1.0 - beta
    # Everything that does not depend on (alpha, rho, nu) is computed once: ln(F/K) = -k, and
    # (FK)^((1-beta)/2) = exp((1-beta)/2 (2 ln F + k)), exactly 1 for beta = 1.
    log_fk = -kk
    fk_pow = (
        np.ones_like(kk)
        if one_b == 0.0
        else np.fromiter((math.exp(0.5 * one_b * (2.0 * math.log(forward) + v)) for v in kk.tolist()), np.float64, kk.size)
    )
    lf2 = log_fk * log_fk
    ob2 = one_b * one_b
    denom = fk_pow * (1.0 + ob2 / 24.0 * lf2 + ob2 * ob2 / 1920.0 * lf2 * lf2)
    alpha0 = atm * math.exp(one_b * math.log(forward))
    objective = _SabrObjective(
        vv, sqrt_w, fk_pow * log_fk, denom, ob2 / (24.0 * fk_pow * fk_pow), beta / (4.0 * fk_pow), float(t_years)
    )

    lo = np.array([1e-8, -0.999, 1e-6])
    hi = np.array([np.inf, 0.999, 50.0])
    best: LsqResult | None = None
    for rho0 in (-0.3, 0.0, 0.3):
        for nu0 in (0.5, 1.5, 4.0):
            res = levenberg_marquardt(objective.residuals, objective.jacobian, np.array([alpha0, rho0, nu0]), lo, hi)
            if best is None or res.cost < best.cost * (1.0 - 1e-9):  # ties: the earlier start
                best = res
    assert best is not None
    a, r, n = map(float, best.x)
    return SabrSmile(a, beta, r, n, float(forward), float(t_years))
