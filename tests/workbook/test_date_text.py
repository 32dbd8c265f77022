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
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904

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


@settings(max_examples=40, deadline=None)
@given(
    st.dates(min_value=dt.date(1904, 1, 2), max_value=dt.date(9999, 12, 31)),
    st.sampled_from(_FORMS),
    st.booleans(),
)
def test_datevalue_of_date_text_in_a_cell_is_its_day_in_either_date_system(
    tmp_path_factory: pytest.TempPathFactory, day: dt.date, form: str, date1904: bool
) -> None:
    """``DATEVALUE(A1)`` with A1 the text of any day in any of the forms Excel reads (IronCalc
    alone reads three of the seven): the serial of that day, counted from 30 December 1899, or
    from 1 January 1904 in a 1904 book (Microsoft, "Date systems in Excel")."""
    text = form.format(d=day.day, m=day.month, y=day.year, mon=day.strftime("%b"), month=day.strftime("%B"))
    wb = openpyxl.Workbook()
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    ws["A1"] = text
    ws["B1"] = "=DATEVALUE(A1)"
    ws["B2"] = "=DATEVALUE(A1)+1"
    path = tmp_path_factory.mktemp("dv") / "dv.xlsx"
    wb.save(path)
    got = recalculate(path).values
    want = float((day - (dt.date(1904, 1, 1) if date1904 else _BASE)).days)
    assert (got[("S", 1, 2)], got[("S", 2, 2)]) == (want, want + 1), text


def test_datevalue_of_a_cell_the_forms_do_not_cover_is_the_engines(tmp_path: Path) -> None:
    """A number or a text in none of the forms is left to the formula engine: Excel's #VALUE!
    ("DATEVALUE returns the #VALUE! error value if ... date_text ... is not a date")."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A2"] = "not a date", 45000
    ws["B1"], ws["B2"], ws["B3"] = "=DATEVALUE(A1)", "=DATEVALUE(A2)", "=DATEVALUE(A9)"
    wb.save(tmp_path / "n.xlsx")
    got = recalculate(tmp_path / "n.xlsx").values
    assert all(getattr(got[("S", r, 2)], "code", None) == "#VALUE!" for r in (1, 2, 3))


@settings(max_examples=25, deadline=None)
@given(
    st.dates(min_value=dt.date(1904, 1, 2), max_value=dt.date(9999, 12, 31)),
    st.sampled_from(_FORMS),
    st.tuples(st.integers(0, 23), st.integers(0, 59)),
    st.booleans(),
)
def test_value_of_date_text_in_a_cell_is_its_day_and_time_in_either_date_system(
    tmp_path_factory: pytest.TempPathFactory, day: dt.date, form: str, hm: tuple[int, int], date1904: bool
) -> None:
    """``VALUE(A1)`` with A1 the text of a day (and a time) in a form Excel reads (Microsoft,
    "VALUE function": the date and time formats Excel recognises): the day's serial plus the
    time's fraction of a day, in the book's date system; ``VALUE(A2)`` of a time alone is the
    fraction. IronCalc alone reads three of the seven forms and no time."""
    text = form.format(d=day.day, m=day.month, y=day.year, mon=day.strftime("%b"), month=day.strftime("%B"))
    wb = openpyxl.Workbook()
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    ws["A1"] = f"{text} {hm[0]}:{hm[1]:02d}"
    ws["A2"] = f"{hm[0]}:{hm[1]:02d}"
    ws["A3"] = "3.5"
    ws["B1"], ws["B2"], ws["B3"] = "=VALUE(A1)", "=VALUE(A2)", "=VALUE(A3)"
    path = tmp_path_factory.mktemp("v") / "v.xlsx"
    wb.save(path)
    got = recalculate(path).values
    fraction = (hm[0] * 60 + hm[1]) / 1440
    want = float((day - (dt.date(1904, 1, 1) if date1904 else _BASE)).days) + fraction
    assert got[("S", 1, 2)] == pytest.approx(want, abs=1e-9), ws["A1"].value  # a second is 1.2e-5
    assert got[("S", 2, 2)] == pytest.approx(fraction, abs=1e-12)
    assert got[("S", 3, 2)] == 3.5  # numeric text: the engine's own VALUE
