"""Fused Black-76 price and greeks kernels (numba), the accelerated twins of :mod:`pricing.black`.

The greeks kernel makes one pass over flat float64 arrays: invariants, both normal CDFs and
every edge case in the same loop body, written branch-free (selects) so that LLVM vectorises it.
The price kernel computes the same numbers in two shorter passes per sub-block (see
:func:`price_kernel`).
Work is split over threads by blocks of :data:`BLOCK` options (``prange``); the inner loop
stays vectorised. Formulas, units and edge cases are those of :func:`pricing.black.black76_price`
and :func:`pricing.black.black76_greeks` (Hull, OFOD 9th ed., eq. 18.9-18.10; Haug, 2nd ed.,
ch. 2), and ``tests/accel`` checks both paths agree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from pricing.accel._ncdf_series import Z_SPLIT
from pricing.accel.jit import inline, kernel
from pricing.accel.mathfn import exp_fast, log_fast, ncdf_given_pdf, ncdf_near_t_given_pdf, ncdf_t_given_pdf, npdf_fast

#: Options per thread task: large enough to amortise scheduling, small enough to balance.
BLOCK = 4096
#: Options below which a call runs on one thread: ~10 ns each, so under ~80 us of work, where
#: starting (or waiting for) a second thread costs as much as it saves.
SERIAL_BELOW = 8192
#: Options per sub-block of the price kernel's passes: its scratch (3 x 4 KiB) stays in L1.
SUB = 512


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


@inline
def _price_one(wi: float, fi: float, ki: float, ti: float, vi: float, ri: float, discounted: bool) -> float:
    """Price of one option by the full formula: both pieces of the normal CDF, every edge case.

    The one-pass definition of :func:`price_kernel`'s numbers; the kernel runs it only for the
    options its near pass flags (an argument of a CDF at or beyond ``Z_SPLIT``, or NaN).
    """
    df, _, sd, fk, d1, d2, pdf1 = _terms(fi, ki, ti, vi, ri, discounted)
    # phi(d2) = phi(d1) F/K: one exponential for both CDFs.
    live = df * wi * (fi * ncdf_t_given_pdf(wi * d1, pdf1) - ki * ncdf_t_given_pdf(wi * d2, pdf1 * fk))
    intrinsic = df * max(wi * (fi - ki), 0.0)
    p = live if sd > 0.0 else intrinsic
    return p if _valid(fi, ki, ti, vi, df) else math.nan


@inline
def _d1_pass(f: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray, d1: np.ndarray, sd: np.ndarray, fk: np.ndarray) -> int:
    """First pass of a sub-block: s = σ sqrt T, F/K and d1 = ln(F/K) / s + s / 2 into scratch.

    The same operations as :func:`_terms`, so the same bits. Returns how many options have
    |d1| or |d1 - s| at or beyond ``Z_SPLIT`` (or NaN): only the route is chosen by it.
    """
    nfar = 0
    for j in range(f.size):
        s = v[j] * math.sqrt(t[j])
        q = f[j] / k[j]
        d = log_fast(q) / s + 0.5 * s
        d1[j] = d
        sd[j] = s
        fk[j] = q
        nfar += 0 if (abs(d) < Z_SPLIT) & (abs(d - s) < Z_SPLIT) else 1
    return nfar


@inline
def _full_pass(
    w: np.ndarray, f: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray, r: np.ndarray, discounted: bool, out: np.ndarray
) -> None:
    """:func:`_price_one` for every option of a sub-block (one loop, vectorised): the route for a
    sub-block whose options are mostly far, where the near pass would be wasted work."""
    for j in range(f.size):
        out[j] = _price_one(w[j], f[j], k[j], t[j], v[j], r[j], discounted)


@inline
def _near_pass(
    w: np.ndarray,
    f: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    v: np.ndarray,
    r: np.ndarray,
    discounted: bool,
    d1: np.ndarray,
    sd: np.ndarray,
    fk: np.ndarray,
    out: np.ndarray,
    far: np.ndarray,
) -> None:
    """Second pass: the price with the near piece of the CDF alone; ``far[j]`` = 1 where that is not valid.

    Where both |w d1| and |w d2| are below ``Z_SPLIT`` the near piece is the piece
    :func:`ncdf_t_given_pdf` selects (same bits), so ``out[j]`` is :func:`_price_one`'s number;
    elsewhere (a far argument, NaN) ``far[j]`` is set and the caller recomputes the option.
    """
    for j in range(f.size):
        wi, fi, ki, ti, vi = w[j], f[j], k[j], t[j], v[j]
        df = exp_fast(-r[j] * ti) if discounted else 1.0
        s, x1 = sd[j], wi * d1[j]
        x2 = wi * (d1[j] - s)
        pdf1 = npdf_fast(d1[j])
        live = df * wi * (fi * ncdf_near_t_given_pdf(x1, pdf1) - ki * ncdf_near_t_given_pdf(x2, pdf1 * fk[j]))
        intrinsic = df * max(wi * (fi - ki), 0.0)
        p = live if s > 0.0 else intrinsic
        out[j] = p if _valid(fi, ki, ti, vi, df) else math.nan
        # Written as positive comparisons so that NaN goes to the full formula.
        near = (abs(x1) < Z_SPLIT) & (abs(x2) < Z_SPLIT)
        far[j] = 0 if near else 1


@inline
def _recompute_far(
    w: np.ndarray,
    f: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    v: np.ndarray,
    r: np.ndarray,
    discounted: bool,
    far: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[j]`` = :func:`_price_one` for every flagged ``j`` of a block.

    The flagged options are copied into a fresh buffer and priced in one loop that LLVM
    vectorises, then written back: one option at a time, the formula's dependency chain
    (two divisions, log, exp, both CDF pieces) ran at its latency, and the 0.6 % of the
    benchmark's options it applies to cost ~9 % of the kernel's time.
    """
    n = f.size
    idx = np.empty(n, dtype=np.int64)
    cnt = 0
    # The flags 8 at a time: one test per 8 options when none is far (the usual case).
    words = far.view(np.uint64)
    for q in range((n + 7) // 8):
        if words[q] != 0:
            for j in range(8 * q, min(8 * q + 8, n)):
                idx[cnt] = j
                cnt += far[j]
    if cnt == 0:
        return
    g = np.empty((7, cnt))
    for q in range(cnt):
        j = idx[q]
        g[0, q], g[1, q], g[2, q], g[3, q], g[4, q], g[5, q] = w[j], f[j], k[j], t[j], v[j], r[j]
    for q in range(cnt):
        g[6, q] = _price_one(g[0, q], g[1, q], g[2, q], g[3, q], g[4, q], g[5, q], discounted)
    for q in range(cnt):
        out[idx[q]] = g[6, q]


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
    False means every rate is 0 (DF = 1 without an exponential).

    Every number is :func:`_price_one`'s (``tests/cross/test_price_kernel_passes.py`` checks the
    bits), computed in passes over sub-blocks of :data:`SUB` options (issue 33, docs/speed.md
    "Part four"): the one-pass loop was bound by the latency of its dependency chain (a division
    for F/K, log, a division by s, exp, then the CDFs' polynomials: ~700 instructions an
    iteration on AVX2, too long for the out-of-order window to overlap two iterations). Split in
    two, each pass's chain is short, and the second evaluates only the near piece of the CDF (the
    far piece and its division are for |d| >= ``Z_SPLIT``, 0.6 % of the benchmark's options);
    the options it flags are recomputed by :func:`_price_one` (:func:`_recompute_far`). A
    sub-block whose options are mostly far (short-dated wings) skips the near pass and takes
    :func:`_price_one` for all (:func:`_full_pass`): at 69 % far options the kernel then stays
    within ~15 % of the one-pass kernel instead of 3.5x slower (docs/speed.md "Part four").
    ``discounted`` is tested outside the loops (one loop each), so no loop carries the masked
    load of the rates.
    """
    n = f.size
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        far = np.zeros(BLOCK, dtype=np.uint8)
        d1, sd, fk = np.empty(SUB), np.empty(SUB), np.empty(SUB)
        for s in range(lo, hi, SUB):
            e = min(hi, s + SUB)
            m = e - s
            # Views indexed from 0: contiguous loads, not gathers (docs/speed.md, Part three).
            fs, ks, ts, vs = f[s:e], k[s:e], t[s:e], v[s:e]
            nfar = _d1_pass(fs, ks, ts, vs, d1[:m], sd[:m], fk[:m])
            if 2 * nfar > m:
                # Mostly far (short-dated wings): each recomputed option costs ~2.5 near-pass
                # options, so above half the one-pass formula for all is cheaper.
                if discounted:
                    _full_pass(w[s:e], fs, ks, ts, vs, r[s:e], True, out[s:e])
                else:
                    _full_pass(w[s:e], fs, ks, ts, vs, r[s:e], False, out[s:e])
            elif discounted:
                _near_pass(w[s:e], fs, ks, ts, vs, r[s:e], True, d1[:m], sd[:m], fk[:m], out[s:e], far[s - lo : e - lo])
            else:
                _near_pass(w[s:e], fs, ks, ts, vs, r[s:e], False, d1[:m], sd[:m], fk[:m], out[s:e], far[s - lo : e - lo])
        wb, fb, kb, tb, vb, rb, ob = w[lo:hi], f[lo:hi], k[lo:hi], t[lo:hi], v[lo:hi], r[lo:hi], out[lo:hi]
        _recompute_far(wb, fb, kb, tb, vb, rb, discounted, far, ob)
        if inverse:
            for j in range(hi - lo):
                ob[j] = ob[j] / fb[j]


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
