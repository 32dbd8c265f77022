"""Conditional formatting is left out of the formula engine's copy; values and the saved book's rules stay.

The mechanism (addin/headless/package.py, ``_Capped.formatted``, ``Package.formatted``,
``engine_copy`` and ``_without_presentation``): IronCalc 0.9.1 evaluates every conditional
formatting rule at every cell of its range while it loads a book, computing the cells each rule
reads and keeping none of them, so a rule over a few thousand cells that read exact lookups over
whole columns held the load for minutes. A rule changes how a cell looks, never its value
(ECMA-376 Part 1, 18.3.1.18 conditionalFormatting; Microsoft, "Use conditional formatting to
highlight information"), and the writer patches the original package (rules included), so the
copy the formula engine reads leaves the rules out.

The book is the shape of a report over an Excel table: a table whose calculated column reads
``Deals[[#This Row],[Qty]]`` (the file's form of ``[@Qty]``), a list sheet with exact lookups
over whole columns of the table's sheet, INDEX/MATCH over table columns and a share of
``SUM(Deals[Amount])``, and a rule over the list. Expected values come from Microsoft's "Using
structured references with Excel tables" (``[#This Row]``/``@`` is the cell of the column in
the formula's row; ``Table[Column]`` is the column's data rows, without header or totals) and
the function reference (VLOOKUP with range_lookup FALSE: the row of the first exact match, #N/A
when none; ISNA; MATCH with match_type 0 likewise; INDEX the cell at that position; text that
is no number in arithmetic, ``" "/x``: #VALUE!), written in Python over the values written.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import PatternFill
from openpyxl.worksheet.table import Table

from addin.headless import ExcelError, recalculate
from addin.headless.package import Limits, engine_copy, scan
from addin.headless.recalc import save

RULE = 'AND(B3=" ",LEN(B2)>1)'


def _book(path: Path, rows: int, keys: int) -> tuple[list[float], list[float]]:
    """The table ``Deals`` (``rows`` data rows) on ``Data`` and ``keys`` lookups on ``List``
    with a conditional format; returns each row's Qty and Price."""
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "Data"
    data.append(["Key", "Region", "Qty", "Price", "Amount"])
    qty = [float(i % 7) for i in range(1, rows + 1)]
    price = [1.5 * i + 0.25 for i in range(1, rows + 1)]
    for i in range(1, rows + 1):
        data.append([i, f"R{i % 3}", qty[i - 1], price[i - 1], "=Deals[[#This Row],[Qty]]*Deals[[#This Row],[Price]]"])
    data.add_table(Table(displayName="Deals", ref=f"A1:E{rows + 1}"))
    sheet = wb.create_sheet("List")
    sheet.append(["Key", "Amount", "Price", "Share"])
    for k in range(1, keys + 1):
        r = k + 1
        sheet.append(
            [
                k,
                f'=IF(ISNA(VLOOKUP($A{r},Data!$A:$E,5,FALSE))," ",VLOOKUP($A{r},Data!$A:$E,5,FALSE))',
                f"=INDEX(Deals[Price],MATCH($A{r},Deals[Key],0))",
                f"=B{r}/SUM(Deals[Amount])",
            ]
        )
    fill = PatternFill(start_color="FFC7CE", end_color="FFC7CE", fill_type="solid")
    sheet.conditional_formatting.add(f"B2:D{keys + 1}", FormulaRule(formula=[RULE], fill=fill))
    wb.save(path)
    return qty, price


def test_the_engine_copy_leaves_conditional_formatting_out_and_nothing_else(tmp_path: Path) -> None:
    """The copy's sheets hold no ``conditionalFormatting`` and every formula of the original."""
    path = tmp_path / "book.xlsx"
    _book(path, 30, 35)
    pkg = scan(path)
    assert pkg.formatted == {"xl/worksheets/sheet2.xml"}
    copy = engine_copy(
        path, tmp_path / "copy.xlsx", Limits(), pkg.capped, None, False, pkg.dated, None, None, pkg.escaped, pkg.formatted
    )
    with zipfile.ZipFile(path) as z:
        assert b"<conditionalFormatting" in z.read("xl/worksheets/sheet2.xml")
    with zipfile.ZipFile(copy) as z:
        assert b"conditionalFormatting" not in z.read("xl/worksheets/sheet2.xml")
    again = scan(copy)
    assert [s.formulas.keys() for s in again.sheets] == [s.formulas.keys() for s in pkg.sheets]
    assert again.formatted == frozenset()


