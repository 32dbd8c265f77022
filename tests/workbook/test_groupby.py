"""GROUPBY (addin/headless/groupby.py; IronCalc 0.9.1 has none). Oracle: Microsoft, "GROUPBY
function" (groups of the distinct row_fields rows, each value column aggregated by the function,
sorted by sort_order, a "Total" row at the bottom for total_depth 1, at the top for -1, none for
0; automatic headers when the first value is text and the second a number), the aggregates
computed in Python from each named function's definition; none comes from this engine.
Books are written by openpyxl as array formulas of the result's shape, the function in the form
Excel saves (``_xleta.SUM``)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate

_REFERENCE = {
    "SUM": lambda xs: float(sum(xs)),
    "COUNT": lambda xs: float(len(xs)),
    "MAX": lambda xs: float(max(xs)),
    "MIN": lambda xs: float(min(xs)),
    "AVERAGE": lambda xs: float(statistics.mean(xs)),
    "MEDIAN": lambda xs: float(statistics.median(xs)),
}


def _order(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float)) else (1, str(v).lower())


def _compute(tmp: Path, keys: list[Any], values: list[int], formula: str, rows: int) -> list[list[Any]]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (k, v) in enumerate(zip(keys, values, strict=True), 1):
        ws.cell(r, 1, k)
        ws.cell(r, 2, v)
    n = len(keys)
    ws["D1"] = ArrayFormula(f"D1:E{rows}", formula.format(n=n))
    wb.save(tmp / "g.xlsx")
    got = recalculate(tmp / "g.xlsx").values
    return [[got.get(("S", r, c)) for c in (4, 5)] for r in range(1, rows + 1)]


def test_groupby_sums_each_group_sorted_with_a_grand_total(tmp_path: Path) -> None:
    keys, values = ["East", "West", "East", "North", "West"], [10, 5, 7, 1, 2]
    got = _compute(tmp_path, keys, values, "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xleta.SUM)", 4)
    assert got == [["East", 17.0], ["North", 1.0], ["West", 7.0], ["Total", 25.0]]
    got = _compute(tmp_path, keys, values, "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xleta.SUM,0,-1,-2)", 4)
    assert got == [["Total", 25.0], ["East", 17.0], ["West", 7.0], ["North", 1.0]]


def test_a_lambda_as_the_function_is_evaluated_by_the_formula_engine(tmp_path: Path) -> None:
    """Microsoft, "GROUPBY function": ``function`` is "an explicit or eta reduced lambda"; a
    LAMBDA of two parameters gets the group's values and all values (as PERCENTOF does)."""
    keys, values = ["a", "b", "a", "b", "b"], [1, 2, 3, 4, 5]
    got = _compute(tmp_path, keys, values, "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xlfn.LAMBDA(_xlpm.x,SUM(_xlpm.x)*2))", 3)
    assert got == [["a", 8.0], ["b", 22.0], ["Total", 30.0]]
    two = "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xlfn.LAMBDA(_xlpm.x,_xlpm.y,SUM(_xlpm.x)/SUM(_xlpm.y)))"
    assert _compute(tmp_path, keys, values, two, 3) == [
        ["a", pytest.approx(4 / 15)],
        ["b", pytest.approx(11 / 15)],
        ["Total", 1.0],
    ]
    text = '=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xlfn.LAMBDA(_xlpm.x,IF(COUNT(_xlpm.x)>2,"many","few")))'
    assert _compute(tmp_path, keys, values, text, 3) == [["a", "few"], ["b", "many"], ["Total", "many"]]


