"""YEAR, MONTH, DAY of serials 0 to 120 (in array formulas: addin/headless/lifting.py), ISOWEEKNUM and WEEKNUM of day 0
(addin/headless/early_serials.py).

Oracle: Excel's 1900 date system as Microsoft describes it ("Excel incorrectly assumes that the
year 1900 is a leap year": serial 60 is 29 February 1900, serial 1 is 1 January 1900, and from
serial 61 the serials are the real calendar's days after 30 December 1899), serial 0 shown as
1900-01-00, written below with Python's ``datetime``; Excel's cached values in formulas' test
book (sheet DATE & TIME: ``YEAR(0)`` 1900, ``DAY(0)`` 0, ``ISOWEEKNUM(0)`` 52, ``WEEKNUM(0,1)`` 0).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import recalculate
from tests.workbook.bookkit import compute


def _excel_ymd(serial: float) -> tuple[int, int, int]:
    """Excel's 1900 calendar: day 0, the 29 February 1900 that never was, then the real days."""
    s = math.floor(serial)
    if s == 0:
        return 1900, 1, 0
    if s == 60:
        return 1900, 2, 29
    day = dt.date(1899, 12, 31) + dt.timedelta(days=s) if s < 60 else dt.date(1899, 12, 30) + dt.timedelta(days=s)
    return day.year, day.month, day.day


_SERIAL = st.one_of(st.integers(0, 120).map(float), st.floats(0, 120).map(lambda x: round(x, 3)))


@settings(max_examples=10, deadline=None)
@given(st.lists(_SERIAL, min_size=1, max_size=6))
def test_year_month_day_are_excels_calendar(tmp_path_factory: pytest.TempPathFactory, serials: list[float]) -> None:
    """Each serial in a cell: YEAR, MONTH, DAY in plain formulas and in an array formula over the column."""
    tmp = tmp_path_factory.mktemp("ymd")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    n = len(serials)
    for i, s in enumerate(serials, 1):
        ws.cell(i, 1).value = s
        for j, f in enumerate(("YEAR", "MONTH", "DAY"), 2):
            ws.cell(i, j).value = f"={f}(A{i})"
    for j, f in enumerate(("YEAR", "MONTH", "DAY"), 6):
        col = openpyxl.utils.get_column_letter(j)
        ws.cell(1, j).value = ArrayFormula(f"{col}1:{col}{n}", f"={f}(A1:A{n})")
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    for i, s in enumerate(serials, 1):
        want = [float(v) for v in _excel_ymd(s)]
        assert [got[("S", i, j)] for j in (2, 3, 4)] == want, (s, want)
        assert [got[("S", i, j)] for j in (6, 7, 8)] == want, (s, want)


def test_day_zero_and_blank_cells(tmp_path: Path) -> None:
    """Excel's cached values for day 0 (and a blank cell, read as 0): ISOWEEKNUM 52, WEEKNUM 0."""
    formulas = ["=_xlfn.ISOWEEKNUM(A1)", "=_xlfn.ISOWEEKNUM(A2)", "=WEEKNUM(A1,1)", "=WEEKNUM(A3,1)", "=YEAR(A3)", "=DAY(A3)"]
    got = compute(tmp_path, formulas, {"A1": 0, "A2": 0.7}, column=3)
    assert got == [52.0, 52.0, 0.0, 0.0, 1900.0, 0.0]


def test_a_1904_book_is_left_alone(tmp_path: Path) -> None:
    """In the 1904 system serial 0 is 1904-01-01 (Microsoft, "Date systems in Excel")."""
    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    ws["A1"] = 0
    ws["B1"], ws["C1"], ws["D1"] = "=YEAR(A1)", "=MONTH(A1)", "=DAY(A1)"
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert [got[("S", 1, c)] for c in (2, 3, 4)] == [1904.0, 1.0, 1.0]


def test_day_zero_read_through_index_of_one_cell(tmp_path: Path) -> None:
    """``INDEX(range, row, column)`` of a blank cell is the cell, read as 0 by ISOWEEKNUM and
    WEEKNUM (Microsoft, "INDEX function": with both row_num and column_num, the cell at the
    intersection; the day-0 values as the module docstring: ISOWEEKNUM 52, WEEKNUM 0), as
    ``ISOWEEKNUM(A5)`` is; also per element of MAKEARRAY. It was #NUM!."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = 45000  # 15 March 2023, ISO week 11 (datetime.date(2023, 3, 15).isocalendar())
    ws["B1"] = "=ISOWEEKNUM(INDEX($A$1:$A$2,2,1))"
    ws["B2"] = "=WEEKNUM(INDEX($A$1:$A$2,2,1),1)"
    ws["C1"] = ArrayFormula("C1:C2", "=MAKEARRAY(ROWS($A$1:$A$2),1,LAMBDA(r,c,ISOWEEKNUM(INDEX($A$1:$A$2,r,c))))")
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert dt.date(2023, 3, 15).isocalendar()[1] == 11
    assert [got[("S", 1, 2)], got[("S", 2, 2)], got[("S", 1, 3)], got[("S", 2, 3)]] == [52.0, 0.0, 11.0, 52.0]
