"""Conditional aggregates with several ranges over whole sheets whose used cells reach the far
corner (addin/headless/extent.py, ``_split_conditional``): COUNTIFS with several pairs, SUMIF
with a sum range, SUMIFS, AVERAGEIF and AVERAGEIFS are the functions over the cells that exist
and the blanks (they were #NUM!: the cut to the used rows cut nothing).

Oracle: Microsoft's reference, "COUNTIFS function" (the k-th cell of each range tested
together; a criterion compares numbers only with numbers, ``""`` matches a blank cell, ``"<>3"``
any cell but 3), "SUMIF function" (sum_range taken from its top-left cell in the shape of
range), "SUMIFS function", "AVERAGEIF function" and "AVERAGEIFS function" (blank and text cells
of the average range ignored; no cell averaged: #DIV/0!), computed in Python over the cells the
book holds plus the blank positions counted analytically; none comes from this engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError, recalculate

ROWS, COLS = 1_048_576, 16_384
#: Range 1 is D!A:XFC, range 2 is D!B:XFD: position (r, j) reads (r, j) and (r, j + 1).
POSITIONS = ROWS * (COLS - 1)


def _match(criterion: str, v: Any) -> bool:
    if criterion == "":
        return v is None
    if criterion == "<>3":
        return not (isinstance(v, int) and v == 3)
    if not isinstance(v, int):
        return False  # a blank or text is never compared with a number
    return v > 0 if criterion == ">0" else v < 5


def _reference(cells: dict[tuple[int, int], Any]) -> list[Any]:
    positions = {(r, c) for r, c in cells if c < COLS} | {(r, c - 1) for r, c in cells if c > 1}
    pairs = [(cells.get((r, j)), cells.get((r, j + 1))) for r, j in positions]
    blank_positions = POSITIONS - len(positions)

    def count(c1: str, c2: str) -> float:
        hits = sum(1 for a, b in pairs if _match(c1, a) and _match(c2, b))
        return float(hits + (blank_positions if _match(c1, None) and _match(c2, None) else 0))

    chosen = [b for a, b in pairs if _match(">0", a)]
    nums = [b for b in chosen if isinstance(b, int)]
    both = [b for a, b in pairs if _match(">0", a) and _match("<>3", a) and isinstance(b, int)]
    average: Any = sum(nums) / len(nums) if nums else ExcelError("#DIV/0!")
    return [
        count(">0", "<5"),
        count("", ""),
        count("<>3", ">0"),
        float(sum(nums)),
        float(sum(both)),
        average,
        average,
    ]


FORMULAS = [
    '=COUNTIFS(D!A:XFC,">0",D!B:XFD,"<5")',
    '=COUNTIFS(D!A1:XFC1048576,"",D!B1:XFD1048576,"")',
    '=COUNTIFS(D!A:XFC,"<>3",D!B:XFD,">0")',
    '=SUMIF(D!A:XFC,">0",D!B:XFD)',
    '=SUMIFS(D!B:XFD,D!A:XFC,">0",D!A:XFC,"<>3")',
    '=AVERAGEIF(D!A:XFC,">0",D!B1)',
    '=AVERAGEIFS(D!B:XFD,D!A:XFC,">0")',
]


def _compute(tmp: Path, cells: dict[tuple[int, int], Any]) -> list[Any]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "D"
    for (r, c), v in cells.items():
        ws.cell(r, c).value = v
    out = wb.create_sheet("F")
    for i, f in enumerate(FORMULAS, 1):
        out.cell(i, 1).value = f
    wb.save(tmp / "w.xlsx")
    got = recalculate(tmp / "w.xlsx").values
    return [got[("F", i, 1)] for i in range(1, len(FORMULAS) + 1)]


def _check(got: list[Any], want: list[Any]) -> None:
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if isinstance(w, ExcelError):
            assert isinstance(g, ExcelError) and g.code == w.code, FORMULAS[i]
        else:
            assert g == pytest.approx(w, rel=1e-12), FORMULAS[i]


def test_several_ranges_over_a_whole_used_sheet(tmp_path: Path) -> None:
    """A block A1:B3 and a value at XFD1048576: each formula against Microsoft's rule by hand."""
    cells: dict[tuple[int, int], Any] = {(1, 1): 1, (2, 1): 2, (3, 1): 3, (1, 2): 10, (2, 2): 4, (3, 2): "t"}
    cells[(ROWS, COLS)] = 3
    got = _compute(tmp_path, cells)
    # positions: A1/B1 (1,10), A2/B2 (2,4), A3/B3 (3,"t"), B1/C1 (10,-), B2/C2 (4,-), B3/C3 ("t",-), XFC/XFD last row (-,3)
    assert got[0] == 1.0  # only (2, 4): A>0 and B<5
    assert got[3] == 14.0 and got[4] == 14.0  # 10 + 4 ("t" adds nothing)
    assert got[5] == got[6] == 7.0
    _check(got, _reference(cells))


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.integers(1, 6), st.integers(1, 5)),
        st.one_of(st.integers(-3, 8), st.just("t")),
        max_size=14,
    ),
    st.one_of(st.integers(-3, 8), st.just("t")),
)
def test_conditional_aggregates_over_whole_sheets_are_excels_rule(
    tmp_path_factory: pytest.TempPathFactory, block: dict[tuple[int, int], Any], corner: Any
) -> None:
    """Any sparse cells near A1 and any value at XFD1048576 (so nothing is cut to the used rows):
    the seven calls equal Microsoft's rule computed over the cells and the blank positions."""
    cells = dict(block)
    cells[(ROWS, COLS)] = corner
    _check(_compute(tmp_path_factory.mktemp("w"), cells), _reference(cells))
