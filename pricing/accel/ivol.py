"""Implied-vol solver kernel (numba), the accelerated twin of :func:`pricing.implied_vol._solve_chunk`.

Same method, element by element and in parallel over blocks: Halley's iteration on
ln b(s) = ln beta for the normalised OTM price b (Jaeckel 2015 normalisation), inside a
bracket that every iterate narrows, bisection when a step leaves it, and the blended
asymptotic initial guess. The normal CDF is libm's erfc (``ncdf_tail``): deep OTM the
objective is ln b, which needs N relatively accurate far in the left tail. The inverse normal
of the initial guess is Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) refined by one Newton
step; it only places the start, the iteration does the rest.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from pricing.accel.jit import inline, kernel
from pricing.accel.mathfn import ncdf_tail

_INV_SQRT_2PI = 0.3989422804014327
_S_TOL = 1e-13
_HALLEY_DONE = 1e-7
_MAX_ITER = 100
BLOCK = 1024
#: Vols below which a call runs on one thread (~250 ns each: ~60 us of work).
SERIAL_BELOW = 256


@inline
def _ndtri_lower(x: float) -> float:
    """N^-1(x) for 0 < x <= 0.5 (A&S 26.2.23 plus one Newton step)."""
    t = math.sqrt(-2.0 * math.log(x))
    z = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return z - (ncdf_tail(z) - x) / pdf if pdf > 0.0 else z


@kernel(serial_below=SERIAL_BELOW)
def solve_kernel(y: np.ndarray, log_beta: np.ndarray, out: np.ndarray, converged: np.ndarray) -> None:
    """Normalised total vol s per element (``out``) and whether it converged."""
    m = y.size
    for b in prange((m + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(m, (b + 1) * BLOCK)):
            yi, lb = y[i], log_beta[i]
            ey = math.exp(0.5 * yi)
            beta = math.exp(lb)
            rel = beta / ey
            s_low = max(beta * math.sqrt(2.0 * math.pi), abs(yi) / math.sqrt(max(-2.0 * lb, 1e-300)))
            s_top = -2.0 * _ndtri_lower(min(max((ey - beta) / (ey + 1.0 / ey), 1e-300), 0.5))
            s = s_low + rel * (s_top - s_low)
            lo, hi = 0.0, math.inf
            y2 = yi * yi
            done = False
            for _ in range(_MAX_ITER):
                a = yi / s
                half = 0.5 * s
                d1 = a + half
                bval = ey * ncdf_tail(d1) - ncdf_tail(a - half) / ey
                g = math.log(bval) - lb
                g1 = ey * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1) / bval
                if g > 0:
                    hi = s
                else:
                    lo = s
                newton = g / g1
                g2 = g1 * (y2 / (s * s * s) - 0.5 * half) - g1 * g1
                s_new = s - newton / (1.0 - 0.5 * newton * g2 / g1)
                outside = not ((s_new >= lo) and (s_new <= hi))
                if outside:
                    s_new = 0.5 * (lo + hi) if hi < math.inf else 2.0 * max(s, lo)
                exact = g == 0.0
                if exact:
                    s_new = s
                finished = (abs(s_new - s) <= _HALLEY_DONE * s_new and not outside) or exact or (hi - lo <= _S_TOL * lo)
                s = s_new
                if finished:
                    done = True
                    break
            out[i] = s
            converged[i] = done
