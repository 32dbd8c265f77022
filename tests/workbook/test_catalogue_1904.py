"""Catalogue functions in a 1904 book read a date cell as the day it shows.

Oracle: the 1904 system's definition (Microsoft, "Date systems in Excel": serial 0 is 1 January
1904; the same day's 1900 serial is 1,462 more) and CQ_OPTION_TIME's documented rule (years
ACT/365 on calendar time from the as-of time to the expiry, a whole-date expiry at 08:00 UTC),
computed in Python from the dates themselves.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from addin.excel.catalogue import CATALOGUE_FUNCTIONS, DATE_ARGUMENTS
from addin.headless import recalculate


def _book(path: Path, as_of: dt.datetime, expiry: dt.date, date1904: bool) -> Path:
    wb = openpyxl.Workbook()
    if date1904:
        wb.epoch = CALENDAR_MAC_1904  # openpyxl writes the dates as 1904 serials and sets date1904
    ws = wb.active
    ws.title = "Q"
    ws["A1"] = as_of
    ws["B1"] = dt.datetime(expiry.year, expiry.month, expiry.day)
    ws["C1"] = "=CQ_OPTION_TIME(A1,B1)"
    ws["D1"] = "=CQ_OPTION_TIME(A1:A1,B1)*365"  # a one-cell range: the row-wise path
    ws["E1"] = '=CQ_OPTION_TIME("2026-01-01T00:00Z",B1)'  # ISO text names its day in any system
    wb.save(path)
    return path


def _years(as_of: dt.datetime, expiry: dt.date) -> float:
    return (dt.datetime(expiry.year, expiry.month, expiry.day, 8) - as_of).total_seconds() / 86400 / 365


@settings(max_examples=8, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.integers(1, 800),
)
def test_a_date_cell_in_a_1904_book_is_the_day_it_shows(
    tmp_path_factory: pytest.TempPathFactory, as_of: dt.datetime, days: int
) -> None:
    tmp = tmp_path_factory.mktemp("q")
    expiry = (as_of + dt.timedelta(days=days)).date()
    want = _years(as_of, expiry)
    for date1904 in (False, True):
        got = recalculate(_book(tmp / f"q{int(date1904)}.xlsx", as_of, expiry, date1904), CATALOGUE_FUNCTIONS).values
        assert got[("Q", 1, 3)] == pytest.approx(want, rel=1e-9, abs=1e-9)  # seconds are whole: exact up to rounding
        assert got[("Q", 1, 4)] == pytest.approx(want * 365, rel=1e-9, abs=1e-7)
        assert got[("Q", 1, 5)] == pytest.approx(_years(dt.datetime(2026, 1, 1), expiry), rel=1e-9, abs=1e-9)


def test_every_argument_documented_as_an_excel_date_is_a_date_argument() -> None:
    """The catalogue documents its date arguments as "Excel date"s; each is moved in a 1904 book."""
    import udfs  # noqa: F401 - registers the catalogue
    from udfs.catalogue import CATALOGUE

    documented = {a.name for spec in CATALOGUE.values() for a in spec.args if "excel date" in a.doc.lower()}
    assert documented and documented <= DATE_ARGUMENTS
