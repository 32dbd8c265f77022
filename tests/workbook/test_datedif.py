"""DATEDIF as Excel computes it (addin/headless/datedif.py).

Oracle: Microsoft, "DATEDIF function" (support.microsoft.com, "DATEDIF function"): units "Y", "M",
"D", "MD", "YM", "YD"; "If the start_date is greater than the end_date, the result will be
#NUM!"; its examples 2001-01-01 → 2003-01-01 "Y" 2, 2001-06-01 → 2002-08-15 "D" 440 and "YD" 75;
its known issue: "MD" may be negative, zero or inaccurate. Where Microsoft's text is vague
(what a "complete" month is, "MD" across a short month, "YD" across a 29 February) the rule
below is Excel's actual behaviour: the cached values of formulas' ``test.xlsx`` (in
``../shared/corpus/excel``, sheet "DATE & TIME", row 4, copied here as literals with their
cells named) and the published Excel results 1998-10-31 → 2000-03-21 "MD" 19, → 2000-03-01
"MD" -1, 2020-02-29 → 2021-02-28 "Y" 0, "M" 11, "MD" 30, "YM" 11, "YD" 365.

The property compares the engine with that rule written here over Python's calendar, for
days from 1900-03-01 (where Excel's serials and Python's calendar agree) to 9999-12-31. Every
result is a whole number of days, months or years: compared exactly.
"""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import ExcelError
from addin.headless.datedif import FIRST_1904, datedif, datedif_1904
from tests.workbook.bookkit import compute

_BASE = dt.date(1899, 12, 30)  # serial 0 for days after 28 February 1900


def _serial(d: dt.date) -> float:
    return float((d - _BASE).days)


def _rolled(year: int, month: int, day: int) -> dt.date:
    """DATE(year, month, day) rolling over the month's end, as Excel's DATE does."""
    return dt.date(year, month, 1) + dt.timedelta(days=day - 1)


def _expected(start: dt.date, end: dt.date, unit: str) -> float | str:
    """Excel's DATEDIF rule (module docstring) over Python's calendar."""
    if start > end:
        return "#NUM!"
    s, e = (start.month, start.day), (end.month, end.day)
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    if unit == "D":
        return float((end - start).days)
    if unit == "Y":
        return float(end.year - start.year - (e < s))
    if unit == "M":
        return float(months)
    if unit == "YM":
        return float(months % 12)
    if unit == "MD":
        before = end.replace(day=1) - dt.timedelta(days=1)  # the last day of the month before the end's
        return float(end.day - start.day + (calendar.monthrange(before.year, before.month)[1] if end.day < start.day else 0))
    year = start.year if e >= s else start.year + 1
    return float((_rolled(year, end.month, end.day) - start).days)


_DAYS = st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31))
_UNITS = st.sampled_from(["Y", "M", "D", "MD", "YM", "YD", "y", "md", "Yd"])


@settings(max_examples=2000, deadline=None)
@given(_DAYS, _DAYS, _UNITS)
def test_datedif_is_excels_rule_for_every_pair_of_days(start: dt.date, end: dt.date, unit: str) -> None:
    """The host function on serials (as cells give them) against the rule (module docstring)."""
    (got,) = datedif([[_serial(start), _serial(end), unit]])
    want = _expected(start, end, unit.upper())
    assert (got.code if isinstance(got, ExcelError) else got) == want


@settings(max_examples=300, deadline=None)
@given(_DAYS, _DAYS, _UNITS, st.floats(0, 0.999))
def test_a_time_of_day_and_the_date_as_text_do_not_change_the_result(
    start: dt.date, end: dt.date, unit: str, frac: float
) -> None:
    """A date is its whole day (the serial truncated; Microsoft: dates may be text in quotation
    marks or serial numbers): the serial plus a time, the serial as text and the date as text
    in ISO form all give the result of the day."""
    want = datedif([[_serial(start), _serial(end), unit]])
    assert datedif([[_serial(start) + frac, _serial(end) + frac, unit]]) == want
    assert datedif([[str(_serial(start)), str(_serial(end)), unit]]) == want
    assert datedif([[start.isoformat(), end.isoformat(), unit]]) == want


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.floats(-1e6, 4e6, allow_nan=False), st.text(max_size=4), st.booleans(), st.none()),
    st.one_of(st.floats(-1e6, 4e6, allow_nan=False), st.text(max_size=4), st.booleans(), st.none()),
    st.one_of(st.text(max_size=3), st.floats(-5, 5), st.booleans(), st.none()),
)
def test_hostile_arguments_are_excel_errors_never_exceptions(start: object, end: object, unit: object) -> None:
    """Any value in any argument: a number or one of Excel's errors, never an exception; a
    date outside 1900-01-00 .. 9999-12-31 or a unit outside the six is #NUM!."""
    (got,) = datedif([[start, end, unit]])
    assert isinstance(got, float | ExcelError)
    if isinstance(got, float):
        assert got == int(got)
        assert isinstance(unit, str) and unit.strip().upper() in {"Y", "M", "D", "MD", "YM", "YD"}
    if isinstance(unit, str) and unit.strip().upper() not in {"Y", "M", "D", "MD", "YM", "YD"}:
        assert isinstance(got, ExcelError)


