"""Excel's file variants: the 1904 date system computed and detected wherever Excel writes the
flag, and Strict Open XML read by mapping its namespaces.

Oracles: the 1904 system's definition (Microsoft, "Date systems in Excel": serial 0 is
1 January 1904, a serial counts days from it, the earliest date is 1 January 1904) applied with
Python's proleptic calendar; for Strict, the same book in transitional form (the format the
strict one maps to, ECMA-376 Part 1) computed by the engine: the claim is that reading strict
loses nothing.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.package import scan
from addin.headless.strict import MAPPING, is_strict, to_transitional

EPOCH_1904 = dt.date(1904, 1, 1)


def _serial(d: dt.date) -> float:
    return float((d - EPOCH_1904).days)


def _book_1904(path: Path, cells: dict[str, object]) -> Path:
    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    for ref, v in cells.items():
        ws[ref] = v
    wb.save(path)
    return path


def test_the_1904_date_system_is_computed(tmp_path: Path) -> None:
    path = _book_1904(
        tmp_path / "mac.xlsx",
        {
            "A1": 0,
            "A2": 43000,
            "A3": 1.5,
            "B1": "=YEAR(A1)",
            "B2": "=DATE(2024,3,1)",
            "B3": "=EDATE(A2,1)",
            "B4": '=TEXT(A2,"yyyy-mm-dd")',
            "B5": "=DATE(1900,1,1)",
            "B6": "=WORKDAY(A2,5)",
            "B7": '=DATEDIF(A1,A2,"d")',
            "B8": "=WEEKDAY(A1)",
            "B9": '=DATEVALUE("2024-03-01")',
            "B10": "=MONTH(A3)*100+DAY(A3)",
            "B11": "=EOMONTH(DATE(2024,1,15),1)",
            "B12": '=TEXT(A3,"0.00")',
            "B13": "=DAY(A20)",
        },
    )
    got = recalculate(path).values
    a2 = EPOCH_1904 + dt.timedelta(43000)  # 2021-09-23, a Thursday
    assert got[("S", 1, 2)] == 1904.0
    assert got[("S", 2, 2)] == _serial(dt.date(2024, 3, 1))
    assert got[("S", 3, 2)] == _serial(dt.date(2021, 10, 23))
    assert got[("S", 4, 2)] == a2.isoformat()
    assert got[("S", 5, 2)] == ExcelError("#NUM!")  # before the 1904 system's first day
    assert got[("S", 6, 2)] == _serial(dt.date(2021, 9, 30))  # Thu + 5 working days
    assert got[("S", 7, 2)] == 43000.0
    assert got[("S", 8, 2)] == 6.0  # 1 January 1904 was a Friday (WEEKDAY 1 = Sunday)
    assert got[("S", 9, 2)] == _serial(dt.date(2024, 3, 1))
    assert got[("S", 10, 2)] == 102.0  # serial 1.5 is 2 January 1904, noon
    assert got[("S", 11, 2)] == _serial(dt.date(2024, 2, 29))
    assert got[("S", 12, 2)] == "1.50"  # a number format: no date shift
    assert got[("S", 13, 2)] == 1.0  # a blank is serial 0, 1 January 1904


def test_1904_text_with_elapsed_time_and_times_of_day_is_not_shifted(tmp_path: Path) -> None:
    """The reviewer's book: ``TEXT(1.5,"[h]:mm")`` in a 1904 book was 35124:00 (Excel: 36:00),
    the elapsed-hours section stripped and the minutes read as a month. Microsoft, "Review
    guidelines for customizing a number format": an m right after h or hh, or right before ss,
    is minutes; [h], [m], [s] are elapsed time. Only a format showing a day, month or year moves
    the serial; 1.5 days is 36 hours whatever the date system."""
    path = _book_1904(
        tmp_path / "t.xlsx",
        {
            "B1": '=TEXT(1.5,"[h]:mm")',
            "B2": '=TEXT(2.5,"[h]:mm:ss")',
            "B3": '=TEXT(0.75,"hh:mm")',
            "B4": '=TEXT(1.5,"[mm]:ss")',
            "B5": '=TEXT(0.75,"h:mm AM/PM")',
            "B6": '=TEXT(43000,"yyyy-mm-dd")',
            "B7": '=TEXT(43000,"mmm")',
        },
    )
    got = recalculate(path).values
    assert got[("S", 1, 2)] == "36:00"
    assert got[("S", 2, 2)] == "60:00:00"
    assert got[("S", 3, 2)] == "18:00"
    assert got[("S", 4, 2)] == "2160:00"
    assert got[("S", 5, 2)] == "6:00 PM"
    assert got[("S", 6, 2)] == (EPOCH_1904 + dt.timedelta(43000)).isoformat()
    assert got[("S", 7, 2)] == "Sep"


@settings(max_examples=40, deadline=None)
@given(st.dates(min_value=dt.date(1904, 1, 1), max_value=dt.date(9999, 11, 30)), st.integers(-24, 24))
def test_1904_calendar_functions_agree_with_the_calendar(
    tmp_path_factory: pytest.TempPathFactory, day: dt.date, months: int
) -> None:
    """For any day of the 1904 system: YEAR/MONTH/DAY/WEEKDAY of its serial, DATE of its parts,
    and EDATE by ``months`` are the calendar's."""
    tmp = tmp_path_factory.mktemp("d")
    serial = _serial(day)
    path = _book_1904(
        tmp / "d.xlsx",
        {
            "A1": serial,
            "B1": "=YEAR(A1)*10000+MONTH(A1)*100+DAY(A1)",
            "B2": "=WEEKDAY(A1,2)",
            "B3": f"=DATE({day.year},{day.month},{day.day})",
            "B4": f"=EDATE(A1,{months})",
        },
    )
    got = recalculate(path).values
    assert got[("S", 1, 2)] == day.year * 10000 + day.month * 100 + day.day
    assert got[("S", 2, 2)] == day.isoweekday()
    assert got[("S", 3, 2)] == serial
    m = day.month - 1 + months
    y, m = day.year + m // 12, m % 12 + 1
    if y <= 9999 and dt.date(1904, 1, 1) <= dt.date(y, m, 1):  # the year first: dt.date stops at 9999
        import calendar

        want = dt.date(y, m, min(day.day, calendar.monthrange(y, m)[1]))
        assert got[("S", 4, 2)] == _serial(want)


