"""Branch-free exp, log and normal CDF for the numba kernels, and an accurate tail CDF.

Why our own elementary functions: a call to libm's ``exp``/``log``/``erfc`` inside a loop
stops LLVM from vectorising it, and the normal CDF is most of a Black-76 evaluation. Written
from arithmetic and bit-casts, the whole loop body compiles to SIMD code (4 lanes on AVX2,
8 where LLVM picks AVX-512), with no branch to mispredict: every case (tails, NaN, 0, inf) is
a select. Polynomials use Estrin's scheme (a tree of depth log2 n, not Horner's chain of n
dependent FMAs): measured, it took N from 13 ns to 6 ns a call on one core.

* ``exp_fast``: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Taylor degree 13
  (truncation < 5e-18 relative), and 2^n built in the exponent bits. Measured error
  <= 4.5e-16 relative on [-700, 700]; 0 below -708, inf above 709.
* ``log_fast``: x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m-1)/(m+1),
  odd series to s^21 (|s| <= 0.1716: truncation < 1e-17). Measured error <= 4.5e-16 on
  normal and subnormal x; -inf at 0, NaN below.
* ``ncdf_fast``: N(x) = phi(z) M(z) for z = |x| (Mills ratio M), reflected for x > 0. M is
  a polynomial on two pieces, z in [-1, 5] (31 terms in z) and [5, 40] (17 terms in 5/z),
  both evaluated and selected; :mod:`pricing.accel.gen_series` interpolates
  ``scipy.special.erfcx`` (M(z) = sqrt(pi/2) erfcx(z/sqrt 2)) at Chebyshev points and writes
  the power-basis form. Measured against ``scipy.special.ndtr``: absolute error <= 1.8e-15,
  relative <= 5e-13 in the far left tail (the rounding of z^2 in phi). Beyond z = 40, phi
  underflows and N is exactly 0 or 1.
* ``ncdf_near_given_pdf`` / ``ncdf_far_given_pdf``: one piece of ``ncdf_given_pdf`` alone, for a
  caller that knows every argument of a loop is on one side of the split (the same bits there).
* ``ncdf_t_given_pdf`` / ``ncdf_near_t_given_pdf``: the Black-76 price kernel's CDF (issue 33).
  The same far piece; the near piece is a series of 16 terms in t = 6 / (6 + z) instead of 31
  in z (one division more, 15 FMAs fewer, a shorter dependency chain). Measured against
  ``scipy.special.ndtr``: absolute error <= 6.7e-16 for |x| < 5 (the 31-term piece: 1.8e-15),
  relative <= 7.6e-15 in the left tail there; ``tests/cross/test_kernel_math.py``.
* ``ncdf_tail``: libm ``erfc`` (accurate to ~1 ulp relative in the whole left tail), for
  the implied-vol solver whose log-price objective needs relative accuracy deep OTM.

References: W. J. Cody & W. Waite, *Software Manual for the Elementary Functions* (1980),
ch. 5-6 (argument reduction); J. L. Schonfelder, "Chebyshev expansions for the error and
related functions", Math. Comp. 32 (1978) (Chebyshev expansions of erfc-type functions);
G. Estrin, "Organization of computer systems", Proc. Western Joint Computer Conf. (1960).
"""

from __future__ import annotations

import math

from pricing.accel._ncdf_series import T_A, T_LO, U_SCALE, U_SHIFT, Z_LO, Z_MAX, Z_SPLIT, mills_far, mills_near, mills_near_t
from pricing.accel.jit import bits_f64, f64_bits, inline

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 with the low 32 bits of the mantissa zero: n ln2_hi is exact
_LN2_LO = 1.9082149292705877e-10
_ROUND = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer held in the low bits
_ROUND_BITS = 0x4338000000000000
_EXP_COEF = tuple(1.0 / math.factorial(j) for j in range(14))


@inline
def exp_fast(x: float) -> float:
    """e^x, branch-free (see module notes).

    Parameters
    ----------
    x : float
        The exponent, any double (overflow and underflow as :func:`math.exp`).

    Returns
    -------
    float
        Relative error <= 4.5e-16 on [-700, 700] (measured); 0 below -708, inf above 709.
    """
    xc = min(max(x, -708.0), 709.0)
    t = xc * _LOG2E + _ROUND
    n = f64_bits(t) - _ROUND_BITS
    nf = t - _ROUND
    r = xc - nf * _LN2_HI
    r = r - nf * _LN2_LO
    # Estrin's scheme: a tree of depth 4 instead of a chain of 13 dependent FMAs.
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    c = _EXP_COEF
    p01 = 1.0 + r
    p23 = c[2] + c[3] * r
    p45 = c[4] + c[5] * r
    p67 = c[6] + c[7] * r
    p89 = c[8] + c[9] * r
    p1011 = c[10] + c[11] * r
    p1213 = c[12] + c[13] * r
    p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67) + r8 * ((p89 + r2 * p1011) + r4 * p1213)
    y = p * bits_f64((n + 1023) << 52)
    y = 0.0 if x < -708.0 else y
    y = math.inf if x > 709.0 else y
    return x if x != x else y  # NaN in, NaN out


