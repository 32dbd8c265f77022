"""Eta-reduced functions and LAMBDA parameters spelled like defined names (addin/headless/eta.py).

Oracle: Microsoft, "BYROW function", "BYCOL function", "MAP function", "SCAN function",
"REDUCE function", "MAKEARRAY function" (support.microsoft.com): each applies its LAMBDA to
each row / column / element / accumulator and value / row and column index, and the LAMBDA
"can be ... an eta-reduced lambda" (a function's name, stored ``_xleta.NAME``), which is the
function called with the LAMBDA's parameters. "LAMBDA function": a parameter is any valid
name, local to the LAMBDA. The rule is written below plainly in Python (row sums, running
sums, products of indexes) and compared with the engine on books written by openpyxl.
"""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import recalculate
from addin.headless.eta import eta_expanded

_CELL = st.integers(-50, 50).map(float)


def _book(tmp: Path, grid: list[list[float]], formulas: dict[str, tuple[str, str]], names: dict[str, str] | None = None) -> Path:
    """``grid`` at A1; each array formula (anchor: (ref, text)) as a dynamic array (``cm="1"``, as
    Excel 365 saves BYROW and the other helpers); defined names as given."""
    from openpyxl.workbook.defined_name import DefinedName

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(grid, 1):
        for c, v in enumerate(row, 1):
            ws.cell(r, c).value = v
    for anchor, (ref, text) in formulas.items():
        ws[anchor] = ArrayFormula(ref, text)
    for name, target in (names or {}).items():
        wb.defined_names[name] = DefinedName(name, attr_text=target)
    wb.save(tmp / "raw.xlsx")
    out = tmp / "book.xlsx"
    with zipfile.ZipFile(tmp / "raw.xlsx") as a, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            body = a.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                for anchor in formulas:
                    body = body.replace(f'<c r="{anchor}"'.encode(), f'<c r="{anchor}" cm="1"'.encode())
            b.writestr(info, body)
    return out


def _block(values: dict[tuple[str, int, int], object], top: int, left: int, h: int, w: int) -> list[list[object]]:
    return [[values[("S", top + i, left + j)] for j in range(w)] for i in range(h)]


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3).flatmap(lambda w: st.lists(st.lists(_CELL, min_size=w, max_size=w), min_size=1, max_size=3)))
def test_eta_reduced_functions_are_the_lambda_of_the_helpers_parameters(
    tmp_path_factory: pytest.TempPathFactory, grid: list[list[float]]
) -> None:
    """BYROW(g,SUM) the row sums, BYCOL(g,MAX) the column maxima, SCAN(0,g,SUM) the running sums
    row by row, REDUCE(1,g,PRODUCT) the product, MAKEARRAY(h,w,PRODUCT) i*j, MAP(g,g,SUM) 2g."""
    h, w = len(grid), len(grid[0])
    rng = f"$A$1:${'ABC'[w - 1]}${h}"
    col = {"BYROW": "F", "BYCOL": "H", "SCAN": "L", "REDUCE": "P", "MAKEARRAY": "R", "MAP": "V"}
    formulas = {
        "F1": (f"F1:F{h}", f"=_xlfn.BYROW({rng},_xleta.SUM)"),
        "H1": (f"H1:{'HIJ'[w - 1]}1", f"=_xlfn.BYCOL({rng},_xleta.MAX)"),
        "L1": (f"L1:{'LMN'[w - 1]}{h}", f"=_xlfn.SCAN(0,{rng},_xleta.SUM)"),
        "P1": ("P1", f"=_xlfn.REDUCE(1,{rng},_xleta.PRODUCT)"),
        "R1": (f"R1:{'RST'[w - 1]}{h}", f"=_xlfn.MAKEARRAY({h},{w},_xleta.PRODUCT)"),
        "V1": (f"V1:{'VWX'[w - 1]}{h}", f"=_xlfn.MAP({rng},{rng},_xleta.SUM)"),
    }
    got = recalculate(_book(tmp_path_factory.mktemp("eta"), grid, formulas)).values
    num = openpyxl.utils.column_index_from_string
    assert _block(got, 1, num(col["BYROW"]), h, 1) == [[sum(row)] for row in grid]
    assert _block(got, 1, num(col["BYCOL"]), 1, w) == [[max(grid[i][j] for i in range(h)) for j in range(w)]]
    running = list(itertools.accumulate(v for row in grid for v in row))
    assert _block(got, 1, num(col["SCAN"]), h, w) == [running[i * w : (i + 1) * w] for i in range(h)]
    product = 1.0
    for v in (v for row in grid for v in row):
        product *= v
    assert got[("S", 1, num(col["REDUCE"]))] == product
    assert _block(got, 1, num(col["MAKEARRAY"]), h, w) == [[float(i * j) for j in range(1, w + 1)] for i in range(1, h + 1)]
    assert _block(got, 1, num(col["MAP"]), h, w) == [[2 * v for v in row] for row in grid]