def _with_workbook_xml(src: Path, dst: Path, change: object) -> Path:
    with zipfile.ZipFile(src) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    parts["xl/workbook.xml"] = change(parts["xl/workbook.xml"])  # type: ignore[operator]
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def test_the_1904_flag_is_found_beside_an_extension_workbookpr(tmp_path: Path) -> None:
    """A book whose ``<workbookPr date1904="1">`` is followed by an extension's own workbookPr
    without the attribute (x15 markup): once read as 1900 and silently 4 years off."""
    src = _book_1904(tmp_path / "src.xlsx", {"A1": 0, "B1": "=YEAR(A1)"})
    ext = (
        b'<extLst><ext uri="{140A7094-0E35-4892-8432-C4D2E57EDEB5}" '
        b'xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main">'
        b'<x15:workbookPr chartTrackingRefBase="1"/></ext></extLst></workbook>'
    )
    path = _with_workbook_xml(src, tmp_path / "x15.xlsx", lambda x: x.replace(b"</workbook>", ext))
    assert scan(path).date1904
    assert recalculate(path).values[("S", 1, 2)] == 1904.0


def _strict(src: Path, dst: Path) -> Path:
    """``src`` as Excel saves "Strict Open XML Spreadsheet": every transitional URI of the mapping
    replaced by its strict one, ``conformance="strict"`` on the workbook."""
    with zipfile.ZipFile(src) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    for name, data in parts.items():
        if name.endswith((".xml", ".rels")):
            for strict, transitional in reversed(MAPPING):
                data = data.replace(transitional, strict)
            if name == "xl/workbook.xml":
                data = data.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            parts[name] = data
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def test_a_strict_open_xml_book_is_computed_and_written(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data sheet"
    ws["A1"], ws["A2"], ws["A3"] = 2.0, "text", True
    ws["B1"], ws["B2"], ws["B3"] = "=A1*21", '=A2&"!"', "=IF(A3,SUM(A1:A3),0)"
    wb.create_sheet("Other")["A1"] = "='Data sheet'!B1+1"
    wb.save(tmp_path / "plain.xlsx")
    path = _strict(tmp_path / "plain.xlsx", tmp_path / "strict.xlsx")
    with zipfile.ZipFile(path) as z:
        assert b"purl.oclc.org/ooxml/spreadsheetml/main" in z.read("xl/workbook.xml")
        assert b"schemas.openxmlformats.org" not in z.read("xl/workbook.xml")
    assert is_strict(path) and not is_strict(tmp_path / "plain.xlsx")
    want = recalculate(tmp_path / "plain.xlsx").values
    got = recalculate(path).values
    assert got == want and got[("Other", 1, 1)] == 43.0
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(path), "-o", str(out)]) == 0
    values = openpyxl.load_workbook(out, data_only=True)
    assert values["Data sheet"]["B1"].value == 42 and values["Other"]["A1"].value == 43


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_the_strict_mapping_only_touches_strict_uris(data: bytes) -> None:
    assert to_transitional(data) == data or b"http://purl.oclc.org/ooxml/" in data
    strict = b'<a xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main">' + data + b"</a>"
    assert b"http://purl.oclc.org/ooxml/spreadsheetml/main" not in to_transitional(strict)


