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


def test_a_lambda_as_the_function_is_an_error_with_the_reason(tmp_path: Path) -> None:
    got = _compute(tmp_path, ["a", "b"], [1, 2], "=_xlfn.GROUPBY(A1:A{n},B1:B{n},_xlfn.LAMBDA(_xlpm.x,SUM(_xlpm.x)))", 1)
    assert isinstance(got[0][0], ExcelError)


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
