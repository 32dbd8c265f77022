"""MUNIT, TAKE, DROP, WRAPROWS given an array at a one-value parameter in an array formula
(addin/headless/lifting.py: SCALAR_PARAMS and ARRAY_VALUED).

Oracle: Excel's rule for a function whose parameter takes one value and is given an array
(Microsoft, "Dynamic array formulas and spilled array behavior": the function is evaluated for
each element, "lifting"); for a function whose own result is an array, each element of the
lifted result is that array's first value, as Excel's cached values in formulas' test book show
(MATH & TRIG!AH47 ``{=MUNIT(C47:Q47)}``, LOOKUP!AE123 ``{=TAKE(…,I123,{1;2;1})}``, LOOKUP!AE16
``{=DROP(…,I16,{1;2;1})}``, LOOKUP!O155 and O156 WRAPROWS). TAKE and DROP themselves follow
Microsoft's "TAKE function" and "DROP function" (positive counts from the start, negative from
the end), written with Python slices below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate

_GRID = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
_CONST = "{1,2,3;4,5,6;7,8,9}"


def _book(tmp: Path, cells: dict[str, Any], arrays: dict[str, tuple[str, str]]) -> dict[tuple[str, int, int], Any]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in cells.items():
        ws[ref] = v
    for ref, (span, text) in arrays.items():
        ws[ref] = ArrayFormula(span, text)
    wb.save(tmp / "b.xlsx")
    return recalculate(tmp / "b.xlsx").values


def _take(r: int, c: int) -> int:
    rows = _GRID[:r] if r > 0 else _GRID[r:]
    first = rows[0]
    return (first[:c] if c > 0 else first[c:])[0]


def _drop(r: int, c: int) -> int:
    rows = _GRID[r:] if r > 0 else _GRID[:r]
    first = rows[0]
    return (first[c:] if c > 0 else first[:c])[0]


_COUNT = st.sampled_from([-3, -2, -1, 1, 2, 3])
_DROPPED = st.sampled_from([-2, -1, 1, 2])


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(_COUNT, _COUNT, _DROPPED, _DROPPED), min_size=1, max_size=4))
def test_take_and_drop_over_arrays_of_counts_give_each_first_value(
    tmp_path_factory: pytest.TempPathFactory, counts: list[tuple[int, int, int, int]]
) -> None:
    """Rows and columns from a column of cells: ``{=TAKE(K,A1:A<n>,B1:B<n>)}`` and DROP alike."""
    tmp = tmp_path_factory.mktemp("take")
    n = len(counts)
    cells: dict[str, Any] = {}
    for i, (r, c, dr, dc) in enumerate(counts, 1):
        cells |= {f"A{i}": r, f"B{i}": c, f"C{i}": dr, f"D{i}": dc}
    got = _book(
        tmp,
        cells,
        {
            "F1": (f"F1:F{n}", f"=_xlfn.TAKE({_CONST},A1:A{n},B1:B{n})"),
            "G1": (f"G1:G{n}", f"=_xlfn.DROP({_CONST},C1:C{n},D1:D{n})"),
        },
    )
    assert [got[("S", i, 6)] for i in range(1, n + 1)] == [float(_take(r, c)) for r, c, _, _ in counts]
    assert [got[("S", i, 7)] for i in range(1, n + 1)] == [float(_drop(r, c)) for _, _, r, c in counts]


def test_excels_cached_values(tmp_path: Path) -> None:
    """The corpus cells rebuilt: MUNIT over a row of mixed values, TAKE/DROP with "1.1" rows and
    {1;2;1} columns, WRAPROWS over an array and a row of wrap counts."""
    row = [0, 2, 2.3, -0.2, -2, None, "ciao", True]
    wraps = [2.1, 3, 4, 4.1, None, "b", True]
    cells: dict[str, Any] = {f"{'ABCDEFGH'[j]}1": v for j, v in enumerate(row)}
    cells |= {"A2": "1.1"} | {f"{'ABCDEFG'[j]}3": v for j, v in enumerate(wraps)}
    got = _book(
        tmp_path,
        cells,
        {
            "A5": ("A5:H5", "=_xlfn.MUNIT(A1:H1)"),
            "A6": ("A6:A8", f"=_xlfn.TAKE({_CONST},A2,{{1;2;1}})"),
            "B6": ("B6:C8", f"=_xlfn.TAKE({_CONST},A2,{{1;2;1}})"),
            "D6": ("D6:D8", f"=_xlfn.DROP({_CONST},A2,{{1;2;1}})"),
            "E6": ("E6:F8", f"=_xlfn.DROP({_CONST},A2,{{1;2;1}})"),
            "A10": ("A10:B10", "=_xlfn.WRAPROWS({1,2,3,4,5,6,7,8,9},{1,2},6)"),
            "A11": ("A11:G11", "=_xlfn.WRAPROWS({1,2,3,4,5,6,7,8,9},A3:G3,6)"),
        },
    )
    v = ExcelError("#VALUE!")
    assert [got[("S", 5, c)] for c in range(1, 9)] == [v, 1.0, 1.0, v, v, v, v, 1.0]
    assert [[got[("S", r, c)] for c in range(1, 4)] for r in (6, 7, 8)] == [[1.0] * 3] * 3
    assert [[got[("S", r, c)] for c in range(4, 7)] for r in (6, 7, 8)] == [[5.0] * 3, [6.0] * 3, [5.0] * 3]
    assert [got[("S", 10, 1)], got[("S", 10, 2)]] == [1.0, 1.0]
    # the blank's (E11) #NUM! is not reproduced (IronCalc's WRAPROWS of 0 is #VALUE!): left out here
    assert [got[("S", 11, c)] for c in (1, 2, 3, 4, 6, 7)] == [1.0, 1.0, 1.0, 1.0, v, 1.0]
