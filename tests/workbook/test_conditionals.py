"""COUNTIF(S), SUMIF(S), AVERAGEIF(S), MAXIFS, MINIFS with arrays of criteria and logicals compared by order.

Oracle: Microsoft's function reference, written plainly in Python below ("COUNTIF function",
"COUNTIFS function": "If the criteria argument is a reference to an empty cell, the COUNTIFS
function treats the empty cell as a 0 value", "SUMIF function", "SUMIFS function", "AVERAGEIF
function", "MAXIFS function": 0 when nothing matches, "Using wildcard characters": ``*``, ``?``),
and Excel's cached values in formulas' test book (sheets STATISTICAL rows 6, 7, 24, 25, 64, 68 and
MATH & TRIG rows 73, 74: an array of criteria gives the array of results, ``#N/A`` beyond it in
a wider array formula; ``"<=TRUE"`` matches the logical cells; ranges of different sizes
``#VALUE!``). IronCalc 0.9.1 alone answered 0 (``#DIV/0!`` for AVERAGEIF) for every such call.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.conditionals import conditional_functions
from tests.workbook.bookkit import compute

_CELL = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.5, 3.0]),
    st.sampled_from(["a", "ab", "ba", "B", "abc"]),
    st.booleans(),
    st.none(),
)
_CRITERION = st.one_of(
    st.sampled_from([1.0, 0.0, -1.0, 3.0]),
    st.sampled_from([">1", "<=0", "<>1", "a*", "?b", "A", "", "=", "<>", "TRUE", "<=TRUE", ">FALSE", ">=b", "<B", "*"]),
    st.booleans(),
)


def _wild(pattern: str) -> re.Pattern[str]:
    """Microsoft's wildcards (``*`` any run, ``?`` one character; none of the test's texts hold ``~``)."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern), re.I | re.S)


