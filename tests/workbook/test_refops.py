"""Excel's reference operators: union ``,``, intersection (a space), range of ranges ``:``
(addin/headless/refops.py).

Oracle: Microsoft, "Calculation operators and precedence in Excel": the range operator makes
"one reference to all the cells between two references", the union "combines multiple
references into one reference", the intersection is "one reference to cells common to the two
references", precedence ``:`` then space then ``,``; "AREAS function" counts the areas of a
reference (``AREAS((B2:D4,E5,F6:I9))`` is 3); "#NULL! error": an intersection of areas that do
not intersect. The rule is written below plainly in Python over sets of cells (a union's areas
each counted, as SUM adds each of its arguments) and compared with the engine on books written
by openpyxl; the corpus rows are Excel's cached values in formulas' test book (sheet LOOKUP).
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError, recalculate
from tests.workbook.bookkit import compute

Rect = tuple[int, int, int, int]  # row1, col1, row2, col2
_N = 6  # the data block is A1:F6


def _cells(r: Rect) -> set[tuple[int, int]]:
    return {(i, j) for i in range(r[0], r[2] + 1) for j in range(r[1], r[3] + 1)}


def _a1(r: Rect) -> str:
    return f"{'ABCDEF'[r[1] - 1]}{r[0]}:{'ABCDEF'[r[3] - 1]}{r[2]}"


_RECT = st.tuples(st.integers(1, _N), st.integers(1, _N), st.integers(1, _N), st.integers(1, _N)).map(
    lambda t: (min(t[0], t[2]), min(t[1], t[3]), max(t[0], t[2]), max(t[1], t[3]))
)


def _value(r: int, c: int) -> float:
    return float(10 * r + c)


@settings(max_examples=20, deadline=None)
@given(_RECT, _RECT, _RECT)
def test_unions_and_intersections_are_microsofts_definitions(
    tmp_path_factory: pytest.TempPathFactory, x: Rect, y: Rect, z: Rect
) -> None:
    """SUM and AREAS of ``x y``, ``(x,y)``, ``(x,y) z`` and ``x:y`` (the range between two
    ranges) against the cells each names, as sets."""
    inputs: dict[str, object] = {f"{'ABCDEF'[c - 1]}{r}": _value(r, c) for r in range(1, _N + 1) for c in range(1, _N + 1)}
    X, Y, Z = _a1(x), _a1(y), _a1(z)
    formulas = [f"=SUM({X} {Y})", f"=SUM(({X},{Y}))", f"=SUM(({X},{Y}) {Z})", f"=AREAS(({X},{Y}) {Z})", f"=SUM({X}:{Y})"]
    got = compute(tmp_path_factory.mktemp("refops"), formulas, inputs, column=10)

    def total(cells: set[tuple[int, int]]) -> float:
        return sum(_value(r, c) for r, c in cells)

    def or_null(areas: list[set[tuple[int, int]]], value: object) -> object:
        return "#NULL!" if not any(areas) else value

    both = _cells(x) & _cells(y)
    assert _plain(got[0]) == or_null([both], total(both))
    assert got[1] == total(_cells(x)) + total(_cells(y))  # each area counted: overlaps twice
    parts = [_cells(x) & _cells(z), _cells(y) & _cells(z)]
    assert _plain(got[2]) == or_null(parts, sum(total(p) for p in parts))
    assert _plain(got[3]) == or_null(parts, float(sum(1 for p in parts if p)))
    rows = [x[0], x[2], y[0], y[2]]
    cols = [x[1], x[3], y[1], y[3]]
    assert got[4] == total(_cells((min(rows), min(cols), max(rows), max(cols))))


def _plain(value: object) -> object:
    return value.code if isinstance(value, ExcelError) else value


def test_the_corpus_rows(tmp_path: Path) -> None:
    """Formulas' test book, sheet LOOKUP: AREAS (row 4), ROW and COLUMN of intersections (rows
    12-14, 112-114), INDEX of a union with a literal area, ROWS and COLUMNS of several areas
    (#REF!, rows 15 and 115); AREAS of one cell is 1 whatever it
    holds (LOOKUP!Z4:AF4: errors in K4:Q4, Excel 1; IronCalc 0.9.1 gave the error)."""
    cases: dict[str, object] = {
        "=AREAS((D4:G4,I4:J4,K4:N4))": 3.0,  # S4
        "=AREAS((E4:H4 J4:K4 L4:O4))": "#NULL!",  # T4
        "=AREAS(((F4:G4,G4:I4,F6:G6,G6:I6) G3:G11))": 4.0,  # V4
        "=AREAS(K4)": 1.0,  # Z4 (K4 holds #VALUE!)
        "=ROW(C114:E114:G113:I114 E113:F113)": 113.0,  # AG112
        "=ROW(C112:E113 F112:H113)": "#NULL!",  # AG113
        "=COLUMN(C14:E14:G13:I14 E13:F13)": 5.0,  # AG12
        "=COLUMN(AC12:AE14 AD13:AF14)": 30.0,  # AQ12
        "=INDEX((C52:C54,D52:D54),2,1,2)": 20.0,
        "=INDEX((C52:C54,D52:D54),2,1,3)": "#REF!",
        "=COLUMNS((D15:G15,I15:J15,K15:N15))": "#REF!",  # S15: several areas
        "=COLUMNS(((F15:G15,G15:I15,F19:G19,G19:I19) G14:G44))": "#REF!",  # V15: four areas left
        "=ROWS((D115:G115,I114:J115,K115:N115))": "#REF!",  # S115
        "=COLUMNS((E15:H15 J15:K15 L15:O15))": "#NULL!",  # T15: no area
        "=ROWS(((G115:H116) H114:H123))": 2.0,  # W115: one area
    }
    inputs: dict[str, object] = {"K4": "=1/0", "D52": 10, "D53": 20, "D54": 30}
    got = compute(tmp_path, list(cases), inputs, column=40)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert _plain(value) == want, formula


def test_recalc_of_an_openpyxl_book(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r in range(1, 4):
        for c in range(1, 4):
            ws.cell(r, c).value = r * c
    ws["E1"] = "=SUM(A1:C3 B2:C3)"  # the intersection B2:C3: 4+6+6+9
    ws["E2"] = "=SUM((A1,C3),A1)"  # a union beside another argument: 1+9+1
    ws["E3"] = "=AREAS((A1:B2,C3))"
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["E1"].value, out["E2"].value, out["E3"].value] == [25, 11, 2]


def test_an_empty_intersection_and_an_array_k_where_a_function_reads_a_references_numbers(tmp_path: Path) -> None:
    """A1:A3 holds 1, 2, 3 and B1:B3 10, 20, 30. ``(A1:A3 B1:B3)`` shares no cell: the reference
    is the error #NULL! (Microsoft, "#NULL! error"; ECMA-376 formulas, "Operators": "If the
    intersection is empty, the result is #NULL!"), which LARGE, PERCENTILE, QUARTILE and RANK
    return as they get it (an error in the array is the answer, as in any of Excel's
    aggregates). A ``k`` given as an array constant is one LARGE/SMALL per element in any formula
    (Microsoft, "Use array constants in array formulas": array constants need no
    Ctrl+Shift+Enter; "LARGE function": the k-th largest): over the union ``(A1:A3,B1:B3)`` the
    two largest are 30 and 20, their sum 50; one legacy cell shows the array's first value (30,
    implicit intersection of an array result, Microsoft "Implicit intersection operator: @")."""
    cases: dict[str, object] = {
        "=LARGE((A1:A3 B1:B3),1)": "#NULL!",
        "=PERCENTILE((A1:A3 B1:B3),0.5)": "#NULL!",
        "=QUARTILE((A1:A3 B1:B3),1)": "#NULL!",
        "=RANK(2,(A1:A3 B1:B3))": "#NULL!",
        "=SUM(LARGE((A1:A3,B1:B3),{1,2}))": 50.0,
        "=LARGE((A1:A3,B1:B3),{1,2})": 30.0,
        "=SUM(SMALL((A1:A3,B1:B3),{1,2,3}))": 6.0,
        "=SUM(LARGE(A1:B3,{1;2}))": 50.0,
        "=LARGE((A1:A3,B1:B3),2)": 20.0,
    }
    inputs: dict[str, object] = {"A1": 1, "A2": 2, "A3": 3, "B1": 10, "B2": 20, "B3": 30}
    got = compute(tmp_path, list(cases), inputs, column=5)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert _plain(value) == want, formula


_COLUMN = st.integers(1, _N)
_ROW = st.integers(1, _N)


@settings(max_examples=12, deadline=None)
@given(_COLUMN, _ROW, _RECT, st.booleans())
def test_an_intersection_that_is_the_whole_formula(
    tmp_path_factory: pytest.TempPathFactory, col: int, row: int, rect: Rect, other_sheet: bool
) -> None:
    """``=E:E 11:11``, ``=A1:C3 B:B``, written as the whole formula (no parentheses, no call), on
    the formula's sheet or another one, is the cell common to its references, #NULL! where there
    is none (Microsoft, "Calculation operators and precedence in Excel"; "#NULL! error").
    IronCalc 0.9.1's reader kept only the first reference (``=@E:E``): the engine gave the
    implicit intersection of column E with the formula's row, 0 (an Excel-saved book of Apache
    POI's tests has ``=Tabelle2!E:E Tabelle2!11:11`` cached 5). Only one-cell or empty
    intersections are drawn: a larger one in a legacy formula is a further implicit
    intersection, tested elsewhere."""
    letter = "ABCDEF"[col - 1]
    prefix = "T!" if other_sheet else ""
    one_row = (rect[0], rect[1], rect[0], rect[3])
    cases: list[tuple[str, set[tuple[int, int]]]] = [
        (f"={prefix}{letter}:{letter} {prefix}{row}:{row}", {(row, col)}),
        (f"={prefix}{row}:{row} {prefix}{letter}:{letter}", {(row, col)}),
        (f"={prefix}{_a1(one_row)} {prefix}{letter}:{letter}", _cells(one_row) & {(one_row[0], col)}),
    ]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    data = wb.create_sheet("T") if other_sheet else ws
    for r in range(1, _N + 1):
        for c in range(1, _N + 1):
            data.cell(r, c, _value(r, c))
    for i, (f, _) in enumerate(cases, 1):
        ws.cell(10 + i, 10, f)  # below and right of the data: the formula's own row is not drawn
    path = tmp_path_factory.mktemp("whole") / "b.xlsx"
    wb.save(path)
    got = recalculate(path).values
    for i, (f, common) in enumerate(cases, 1):
        want: object = _value(*next(iter(common))) if common else "#NULL!"
        assert _plain(got[("S", 10 + i, 10)]) == want, f