def test_cells_no_offline_engine_can_compute_are_skipped_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An external link, a cube function and an add-in function the engine is not given, and the
    cells reading them, are reported as not computable offline (like volatile cells), never as
    mismatches; the other cells are compared as usual. Excel's cached values are written here
    by ``recalc`` of the same book first, so every computable cell agrees."""
    from addin.headless import validate

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = 1.0
    ws["B1"] = "=[1]Prices!B2*2"
    ws["C1"] = "=B1+A1"
    ws["D1"] = '=CUBEVALUE("ThisWorkbookDataModel","[Measures].[Sum of x]")'
    ws["E1"] = "=_xll.VENDOR_PRICE(A1)"
    ws["F1"] = "=A1*5"
    wb.save(tmp_path / "src.xlsx")
    out = tmp_path / "cached.xlsx"
    assert main(["recalc", "-q", str(tmp_path / "src.xlsx"), "-o", str(out)]) == 0
    v = validate(out)
    assert v.mismatches == [] and v.compared == 1
    assert sum(v.skipped_offline.values()) == 4
    assert v.skipped_offline["refers to another workbook (an external link)"] == 2
    assert v.skipped_offline["calls CUBEVALUE, whose value comes from an OLAP cube or the workbook's data model"] == 1
    assert any(k.upper().startswith("CALLS _XLL.VENDOR_PRICE, AN ADD-IN") for k in v.skipped_offline)
    assert main(["validate", "-q", str(out)]) == 0
    assert "not computable offline skipped" in capsys.readouterr().out


def test_defined_names_of_every_kind_and_3d_references(tmp_path: Path) -> None:
    """Microsoft, "Define and use names in formulas" and "Create a 3-D reference": a named
    formula, an array constant, a constant, a relative name (stored relative to A1, applied
    relative to the formula's cell), a sheet-scoped name, ``[0]!Name``, ``Sheet!Name`` (with
    Excel's implicit intersection of a legacy formula), and ``SUM(First:Last!A1)``."""
    from openpyxl.workbook.defined_name import DefinedName

    wb = openpyxl.Workbook()
    s = wb.active
    s.title = "S"
    mid = wb.create_sheet("M")
    t = wb.create_sheet("T")
    for r in range(1, 6):
        s.cell(r, 1).value, mid.cell(r, 1).value, t.cell(r, 1).value = r, 100 * r, 10 * r
    for name, text in [
        ("Total", "SUM(S!$A$1:$A$5)"),
        ("Arr", "{1,2,3}"),
        ("Rate", "0.07"),
        ("Above", "S!A1"),
        ("Twice", "S!$A$2*2+Rate"),
    ]:
        wb.defined_names[name] = DefinedName(name, attr_text=text)
    t.defined_names["Local"] = DefinedName("Local", attr_text="T!$A$1:$A$5")
    s["C1"], s["C2"], s["C3"], s["C4"] = "=Total", "=SUM(Arr)", "=Rate*100", "=Twice"
    s["A7"] = "=Above*1"  # A1 relative to A1, used at A7: A7 itself, a circular reference (0, iteration off)
    t["C1"], t["C2"], t["C3"] = "=SUM(Local)", "=[0]!Rate*2", "=T!Local"
    t["C4"], t["C5"] = "=SUM(S:T!A1)", "=INDEX(Arr,2)"
    wb.save(tmp_path / "names.xlsx")
    got = recalculate(tmp_path / "names.xlsx").values
    assert got[("S", 1, 3)] == 15.0 and got[("S", 2, 3)] == 6.0
    assert got[("S", 3, 3)] == pytest.approx(7.0) and got[("S", 4, 3)] == pytest.approx(4.07)
    assert got[("T", 1, 3)] == 150.0 and got[("T", 2, 3)] == pytest.approx(0.14)
    assert got[("T", 3, 3)] == 30.0  # T!$A$1:$A$5 intersected with row 3
    assert got[("T", 4, 3)] == 1.0 + 100.0 + 10.0  # S, M, T in workbook order
    assert got[("T", 5, 3)] == 2.0
    assert got[("S", 7, 1)] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 1_048_576), st.integers(1, 16_384), st.integers(1, 1_048_576), st.integers(1, 16_384))
