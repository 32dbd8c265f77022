"""A host function's one-value parameter given a range: Excel's two readings, one rule for every
host function (addin/headless/host_arguments.py).

Oracle: Microsoft, "Implicit intersection operator: @" (a range where one value is expected, in
a formula that is not an array formula, is the cell in the formula's own row for a one-column
range, its own column for a one-row range, #VALUE! outside or for a 2-D range) and "Guidelines
and examples of array formulas" / "SUMPRODUCT function" (in an array formula, and under
SUMPRODUCT's array arguments, a function of one value given a range is evaluated for each
cell). The exact cases are the outside audit of issue 30 (findings 1, 2 and 9), each with the
value Excel gives by those pages, computed by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from addin.headless.host_arguments import intersection

_D = dt.datetime


def _book(
    tmp: Path, inputs: dict[str, object], formulas: dict[str, str], arrays: frozenset[str] = frozenset()
) -> dict[str, object]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in inputs.items():
        ws[ref] = v
    for ref, f in formulas.items():
        ws[ref] = ArrayFormula(ref, f) if ref in arrays else f
    path = tmp / "b.xlsx"
    wb.save(path)
    got = recalculate(path).values
    out = {}
    for ref in formulas:
        cell = ws[ref]
        out[ref] = got[("S", cell.row, cell.column)]
    return out


def _code(v: object) -> object:
    return v.code if isinstance(v, ExcelError) else v


# ----------------------------------------------------------------------------- the rule itself


@settings(max_examples=2000, deadline=None)
@given(st.integers(1, 60), st.integers(0, 5), st.integers(1, 30), st.integers(0, 5), st.integers(1, 80), st.integers(1, 40))
def test_intersection_is_the_cell_in_the_formulas_row_or_column(r1: int, dh: int, c1: int, dw: int, row: int, col: int) -> None:
    r2, c2 = r1 + dh, c1 + dw
    got = intersection(r1, c1, r2, c2, row, col)
    if dh == 0 and dw == 0:
        assert got == (r1, c1)  # one cell is itself wherever the formula is
    elif dw == 0:
        assert got == ((row, c1) if r1 <= row <= r2 else None)
    elif dh == 0:
        assert got == ((r1, col) if c1 <= col <= c2 else None)
    else:
        assert got is None  # a 2-D range: #VALUE!


# ----------------------------------------------------------------------------- through the engine

_STARTS = [_D(2000, 1, 1) + dt.timedelta(days=37 * i) for i in range(12)]
_ENDS = [s + dt.timedelta(days=5 + 11 * i * i) for i, s in enumerate(_STARTS)]
_TEXTS = [f"w{j} tail{j}" for j in range(12)]


def _inputs() -> dict[str, object]:
    cells: dict[str, object] = {}
    for i in range(12):
        cells[f"A{i + 1}"] = _STARTS[i]
        cells[f"B{i + 1}"] = _ENDS[i]
        cells[f"{openpyxl.utils.get_column_letter(i + 3)}20"] = _TEXTS[i]  # C20:N20, a row of texts
    return cells


_SPAN = st.tuples(st.integers(1, 12), st.integers(0, 11)).map(lambda t: (t[0], min(12, t[0] + t[1])))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(_SPAN, st.integers(1, 16)), min_size=1, max_size=6),
    st.lists(st.tuples(_SPAN, st.integers(1, 18)), min_size=1, max_size=6),
    st.lists(_SPAN, min_size=1, max_size=4),
)
def test_ranges_at_one_value_parameters_follow_excels_rule(
    tmp_path: Path,
    columns: list[tuple[tuple[int, int], int]],
    rows: list[tuple[tuple[int, int], int]],
    lifted: list[tuple[int, int]],
) -> None:
    """Random ranges and formula positions: a plain DATEDIF over one-column ranges, a plain
    TEXTBEFORE over a one-row range, and SUMPRODUCT / array SUM over DATEDIF, against the rule
    computed here in Python (the days between the dates of each pair)."""
    formulas: dict[str, str] = {}
    want: dict[str, object] = {}
    arrays: set[str] = set()
    for k, ((a, b), row) in enumerate(columns):  # column G..: the formula's row decides
        ref = f"{openpyxl.utils.get_column_letter(16 + k)}{row}"
        formulas[ref] = f'=DATEDIF(A{a}:A{b},B{a}:B{b},"D")'
        cell = intersection(a, 1, b, 1, row, 16 + k)
        want[ref] = "#VALUE!" if cell is None else float((_ENDS[cell[0] - 1] - _STARTS[cell[0] - 1]).days)
    for k, ((a, b), col) in enumerate(rows):  # row 22..: the formula's column decides
        ref = f"{openpyxl.utils.get_column_letter(col)}{22 + k}"
        first, last = openpyxl.utils.get_column_letter(a + 2), openpyxl.utils.get_column_letter(b + 2)
        formulas[ref] = f'=TEXTBEFORE({first}20:{last}20," ")'
        cell = intersection(20, a + 2, 20, b + 2, 22 + k, col)
        want[ref] = "#VALUE!" if cell is None else _TEXTS[cell[1] - 3].split(" ")[0]
    for k, (a, b) in enumerate(lifted):  # every pair, element by element
        days = float(sum((_ENDS[i] - _STARTS[i]).days for i in range(a - 1, b)))
        formulas[f"Z{k + 1}"] = f'=SUMPRODUCT(DATEDIF(A{a}:A{b},B{a}:B{b},"D"))'
        want[f"Z{k + 1}"] = days
        formulas[f"AA{k + 1}"] = f'=SUM(DATEDIF(A{a}:A{b},B{a}:B{b},"D"))'
        arrays.add(f"AA{k + 1}")
        want[f"AA{k + 1}"] = days
    got = _book(tmp_path, _inputs(), formulas, frozenset(arrays))
    assert {k: _code(v) for k, v in got.items()} == want


def _audit_inputs() -> dict[str, object]:
    return {
        "A1": _D(2001, 1, 1), "B1": _D(2003, 1, 1),  # 730 days
        "A2": _D(2001, 6, 1), "B2": _D(2002, 8, 15),  # 440 days
        "A3": _D(2000, 1, 1), "B3": _D(2000, 3, 1),  # 60 days (2000 is a leap year)
        "C1": "a b c", "C2": "d e f", "C3": "g h i",
        "K1": "1 Mar 2024", "K2": "2 Mar 2024", "K3": "3 Mar 2024",  # serials 45352, 45353, 45354
        "K4": "1,000", "K5": "50%", "K6": "1 Mar 2024",
        "N1": "a,b", "N2": "x,y",
    }  # fmt: skip


def test_the_auditors_cases(tmp_path: Path) -> None:
    formulas = {
        # finding 1: inside another function, element by element (730 + 440 + 60 = 1230)
        "E1": '=SUM(DATEDIF(A1:A3,B1:B3,"D"))',
        "E3": '=SUMPRODUCT(DATEDIF(A1:A3,B1:B3,"D"))',
        "E4": '=SUM(LEN(TEXTBEFORE(C1:C3," ")))',  # 1 + 1 + 1
        "E5": '=ROWS(TEXTBEFORE(C1:C3," "))',
        "E6": "=SUMPRODUCT(LEN(VALUETOTEXT(C1:C3)))",  # 5 + 5 + 5
        "O1": '=ARRAYTOTEXT(TEXTBEFORE(N1:N2,","),1)',
        # finding 2: a plain formula intersects
        "E2": '=DATEDIF(A1:A3,B1:B3,"D")',  # row 2's pair
        "H3": '=TEXTBEFORE(C1:C3," ")',  # row 3
        "I2": "=VALUETOTEXT(C1:C3)",  # row 2
        "E10": '=DATEDIF(A1:A2,B1:B2,"D")',  # row 10 is outside
        "F12": '=TEXTBEFORE(C1:C3," ")',  # row 12 is outside
        "G4": '=DATEDIF(A1:B2,B1:B2,"D")',  # a 2-D range
        # finding 9: VALUE of date text over a range, the numbers' elements the engine's own
        "L1": "=SUM(VALUE(K1:K3))",
        "L2": "=SUMPRODUCT(VALUE(K1:K3))",
        "L3": "=SUMPRODUCT(VALUE(K4:K6))",  # 1000 + 0.5 + 45352
        "L4": "=VALUE(K1:K3)",  # row 4: outside
        "M2": "=VALUE(K1:K3)",  # row 2
    }
    arrays = frozenset({"E1", "E4", "E5", "O1", "L1"})
    got = {k: _code(v) for k, v in _book(tmp_path, _audit_inputs(), formulas, arrays).items()}
    assert got == {
        "E1": 1230.0,
        "E3": 1230.0,
        "E4": 3.0,
        "E5": 3.0,
        "E6": 15.0,
        "O1": '{"a";"x"}',
        "E2": 440.0,
        "H3": "g",
        "I2": "d e f",
        "E10": "#VALUE!",
        "F12": "#VALUE!",
        "G4": "#VALUE!",
        "L1": 136059.0,
        "L2": 136059.0,
        "L3": 46352.5,
        "L4": "#VALUE!",
        "M2": 45353.0,
    }


def test_t_test_tails_as_an_array_give_one_p_value_each(tmp_path: Path) -> None:
    """``{=SUM(T.TEST(A1:A3,B1:B3,{1,2},2))}``: the one-tailed and the two-tailed p-values of
    the same samples, the second twice the first (the t distribution is symmetric)."""
    formulas = {"E7": "=SUM(T.TEST(A1:A3,B1:B3,{1,2},2))", "E8": "=T.TEST(A1:A3,B1:B3,1,2)"}
    got = _book(tmp_path, _audit_inputs(), formulas, frozenset({"E7"}))
    one = got["E8"]
    assert isinstance(one, float) and isinstance(got["E7"], float)
    assert abs(got["E7"] - 3 * one) <= 1e-12 * got["E7"]  # p1 + p2 = 3 p1, to rounding
