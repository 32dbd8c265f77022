"""Date text Excel reads and the formula engine does not, in DATEVALUE and VALUE.

Microsoft, "DATEVALUE function": date_text is "text that represents a date in an Excel date
format"; "If the year portion of the date_text argument is omitted, DATEVALUE uses the current
year from your computer's built-in clock", its own examples being ``DATEVALUE("5-JUL")`` and
``DATEVALUE("2011/02/23")``; "time information in the date_text argument is ignored". VALUE reads
"any of the constant number, date, or time formats recognized by Microsoft Excel" (Microsoft,
"VALUE function"), the time included. IronCalc 0.9.1 reads ``2024-03-01``, ``3/1/2024`` and
``1-Mar-2024`` and nothing else (``"1 Mar 2024"``, ``"March 1, 2024"``, ``"5-JUL"``,
``VALUE("3/1/2024 12:00")``, ``VALUE("12:00")``: #VALUE!, measured).

A string literal argument in one of the en-US forms below is rewritten into one the engine
reads: ``DATEVALUE("2024-03-01")``, ``DATEVALUE(YEAR(TODAY())&"-07-05")`` for a text without a
year, and for VALUE that plus ``TIME(h,m,s)``. The forms (month names in English, full or
three letters, any case; a two-digit year 00-29 is 20xx, 30-99 19xx, Microsoft, "How Excel
works with two-digit year numbers"): ``d mmm [yyyy]``, ``d-mmm[-yyyy]``, ``mmm d[, yyyy]``,
``mmm-yyyy`` (the first of the month), ``m/d[/yyyy]``, ``yyyy-m-d``, ``yyyy/m/d``, each
optionally followed by a time ``h:mm[:ss] [AM|PM]``; VALUE also reads a time alone. A day that
does not exist in its month stays as written (the engine's #VALUE!, as Excel's).

DATEVALUE of text from a cell or another formula (``DATEVALUE(A1)``) reads the same forms as a
host function (:func:`datevalue`): a text in none of them, or a number, is left to the engine.
VALUE of such text, and of a time alone, is a host function too (:func:`value_of_text`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, rewrite_calls, significant
from addin.headless.host import ENGINE_ANSWER
from addin.headless.serials import excel_serial
from addin.headless.values import ExcelError

_MONTHS = {
    name: k
    for k, full in enumerate("january february march april may june july august september october november december".split(), 1)
    for name in (full, full[:3])
}
_MON = r"(?P<mon>[A-Za-z]{3,9})"
_D = r"(?P<d>\d{1,2})"
_Y = r"(?P<y>\d{4}|\d{2})"
_TIME = r"(?:\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ap>[AaPp][Mm])?)?"
_FORMS = [
    re.compile(rf"^{_D}[\s-]+{_MON}(?:[\s-]+{_Y})?{_TIME}$"),
    re.compile(rf"^{_MON}\s+{_D}(?:,?\s+{_Y})?{_TIME}$"),
    re.compile(rf"^{_MON}[\s-]+(?P<y>\d{{4}}){_TIME}$"),
    re.compile(rf"^(?P<m>\d{{1,2}})/{_D}(?:/{_Y})?{_TIME}$"),
    re.compile(rf"^(?P<y>\d{{4}})[-/](?P<m>\d{{1,2}})[-/]{_D}{_TIME}$"),
]
_TIME_ALONE = re.compile(r"^(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ap>[AaPp][Mm])?$")
_CALLS = re.compile(r"\b(?:DATEVALUE|VALUE)\s*\(\s*\"", re.I)


def needs_date_text(text: str) -> bool:
    """Cheap test before tokenising: DATEVALUE or VALUE of a string literal."""
    return _CALLS.search(text) is not None


def _time(g: dict[str, Any]) -> tuple[int, int, int] | None:
    """(hours, minutes, seconds) of a matched time, () when there is none, None when invalid."""
    if g.get("h") is None:
        return (0, 0, 0)
    h, mi, s = int(g["h"]), int(g["mi"]), int(g["s"] or 0)
    if g.get("ap"):
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if g["ap"].lower() == "pm" else 0)
    return (h, mi, s) if h < 24 and mi < 60 and s < 60 else None


def read(text: str) -> tuple[int | None, int, int, tuple[int, int, int]] | None:
    """(year or None when omitted, month, day, (h, m, s)) of a date text in a form above."""
    t = text.strip()
    for form in _FORMS:
        m = form.match(t)
        if m is None:
            continue
        g = m.groupdict()
        month = _MONTHS.get(g["mon"].lower()) if g.get("mon") else int(g["m"])
        if month is None:
            return None
        day = int(g["d"]) if g.get("d") else 1
        year = None
        if g.get("y"):
            year = int(g["y"])
            if len(g["y"]) == 2:
                year += 2000 if year < 30 else 1900
        hms = _time(g)
        if hms is None:
            return None
        try:
            dt.date(year or 2000, month, day)  # 2000: a leap year, so 29 February without a year stands
        except ValueError:
            return None
        return year, month, day, hms
    return None


def _datevalue(year: int | None, month: int, day: int) -> str:
    if year is None:
        return f'DATEVALUE(YEAR(TODAY())&"-{month:02d}-{day:02d}")'
    return f'DATEVALUE("{year:04d}-{month:02d}-{day:02d}")'


def _rewrite(call: Call) -> str | None:
    if call.key not in ("DATEVALUE", "VALUE") or len(call.args) != 1:
        return None
    sig = significant(call.args[0])
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.TEXT:
        return None
    text = sig[0].value[1:-1].replace('""', '"')
    got = read(text)
    if got is None:
        if call.key == "VALUE" and (m := _TIME_ALONE.match(text.strip())) is not None:
            hms = _time(m.groupdict())
            return None if hms is None else f"TIME({hms[0]},{hms[1]},{hms[2]})"
        return None
    year, month, day, hms = got
    if call.key == "DATEVALUE":
        return _datevalue(year, month, day)  # the time is ignored
    time = f"+TIME({hms[0]},{hms[1]},{hms[2]})" if any(hms) else ""
    return f"({_datevalue(year, month, day)}{time})"


def date_text(text: str) -> str:
    """The formula with each DATEVALUE/VALUE of date text rewritten (module docstring)."""
    nodes = parse(text)
    return formula(nodes) if rewrite_calls(nodes, _rewrite) else text


def datevalue(calls: list[list[Any]]) -> list[Any]:
    """DATEVALUE(date_text) of a text the formula engine does not read (module docstring): the
    1900-system serial of the day it names (a text without a year: this year's day, Microsoft's
    rule), #VALUE! before 1900-01-01 ("DATEVALUE returns the #VALUE! error value if the value of
    the date_text argument falls outside of the range January 1, 1900 and December 31, 9999");
    anything else the engine's answer. The time in the text is ignored, as Excel ignores it."""
    out: list[Any] = []
    for args in calls:
        v = args[0] if len(args) == 1 else None
        while isinstance(v, list) and len(v) == 1:
            v = v[0]
        got = read(v) if isinstance(v, str) else None
        if got is None:
            out.append(ENGINE_ANSWER)
            continue
        year, month, day, _ = got
        year, serial = _day_serial(v, year, month, day)
        if isinstance(serial, ExcelError):
            out.append(serial)
            continue
        out.append(float(serial) if 1900 <= year <= 9999 else ExcelError("#VALUE!", f"{v!r} is outside 1900-9999"))
    return out