def test_a_relative_name_moves_with_its_cell_and_wraps_round_the_grid(r0: int, c0: int, row: int, col: int) -> None:
    """A relative name stored as the cell (r0, c0) relative to A1 means, at (row, col), the cell
    (r0 + row - 1, c0 + col - 1) taken round the grid (Excel wraps relative references)."""
    from openpyxl.utils import get_column_letter

    from addin.headless.names import relative_to

    moved = relative_to(f"S!{get_column_letter(c0)}{r0}", row, col)
    want_r = (r0 - 1 + row - 1) % 1_048_576 + 1
    want_c = (c0 - 1 + col - 1) % 16_384 + 1
    assert moved == f"S!{get_column_letter(want_c)}{want_r}"
    assert relative_to(f"S!${get_column_letter(c0)}${r0}", row, col) == f"S!${get_column_letter(c0)}${r0}"


def _iso_book(path: Path, date1904: bool) -> Path:
    """Dates stored as ISO 8601 text in ``t="d"`` cells (openpyxl's ``iso_dates``; Strict books
    write dates so): ECMA-376 Part 1, 18.18.11 ST_CellType "d"."""
    wb = openpyxl.Workbook(iso_dates=True)
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A2"] = dt.datetime(2024, 3, 1, 12, 0), dt.date(1990, 1, 1)
    ws["B1"], ws["B2"], ws["B3"], ws["B4"] = "=A1+1", "=YEAR(A1)", "=DAY(A2)", "=A1-A2"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        assert b't="d"' in z.read("xl/worksheets/sheet1.xml")
    return path


def test_iso_8601_date_cells_read_as_serials_in_the_books_date_system(tmp_path: Path) -> None:
    """IronCalc alone read such cells as "not implemented"; each is its serial in the book's date
    system (1904: 1,462 days less, Microsoft, "Date systems in Excel"), Strict books included."""
    want_1900 = {("S", 1, 2): 45353.5, ("S", 2, 2): 2024.0, ("S", 3, 2): 1.0, ("S", 4, 2): 45352.5 - 32874}
    plain = _iso_book(tmp_path / "iso.xlsx", False)
    assert recalculate(plain).values == want_1900
    assert recalculate(_strict(plain, tmp_path / "strict.xlsx")).values == want_1900
    mac = recalculate(_iso_book(tmp_path / "iso1904.xlsx", True)).values
    assert mac == {("S", 1, 2): 45353.5 - 1462, ("S", 2, 2): 2024.0, ("S", 3, 2): 1.0, ("S", 4, 2): 45352.5 - 32874}


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)), st.booleans())
def test_an_iso_date_is_the_serial_openpyxl_computes(when: dt.datetime, date1904: bool) -> None:
    """Against openpyxl's own conversion (``openpyxl.utils.datetime.to_excel``, an independent
    implementation of both date systems), to the microsecond; 1904 books from 1904-01-01."""
    from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, to_excel

    from addin.headless.package import iso_serial

    if date1904 and when < dt.datetime(1904, 1, 1):
        return
    got = iso_serial(when.isoformat(), date1904)
    want = to_excel(when, CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900)
    assert got is not None and got == pytest.approx(want, abs=1e-9)
    assert iso_serial(when.isoformat() + "Z", date1904) == got
    assert iso_serial("not a date", date1904) is None and iso_serial("2024-02-30", date1904) is None


