"""Binomial trees (Cox-Ross-Rubinstein and Leisen-Reimer) vectorised across options.

The options are the vector and the loop runs over time steps, so one pass prices a whole
column. Options are processed in blocks small enough that the node arrays stay in the L2
cache (block x (steps + 1) doubles per array).
"""

from __future__ import annotations

import numpy as np

from pricing import accel
from pricing._typing import ArrayLike, FloatArray, IntArray
from pricing.arrays import as_float_arrays, option_signs
from pricing.errors import PricingInputError, Reason, parse_choice

STYLES = {"american": True, "a": True, "european": False, "e": False}
METHODS = {"crr": "crr", "lr": "lr", "leisen-reimer": "lr", "leisen_reimer": "lr"}
#: Options per block: 3 arrays x 128 x 201 doubles ~ 0.6 MB, inside a 1 MB L2 cache.
_BLOCK_NODES = 128 * 201


def _peizer_pratt(z: FloatArray, n: int) -> FloatArray:
    """Peizer-Pratt method-2 inversion h(z) used by Leisen-Reimer (n odd)."""
    a = z / (n + 1.0 / 3.0 + 0.1 / (n + 1.0))
    return 0.5 + np.copysign(0.5, z) * np.sqrt(1.0 - np.exp(-a * a * (n + 1.0 / 6.0)))


def tree_steps(steps: int, method: str) -> int:
    """The number of steps actually used: Leisen-Reimer needs an odd count (n + 1 if even).

    Parameters
    ----------
    steps : int
        Steps asked for (>= 1).
    method : {"crr", "lr", "leisen-reimer"}
        The tree (:func:`binomial_price`).

    Returns
    -------
    int
        The number of time steps of the tree.
    """
    if isinstance(steps, bool) or not float(steps).is_integer() or steps < 1:
        raise PricingInputError(f"steps: must be a whole number >= 1, got {steps!r}")
    n = int(steps)
    return n + 1 if parse_choice(method, "method", METHODS) == "lr" and n % 2 == 0 else n