def test_a_table_report_with_a_rule_computes_excels_values_and_keeps_its_rule(tmp_path: Path) -> None:
    rows, keys = 60, 70  # keys beyond the table's rows: the lookups' not-found branch
    path = tmp_path / "report.xlsx"
    qty, price = _book(path, rows, keys)
    result = recalculate(path)
    got = result.values
    amount = [q * p for q, p in zip(qty, price, strict=True)]  # one product each, as Excel's *
    total = math.fsum(amount)
    for i in range(1, rows + 1):
        assert got[("Data", i + 1, 5)] == amount[i - 1]
    for k in range(1, keys + 1):
        r = k + 1
        if k <= rows:
            assert got[("List", r, 2)] == amount[k - 1]
            assert got[("List", r, 3)] == price[k - 1]
            # the sum's order may differ from fsum's in the last bits: 1e-12 relative is far above
            # a 60-term sum's rounding (60 * 2**-53) and far below any wrong cell
            assert math.isclose(got[("List", r, 4)], amount[k - 1] / total, rel_tol=1e-12)
        else:
            assert got[("List", r, 2)] == " "
            assert got[("List", r, 3)] == ExcelError("#N/A")
            assert got[("List", r, 4)] == ExcelError("#VALUE!")
    out = tmp_path / "out.xlsx"
    save(result, out)
    rules = openpyxl.load_workbook(out)["List"].conditional_formatting
    assert [r.formula for cf in rules for r in cf.rules] == [[RULE]]


def test_a_value_in_a_cell_a_merge_covers_is_read(tmp_path: Path) -> None:
    """A value stored in a cell a merge covers (any but the merge's top-left) is read by the
    formulas that refer to it, and the saved book keeps its merges. Excel keeps such values
    (only the act of merging in Excel's interface discards them, keeping the upper-left value:
    Microsoft, "Merge and unmerge cells"); a merge in
    the file is a range with no value (ECMA-376 Part 1, 18.3.1.55 mergeCell). IronCalc 0.9.1
    read the covered cell as empty: ``=B1+7`` was 7 and ``=SUM(A3:A4)`` 2 (an Excel-saved test
    book of LibreOffice's with such cells, tdf111974, caches the values read)."""
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["B1"], ws["C1"] = 1, 5, "=B1+7"
    ws["A3"], ws["A4"], ws["B3"] = 2, 3, "=SUM(A3:A4)"
    ws["D1"] = "=COUNT(A1:B1)"
    wb.save(plain)
    merged = tmp_path / "merged.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(merged, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":  # openpyxl keeps covered cells only as blanks: merged by hand
                data = data.replace(
                    b"</sheetData>",
                    b'</sheetData><mergeCells count="2"><mergeCell ref="A1:B1"/><mergeCell ref="A3:A4"/></mergeCells>',
                )
            zout.writestr(info, data)
    result = recalculate(merged)
    assert result.values[("S", 1, 3)] == 12.0
    assert result.values[("S", 3, 2)] == 5.0
    assert result.values[("S", 1, 4)] == 2.0
    out = tmp_path / "out.xlsx"
    save(result, out)
    assert set(map(str, openpyxl.load_workbook(out).active.merged_cells.ranges)) == {"A1:B1", "A3:A4"}


def test_markup_inside_a_comment_is_not_a_tag(tmp_path: Path) -> None:
    """A comment holding ``<mergeCells`` before row 1 and ``</mergeCells>`` after it (found by
    this round's outside audit) made the copy lose row 1: ``=B1*10`` was 0. A comment is not
    content (XML 1.0, section 2.5), so what it holds is never taken for a tag; Excel's value is 20."""
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["B1"], ws["C1"], ws["C2"] = 2, "=B1*10", "=C1+1"
    wb.save(plain)
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(hostile, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData><!-- <mergeCells -->", 1)
                data = data.replace(b'<row r="2"', b'<!-- </mergeCells> --><row r="2"', 1)
                data = data.replace(b"</sheetData>", b'</sheetData><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>')
            zout.writestr(info, data)
    values = recalculate(hostile).values
    assert values[("S", 1, 3)] == 20.0
    assert values[("S", 2, 3)] == 21.0
