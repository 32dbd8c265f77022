"""Excel's 1900 date system: serials to calendar dates and back, as Excel counts them.

Excel's day 1 is 1900-01-01 and it keeps Lotus 1-2-3's 29 February 1900 (serial 60), so serials
below 61 are one day off the proleptic Gregorian count (Microsoft, "Date systems in Excel").
Both the function modules and the number formats read dates through here, so neither imports
the other for it.
"""

from __future__ import annotations

from datetime import date, timedelta


def excel_ymd(serial: int) -> tuple[int, int, int]:
    """(year, month, day) of an Excel 1900-system serial: 0 is 1900-01-00, 60 is 1900-02-29."""
    if serial == 0:
        return 1900, 1, 0
    if serial == 60:
        return 1900, 2, 29
    d = date(1899, 12, 31) + timedelta(days=serial) if serial < 60 else date(1899, 12, 30) + timedelta(days=serial)
    return d.year, d.month, d.day


def excel_leap(year: int) -> bool:
    """Whether Excel counts a 29 February in ``year`` (1900 included, as Excel does)."""
    return year == 1900 or (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))


def excel_serial(year: int, month: int, day: int) -> int:
    """The Excel 1900-system serial of a calendar date."""
    n = (date(year, month, day) - date(1899, 12, 30)).days
    return n - 1 if n < 61 else n  # Excel counts a 29 February 1900
