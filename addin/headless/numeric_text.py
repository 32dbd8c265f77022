"""Text read as a number where a function wants one: the one home of that coercion for host functions.

Excel reads text in a numeric argument as VALUE reads it (Microsoft, "VALUE function": "Text can
be in any of the constant number, date, or time formats recognized by Microsoft Excel"; "Convert
numbers stored as text to numbers"). The en-US forms read here, as the formula engine reads them
for ROUND of the same text (audit: ``ROUND("$1,000",2)`` 1000, ``ROUND("10%",2)`` 0.1,
``ROUND("1/2/2000",0)`` 36527):

* spaces around; a sign, or parentheses for a negative; one ``$`` before the digits;
* ASCII digits 0-9 only, with ``,`` between groups of three before the decimal point; an
  optional ``.`` and decimals; an optional exponent ``E+n``; one trailing ``%`` (divides by 100);
* a date or time text (:func:`addin.headless.datetext.date_time_value`) in the 1900 system.

Not numbers (Python's ``float()`` reads them, Excel does not): ``"1_000"``, ``"nan"``, ``"inf"``,
``"infinity"``, other scripts' digits (``"١٢"``), and a value beyond a double's range.

Used by FIXED, CONVERT, by :func:`whole_argument` (every host function's modes, counts and flags) and by
the numeric arguments of :mod:`addin.headless.excel_functions`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from addin.headless.datetext import date_time_value
from addin.headless.values import ExcelError

_NUMBER = re.compile(
    r"""\s*(?P<open>\()?\s*(?P<sign>[+-])?\s*\$?\s*(?P<sign2>[+-])?
    (?P<body>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)
    (?:[eE](?P<exp>[+-]?[0-9]{1,5}))?\s*(?P<pct>%)?\s*(?P<close>\))?\s*""",
    re.X,
)


def text_number(text: str) -> float | None:
    """The number ``text`` stands for as Excel coerces it (module docstring), or None."""
    m = _NUMBER.fullmatch(text)
    if m is not None and bool(m["open"]) == bool(m["close"]) and not (m["sign"] and m["sign2"]):
        if m["open"] and (m["sign"] or m["sign2"]):
            return None  # "(-5)" is not a number
        x = float(m["body"].replace(",", "") + (f"e{m['exp']}" if m["exp"] else ""))
        if m["pct"]:
            x /= 100
        if not math.isfinite(x):
            return None
        return -x if m["open"] or "-" in (m["sign"] or "", m["sign2"] or "") else x
    if not any(ch in text for ch in "/-:") or not any(ch.isdigit() for ch in text):
        return None  # a date or time has a separator and a digit
    got = date_time_value(text)
    return None if got is None or isinstance(got, ExcelError) else got


def number_argument(value: Any, name: str) -> float | ExcelError:
    """One number argument as Excel's functions read a value typed or referenced there: an error
    is itself, a blank 0, a logical 1 or 0, numeric text its number (:func:`text_number`; other
    text #VALUE! naming ``name``), a number itself (Microsoft, e.g. "ERF function", "NPV
    function": a nonnumeric argument is #VALUE!)."""
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        number = text_number(value)
        return ExcelError("#VALUE!", f"{name}: {value[:50]!r} is not a number") if number is None else number
    return float(value)


def whole_argument(value: Any, *, logicals: bool, non_finite: str = "#VALUE!", name: str = "") -> int | ExcelError:
    """A whole-number argument (a count, a mode, a flag) as Excel's functions read it.

    An error passes on; a blank cell is 0; text is read as a number, else #VALUE!; TRUE/FALSE are
    1/0 where ``logicals`` (TEXTBEFORE's instance_num, VALUETOTEXT's format), else #VALUE! (the
    engineering functions' places, T.TEST's tails and type); an infinite or NaN engine value is
    ``non_finite``; the rest is truncated toward zero. ``name`` prefixes the reason.
    """
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return 0
    where = f"{name}: " if name else ""
    if isinstance(value, bool):
        return int(value) if logicals else ExcelError("#VALUE!", f"{where}a logical is not a number here")
    if isinstance(value, str):
        number = text_number(value)
        if number is None:
            return ExcelError("#VALUE!", f"{where}{value[:50]!r} is not a number")
        value = number
    if not math.isfinite(value):
        return ExcelError(non_finite)
    return math.trunc(value)


__all__ = ["text_number", "whole_argument"]
