"""The headless engine on small hand-built books: the catalogue in passes, Excel's semantics, bad input.

Each semantics test cites the Excel behaviour it checks (Microsoft's function reference and
support articles); the expected values are Excel's, worked by hand.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import BookError, ExcelError, recalc, recalculate, validate
from pricing.black import black76_price

XLAM = Path(__file__).resolve().parents[2] / "addin" / "excel" / "addin.clearquote.xlam"


def book(path: Path, fill) -> Path:  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    fill(wb, ws)
    wb.save(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def values(path: Path, **kw):  # type: ignore[no-untyped-def]
    res = recalculate(path, CATALOGUE_FUNCTIONS, **kw)
    return lambda cell, sheet="S": res.cell(
        sheet, openpyxl.utils.cell.coordinate_to_tuple(cell)[0], openpyxl.utils.cell.coordinate_to_tuple(cell)[1]
    )


# ----------------------------------------------------------------------------- the catalogue in passes


def test_black_column_is_one_stacked_call_and_errors_stay_in_their_row(tmp_path: Path) -> None:
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws.append(["cp", "F", "K", "T", "vol", "price", "x100", "net"])
        for i in range(2, 402):
            vol = -0.2 if i == 77 else 0.3 + 0.001 * i
            ws.append(
                [
                    "C" if i % 2 else "P",
                    60000,
                    40000 + 100 * i,
                    0.25,
                    vol,
                    f"=CQ_BLACK(A{i},B{i},C{i},D{i},E{i})",
                    f"=F{i}*100",
                    f"=IF(G{i}>5,G{i}-5,0)",
                ]
            )
        ws["J1"] = "=SUM(G2:G401)"

    res = recalculate(book(tmp_path / "b.xlsx", fill), CATALOGUE_FUNCTIONS)
    assert res.stats.host_calls == 400 and res.stats.host_batches == 1  # one numpy call for the column
    rows = [i for i in range(2, 402) if i != 77]
    expect = black76_price(
        ["C" if i % 2 else "P" for i in rows], 60000.0, [40000.0 + 100 * i for i in rows], 0.25, [0.3 + 0.001 * i for i in rows]
    )
    # 1e-12: the catalogue and a direct call may round differently (ITM legs via parity), ~1e-14 seen
    np.testing.assert_allclose([res.values[("S", i, 7)] for i in rows], expect * 100, rtol=1e-12)
    bad = res.values[("S", 77, 6)]
    assert isinstance(bad, ExcelError) and "vol" in bad.reason
    assert isinstance(res.values[("S", 77, 8)], ExcelError) and isinstance(
        res.values[("S", 1, 10)], ExcelError
    )  # IF, SUM propagate


def test_catalogue_chains_nested_calls_and_arrays(tmp_path: Path) -> None:
    """A handle feeding other calls (passes), a catalogue call nested in Excel functions (scratch
    cell), a CSE array repeated down a taller range (Excel fills a one-row result in every row)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        other = wb.create_sheet("Inputs 2")
        other["A1"], other["A2"] = 3.0, "=S!B1*2"  # reads a later formula on another sheet
        ws["A1"] = 0.05
        ws["B1"] = "=rate*10"
        ws["C1"] = ArrayFormula("C1:D2", '=CQ_INSTRUMENT("BTC-25DEC26-100000-C")')
        ws["E1"] = "='Inputs 2'!A2+spot"
        ws["F1"] = '=IF(ISERROR(CQ_BLACK("C",100,100,1,A1*4)),-1,ROUND(CQ_BLACK("C",100,100,1,A1*4),6))'
        wb.defined_names["rate"] = DefinedName("rate", attr_text="S!$A$1")
        wb.defined_names["spot"] = DefinedName("spot", attr_text="100")

    v = values(book(tmp_path / "n.xlsx", fill))
    assert v("B1") == pytest.approx(0.5) and v("E1") == pytest.approx(101.0)
    assert v("C1") == v("C2") == "BTC" and v("D1") == "option"
    assert v("F1") == pytest.approx(round(7.965567455405804, 6))


def test_an_omitted_catalogue_argument_takes_its_default_as_in_excel(tmp_path: Path) -> None:
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"] = '=CQ_BLACK("C",100,100,1,0.2,,"linear")'  # rate omitted: 0, not a typed 0 by accident
        ws["A2"] = '=CQ_BLACK("C",100,100,1,0.2,0,"linear")'
        ws["A3"] = '=CQ_BLACK("C",100,100,1,0.2,,"nonsense")'

    v = values(book(tmp_path / "m.xlsx", fill))
    assert v("A1") == v("A2") == pytest.approx(7.965567455405804, rel=1e-12)
    assert isinstance(v("A3"), ExcelError) and "settle" in v("A3").reason


# ----------------------------------------------------------------------------- Excel's semantics


