"""Aggregates given an array value (not a range), as Excel computes them.

An *array value* is what an expression makes in an array formula (Ctrl+Shift+Enter or dynamic):
``A1:A3*2``, ``IF(A1:A3>1,A1:A3)`` (FALSE where the test fails), ``TEXT(A1:A3,"0.0")``, or an
array constant. Microsoft's reference reads such an argument as it reads a reference: "If an
argument is an array or reference, only numbers in that array or reference are counted. Empty
cells, logical values, or text in the array or reference are ignored" ("COUNT function",
"AVERAGE function", "MEDIAN function", "GEOMEAN function", "HARMEAN function", "KURT function",
"SKEW function", "PRODUCT function"); AVERAGEA counts TRUE as 1 and FALSE and text as 0 ("Array
or reference arguments that contain text evaluate as 0"; the reading of STDEVA, VARA...,
:func:`a_values`, which STDEVA, VARA... in :mod:`addin.headless.dispersion` share); CONCAT
and TEXTJOIN join the text of every element (:mod:`addin.headless.constant_arrays`).

IronCalc 0.9.1 handles these functions over ranges but not over array values (probed function
by function, every way of making an array: expression, IF, array constant, LET name):

* COUNT counts 0 (``{=COUNT(IF(A1:A3>1,A1:A3))}``, ``{=COUNT(A1:A3*2)}``);
* PRODUCT, AVERAGEA, CONCAT and TEXTJOIN are "not implemented";
* STDEVA, STDEVPA, VARA and VARPA leave the logicals out (``STDEVA({TRUE,FALSE})`` #DIV/0!);
* AVERAGE, MEDIAN, GEOMEAN, HARMEAN, KURT and SKEW count the logicals of the array as numbers:
  ``{=AVERAGE(IF(A1:A4>1,A1:A4))}`` over 1, 2, 3, 5 is 2.5 (FALSE read as 0), Excel's 10/3.

SUM, COUNTA, AVERAGE's neighbours MIN/MAX/MINA/MAXA, SUMSQ, STDEV*, VAR*, AVEDEV, DEVSQ, LARGE,
SMALL, AND, OR and XOR gave Microsoft's answers over the same arrays and stay with IronCalc.

The functions of :data:`AGGREGATES` are host functions for the calls :func:`takes` accepts: every
argument a reference, an array value or a constant typed in, one at least an array value. A
constant typed directly into the arguments (``COUNT(A1:A3*2,"4")``, ``COUNT(TRUE,{1})``) is read
by other rules ("text representations of numbers that you type directly into the list of
arguments are counted") than the same value in a cell (:func:`_typed`). Calls of plain formulas,
where Excel intersects the range implicitly (the ``@`` of :mod:`addin.headless.formula`), stay
with the formula engine.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from addin.headless.formula import has_3d
from addin.headless.host import HostFunction, Typed
from addin.headless.numeric_text import number_argument
from addin.headless.values import ExcelError

#: Functions whose result is an array whatever their arguments (Microsoft, "Dynamic array
#: formulas and spilled array behavior": the functions that spill).
_ARRAY_FUNCTIONS = re.compile(
    r"(?<![\w.])(?:_xlfn\.|_xlws\.)?(?:SEQUENCE|RANDARRAY|FILTER|SORT|SORTBY|UNIQUE|TOCOL|TOROW|VSTACK|HSTACK|"
    r"MAKEARRAY|MAP|TRANSPOSE|CHOOSECOLS|CHOOSEROWS|TAKE|DROP|EXPAND|WRAPROWS|WRAPCOLS)\s*\(",
    re.I,
)
_STRINGS = re.compile(r'"(?:[^"]|"")*"')
#: An operand of a reference expression at the top level: a reference or name, or a call of a
#: function that returns a reference (its arguments collapsed: :func:`_depth0`).
_REF_OPERAND = r"(?:[\w$.!']+|(?:_xlfn\.)?(?:INDEX|OFFSET|INDIRECT|CHOOSE|IF|XLOOKUP)\(\))"
#: References joined by the reference operators only (range ``:``, intersection `` ``):
#: ``A1:A4 A2:A5``, ``A1:OFFSET(A1,3,0)``, ``A1:INDEX(A:A,4)`` are references, not array values.
#: A reference-returning call alone (``IF(A1:A3>1,A1:A3)``) is an array value in an array formula:
#: only as an operand of ``:`` or the intersection is it read as a reference.
_REFERENCE = re.compile(rf"\s*(?:[\w$.!']+|{_REF_OPERAND}(?:\s*[: ]\s*{_REF_OPERAND})+)\s*", re.I)


def _depth0(text: str) -> str:
    """``text`` with every parenthesised group's inside left out (``OFFSET(A1,3,0)`` is ``OFFSET()``)."""
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            if depth == 0:
                out.append(ch)
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def is_array_value(kind: str, text: str) -> bool:
    """Whether an argument (its kind and text, :class:`~addin.headless.host.HostFunction`'s
    ``takes``) is an array value: an array constant, or an expression over a range or a constant
    (``A1:A3*2``, ``IF(A1:A3>1,A1:A3)``, ``{1,2}+0``) or over a function that returns an array.
    An expression with an intersected range (``@A1:A3*2``, a plain formula) is one value."""
    if kind == "array":
        return True
    if kind != "expression":
        return False
    outside = _STRINGS.sub("", text)
    if "@" in outside or has_3d(outside) or _REFERENCE.fullmatch(_depth0(outside)):
        # references joined by reference operators (``A1:A4 A2:A5``, ``Sheet1:Sheet3!A1``) are a
        # reference, resolved later (addin.headless.refops, addin.headless.names), not an array value
        return False
    return ":" in outside or "{" in outside or _ARRAY_FUNCTIONS.search(outside) is not None


