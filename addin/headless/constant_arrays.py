"""CONCAT, TEXTJOIN and NPV given array constants, as Excel computes them.

IronCalc 0.9.1 takes ranges in these functions but not array constants: ``CONCAT({1;2;3})`` and
``TEXTJOIN("-",TRUE,{1,2,3})`` are "not implemented", ``NPV(0.1,{1;2;3})`` is 0 (found by the
generative differential test, tests/workbook/test_generative.py); nor the array values of
expressions (``{=CONCAT(C1:C3&"-")}``, ``{=TEXTJOIN(",",TRUE,IF(A1:A3>1,C1:C3,""))}``). The host
functions take the calls with an array constant among the arguments (NPV) or an array value
(CONCAT, TEXTJOIN: ``takes``); every other call stays with the formula engine.

* CONCAT (Microsoft, "CONCAT function"): the text of every element, row by row, a number as
  Excel writes it in text (15 significant digits), a blank as "", TRUE/FALSE as words; an
  error passes on; a result over 32,767 characters is #VALUE!.
* TEXTJOIN (Microsoft, "TEXTJOIN function"): the same texts joined by the delimiter; "if
  delimiter is an array", its elements are used in turn and repeat; ``ignore_empty`` TRUE
  leaves empty text out; over 32,767 characters #VALUE!.
* NPV (Microsoft, "NPV function"): sum of value_i / (1 + rate)^i, i = 1..n over the values in
  order; "if an argument is an array or reference, only numbers in that array or reference are
  counted" (text, logicals, blanks and errors in an array ignored); a rate of -1 is #DIV/0!.
"""

from __future__ import annotations

import math
import re
from typing import Any

from addin.headless.numeric_text import number_argument
from addin.headless.textparts import as_text
from addin.headless.values import ExcelError

#: A number typed as an argument.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: Excel's limit on the length of a cell's text (Microsoft, "Excel specifications and limits").
MAX_TEXT = 32767


def with_array(args: list[tuple[str, str]]) -> bool:
    """Calls with an array value among their arguments: an array constant, alone or in an
    expression (``CONCAT({0.1}+0.2)``), or an expression over a range (``CONCAT(C1:C3&"-")``,
    :func:`addin.headless.array_aggregates.is_array_value`); the rest stays with the engine."""
    from addin.headless.array_aggregates import is_array_value

    return any(is_array_value(k, t) for k, t in args)


def every_value_with_constant(args: list[tuple[str, str]]) -> bool:
    """Calls of a function of every value of every argument (COUNT, PRODUCT, NPV's values) with
    an array constant among them, the rest cells, ranges and numbers, in any mix
    (``NPV(0.1,1,{1,2})``, ``COUNT(1,{1,2,"a"})``): IronCalc 0.9.1 reads no array constant there.
    A number reads the same as a value and in a reference; a logical or text typed as an argument
    does not (Microsoft, "COUNT function": "Logical values and text representations of numbers
    that you type directly into the list of arguments are counted"), so such calls, and
    expressions, stay with the engine."""
    return (
        bool(args)
        and all(k in ("array", "range", "cell") or (k == "literal" and _NUMBER.fullmatch(t.strip())) for k, t in args)
        and any(k == "array" for k, _ in args)
    )


def values_with_constant(args: list[tuple[str, str]]) -> bool:
    """NPV calls whose values (after the rate) are :func:`every_value_with_constant`'s."""
    return every_value_with_constant(args[1:])


def _elements(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [v for row in value for v in (row if isinstance(row, list) else [row])]
    return [value]


def _texts(args: list[Any]) -> list[str] | ExcelError:
    out: list[str] = []
    for a in args:
        for v in _elements(a):
            t = as_text(v)
            if isinstance(t, ExcelError):
                return t
            out.append(t)
    return out


def _joined(parts: list[str]) -> str | ExcelError:
    text = "".join(parts)
    if len(text) > MAX_TEXT:
        return ExcelError("#VALUE!", f"the result is longer than {MAX_TEXT} characters")
    return text


def concat(calls: list[list[Any]]) -> list[Any]:
    out: list[Any] = []
    for args in calls:
        texts = _texts(args)
        out.append(texts if isinstance(texts, ExcelError) else _joined(texts))
    return out


def _logical(value: Any) -> bool | ExcelError:
    """``ignore_empty``: a logical, a number (non-zero TRUE), a blank FALSE; text #VALUE!."""
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, float | int):
        return value != 0
    upper = str(value).upper()
    if upper in ("TRUE", "FALSE"):
        return upper == "TRUE"
    return ExcelError("#VALUE!", "TEXTJOIN: ignore_empty is not a logical value")


def textjoin(calls: list[list[Any]]) -> list[Any]:
    out: list[Any] = []
    for args in calls:
        if len(args) < 3:
            out.append(ExcelError("#VALUE!", "TEXTJOIN takes delimiter, ignore_empty, text1, ..."))
            continue
        delimiters = _texts([args[0]])
        ignore = _logical(args[1] if not isinstance(args[1], list) else _elements(args[1])[0])
        texts = _texts(args[2:])
        bad = next((x for x in (delimiters, ignore, texts) if isinstance(x, ExcelError)), None)
        if bad is not None:
            out.append(bad)
            continue
        assert isinstance(delimiters, list) and isinstance(texts, list)
        kept = [t for t in texts if t != ""] if ignore else texts
        parts: list[str] = []
        for i, t in enumerate(kept):
            if i:
                parts.append(delimiters[(i - 1) % len(delimiters)])
            parts.append(t)
        out.append(_joined(parts))
    return out


def _rate(value: Any) -> float | ExcelError:
    if isinstance(value, list):
        value = _elements(value)[0]
    return number_argument(value, "NPV: rate")


def _npv_at(rate_value: Any, values: list[float]) -> Any:
    rate = _rate(rate_value)
    if isinstance(rate, ExcelError):
        return rate
    if rate == -1:
        return ExcelError("#DIV/0!", "NPV: a rate of -1 divides by zero")
    total = math.fsum(v / (1 + rate) ** i for i, v in enumerate(values, 1))
    return total if math.isfinite(total) else ExcelError("#NUM!")


def npv(calls: list[list[Any]]) -> list[Any]:
    """NPV per call; a rate given as a range or array of several values is one NPV per rate, in
    its shape (the rate is a one-value parameter, lifted as Excel lifts it: formulas' test book,
    ``NPV(C33:Q33,C33:G33)`` spills one value per rate)."""
    out: list[Any] = []
    for args in calls:
        if not args:
            out.append(ExcelError("#VALUE!", "NPV takes rate, value1, ..."))
            continue
        values = [float(v) for a in args[1:] for v in _elements(a) if isinstance(v, float | int) and not isinstance(v, bool)]
        rate = args[0]
        if isinstance(rate, list) and len(_elements(rate)) > 1:
            out.append([[_npv_at(r, values) for r in (row if isinstance(row, list) else [row])] for row in rate])
        else:
            out.append(_npv_at(rate, values))
    return out