def test_sheet_names_that_need_quoting(tmp_path: Path) -> None:
    """Excel quotes a sheet name with spaces, punctuation or a leading digit and doubles an
    apostrophe inside it ("Create or change a cell reference", Microsoft support)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for i, title in enumerate(["Q1-2026", "Trader's book", "Sheet1 (2)", "2026"], start=1):
            wb.create_sheet(title)["A1"] = float(i)
        ws["A1"] = "='Q1-2026'!A1+'Trader''s book'!A1*10+'Sheet1 (2)'!A1*100+'2026'!A1*1000"

    assert values(book(tmp_path / "q.xlsx", fill))("A1") == 4321.0


def test_whole_columns_rows_and_ranges_beyond_the_used_area(tmp_path: Path) -> None:
    """A:A, 2:2 and A2:A1048576 are whole columns/rows; ROWS counts the range as written, not the
    cells used (ROWS: "the number of rows in a reference"); ROW()/COLUMN() without an argument
    are the formula's own row and column."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 5):
            ws.cell(r, 1, float(r))
        ws["C1"], ws["C2"], ws["C3"] = "=SUM(A:A)", "=SUM(A2:A1048576)", "=ROWS(A1:A10)"
        ws["C4"], ws["C5"] = "=ROW()*100+COLUMN()", "=COUNT(1:1)"

    v = values(book(tmp_path / "w.xlsx", fill))
    assert (v("C1"), v("C2"), v("C3"), v("C4"), v("C5")) == (10.0, 9.0, 10.0, 403.0, 2.0)  # row 1: A1 and C1


def test_sheet_scoped_names_win_over_workbook_names(tmp_path: Path) -> None:
    """A name defined for one sheet shadows the workbook-level name of the same spelling there
    ("Define and use names in formulas": scope)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        other = wb.create_sheet("T")
        ws["A1"], other["A1"] = 2.0, 3.0
        wb.defined_names["k"] = DefinedName("k", attr_text="S!$A$1")
        other.defined_names["k"] = DefinedName("k", attr_text="T!$A$1", localSheetId=1)
        ws["B1"], other["B1"] = "=k*10", "=k*10"

    v = values(book(tmp_path / "s.xlsx", fill))
    assert v("B1") == 20.0 and v("B1", "T") == 30.0


def test_implicit_intersection_in_legacy_formulas(tmp_path: Path) -> None:
    """A legacy (non-array) formula that uses a range where one value is expected takes the value
    in its own row: Excel 365 shows it as =@Liste*100 ("Implicit intersection operator: @")."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 4):
            ws.cell(r, 1, float(r))
            ws.cell(r, 2, "=Liste*100")
        ws["C1"] = "=SUM(Liste)"
        wb.defined_names["Liste"] = DefinedName("Liste", attr_text="S!$A$1:$A$3")

    v = values(book(tmp_path / "i.xlsx", fill))
    assert (v("B1"), v("B2"), v("B3"), v("C1")) == (100.0, 200.0, 300.0, 6.0)


def test_the_1900_leap_year_bug_and_day_zero(tmp_path: Path) -> None:
    """Excel's 1900 date system counts 29 February 1900 (serial 60) and serial 0 is 0 January
    1900 (Microsoft: "Excel incorrectly assumes that the year 1900 is a leap year"); a time
    reads to the nearest second."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"], ws["A3"], ws["A4"] = "=DAY(60)", "=MONTH(60)", "=DAY(0)", "=YEAR(0)"
        ws["A5"], ws["A6"], ws["A7"] = "=DAY(61)", "=WEEKDAY(1)", "=SECOND(PI())"

    v = values(book(tmp_path / "d.xlsx", fill))
    assert [v(f"A{i}") for i in range(1, 8)] == [29.0, 2.0, 0.0, 1900.0, 1.0, 1.0, 54.0]


def test_unknown_function_is_name_error_in_its_cell_only(tmp_path: Path) -> None:
    """Excel shows #NAME? where a formula calls a function it does not know; the rest computes."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"], ws["A3"] = "=NOPE(1)", "=2*3", '=__import__("os")'

    v = values(book(tmp_path / "u.xlsx", fill))
    assert v("A1") == ExcelError("#NAME?") and v("A2") == 6.0 and isinstance(v("A3"), ExcelError)


