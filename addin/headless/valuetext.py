"""VALUETOTEXT and ARRAYTOTEXT as Excel computes them (IronCalc 0.9.1 cannot parse them).

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

Microsoft, "ARRAYTOTEXT function": ``ARRAYTOTEXT(array, [format])``, format 0 concise ("the
returned values will be the same as the rendered text"), 1 strict ("includes escape characters
and row delimiters", a string that "can be parsed when entered into the formula bar"); "If
format is anything other than 0 or 1, ARRAYTOTEXT returns the #VALUE! error". As the corpus
book's cached values show (same sheet, R3:AH4): concise is the values row by row joined by
", "; strict is ``{a,b;c,d}`` (columns by ",", rows by ";"), text quoted, a blank cell nothing,
an empty text ``""``; each value as VALUETOTEXT writes it (an error its text); format is read
as VALUETOTEXT's and lifted over when it is an array; the array being one blank cell is
#VALUE! in strict format (``ARRAYTOTEXT(H4,1)`` in Excel's cached values).
"""

from __future__ import annotations

from typing import Any

from addin.headless.host import elementwise
from addin.headless.numeric_text import whole_argument
from addin.headless.textparts import as_text
from addin.headless.values import ExcelError


def _format(value: Any) -> int | ExcelError:
    n = whole_argument(value, logicals=True, name="VALUETOTEXT: format")
    if isinstance(n, ExcelError):
        return n
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


def _grid(value: Any) -> list[list[Any]]:
    if isinstance(value, list):
        return [row if isinstance(row, list) else [row] for row in value]
    return [[value]]


def _array_text(array: Any, fmt_value: Any) -> Any:
    fmt = _format(fmt_value)
    if isinstance(fmt, ExcelError):
        return fmt
    if fmt == 0:
        return ", ".join(str(_one([v, 0.0])) for row in _grid(array) for v in row)
    if array is None:
        return ExcelError("#VALUE!", "ARRAYTOTEXT: a blank cell in strict format")
    rows = [",".join("" if v is None else str(_one([v, 1.0])) for v in row) for row in _grid(array)]
    return "{" + ";".join(rows) + "}"


def arraytotext(calls: list[list[Any]]) -> list[Any]:
    """ARRAYTOTEXT(array, [format]) of every call, lifted over format (module docstring)."""
    out: list[Any] = []
    for args in calls:
        if not 1 <= len(args) <= 2:
            out.append(ExcelError("#VALUE!", "ARRAYTOTEXT takes array and an optional format"))
            continue
        array = args[0]
        fmt = args[1] if len(args) == 2 else 0.0
        out.extend(elementwise(lambda a, array=array: _array_text(array, a[0]))([[fmt]]))
    return out
