"""The Analysis ToolPak's functions in array contexts: a range refused, an array value lifted.

The functions that came into Excel from the Analysis ToolPak add-in (ERF, ERFC, SQRTPI,
FACTDOUBLE, the base conversions DEC2HEX..., CONVERT, YEARFRAC, the IM* complex functions...)
read a parameter of one value differently from the built-in functions when given several
values in an array context (an array formula, SUMPRODUCT):

* a **multi-cell range** there is ``#VALUE!``, for the whole call: Excel's cached values in
  formulas' test book show every such call in an array formula as #VALUE! (sheet ENGINEERING:
  ``{=ERF(C21:I21)}`` AH21, ``{=CONVERT(C16:Q16,"C","F")}`` AH16, ``{=HEX2DEC(C27:J27)}`` AG27,
  ``{=IMABS(C29:Q29)}`` AH29; DATE & TIME ``{=YEARFRAC(C27:E27,D27:F27,E27:G27)}`` AH27; MATH & TRIG
  ``{=SQRTPI(C70:Q70)}`` AG70): the add-in's functions are registered to take their parameters
  as values, and a reference to several cells is no value;
* an **array value** (an array constant, ``A1:A3+0``, ``--A1:A3``: what Excel has computed before
  the call) is evaluated element by element, like any function of one value (Microsoft,
  "Guidelines and examples of array formulas": a function of one value given an array returns
  an array); ``{=DEC2HEX({-1;0.5;2},2)}`` is "FFFFFFFFFF", "00", "02", the plain calls' values.

The engine lifts a host function's call element by element (:mod:`addin.headless.host_arguments`);
:func:`range_refused` tells it which calls it does not lift, and :func:`refusing_ranges` makes
the function's own evaluation answer #VALUE! for the range it is then given. Functions that take
lists (IMSUM, IMPRODUCT, GCD, LCM: "number1, number2, ...") are not of this rule.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import replace
from typing import Any

from addin.headless.host import HostFunction
from addin.headless.values import ExcelError

#: The Analysis ToolPak's functions of one value a parameter (Microsoft's reference lists them as
#: "Engineering" functions and the ToolPak's date and math functions) that the engine evaluates as
#: host functions; the rest of the family is the formula engine's own.
ANALYSIS_TOOLPAK = frozenset(
    """BIN2DEC BIN2HEX BIN2OCT DEC2BIN DEC2HEX DEC2OCT HEX2BIN HEX2DEC HEX2OCT OCT2BIN OCT2DEC OCT2HEX
    CONVERT YEARFRAC ERF ERF.PRECISE ERFC ERFC.PRECISE FACTDOUBLE SQRTPI ISEVEN ISODD
    IMABS IMAGINARY IMARGUMENT IMCONJUGATE IMCOS IMCOSH IMCOT IMCSC IMCSCH IMDIV IMEXP IMLN IMLOG10
    IMLOG2 IMPOWER IMREAL IMSEC IMSECH IMSIN IMSINH IMSQRT IMSUB IMTAN""".split()
)

#: The rest of the family (Microsoft, "Analysis ToolPak functions" and each function's page), which
#: the formula engine (IronCalc) evaluates itself, with the parameters that take one value
#: (0-based; None: every one). The lists are not: FVSCHEDULE's schedule, SERIESSUM's coefficients,
#: the holidays of NETWORKDAYS and WORKDAY, the values and dates of XIRR and XNPV ("an array or a
#: range"), MULTINOMIAL's numbers. The rule of the module docstring holds for them too: in an array
#: context ``{=EDATE(C1:C5,1)}`` is #VALUE! and ``{=EDATE(C1:C5+0,1)}`` each cell's date;
#: :mod:`addin.headless.lifting` applies it (a range refused, an array value lifted).
ENGINE_TOOLPAK: dict[str, frozenset[int] | None] = {
    **dict.fromkeys(
        """ACCRINT ACCRINTM AMORDEGRC AMORLINC BESSELI BESSELJ BESSELK BESSELY COMPLEX COUPDAYBS COUPDAYS
        COUPDAYSNC COUPNCD COUPNUM COUPPCD CUMIPMT CUMPRINC DELTA DISC DOLLARDE DOLLARFR DURATION EDATE EFFECT
        EOMONTH GESTEP INTRATE MDURATION MROUND NOMINAL ODDFPRICE ODDFYIELD ODDLPRICE ODDLYIELD PRICE PRICEDISC
        PRICEMAT QUOTIENT RANDBETWEEN RECEIVED TBILLEQ TBILLPRICE TBILLYIELD WEEKNUM YIELD YIELDDISC
        YIELDMAT""".split(),
        None,
    ),
    "FVSCHEDULE": frozenset({0}),
    "SERIESSUM": frozenset({0, 1, 2}),
    "NETWORKDAYS": frozenset({0, 1}),
    "WORKDAY": frozenset({0, 1}),
    "XIRR": frozenset({2}),
    "XNPV": frozenset({0}),
}

_RANGE = "an Analysis ToolPak function takes one value, not a range"


def range_refused(fn: HostFunction, kinds: list[str]) -> bool:
    """Whether a call of ``fn`` with arguments of ``kinds`` (the engine's argument kinds) is
    #VALUE! rather than lifted: ``fn`` refuses ranges and a one-value parameter is a multi-cell
    range."""
    return fn.refuses_ranges and any(kind == "range" and (fn.scalars is None or k in fn.scalars) for k, kind in enumerate(kinds))


def _one_value_each(evaluate: Callable[[list[list[Any]]], list[Any]]) -> Callable[[list[list[Any]]], list[Any]]:
    """``evaluate`` with a call given several values at a parameter answered #VALUE! (the range
    :func:`range_refused` kept from lifting), a one-value array given as its value."""

    def wrapped(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = [None] * len(calls)
        passed: list[int] = []
        given: list[list[Any]] = []
        for n, args in enumerate(calls):
            plain: list[Any] = []
            for a in args:
                if isinstance(a, list):
                    if len(a) != 1 or not isinstance(a[0], list) or len(a[0]) != 1:
                        out[n] = ExcelError("#VALUE!", _RANGE)
                        break
                    a = a[0][0]
                plain.append(a)
            else:
                passed.append(n)
                given.append(plain)
        for n, res in zip(passed, evaluate(given) if given else [], strict=True):
            out[n] = res
        return out

    return wrapped


def refusing_ranges(fn: HostFunction) -> HostFunction:
    """``fn`` under the rule of the module docstring: every parameter one value, a range refused."""
    return replace(fn, evaluate=_one_value_each(fn.evaluate), scalars=None, refuses_ranges=True)


def analysis_toolpak(table: MutableMapping[str, HostFunction]) -> None:
    """Put every function of :data:`ANALYSIS_TOOLPAK` in ``table`` under the rule (in place)."""
    for key, fn in list(table.items()):
        if key in ANALYSIS_TOOLPAK:
            table[key] = refusing_ranges(fn)


__all__ = ["ANALYSIS_TOOLPAK", "ENGINE_TOOLPAK", "analysis_toolpak", "range_refused", "refusing_ranges"]