_MANT_MASK = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_TINY = 2.2250738585072014e-308
_LOG_COEF = tuple(2.0 / (2 * j + 1) for j in range(11))


@inline
def log_fast(x: float) -> float:
    """ln x, branch-free (see module notes).

    Parameters
    ----------
    x : float
        A positive double (0 gives -inf, a negative value NaN).

    Returns
    -------
    float
        Error <= 4.5e-16 (measured); -inf at 0, NaN below.
    """
    sub = x < _TINY
    xs = x * 18014398509481984.0 if sub else x  # 2^54 lifts subnormals to normal
    bits = f64_bits(xs)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = bits_f64((bits & _MANT_MASK) | _ONE_BITS)
    big = m > 1.4142135623730951
    m = 0.5 * m if big else m
    ef = float(e) + (1.0 if big else 0.0) - (54.0 if sub else 0.0)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    s4 = s2 * s2
    s8 = s4 * s4
    c = _LOG_COEF
    p = (
        ((c[0] + c[1] * s2) + s4 * (c[2] + c[3] * s2))
        + s8 * ((c[4] + c[5] * s2) + s4 * (c[6] + c[7] * s2))
        + s8 * s8 * (c[8] + c[9] * s2 + s4 * c[10])
    )
    y = ef * _LN2_HI + (s * p + ef * _LN2_LO)
    y = -math.inf if x == 0.0 else y
    y = math.nan if x < 0.0 else y
    y = math.inf if x == math.inf else y
    return x if x != x else y


# -- the normal CDF (series in _ncdf_series.py, made by pricing.accel.gen_series) --------------
_INV_SQRT_2PI = 0.3989422804014327


@inline
def npdf_fast(x: float) -> float:
    """phi(x) = e^{-x^2/2} / sqrt(2 pi).

    Parameters
    ----------
    x : float
        Standard normal deviate.

    Returns
    -------
    float
        φ(x) = e^(-x²/2) / sqrt(2π).
    """
    return _INV_SQRT_2PI * exp_fast(-0.5 * x * x)


@inline
def ncdf_fast(x: float) -> float:
    """Standard normal CDF N(x), branch-free (see module notes).

    Parameters
    ----------
    x : float
        Standard normal deviate.

    Returns
    -------
    float
        Absolute error <= 1.8e-15 against ``scipy.special.ndtr`` (measured).
    """
    return ncdf_given_pdf(x, npdf_fast(x))


@inline
def ncdf_given_pdf(x: float, pdf: float) -> float:
    """N(x) when phi(x) is known already: the Mills-ratio part of :func:`ncdf_fast` alone.

    Black-76 needs N(d1) and N(d2) with phi(d2) = phi(d1) F/K exactly (d2 = d1 - s and
    d1 s - s^2/2 = ln(F/K)), so one exponential serves both CDFs and the greeks' density.

    Parameters
    ----------
    x : float
        Standard normal deviate.
    pdf : float
        φ(x).

    Returns
    -------
    float
        Φ(x), the standard normal distribution function at x.
    """
    z = min(abs(x), Z_MAX)
    near = mills_near((z - Z_LO) * (2.0 / (Z_SPLIT - Z_LO)) - 1.0)
    t = Z_SPLIT / max(z, Z_SPLIT)
    far = mills_far((t - T_LO) * (2.0 / (1.0 - T_LO)) - 1.0)
    lower = pdf * (near if z < Z_SPLIT else far)  # N(-|x|)
    lower = 0.0 if z >= Z_MAX else lower
    return 1.0 - lower if x > 0.0 else lower


