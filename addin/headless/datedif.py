"""DATEDIF as Excel computes it (IronCalc 0.9.1: "not implemented").

Microsoft, "DATEDIF function": ``DATEDIF(start_date, end_date, unit)``; "Y" the complete years,
"M" the complete months, "D" the days, "MD" the difference between the days ignoring months and
years, "YM" the months ignoring days and years, "YD" the days ignoring years; "If the
start_date is greater than the end_date, the result will be #NUM!". Its "Known issues": "The
"MD" argument may result in a negative number, a zero, or an inaccurate result". Excel's actual
rule, which this follows (the corpus book's cached values and the published cases
1998-10-31 → 2000-03-21 "MD" 19, → 2000-03-01 "MD" -1, 2020-02-29 → 2021-02-28 "Y" 0, "M" 11,
"MD" 30, "YM" 11, "YD" 365):

* a date is a serial truncated to a whole day, on Excel's 1900 calendar (29 February 1900
  counted); a blank is 0; TRUE/FALSE are 1/0; numeric text its number, date text its day
  (:func:`addin.headless.datetext.read`), other text #VALUE!; a serial below 0 or after
  9999-12-31 is #NUM!; the first error among the arguments is the result;
* "Y" is the year difference, less one when the end's (month, day) is before the start's;
  "M" the month difference less one when the end's day is before the start's; "YM" is "M"
  modulo 12;
* "MD" is the end's day less the start's, plus the length of the month before the end's
  month when that is negative (so it can be negative, as Microsoft warns);
* "YD" counts from the start to the end's month and day in the start's year (in the next year
  when they fall before the start's), a 29 February in a year without one rolling to 1 March
  as DATE rolls: so the *start's* year decides whether a 29 February counts (the corpus book's
  ``DATEDIF(8, 1987, "YD")`` is 153, 8 January to 9 June counted in 1900, which Excel counts
  as a leap year; counted in 1905 it would be 152);
* the unit is one of the six, matched without regard to case and nothing else: ``"D "`` or
  ``" Y"`` is #NUM! (Microsoft lists the six units; Excel does not trim them);
* in a 1904 book (whose date arguments :mod:`addin.headless.dates1904` moves +1,462 days
  into the 1900 system) a day before the book's first, 1904-01-01 (1900 serial 1,462), is
  #NUM!, as a serial below 0 is in a 1900 book (Microsoft, "Date systems in Excel": the 1904
  system's first day is January 1, 1904).

Over arrays (a range where one date is expected, in an array formula) the function is lifted
element by element, as Excel lifts it.
"""

from __future__ import annotations

import math
from typing import Any

from addin.headless.datetext import read
from addin.headless.host import elementwise
from addin.headless.serials import excel_leap, excel_serial, excel_ymd
from addin.headless.values import ExcelError

_MAX_SERIAL = 2958465  # 9999-12-31
#: The first day of the 1904 date system as a 1900-system serial (1904-01-01).
FIRST_1904 = 1462
_UNITS = frozenset({"Y", "M", "D", "MD", "YM", "YD"})
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date(value: Any, first: int = 0) -> int | ExcelError:
    """A date argument as a whole-day serial (module docstring); ``first`` is the book's first
    day as a 1900-system serial (0, or :data:`FIRST_1904` in a 1904 book)."""
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            got = read(value)
            if got is None or got[0] is None:
                return ExcelError("#VALUE!", f"DATEDIF: {value!r} is not a date")
            number = float(excel_serial(got[0], got[1], got[2]))
    else:
        number = float(value)
    if not math.isfinite(number):
        return ExcelError("#NUM!")
    serial = math.floor(number)
    if not first <= serial <= _MAX_SERIAL:
        return ExcelError("#NUM!", f"DATEDIF: {number:g} is not a date between the book's first day and 9999")
    return serial


def _month_length(year: int, month: int) -> int:
    return 29 if month == 2 and excel_leap(year) else _MONTH_DAYS[month - 1]


def _rolled_serial(year: int, month: int, day: int) -> int:
    """DATE(year, month, day) with the day rolling over the month's end (day 0: the day before
    the first), as DATE rolls."""
    return excel_serial(year, month, 1) + day - 1


def datedif_serials(start: int, end: int, unit: str) -> int:
    """DATEDIF of two whole-day serials, ``start <= end``, a valid upper-case unit."""
    sy, sm, sd = excel_ymd(start)
    ey, em, ed = excel_ymd(end)
    if unit == "D":
        return end - start
    if unit == "Y":
        return ey - sy - (1 if (em, ed) < (sm, sd) else 0)
    months = (ey - sy) * 12 + em - sm - (1 if ed < sd else 0)
    if unit == "M":
        return months
    if unit == "YM":
        return months % 12
    if unit == "MD":
        if ed >= sd:
            return ed - sd
        py, pm = (ey, em - 1) if em > 1 else (ey - 1, 12)
        return ed - sd + _month_length(py, pm)
    # "YD": the end's month and day moved into the start's year (the next year when they fall
    # before the start's), so the start's year decides whether a 29 February is counted
    year = sy if (em, ed) >= (sm, sd) else sy + 1
    return _rolled_serial(year, em, ed) - start


def _one(args: list[Any], first: int = 0) -> Any:
    if len(args) != 3:
        return ExcelError("#VALUE!", "DATEDIF takes start_date, end_date, unit")
    start, end = _date(args[0], first), _date(args[1], first)
    if isinstance(start, ExcelError):
        return start
    if isinstance(end, ExcelError):
        return end
    unit = args[2]
    if isinstance(unit, ExcelError):
        return unit
    if not isinstance(unit, str) or unit.upper() not in _UNITS:
        return ExcelError("#NUM!", f"DATEDIF: unit {unit!r} is not one of Y, M, D, MD, YM, YD")
    if start > end:
        return ExcelError("#NUM!", "DATEDIF: start_date is after end_date")
    return float(datedif_serials(start, end, unit.upper()))


def datedif(calls: list[list[Any]]) -> list[Any]:
    """DATEDIF(start_date, end_date, unit) of every call, lifted over arrays (module docstring)."""
    return elementwise(_one)(calls)


def datedif_1904(calls: list[list[Any]]) -> list[Any]:
    """:func:`datedif` in a 1904 book: its date arguments arrive moved into the 1900 system, and
    a day before 1904-01-01 is #NUM! (module docstring)."""
    return elementwise(lambda args: _one(args, FIRST_1904))(calls)
