"""DATEVALUE and VALUE of date text in the forms Excel reads (addin/headless/datetext.py).

Oracle: Microsoft, "DATEVALUE function" (its examples ``DATEVALUE("5-JUL")``, the current
year, and ``DATEVALUE("2011/02/23")``; time in the text is ignored) and "VALUE function" (dates
and times Excel recognises, the time included); the serial of a day is its distance from
30 December 1899 (the 1900 system after February 1900), computed here with ``datetime``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import recalculate
from addin.headless.datetext import read

_BASE = dt.date(1899, 12, 30)


def _serial(d: dt.date) -> float:
    return float((d - _BASE).days)


def test_the_reviewers_date_texts_are_the_days_they_name(tmp_path: Path) -> None:
    this_year = dt.date.today().year  # the engine's TODAY() and this run's clock: the same day but at New Year
    want = {
        '=DATEVALUE("5-JUL")': _serial(dt.date(this_year, 7, 5)),
        '=DATEVALUE("1-Mar")': _serial(dt.date(this_year, 3, 1)),
        '=VALUE("3/1/2024 12:00")': _serial(dt.date(2024, 3, 1)) + 0.5,
        '=DATEVALUE("1 Mar 2024")': _serial(dt.date(2024, 3, 1)),
        '=DATEVALUE("March 1, 2024")': _serial(dt.date(2024, 3, 1)),
        '=DATEVALUE("Mar 1, 2024")': _serial(dt.date(2024, 3, 1)),
        '=DATEVALUE("2011/02/23")': _serial(dt.date(2011, 2, 23)),
        '=DATEVALUE("1 Mar 2024 18:00")': _serial(dt.date(2024, 3, 1)),
        '=VALUE("12:00")': 0.5,
        '=VALUE("1 mar 24 6:00 PM")': _serial(dt.date(2024, 3, 1)) + 0.75,
        '=VALUE("12")': 12.0,
    }
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, f in enumerate(want, 1):
        ws.cell(r, 1).value = f
    ws["B1"] = '=DATEVALUE("30 Feb 2024")'
    wb.save(tmp_path / "d.xlsx")
    got = recalculate(tmp_path / "d.xlsx").values
    for r, (f, v) in enumerate(want.items(), 1):
        assert got[("S", r, 1)] == v, f
    assert got[("S", 1, 2)].code == "#VALUE!"  # no such day


_FORMS = ["{d} {mon} {y}", "{d}-{mon}-{y}", "{mon} {d}, {y}", "{month} {d}, {y}", "{m}/{d}/{y}", "{y}-{m}-{d}", "{y}/{m}/{d}"]


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)), st.sampled_from(_FORMS))
def test_every_form_reads_as_its_day(day: dt.date, form: str) -> None:
    text = form.format(d=day.day, m=day.month, y=day.year, mon=day.strftime("%b"), month=day.strftime("%B"))
    assert read(text) == (day.year, day.month, day.day, (0, 0, 0))
