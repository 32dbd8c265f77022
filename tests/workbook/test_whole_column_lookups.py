"""MAXIFS/MINIFS and exact-match lookups over whole columns are cut to the used rows, exactly
(addin/headless/extent.py ``clip``).

Oracle: each function's definition in Microsoft's reference, written in Python over the cells
of the book (MATCH with match_type 0: "the first value that is exactly equal to lookup_value";
VLOOKUP with range_lookup FALSE and XLOOKUP's default exact match: the row of that value;
MAXIFS/MINIFS: the largest/smallest of the cells whose criteria cells match, 0 when none does).
Text matches case-insensitively ("MATCH does not distinguish between uppercase and lowercase").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError, recalculate
from addin.headless.extent import clip

NA = ExcelError("#N/A")
#: Keys with 0: IronCalc's XMATCH/XLOOKUP/VLOOKUP matched a blank cell for 0 (addin/headless/
#: zero_lookups.py; XMATCH searching last to first is not rewritten, so it is not asked for 0)
KEYS = st.one_of(st.sampled_from([-3.0, -1.0, 0.0, 1.0, 2.0, 2.5]), st.sampled_from(["a", "B", "cc"]))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return type(a) is type(b) and a == b


def _criterion(x: Any) -> str:
    return f'"{x}"' if isinstance(x, str) else repr(x)


@settings(max_examples=12, deadline=None)
@given(
    st.dictionaries(st.integers(1, 40), st.tuples(KEYS, st.integers(-50, 50).map(float)), min_size=1, max_size=15),
    st.lists(KEYS, min_size=3, max_size=3),
)
def test_whole_column_lookups_and_maxifs_are_the_functions_over_the_cells_that_exist(
    tmp_path_factory: pytest.TempPathFactory, rows: dict[int, tuple[Any, float]], wanted: list[Any]
) -> None:
    tmp = tmp_path_factory.mktemp("l")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (key, value) in rows.items():
        ws.cell(r, 1).value = key
        ws.cell(r, 2).value = value
    formulas: list[tuple[str, Any]] = []
    order = sorted(rows)
    for x in wanted:
        lit = _criterion(x)
        hits = [r for r in order if _same(rows[r][0], x)]
        matched = [rows[r][1] for r in hits]
        formulas += [
            (f"=MATCH({lit},A:A,0)", float(hits[0]) if hits else NA),
            (f"=XMATCH({lit},$A:$A)", float(hits[0]) if hits else NA),
            *([] if x == 0 else [(f"=XMATCH({lit},$A:$A,0,-1)", float(hits[-1]) if hits else NA)]),
            (f"=VLOOKUP({lit},A:B,2,FALSE)", rows[hits[0]][1] if hits else NA),
            (f"=XLOOKUP({lit},A:A,B:B)", rows[hits[0]][1] if hits else NA),
            (f'=XLOOKUP({lit},A:A,B:B,"none")', rows[hits[0]][1] if hits else "none"),
            (f"=MAXIFS(B:B,A:A,{lit})", max(matched) if matched else 0.0),
            (f"=MINIFS(B:B,A:A,{lit})", min(matched) if matched else 0.0),
        ]
    for k, (f, _) in enumerate(formulas, 1):
        ws.cell(k, 4).value = f
    wb.save(tmp / "l.xlsx")
    got = recalculate(tmp / "l.xlsx").values
    for k, (f, want) in enumerate(formulas, 1):
        assert got[("S", k, 4)] == want, f


def test_the_cut_reads_only_the_used_rows_and_keeps_inexact_lookups_whole() -> None:
    """The rewrite itself: exact lookups and MAXIFS/MINIFS read rows 1 to the last used row;
    approximate lookups, binary searches, wildcards and arrays of lookup values stay whole."""
    used = lambda sheet: (10, 3)  # noqa: E731
    assert clip('=MAXIFS(A:A,B:B,">1")', used) == '=MAXIFS($A$1:$A$10,$B$1:$B$10,">1")'
    cut = clip("=VLOOKUP(B1,A:C,2,FALSE)", used)
    assert "$A$1:$C$10" in cut and "LEN(" in cut  # the empty lookup value keeps the whole range
    for kept in ("=MATCH(1,A:A,1)", "=MATCH(1,A:A)", "=XLOOKUP(B1,A:A,C:C,,2)", "=XMATCH(B1,A:A,0,2)",
                 "=MATCH(B1:B3,A:A,0)", "=VLOOKUP(B1,A:C,2)", "=VLOOKUP(B1,A:C,2,TRUE)"):  # fmt: skip
        assert clip(kept, used) == kept


def test_an_empty_lookup_value_keeps_the_whole_column(tmp_path: Path) -> None:
    """A blank lookup value may match the blank cells below the data; those formulas read the
    whole column as written, so the answer is the engine's over every row, cut or not."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A2"] = 1.0, 2.0
    ws["D1"] = "=MATCH(C1,A:A,0)"
    ws["D2"] = "=MATCH(C1,A1:A1048576,0)"
    wb.save(tmp_path / "e.xlsx")
    got = recalculate(tmp_path / "e.xlsx").values
    assert got[("S", 1, 4)] == got[("S", 2, 4)]


