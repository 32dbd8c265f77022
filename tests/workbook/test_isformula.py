"""ISFORMULA of a range in an array formula (addin/headless/isformula.py).

Oracle: Microsoft, "ISFORMULA function" (TRUE where the referenced cell contains a formula),
applied to each cell of a range in an array formula, and Excel's cached values in formulas'
test book (EXTRA!BG76:BH94: the cells of another formula's spill count; INFORMATION!AH10:AW10:
#N/A beyond the range's 8 cells in a 16-cell array formula). The rule is written plainly in
Python (the set of cells given formulas) and compared with the engine on books written by
openpyxl.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import recalculate

_KIND = st.sampled_from(["value", "formula", "blank", "text"])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(_KIND, min_size=3, max_size=3), min_size=1, max_size=4))
def test_each_cell_of_the_range_is_whether_it_holds_a_formula(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[list[str]]
) -> None:
    tmp = tmp_path_factory.mktemp("isformula")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(kinds, 1):
        for c, kind in enumerate(row, 1):
            ws.cell(r, c).value = {"value": 1.5, "formula": f"={r}+{c}", "blank": None, "text": "=x"}[kind]
            if kind == "text":
                ws.cell(r, c).data_type = "s"  # the text "=x", not a formula
    h = len(kinds)
    ws["F1"] = ArrayFormula(f"F1:H{h}", f"=_xlfn.ISFORMULA(A1:C{h})")
    ws["J1"] = ArrayFormula("J1:J2", "=_xlfn.SEQUENCE(2)")  # a second array formula: its cells count
    ws["L1"] = ArrayFormula("L1:L2", "=_xlfn.ISFORMULA(J1:J2)")
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    want = [[kind == "formula" for kind in row] for row in kinds]
    assert [[got[("S", r, c)] for c in (6, 7, 8)] for r in range(1, h + 1)] == want
    assert [got[("S", 1, 12)], got[("S", 2, 12)]] == [True, True]


def test_recalc_stores_the_answers_and_na_beyond_the_range(tmp_path: Path) -> None:
    """INFORMATION!AH10's shape: a range of 2 cells in an array formula over 3 cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["B1"] = 1, "=A1*2"
    ws["D1"] = ArrayFormula("D1:F1", "=_xlfn.ISFORMULA(A1:B1)")
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["D1"].value, out["E1"].value, out["F1"].value] == [False, True, "#N/A"]
