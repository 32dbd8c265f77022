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

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from pricing._typing import ArrayLike, FloatArray


def hagan_lognormal_vol(
    forward: ArrayLike, strike: ArrayLike, t_years: ArrayLike, alpha: float, beta: float, rho: float, nu: float
) -> FloatArray:
    """Hagan (2002) Black implied vol of the SABR model, vectorised over strikes."""
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(t_years, dtype=np.float64)
    one_b = 1.0 - beta
    log_fk = np.log(f / k)
    fk_pow = (f * k) ** (0.5 * one_b)
    z = nu / alpha * fk_pow * log_fk
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log((np.sqrt(1.0 - 2.0 * rho * z + z * z) + z - rho) / (1.0 - rho))
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
    """SABR parameters of one expiry; ``forward`` is the expiry's forward (USD)."""

    alpha: float
    beta: float
    rho: float
    nu: float
    forward: float
    t_years: float

    def implied_vol(self, k: ArrayLike) -> FloatArray:
        """Black vol at log-moneyness k = ln(K/F)."""
        strike = self.forward * np.exp(np.asarray(k, dtype=np.float64))
        return hagan_lognormal_vol(self.forward, strike, self.t_years, self.alpha, self.beta, self.rho, self.nu)

    def total_variance(self, k: ArrayLike) -> FloatArray:
        return self.implied_vol(k) ** 2 * self.t_years

    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "rho": self.rho, "nu": self.nu}


def fit_sabr(
    k: ArrayLike, vol: ArrayLike, forward: float, t_years: float, *, beta: float = 1.0, weights: ArrayLike | None = None
) -> SabrSmile:
    """Least-squares fit of (alpha, rho, nu) with beta fixed, residuals in vol.

    beta = 1 (lognormal backbone) is the default for crypto, whose smiles are quoted in
    log-moneyness and move roughly sticky-moneyness; any beta in [0, 1] is accepted.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta: must be in [0, 1], got {beta!r}")
    kk = np.asarray(k, dtype=np.float64)
    vv = np.asarray(vol, dtype=np.float64)
    ww = (
        np.ones_like(kk)
        if weights is None
        else np.asarray(weights, dtype=np.float64) / np.mean(np.asarray(weights, dtype=np.float64))
    )
    strikes = forward * np.exp(kk)
    atm = float(np.interp(0.0, kk, vv)) if kk.min() <= 0 <= kk.max() else float(np.median(vv))
    alpha0 = atm * forward ** (1.0 - beta)

    def residuals(p: FloatArray) -> FloatArray:
        model = hagan_lognormal_vol(forward, strikes, t_years, p[0], beta, p[1], p[2])
        return (model - vv) * np.sqrt(ww)

    best = None
    for rho0 in (-0.3, 0.0, 0.3):
        for nu0 in (0.5, 1.5, 4.0):
            res = least_squares(
                residuals, [alpha0, rho0, nu0], bounds=([1e-8, -0.999, 1e-6], [np.inf, 0.999, 50.0]), method="trf", x_scale="jac"
            )
            if best is None or res.cost < best.cost * (1.0 - 1e-9):  # ties: the earlier start
                best = res
    assert best is not None
    # Polished to machine precision, so the result is the optimum, not a loose stopping point.
    polished = least_squares(
        residuals,
        best.x,
        bounds=([1e-8, -0.999, 1e-6], [np.inf, 0.999, 50.0]),
        method="trf",
        x_scale="jac",
        ftol=1e-15,
        xtol=1e-15,
        gtol=1e-15,
        max_nfev=2000,
    )
    a, r, n = map(float, polished.x if polished.cost <= best.cost else best.x)
    return SabrSmile(a, beta, r, n, float(forward), float(t_years))
