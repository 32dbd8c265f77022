"""VALUETOTEXT as Excel computes it (IronCalc 0.9.1 cannot parse it).

Microsoft, "VALUETOTEXT function": ``VALUETOTEXT(value, [format])`` "returns text from any
specified value. It passes text values unchanged, and converts non-text values to text";
format 0 "Concise format that is easy to read" (the default), 1 "Strict format that includes
escape characters and row delimiters ... Generates a string that can be parsed when entered
into the formula bar. Encapsulates returned strings in quotes except for Booleans, Numbers and
Errors"; "If format is anything other than 0 or 1, VALUETOTEXT returns the #VALUE! error".

As the corpus book's cached values show (formulas' ``test.xlsx``, sheet "TEXT", R54:AH55): an
error value is its *text* (``VALUETOTEXT(#VALUE!)="#VALUE!"`` is TRUE), a number is written as
Excel writes it in text, a blank is ""; format is truncated (0.9 is 0, "1.99" is 1, FALSE 0, a
blank 0), -1, 2 and "a" are #VALUE!. In strict format a text is quoted with its own quotation
marks doubled (as a formula writes a string), a blank stays "". Lifted over arrays element by
element (a range in an array formula).
"""

from __future__ import annotations

import math
from typing import Any

from addin.headless.host import elementwise
from addin.headless.textparts import as_text
from addin.headless.values import ExcelError


def _format(value: Any) -> int | ExcelError:
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return ExcelError("#VALUE!", f"VALUETOTEXT: format {value!r} is not a number")
    if not math.isfinite(value):
        return ExcelError("#VALUE!")
    n = math.trunc(value)
    return n if n in (0, 1) else ExcelError("#VALUE!", f"VALUETOTEXT: format is 0 or 1, not {n}")


def _one(args: list[Any]) -> Any:
    if not 1 <= len(args) <= 2:
        return ExcelError("#VALUE!", "VALUETOTEXT takes value and an optional format")
    fmt = _format(args[1]) if len(args) == 2 else 0
    if isinstance(fmt, ExcelError):
        return fmt
    value = args[0]
    if isinstance(value, ExcelError):
        return value.code
    if fmt == 1 and isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return as_text(value)


def valuetotext(calls: list[list[Any]]) -> list[Any]:
    """VALUETOTEXT(value, [format]) of every call, lifted over arrays (module docstring)."""
    return elementwise(_one)(calls)
