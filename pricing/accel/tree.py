"""Binomial backward induction (numba), the accelerated twin of :func:`pricing.binomial._backward`.

Each option's tree: V_j <- max(pd V_j + pu V_{j+1}, w (S_j - K)), with the node spots moved
back a step by one multiply (S_{i,j} = S_{i+1,j} / d), the leaves' spots S_0 e^{j ln u + (n-j) ln d}.
Works for CRR and Leisen-Reimer alike; it rounds differently from the numpy path's exact
exp(m ln u) lattice by ~n ulp (tests: 1e-12 relative).

**Options in SIMD lanes** (issue 33). Full groups of :data:`LANES` options move through their
trees together: node j of every option of the group side by side (a (nodes, lanes) layout), so
one node update of the whole group is a few SIMD operations with the group's coefficients held
in registers. The layout before (one option at a time, its nodes as the vector) spent about
half its time outside the vector loop: step i updates i + 1 nodes (100 on average at 200
steps), LLVM's loop is 32 doubles deep on AVX-512, so each step ended in up to 31 scalar
iterations, and each step's two loops paid their entry and a mispredicted exit. The options
left over (fewer than :data:`LANES`) take that per-option loop, which costs less than a group
padded with copies: a single option (a per-cell Excel call) is not priced 32 times.

Both routes do the same operations in the same order for every node of an option (the lane
loop and the node loop compile to the same multiply and fused multiply-add), so an option's
value does not depend on its batch or its place in it (``tests/cross/test_kernel_paths.py``).

The leaves' exponentials are :func:`pricing.accel.mathfn.exp_fast` (branch-free, vectorised),
not libm's ``exp``: a libm call per leaf does not vectorise and was about a tenth of the time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from pricing.accel.jit import inline, kernel
from pricing.accel.mathfn import exp_fast

#: Options moved through their trees together: 4 AVX-512 registers (8 AVX2 ones) per node row.
#: Measured on 10,000 American puts at 200 steps, one thread: 2.40-2.63 us an option against
#: 3.84-4.33 for the per-option loop (best of 15, three interleaved pairs, AVX-512, load ~3.5).
LANES = 32
#: Node updates below which a call runs on one thread (~0.1 ns each: ~20 us of work).
SERIAL_BELOW = 200_000


def _node_updates(args: tuple[Any, ...]) -> int:
    """Units of work of a call: options x n^2 / 2 node updates."""
    n = int(args[7])
    return int(args[1].size) * n * n // 2


@inline
def _leaf_spot(s0: float, log_u: float, log_d: float, n: int, j: int) -> float:
    """S_0 u^j d^(n-j), the spot of leaf j."""
    return s0 * exp_fast(j * log_u + (n - j) * log_d)


@inline
def _group(w: Any, s0: Any, k: Any, u: Any, d: Any, p: Any, disc: Any, n: int, american: bool, first: int, out: Any) -> None:
    """Options first .. first + LANES - 1, side by side (see the module notes)."""
    wl = np.empty(LANES)
    kl = np.empty(LANES)
    pul = np.empty(LANES)
    pdl = np.empty(LANES)
    inv_dl = np.empty(LANES)
    spot = np.empty((n + 1, LANES))
    vals = np.empty((n + 1, LANES))
    for lane in range(LANES):
        o = first + lane
        wl[lane], kl[lane] = w[o], k[o]
        pul[lane] = disc[o] * p[o]
        pdl[lane] = disc[o] * (1.0 - p[o])
        inv_dl[lane] = 1.0 / d[o]
        log_u, log_d = math.log(u[o]), math.log(d[o])
        for j in range(n + 1):
            spot[j, lane] = _leaf_spot(s0[o], log_u, log_d, n, j)
            vals[j, lane] = max(wl[lane] * (spot[j, lane] - kl[lane]), 0.0)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1):
            if american:
                for lane in range(LANES):
                    spot[j, lane] *= inv_dl[lane]
                    cont = pdl[lane] * vals[j, lane] + pul[lane] * vals[j + 1, lane]
                    vals[j, lane] = max(cont, wl[lane] * (spot[j, lane] - kl[lane]))
            else:
                for lane in range(LANES):
                    vals[j, lane] = pdl[lane] * vals[j, lane] + pul[lane] * vals[j + 1, lane]
    for lane in range(LANES):
        out[first + lane] = vals[0, lane]


@inline
def _single(w: Any, s0: Any, k: Any, u: Any, d: Any, p: Any, disc: Any, n: int, american: bool, o: int, out: Any) -> None:
    """Option o alone, its nodes as the vector."""
    wo, ko = w[o], k[o]
    pu = disc[o] * p[o]
    pd = disc[o] * (1.0 - p[o])
    inv_d = 1.0 / d[o]
    log_u, log_d = math.log(u[o]), math.log(d[o])
    spot = np.empty(n + 1)
    vals = np.empty(n + 1)
    for j in range(n + 1):
        spot[j] = _leaf_spot(s0[o], log_u, log_d, n, j)
        vals[j] = max(wo * (spot[j] - ko), 0.0)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1):
            vals[j] = pd * vals[j] + pu * vals[j + 1]
        if american:
            for j in range(i + 1):
                spot[j] *= inv_d
                vals[j] = max(vals[j], wo * (spot[j] - ko))
    out[o] = vals[0]


@kernel(serial_below=SERIAL_BELOW, work=_node_updates)
def backward_kernel(w: Any, s0: Any, k: Any, u: Any, d: Any, p: Any, disc: Any, n: Any, american: Any, out: Any) -> None:
    """out[o] = tree value of option o with ``n`` steps (see :func:`pricing.binomial.binomial_price`)."""
    n_opt = s0.size
    groups = n_opt // LANES
    left = n_opt - groups * LANES
    for task in prange(groups + left):
        if task < groups:
            _group(w, s0, k, u, d, p, disc, n, american, task * LANES, out)
        else:
            _single(w, s0, k, u, d, p, disc, n, american, groups * LANES + task - groups, out)