def test_microsofts_examples_and_the_corpus_cells_through_a_book(tmp_path: Path) -> None:
    """Microsoft's three examples, the published "MD"/"YD" cases, and row 4 of the corpus book's
    "DATE & TIME" sheet (its inputs C4:Q4 and cached values R4:AF4, cell by cell)."""
    inputs: dict[str, object] = {
        "C1": 1987, "D1": 8, "E1": 1, "F1": 0.7, "G1": 0, "I1": "-1", "J1": True,
        "K1": "=#VALUE!", "L1": "=NA()", "M1": "=1/0",
    }  # fmt: skip
    cases = {
        '=DATEDIF(DATE(2001,1,1),DATE(2003,1,1),"Y")': 2.0,
        '=DATEDIF(DATE(2001,6,1),DATE(2002,8,15),"D")': 440.0,
        '=DATEDIF(DATE(2001,6,1),DATE(2002,8,15),"YD")': 75.0,
        '=DATEDIF(DATE(1998,10,31),DATE(2000,3,21),"MD")': 19.0,
        '=DATEDIF(DATE(1998,10,31),DATE(2000,3,1),"md")': -1.0,
        '=DATEDIF(DATE(2020,2,29),DATE(2021,2,28),"Y")': 0.0,
        '=DATEDIF(DATE(2020,2,29),DATE(2021,2,28),"M")': 11.0,
        '=DATEDIF(DATE(2020,2,29),DATE(2021,2,28),"MD")': 30.0,
        '=DATEDIF(DATE(2020,2,29),DATE(2021,2,28),"YM")': 11.0,
        '=DATEDIF(DATE(2020,2,29),DATE(2021,2,28),"YD")': 365.0,
        '=DATEDIF("2001/1/30","2001/3/1","D")': 30.0,  # date text, Microsoft's own form
        '=DATEDIF(D1,C1,"YD")': 153.0,  # R4
        '=DATEDIF(E1,D1,"Y")': 0.0,  # S4
        '=DATEDIF(F1,E1,"D")': 1.0,  # T4
        '=DATEDIF(G1,F1,"M")': 0.0,  # U4
        '=DATEDIF(H1,G1,"YM")': 0.0,  # V4
        '=DATEDIF(I1,H1,"YD")': "#NUM!",  # W4
        '=DATEDIF(J1,I1,"YD")': "#NUM!",  # X4
        '=DATEDIF(K1,J1,"YD")': "#VALUE!",  # Y4
        "=DATEDIF(G1,F1,L1)": "#N/A",  # Z4
        '=DATEDIF(M1,L1,"YD")': "#DIV/0!",  # AA4
        '=DATEDIF(H1,G1,"a")': "#NUM!",  # AB4
        '=DATEDIF(DATE(2024,3,2),DATE(2024,3,1),"D")': "#NUM!",  # start after end
    }
    got = compute(tmp_path, list(cases), inputs)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert (value.code if isinstance(value, ExcelError) else value) == want, formula


def test_over_ranges_in_an_array_formula_it_is_lifted_element_by_element(tmp_path: Path) -> None:
    """The corpus book's AH4:AW4, ``{=DATEDIF(E4:K4,C4:I4,"D")}``: one result per pair of cells,
    as Excel lifts a one-value function over arrays; AH4's cached value is 1986."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for j, v in enumerate([1987, 8, 1, 0.7, 0, None, "-1", True, "=#VALUE!"]):
        ws.cell(1, 3 + j).value = v
    ws["A3"] = ArrayFormula("A3:G3", '=DATEDIF(E1:K1,C1:I1,"D")')
    wb.save(tmp_path / "a.xlsx")
    from addin.headless import recalculate

    got = recalculate(tmp_path / "a.xlsx").values
    row = [got[("S", 3, c)] for c in range(1, 8)]
    want: list[object] = [1986.0, 8.0, 1.0, 0.0, "#NUM!", "#NUM!", "#VALUE!"]
    assert [v.code if isinstance(v, ExcelError) else v for v in row] == want


def test_recalc_writes_datedif_values_a_reader_sees(tmp_path: Path) -> None:
    """``clearquote recalc`` of an openpyxl-written book: openpyxl ``data_only=True`` reads each
    DATEDIF's value (Microsoft's examples) and the #NUM! of a start after the end."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["B1"] = dt.datetime(2001, 6, 1), dt.datetime(2002, 8, 15)
    ws["C1"] = '=DATEDIF(A1,B1,"D")'
    ws["C2"] = '=DATEDIF(A1,B1,"YD")'
    ws["C3"] = '=DATEDIF(A1,B1,"M")'
    ws["C4"] = '=DATEDIF(B1,A1,"D")'
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["C1"].value, out["C2"].value, out["C3"].value, out["C4"].value] == [440, 75, 14, "#NUM!"]


