"""Fused Black-76 price and greeks kernels (numba), the accelerated twins of :mod:`pricing.black`.

Each kernel makes one pass over flat float64 arrays: invariants, both normal CDFs and every
edge case in the same loop body, written branch-free (selects) so that LLVM vectorises it.
Work is split over threads by blocks of :data:`BLOCK` options (``prange``); the inner loop
stays vectorised. Formulas, units and edge cases are those of :func:`pricing.black.black76_price`
and :func:`pricing.black.black76_greeks` (Hull, OFOD 9th ed., eq. 18.9-18.10; Haug, 2nd ed.,
ch. 2), and ``tests/accel`` checks both paths agree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from pricing.accel.jit import inline, kernel
from pricing.accel.mathfn import exp_fast, log_fast, ncdf_given_pdf, npdf_fast

#: Options per thread task: large enough to amortise scheduling, small enough to balance.
BLOCK = 4096
#: Options below which a call runs on one thread: ~10 ns each, so under ~80 us of work, where
#: starting (or waiting for) a second thread costs as much as it saves.
SERIAL_BELOW = 8192


@inline
def _valid(f: float, k: float, t: float, v: float, df: float) -> bool:
    # Written as positive comparisons so that NaN anywhere makes the option invalid.
    return (f > 0.0) & (k > 0.0) & (t >= 0.0) & (v >= 0.0) & (df > 0.0) & (df < math.inf)


@inline
def _terms(fi: float, ki: float, ti: float, vi: float, ri: float, discounted: bool) -> tuple[float, ...]:
    """(DF, sqrt T, s = σ sqrt T, F/K, d1, d2, phi(d1)) of one option."""
    df = exp_fast(-ri * ti) if discounted else 1.0
    sqrt_t = math.sqrt(ti)
    sd = vi * sqrt_t
    fk = fi / ki
    d1 = log_fast(fk) / sd + 0.5 * sd
    return df, sqrt_t, sd, fk, d1, d1 - sd, npdf_fast(d1)


@kernel(serial_below=SERIAL_BELOW)
def price_kernel(
    w: np.ndarray,
    f: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    v: np.ndarray,
    r: np.ndarray,
    discounted: bool,
    inverse: bool,
    out: np.ndarray,
) -> None:
    """``out[i]`` = discounted Black-76 price (USD, or coin when ``inverse``); ``discounted``
    False means every rate is 0 (DF = 1 without an exponential)."""
    n = f.size
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        # Views of the block indexed from 0: see the module notes (contiguous loads, not gathers).
        wb, fb, kb, tb, vb, rb, ob = w[lo:hi], f[lo:hi], k[lo:hi], t[lo:hi], v[lo:hi], r[lo:hi], out[lo:hi]
        for j in range(hi - lo):
            wi, fi, ki, ti, vi = wb[j], fb[j], kb[j], tb[j], vb[j]
            df, _, sd, fk, d1, d2, pdf1 = _terms(fi, ki, ti, vi, rb[j], discounted)
            # phi(d2) = phi(d1) F/K: one exponential for both CDFs.
            live = df * wi * (fi * ncdf_given_pdf(wi * d1, pdf1) - ki * ncdf_given_pdf(wi * d2, pdf1 * fk))
            intrinsic = df * max(wi * (fi - ki), 0.0)
            p = live if sd > 0.0 else intrinsic
            p = p if _valid(fi, ki, ti, vi, df) else math.nan
            ob[j] = p / fi if inverse else p


@kernel(serial_below=SERIAL_BELOW)
def greeks_kernel(
    w: np.ndarray,
    f: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    v: np.ndarray,
    r: np.ndarray,
    discounted: bool,
    inverse: bool,
    out: np.ndarray,
) -> None:
    """``out[j, i]`` for j = price, delta, gamma, vega, theta, rho, vanna, volga
    (conventions of :class:`pricing.black.Greeks`); ``discounted`` as for :func:`price_kernel`.

    Each block is computed into a fresh (8, block) buffer, then copied to ``out``: LLVM knows a
    fresh buffer aliases no input, so the loop vectorises. Writing the 8 rows of ``out`` directly
    needs more run-time alias checks than LLVM allows, and it gave up (issue 33: 90.7 ns an
    option on one thread before, 16.9 after, best of 30 on 100,000 options, AVX-512).
    """
    n = f.size
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        buf = np.empty((8, hi - lo))
        wb, fb, kb, tb, vb, rb = w[lo:hi], f[lo:hi], k[lo:hi], t[lo:hi], v[lo:hi], r[lo:hi]
        for j in range(hi - lo):
            wi, fi, ki, ti, vi, ri = wb[j], fb[j], kb[j], tb[j], vb[j], rb[j]
            df, sqrt_t, sd, fk, d1, d2, pdf1 = _terms(fi, ki, ti, vi, ri, discounted)
            n1 = ncdf_given_pdf(wi * d1, pdf1)
            ok = _valid(fi, ki, ti, vi, df)
            live = sd > 0.0
            # phi(d2) = phi(d1) F/K: the density serves both CDFs and the greeks.
            n2 = ncdf_given_pdf(wi * d2, pdf1 * fk)
            price = df * wi * (fi * n1 - ki * n2) if live else df * max(wi * (fi - ki), 0.0)
            m = wi * (fi - ki)
            edge_delta = df * wi * (1.0 if m > 0.0 else (0.0 if m < 0.0 else 0.5))
            delta = df * wi * n1 if live else edge_delta
            gamma = df * pdf1 / (fi * sd) if live else 0.0
            vega = df * fi * pdf1 * sqrt_t if live else 0.0
            theta = (-df * fi * pdf1 * vi / (2.0 * sqrt_t) if live else 0.0) + ri * price
            vanna = -df * pdf1 * d2 / vi if live else 0.0
            volga = vega * d1 * d2 / vi if live else 0.0
            rho = -ti * price
            if inverse:
                price_c = price / fi
                delta_pa = delta - price_c
                gamma = gamma - delta_pa / fi
                vanna = vanna - vega / fi
                price, delta = price_c, delta_pa
                vega, theta, rho, volga = vega / fi, theta / fi, rho / fi, volga / fi
            nan = math.nan
            buf[0, j] = price if ok else nan
            buf[1, j] = delta if ok else nan
            buf[2, j] = gamma if ok else nan
            buf[3, j] = vega if ok else nan
            buf[4, j] = theta if ok else nan
            buf[5, j] = rho if ok else nan
            buf[6, j] = vanna if ok else nan
            buf[7, j] = volga if ok else nan
        for q in range(8):
            for j in range(hi - lo):
                out[q, lo + j] = buf[q, j]