def test_an_exact_lookup_of_zero_skips_blank_cells(tmp_path: Path) -> None:
    """An exact match looks for a value equal to the lookup value; a blank cell holds none
    (Microsoft, "XMATCH function", "VLOOKUP function"), so 0 is not found among blanks: #N/A.
    IronCalc alone: XMATCH 1, VLOOKUP 0 (its MATCH is right). Found by the property above."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A5"] = 1.0
    ws["D1"], ws["D2"], ws["D3"] = "=XMATCH(0,A1:A5)", "=VLOOKUP(0,A1:A5,1,FALSE)", "=XLOOKUP(0,A1:A5,A1:A5)"
    wb.save(tmp_path / "z.xlsx")
    got = recalculate(tmp_path / "z.xlsx").values
    assert [got[("S", r, 4)] for r in (1, 2, 3)] == [NA, NA, NA]


def test_exact_lookups_over_whole_columns_wider_than_one(tmp_path: Path) -> None:
    """The reviewer's book: ``VLOOKUP(3,Sheet!A:Z,2,FALSE)`` and
    ``INDEX(Sheet!A:Z,MATCH(3,Sheet!A:A,0),2)`` read 27 million cells and were #NUM! (IronCalc
    alone: 30). Oracle: Microsoft's "VLOOKUP function" (the row of the first exact match) and
    "INDEX function" (the cell at the row and column given). An empty lookup value matches the
    first blank row, which is the row after the data: the same call over rows 1 to 1001 (the
    first of them blank) is the answer by that definition."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet"
    for r in range(1, 1001):
        ws.cell(r, 1).value, ws.cell(r, 2).value, ws.cell(r, 26).value = r, r * 10, "z"
    ws.cell(500, 1).value = None  # a blank inside the data: the empty value's first match
    x = wb.create_sheet("X")
    x["A1"] = "=VLOOKUP(3,Sheet!A:Z,2,FALSE)"
    x["A2"] = "=INDEX(Sheet!A:Z,MATCH(3,Sheet!A:A,0),2)"
    x["A3"] = '=VLOOKUP("z",Sheet!A:Z,2,FALSE)'
    x["A4"] = "=VLOOKUP(X!C1,Sheet!A:Z,2,FALSE)"  # C1 blank
    x["A5"] = "=VLOOKUP(X!C1,Sheet!A1:Z1001,2,FALSE)"
    x["A6"] = "=HLOOKUP(3,Sheet!1:2,2,FALSE)"
    x["A7"] = "=INDEX(Sheet!A:Z,2000,2)"
    x["A8"] = "=VLOOKUP(1001,Sheet!A:Z,2,FALSE)"
    wb.save(tmp_path / "az.xlsx")
    got = recalculate(tmp_path / "az.xlsx").values
    assert got[("X", 1, 1)] == 30.0 and got[("X", 2, 1)] == 30.0
    assert got[("X", 3, 1)] == NA
    assert got[("X", 4, 1)] == got[("X", 5, 1)] and not isinstance(got[("X", 4, 1)], ExcelError)
    assert got[("X", 6, 1)] == NA  # 3 is not in row 1 (only 1 in A1)
    assert got[("X", 7, 1)] == 0.0  # a blank cell of the reference
    assert got[("X", 8, 1)] == NA


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.tuples(st.integers(1, 6), st.integers(1, 5)), st.integers(-9, 9), max_size=12),
    st.integers(1, 7),
    st.integers(0, 6),
)
def test_index_over_a_whole_used_sheet_with_a_row_and_column_from_cells(
    tmp_path_factory: pytest.TempPathFactory, block: dict[tuple[int, int], int], row: int, col: int
) -> None:
    """``INDEX(D!A1:XFD1048576,Z1,Z2)`` with the row and column in cells (they were #NUM!: only
    literals were taken) over a sheet whose used cells reach its far corner. Oracle: Microsoft,
    "INDEX function": the cell at row_num, column_num of the array; column_num 0 the whole row
    (so SUM of it is the row's sum); row_num and column_num both 0 the whole 17-billion-cell
    array, beyond the engine's limit: #NUM!."""
    tmp = tmp_path_factory.mktemp("ix")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "D"
    for (r, c), v in block.items():
        ws.cell(r, c).value = v
    ws["XFD1048576"] = 1
    f = wb.create_sheet("F")
    f["Z1"], f["Z2"], f["Z3"] = row, col, 0
    f["A1"] = "=SUM(INDEX(D!A1:XFD1048576,Z1,Z2))"
    f["A2"] = "=SUM(INDEX(D!A:Z,Z3,Z2))"
    f["A3"] = "=INDEX(D!A1:XFD1048576,Z3,Z3)"
    wb.save(tmp / "ix.xlsx")
    got = recalculate(tmp / "ix.xlsx").values
    in_row = sum(v for (r, c), v in block.items() if r == row and (col == 0 or c == col))
    in_col = sum(v for (r, c), v in block.items() if col == 0 or c == col)
    assert got[("F", 1, 1)] == float(in_row)
    if col == 0:  # INDEX(D!A:Z,0,0): the whole 27-million-cell area, beyond the limit
        assert got[("F", 2, 1)] == ExcelError("#NUM!")
    else:
        assert got[("F", 2, 1)] == float(in_col)
    assert got[("F", 3, 1)] == ExcelError("#NUM!")