def takes(args: list[tuple[str, str]]) -> bool:
    """Calls whose every argument is a reference, an array value or a constant typed in, one at
    least an array value (``COUNT(1,{1,2,"a"})`` is 3, ``PRODUCT(2,{1,2,3})`` 12,
    ``COUNT(TRUE,{1})`` 2): a typed constant reaches the function as
    :class:`~addin.headless.host.Typed` and is read by the typed rule (:func:`_typed`)."""
    return (
        bool(args)
        and all(k in ("range", "cell", "literal") or is_array_value(k, t) for k, t in args)
        and any(is_array_value(k, t) for k, t in args)
    )


def _typed(args: list[Any], *, count: bool) -> list[Any]:
    """The arguments with each typed constant as Excel reads one typed into the list: a number,
    a logical (1 or 0) or numeric text is a number; other text or an error is an error for the
    averages and PRODUCT ("Arguments that are error values or text that cannot be translated
    into numbers cause errors", Microsoft, "AVERAGE function"), and is not counted by COUNT
    ("Logical values and text representations of numbers that you type directly into the list
    of arguments are counted ... error values or text that cannot be translated into numbers
    are not counted", "COUNT function"): left out there."""
    out: list[Any] = []
    for a in args:
        if not isinstance(a, Typed):
            out.append(a)
            continue
        number = number_argument(a.value, "a value typed into the arguments")
        if isinstance(number, ExcelError) and count:
            continue
        out.append(number)
    return out


def _elements(args: list[Any]) -> Iterator[Any]:
    """Every element of every argument, row by row (a scalar is one element)."""
    for a in args:
        if isinstance(a, list):
            for row in a:
                yield from row if isinstance(row, list) else [row]
        else:
            yield a


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def numbers(args: list[Any]) -> list[float] | ExcelError:
    """The numbers of references and arrays: text, logicals and blanks ignored, the first error
    returned (Microsoft, "AVERAGE function": "Arguments that are error values ... cause errors")."""
    out: list[float] = []
    for v in _elements(args):
        if isinstance(v, ExcelError):
            return v
        if _is_number(v):
            out.append(float(v))
    return out


def a_values(args: list[Any]) -> list[float] | ExcelError:
    """The numbers an ``A`` variant (AVERAGEA here; STDEVA, VARA... in :mod:`addin.headless.dispersion`)
    reads from cells, ranges and arrays: TRUE 1, FALSE and text 0, blanks left out, an error returned."""
    out: list[float] = []
    for a in args:
        cells = [v for row in a for v in row] if isinstance(a, list) else [a]
        for v in cells:
            if isinstance(v, ExcelError):
                return v
            if v is None:
                continue
            if isinstance(v, bool):
                out.append(1.0 if v else 0.0)
            elif isinstance(v, str):
                out.append(0.0)
            else:
                out.append(float(v))
    return out


def _count(args: list[Any]) -> float:
    """COUNT: the numbers only; errors in an array or reference are not counted either."""
    return float(sum(1 for v in _elements(_typed(args, count=True)) if _is_number(v)))


