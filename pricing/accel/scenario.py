"""Fused scenario-revaluation kernels (numba): P&L matrix, portfolio P&L sum, marginal VaR/ES.

One unit P&L per (position, scenario), as :func:`pricing.revaluation.reprice` computes it,
with the per-position invariants hoisted (ln(K/F(T')), K/F(T'), sqrt(T'), the value at as-of,
the SVI parameters of the two expiries around T') and the per-scenario ones precomputed
(e^r, e^-r, the vol factor and add-on), so the inner loop over scenarios is one smile lookup,
one normalised Black-76 price and a few multiplies, vectorised over scenarios.

* :func:`pnl_matrix` writes the (P, S) USD (and coin) P&L, parallel over positions.
* :func:`pnl_sum` returns sum_p q_p P&L(p, s), parallel over blocks of scenarios: no (P, S)
  matrix and no float reduction across threads.
* :func:`marginal_tail` takes a base P&L vector and T trades (each one or more legs) and returns,
  per trade and direction, the VaR (k-th smallest P&L, negated) and the ES (mean of the k smallest, negated)
  on the core scenarios and on the stressed ones, by keeping the k smallest values seen in a
  sorted buffer: O(S) per trade with ~k log(S/k) insertions, and no (T, S) matrix. The
  trades are spread over threads; each needs two S-vectors of scratch.

Position kinds: :data:`LIVE` option (T' > 0), :data:`EXPIRED` option (intrinsic at the shocked
forward), :data:`LINEAR` (futures and perpetuals: unit P&L = g e^r - base, see
:func:`pricing.revaluation.plan_revaluation`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numba import prange

from pricing.accel._ncdf_series import Z_SPLIT
from pricing.accel.jit import inline, kernel
from pricing.accel.mathfn import ncdf_far_given_pdf, ncdf_given_pdf, ncdf_near_given_pdf, npdf_fast

LIVE = 0
EXPIRED = 1
LINEAR = 2
#: Scenarios per thread task in :func:`pnl_sum`.
SCENARIO_BLOCK = 256
#: Position-scenario revaluations below which a call runs on one thread (~10 ns each: ~160 us).
SERIAL_BELOW = 16_384


def _position_scenarios(ret_index: int) -> Callable[[tuple[Any, ...]], int]:
    """Units of work of a call: rows of the plan (``kind``, argument 0) x scenarios (``ret``'s columns)."""

    def work(args: tuple[Any, ...]) -> int:
        return int(args[0].size) * int(args[ret_index].shape[1])

    return work


@inline
def _svi(a: float, b: float, rho: float, m: float, sig2: float, k: float) -> float:
    x = k - m
    return a + b * (rho * x + math.sqrt(x * x + sig2))


@inline
def _smile_sd_d1(
    r: float,
    fac: float,
    add: float,
    lk: float,
    sqrt_t1: float,
    c0: float,
    a0: float,
    b0: float,
    rho0: float,
    m0: float,
    s0: float,
    c1: float,
    a1: float,
    b1: float,
    rho1: float,
    m1: float,
    s1: float,
    sticky_moneyness: bool,
) -> tuple[float, float]:
    """(sd, d1) of a live option in one scenario: shocked smile, standard deviation, d1."""
    k = lk - r
    kv = k if sticky_moneyness else lk
    w = c0 * _svi(a0, b0, rho0, m0, s0, kv) + c1 * _svi(a1, b1, rho1, m1, s1, kv)
    sd = max(math.sqrt(max(w, 0.0)) * fac + add * sqrt_t1, 0.0)
    return sd, -k / sd + 0.5 * sd


def _make_live_pass(cdf: Callable[[float, float], float]) -> Callable[..., None]:
    """The second pass of a live row with ``cdf`` as the normal CDF (one of three, chosen per row)."""

    @inline
    def live_pass(
        n: int,
        d1_buf: Any,
        sd_buf: Any,
        inv_u: Any,
        grow_u: Any,
        ws: float,
        ekp: float,
        iekp: float,
        gp: float,
        bp: float,
        out: Any,
    ) -> None:
        for s in range(n):
            d1 = d1_buf[s]
            sd = sd_buf[s]
            egrow = grow_u[s]
            ekr = ekp * inv_u[s]
            d2 = d1 - sd
            pdf1 = npdf_fast(d1)
            # phi(d2) = phi(d1) F''/K = phi(d1) e^r / ek: one exponential for both CDFs.
            c = ws * (cdf(ws * d1, pdf1) - ekr * cdf(ws * d2, pdf1 * (iekp * egrow)))
            intrinsic = max(ws * (1.0 - ekr), 0.0)
            c = c if sd > 0.0 else intrinsic
            out[s] = c * gp * egrow - bp

    return cast(Callable[..., None], live_pass)


_live_near = _make_live_pass(ncdf_near_given_pdf)
_live_far = _make_live_pass(ncdf_far_given_pdf)
_live_any = _make_live_pass(ncdf_given_pdf)


@inline
def _unit_usd_row(
    p: int,
    u: int,
    lo: int,
    hi: int,
    kind: Any,
    omega: Any,
    lk: Any,
    ek: Any,
    g: Any,
    base_usd: Any,
    sqrt_t1: Any,
    svi: Any,
    ret: Any,
    growth: Any,
    inv_growth: Any,
    factor: Any,
    add: Any,
    sticky_moneyness: bool,
    out: np.ndarray,
    d1_buf: np.ndarray,
    sd_buf: np.ndarray,
) -> None:
    """out[s - lo] = unit USD P&L of position p in scenarios [lo, hi); c = V / F' as in
    :func:`pricing.revaluation.reprice`, unit P&L = c g e^r - base (c = 1 for LINEAR rows).

    Two passes over the scenarios, each vectorised: the first computes the shocked smile, sd
    and d1 into ``d1_buf``/``sd_buf`` and counts the CDF arguments on each side of the Mills
    ratio's split (``Z_SPLIT``); the second prices with the normal CDF of the one piece every
    argument of the row needs (:func:`~pricing.accel.mathfn.ncdf_near_given_pdf` or
    ``ncdf_far_given_pdf``) or, when the row mixes them (or has a NaN), both and a select
    (``ncdf_given_pdf``). The result is the same bits in every case: each piece alone is the
    selected piece of the full CDF. (The counts are taken on |d1| and |d2|, which are the CDF
    arguments' magnitudes because omega, the option's sign, is exactly +-1, as plans set it.) Most rows of a book lie on one side (an option's d moves
    little over the scenarios), and the CDFs are most of a revaluation (issue 33: portfolio IM
    on AVX2). An expired or linear row needs no CDF at all.

    Every per-position value is read into a local first and ``out`` is a fresh buffer, so LLVM
    sees no store that could alias an input and vectorises the loop over scenarios (with the
    loads inside the loop it would need more run-time alias checks than it allows, and gives up).
    """
    kd, ws, lkp, ekp, gp, bp, st = kind[p], omega[p], lk[p], ek[p], g[p], base_usd[p], sqrt_t1[p]
    iekp = 1.0 / ekp
    c0, a0, b0, rho0, m0, s0 = svi[p, 0], svi[p, 1], svi[p, 2], svi[p, 3], svi[p, 4], svi[p, 5]
    c1, a1, b1, rho1, m1, s1 = svi[p, 6], svi[p, 7], svi[p, 8], svi[p, 9], svi[p, 10], svi[p, 11]
    # Row views indexed from 0: with s in [lo, hi) LLVM cannot prove the index non-negative
    # (numba wraps negative indices), gives up on contiguous loads and gathers (issue 33).
    ret_u, inv_u, grow_u, fac_u, add_u = ret[u, lo:hi], inv_growth[u, lo:hi], growth[u, lo:hi], factor[u, lo:hi], add[u, lo:hi]
    n = hi - lo
    if kd != LIVE:
        for s in range(n):
            ekr = ekp * inv_u[s]
            c = 1.0 if kd == LINEAR else max(ws * (1.0 - ekr), 0.0)
            out[s] = c * gp * grow_u[s] - bp
        return
    n_near = 0
    n_far = 0
    for s in range(n):
        sd, d1 = _smile_sd_d1(
            ret_u[s], fac_u[s], add_u[s], lkp, st, c0, a0, b0, rho0, m0, s0, c1, a1, b1, rho1, m1, s1, sticky_moneyness
        )
        z1 = abs(d1)
        z2 = abs(d1 - sd)
        # A NaN counts on neither side, so its row takes the full CDF, as before.
        n_near += (1 if z1 < Z_SPLIT else 0) + (1 if z2 < Z_SPLIT else 0)
        n_far += (1 if z1 >= Z_SPLIT else 0) + (1 if z2 >= Z_SPLIT else 0)
        d1_buf[s] = d1
        sd_buf[s] = sd
    if n_near == 2 * n:
        _live_near(n, d1_buf, sd_buf, inv_u, grow_u, ws, ekp, iekp, gp, bp, out)
    elif n_far == 2 * n:
        _live_far(n, d1_buf, sd_buf, inv_u, grow_u, ws, ekp, iekp, gp, bp, out)
    else:
        _live_any(n, d1_buf, sd_buf, inv_u, grow_u, ws, ekp, iekp, gp, bp, out)


@kernel(serial_below=SERIAL_BELOW, work=_position_scenarios(13))
def pnl_matrix(
    kind: Any,
    omega: Any,
    lk: Any,
    ek: Any,
    g: Any,
    base_usd: Any,
    base_c: Any,
    sqrt_t1: Any,
    svi: Any,
    und: Any,
    units: Any,
    inverse_option: Any,
    spot: Any,
    ret: Any,
    growth: Any,
    inv_growth: Any,
    factor: Any,
    add: Any,
    sticky_moneyness: Any,
    usd: Any,
    coin: Any,
    with_coin: Any,
) -> None:
    """usd[p, s] (and coin[p, s] when ``with_coin``): P&L of position p in scenario s."""
    n_pos = kind.size
    n_scen = ret.shape[1]
    for p in prange(n_pos):
        u = und[p]
        row = np.empty(n_scen)
        d1_buf = np.empty(n_scen)
        sd_buf = np.empty(n_scen)
        _unit_usd_row(
            p,
            u,
            0,
            n_scen,
            kind,
            omega,
            lk,
            ek,
            g,
            base_usd,
            sqrt_t1,
            svi,
            ret,
            growth,
            inv_growth,
            factor,
            add,
            sticky_moneyness,
            row,
            d1_buf,
            sd_buf,
        )
        q = units[p]
        for s in range(n_scen):
            usd[p, s] = q * row[s]
        if with_coin:
            if inverse_option[p]:
                # coin P&L of an inverse option is c - c0: c = (unit_usd + base_usd) / (g e^r)
                for s in range(n_scen):
                    coin[p, s] = q * ((row[s] + base_usd[p]) / (g[p] * growth[u, s]) - base_c[p])
            else:
                for s in range(n_scen):
                    coin[p, s] = q * row[s] / (spot[p] * growth[u, s])


@kernel(serial_below=SERIAL_BELOW, work=_position_scenarios(10))
def pnl_sum(
    kind: Any,
    omega: Any,
    lk: Any,
    ek: Any,
    g: Any,
    base_usd: Any,
    sqrt_t1: Any,
    svi: Any,
    und: Any,
    weight: Any,
    ret: Any,
    growth: Any,
    inv_growth: Any,
    factor: Any,
    add: Any,
    sticky_moneyness: Any,
    out: Any,
) -> None:
    """out[s] = sum_p weight[p] (c g e^r - base)(p, s); weight = quantity x units."""
    n_pos = kind.size
    n_scen = ret.shape[1]
    n_blocks = (n_scen + SCENARIO_BLOCK - 1) // SCENARIO_BLOCK
    for b in prange(n_blocks):
        lo = b * SCENARIO_BLOCK
        hi = min(n_scen, lo + SCENARIO_BLOCK)
        acc = np.zeros(hi - lo)
        row = np.empty(hi - lo)
        d1_buf = np.empty(hi - lo)
        sd_buf = np.empty(hi - lo)
        for p in range(n_pos):
            _unit_usd_row(
                p,
                und[p],
                lo,
                hi,
                kind,
                omega,
                lk,
                ek,
                g,
                base_usd,
                sqrt_t1,
                svi,
                ret,
                growth,
                inv_growth,
                factor,
                add,
                sticky_moneyness,
                row,
                d1_buf,
                sd_buf,
            )
            wp = weight[p]
            for j in range(hi - lo):
                acc[j] += wp * row[j]
        for j in range(hi - lo):
            out[lo + j] = acc[j]


@inline
def _tail(x: np.ndarray, lo: int, hi: int, k: int, buf: np.ndarray) -> tuple[float, float]:
    """(VaR, ES) of the P&L x[lo:hi]: minus the k-th smallest and minus the mean of the k smallest."""
    for j in range(k):
        buf[j] = math.inf
    for s in range(lo, hi):
        v = x[s]
        if v < buf[k - 1]:
            j = k - 1
            while j > 0 and buf[j - 1] > v:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = v
    total = 0.0
    for j in range(k):
        total += buf[j]
    return -buf[k - 1], -total / k


#: Scenarios per strided column in :func:`_tail_pruned` (the tail search skips whole columns).
TAIL_STRIDE = 32


@inline
def _insert(v: float, k: int, buf: np.ndarray) -> None:
    """Insert v into the ascending buffer of the k smallest seen (strict: a tie is not inserted)."""
    if v < buf[k - 1]:
        j = k - 1
        while j > 0 and buf[j - 1] > v:
            buf[j] = buf[j - 1]
            j -= 1
        buf[j] = v


@inline
def _tail_pruned(x: np.ndarray, lo: int, hi: int, k: int, buf: np.ndarray, mins: np.ndarray) -> tuple[float, float]:
    """:func:`_tail` with most of the scalar search skipped; the same (VaR, ES).

    The range is read as TAIL_STRIDE rows of ``nb`` columns (column b holds x[lo + j nb + b]).
    A vectorised pass takes each column's minimum; tau, the k-th smallest of those minima, is
    at least the k-th smallest of x (the k minima are k elements <= tau). An element of a column
    whose minimum is above tau is above the k-th smallest, so it is never in the tail: only
    the ~k columns at or below tau (and the remainder past TAIL_STRIDE nb) are searched, ~320
    elements instead of ~1,800 for k = 10. The buffer ends with the same k smallest values, so
    VaR and the ES sum (taken in sorted order) are the same numbers (a tie of 0.0 and -0.0 at the
    boundary may keep the other zero). NaN is never inserted, as in :func:`_tail`; a column of
    NaN and +inf has minimum +inf and is searched only when tau is +inf (then every column is).
    ``mins`` is scratch of at least (hi - lo) // TAIL_STRIDE.
    """
    nb = (hi - lo) // TAIL_STRIDE
    if nb < 2 * k:
        return _tail(x, lo, hi, k, buf)
    for b in range(nb):
        mins[b] = math.inf
    for j in range(TAIL_STRIDE):
        row = x[lo + j * nb : lo + (j + 1) * nb]  # a view from 0: contiguous loads, not gathers
        for b in range(nb):
            v = row[b]
            mins[b] = v if v < mins[b] else mins[b]
    for j in range(k):
        buf[j] = math.inf
    for b in range(nb):
        _insert(mins[b], k, buf)
    tau = buf[k - 1]
    for j in range(k):
        buf[j] = math.inf
    for b in range(nb):
        if mins[b] <= tau:
            for j in range(TAIL_STRIDE):
                _insert(x[lo + j * nb + b], k, buf)
    for s in range(lo + TAIL_STRIDE * nb, hi):
        _insert(x[s], k, buf)
    total = 0.0
    for j in range(k):
        total += buf[j]
    return -buf[k - 1], -total / k


@inline
def _both_tails(
    pnl: np.ndarray, base_pnl: np.ndarray, n_core: int, k_core: int, k_stress: int, x: np.ndarray, out: np.ndarray, t: int
) -> None:
    """out[t, :] = (VaR, ES, stressed VaR, stressed ES) of base + pnl, then of base - pnl; ``x`` is scratch (S,)."""
    n_scen = pnl.size
    buf = np.empty(max(k_core, k_stress, 1))
    mins = np.empty(n_scen // TAIL_STRIDE + 1)
    for d in range(2):
        sign = 1.0 if d == 0 else -1.0
        for s in range(n_scen):
            x[s] = base_pnl[s] + sign * pnl[s]
        var, es = _tail_pruned(x, 0, n_core, k_core, buf, mins)
        out[t, 4 * d] = var
        out[t, 4 * d + 1] = es
        if n_scen > n_core:
            svar, ses = _tail_pruned(x, n_core, n_scen, k_stress, buf, mins)
        else:
            svar, ses = math.nan, math.nan
        out[t, 4 * d + 2] = svar
        out[t, 4 * d + 3] = ses


@kernel(serial_below=SERIAL_BELOW, work=_position_scenarios(11))
def marginal_tail(
    kind: Any,
    omega: Any,
    lk: Any,
    ek: Any,
    g: Any,
    base_usd: Any,
    sqrt_t1: Any,
    svi: Any,
    und: Any,
    weight: Any,
    starts: Any,
    ret: Any,
    growth: Any,
    inv_growth: Any,
    factor: Any,
    add: Any,
    sticky_moneyness: Any,
    base_pnl: Any,
    n_core: Any,
    k_core: Any,
    k_stress: Any,
    out: Any,
) -> None:
    """out[t, :] = (VaR, ES, stressed VaR, stressed ES) of base + trade t, then of base - trade t.

    Trade t is the legs ``starts[t]:starts[t + 1]`` (rows of the plan, weight = signed quantity x
    units); a single-leg candidate is a trade of one leg. ``base_pnl`` (S,) is the portfolio's
    scenario P&L; scenarios [0, n_core) are the core set, [n_core, S) the stressed one
    (``k_stress`` is ignored when it is empty). Each trade needs two S-vectors of scratch.
    """
    n_trade = starts.size - 1
    n_scen = ret.shape[1]
    for t in prange(n_trade):
        pnl = np.zeros(n_scen)
        row = np.zeros(n_scen)
        d1_buf = np.empty(n_scen)
        sd_buf = np.empty(n_scen)
        for p in range(starts[t], starts[t + 1]):
            _unit_usd_row(
                p,
                und[p],
                0,
                n_scen,
                kind,
                omega,
                lk,
                ek,
                g,
                base_usd,
                sqrt_t1,
                svi,
                ret,
                growth,
                inv_growth,
                factor,
                add,
                sticky_moneyness,
                row,
                d1_buf,
                sd_buf,
            )
            wp = weight[p]
            for s in range(n_scen):
                pnl[s] += wp * row[s]
        _both_tails(pnl, base_pnl, n_core, k_core, k_stress, row, out, t)


#: Leg-scenario additions below which :func:`marginal_tail_rows` runs on one thread: each is a
#: multiply-add and two compares (~1 ns), not a revaluation (~10 ns).
ROWS_SERIAL_BELOW = 8 * SERIAL_BELOW


def _leg_scenarios(args: tuple[Any, ...]) -> int:
    """Units of work of :func:`marginal_tail_rows`: legs x scenarios."""
    return int(args[1].size) * int(args[0].shape[1])


@kernel(serial_below=ROWS_SERIAL_BELOW, work=_leg_scenarios)
def marginal_tail_rows(
    unit: Any,
    leg_row: Any,
    weight: Any,
    starts: Any,
    base_pnl: Any,
    n_core: Any,
    k_core: Any,
    k_stress: Any,
    out: Any,
) -> None:
    """:func:`marginal_tail` from unit P&L rows computed once: leg p of a trade is ``weight[p]``
    times row ``leg_row[p]`` of ``unit`` (U, S).

    Candidates that share an instrument (10,000 candidates over a chain of ~800 listed options)
    then cost one revaluation per instrument, not per candidate; what is left per trade is a
    multiply-add per leg and scenario and the two tail searches. Same sums in the same order
    as :func:`marginal_tail`, so the same numbers when the rows are the same.
    """
    n_trade = starts.size - 1
    n_scen = unit.shape[1]
    for t in prange(n_trade):
        pnl = np.zeros(n_scen)
        x = np.empty(n_scen)
        for p in range(starts[t], starts[t + 1]):
            r = leg_row[p]
            wp = weight[p]
            for s in range(n_scen):
                pnl[s] += wp * unit[r, s]
        _both_tails(pnl, base_pnl, n_core, k_core, k_stress, x, out, t)