def test_a_function_giving_an_array_or_taking_no_range_is_an_error_in_its_cells(tmp_path: Path) -> None:
    """A LAMBDA whose result is an array is #CALC! (Excel: nested arrays); an eta-reduced
    function that takes no single range (IF) is #VALUE! in every cell (Excel's cached values,
    formulas' test book EXTRA!H100 for PIVOTBY)."""
    keys, values = ["a", "b", "a", "b"], [1, 2, 3, 4]
    got = _compute(tmp_path, keys, values, "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xlfn.LAMBDA(_xlpm.x,_xlpm.x))", 3)
    assert [row[1] for row in got] == [ExcelError("#CALC!")] * 3
    got = _compute(tmp_path, keys, values, "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xleta.IF)", 3)
    assert [row[1] for row in got] == [ExcelError("#VALUE!")] * 3


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "B", "c", 1, 2.5]), st.integers(-9, 9)), min_size=1, max_size=12),
    st.sampled_from(sorted(_REFERENCE)),
    st.sampled_from([0, 1, -1]),
    st.sampled_from([1, -1, 2, -2]),
)
def test_groupby_is_the_function_over_each_group(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, int]], fn: str, depth: int, sort: int
) -> None:
    keys, values = [k for k, _ in rows], [v for _, v in rows]
    groups: dict[Any, list[int]] = {}
    for k, v in rows:
        groups.setdefault(k, []).append(v)
    body = [[k, _REFERENCE[fn](vs)] for k, vs in groups.items()]
    col = abs(sort) - 1
    body.sort(key=lambda r: _order(r[col]), reverse=sort < 0)
    total = [["Total", _REFERENCE[fn](values)]]
    want = (total if depth == -1 else []) + body + (total if depth == 1 else [])
    formula = f"=_xlfn.GROUPBY(A1:A{{n}},B1:B{{n}},_xleta.{fn},0,{depth},{sort})"
    got = _compute(tmp_path_factory.mktemp("g"), keys, values, formula, len(want))
    if sort in (2, -2):  # ties in the value column: Excel's order among equal values is not documented
        assert sorted(map(repr, got)) == sorted(map(repr, [[float(k) if isinstance(k, int) else k, v] for k, v in want]))
        return
    assert got == [[float(k) if isinstance(k, int) else k, pytest.approx(v)] for k, v in want]


def test_a_named_lambda_a_named_range_and_the_books_cells_in_a_lambda(tmp_path: Path) -> None:
    """A defined name holding a LAMBDA is that LAMBDA; a defined name holding a range is a value
    where a function is taken, #VALUE! (Excel writes a function as ``_xleta.NAME``, so a bare
    name is the book's); a LAMBDA reads the book's cells from its formula's sheet; an
    eta-reduced function the engine does not compute itself (CONCAT) is the formula engine's."""
    from openpyxl.workbook.defined_name import DefinedName

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (k, v) in enumerate([("a", 1), ("b", 2), ("a", 3)], 1):
        ws.cell(r, 1, k)
        ws.cell(r, 2, v)
    wb.defined_names["MyAgg"] = DefinedName("MyAgg", attr_text="_xlfn.LAMBDA(_xlpm.x,SUM(_xlpm.x)*10)")
    wb.defined_names["Rate"] = DefinedName("Rate", attr_text="S!$B$1")
    ws["D1"] = ArrayFormula("D1:E3", "=_xlfn.GROUPBY(A1:A3,B1:B3,MyAgg)")
    ws["G1"] = ArrayFormula("G1:H3", "=_xlfn.GROUPBY(A1:A3,B1:B3,Rate)")
    ws["J1"] = ArrayFormula("J1:K3", "=_xlfn.GROUPBY(A1:A3,B1:B3,_xlfn.LAMBDA(_xlpm.v,SUM(_xlpm.v)+$B$1))")
    ws["M1"] = ArrayFormula("M1:N3", "=_xlfn.GROUPBY(A1:A3,B1:B3,_xleta.CONCAT)")
    wb.save(tmp_path / "n.xlsx")
    got = recalculate(tmp_path / "n.xlsx").values
    column = lambda c: [got.get(("S", r, c)) for r in (1, 2, 3)]  # noqa: E731
    assert column(4) == ["a", "b", "Total"] and column(5) == [40.0, 20.0, 60.0]
    assert column(7) == [ExcelError("#VALUE!")] * 3
    assert column(11) == [5.0, 3.0, 7.0]
    assert column(14) == ["13", "2", "123"]
