"""BYROW over one column and BYCOL over one row (addin/headless/one_wide_helpers.py).

Oracle: Microsoft, "BYROW function" ("applies a LAMBDA to each row and returns an array of the
results") and "BYCOL function": a row of a one-column array is its one cell, which a function of
one value reads as the value ("UPPER function": the text in uppercase, a number's text "1";
"IS functions": ISTEXT of a text TRUE; "COUNTIFS function": ">"&2 counts the cells above 2).
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import recalculate


def test_byrow_of_a_column_gives_each_cell_its_value(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for i, (c, d) in enumerate(zip([1, 2, 4, 8, 16], "abcde", strict=True), 1):
        ws.cell(i, 3).value, ws.cell(i, 4).value = c, d
    lam = "_xlfn.LAMBDA(_xlpm.r,{})"
    ws["F1"] = ArrayFormula("F1:F5", "=_xlfn.BYROW(C1:C5," + lam.format("UPPER(_xlpm.r)") + ")")
    ws["G1"] = ArrayFormula("G1:G5", "=_xlfn.BYROW(D1:D5," + lam.format("ISTEXT(_xlpm.r)") + ")")
    ws["H1"] = ArrayFormula("H1:H3", "=_xlfn.BYROW({2;5;20}," + lam.format('COUNTIFS(C:C,">"&_xlpm.r)') + ")")
    ws["A8"] = ArrayFormula("A8:C8", "=_xlfn.BYCOL({1,2,3}," + lam.format("UPPER(_xlpm.r)") + ")")
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert [got[("S", i, 6)] for i in range(1, 6)] == ["1", "2", "4", "8", "16"]
    assert [got[("S", i, 7)] for i in range(1, 6)] == [True] * 5
    assert [got[("S", i, 8)] for i in range(1, 4)] == [3.0, 2.0, 0.0]  # >2: 4, 8, 16; >5: 8, 16
    assert [got[("S", 8, j)] for j in range(1, 4)] == ["1", "2", "3"]
