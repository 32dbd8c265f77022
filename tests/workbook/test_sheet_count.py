"""What counts a book's sheets never sees the engine's own (addin/headless/sheetcount.py), and
FORMULATEXT of a defined name (addin/headless/names.py: formulatext_of_names).

Oracles, Microsoft's function reference:

* "SHEETS function": "If reference is omitted, SHEETS returns the number of sheets in the
  workbook that contains the function"; it counts "all sheets (visible, hidden, or very hidden)";
  of a 3-D reference, "the number of sheets in a reference" (``Sheet1:Sheet3!A1`` spans three);
* "INFO function": ``"numfile"`` is the "number of active worksheets in the open workbooks" (one
  open book here: its worksheets);
* "SHEET function": the sheet number of the sheet named (the book's order);
* "FORMULATEXT function": "if the Reference argument is to a cell that does not contain a
  formula, FORMULATEXT returns the #N/A error value"; a name of a range is that range.

The books below hold a constant defined name (``Rate = 0.07``), which makes the engine add its
scratch sheet: every count must still be the book's three sheets.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.workbook.defined_name import DefinedName

from addin.headless import ExcelError, recalculate


def _book(tmp: Path, formulas: list[str]) -> list[object]:
    """``formulas`` in S!B1.. of a book of sheets S, T, U (U hidden) with ``Rate = 0.07`` and
    ``Cell = S!$A$9`` (A9 holds ``=1+1``); their values in order."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    wb.create_sheet("T")
    wb.create_sheet("U").sheet_state = "hidden"
    wb.defined_names["Rate"] = DefinedName("Rate", attr_text="0.07")
    wb.defined_names["Cell"] = DefinedName("Cell", attr_text="S!$A$9")
    ws["A9"] = "=1+1"
    ws["A10"] = "numfile"
    for i, f in enumerate(formulas, 1):
        ws.cell(i, 2).value = f
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    return [got[("S", i, 2)] for i in range(1, len(formulas) + 1)]


def test_sheet_counts_are_the_books_whatever_the_engine_adds(tmp_path: Path) -> None:
    """Three sheets (one hidden, which SHEETS counts): SHEETS() 3, INFO("numfile") 3 (also its
    type read from a cell, and in another case), SHEETS of the 3-D reference S:U 3 and of T:U 2,
    SHEET of each sheet its place; Rate*2 shows the scratch sheet is there."""
    got = _book(
        tmp_path,
        [
            "=SHEETS()",
            '=INFO("numfile")',
            "=INFO(A10)",
            '=INFO("NUMFILE")',
            "=SHEETS(S:U!A1)",
            "=SHEETS(T:U!A1:B2)",
            '=SHEET("U")',
            "=SHEET()",
            "=Rate*2",
        ],
    )
    assert got == [3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 3.0, 1.0, 0.14]


def test_formulatext_of_a_name(tmp_path: Path) -> None:
    """FORMULATEXT of a name of a constant is #N/A (no cell holding a formula); of a name of a
    cell, that cell's formula."""
    got = _book(tmp_path, ["=FORMULATEXT(Rate)", "=FORMULATEXT(Cell)", "=ISNA(FORMULATEXT(Rate))"])
    assert isinstance(got[0], ExcelError) and got[0].code == "#N/A"
    assert got[1:] == ["=1+1", True]