def _div0(what: str) -> ExcelError:
    return ExcelError("#DIV/0!", what)


def _average(xs: list[float]) -> Any:
    return sum(xs) / len(xs) if xs else _div0("no numbers to average")


def _product(xs: list[float]) -> Any:
    # Microsoft, "PRODUCT function": no numbers at all is 0 (PRODUCT of an empty range)
    return math.prod(xs) if xs else 0.0


def _median(xs: list[float]) -> Any:
    return statistics.median(xs) if xs else ExcelError("#NUM!", "MEDIAN of no numbers")


def _geomean(xs: list[float]) -> Any:
    # Microsoft, "GEOMEAN function": "If any data point ≤ 0, GEOMEAN returns the #NUM! error value"
    if not xs or any(x <= 0 for x in xs):
        return ExcelError("#NUM!", "GEOMEAN takes positive numbers")
    return math.exp(math.fsum(math.log(x) for x in xs) / len(xs))


def _harmean(xs: list[float]) -> Any:
    # Microsoft, "HARMEAN function": "If any data point ≤ 0, HARMEAN returns the #NUM! error value"
    if not xs or any(x <= 0 for x in xs):
        return ExcelError("#NUM!", "HARMEAN takes positive numbers")
    return len(xs) / math.fsum(1 / x for x in xs)


def _moments(xs: list[float], least: int, name: str) -> tuple[float, float] | ExcelError:
    """Mean and sample standard deviation; #DIV/0! below ``least`` points or a deviation of 0
    (Microsoft, "KURT function": fewer than four; "SKEW function": fewer than three)."""
    if len(xs) < least:
        return _div0(f"{name} needs {least} numbers at least")
    mean = sum(xs) / len(xs)
    s = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return (mean, s) if s > 0 else _div0(f"{name} of numbers that are all equal")


def _kurt(xs: list[float]) -> Any:
    """n(n+1)/((n-1)(n-2)(n-3)) Σ((x-m)/s)^4 - 3(n-1)²/((n-2)(n-3)) (Microsoft, "KURT function")."""
    ms = _moments(xs, 4, "KURT")
    if isinstance(ms, ExcelError):
        return ms
    (m, s), n = ms, len(xs)
    fourth = math.fsum(((x - m) / s) ** 4 for x in xs)
    return n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * fourth - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))


def _skew(xs: list[float]) -> Any:
    """n/((n-1)(n-2)) Σ((x-m)/s)³ (Microsoft, "SKEW function")."""
    ms = _moments(xs, 3, "SKEW")
    if isinstance(ms, ExcelError):
        return ms
    (m, s), n = ms, len(xs)
    return n / ((n - 1) * (n - 2)) * math.fsum(((x - m) / s) ** 3 for x in xs)


@dataclass(frozen=True)
class Aggregate:
    """How one function reads its arguments' elements and what it makes of them."""

    read: Callable[[list[Any]], list[float] | ExcelError]
    fold: Callable[[list[float]], Any]

    def __call__(self, args: list[Any]) -> Any:
        xs = self.read(_typed(args, count=False))
        return xs if isinstance(xs, ExcelError) else self.fold(xs)


#: The numeric aggregates IronCalc 0.9.1 gets wrong given an array value (module docstring).
AGGREGATES: dict[str, Aggregate] = {
    "PRODUCT": Aggregate(numbers, _product),
    "AVERAGE": Aggregate(numbers, _average),
    "AVERAGEA": Aggregate(a_values, _average),
    "MEDIAN": Aggregate(numbers, _median),
    "GEOMEAN": Aggregate(numbers, _geomean),
    "HARMEAN": Aggregate(numbers, _harmean),
    "KURT": Aggregate(numbers, _kurt),
    "SKEW": Aggregate(numbers, _skew),
}


def _each(one: Callable[[list[Any]], Any]) -> Callable[[list[list[Any]]], list[Any]]:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        return [one(args) for args in calls]

    return evaluate


def host_functions() -> dict[str, HostFunction]:
    """COUNT and :data:`AGGREGATES` as host functions of the calls :func:`takes` accepts."""
    table = {name: HostFunction(name, _each(agg), takes, typed=True) for name, agg in AGGREGATES.items()}
    table["COUNT"] = HostFunction("COUNT", _each(_count), takes, typed=True)
    return table