def _day_serial(text: str, year: int | None, month: int, day: int) -> tuple[int, int | ExcelError]:
    """The year (this year's where the text names none) and the 1900 serial of the day a date
    text names; #VALUE! for a day that does not exist (29 February of a year without one)."""
    year = dt.date.today().year if year is None else year
    try:
        return year, excel_serial(year, month, day)
    except ValueError:
        return year, ExcelError("#VALUE!", f"{text!r} names a day that does not exist")


#: Days between the 1900 and the 1904 date systems' serials of one day.
_SHIFT_1904 = 1462


def date_time_value(v: str, date1904: bool = False) -> float | ExcelError | None:
    """The serial a date or time text names (:func:`value_of_text`), #VALUE! for a day that does
    not exist or is outside the book's dates, None for a text that is not a date or time."""
    got = read(v)
    if got is None:
        m = _TIME_ALONE.match(v.strip())
        hms = None if m is None else _time(m.groupdict())
        return None if hms is None else (hms[0] * 3600 + hms[1] * 60 + hms[2]) / 86400
    year, month, day, (h, mi, s) = got
    year, serial = _day_serial(v, year, month, day)
    if isinstance(serial, ExcelError):
        return serial
    if not 1900 <= year <= 9999 or (date1904 and year < 1904):
        return ExcelError("#VALUE!", f"{v!r} is outside the book's dates")
    return serial - (_SHIFT_1904 if date1904 else 0) + (h * 3600 + mi * 60 + s) / 86400


def value_of_text(date1904: bool = False) -> Any:
    """VALUE(text) of a date or time text from a cell or another formula, which the formula
    engine does not read (module docstring): the serial of the day it names plus the time's
    fraction of a day (a text without a year: this year's day), or the time alone; in the
    book's date system (``date1904``: 1,462 days less). Anything else, numbers and numeric
    text included, is the engine's answer (its VALUE reads numbers as Excel does)."""

    def value(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            v = args[0] if len(args) == 1 else None
            while isinstance(v, list) and len(v) == 1:
                v = v[0]
            got = date_time_value(v, date1904) if isinstance(v, str) else None
            out.append(ENGINE_ANSWER if got is None else got)
        return out

    return value