def test_the_expansion_is_the_helpers_lambda_and_leaves_groupby_alone() -> None:
    assert eta_expanded("=BYROW(A1:B2,_xleta.SUM)") == "=BYROW(A1:B2,LAMBDA(_cqeta1,SUM(_cqeta1)))"
    assert eta_expanded("=REDUCE(0,A1:B2,_xleta.MAX)") == "=REDUCE(0,A1:B2,LAMBDA(_cqeta1,_cqeta2,MAX(_cqeta1,_cqeta2)))"
    three = "_cqeta1,_cqeta2,_cqeta3"  # MAP: one parameter per array
    assert eta_expanded("=MAP(A1:A2,B1:B2,C1:C2,_xleta.SUM)") == f"=MAP(A1:A2,B1:B2,C1:C2,LAMBDA({three},SUM({three})))"
    assert eta_expanded("=GROUPBY(A1:A3,B1:B3,_xleta.SUM)") == "=GROUPBY(A1:A3,B1:B3,_xleta.SUM)"  # the host function's
    # a name the formula already uses is never drawn
    assert "_cqeta2" in eta_expanded("=BYROW(_cqeta1,_xleta.SUM)")


def test_lambda_parameters_spelled_like_defined_names_shadow_them(tmp_path: Path) -> None:
    """Formulas' test book defines ``a`` and ``b`` (ranges on another sheet) and writes
    ``SCAN(H18,{1;3},LAMBDA(a,b,a+b^2))`` (LOGICAL!X18, cached 2 and 11 for H18 = 1): the
    parameters are the LAMBDA's own. IronCalc 0.9.1 could not parse it (#NAME?)."""
    formulas = {
        "F1": ("F1:F2", "=_xlfn.SCAN(A1,{1;3},_xlfn.LAMBDA(_xlpm.a,_xlpm.b,_xlpm.a+_xlpm.b^2))"),
        "H1": ("H1", "=_xlfn.LET(_xlpm.a,5,_xlpm.a*2)"),
        "J1": ("J1", "=SUM(a)"),  # the name itself, outside any LAMBDA
    }
    got = recalculate(_book(tmp_path, [[1.0, 7.0]], formulas, {"a": "S!$B$1", "b": "S!$B$1"})).values
    assert [got[("S", 1, 6)], got[("S", 2, 6)]] == [2.0, 11.0]
    assert got[("S", 1, 8)] == 10.0
    assert got[("S", 1, 10)] == 7.0


def test_recalc_of_an_openpyxl_book_stores_each_rows_sum(tmp_path: Path) -> None:
    book = _book(tmp_path, [[1.0, 2.0], [3.0, 4.0]], {"D1": ("D1:D2", "=_xlfn.BYROW(A1:B2,_xleta.SUM)")})
    assert main(["recalc", "-q", str(book), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["D1"].value, out["D2"].value] == [3, 7]