def _meets(cell: Any, crit: Any) -> bool:
    """Microsoft's criteria rule for one cell (the module docstring of addin.headless.conditionals)."""
    if not isinstance(crit, str):
        if isinstance(crit, bool):
            return isinstance(cell, bool) and cell == crit
        return isinstance(cell, float) and not isinstance(cell, bool) and cell == crit
    op = next((o for o in ("<=", ">=", "<>", "<", ">", "=") if crit.startswith(o)), "")
    rest = crit[len(op) :]
    if op == "<>":
        return not _meets(cell, "=" + rest)
    try:
        number: float | None = float(rest)
    except ValueError:
        number = None
    compare = {"": "__eq__", "=": "__eq__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}[op]
    if number is not None:
        return isinstance(cell, float) and not isinstance(cell, bool) and getattr(cell, compare)(number)
    if rest.upper() in ("TRUE", "FALSE"):
        return isinstance(cell, bool) and getattr(cell, compare)(rest.upper() == "TRUE")
    if rest == "":
        return op in ("", "=") and (cell is None or (op == "" and cell == ""))
    if not isinstance(cell, str):
        return False
    if compare == "__eq__":
        return _wild(rest).fullmatch(cell) is not None
    return bool(getattr(cell.lower(), compare)(rest.lower()))


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"'
    return repr(v)


def _constant(values: list[Any]) -> str:
    return "{" + ",".join(_literal(v) for v in values) + "}"


def _aggregate(kind: str, picked: list[Any]) -> Any:
    numbers = [v for v in picked if isinstance(v, float) and not isinstance(v, bool)]
    if kind == "count":
        return float(len(picked))
    if kind == "sum":
        return float(sum(numbers))
    if kind == "average":
        return sum(numbers) / len(numbers) if numbers else ExcelError("#DIV/0!")
    if not numbers:
        return 0.0
    return max(numbers) if kind == "max" else min(numbers)


def _close(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return abs(got - want) <= 1e-12 * max(1.0, abs(want))  # sums of a few binary fractions
    return bool(got == want)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(_CELL, min_size=6, max_size=6),
    st.lists(st.sampled_from([1.0, 2.0, -4.0, 0.5]), min_size=6, max_size=6),
    st.lists(_CRITERION, min_size=1, max_size=4),
)
def test_an_array_of_criteria_is_each_criterions_result(
    tmp_path_factory: pytest.TempPathFactory, cells: list[Any], numbers: list[float], crits: list[Any]
) -> None:
    """Every function over random mixed cells (A1:A6) and numbers (B1:B6) with a row of criteria,
    entered as an array formula one column wider (``#N/A`` there), and SUM of each (a plain
    formula: an array constant makes the call an array anywhere)."""
    tmp = tmp_path_factory.mktemp("cond")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (v, n) in enumerate(zip(cells, numbers, strict=True), 1):
        ws.cell(r, 1).value = v
        ws.cell(r, 2).value = n
    const = _constant(crits)
    calls = {
        "count": [f"COUNTIF(A1:A6,{const})", f'COUNTIFS(A1:A6,{const},B1:B6,">0")'],
        "sum": [f"SUMIF(A1:A6,{const},B1:B6)", f"SUMIFS(B1:B6,A1:A6,{const})"],
        "average": [f"AVERAGEIF(A1:A6,{const},B1:B6)", f"AVERAGEIFS(B1:B6,A1:A6,{const})"],
        "max": [f"_xlfn.MAXIFS(B1:B6,A1:A6,{const})"],
        "min": [f"_xlfn.MINIFS(B1:B6,A1:A6,{const})"],
    }
    width = len(crits) + 1
    rows: list[tuple[str, str, int]] = []
    row = 10
    for kind, texts in calls.items():
        for text in texts:
            ws.cell(row, 1).value = ArrayFormula(f"A{row}:{get_column_letter(width)}{row}", "=" + text)
            ws.cell(row, 8 + width).value = f"=SUM({text})"
            rows.append((kind, text, row))
            row += 1
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    for kind, text, r in rows:
        second = "COUNTIFS" in text  # B1:B6 > 0 as well
        want = []
        for crit in crits:
            hits = [k for k, v in enumerate(cells) if _meets(v, crit) and (not second or numbers[k] > 0)]
            want.append(_aggregate(kind, [numbers[k] if kind != "count" else cells[k] for k in hits]))
        have = [got[("S", r, 1 + j)] for j in range(width)]
        beyond = want[0] if len(want) == 1 else ExcelError("#N/A")  # one value fills the whole array formula
        assert all(_close(h, w) for h, w in zip(have, [*want, beyond], strict=True)), (text, cells, have, want)
        total = got[("S", r, 8 + width)]
        if all(isinstance(w, float) for w in want):
            assert _close(total, float(sum(want))), (text, total, want)
        else:
            assert total == next(w for w in want if isinstance(w, ExcelError))


#: formulas' test book, one row per function (C..J as the book holds them: 1 or 0, 1, 2.3, 10,
#: -1, a blank, "ciao", TRUE) and Excel's cached values of the formulas in columns Y, AG, AH..AM.
_ROW = [1.0, 1.0, 2.3, 10.0, -1.0, None, "ciao", True]
_CACHED = [
    ('AVERAGEIF(I1:J1,"<=TRUE",F1:G1)', None, [-1.0]),
    ('AVERAGEIF(D1:H1,{1,">3"},E1:I1)', None, [2.3]),
    ('AVERAGEIF(F1:J1,{"*ao","","TRUE",TRUE,"*a?"},C1:G1)', 6, [10.0, 2.3, -1.0, -1.0, 10.0, ExcelError("#N/A")]),
    ('AVERAGEIFS(F1:G1,I1:J1,"<=TRUE")', None, [-1.0]),
    ('AVERAGEIFS(E1:I1,D1:H1,{1,">3"}, C1:F1,{0,1})', None, [ExcelError("#VALUE!")]),
    ('AVERAGEIFS(C1:G1,F1:J1,{"*ao","","TRUE",TRUE,"*a?"})', 6, [10.0, 2.3, -1.0, -1.0, 10.0, ExcelError("#N/A")]),
    ('COUNTIFS(D1:H1,{1,">3"}, C1:F1,{0,1})', None, [ExcelError("#VALUE!")]),
    ('COUNTIFS(F1:J1,{"*ao","","TRUE",TRUE,"*a?"},D1:H1, ">0")', 6, [0.0, 1.0, 0.0, 0.0, 0.0, ExcelError("#N/A")]),
    ('_xlfn.MAXIFS(F1:G1,I1:J1,"<=TRUE")', None, [-1.0]),
    ('_xlfn.MAXIFS(C1:G1,F1:J1,{"*ao","","TRUE",TRUE,"*a?"},D1:H1, ">0")', 6, [0.0, 2.3, 0.0, 0.0, 0.0, ExcelError("#N/A")]),
    ('_xlfn.MINIFS(E1:I1,D1:H1,{1,">3"}, C1:F1,{0,1})', None, [ExcelError("#VALUE!")]),
    ('SUMIF(F1:J1,{"*ao","","TRUE",TRUE,"*a?"},C1:G1)', 6, [10.0, 2.3, -1.0, -1.0, 10.0, ExcelError("#N/A")]),
    ('SUMIFS(C1:G1, F1:J1,{"*ao","","TRUE",TRUE,"*a?"}, D1:H1, ">0")', 6, [0.0, 2.3, 0.0, 0.0, 0.0, ExcelError("#N/A")]),
    ('COUNTIF(I1:J1,"<=TRUE")', None, [1.0]),
]


def test_excels_cached_values_of_formulas_test_book(tmp_path: Path) -> None:
    """The corpus rows rebuilt on row 1 (C1:J1 as the book's C..J): every value as Excel cached it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for c, v in enumerate(_ROW, 3):
        ws.cell(1, c).value = v
    for k, (text, width, _) in enumerate(_CACHED):
        r = 3 + k
        ws.cell(r, 1).value = ArrayFormula(f"A{r}:{get_column_letter(width)}{r}", "=" + text) if width else "=" + text
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    for k, (text, _, want) in enumerate(_CACHED):
        have = [got[("S", 3 + k, 1 + j)] for j in range(len(want))]
        assert all(_close(h, w) for h, w in zip(have, want, strict=True)), (text, have, want)


def test_calls_without_arrays_or_ordered_logicals_stay_with_the_formula_engine() -> None:
    """Only the two classes are taken; whole columns and computed ranges never (extent.py cuts those)."""
    fns = conditional_functions()
    countif, sumifs = fns["COUNTIF"].takes, fns["SUMIFS"].takes
    assert countif is not None and sumifs is not None
    assert countif([("range", "A1:A9"), ("array", '{"a","b"}')])
    assert countif([("range", "A1:A9"), ("literal", '"<=TRUE"')])
    assert countif([("range", "A1:A9"), ("range", "B1:B2")])
    assert not countif([("range", "A1:A9"), ("literal", '">1"')])
    assert not countif([("range", "A1:A9"), ("literal", '"TRUE"')])
    assert not countif([("range", "A:A"), ("array", "{1,2}")])
    assert not countif([("expression", "OFFSET(A1,0,0,3)"), ("array", "{1,2}")])
    assert sumifs([("range", "B1:B9"), ("range", "A1:A9"), ("array", "{1,2}"), ("range", "C1:C9"), ("literal", '">0"')])
    assert not sumifs([("range", "B1:B9"), ("range", "A1:A9"), ("cell", "D1")])


def test_plain_formula_reads_one_criterion_and_sum_of_a_row_of_cells(tmp_path: Path) -> None:
    """A range of criteria in a plain formula is Excel's implicit intersection (the cell in the
    formula's row); in SUMPRODUCT it is each criterion's count."""
    inputs: dict[str, object] = {"A1": "x", "A2": "y", "A3": "x", "A4": 5, "D1": "x", "D2": 5}
    got = compute(tmp_path, ["=COUNTIF(A1:A4,D1:D2)", "=COUNTIF(A1:A4,D1:D2)", "=SUMPRODUCT(COUNTIF(A1:A4,D1:D2))"], inputs)
    assert got == [2.0, 1.0, 3.0]


def test_an_openpyxl_book_through_recalc_shows_every_value(tmp_path: Path) -> None:
    """``clearquote recalc`` then openpyxl ``data_only``: the array's values are in the file."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, v in enumerate(["a", "b", "a", True, 2.0], 1):
        ws.cell(r, 1).value = v
    ws["C1"] = ArrayFormula("C1:E1", '=COUNTIF(A1:A5,{"a","b","<=TRUE"})')
    ws["C2"] = '=SUM(COUNTIF(A1:A5,{"a","b"}))'
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["C1"].value, out["D1"].value, out["E1"].value, out["C2"].value] == [2, 1, 1, 3]


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        # "COUNTIF function": H1:H3 = 3, 1, 2; ">"&A1:A2 with A1 = A2 = 1 is two criteria ">1",
        # each counts 3 and 2: 2 + 2
        ('=SUMPRODUCT(COUNTIF(H1:H3,">"&A1:A2))', 4.0),
        # "SUMIF function": the same criteria sum 3 + 2 twice
        ('=SUMPRODUCT(SUMIF(H1:H3,">"&A1:A2))', 10.0),
        # a whole-column range (left to the formula engine, never the host function): the criteria
        # "1" and "2" and "3" of an array constant count one cell each
        ("=SUMPRODUCT(COUNTIFS($H:$H,{1;2;3}))", 3.0),
        ('=SUMPRODUCT(--ISNUMBER(COUNTIFS($H:$H,{1;2;3},$H:$H,"<>")))', 3.0),
        # MAXIFS of a criterion per element of an expression: ">="&{2;3} is 3 and 3
        ('=SUMPRODUCT(MAXIFS(H1:H3,H1:H3,">="&{2;3}))', 6.0),
    ],
)
def test_a_computed_array_of_criteria_is_each_criterions_result(tmp_path: Path, text: str, excel: float) -> None:
    """The criteria are one value each (Microsoft, "COUNTIFS function"; "Guidelines and examples of
    array formulas": a one-value parameter given an array in an array context is evaluated per
    element). Criteria computed by an expression, or beside a whole-column range, were read once
    by the formula engine (0 each)."""
    got = compute(tmp_path, [text], {"H1": 3, "H2": 1, "H3": 2, "A1": 1, "A2": 1})
    assert got == [excel]


def test_sumifs_over_a_whole_column_with_computed_criteria_in_an_array_formula(tmp_path: Path) -> None:
    """``{=SUMIFS(C:C,C:C,">="&C1:C5)}`` over C = 1, 2, 4, 8, 16: the sum of the values at least
    each value, 31, 30, 28, 24, 16 (Microsoft, "SUMIFS function"); it was 0 in every cell."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for i, v in enumerate((1, 2, 4, 8, 16), 1):
        ws.cell(i, 3).value = v
    ws["E1"] = ArrayFormula("E1:E5", '=SUMIFS($C:$C,$C:$C,">="&$C$1:$C$5)')
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert [got[("S", i, 5)] for i in range(1, 6)] == [31.0, 30.0, 28.0, 24.0, 16.0]