def binomial_price(
    cp: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    *,
    carry: ArrayLike | None = None,
    steps: int = 200,
    style: str = "american",
    method: str = "crr",
) -> FloatArray:
    """Price of American or European options on a recombining binomial tree.

    Parameters
    ----------
    cp : array_like of {+1, -1} or {"C", "P", "call", "put"}
        Option type.
    spot : array_like
        Spot price of the underlying, > 0.
    strike : array_like
        Strike, > 0.
    t_years : array_like
        Time to expiry in years (ACT/365).
    vol : array_like
        Volatility, decimal.
    rate : array_like
        Continuously compounded discount rate, decimal per year.
    carry : array_like, optional
        Cost of carry b (default ``rate``: no dividends; ``rate - q`` with a yield q;
        0 for an option on a future).
    steps : int
        Number of time steps (Leisen-Reimer uses the next odd number).
    style : {"american", "european"}
        Exercise style.
    method : {"crr", "lr"}
        Cox-Ross-Rubinstein (1979) or Leisen-Reimer (1996).

    Returns
    -------
    ndarray
        Prices, broadcast shape; NaN with :func:`binomial_reasons` explaining why.

    Notes
    -----
    CRR: :math:`u = e^{\\sigma\\sqrt{\\Delta t}}, d = 1/u, p = (e^{b\\Delta t} - d)/(u - d)`
    (Hull, *OFOD* 9th ed., section 21.4). Leisen-Reimer: :math:`p = h(d_2), p' = h(d_1)`,
    :math:`u = e^{b\\Delta t} p'/p, d = (e^{b\\Delta t} - p u)/(1 - p)` with the Peizer-Pratt
    inversion h (Leisen & Reimer, *Applied Mathematical Finance* 3, 1996). Backward induction
    :math:`V_{i,j} = \\max(e^{-r\\Delta t}[p V_{i+1,j+1} + (1-p) V_{i+1,j}], \\omega(S_{i,j} - K))`
    for American exercise. At T = 0 the price is intrinsic; at vol = 0 it is the best
    discounted intrinsic value along the deterministic forward path on the tree's dates.

    Examples
    --------
    Hull, OFOD 9th ed., Example 21.1 (American put, S = K = 50, r = 10%, σ = 40%, 5 months, 5 steps; 4.49):

    >>> round(float(binomial_price("p", 50, 50, 5 / 12, 0.4, 0.1, steps=5)), 4)
    4.4885
    """
    american = parse_choice(style, "style", STYLES)
    kind = parse_choice(method, "method", METHODS)
    n = tree_steps(steps, kind)
    if carry is None:
        carry = rate
    shape, (w, s0, k, t, v, r, b) = as_float_arrays(option_signs(cp), spot, strike, t_years, vol, rate, carry)
    out = np.full(s0.size, np.nan)
    with np.errstate(all="ignore"):
        dt = t / n
        valid = (s0 > 0) & (k > 0) & (t >= 0) & (v >= 0) & np.isfinite(r) & np.isfinite(b)
        flat = valid & ((t == 0) | (v == 0))
        if flat.any():
            out[flat] = _deterministic(w[flat], s0[flat], k[flat], t[flat], r[flat], b[flat], n, american)
        live = np.flatnonzero(valid & ~flat)
        if live.size:
            u, d, p = _tree_parameters(kind, w[live], s0[live], k[live], t[live], v[live], b[live], n)
            ok = (p >= 0) & (p <= 1) & (u > d)
            idx = live[ok]
            disc = np.exp(-r[idx] * dt[idx])
            if accel.enabled("tree.backward", idx.size):
                from pricing.accel.tree import backward_kernel

                res = np.empty(idx.size)
                backward_kernel(w[idx], s0[idx], k[idx], u[ok], d[ok], p[ok], disc, n, american, res)
                out[idx] = res
                return out.reshape(shape)
            block = max(1, _BLOCK_NODES // (n + 1))
            for lo in range(0, idx.size, block):
                sel = slice(lo, lo + block)
                out[idx[sel]] = _backward(
                    w[idx[sel]],
                    s0[idx[sel]],
                    k[idx[sel]],
                    u[ok][sel],
                    d[ok][sel],
                    p[ok][sel],
                    disc[sel],
                    n,
                    american,
                    kind == "crr",
                )
    return out.reshape(shape)


def binomial_reasons(
    cp: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    *,
    carry: ArrayLike | None = None,
    steps: int = 200,
    method: str = "crr",
) -> IntArray:
    """Per-element :class:`~pricing.errors.Reason` codes for :func:`binomial_price` inputs.

    Parameters
    ----------
    cp, spot, strike, t_years, vol, rate, carry, steps, method :
        As for :func:`binomial_price`.

    Returns
    -------
    ndarray of int
        0 where the tree gives a price; otherwise the reason, including a risk-neutral
        probability outside [0, 1] (too few steps for the carry) and tree overflow.

    Notes
    -----
    CRR: :math:`p = (e^{b\\Delta t} - d)/(u - d)` must lie in [0, 1] (Hull, OFOD 9th ed., ch. 21).

    Examples
    --------
    >>> binomial_reasons("p", [50, 50], 50, 5 / 12, [0.4, -0.1], 0.1).tolist() == [Reason.OK, Reason.NEGATIVE_VOL]
    True
    """
    kind = parse_choice(method, "method", METHODS)
    n = tree_steps(steps, kind)
    if carry is None:
        carry = rate
    shape, (w, s0, k, t, v, r, b) = as_float_arrays(option_signs(cp), spot, strike, t_years, vol, rate, carry)
    codes = np.zeros(s0.size, dtype=np.int64)
    with np.errstate(all="ignore"):
        live = (t > 0) & (v > 0) & (s0 > 0) & (k > 0)
        if live.any():
            u, d, p = _tree_parameters(kind, w[live], s0[live], k[live], t[live], v[live], b[live], n)
            codes[np.flatnonzero(live)[~((p >= 0) & (p <= 1) & (u > d))]] = Reason.BAD_TREE
    codes[~(t >= 0)] = Reason.EXPIRED
    codes[~(v >= 0)] = Reason.NEGATIVE_VOL
    codes[~(k > 0)] = Reason.NONPOSITIVE_STRIKE
    codes[~(s0 > 0)] = Reason.NONPOSITIVE_FORWARD
    codes[np.isnan(w) | np.isnan(s0) | np.isnan(k) | np.isnan(t) | np.isnan(v) | np.isnan(r) | np.isnan(b)] = Reason.NAN_INPUT
    return codes.reshape(shape)


def _tree_parameters(
    kind: str, w: FloatArray, s0: FloatArray, k: FloatArray, t: FloatArray, v: FloatArray, b: FloatArray, n: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    dt = t / n
    growth = np.exp(b * dt)
    if kind == "crr":
        u = np.exp(v * np.sqrt(dt))
        d = 1.0 / u
        p = (growth - d) / (u - d)
        return u, d, p
    sd = v * np.sqrt(t)
    d1 = (np.log(s0 / k) + b * t) / sd + 0.5 * sd
    d2 = d1 - sd
    p = _peizer_pratt(d2, n)
    p_bar = _peizer_pratt(d1, n)
    u = growth * p_bar / p
    d = (growth - p * u) / (1.0 - p)
    return u, d, p


def _backward(
    w: FloatArray,
    s0: FloatArray,
    k: FloatArray,
    u: FloatArray,
    d: FloatArray,
    p: FloatArray,
    disc: FloatArray,
    n: int,
    american: bool,
    recombines_on_lattice: bool,
) -> FloatArray:
    """Backward induction on a (nodes, options) layout: each step works on contiguous rows."""
    log_u, log_d = np.log(u), np.log(d)
    pu = disc * p
    pd = disc * (1.0 - p)
    j = np.arange(n + 1, dtype=np.float64)[:, None]
    if recombines_on_lattice:
        # CRR (u d = 1): node (i, j) has spot S0 u^(2j - i), one of 2n + 1 values, so the
        # exercise values are computed once. Stored split by parity, step i reads one
        # contiguous block of rows: index q = n - i + 2j has the parity of n - i.
        m = np.arange(-n, n + 1, dtype=np.float64)[:, None]
        exercise = w * (s0 * np.exp(m * log_u) - k)
        by_parity = (np.ascontiguousarray(exercise[0::2]), np.ascontiguousarray(exercise[1::2]))
        values = np.maximum(by_parity[0], 0.0)
    else:
        signed_spot = w * s0 * np.exp(j * log_u + (n - j) * log_d)
        values = np.maximum(signed_spot - w * k, 0.0)
        signed_strike = w * k
        inv_d = 1.0 / d
    scratch = np.empty_like(values)
    for i in range(n - 1, -1, -1):
        now = values[: i + 1]
        tmp = scratch[: i + 1]
        np.multiply(values[1 : i + 2], pu, out=tmp)
        now *= pd
        now += tmp
        if not american:
            continue
        if recombines_on_lattice:
            first = n - i
            rows = by_parity[first % 2]
            np.maximum(now, rows[first // 2 : first // 2 + i + 1], out=now)
        else:
            # S_{i,j} = S_{i+1,j} / d: one multiply moves the spot grid back a step.
            spot_now = signed_spot[: i + 1]
            spot_now *= inv_d
            np.subtract(spot_now, signed_strike, out=tmp)
            np.maximum(now, tmp, out=now)
    return np.asarray(values[0].copy(), dtype=np.float64)


def _deterministic(
    w: FloatArray, s0: FloatArray, k: FloatArray, t: FloatArray, r: FloatArray, b: FloatArray, n: int, american: bool
) -> FloatArray:
    """Zero-vol (or zero-time) price: best discounted intrinsic value on the tree's dates."""
    times = t[None, :] * (np.arange(n + 1)[:, None] / n)
    payoff = np.exp(-r * times) * np.maximum(w * (s0 * np.exp(b * times) - k), 0.0)
    return np.asarray(payoff.max(axis=0) if american else payoff[-1], dtype=np.float64)
