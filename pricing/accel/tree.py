"""Binomial backward induction (numba), the accelerated twin of :func:`pricing.binomial._backward`.

One option per iteration of a ``prange`` (options are independent), the node loop inside is
vectorised: V_j <- max(pd V_j + pu V_{j+1}, w (S_j - K)), with the node spots moved back a step
by one multiply (S_{i,j} = S_{i+1,j} / d). Works for CRR and Leisen-Reimer alike; it rounds
differently from the numpy path's exact exp(m ln u) lattice by ~n ulp (tests: 1e-12 relative).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from pricing.accel.jit import kernel

#: Node updates below which a call runs on one thread (~1 ns each: ~200 us of work).
SERIAL_BELOW = 200_000


def _node_updates(args: tuple[Any, ...]) -> int:
    """Units of work of a call: options x n^2 / 2 node updates."""
    n = int(args[7])
    return int(args[1].size) * n * n // 2


@kernel(serial_below=SERIAL_BELOW, work=_node_updates)
def backward_kernel(w: Any, s0: Any, k: Any, u: Any, d: Any, p: Any, disc: Any, n: Any, american: Any, out: Any) -> None:
    """out[o] = tree value of option o with ``n`` steps (see :func:`pricing.binomial.binomial_price`)."""
    for o in prange(s0.size):
        wo, ko = w[o], k[o]
        pu = disc[o] * p[o]
        pd = disc[o] * (1.0 - p[o])
        inv_d = 1.0 / d[o]
        log_u, log_d = math.log(u[o]), math.log(d[o])
        spot = np.empty(n + 1)
        vals = np.empty(n + 1)
        for j in range(n + 1):
            spot[j] = s0[o] * math.exp(j * log_u + (n - j) * log_d)
            vals[j] = max(wo * (spot[j] - ko), 0.0)
        for i in range(n - 1, -1, -1):
            for j in range(i + 1):
                vals[j] = pd * vals[j] + pu * vals[j + 1]
            if american:
                for j in range(i + 1):
                    spot[j] *= inv_d
                    vals[j] = max(vals[j], wo * (spot[j] - ko))
        out[o] = vals[0]
