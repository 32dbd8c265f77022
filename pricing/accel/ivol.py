"""Implied-vol solver kernel (numba), the accelerated twin of :func:`pricing.implied_vol._solve_chunk`.

Same method: Halley's iteration on ln b(s) = ln beta for the normalised OTM price b (Jaeckel
2015 normalisation), inside a bracket that every iterate narrows, bisection when a step leaves
it, and the blended asymptotic initial guess. The inverse normal of the initial guess is
Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) refined by one Newton step; it only places the
start, the iteration does the rest.

**Two phases per block** (issue 33). The solver used to run each element to convergence in a
loop with an early exit and libm's ``erfc``/``exp``/``log``: neither vectorises, so the kernel
ran one lane wide (about 190 ns a vol on one thread) and numpy's array-at-a-time solver beat it.
Now, per block of :data:`BLOCK` elements:

1. *Vectorised phase*: the initial guess and :data:`VECTOR_STEPS` Halley steps for every
   element of the block together, branch-free (an element that has finished keeps its state:
   a select, not an exit), with the branch-free :func:`~pricing.accel.mathfn.exp_fast`,
   :func:`~pricing.accel.mathfn.log_fast` and the Mills-ratio normal CDF
   :func:`~pricing.accel.mathfn.ncdf_given_pdf`, whose error is relative in the left tail as
   well (<= 5e-13 far out, measured against ``scipy.special.ndtr``), which the log objective
   needs deep OTM.
2. *Scalar phase*: the elements not finished after those steps (few: the blended guess needs
   about 3 evaluations on average) go on one at a time with libm's functions (``erfc``:
   ~1 ulp in the whole left tail) until they finish, up to :data:`MAX_ITER` steps in all.

An element whose ln beta is below :data:`FAST_LOG_BETA_MIN` skips the vectorised phase:
``exp_fast`` flushes to 0 below e^-708 where libm goes on into subnormals, and a b that
rounds to 0 while the true b is above beta would move the bracket the wrong way.

Which elements finish in which phase depends on the element alone, so a vol does not depend
on its batch (1 vs 2 threads bit-identical: ``tests/cross/test_kernel_threads.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from pricing.accel.jit import inline, kernel
from pricing.accel.mathfn import exp_fast, log_fast, ncdf_given_pdf, ncdf_tail, npdf_fast

_INV_SQRT_2PI = 0.3989422804014327
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_S_TOL = 1e-13
_HALLEY_DONE = 1e-7
MAX_ITER = 100
#: Halley steps every element of a block takes in the vectorised phase. Measured on 200,000
#: random vols (the bench's inputs), one thread, best of 9, one run each at load average ~5:
#: 2 steps 158 ns a vol, 3 steps 111, 4 steps 85, 5 steps 86, 6 steps 132 (noisy: read the
#: shape, not the figures). Fewer steps leave more elements to the scalar phase; more do
#: vectorised work the converged elements throw away.
VECTOR_STEPS = 4
#: Below this ln beta an element is solved by the scalar (libm) phase alone (see module notes).
FAST_LOG_BETA_MIN = -700.0
BLOCK = 1024
#: Vols below which a call runs on one thread (~100 ns each: ~25 us of work).
SERIAL_BELOW = 256


@inline
def _ndtri_lower(x: float) -> float:
    """N^-1(x) for 0 < x <= 0.5 (A&S 26.2.23 plus one Newton step), branch-free."""
    t = math.sqrt(-2.0 * log_fast(x))
    z = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    pdf = npdf_fast(z)
    refined = z - (ncdf_given_pdf(z, pdf) - x) / pdf
    return refined if pdf > 0.0 else z


@inline
def _start(yi: float, lb: float) -> float:
    """The blended asymptotic initial guess (see :func:`pricing.implied_vol._initial_guess`)."""
    ey = exp_fast(0.5 * yi)
    beta = exp_fast(lb)
    rel = beta / ey
    s_low = max(beta * _SQRT_2PI, abs(yi) / math.sqrt(max(-2.0 * lb, 1e-300)))
    s_top = -2.0 * _ndtri_lower(min(max((ey - beta) / (ey + 1.0 / ey), 1e-300), 0.5))
    return s_low + rel * (s_top - s_low)


@inline
def _objective_fast(yi: float, lb: float, s: float) -> tuple[float, float]:
    """(g, g') = (ln b(s) - ln beta, d ln b / ds) with the branch-free functions."""
    ey = exp_fast(0.5 * yi)
    a = yi / s
    half = 0.5 * s
    d1 = a + half
    d2 = a - half
    pdf1 = npdf_fast(d1)
    bval = ey * ncdf_given_pdf(d1, pdf1) - ncdf_given_pdf(d2, npdf_fast(d2)) / ey
    return log_fast(bval) - lb, ey * pdf1 / bval


@inline
def _objective_libm(yi: float, lb: float, s: float) -> tuple[float, float]:
    """(g, g') with libm's erfc, exp and log (relative accuracy everywhere, one lane)."""
    ey = math.exp(0.5 * yi)
    a = yi / s
    half = 0.5 * s
    d1 = a + half
    bval = ey * ncdf_tail(d1) - ncdf_tail(a - half) / ey
    return math.log(bval) - lb, ey * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1) / bval


