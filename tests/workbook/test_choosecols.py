"""CHOOSECOLS/CHOOSEROWS given arrays of column or row numbers (addin/headless/choosecols.py).

Oracle: Microsoft, "CHOOSECOLS function" and "CHOOSEROWS function" (the columns or rows named,
a negative number counting from the end, #VALUE! for 0 or beyond the array), and Excel's cached
values in formulas' test book (sheet LOOKUP, row 6): a range or array constant as a number
argument is its elements, row by row, each truncated. The rule is written plainly in Python
below and compared with the engine on books written by openpyxl.
"""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import recalculate

_DATA = [[10 * r + c for c in range(1, 5)] for r in range(1, 4)]  # 3 rows x 4 columns at A1:D3
_NUMBER = st.one_of(st.integers(-4, 4).filter(bool).map(float), st.sampled_from([1.5, -2.7, 3.9]))


def _index(k: float, n: int) -> int:
    """The 0-based position Microsoft's rule names for number ``k`` of ``n`` (k valid)."""
    t = math.trunc(k)
    return t - 1 if t > 0 else n + t


@settings(max_examples=15, deadline=None)
@given(st.lists(_NUMBER, min_size=2, max_size=4), st.lists(_NUMBER, min_size=1, max_size=3))
def test_arrays_of_numbers_name_each_column_and_row(
    tmp_path_factory: pytest.TempPathFactory, cells: list[float], consts: list[float]
) -> None:
    """``CHOOSECOLS(A1:D3,F1:F<n>,{…})`` and ``CHOOSEROWS(A1:D3,{…})``: the numbers of the range
    (a column of cells) then of the constant, one column or row each, in that order."""
    tmp = tmp_path_factory.mktemp("choose")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(_DATA, 1):
        for c, v in enumerate(row, 1):
            ws.cell(r, c).value = v
    for r, v in enumerate(cells, 1):
        ws.cell(r, 6).value = v
    const = "{" + ",".join(repr(v) for v in consts) + "}"
    rows_const = "{" + ";".join(repr(v) for v in consts if abs(math.trunc(v)) <= 3) + "}"
    cols = [v for v in cells + consts]
    ok = all(1 <= abs(math.trunc(v)) <= 4 for v in cols)
    width = len(cols)
    top = 10
    ws.cell(top, 1).value = ArrayFormula(
        f"A{top}:{openpyxl.utils.get_column_letter(width)}{top + 2}", f"=_xlfn.CHOOSECOLS(A1:D3,F1:F{len(cells)},{const})"
    )
    picked_rows = [v for v in consts if abs(math.trunc(v)) <= 3]
    if picked_rows:
        ws.cell(20, 1).value = ArrayFormula(f"A20:D{19 + len(picked_rows)}", f"=_xlfn.CHOOSEROWS(A1:D3,{rows_const})")
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    if ok:
        want = [[_DATA[i][_index(k, 4)] for k in cols] for i in range(3)]
        assert [[got[("S", top + i, 1 + j)] for j in range(width)] for i in range(3)] == want
    if picked_rows:
        want_rows = [_DATA[_index(k, 3)] for k in picked_rows]
        assert [[got[("S", 20 + i, 1 + j)] for j in range(4)] for i in range(len(picked_rows))] == want_rows


def test_the_corpus_row_through_recalc(tmp_path: Path) -> None:
    """LOOKUP!AI6, AK6 and AH6: C6 -3.9, D6 1.1, E6 2.9 over {1,2,3;4,5,6;7,8,9}."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["C6"], ws["D6"], ws["E6"] = -3.9, 1.1, 2.9
    ws["A10"] = ArrayFormula("A10:B12", "=_xlfn.CHOOSECOLS({1,2,3;4,5,6;7,8,9},C6:D6)")
    ws["D10"] = ArrayFormula("D10:G12", "=_xlfn.CHOOSECOLS({1,2,3;4,5,6;7,8,9},C6:D6,D6:E6)")
    ws["I10"] = "=_xlfn.CHOOSECOLS({1,2,3;4,5,6;7,8,9},D6:E7)"  # a 2-D range: #VALUE! (LOOKUP!AH6)
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [[out.cell(r, c).value for c in (1, 2)] for r in (10, 11, 12)] == [[1, 1], [4, 4], [7, 7]]
    assert [[out.cell(r, c).value for c in (4, 5, 6, 7)] for r in (10, 11, 12)] == [[1, 1, 1, 2], [4, 4, 4, 5], [7, 7, 7, 8]]
    assert out["I10"].value == "#VALUE!"
