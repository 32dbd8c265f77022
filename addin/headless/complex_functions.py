"""The one-argument IM functions (IMTAN, IMCOT, IMSEC, IMCSC, IMEXP, IMLN, ...) as Excel computes and writes them.

IronCalc 0.9.1 departs from Excel's cached values in formulas' test book (sheet ENGINEERING,
rows 29-53) in three ways, each fixed here for every call over cells:

* **small parts written as text**: Excel writes a part below 1E-05 in scientific form with 15
  significant digits (``"1.28233995888454E-06+4.33496947416312E-06j"``, IMCSCH!S37;
  ``"3.82126757337684E-22+j"``, IMTAN!R53), and a part from 1E-05 in full
  (``"0.0000692361330972509+0.999941259144671j"``, IMTAN!S53). IronCalc writes every part in
  full and drops a part below about 1E-16 (``"j"``). The cached values place Excel's switch
  between 4.5E-06 (scientific) and 6.9E-05 (in full); 1E-05 is taken here and is not proven;
* **a logical cell** is #VALUE! (Microsoft, "COMPLEX function" family: inumber is "a complex
  number"; cached ``IMTAN(J53)`` with J53 TRUE), IronCalc #NUM!; **a blank** is 0 (``IMCOS(H33)``
  is "1"), IronCalc #NUM!; the logarithm of 0 is #NUM!, IronCalc the text ``"-inf"``;
* the functions' values are Python's ``cmath`` (principal branches, as Microsoft's formulas for
  each: e.g. "IMTAN function": tan(x+yi) = sin(2x)/(cos(2x)+cosh(2y)) + i·sinh(2y)/(cos(2x)+cosh(2y))),
  whose digits agree with Excel's cached ones where IronCalc's differ in the 12th digit (IMTAN!S53).

Text that is no complex number is #NUM!, an error value itself (as :mod:`addin.headless.complex_text`
reads IMSUM's arguments). The results' suffix is the argument's (``i`` for a real number).
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from typing import Any

from addin.headless.complex_text import parse
from addin.headless.host import ENGINE_ANSWER, HostFunction
from addin.headless.textparts import as_text
from addin.headless.values import ExcelError

#: Below this a part is written in scientific form (module docstring: between 4.5E-06 and 6.9E-05).
SCIENTIFIC_BELOW = 1e-5


def _part(x: float) -> str:
    """One part with 15 significant digits: in full from :data:`SCIENTIFIC_BELOW` to 1E-04,
    else as General writes it (:func:`~addin.headless.textparts.as_text`)."""
    if SCIENTIFIC_BELOW <= abs(x) < 1e-4:
        exponent = math.floor(math.log10(abs(x)))
        return f"{x:.{14 - exponent}f}".rstrip("0").rstrip(".")
    return str(as_text(x))


def write_im(z: complex, suffix: str) -> str | ExcelError:
    """``z`` as Excel's IM functions write it: a zero part left out, an imaginary part of ±1
    without its digit, zero itself "0"; #NUM! beyond the floating-point range."""
    if not (math.isfinite(z.real) and math.isfinite(z.imag)):
        return ExcelError("#NUM!", "the result is beyond the largest number")
    re_text = _part(z.real) if z.real else ""
    if not z.imag:
        return re_text or "0"
    magnitude = abs(z.imag)
    digits = "" if magnitude == 1 else _part(magnitude)
    sign = "-" if z.imag < 0 else ("+" if z.real else "")
    return f"{re_text}{sign}{digits}{suffix}"


def _argument(v: Any) -> tuple[complex, str] | ExcelError:
    if isinstance(v, list):
        if len(v) == 1 and isinstance(v[0], list) and len(v[0]) == 1:
            v = v[0][0]
        else:
            return ExcelError("#VALUE!", "an IM function takes one complex number, not a range")
    if isinstance(v, ExcelError):
        return v
    if isinstance(v, bool):
        return ExcelError("#VALUE!", "a logical is not a complex number")
    if v is None or v == "":
        return 0j, "i"
    if isinstance(v, (int, float)):
        return complex(float(v), 0.0), "i"
    parsed = parse(str(v).strip())
    if parsed is None:
        return ExcelError("#NUM!", f"{str(v)[:50]!r} is not a complex number x+yi or x+yj")
    return parsed[0], parsed[1] or "i"


