"""Writes ``_ncdf_series.py``: the unrolled Chebyshev series of the Mills ratio for ``ncdf_fast``.

Run ``python -m pricing.accel.gen_series`` after changing a piece; ``tests`` check that the
committed file is what this produces. The coefficients come from interpolating
M(z) = N(-z) / phi(z) = sqrt(pi/2) erfcx(z / sqrt 2) (``scipy.special.erfcx``) at Chebyshev
points (J. L. Schonfelder, Math. Comp. 32, 1978, uses the same kind of expansion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev
from scipy.special import erfcx

TARGET = Path(__file__).with_name("_ncdf_series.py")
#: The pieces: near z in [Z_LO, Z_SPLIT] in the variable z, far z in [Z_SPLIT, Z_MAX] in Z_SPLIT / z.
Z_LO = -1.0
Z_SPLIT = 5.0
Z_MAX = 40.0
T_LO = Z_SPLIT / Z_MAX
#: Terms kept per piece: where the measured error of N against ``scipy.special.ndtr`` stopped
#: falling (<= 2e-15 absolute on a 1e6-point grid; ``tests`` re-measure it).
NEAR_TERMS = 31
FAR_TERMS = 17
#: The price kernel's near piece (issue 33, docs/speed.md "Part four"): z in [TZ_LO, Z_SPLIT] in
#: the variable t = T_A / (T_A + z), mapped linearly to [-1, 1]. M(z) is close to a multiple of
#: 1/z, which a polynomial in z follows slowly (31 terms on [-1, 5]) and one in t quickly:
#: 16 terms reach the error floor of the reference (N within 6.7e-16 of ``scipy.special.ndtr``
#: on a 4e5-point grid; 15 terms 8e-15). T_A = 6 and TZ_LO = -0.5 were the best of A in 3..6,
#: TZ_LO in {-1, -0.5, 0} (TZ_LO = 0 puts z = 0 on an endpoint: 1.5e-15 there).
T_A = 6.0
TZ_LO = -0.5
NEAR_T_TERMS = 16
_T_LO = T_A / (T_A + Z_SPLIT)
_T_HI = T_A / (T_A + TZ_LO)
#: u = U_SCALE / (T_A + z) - U_SHIFT maps z in [TZ_LO, Z_SPLIT] onto [-1, 1] (u = -1 at Z_SPLIT).
U_SCALE = 2.0 * T_A / (_T_HI - _T_LO)
U_SHIFT = 2.0 * _T_LO / (_T_HI - _T_LO) + 1.0


def mills(z: Any) -> Any:
    """M(z) = N(-z) / phi(z) = sqrt(pi/2) erfcx(z / sqrt 2) (chebinterpolate passes arrays).

    Parameters
    ----------
    z : float or ndarray
        Standard normal deviate(s), any shape.

    Returns
    -------
    float or ndarray
        M(z), shape of ``z``.
    """
    return np.sqrt(np.pi / 2.0) * erfcx(z / np.sqrt(2.0))


def coefficients() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(near, far): z in [-1, 5] in the variable z; z in [5, 40] in the variable 5 / z.

    The near piece starts below 0 so that z = 0, where N is largest in absolute terms, is not
    an endpoint of the interval: on [0, 5] the error at z = 0 was 7e-15, on [-1, 5] 1.8e-15
    (measured against ``scipy.special.ndtr``).

    Returns
    -------
    (near, far) : (tuple of float, tuple of float)
        Chebyshev coefficients of each piece.
    """
    near = chebyshev.chebinterpolate(lambda x: mills(Z_LO + (x + 1.0) * ((Z_SPLIT - Z_LO) / 2.0)), 40)
    far = chebyshev.chebinterpolate(lambda x: mills(Z_SPLIT / (T_LO + (x + 1.0) * (1.0 - T_LO) / 2.0)), 40)
    return tuple(map(float, near[:NEAR_TERMS])), tuple(map(float, far[:FAR_TERMS]))


