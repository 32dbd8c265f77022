"""INDEX given arrays of row or column numbers in an array formula (addin/headless/lifting.py).

Microsoft, "INDEX function": row_num and column_num each select one row or column, so given an
array in an array formula INDEX is evaluated for each element ("Guidelines and examples of
array formulas"); a table of several rows and columns given only row_num returns its whole row,
of which an element of an array is the first value. Excel's cached values in formulas' test
book: ``{=INDEX({2,3;4,5},{1,2})}`` is 2 and 4 (LOOKUP!AO52:AP53), ``{=INDEX({2,3;4,5},{1})}``
2 (AN54), ``{=INDEX(C52:H54,E53:E54,1)}`` the first column's cells (AH52:AH53). IronCalc 0.9.1
gave #VALUE! or #REF!. The property compares with that rule in Python: the element (r, c) of the
table, #REF! outside it; cell values compared exactly (they are copied, not computed).
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate

REF = ExcelError("#REF!")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    height=st.integers(2, 4),
    width=st.integers(2, 4),
    rows=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    col=st.one_of(st.none(), st.integers(1, 4)),
    constant=st.booleans(),
)
def test_index_over_an_array_of_rows_is_each_rows_element(
    tmp_path: Path, height: int, width: int, rows: list[int], col: int | None, constant: bool
) -> None:
    table = [[float(10 * r + c) for c in range(1, width + 1)] for r in range(1, height + 1)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, line in enumerate(table, 1):
        for c, v in enumerate(line, 1):
            ws.cell(r, c, v)
    for c, n in enumerate(rows, 1):
        ws.cell(10, c, n)
    if constant:
        arr = "{" + ";".join(",".join(repr(v) for v in line) for line in table) + "}"
    else:
        arr = f"A1:{get_column_letter(width)}{height}"
    picks = f"A10:{get_column_letter(len(rows))}10"
    tail = "" if col is None else f",{col}"
    end = get_column_letter(len(rows))
    ws["A12"] = ArrayFormula(f"A12:{end}12", f"=INDEX({arr},{picks}{tail})")
    wb.save(tmp_path / "i.xlsx")
    res = recalculate(tmp_path / "i.xlsx")
    c = 1 if col is None else col
    want = [table[r - 1][c - 1] if r <= height and c <= width else REF for r in rows]
    assert [res.cell("S", 12, k) for k in range(1, len(rows) + 1)] == want


def test_an_openpyxl_book_through_recalc_and_validate(tmp_path: Path) -> None:
    """``clearquote recalc`` of an openpyxl book stores each element of INDEX over arrays of rows
    (Excel's cached LOOKUP!AO52:AP53 and AK53:AK54 rebuilt), openpyxl reads them back, and
    ``clearquote validate`` of the output agrees on every formula cell."""
    from addin.cli import main

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["E1"], ws["E2"], ws["E3"] = 0, 2, 1
    ws["A5"] = ArrayFormula("A5:B6", "=INDEX({2,3;4,5},{1,2})")
    ws["D5"] = ArrayFormula("D5:D7", "=INDEX({2,3;4,5},E1:E3)")
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [[back.cell(r, c).value for c in (1, 2)] for r in (5, 6)] == [[2, 4], [2, 4]]
    assert [back.cell(r, 4).value for r in (6, 7)] == [4, 2]  # rows 2 and 1: their first values
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