def test_indirect_offset_and_let(tmp_path: Path) -> None:
    """INDIRECT and OFFSET build references within the workbook; LET names a value (Excel 365)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"], ws["A3"] = 5.0, 7.0, 9.0
        ws["B1"], ws["B2"] = '=INDIRECT("A"&2)', "=SUM(OFFSET(A1,1,0,2,1))"
        ws["B3"] = "=_xlfn.LET(_xlpm.x,A1,x*x)"

    v = values(book(tmp_path / "o.xlsx", fill))
    assert (v("B1"), v("B2"), v("B3")) == (7.0, 16.0, 25.0)


def test_validate_skips_volatile_cells_and_their_dependents(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"], ws["A3"], ws["A4"] = "=TODAY()", "=A1+1", "=IF(DAY(A2)=1,A2,0)", "=2+2"

    path = book(tmp_path / "v.xlsx", fill)
    _, out = recalc(path, tmp_path / "v-recalc.xlsx", CATALOGUE_FUNCTIONS)
    res = validate(out, CATALOGUE_FUNCTIONS)
    assert res.skipped_volatile == 3 and res.compared == 1 and res.mismatches == []


def test_a_cell_reading_a_volatile_cell_through_a_host_function_is_volatile_too(tmp_path: Path) -> None:
    """``=TEXT(A1,"ddd")`` with ``A1=TODAY()``: the day's name changes with the day, so the cell is
    a volatile dependent like ``=A1+1`` ("Excel recalculates volatile cells and the cells that
    depend on them", Microsoft, "Excel Recalculation"). The host calls (TEXT, MATCH, VLOOKUP here)
    are cut out of the formula engine's copy, which then showed no reference to A1: B1 was a
    mismatch of a book saved on another day (the corpus's weekly_timesheet, TEXT of A3#)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["B1"], ws["C1"] = "=TODAY()", '=TEXT(A1,"ddd")', "=MATCH(A1,{1,99999})"
        ws["D1"], ws["E1"] = "=VLOOKUP(A1,{1,2;99999,3},2)", "=2+2"

    path = book(tmp_path / "h.xlsx", fill)
    _, out = recalc(path, tmp_path / "h-recalc.xlsx", CATALOGUE_FUNCTIONS)
    res = validate(out, CATALOGUE_FUNCTIONS)
    assert res.skipped_volatile == 4 and res.compared == 1 and res.mismatches == []


# ----------------------------------------------------------------------------- bad input, nothing written


def test_not_a_workbook_and_missing_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.xlsx").write_text("not a zip")
    assert main(["recalc", str(tmp_path / "x.xlsx")]) == 2
    assert "x.xlsx: not a workbook" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "none.xlsx")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_1904_books_are_computed_not_written_four_years_off(tmp_path: Path) -> None:
    """Serial 45000 in the 1904 system is 1904-01-01 + 45000 days (Microsoft, "Date systems in
    Excel"); more in test_file_variants.py."""
    import datetime as dt

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
        ws["A1"], ws["B1"] = 45000.0, "=YEAR(A1)"

    path = book(tmp_path / "mac.xlsx", fill)
    assert main(["recalc", str(path), "-q"]) == 0
    year = openpyxl.load_workbook(tmp_path / "mac-recalc.xlsx", data_only=True).active["B1"].value
    assert year == (dt.date(1904, 1, 1) + dt.timedelta(45000)).year == 2027


def test_error_in_an_input_cell_is_reported_and_exit_3(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"] = 1.0, "#N/A"
        ws["A2"].data_type = "e"
        ws["B1"], ws["B2"] = "=A1*2", "=A2*2"

    path = book(tmp_path / "e.xlsx", fill)
    assert main(["recalc", str(path), "-q"]) == 3
    assert "S!A2 holds #N/A" in capsys.readouterr().err


def test_recalc_never_overwrites_the_input_unless_asked_and_writes_atomically(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = book(tmp_path / "b.xlsx", lambda wb, ws: (ws.__setitem__("A1", 2.0), ws.__setitem__("B1", "=A1*3")))
    before = digest(path)
    with pytest.raises(BookError, match="overwrite the input"):
        recalc(path, path)
    with pytest.raises(BookError, match="keep the input's type"):
        recalc(path, tmp_path / "b.xlsm")
    import addin.headless.writer as w

    def broken(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(w, "rewrite_sheet", broken)
    with pytest.raises(RuntimeError):
        recalc(path, in_place=True, budget=None)  # in this process, where the writer is broken
    assert digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["b.xlsx"]
    monkeypatch.undo()
    recalc(path, in_place=True)
    assert openpyxl.load_workbook(path, data_only=True)["S"]["B1"].value == 6.0
    assert openpyxl.load_workbook(path)["S"]["B1"].value == "=A1*3"  # the formula is kept


def test_xlsm_keeps_its_vba_project_and_every_other_part(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calc"
    ws["A1"], ws["B1"] = 4.0, '=CQ_BLACK("C",100,100,1,A1/20)'
    plain = tmp_path / "m.xlsx"
    wb.save(plain)
    src = tmp_path / "m.xlsm"  # a macro book: the add-in's real VBA project, declared as Excel does
    with zipfile.ZipFile(plain) as a, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as b:
        for n in a.namelist():
            data = a.read(n)
            if n == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                ).replace(
                    b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1
                )
            if n == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>',
                )
            b.writestr(n, data)
        with zipfile.ZipFile(XLAM) as x:
            b.writestr("xl/vbaProject.bin", x.read("xl/vbaProject.bin"))
    _, out = recalc(src, None, CATALOGUE_FUNCTIONS)
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        assert a.namelist() == b.namelist() and "xl/vbaProject.bin" in b.namelist()
        changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert len(changed) == 1 and changed[0].startswith("xl/worksheets/")
    assert openpyxl.load_workbook(out, data_only=True)["Calc"]["B1"].value == pytest.approx(7.965567455405804, rel=1e-12)


def test_a_book_with_comments_written_by_openpyxl_is_read(tmp_path: Path) -> None:
    """openpyxl writes absolute relationship targets for comments; Excel reads them, so must we."""
    from openpyxl.comments import Comment

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["B1"] = 2.0, "=A1*3"
        ws["A1"].comment = Comment("a note", "desk")

    path = book(tmp_path / "c.xlsx", fill)
    _, out = recalc(path, None, CATALOGUE_FUNCTIONS)
    assert openpyxl.load_workbook(out, data_only=True)["S"]["B1"].value == 6.0
    assert openpyxl.load_workbook(out)["S"]["A1"].comment.text == "a note"


def test_validate_finds_a_tampered_value(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 20):
            ws.cell(r, 1, float(r))
            ws.cell(r, 2, f"=A{r}^2")

    path = book(tmp_path / "t.xlsx", fill)
    _, out = recalc(path, None, CATALOGUE_FUNCTIONS)
    assert main(["validate", str(out), "-q"]) == 0
    from addin.headless.writer import write_cached

    bad = tmp_path / "t-bad.xlsx"
    write_cached(out, bad, {"S": {7: {2: 50.0}}}, {"S": {(7, 2)}})
    assert main(["validate", str(bad), str(out), "-q"]) == 1  # several books in one run
    text = capsys.readouterr().out
    assert "1 of 19 formula cells differ" in text and "S!B7" in text and "50" in text and "t-recalc.xlsx: all 19" in text
    res = validate(path, CATALOGUE_FUNCTIONS)  # never recalculated: no cached values at all
    assert res.compared == 19 and all("no cached value" in m.why for m in res.mismatches)


def test_base_conversions_follow_excel(tmp_path: Path) -> None:
    """Microsoft's DEC2BIN/BIN2DEC/HEX2DEC... reference: two's complement in 10 digits, places
    1-10 checked first (else #NUM!), invalid digits #NUM!, a blank number is 0; the order of the
    checks as Excel's cached values in the corpus show (xlcalculator's BASES.xlsx)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        cells = {
            "A1": "=DEC2BIN(9,4)", "A2": "=DEC2BIN(-1)", "A3": "=DEC2BIN(-25,11)", "A4": "=BIN2DEC(1111111111)",
            "A5": '=HEX2DEC("FFFFFFFFFF")', "A6": "=DEC2BIN(512)", "A7": '=BIN2OCT("A")', "A8": '=DEC2HEX(255,1)',
            "A9": "=OCT2BIN(B1)", "A10": '=DEC2OCT("E",0)', "A11": '=DEC2BIN("")', "A12": "=LEN(DEC2HEX(4095,6))",
        }  # fmt: skip
        for ref, f in cells.items():
            ws[ref] = f

    v = values(book(tmp_path / "b.xlsx", fill))
    num, val = ExcelError("#NUM!"), ExcelError("#VALUE!")
    assert [v(f"A{i}") for i in range(1, 13)] == ["1001", "1111111111", num, -1.0, -1.0, num, num, num, "0", num, val, 6.0]


def test_a_range_between_two_index_references(tmp_path: Path) -> None:
    """INDEX returns a reference when an operator needs one ("INDEX function", reference form):
    SUM(INDEX(L,1,1):INDEX(L,1,3)) sums the first three cells of L."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for c in range(1, 6):
            ws.cell(1, c, float(c * 10))
        ws["A3"] = "=SUM(INDEX(L,1,1):INDEX(L,1,3))"
        ws["A4"] = "=SUM(INDEX(L,1,2):INDEX(L,1,B4))"
        ws["B4"] = 5.0
        wb.defined_names["L"] = DefinedName("L", attr_text="S!$A$1:$E$1")

    v = values(book(tmp_path / "x.xlsx", fill))
    assert v("A3") == 60.0 and v("A4") == 140.0


def test_a_nested_catalogue_call_in_a_book_without_any_other(tmp_path: Path) -> None:
    """The first nested call of a book creates the scratch sheet its rewritten formula reads."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"] = '=ROUND(CQ_BLACK("C",100,100,1,0.2),4)*2'

    assert values(book(tmp_path / "n.xlsx", fill))("A1") == pytest.approx(2 * round(7.965567455405804, 4))


def test_yearfrac_as_excel_computes_it(tmp_path: Path) -> None:
    """Microsoft's "YEARFRAC function" with Excel's own rules, worked by hand: basis 0 is US
    30/360 with the end-of-February rule (31 Jan → 31 Mar 2001: 60/360); basis 1 over more than
    a year divides by the average year length of the years spanned (28 Feb 2001 → 29 Feb 2004:
    1096 days / (1461/4)); dates are Excel's 1900 calendar (serial 200 is 18 July 1900, so
    1 → 200 in 30/360 is 197/360); a bad basis is #NUM! before a date's error is looked at."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["B1"] = 36922.0, 36981.0  # 2001-01-31, 2001-03-31
        ws["A2"], ws["B2"] = 36950.0, 38046.0  # 2001-02-28, 2004-02-29
        ws["C1"], ws["C2"] = "=YEARFRAC(A1,B1,0)", "=YEARFRAC(A2,B2,1)"
        ws["C3"], ws["C4"] = "=YEARFRAC(1,200,0)", "=YEARFRAC(1/0,200,-1)"
        ws["C5"] = "=YEARFRAC(B1,A1,3)"  # order does not matter

    v = values(book(tmp_path / "y.xlsx", fill))
    assert v("C1") == pytest.approx(60 / 360, rel=1e-15)
    assert v("C2") == pytest.approx(1096 / (1461 / 4), rel=1e-15)
    assert v("C3") == pytest.approx(197 / 360, rel=1e-15)
    assert v("C4") == ExcelError("#NUM!") and v("C5") == pytest.approx(59 / 365, rel=1e-15)


def test_vdb_whole_and_fractional_periods_as_excel(tmp_path: Path) -> None:
    """Microsoft's "VDB function": double-declining balance switching to straight line. By hand,
    cost 1, life 14, factor 1.25 (rate r = 1.25/14): the first half period is 0.5·r; from
    start 0.5 the next period is r·(1 − 0.5·r) (Excel counts whole periods from the start);
    from 3.5 the straight line is larger: (1 − depreciation to 3.5) / 10.5, constant to the
    end of the life, and VDB(13.5, 14) is half of it. Excel's own cached values for these
    (xlcalculator's VDB.xlsx) are 0.0446428571, 0.0852997449, 0.0687262905 and 0.0343631452."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for i, (s, e) in enumerate([(0, 0.5), (0.5, 1.5), (3.5, 4.5), (12.5, 13.5), (13.5, 14), (2, 3)], start=1):
            ws[f"A{i}"] = f"=VDB(1,0,14,{s},{e},1.25,FALSE)"
        ws["A7"] = "=VDB(1,0,14,3,2)"  # start after end
        ws["A8"] = "=VDB(575000,5000,10,0,1,1.5)"  # Excel's cached 86250 (integer period)

    v = values(book(tmp_path / "v.xlsx", fill))
    r = 1.25 / 14
    bv = [1.0 - 0.5 * r]
    for _ in range(3):
        bv.append(bv[-1] * (1 - r))  # DDB at 0.5, 1.5, 2.5
    sl = bv[3] / 10.5
    assert v("A1") == pytest.approx(0.5 * r, rel=1e-12)
    assert v("A2") == pytest.approx(r * bv[0], rel=1e-12)
    assert v("A3") == pytest.approx(sl, rel=1e-12) and v("A3") == pytest.approx(0.06872629045468406, rel=1e-9)
    assert v("A4") == pytest.approx(sl, rel=1e-9) and v("A5") == pytest.approx(sl / 2, rel=1e-9)
    assert v("A7") == ExcelError("#NUM!") and v("A8") == pytest.approx(86250.0, rel=1e-12)


def test_a_legacy_array_result_fills_its_range_as_excel(tmp_path: Path) -> None:
    """ "Guidelines and examples of array formulas": a one-column result entered over two
    columns is repeated in each; a one-row result over two rows likewise; beyond a larger
    result the cells are #N/A."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for i in range(1, 5):
            ws.cell(i, 1, float(i))
            ws.cell(i, 3, float(i + 4))
        ws["E1"] = ArrayFormula("E1:F4", "=A1:A4+C1:C4")
        ws["H1"] = ArrayFormula("H1:I2", "=TRANSPOSE(A1:A2)*10")
        ws["K1"] = ArrayFormula("K1:K5", "=A1:A4")

    v = values(book(tmp_path / "a.xlsx", fill))
    assert [v(f"F{i}") for i in range(1, 5)] == [6.0, 8.0, 10.0, 12.0]
    assert [v("H2"), v("I2")] == [10.0, 20.0]
    assert v("K4") == 4.0 and v("K5") == ExcelError("#N/A")


def test_structured_references_to_a_table(tmp_path: Path) -> None:
    """ "Using structured references with Excel tables": Table1[] and the bare name are the data
    rows; #All includes the header and totals rows; #Totals, #Headers and columns select parts;
    [col] without a table name, in the table's totals row, is the table's own column; @ is
    this row."""
    from openpyxl.worksheet.table import Table as XlTable

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws.append(["col1", "col 2", "col3"])
        ws.append([1.0, 2.0, 3.0])
        ws.append([4.0, 5.0, 6.0])
        ws.append(["Total", None, "=SUBTOTAL(109,[col3])"])
        t = XlTable(displayName="T1", ref="A1:C4")
        t.totalsRowCount = 1
        ws.add_table(t)
        ws["E1"] = "=SUM(T1[])"
        ws["E2"] = "=SUM(T1[#All])"
        ws["E3"] = "=SUM(T1[#Totals])"
        ws["E4"] = "=SUM(T1[[col1]:[col 2]])"
        ws["E5"] = "=SUM(T1)"
        ws["E6"] = "=ROWS(T1[[#Headers],[#Data]])"
        ws["D2"] = "=T1[@col3]*2"

    v = values(book(tmp_path / "t.xlsx", fill))
    assert v("C4") == 9.0
    assert [v(f"E{i}") for i in range(1, 7)] == [21.0, 30.0, 9.0, 12.0, 21.0, 3.0]
    assert v("D2") == 6.0


def test_approximate_lookups_search_as_excel_does(tmp_path: Path) -> None:
    """Excel's approximate MATCH/VLOOKUP/LOOKUP are a binary search ("MATCH function": values in
    ascending order); over blanks it steps to the next comparable value. Excel's cached values
    in pycel's lookup.xlsx (corpus) for a column with blanks in A1:A4, A8 and A13:A16:
    MATCH(6) = 10, MATCH(9) = 12, MATCH(0) = #N/A, LOOKUP(9) = 8; a text lookup value never
    matches numbers; MATCH(.., -1) on ascending data finds only values not below the first."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r, v in zip(range(5, 13), [1, 2, 3, None, 5, 6, 7, 8], strict=True):
            if v is not None:
                ws.cell(r, 1, float(v))
        ws["C1"], ws["C2"], ws["C3"] = "=MATCH(6,A1:A16)", "=MATCH(9,A1:A16)", "=MATCH(0,A1:A16)"
        ws["C4"], ws["C5"] = "=LOOKUP(9,A1:A16)", '=MATCH("x",A1:A16)'
        ws["C6"] = "=VLOOKUP(6,A1:A16,1)"
        ws["C7"], ws["C8"] = "=MATCH(-1,A5:A7,-1)", "=MATCH(2,A5:A7,-1)"
        ws["C9"] = "=MATCH(2.1,{-1.1,2.1,3.1})"  # an array constant
        ws["C10"] = '=HLOOKUP(2,{0,1,2;"a","e","i"},2)'
        ws["C11"] = "=MATCH(6,A1:A16,0)"  # exact: the formula engine's own
        ws["C12"] = '=LOOKUP(2,A5:A7,{"a";"b";"c"})'

    v = values(book(tmp_path / "l.xlsx", fill))
    na = ExcelError("#N/A")
    assert [v(f"C{i}") for i in range(1, 7)] == [10.0, 12.0, na, 8.0, na, 6.0]
    assert [v("C7"), v("C8")] == [3.0, na]
    assert [v("C9"), v("C10"), v("C11"), v("C12")] == [2.0, "i", 10.0, "b"]


def test_ifs_and_switch_over_arrays_and_switch_on_blanks(tmp_path: Path) -> None:
    """Excel 365 evaluates IFS and SWITCH element by element over an array argument and spills
    the result ("IFS function", "SWITCH function", dynamic arrays); SWITCH compares a blank as
    the number 0, so it matches 0 but not "" (pycel's logical.xlsx, Excel's cached values)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["B1"], ws["C1"] = 0.0, 1.0, "x"
        ws["A2"] = ArrayFormula("A2:C2", "=IFS(A1:C1,1,TRUE,2)")
        ws["A3"] = ArrayFormula("A3:C3", '=SWITCH(A1:C1,0,"zero",1,"one","other")')
        ws["A4"] = '=SWITCH(D1,0,"match")'  # D1 blank
        ws["A5"] = '=SWITCH(D1,"","match")'
        ws["A6"] = "=IFS(A1,1,B1,2)"  # scalar: the formula engine's own

    v = values(book(tmp_path / "s.xlsx", fill))
    assert [v("A2"), v("B2"), v("C2")] == [2.0, 1.0, ExcelError("#VALUE!")]
    assert [v("A3"), v("B3"), v("C3")] == ["zero", "one", "other"]
    assert [v("A4"), v("A5"), v("A6")] == ["match", ExcelError("#N/A"), 2.0]


def test_an_array_expression_reaches_a_host_function_whole(tmp_path: Path) -> None:
    """Excel passes an array expression (``A1:A3*2``, ``A1:A2^{1,2}``) to a function as the whole
    array; the engine evaluates it in a region of its own shape first, and again in a larger
    region when its shape grows between passes (here with a catalogue result)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for i in range(1, 4):
            ws.cell(i, 1, float(i))
        ws["C1"] = ArrayFormula("C1:C3", '=SWITCH(A1:A3*2,2,"two",4,"four","other")')
        ws["D1"] = "=LOOKUP(5,A1:A3*2,{10;20;30})"
        ws["E1"] = '=SWITCH(INDEX(A1:A2^{1,2},2,2),4,"four")'
        inner = 'CQ_BLACK("C",100,100,1,0.2)'  # 7.97: SEQUENCE(8) once it is known
        ws["F1"] = ArrayFormula("F1:F8", f'=CQ_BLACK("C",100,SEQUENCE(ROUND({inner},0))*10+40,1,0.2)')

    v = values(book(tmp_path / "e.xlsx", fill))
    assert [v("C1"), v("C2"), v("C3")] == ["two", "four", "other"]
    assert v("D1") == 20.0 and v("E1") == "four"
    strikes = np.arange(1, 9) * 10.0 + 40.0  # the strike argument grew from one cell to eight
    want = black76_price(1, 100.0, strikes, 1.0, 0.2)
    np.testing.assert_allclose([v(f"F{i}") for i in range(1, 9)], want, rtol=1e-12)


def test_linest_trend_and_slope_as_excel(tmp_path: Path) -> None:
    """Microsoft's "LINEST function": coefficients right to left, four statistics rows with #N/A
    beyond column 2; a collinear x column gets 0 (a constant column when there is an intercept);
    uncentred sums without a constant. Expected values are Excel's cached ones in pycel's
    stats.xlsx (corpus): y = 1,2,3 on x = 2,3,4 without a constant gives m = 20/29, r² =
    0.98522167..., F = 133.33..., ss_reg = 400/29; SLOPE on ranges of different sizes is #N/A;
    LINEST on y and x of different lengths is #REF! even when y holds a blank (#VALUE!)."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for i, (y, x) in enumerate([(1, 2), (2, 3), (3, 4)], start=1):
            ws.cell(i, 1, float(y))
            ws.cell(i, 2, float(x))
            ws.cell(i, 3, 5.0)  # a constant x
        ws["E1"] = ArrayFormula("E1:F5", "=LINEST(A1:A3,B1:B3,FALSE,TRUE)")
        ws["H1"] = ArrayFormula("H1:I1", "=LINEST(A1:A3,C1:C3)")
        ws["K1"] = ArrayFormula("K1:K3", "=TREND(A1:A3,B1:B3)")
        ws["L1"] = "=SLOPE(A1:A3,B1:B2)"
        ws["L2"] = ArrayFormula("L2", "=LINEST(A1:A4,B1:B3)")

    v = values(book(tmp_path / "r.xlsx", fill))
    na = ExcelError("#N/A")
    assert v("E1") == pytest.approx(20 / 29, rel=1e-12) and v("F1") == 0.0
    assert v("E2") == pytest.approx(0.05972588991616814, rel=1e-9) and v("F2") == na
    assert v("E3") == pytest.approx(0.9852216748768473, rel=1e-12) and v("F3") == pytest.approx(0.32163376045133824, rel=1e-9)
    assert v("E4") == pytest.approx(133.33333333333354, rel=1e-9) and v("F4") == 2.0
    assert v("E5") == pytest.approx(400 / 29, rel=1e-12) and v("F5") == pytest.approx(0.20689655172413762, rel=1e-9)
    assert [v("H1"), v("I1")] == [0.0, pytest.approx(2.0)]  # the constant x is collinear with b
    assert [v(f"K{i}") for i in range(1, 4)] == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]
    assert v("L1") == na and v("L2") == ExcelError("#REF!")


def test_text_renders_number_formats_as_excel(tmp_path: Path) -> None:
    """Microsoft's "Number format codes" and "TEXT function", with Excel's cached values from
    pycel's text.xlsx and IronCalc's TEXT.xlsx (corpus): sections, a minus only on a non-zero
    shown value, grouping and scaling commas, commas that vanish or stay literal, literal
    letters, a later point as a literal, the text section, elapsed time from a time typed as
    text, dates on Excel's calendar; General and scientific formats are left to the formula
    engine (its own answer, unchanged)."""

    cases = {
        "A1": ("=TEXT(B1,C1)", -1.0, '##.00;-  ##.0;"ZERO"', "-  1.0"),
        "A2": ("=TEXT(B2,C2)", 0.0, '##.00;-  ##.0;"ZERO"', "ZERO"),
        "A3": ("=TEXT(B3,C3)", -0.33, "0", "0"),
        "A4": ("=TEXT(B4,C4)", 890123.456789, "#,0x#.00.0", "890,12x3.45.7"),
        "A5": ("=TEXT(B5,C5)", 890123.456789, "0,x#.00.0", "89012x3.45.7"),
        "A6": ("=TEXT(B6,C6)", 890123.456789, "#.###,x,##", "890123.456x,79"),
        "A7": ("=TEXT(B7,C7)", 123456789012.0, '#,##0,, "Millions"', "123,457 Millions"),
        "A8": ("=TEXT(B8,C8)", "X", '##.00;-  ##.0;"ZERO";->@<-@', "->X<-X"),
        "A9": ("=TEXT(B9,C9)", "23:99", "#.#####", "1.02708"),
        "A10": ("=TEXT(B10,C10)", "60:99", "#.#####", "60:99"),
        "A11": ("=TEXT(B11,C11)", -1.0, "[h]", "-24"),
        "A12": ("=TEXT(B12,C12)", -1.0, "[h]:m", ExcelError("#VALUE!")),
        "A13": ("=TEXT(B13,C13)", 36526.75, "dddd d mmmm yyyy h:mm AM/PM", "Saturday 1 January 2000 6:00 PM"),
        "A14": ("=TEXT(B14,C14)", 1.0, "w;x@", "w"),
        "A15": ("=TEXT(B15,C15)", -1.0, "", "-"),
        "A16": ("=TEXT(B16,C16)", 2.675, "0.00", "2.68"),
        "A17": ("=TEXT(B17,C17)", 1234.5, "General", "1234.5"),
        "A18": ("=TEXT(B18,C18)", 12.0, "0.00E+0", "1.20E+1"),
        "A19": ("=TEXT(B19,C19)", 890123.456789, "#.#####00#0", "890123.45678900"),
    }

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for ref, (f, value, fmt, _) in cases.items():
            r = ref[1:]
            ws[ref], ws[f"B{r}"], ws[f"C{r}"] = f, value, fmt

    v = values(book(tmp_path / "t.xlsx", fill))
    got = {ref: v(ref) for ref in cases}
    assert got == {ref: want for ref, (_, _, _, want) in cases.items()}


def test_spill_references_are_read() -> None:
    """Excel 365 writes a spill range as ``A3#`` in the formula bar and ``_xlfn.ANCHORARRAY(A3)``
    in the file; both forms reach the engine, also from another sheet and beside a string
    holding ``#``."""
    from addin.headless.formula import parse, render, spill_refs

    assert spill_refs('=TEXT(A3#,"#,##0")&Sheet2!$B$2#') == '=TEXT(_xlfn.ANCHORARRAY(A3),"#,##0")&_xlfn.ANCHORARRAY(Sheet2!$B$2)'
    assert render(parse("=SUM('My Sheet'!C1#)")) == "SUM(_xlfn.ANCHORARRAY('My Sheet'!C1))"


def test_host_calls_with_known_inputs_run_once_in_dependency_order(tmp_path: Path) -> None:
    """A call whose arguments are inputs, constants or other calls' results is evaluated once,
    after the calls it reads; a call reading a plain formula is re-evaluated whenever that
    formula's value changes; both give the prices computed one call at a time."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 4):
            ws[f"A{r}"] = 90.0 + 10 * r
            ws[f"B{r}"] = f'=CQ_BLACK("C",100,A{r},1,0.2)'  # level 1
            ws[f"C{r}"] = f'=CQ_BLACK("C",100,D{r},1,0.2)'  # reads D, a formula: re-evaluated on change
            ws[f"D{r}"] = f"=A{r}+B{r}"
            ws[f"E{r}"] = f'=CQ_BLACK("P",F{r},100,1,0.2)'  # level 2: reads F, another call's result
            ws[f"F{r}"] = f'=CQ_BLACK("C",100,A{r},1,0.2)*10'  # nested: the call writes a scratch cell

    res = recalculate(book(tmp_path / "o.xlsx", fill), CATALOGUE_FUNCTIONS)
    v = lambda ref: res.cell("S", *openpyxl.utils.cell.coordinate_to_tuple(ref))  # noqa: E731
    assert res.stats.exact_calls == 6  # B and the nested call in F; C reads D and E reads F, formulas
    for r in range(1, 4):
        b = black76_price(1, 100.0, 90.0 + 10 * r, 1.0, 0.2)
        assert v(f"B{r}") == pytest.approx(b, rel=1e-12)
        assert v(f"C{r}") == pytest.approx(black76_price(1, 100.0, 90.0 + 10 * r + b, 1.0, 0.2), rel=1e-12)
        assert v(f"E{r}") == pytest.approx(black76_price(-1, b * 10, 100.0, 1.0, 0.2), rel=1e-12)


def test_circular_references_as_excel_with_iteration_off_and_on(tmp_path: Path) -> None:
    """Microsoft, "Remove or allow a circular reference": with iterative calculation off a
    circular chain shows 0; with it on (File > Options > Formulas, <calcPr iterate="1">) Excel
    recalculates until no value moves by more than Maximum Change or Maximum Iterations are
    done. A1 = 100 + A2/2 and A2 = A1/2 converge to A1 = 400/3 and A2 = 200/3."""

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"], ws["A3"] = "=100+A2/2", "=A1/2", "=A1+A2"
        ws["B1"] = "=SUM(C1:C3)"  # no cycle: untouched

    off = book(tmp_path / "off.xlsx", fill)
    v = values(off)
    assert [v("A1"), v("A2"), v("A3")] == [0.0, 0.0, 0.0]

    def fill_on(wb, ws):  # type: ignore[no-untyped-def]
        fill(wb, ws)
        wb.calculation.iterate = True
        wb.calculation.iterateCount = 200
        wb.calculation.iterateDelta = 1e-12

    on = recalculate(book(tmp_path / "on.xlsx", fill_on), CATALOGUE_FUNCTIONS)
    cell = lambda ref: on.cell("S", *openpyxl.utils.cell.coordinate_to_tuple(ref))  # noqa: E731
    assert cell("A1") == pytest.approx(400 / 3, abs=1e-9) and cell("A2") == pytest.approx(200 / 3, abs=1e-9)
    assert cell("A3") == pytest.approx(200.0, abs=1e-9) and 5 < on.stats.iterations < 200


def test_circular_references_are_listed_by_recalc_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every cell of a cycle (and what it feeds) is named, with the value it was given: 0 with
    iterative calculation off, the iterated value with iterateCount/iterateDelta when on; the
    Maximum Iterations setting bounds the rounds (Microsoft, "Change formula recalculation,
    iteration, or precision in Excel")."""
    from addin.cli import main

    def fill(wb, ws, on: bool, count: int = 100):  # type: ignore[no-untyped-def]
        ws["A1"], ws["B1"], ws["C1"], ws["D1"] = "=B1+1", "=A1*0.5", "=A1+10", "=2*3"
        if on:
            wb.calculation.iterate, wb.calculation.iterateCount, wb.calculation.iterateDelta = True, count, 1e-9

    off = book(tmp_path / "off.xlsx", lambda wb, ws: fill(wb, ws, False))
    on = book(tmp_path / "on.xlsx", lambda wb, ws: fill(wb, ws, True))
    few = book(tmp_path / "few.xlsx", lambda wb, ws: fill(wb, ws, True, 3))
    r_off, r_on, r_few = (recalculate(p, CATALOGUE_FUNCTIONS) for p in (off, on, few))
    assert r_off.circular == r_on.circular == [("S", 1, 1), ("S", 1, 2), ("S", 1, 3)]  # D1 is no part of it
    assert r_on.values[("S", 1, 1)] == pytest.approx(2.0, abs=1e-8) and r_off.values[("S", 1, 1)] == 0.0
    assert r_few.stats.iterations == 3  # A1 = 0+1, then B1 = 0.5, A1 = 1.5 ...: stopped by iterateCount
    assert main(["recalc", "-q", str(off), "-o", str(tmp_path / "o.xlsx")]) == 0
    assert "3 cells in circular references or fed by one: S!A1, S!B1, S!C1; their value: 0" in capsys.readouterr().out
    assert main(["validate", "-q", str(tmp_path / "o.xlsx")]) == 0
    assert "S!A1, S!B1, S!C1; their value: 0, as Excel shows them" in capsys.readouterr().out
    assert main(["validate", "-q", str(on)]) == 1  # no cached values; the note still names the cells
    assert "their value: iterated as the book asks (iterateCount 100, iterateDelta 1e-09" in capsys.readouterr().out