def test_data_tables_are_computed_by_substituting_their_inputs(tmp_path: Path) -> None:
    """Microsoft, "Calculate multiple results by using a data table": each result is the table's
    formula with the input cell(s) set to the row's and column's values. IronCalc alone refused
    the whole book ("Not Implemented Error: data table formulas"). The expected values are the
    formula A2*(1+A1)^A3 computed here in Python for each substitution."""
    from openpyxl.worksheet.formula import DataTableFormula

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A2"], ws["A3"] = 0.05, 1000.0, 2.0  # rate, principal, years
    # one variable down a column: rates in D2:D4, the formula above the results
    ws["E1"] = "=A2*(1+A1)^A3"
    for i, v in enumerate([0.01, 0.02, 0.03], 2):
        ws.cell(i, 4).value = v
    ws["E2"] = DataTableFormula(ref="E2:E4", r1="A1")
    # one variable along a row: years in H1:J1, the formula left of the results
    ws["G2"] = "=A2*(1+A1)^A3"
    for j, v in enumerate([1.0, 2.0, 3.0], 8):
        ws.cell(1, j).value = v
    ws["H2"] = DataTableFormula(ref="H2:J2", dtr=True, r1="A3")
    # two variables: the formula at the corner L6, years along M6:N6 (row input A3), rates down L7:L8 (column input A1)
    ws["L6"] = "=A2*(1+A1)^A3"
    ws["M6"], ws["N6"], ws["L7"], ws["L8"] = 1.0, 3.0, 0.1, 0.2
    ws["M7"] = DataTableFormula(ref="M7:N8", dt2D=True, r1="A3", r2="A1")
    ws["P1"] = "=SUM(E2:E4)"  # reads the results
    wb.save(tmp_path / "dt.xlsx")
    f = lambda rate, years: 1000.0 * (1 + rate) ** years  # noqa: E731
    got = recalculate(tmp_path / "dt.xlsx").values
    assert [got[("S", r, 5)] for r in (2, 3, 4)] == pytest.approx([f(0.01, 2), f(0.02, 2), f(0.03, 2)], rel=1e-15)
    assert [got[("S", 2, c)] for c in (8, 9, 10)] == pytest.approx([f(0.05, 1), f(0.05, 2), f(0.05, 3)], rel=1e-15)
    assert [got[("S", 7, 13)], got[("S", 7, 14)], got[("S", 8, 13)], got[("S", 8, 14)]] == pytest.approx(
        [f(0.1, 1), f(0.1, 3), f(0.2, 1), f(0.2, 3)], rel=1e-15
    )
    assert got[("S", 1, 5)] == got[("S", 2, 7)] == got[("S", 6, 12)] == pytest.approx(f(0.05, 2))  # inputs restored
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(tmp_path / "dt.xlsx"), "-o", str(out)]) == 0
    back = openpyxl.load_workbook(out, data_only=True)["S"]
    assert back["E3"].value == pytest.approx(f(0.02, 2)) and back["N8"].value == pytest.approx(f(0.2, 3))
    assert main(["validate", "-q", str(out)]) == 0  # the written values read back and agree


