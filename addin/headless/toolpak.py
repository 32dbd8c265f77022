"""The Analysis ToolPak's number functions as Excel computes them: FACTDOUBLE, SQRTPI, ISEVEN, ISODD, GCD, LCM.

These functions came into Excel from the Analysis ToolPak add-in and read their arguments more
strictly than the built-in ones, as Excel's cached values in formulas' test book show (sheets
MATH & TRIG rows 31, 34, 37, 70 and INFORMATION rows 9, 15), where IronCalc 0.9.1 departs:

* a logical is ``#VALUE!`` (``FACTDOUBLE(J31)`` with J31 TRUE; IronCalc: 1), checked before any
  range check (``GCD(-0.4,TRUE)`` is ``#VALUE!``, not ``#NUM!``); Microsoft, "FACTDOUBLE
  function": "If number is nonnumeric, FACTDOUBLE returns the #VALUE! error value";
* a multi-cell range at FACTDOUBLE's, SQRTPI's, ISEVEN's or ISODD's one number is ``#VALUE!``, in
  an array formula too (``{=FACTDOUBLE(C31:Q31)}`` is ``#VALUE!`` in every cell; IronCalc: each
  element's value);
* text is read as VALUE reads it (``ISEVEN("1/1/1900")`` is FALSE: day 1), a blank is 0, an error
  is itself.

The numbers (Microsoft's reference for each): FACTDOUBLE(n) = n·(n−2)·(n−4)… of the truncated
n, 1 for 0 and −1, ``#NUM!`` below −1 (checked before truncating: ``FACTDOUBLE(-1.1)`` is
``#NUM!``) or beyond a double; SQRTPI(x) = √(x·π), ``#NUM!`` for x < 0; ISEVEN/ISODD of the
truncated number; GCD and LCM of the truncated numbers, ``#NUM!`` for a negative one or one of
2^53 or more, LCM 0 when a number is 0; a blank cell given to GCD or LCM is ``#VALUE!`` (Excel's
cached ``GCD(H34)``), where FACTDOUBLE and SQRTPI read 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from addin.headless.host import HostFunction
from addin.headless.numeric_text import text_number
from addin.headless.values import ExcelError

_LIMIT = 2.0**53  # Excel's GCD/LCM take integers a double holds exactly


def _number(v: Any) -> float | ExcelError:
    """One value as these functions read it (module docstring)."""
    if isinstance(v, list):
        if len(v) == 1 and isinstance(v[0], list) and len(v[0]) == 1:
            v = v[0][0]
        else:
            return ExcelError("#VALUE!", "an Analysis ToolPak function takes one value, not a range")
    if isinstance(v, ExcelError):
        return v
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return ExcelError("#VALUE!", "an Analysis ToolPak function does not read a logical as a number")
    if isinstance(v, str):
        n = text_number(v)
        return ExcelError("#VALUE!", f"{v[:50]!r} is not a number") if n is None else n
    return float(v)


def _factdouble(x: float) -> float | ExcelError:
    if x < -1:
        return ExcelError("#NUM!")
    n = math.trunc(x)
    out = 1.0
    for k in range(n, 0, -2):
        out *= k
        if math.isinf(out):
            return ExcelError("#NUM!")
    return out


def _sqrtpi(x: float) -> float | ExcelError:
    return ExcelError("#NUM!") if x < 0 else math.sqrt(x * math.pi)


def _one(f: Callable[[float], Any]) -> Callable[[list[list[Any]]], list[Any]]:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            if len(args) != 1:
                out.append(ExcelError("#VALUE!", "the function takes one number"))
                continue
            x = _number(args[0])
            out.append(x if isinstance(x, ExcelError) else f(x))
        return out

    return evaluate


def _integers(args: list[Any]) -> list[int] | ExcelError:
    xs: list[float] = []
    for a in args:
        # a blank cell is #VALUE! here, unlike FACTDOUBLE's and SQRTPI's 0 (cached GCD(H34), LCM(H37))
        x = ExcelError("#VALUE!", "GCD and LCM do not read a blank cell") if a is None else _number(a)
        if isinstance(x, ExcelError):
            return x
        xs.append(x)
    if any(x < 0 or x >= _LIMIT for x in xs):
        return ExcelError("#NUM!")
    return [math.trunc(x) for x in xs]


def _many(f: Callable[[list[int]], int]) -> Callable[[list[list[Any]]], list[Any]]:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            ns = _integers(args)
            out.append(ns if isinstance(ns, ExcelError) else float(f(ns)))
        return out

    return evaluate


def _cells(ranges: bool) -> Callable[[list[tuple[str, str]]], bool]:
    """Calls over cells (and ranges where ``ranges``) and literals, a cell or range among them;
    literal-only calls and expressions stay with the formula engine."""
    kinds = ("cell", "range", "literal") if ranges else ("cell", "literal")

    def takes(args: list[tuple[str, str]]) -> bool:
        return bool(args) and all(k in kinds for k, _ in args) and any(k in ("cell", "range") for k, _ in args)

    return takes


def toolpak_functions() -> dict[str, HostFunction]:
    """The host functions, by bare upper-case name (module docstring)."""
    return {
        "FACTDOUBLE": HostFunction("FACTDOUBLE", _one(_factdouble), _cells(True)),
        "SQRTPI": HostFunction("SQRTPI", _one(_sqrtpi), _cells(True)),
        "ISEVEN": HostFunction("ISEVEN", _one(lambda x: math.trunc(x) % 2 == 0), _cells(True)),
        "ISODD": HostFunction("ISODD", _one(lambda x: math.trunc(x) % 2 == 1), _cells(True)),
        # GCD and LCM take ranges as lists of numbers: only calls over single cells are taken
        "GCD": HostFunction("GCD", _many(lambda ns: math.gcd(*ns)), _cells(False)),
        "LCM": HostFunction("LCM", _many(lambda ns: math.lcm(*ns)), _cells(False)),
    }


__all__ = ["toolpak_functions"]