def _log(base: float) -> Callable[[complex], complex]:
    return lambda z: cmath.log(z) / math.log(base)


#: The functions and their values (Microsoft's definition of each; ``cmath`` principal branches).
_UNARY: dict[str, Callable[[complex], complex]] = {
    "IMTAN": cmath.tan,
    "IMCOT": lambda z: 1 / cmath.tan(z),
    "IMSEC": lambda z: 1 / cmath.cos(z),
    "IMCSC": lambda z: 1 / cmath.sin(z),
    "IMSECH": lambda z: 1 / cmath.cosh(z),
    "IMCSCH": lambda z: 1 / cmath.sinh(z),
    "IMCOS": cmath.cos,
    "IMCOSH": cmath.cosh,
    "IMEXP": cmath.exp,
    "IMLN": cmath.log,
    "IMLOG10": cmath.log10,
    "IMLOG2": _log(2.0),
}


def _evaluator(name: str) -> Callable[[list[list[Any]]], list[Any]]:
    f = _UNARY[name]

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            if len(args) != 1:
                out.append(ExcelError("#VALUE!", f"{name} takes one complex number"))
                continue
            got = _argument(args[0])
            if isinstance(got, ExcelError):
                out.append(got)
                continue
            z, suffix = got
            if z == 0 and name in ("IMLN", "IMLOG10", "IMLOG2", "IMCOT", "IMCSC", "IMCSCH"):
                out.append(ExcelError("#NUM!", f"{name} of 0"))
                continue
            try:
                out.append(write_im(f(z), suffix))
            except (OverflowError, ValueError, ZeroDivisionError):
                out.append(ExcelError("#NUM!", f"{name} is beyond the floating-point range here"))
        return out

    return evaluate


def _cells(args: list[tuple[str, str]]) -> bool:
    """Calls over one cell (literals and expressions stay with the formula engine)."""
    return len(args) == 1 and args[0][0] == "cell"


#: The other IM functions: only a logical argument is taken from the formula engine (#VALUE!,
#: cached ``IMABS(J29)``, ``IMDIV(J38,K38)`` with J TRUE and K #VALUE!); the rest is its answer.
_LOGICAL_ONLY = (
    "IMABS",
    "IMAGINARY",
    "IMREAL",
    "IMARGUMENT",
    "IMCONJUGATE",
    "IMSIN",
    "IMSINH",
    "IMSQRT",
    "IMPOWER",
    "IMDIV",
    "IMSUB",
)


def _logicals(name: str) -> Callable[[list[list[Any]]], list[Any]]:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            answer: Any = ENGINE_ANSWER
            for v in args:
                if isinstance(v, ExcelError):
                    break  # the engine passes the first error on
                if isinstance(v, bool):
                    answer = ExcelError("#VALUE!", f"{name}: a logical is not a complex number")
                    break
                if isinstance(v, str) and v.strip() and parse(v.strip()) is None:
                    break  # text that is no complex number first: the engine's #NUM! (cached IMDIV(I38,J38))
            out.append(answer)
        return out

    return evaluate


def _cell_arguments(args: list[tuple[str, str]]) -> bool:
    return bool(args) and all(k in ("cell", "literal") for k, _ in args) and any(k == "cell" for k, _ in args)


def complex_functions() -> dict[str, HostFunction]:
    """The host functions, by bare upper-case name (module docstring)."""
    table = {name: HostFunction(name, _evaluator(name), _cells) for name in _UNARY}
    for name in _LOGICAL_ONLY:
        table[name] = HostFunction(name, _logicals(name), _cell_arguments, fallback=True)
    return table


__all__ = ["SCIENTIFIC_BELOW", "complex_functions", "write_im"]