@inline
def ncdf_near_given_pdf(x: float, pdf: float) -> float:
    """:func:`ncdf_given_pdf` for ``|x| < Z_SPLIT`` only: the near piece alone, the same bits there.

    :func:`ncdf_given_pdf` evaluates both pieces of the Mills ratio and selects one, so that a
    vector of arguments needs no branch; a caller that knows every argument of a loop is on one
    side of ``Z_SPLIT`` (:mod:`pricing.accel.scenario` checks a row of scenarios first) skips the
    other piece: 31 of the 48 polynomial terms and the far piece's division.

    Parameters
    ----------
    x : float
        Standard normal deviate with ``|x| < Z_SPLIT`` (outside it the result is wrong).
    pdf : float
        φ(x).

    Returns
    -------
    float
        Φ(x), bit for bit :func:`ncdf_given_pdf` (x, pdf) where ``|x| < Z_SPLIT``.
    """
    z = abs(x)
    lower = pdf * mills_near((z - Z_LO) * (2.0 / (Z_SPLIT - Z_LO)) - 1.0)
    return 1.0 - lower if x > 0.0 else lower


@inline
def ncdf_far_given_pdf(x: float, pdf: float) -> float:
    """:func:`ncdf_given_pdf` for ``|x| >= Z_SPLIT`` only (infinite included): the far piece alone.

    Parameters
    ----------
    x : float
        Standard normal deviate with ``|x| >= Z_SPLIT`` (inside it the result is wrong).
    pdf : float
        φ(x).

    Returns
    -------
    float
        Φ(x), bit for bit :func:`ncdf_given_pdf` (x, pdf) where ``|x| >= Z_SPLIT``.
    """
    z = min(abs(x), Z_MAX)
    # max(z, Z_SPLIT) is z here, as in ncdf_given_pdf's far piece.
    t = Z_SPLIT / z
    lower = pdf * mills_far((t - T_LO) * (2.0 / (1.0 - T_LO)) - 1.0)
    lower = 0.0 if z >= Z_MAX else lower
    return 1.0 - lower if x > 0.0 else lower


@inline
def ncdf_near_t_given_pdf(x: float, pdf: float) -> float:
    """Φ(x) for ``|x| < Z_SPLIT`` from φ(x): the near piece of :func:`ncdf_t_given_pdf` alone.

    N(-z) = φ(z) M(z) with the Mills ratio M(z) = sqrt(π/2) erfcx(z / sqrt 2) as a 16-term series
    in u = U_SCALE / (T_A + z) - U_SHIFT (t = T_A / (T_A + z) mapped onto [-1, 1] for z in
    [-0.5, 5]), Chebyshev interpolation of ``scipy.special.erfcx`` written in the power basis
    (:mod:`pricing.accel.gen_series`; J. L. Schonfelder, Math. Comp. 32, 1978, expands erfc-type
    functions in such a rational variable). M is close to a multiple of 1/z, which a polynomial
    in t follows with half the terms of one in z.

    Parameters
    ----------
    x : float
        Standard normal deviate with ``|x| < Z_SPLIT`` (outside it the result is wrong).
    pdf : float
        φ(x).

    Returns
    -------
    float
        Φ(x), bit for bit :func:`ncdf_t_given_pdf` (x, pdf) where ``|x| < Z_SPLIT``; within
        6.7e-16 of ``scipy.special.ndtr`` there (measured).
    """
    z = abs(x)
    lower = pdf * mills_near_t(U_SCALE / (T_A + z) - U_SHIFT)
    return 1.0 - lower if x > 0.0 else lower


@inline
def ncdf_t_given_pdf(x: float, pdf: float) -> float:
    """Φ(x) from φ(x), branch-free: :func:`ncdf_near_t_given_pdf` below ``Z_SPLIT``, the far piece of
    :func:`ncdf_given_pdf` at and beyond it (the same bits there), 0 or 1 beyond ``Z_MAX``.

    The Black-76 price kernel's CDF (:mod:`pricing.accel.black76`); :func:`ncdf_given_pdf` (31
    terms near) stays for the greeks and scenario kernels, whose bits this leaves unchanged.

    Parameters
    ----------
    x : float
        Standard normal deviate.
    pdf : float
        φ(x).

    Returns
    -------
    float
        Φ(x); absolute error <= 3e-15 against ``scipy.special.ndtr``, relative <= 5e-13 in the
        left tail (the bounds of :func:`ncdf_fast`, tested).
    """
    near = ncdf_near_t_given_pdf(x, pdf)
    far = ncdf_far_given_pdf(x, pdf)
    # Written as a positive comparison: NaN takes the far piece, as in ncdf_given_pdf.
    return near if abs(x) < Z_SPLIT else far


@inline
def ncdf_tail(x: float) -> float:
    """N(x) from libm erfc: relative accuracy ~1 ulp in the whole left tail.

    Parameters
    ----------
    x : float
        Standard normal deviate in the tail the function is written for.

    Returns
    -------
    float
        Φ(x), the standard normal distribution function at x.
    """
    return 0.5 * math.erfc(-x * 0.7071067811865476)
