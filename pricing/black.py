"""Black-76 prices and greeks for linear (USD-settled) and inverse (coin-settled) options.

All functions share one argument order, the one of the Excel catalogue:
``(cp, forward, strike, t_years, vol, *, rate=0.0, settle="linear")`` and broadcast their
inputs, returning arrays of the broadcast shape (0-d arrays for scalar inputs).

Edge cases (tested as triplets, Strata style):

* ``t_years == 0``: intrinsic value ``max(w (F - K), 0)``; ``vol == 0``: discounted intrinsic
  value of the forward. Delta is the limit ``DF w 1{w(F-K) > 0}`` (``DF w / 2`` at the money),
  gamma, vega, vanna and volga are 0.
* ``t_years < 0`` (expired), ``vol < 0``, ``forward <= 0``, ``strike <= 0`` or NaN: NaN, with the
  reason from :func:`black76_reasons`. Nothing is clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from pricing import accel
from pricing._typing import ArrayLike, FloatArray, IntArray
from pricing.arrays import as_float_arrays, option_signs
from pricing.errors import Reason
from pricing.instruments import parse_settlement

#: Elements per chunk of the price kernel: ~10 live float64 buffers of 8K stay in L2.
CHUNK = 8192
_INV_SQRT_2PI = 0.3989422804014327


def _npdf(x: FloatArray) -> FloatArray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def black76_reasons(
    cp: ArrayLike, forward: ArrayLike, strike: ArrayLike, t_years: ArrayLike, vol: ArrayLike, *, rate: ArrayLike = 0.0
) -> IntArray:
    """Per-element :class:`~pricing.errors.Reason` codes for Black-76 inputs (0 = valid).

    Parameters
    ----------
    cp, forward, strike, t_years, vol, rate : array_like
        As for :func:`black76_price` (USD or any one currency; years ACT/365; decimal vol and rate).

    Returns
    -------
    ndarray of int
        ``Reason.OK`` (0) where :func:`black76_price` gives a number, else why not; broadcast shape.

    Notes
    -----
    Checked in order of precedence (the first problem is reported): NaN input, forward <= 0,
    strike <= 0, vol < 0, T < 0. T = 0 and vol = 0 are valid (intrinsic value, discounted).

    Examples
    --------
    >>> black76_reasons(["c", "c"], [100.0, -1.0], 100.0, 1.0, 0.2).tolist() == [Reason.OK, Reason.NONPOSITIVE_FORWARD]
    True
    """
    shape, (w, f, k, t, v, r) = as_float_arrays(option_signs(cp), forward, strike, t_years, vol, rate)
    codes = np.zeros(f.shape, dtype=np.int64)
    # Later assignments win: the most basic problem (NaN) is reported first.
    codes[~(t >= 0)] = Reason.EXPIRED
    codes[~(v >= 0)] = Reason.NEGATIVE_VOL
    codes[~(k > 0)] = Reason.NONPOSITIVE_STRIKE
    codes[~(f > 0)] = Reason.NONPOSITIVE_FORWARD
    codes[np.isnan(w) | np.isnan(f) | np.isnan(k) | np.isnan(t) | np.isnan(v) | np.isnan(r)] = Reason.NAN_INPUT
    return codes.reshape(shape)


def _edge_prices(w: FloatArray, f: FloatArray, k: FloatArray, t: FloatArray, v: FloatArray, df: FloatArray) -> FloatArray:
    """Prices where sd = vol sqrt(T) is not > 0: intrinsic if the inputs are valid, else NaN."""
    valid = (f > 0) & (k > 0) & (t >= 0) & (v >= 0) & np.isfinite(df)
    intrinsic = df * np.maximum(w * (f - k), 0.0)
    return np.where(valid, intrinsic, np.nan)


def _discounted(rate: ArrayLike) -> bool:
    """Whether any rate is not 0 (checked on the argument as given, before broadcasting)."""
    return bool(np.any(np.asarray(rate, dtype=np.float64) != 0.0))


def black76_price(
    cp: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    vol: ArrayLike,
    *,
    rate: ArrayLike = 0.0,
    settle: str = "linear",
) -> FloatArray:
    """Discounted Black-76 price per 1 unit of underlying.

    Parameters
    ----------
    cp : array_like of {+1, -1} or {"C", "P", "call", "put"}
        Option type.
    forward : array_like
        Forward price of the underlying for the option's expiry, USD per coin.
    strike : array_like
        Strike, USD per coin.
    t_years : array_like
        Time to expiry in years, ACT/365 calendar time.
    vol : array_like
        Black implied volatility, a decimal (0.65 for 65%).
    rate : array_like, optional
        Continuously compounded discount rate, decimal per year; DF = exp(-rate T).
    settle : {"linear", "inverse"}
        ``"linear"``: price in USD. ``"inverse"`` (coin-settled, Deribit): price in coin,
        i.e. the USD price divided by the forward.

    Returns
    -------
    ndarray
        Price, same shape as the broadcast inputs; NaN where the inputs are invalid.

    Notes
    -----
    Black (1976): with :math:`s = \\sigma\\sqrt{T}`, :math:`d_{1,2} = \\ln(F/K)/s \\pm s/2` and
    :math:`\\omega = \\pm 1`,

    .. math:: V = e^{-rT}\\,\\omega\\,[F N(\\omega d_1) - K N(\\omega d_2)].

    An inverse option pays :math:`\\max(\\omega(S_T-K),0)/S_T` coin; its coin value is
    :math:`V/F` (the forward measure change, Deribit's marking convention).
    Hull, *Options, Futures and Other Derivatives*, 9th ed., eq. (18.9)-(18.10).

    Examples
    --------
    Hull, OFOD 9th ed., Example 18.8 (a put on a futures: F = K = 20, r = 9%, σ = 25%, 4 months; 1.12):

    >>> round(float(black76_price("p", 20.0, 20.0, 4 / 12, 0.25, rate=0.09)), 4)
    1.1166
    """
    inverse = parse_settlement(settle) == "inverse"
    shape, (w, f, k, t, v, r) = as_float_arrays(option_signs(cp), forward, strike, t_years, vol, rate)
    out = np.empty(f.shape, dtype=np.float64)
    if accel.enabled("black76.price", f.size):
        from pricing.accel.black76 import price_kernel

        price_kernel(w, f, k, t, v, r, _discounted(rate), inverse, out)
        return out.reshape(shape)
    n = f.size
    with np.errstate(all="ignore"):
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            _price_chunk(w[lo:hi], f[lo:hi], k[lo:hi], t[lo:hi], v[lo:hi], r[lo:hi], out[lo:hi], inverse)
    return out.reshape(shape)


def _price_chunk(
    w: FloatArray, f: FloatArray, k: FloatArray, t: FloatArray, v: FloatArray, r: FloatArray, out: FloatArray, inverse: bool
) -> None:
    sd = np.sqrt(t)
    sd *= v
    d1 = np.divide(f, k)
    np.log(d1, out=d1)
    d1 /= sd
    half = 0.5 * sd
    d2 = d1 - half
    d1 += half
    d1 *= w
    d2 *= w
    ndtr(d1, out=d1)
    ndtr(d2, out=d2)
    d1 *= f
    d2 *= k
    np.subtract(d1, d2, out=out)
    out *= w
    df = None
    if r.any():
        df = np.exp(-r * t)
        out *= df
    ok = sd > 0
    ok &= f > 0
    ok &= k > 0
    if not ok.all():
        bad = ~ok
        df_bad = np.ones(int(bad.sum())) if df is None else df[bad]
        out[bad] = _edge_prices(w[bad], f[bad], k[bad], t[bad], v[bad], df_bad)
    if inverse:
        out /= f


@dataclass(frozen=True)
class Greeks:
    """Price and sensitivities of options, all arrays of the broadcast input shape.

    For ``settle="linear"`` (USD per 1 coin of underlying):

    * ``delta`` = dV/dF, ``gamma`` = d2V/dF2 (per USD),
    * ``vega`` = dV/dvol per 1.00 of vol (divide by 100 for one vol point),
    * ``theta`` = dV/dt per year of calendar time (divide by 365 for one day), forward held,
    * ``rho`` = dV/drate per 1.00 of rate, forward held (= -T V),
    * ``vanna`` = d delta / d vol, ``volga`` = d vega / d vol.

    For ``settle="inverse"`` (coin-settled) every greek is of the coin price V/F, except that
    ``delta`` is the **premium-adjusted** delta in coin, F d(V/F)/dF = dV/dF - V/F (the coin
    amount to hedge with, FX-style premium adjustment as for premium paid in the base
    currency); ``gamma`` and ``vanna`` are the derivatives of that delta by F and vol.

    Attributes
    ----------
    price : ndarray
        Black-76 value: USD per coin (linear) or coin per coin (inverse).
    delta, gamma : ndarray
        dV/dF and d2V/dF2 as above.
    vega : ndarray
        Per 1.00 of vol.
    theta : ndarray
        Per year of calendar time (ACT/365), forward held.
    rho : ndarray
        Per 1.00 of rate, forward held.
    vanna, volga : ndarray
        d delta / d vol and d vega / d vol.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray
    vanna: FloatArray
    volga: FloatArray

    FIELDS = ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga")


def black76_greeks(
    cp: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    vol: ArrayLike,
    *,
    rate: ArrayLike = 0.0,
    settle: str = "linear",
) -> Greeks:
    """Black-76 price and analytic greeks (see :class:`Greeks` for units and conventions).

    Parameters
    ----------
    cp, forward, strike, t_years, vol, rate, settle :
        As for :func:`black76_price`.

    Returns
    -------
    Greeks
        Price, delta, gamma, vega (per 1.00 vol), theta (per year), rho, vanna, volga, in the
        broadcast shape; ``settle="inverse"`` gives coin units and the premium-adjusted delta.

    Notes
    -----
    With :math:`DF = e^{-rT}` and :math:`\\phi` the normal density (Haug, *The Complete Guide
    to Option Pricing Formulas*, 2nd ed., ch. 2, generalised BSM with b = 0):
    :math:`\\Delta = DF\\,\\omega N(\\omega d_1)`,
    :math:`\\Gamma = DF\\,\\phi(d_1)/(F s)`,
    :math:`\\mathcal V = DF\\,F\\phi(d_1)\\sqrt T`,
    :math:`\\Theta = -DF\\,F\\phi(d_1)\\sigma/(2\\sqrt T) + rV`,
    :math:`\\rho = -TV`, vanna :math:`= -DF\\,\\phi(d_1) d_2/\\sigma`,
    volga :math:`= \\mathcal V d_1 d_2/\\sigma`.

    Examples
    --------
    >>> g = black76_greeks("c", 100.0, 100.0, 1.0, 0.2)
    >>> round(float(g.delta), 6), round(float(g.vega), 4)
    (0.539828, 39.6953)
    """
    inverse = parse_settlement(settle) == "inverse"
    shape, (w, f, k, t, v, r) = as_float_arrays(option_signs(cp), forward, strike, t_years, vol, rate)
    if accel.enabled("black76.greeks", f.size):
        from pricing.accel.black76 import greeks_kernel

        out = np.empty((8, f.size))
        greeks_kernel(w, f, k, t, v, r, _discounted(rate), inverse, out)
        return Greeks(*(np.reshape(a, shape) for a in out))
    with np.errstate(all="ignore"):
        df = np.exp(-r * t)
        sqrt_t = np.sqrt(t)
        sd = v * sqrt_t
        d1 = np.log(f / k) / sd + 0.5 * sd
        d2 = d1 - sd
        n1 = ndtr(w * d1)
        price = df * w * (f * n1 - k * ndtr(w * d2))
        pdf1 = _npdf(d1)
        delta = df * w * n1
        gamma = df * pdf1 / (f * sd)
        vega = df * f * pdf1 * sqrt_t
        theta = -df * f * pdf1 * v / (2.0 * sqrt_t) + r * price
        vanna = -df * pdf1 * d2 / v
        volga = vega * d1 * d2 / v
        ok = (sd > 0) & (f > 0) & (k > 0)
        if not ok.all():
            bad = ~ok
            fb, kb, wb, dfb = f[bad], k[bad], w[bad], df[bad]
            price[bad] = _edge_prices(wb, fb, kb, t[bad], v[bad], dfb)
            itm = np.sign(wb * (fb - kb))
            edge_delta = dfb * wb * np.where(itm > 0, 1.0, np.where(itm < 0, 0.0, 0.5))
            delta[bad] = np.where(np.isnan(price[bad]), np.nan, edge_delta)
            zero = np.where(np.isnan(price[bad]), np.nan, 0.0)
            for arr in (gamma, vega, vanna, volga):
                arr[bad] = zero
            theta[bad] = r[bad] * price[bad]
        rho = -t * price
        if inverse:
            price_c = price / f
            delta_pa = delta - price_c
            gamma = gamma - delta_pa / f
            vanna = vanna - vega / f
            price, delta = price_c, delta_pa
            vega, theta, rho, volga = vega / f, theta / f, rho / f, volga / f
    return Greeks(*(np.reshape(a, shape) for a in (price, delta, gamma, vega, theta, rho, vanna, volga)))