def coefficients_t() -> tuple[float, ...]:
    """The price kernel's near piece: z in [TZ_LO, Z_SPLIT] in the variable t = T_A / (T_A + z).

    Returns
    -------
    tuple of float
        Chebyshev coefficients in u = (t - t(Z_SPLIT)) 2 / (t(TZ_LO) - t(Z_SPLIT)) - 1.
    """

    def in_u(u: Any) -> Any:
        t = _T_LO + (u + 1.0) * ((_T_HI - _T_LO) / 2.0)
        return mills(T_A * (1.0 - t) / t)

    return tuple(map(float, chebyshev.chebinterpolate(in_u, 40)[:NEAR_T_TERMS]))


def monomial(coef: tuple[float, ...]) -> tuple[float, ...]:
    """Power-basis coefficients of a Chebyshev series on [-1, 1].

    Well conditioned here: the Chebyshev coefficients fall fast enough that the power-basis
    ones stay below 1 (sum of |a_k| 3.5 near, measured), so evaluating them loses < 2e-15.

    Parameters
    ----------
    coef : tuple of float
        Chebyshev coefficients.

    Returns
    -------
    tuple of float
        a_0, a_1, ... of Σ a_k x^k.
    """
    return tuple(float(c) for c in chebyshev.cheb2poly(np.array(coef)))


def estrin_expr(coef: tuple[float, ...], var: str = "x") -> tuple[str, int]:
    """Estrin's scheme for sum a_k x^k as one expression over the powers x, x2, x4, ...

    Returns (expression, highest power of two used). Horner's rule is one dependency chain
    of n FMAs (~4 cycles each); Estrin's tree is log2(n) deep, so the FMA units stay busy
    and the kernel is bound by throughput, not latency.

    Parameters
    ----------
    coef : tuple of float
        Power-basis coefficients.
    var : str
        The variable's name in the expression.

    Returns
    -------
    (expression, top) : (str, int)
        The Python expression over ``var``, ``var2``, ``var4``, ..., and the highest power of two of ``var`` it uses.
    """
    if len(coef) == 1:
        return repr(coef[0]), 1
    half = 1
    while half * 2 < len(coef):
        half *= 2
    low, p_low = estrin_expr(coef[:half], var)
    high, p_high = estrin_expr(coef[half:], var)
    power = var if half == 1 else f"{var}{half}"
    return f"({low} + {power} * {high})", max(half, p_low, p_high)


def poly_source(name: str, coef: tuple[float, ...]) -> str:
    """Python source of ``def name(x)``: the powers x2, x4, ... then Estrin's expression of the series.

    Parameters
    ----------
    name : str
        The function's name.
    coef : tuple of float
        Chebyshev coefficients on [-1, 1].

    Returns
    -------
    str
        Python source of the polynomial evaluation, to paste into a generated module.
    """
    expr, top = estrin_expr(monomial(coef))
    lines = [f"def {name}(x: float) -> float:"]
    power, prev = 2, "x"
    while power <= top:
        lines.append(f"    x{power} = {prev} * {prev}")
        prev, power = f"x{power}", power * 2
    lines.append(f"    return {expr}")
    return "\n".join(lines)


def series_module() -> str:
    """The text of ``_ncdf_series.py`` for the current coefficients.

    Returns
    -------
    str
        The full text of the generated module (header, coefficients and functions).
    """
    near, far = coefficients()
    head = (
        '"""Generated by ``python -m pricing.accel.gen_series``: the Mills-ratio series used by\n'
        ":func:`pricing.accel.mathfn.ncdf_fast`, in the power basis, evaluated by Estrin's scheme.\n"
        'Do not edit; a test checks it is current."""\n\n'
        "from pricing.accel.jit import inline\n\n"
        f"Z_LO = {Z_LO!r}\nZ_SPLIT = {Z_SPLIT!r}\nZ_MAX = {Z_MAX!r}\nT_LO = {T_LO!r}\n"
        f"T_A = {T_A!r}\nU_SCALE = {U_SCALE!r}\nU_SHIFT = {U_SHIFT!r}\n\n\n"
    )
    pieces = (("mills_near", near), ("mills_far", far), ("mills_near_t", coefficients_t()))
    body = "\n\n\n".join("@inline\n" + poly_source(n, c) for n, c in pieces)
    return head + body + "\n"


if __name__ == "__main__":
    TARGET.write_text(series_module())
    print(f"wrote {TARGET}")