_REFS = st.sampled_from(["A1", "$B$2", "C$3", "$D4", "SUM(E1:F3)", "SUM($A$1:B2)", "T!A1", "SUM(T!$B1:C$2)", "'T'!C3"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(_REFS, min_size=1, max_size=4),
    st.integers(1, 6),  # the master's row
    st.integers(12, 14),  # the master's column (L..N)
    st.integers(1, 4),  # the group's rows
    st.integers(1, 3),  # the group's columns
)
def test_shared_formulas_are_translated_as_excel_writes_them(
    tmp_path_factory: pytest.TempPathFactory, refs: list[str], row: int, col: int, rows: int, cols: int
) -> None:
    """A shared formula (``<f t="shared" ref=.. si=..>`` on its master, ``<f t="shared" si=../>`` on
    the others: ECMA-376 Part 1, 18.3.1.40) means the master's text moved to each cell: relative
    references shifted by the offset, absolute parts kept, ranges and other sheets alike. The
    reference is openpyxl's ``Translator`` (an independent implementation) writing each cell's
    formula out in a second book; both books are computed by the engine."""
    from openpyxl.formula.translate import Translator
    from openpyxl.utils import get_column_letter

    tmp = tmp_path_factory.mktemp("sh")
    master_text = "+".join(refs)
    group = [(r, c) for r in range(row, row + rows) for c in range(col, col + cols)]
    here = lambda r, c: f"{get_column_letter(c)}{r}"  # noqa: E731

    def fill(wb: openpyxl.Workbook, formulas: dict[tuple[int, int], str]) -> None:
        ws = wb.active
        ws.title = "S"
        t = wb.create_sheet("T")
        for r in range(1, 12):
            for c in range(1, 11):
                ws.cell(r, c).value = float(r * 100 + c)
                t.cell(r, c).value = float(r * 1000 + c)
        for (r, c), f in formulas.items():
            ws.cell(r, c).value = f

    plain = openpyxl.Workbook()
    fill(plain, {(r, c): Translator("=" + master_text, origin=here(row, col)).translate_formula(here(r, c)) for r, c in group})
    plain.save(tmp / "plain.xlsx")
    shared = openpyxl.Workbook()
    fill(shared, {(r, c): "=1" for r, c in group})
    shared.save(tmp / "placeholder.xlsx")
    with zipfile.ZipFile(tmp / "placeholder.xlsx") as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    ref = f"{here(row, col)}:{here(row + rows - 1, col + cols - 1)}"
    for r, c in group:
        old = f'<c r="{here(r, c)}"><f>1</f><v></v></c>'.encode()
        assert old in xml
        f = (
            f'<f t="shared" ref="{ref}" si="0">{master_text.replace("&", "&amp;")}</f>'
            if (r, c) == (row, col)
            else '<f t="shared" si="0"/>'
        )
        xml = xml.replace(old, f'<c r="{here(r, c)}">{f}<v></v></c>'.encode())
    parts["xl/worksheets/sheet1.xml"] = xml
    with zipfile.ZipFile(tmp / "shared.xlsx", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    want = recalculate(tmp / "plain.xlsx").values
    got = recalculate(tmp / "shared.xlsx").values
    assert got == want


@pytest.mark.parametrize("written", ["\n", "_x000a_", "\r\n"])
def test_structured_references_to_headers_with_line_breaks_and_escapes(tmp_path: Path, written: str) -> None:
    """A header with a line break is stored ``a_x000a_b`` in the table part (ST_Xstring, ECMA-376
    Part 1, 22.9.2.19) and written with the break itself in formulas; ``'`` escapes ``]`` in a
    name (Microsoft, "Using structured references with Excel tables"). The holdout had one
    such book computed as #NAME?."""
    from openpyxl.worksheet.table import Table

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["B1"], ws["C1"] = "a\nb", "c]d", "out"
    for r in range(2, 5):
        ws.cell(r, 1).value, ws.cell(r, 2).value = float(r), 10.0 * r
        ws.cell(r, 3).value = f"=Table1[[#This Row],[a{written}b]]+Table1[[#This Row],[c']d]]"
    ws["E1"] = f"=SUM(Table1[a{written}b])"
    ws.add_table(Table(displayName="Table1", ref="A1:C4"))
    wb.save(tmp_path / "t.xlsx")
    with zipfile.ZipFile(tmp_path / "t.xlsx") as z:
        assert b'name="a_x000a_b"' in z.read("xl/tables/table1.xml")
    got = recalculate(tmp_path / "t.xlsx").values
    assert got == {("S", 1, 5): 9.0, ("S", 2, 3): 22.0, ("S", 3, 3): 33.0, ("S", 4, 3): 44.0}


def test_quoted_3d_references_span_the_sheets(tmp_path: Path) -> None:
    """Microsoft, "Create a 3-D reference": a sheet name with a space is quoted round the whole
    span (``'Jan:My Sheet'!A1``), and Excel may quote a plain span too (``'S1:S3'!A1``); each is
    the reference on every sheet from the first to the last, in workbook order (the reviewer's
    book: #REF! before, the colon inside the quotes was not seen)."""
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "Jan"
    sheets = [first, wb.create_sheet("S2"), wb.create_sheet("My Sheet")]
    for k, ws in enumerate(sheets, 1):
        ws["A1"], ws["A2"] = 10.0**k, 2.0 * k
    out = wb.create_sheet("Out")
    out["A1"], out["A2"] = "=SUM('Jan:My Sheet'!A1:A2)", "=SUM('Jan:S2'!A1)"
    wb.save(tmp_path / "q3d.xlsx")
    got = recalculate(tmp_path / "q3d.xlsx").values
    assert got[("Out", 1, 1)] == 10.0 + 100.0 + 1000.0 + 2.0 + 4.0 + 6.0
    assert got[("Out", 2, 1)] == 110.0


def test_a_dynamic_array_written_at_its_anchor_alone_caches_its_whole_spill(tmp_path: Path) -> None:
    """The reviewer's book: XlsxWriter's ``write_dynamic_array_formula("C1", "=SORT(UNIQUE(A1:A6))")``
    stores ``ref="C1"`` (the writer cannot know the result's size); after ``recalc --cache all``
    C1 held 1 and C2:C5 nothing, while ``SUM(C1#)`` was 22. The spill range's cells now hold
    the values and the formula's ``ref`` is the range. Oracle: Microsoft, "SORT function" and
    "UNIQUE function": the distinct values, ascending (here Python's ``sorted(set(...))``)."""
    from openpyxl.worksheet.formula import ArrayFormula

    data = [3, 1, 4, 1, 5, 9]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, v in enumerate(data, 1):
        ws.cell(r, 1).value = v
    ws["C1"] = ArrayFormula("C1", "=_xlfn._xlws.SORT(_xlfn.UNIQUE(A1:A6))")
    ws["E1"] = "=SUM(C1:C10)"
    wb.save(tmp_path / "raw.xlsx")
    src = tmp_path / "spill.xlsx"
    with zipfile.ZipFile(tmp_path / "raw.xlsx") as a, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            body = a.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b'<c r="C1"', b'<c r="C1" cm="1"')  # cm: a dynamic array (ECMA-376 ext.)
            b.writestr(info, body)
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", "--cache", "all", str(src), "-o", str(out)]) == 0
    got = openpyxl.load_workbook(out, data_only=True)["S"]
    want = [float(v) for v in sorted(set(data))]
    assert [got.cell(r, 3).value for r in range(1, len(want) + 2)] == [*want, None]
    assert got["E1"].value == sum(want)
    with zipfile.ZipFile(out) as z:
        assert b'ref="C1:C5"' in z.read("xl/worksheets/sheet1.xml")


@settings(max_examples=30, deadline=None)
@given(
    st.integers(32, 32 * 2_000_000).map(lambda n: n / 32),  # 45-minute steps: exact in binary, no rounding to argue
    st.sampled_from(["yyyy-mm-dd", "d mmm yyyy", "mmm", "[h]:mm", "hh:mm", "0.00", "dddd"]),
)
def test_1904_text_with_a_format_from_a_cell(tmp_path_factory: pytest.TempPathFactory, serial: float, fmt: str) -> None:
    """``TEXT(A1,A2)`` in a 1904 book, the format a cell's text: a date format shows the day of
    the 1904 serial, elapsed time, a time of day and a number format the number itself
    (Microsoft, "Date systems in Excel"; "Review guidelines for customizing a number format").
    Oracle: Python's calendar from 1 January 1904."""
    path = _book_1904(tmp_path_factory.mktemp("t") / "t.xlsx", {"A1": serial, "A2": fmt, "B1": "=TEXT(A1,A2)"})
    got = recalculate(path).values[("S", 1, 2)]
    day = EPOCH_1904 + dt.timedelta(days=int(serial))
    minutes = round((serial - int(serial)) * 1440)  # a whole number of minutes (45-minute steps)
    want = {
        "yyyy-mm-dd": day.isoformat(),
        "d mmm yyyy": f"{day.day} {day.strftime('%b')} {day.year}",
        "mmm": day.strftime("%b"),
        "dddd": day.strftime("%A"),
        "[h]:mm": f"{int(serial) * 24 + minutes // 60}:{minutes % 60:02d}",
        "hh:mm": f"{minutes // 60 % 24:02d}:{minutes % 60:02d}",
        "0.00": str(Decimal(serial).quantize(Decimal("0.01"), ROUND_HALF_UP)),  # Excel rounds half away from zero
    }[fmt]
    assert got == want, (serial, fmt)