@inline
def _halley(yi: float, s: float, lo: float, hi: float, g: float, g1: float) -> tuple[float, float, float, bool]:
    """One safeguarded Halley step from s given (g, g'): (s', lo', hi', finished), branch-free."""
    above = g > 0.0
    hi = s if above else hi
    lo = lo if above else s  # NaN g counts as below, as it always did
    newton = g / g1
    half = 0.5 * s
    g2 = g1 * (yi * yi / (s * s * s) - 0.5 * half) - g1 * g1
    s_new = s - newton / (1.0 - 0.5 * newton * g2 / g1)
    outside = not ((s_new >= lo) and (s_new <= hi))
    bisect = 0.5 * (lo + hi) if hi < math.inf else 2.0 * max(s, lo)
    s_new = bisect if outside else s_new
    exact = g == 0.0
    s_new = s if exact else s_new
    finished = ((abs(s_new - s) <= _HALLEY_DONE * s_new) and not outside) or exact or (hi - lo <= _S_TOL * lo)
    return s_new, lo, hi, finished


@kernel(serial_below=SERIAL_BELOW)
def solve_kernel(y: np.ndarray, log_beta: np.ndarray, out: np.ndarray, converged: np.ndarray) -> None:
    """Normalised total vol s per element (``out``) and whether it converged."""
    m = y.size
    for b in prange((m + BLOCK - 1) // BLOCK):
        first = b * BLOCK
        nb = min(m, first + BLOCK) - first
        # Block views indexed from 0 (contiguous loads) and fresh state buffers (no aliasing).
        yb, lbb = y[first : first + nb], log_beta[first : first + nb]
        s = np.empty(nb)
        lo = np.zeros(nb)
        hi = np.full(nb, math.inf)
        state = np.empty(nb)  # 0: iterating, 1: finished, 2: left to the scalar phase
        for j in range(nb):
            s[j] = _start(yb[j], lbb[j])
            state[j] = 0.0 if lbb[j] >= FAST_LOG_BETA_MIN else 2.0
        for _ in range(VECTOR_STEPS):
            for j in range(nb):
                sj, loj, hij = s[j], lo[j], hi[j]
                g, g1 = _objective_fast(yb[j], lbb[j], sj)
                s_new, lo_new, hi_new, fin = _halley(yb[j], sj, loj, hij, g, g1)
                live = state[j] == 0.0
                s[j] = s_new if live else sj
                lo[j] = lo_new if live else loj
                hi[j] = hi_new if live else hij
                state[j] = (1.0 if fin else 0.0) if live else state[j]
        for j in range(nb):
            sj, loj, hij = s[j], lo[j], hi[j]
            done = state[j] == 1.0
            steps = 0 if state[j] == 2.0 else VECTOR_STEPS
            if state[j] == 2.0:
                sj = _start_libm(yb[j], lbb[j])
            while not done and steps < MAX_ITER:
                g, g1 = _objective_libm(yb[j], lbb[j], sj)
                sj, loj, hij, done = _halley(yb[j], sj, loj, hij, g, g1)
                steps += 1
            out[first + j] = sj
            converged[first + j] = done


@inline
def _ndtri_lower_libm(x: float) -> float:
    """N^-1(x) for 0 < x <= 0.5 with libm's functions (the scalar phase's start)."""
    t = math.sqrt(-2.0 * math.log(x))
    z = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return z - (ncdf_tail(z) - x) / pdf if pdf > 0.0 else z


@inline
def _start_libm(yi: float, lb: float) -> float:
    """:func:`_start` with libm's functions, for elements that skip the vectorised phase."""
    ey = math.exp(0.5 * yi)
    beta = math.exp(lb)
    rel = beta / ey
    s_low = max(beta * _SQRT_2PI, abs(yi) / math.sqrt(max(-2.0 * lb, 1e-300)))
    s_top = -2.0 * _ndtri_lower_libm(min(max((ey - beta) / (ey + 1.0 / ey), 1e-300), 0.5))
    return s_low + rel * (s_top - s_low)
