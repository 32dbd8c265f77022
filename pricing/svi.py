"""Raw SVI smiles: total variance, fitting and the butterfly-arbitrage check.

Raw SVI (Gatheral, 2004): :math:`w(k) = a + b\\,[\\rho (k - m) + \\sqrt{(k - m)^2 + \\sigma^2}]`,
with k = ln(K/F) and w = implied variance x T. Butterfly arbitrage is absent iff the density
:math:`g(k) \\ge 0` (Gatheral & Jacquier, "Arbitrage-free SVI volatility surfaces",
Quantitative Finance 14(1), 2014, eq. 2.1):

.. math:: g(k) = \\Bigl(1 - \\frac{k w'}{2w}\\Bigr)^2 - \\frac{w'^2}{4}\\Bigl(\\frac1w + \\frac14\\Bigr) + \\frac{w''}{2}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.lsq import LsqResult, levenberg_marquardt


@dataclass(frozen=True)
class SviSmile:
    """Raw SVI parameters of one expiry (total variance in year units).

    Attributes
    ----------
    a, b, rho, m, sigma : float
        Raw SVI: w(k) = a + b (ρ (k - m) + √((k - m)² + σ²)) (Gatheral 2004).
    t_years : float
        Time to expiry, years ACT/365.
    """

    a: float
    b: float
    rho: float
    m: float
    sigma: float
    t_years: float

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """w(k) for log-moneyness k = ln(K/F).

        Parameters
        ----------
        k : array_like
            Log-moneyness ln(K/F), any shape.

        Returns
        -------
        ndarray
            Year units, shape of ``k``.

        Notes
        -----
        w(k) = a + b (ρ (k - m) + √((k - m)² + σ²)) (Gatheral and Jacquier 2014, "Arbitrage-free SVI
        volatility surfaces", Quantitative Finance 14(1), eq. 3.1).
        """
        x = np.asarray(k, dtype=np.float64) - self.m
        return self.a + self.b * (self.rho * x + np.sqrt(x * x + self.sigma * self.sigma))

    def derivatives(self, k: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(w, w', w'') at k.

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        (w, w1, w2) : ndarrays
            Shape of ``k``.

        Notes
        -----
        w' = b (ρ + x/√(x² + σ²)), w'' = b σ² / (x² + σ²)^(3/2), x = k - m.
        """
        x = np.asarray(k, dtype=np.float64) - self.m
        root = np.sqrt(x * x + self.sigma * self.sigma)
        w = self.a + self.b * (self.rho * x + root)
        return w, self.b * (self.rho + x / root), self.b * self.sigma * self.sigma / (root * root * root)

    def implied_vol(self, k: ArrayLike) -> FloatArray:
        """Black vol √(w(k)/T) at log-moneyness k (0 where w <= 0).

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        ndarray
            Decimal, shape of ``k``.
        """
        return np.sqrt(np.maximum(self.total_variance(k), 0.0) / self.t_years)

    def density_g(self, k: ArrayLike) -> FloatArray:
        """Gatheral-Jacquier g(k); negative values mean butterfly arbitrage.

        Parameters
        ----------
        k : array_like
            Log-moneyness.

        Returns
        -------
        ndarray
            Durrleman's g(k), same shape as ``k``; g < 0 is a butterfly arbitrage.

        Notes
        -----
        g(k) = (1 - k w'/(2w))² - w'²/4 (1/w + 1/4) + w''/2 (Gatheral and Jacquier 2014, eq. 2.1).
        """
        w, w1, w2 = self.derivatives(k)
        kk = np.asarray(k, dtype=np.float64)
        return (1.0 - kk * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2

    def butterfly_free(self, k: ArrayLike) -> bool:
        """True if g(k) >= 0 and w(k) > 0 on the given grid.

        Parameters
        ----------
        k : array_like
            Log-moneyness grid.

        Returns
        -------
        bool
            True if g(k) >= 0 on the grid checked.
        """
        w = self.total_variance(k)
        return bool(np.all(w > 0) and np.all(self.density_g(k) >= -1e-12))

    def params(self) -> dict[str, float]:
        """The raw SVI parameters by name (for fit reports).

        Returns
        -------
        dict of str to float
            ``a``, ``b``, ``rho``, ``m``, ``sigma``.
        """
        return {"a": self.a, "b": self.b, "rho": self.rho, "m": self.m, "sigma": self.sigma}


def penalty_grid(k: FloatArray) -> FloatArray:
    """The k grid on which fits penalise and checks test butterfly arbitrage: the quoted
    range widened by half its span on each side.

    Parameters
    ----------
    k : ndarray
        Log-moneyness of the quotes.

    Returns
    -------
    ndarray
        The log-moneyness grid the arbitrage penalty is evaluated on.
    """
    span = max(k.max() - k.min(), 0.2)
    return np.linspace(k.min() - 0.5 * span, k.max() + 0.5 * span, 41)


#: Tikhonov weight on (sigma, m), per quote, in squared vol units. Raw SVI has a near-flat
#: valley: when |k - m| << sigma the smile is a parabola, and (a, b, sigma, m) trade off along it
#: with no change in the fit (measured on the bundled chains: 1e-15 noise in the inputs moved
#: fitted parameters by up to 34%). The penalty selects the smallest-sigma member of that
#: family; at 1e-5 it left the mean fit error unchanged to 0.01 vol point.
SVI_RIDGE = 1e-5

#: Two fits whose costs differ by less than this (relative) are ties: the earlier start wins.
_TIE = 1e-9

#: Weight of the no-arbitrage penalties (density g < 0 on the grid, Lee's wing bound) against
#: residuals in vol.
_PENALTY = 10.0

#: Floor on total variance inside the fit (the model vol is sqrt(max(w, floor) / T)).
_W_FLOOR = 1e-12

#: Stopping tolerance of a cold fit (three starts, as a file is fitted): polished to machine
#: precision, :func:`pricing.lsq.levenberg_marquardt`'s ``xtol`` and ``ftol``.
COLD_TOL = 1e-15

#: Stopping tolerance of a warm-started fit (the live desk's refit from the last slice): stop
#: when an accepted step lowers the cost by no more than 1e-12 of it, or moves no parameter by
#: more than 1e-12 relative. The tail of iterations from 1e-12 to 1e-15 moved the smile by less
#: than 1e-8 in vol on the bundled chains and took ~35 % of a warm fit's iterations
#: (``tests/property/test_svi_warm_stop.py`` bounds the difference for any move).
WARM_TOL = 1e-12


@dataclass(frozen=True)
class _SviObjective:
    """Residuals of the raw-SVI fit and their exact Jacobian, in IEEE basic operations only
    (+, -, x, /, sqrt, max), so that the fit is the same on every CPU (:mod:`pricing.lsq`).

    Levenberg-Marquardt asks for the residuals at a trial point and, when the step is accepted,
    the Jacobian at the same point: the smile's values at that point are kept (one point, the
    last), so each is computed once; derivatives only when the Jacobian is asked for. The
    expressions are the same whichever path computes them, so the fit is the same bits.
    """

    k: FloatArray
    vol: FloatArray
    sqrt_w: FloatArray
    grid: FloatArray
    t: float
    ridge: float
    _memo: dict[str, tuple[bytes, tuple[FloatArray, ...]]] = field(default_factory=dict, compare=False, repr=False)

    def _values(self, p: FloatArray, which: str) -> tuple[FloatArray, ...]:
        """(x, root, w, w1, w2) of the smile on ``self.k`` or ``self.grid`` (``which``), last point kept."""
        key = p.tobytes()
        hit = self._memo.get(which)
        if hit is not None and hit[0] == key:
            return hit[1]
        k = self.k if which == "k" else self.grid
        a, b, rho, m, sigma = (float(v) for v in p)
        x = k - m
        s2 = sigma * sigma
        root = np.sqrt(x * x + s2)
        w = a + b * (rho * x + root)
        w1 = b * (rho + x / root)
        r3 = root * root * root
        w2 = b * s2 / r3
        out = (x, root, w, w1, w2)
        self._memo[which] = (key, out)
        return out

    def _derivatives(self, p: FloatArray, which: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """d/d(a, b, rho, m, sigma) of w, w' and w'' (columns) on ``self.k`` or ``self.grid``."""
        x, root, _, _, _ = self._values(p, which)
        k = self.k if which == "k" else self.grid
        _, b, rho, _, sigma = (float(v) for v in p)
        s2 = sigma * sigma
        r3 = root * root * root
        r5 = r3 * root * root
        n = k.size
        dw, dw1, dw2 = np.empty((n, 5)), np.zeros((n, 5)), np.zeros((n, 5))
        dw[:, 0] = 1.0
        dw[:, 1] = rho * x + root
        dw[:, 2] = b * x
        dw[:, 3] = -b * (rho + x / root)
        dw[:, 4] = b * sigma / root
        dw1[:, 1] = rho + x / root
        dw1[:, 2] = b
        dw1[:, 3] = -b * s2 / r3
        dw1[:, 4] = -b * x * sigma / r3
        dw2[:, 1] = s2 / r3
        dw2[:, 3] = 3.0 * b * s2 * x / r5
        dw2[:, 4] = b * (2.0 * sigma / r3 - 3.0 * sigma * s2 / r5)
        return dw, dw1, dw2

    def _lead(self, p: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Gatheral-Jacquier g on the grid, and its leading factor 1 - k w' / (2 w)."""
        k = self.grid
        _, _, w, w1, w2 = self._values(p, "grid")
        lead = 1.0 - k * w1 / (2.0 * w)
        g = lead * lead - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
        return g, lead

    def _density_jacobian(self, p: FloatArray, lead: FloatArray) -> FloatArray:
        """dg/dp on the grid."""
        k = self.grid
        _, _, w, w1, _ = self._values(p, "grid")
        dw, dw1, dw2 = self._derivatives(p, "grid")
        kc, wc, w1c = k[:, None], w[:, None], w1[:, None]
        dlead = -0.5 * kc * (dw1 * wc - w1c * dw) / (wc * wc)
        return 2.0 * lead[:, None] * dlead - 0.5 * w1c * dw1 * (1.0 / wc + 0.25) + 0.25 * w1c * w1c * dw / (wc * wc) + 0.5 * dw2

    def residuals(self, p: FloatArray) -> FloatArray:
        w = self._values(p, "k")[2]
        model = np.sqrt(np.maximum(w, _W_FLOOR) / self.t)
        g = self._lead(p)[0]
        b, rho = float(p[1]), float(p[2])
        wing = max(b * (1.0 + abs(rho)) - 4.0 / self.t, 0.0)
        return np.concatenate(
            [(model - self.vol) * self.sqrt_w, _PENALTY * np.maximum(-g, 0.0), [_PENALTY * wing], self.ridge * p[[4, 3]]]
        )

    def jacobian(self, p: FloatArray) -> FloatArray:
        w = self._values(p, "k")[2]
        dw = self._derivatives(p, "k")[0]
        model = np.sqrt(np.maximum(w, _W_FLOOR) / self.t)
        d_fit = np.where((w > _W_FLOOR)[:, None], dw / (2.0 * self.t * model)[:, None], 0.0) * self.sqrt_w[:, None]
        g, lead = self._lead(p)
        dg = self._density_jacobian(p, lead)
        d_density = np.where((g < 0.0)[:, None], -_PENALTY * dg, 0.0)
        b, rho = float(p[1]), float(p[2])
        d_wing = np.zeros((1, 5))
        if b * (1.0 + abs(rho)) - 4.0 / self.t > 0.0:
            d_wing[0, 1] = _PENALTY * (1.0 + abs(rho))
            d_wing[0, 2] = _PENALTY * b * (1.0 if rho > 0 else -1.0 if rho < 0 else 0.0)
        d_ridge = np.zeros((2, 5))
        d_ridge[0, 4] = d_ridge[1, 3] = self.ridge
        return np.concatenate([d_fit, d_density, d_wing, d_ridge])


def fit_svi(
    k: ArrayLike,
    vol: ArrayLike,
    t_years: float,
    weights: ArrayLike | None = None,
    *,
    start: SviSmile | None = None,
    tol: float | None = None,
) -> SviSmile:
    """Least-squares raw-SVI fit to implied vols of one expiry.

    Parameters
    ----------
    k : array_like
        Log-moneyness ln(K/F) of the quotes.
    vol : array_like
        Implied vols (decimal).
    t_years : float
        Time to expiry (ACT/365).
    weights : array_like, optional
        Residual weights (e.g. vega); default equal.
    start : SviSmile, optional
        A warm start (the live desk's last fit of this expiry): the three cold starts are
        replaced by this one, then polished as usual.
    tol : float, optional
        Levenberg-Marquardt's ``xtol`` and ``ftol``; default :data:`COLD_TOL` (1e-15) for a cold
        fit and :data:`WARM_TOL` (1e-12) for a warm-started one.

    Returns
    -------
    SviSmile
        The fitted smile.

    Notes
    -----
    Residuals are in vol (so the fit error reads in vol points). Bounds keep b >= 0,
    |rho| < 1, sigma > 0, and Lee's wing bound b (1 + |rho|) <= 4 / T is a soft penalty
    together with max(-g, 0) on a grid 50% wider than the quotes (Gatheral & Jacquier 2014),
    so fits are butterfly-free where the data allow. A ridge of :data:`SVI_RIDGE` per quote
    on (sigma, m) makes the optimum unique (see there). Three starts in sigma guard against
    local minima; the best (ties to the earlier start) wins. Each start runs
    :func:`pricing.lsq.levenberg_marquardt` with the exact Jacobian to machine precision, in
    IEEE basic operations and correctly rounded sums only, so the fitted parameters are the
    same bits on every CPU (no BLAS, no libm transcendental inside the fit). A warm-started fit
    stops at :data:`WARM_TOL` (a cost decrease of at most 1e-12 relative per accepted step): it
    starts next to the optimum, and the last decades of polish do not move the smile.
    """
    kk = np.asarray(k, dtype=np.float64)
    vv = np.asarray(vol, dtype=np.float64)
    ww = np.ones_like(kk) if weights is None else np.asarray(weights, dtype=np.float64)
    ww = ww / (math.fsum(ww.tolist()) / ww.size)
    t = float(t_years)
    atm = float(np.interp(0.0, kk, vv)) if kk.min() <= 0 <= kk.max() else float(np.median(vv))
    w_atm = atm * atm * t
    objective = _SviObjective(kk, vv, np.sqrt(ww), penalty_grid(kk), t, math.sqrt(SVI_RIDGE * kk.size))
    lo = np.array([-np.inf, 0.0, -0.999, kk.min() - 1.0, 1e-4])
    hi = np.array([np.inf, np.inf, 0.999, kk.max() + 1.0, 5.0])
    starts = []
    for s0 in (0.05, 0.15, 0.4):
        b0 = max(0.05, 0.5 * w_atm / s0)
        starts.append(np.array([max(w_atm - b0 * s0, 1e-6), b0, -0.2, 0.0, s0]))
    if start is not None:
        # A warm start (the live desk's last fit of this expiry) replaces the three cold starts.
        starts = [np.array([start.a, start.b, start.rho, start.m, start.sigma])]
    stop = tol if tol is not None else (COLD_TOL if start is None else WARM_TOL)
    best: LsqResult | None = None
    for x_start in starts:
        x0 = np.clip(x_start, lo + 1e-9, hi - 1e-9)
        res = levenberg_marquardt(objective.residuals, objective.jacobian, x0, lo, hi, xtol=stop, ftol=stop)
        if best is None or res.cost < best.cost * (1.0 - _TIE):
            best = res
    assert best is not None
    a, b, rho, m, sigma = map(float, best.x)
    return SviSmile(a, b, rho, m, sigma, t)