@pytest.mark.parametrize("unit", ["", "YY", "DM", " ", "D ", " Y", "m\t", "Y D"])
def test_a_unit_outside_the_six_is_num(unit: str) -> None:
    (got,) = datedif([[1.0, 2.0, unit]])
    assert isinstance(got, ExcelError) and got.code == "#NUM!"


def test_a_1904_book_counts_the_days_its_cells_show(tmp_path: Path) -> None:
    """In the 1904 date system (Microsoft, "Date systems in Excel") a date cell's serial counts
    from 1904-01-01: DATEDIF reads the day the cell shows (the published 2020-02-29 →
    2021-02-28 results), not the 1900 serial of the same number."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    from addin.headless import recalculate

    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["B1"] = dt.datetime(2020, 2, 29), dt.datetime(2021, 2, 28)
    for i, unit in enumerate(["Y", "M", "D", "MD", "YM", "YD"], 1):
        ws.cell(i, 3).value = f'=DATEDIF(A1,B1,"{unit}")'
    wb.save(tmp_path / "d.xlsx")
    got = recalculate(tmp_path / "d.xlsx").values
    assert [got[("S", i, 3)] for i in range(1, 7)] == [0.0, 11.0, 365.0, 30.0, 11.0, 365.0]


@settings(max_examples=200, deadline=None)
@given(unit=st.text(alphabet=" \tDMYdmy\u00a0", max_size=4))
def test_the_unit_is_one_of_the_six_exactly_whatever_its_case(unit: str) -> None:
    """Microsoft lists six units and any other is #NUM! (Chip Pearson, "The DATEDIF Worksheet
    Function": "If Interval is not one of the items listed ... #NUM"); their case does not
    matter ("ym" is "YM"). Nothing is trimmed: ``"D "`` is not "D" (auditor's finding 7)."""
    (got,) = datedif([[1.0, 400.0, unit]])
    if unit.upper() in {"Y", "M", "D", "MD", "YM", "YD"}:
        assert isinstance(got, float)
    else:
        assert isinstance(got, ExcelError) and got.code == "#NUM!"


@settings(max_examples=200, deadline=None)
@given(start=st.integers(-3000, 4000), end=st.integers(-3000, 4000))
def test_in_a_1904_book_a_day_before_its_first_is_num(start: int, end: int) -> None:
    """A 1904 book's date arguments reach DATEDIF moved +1,462 days (addin.headless.dates1904);
    a day before 1904-01-01 (1900 serial 1,462) is #NUM! as a serial below 0 is in a 1900 book
    (Microsoft, "Date systems in Excel"); otherwise the result is the 1900 book's."""
    (got,) = datedif_1904([[float(start), float(end), "D"]])
    if start < FIRST_1904 or end < FIRST_1904 or start > end:
        assert isinstance(got, ExcelError) and got.code == "#NUM!"
    else:
        assert got == float(end - start) == datedif([[float(start), float(end), "D"]])[0]


def test_a_1904_book_refuses_days_before_1904_through_a_book(tmp_path: Path) -> None:
    """The auditor's book: ``DATEDIF(-1,10,"D")`` in a 1904 book is #NUM! (day -1 is
    1903-12-31), the same formula from day 0 counts 10 days, and ``"D "`` is #NUM!."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    from addin.headless import recalculate

    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    ws["A1"] = '=DATEDIF(-1,10,"D")'
    ws["A2"] = '=DATEDIF(0,10,"D")'
    ws["A3"] = '=DATEDIF(-1462,10,"D")'
    ws["A4"] = '=DATEDIF(0,10,"D ")'
    wb.save(tmp_path / "d.xlsx")
    got = recalculate(tmp_path / "d.xlsx").values
    assert [getattr(got[("S", i, 1)], "code", got[("S", i, 1)]) for i in range(1, 5)] == ["#NUM!", 10.0, "#NUM!", "#NUM!"]
