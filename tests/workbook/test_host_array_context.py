"""Host functions in array contexts: an array at a one-value parameter is evaluated element by element.

Oracle: Microsoft, "Guidelines and examples of array formulas" and "SUMPRODUCT function" (in an
array formula, and in an argument SUMPRODUCT reads as an array, a function whose parameter takes
one value and is given an array is evaluated once per element, and its result is the array of
those results, of the arguments' broadcast shape); each function's own reference page for what
one element gives (the hand computations are in the comments). Outside array contexts a range
there is intersected (Microsoft, "Implicit intersection operator: @"). Functions that read
"every value of every argument" (Microsoft, "COUNT function", "PRODUCT function", "NPV
function") take any mix of numbers, cells, ranges and array constants.

The engine cut each host call out to one scratch cell, so only the first element reached the
formula (``{=SUM(VLOOKUP(A1:A3,{...},1))}`` was 1): the cases below are the outside audit's,
every one of which failed before the fix (addin/headless/host_arguments.py: ``spread``, ``gather``).

Tolerance: 1e-12 relative where a value is a sum of a few floating-point terms (NPV: one division
and power per flow; the order of summation may differ from the hand computation by an ulp or two);
exact for integer results.
"""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate


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
    out: dict[str, object] = {}
    for ref in formulas:
        cell = ws[ref]
        out[ref] = got[("S", cell.row, cell.column)]
    return out


def _npv(rate: float, flows: list[float]) -> float:
    """Microsoft, "NPV function": sum of value_i / (1 + rate)^i, i = 1..n, in order."""
    return math.fsum(v / (1 + rate) ** i for i, v in enumerate(flows, 1))


_ONE_TWO_THREE = {"A1": 1, "A2": 2, "A3": 3}

#: (formula, an array formula?, Excel's value by Microsoft's documentation)
_AUDIT = [
    # VLOOKUP of each of 1, 2, 3 in the first column, approximate: 1 + 2 + 3
    ('=SUM(VLOOKUP(A1:A3,{1,"a";2,"b";3,"c"},1))', True, 6.0),
    # MATCH of each value in the sorted column: positions 1 + 2 + 3
    ("=SUMPRODUCT(MATCH(A1:A3,A1:A3))", False, 6.0),
    # IFS of each element: 1 is not > 1 (0), 2 and 3 are themselves: 0 + 2 + 3
    ("=SUMPRODUCT(IFS(A1:A3>1,A1:A3,TRUE,0))", False, 5.0),
    # NPV at each rate 0.1, 0.2, 0.3 of the flows 1, 2, summed
    ("=SUM(NPV(A1:A3/10,{1,2}))", True, sum(_npv(r, [1, 2]) for r in (0.1, 0.2, 0.3))),
    # the values 1, 1, 2 (every value of every argument is a cash flow), at each rate
    ("=SUM(NPV(A1:A3/10,1,{1,2}))", True, sum(_npv(r, [1, 1, 2]) for r in (0.1, 0.2, 0.3))),
    # outside array formulas: the flows 1, 1, 2 at 10%
    ("=NPV(0.1,1,{1,2})", False, _npv(0.1, [1, 1, 2])),
    # COUNT: the number 1, and the numbers of the array (text in an array is not counted): 1 + 2
    ('=COUNT(1,{1,2,"a"})', False, 3.0),
    # PRODUCT: 2 * 1 * 2 * 3
    ("=PRODUCT(2,{1,2,3})", False, 12.0),
    # a cell holding TRUE is a reference: its logical is not counted ("COUNT function"); the array's 1 is
    ('=COUNT(B9,{1,"a"})', False, 1.0),
    # HLOOKUP of each value of a row, second row of the table: 10 + 20 + 30
    ("=SUM(HLOOKUP(A1:A3,{1,2,3;10,20,30},2))", True, 60.0),
    # LOOKUP of each value: 100 + 200 + 300
    ("=SUMPRODUCT(LOOKUP(A1:A3,{1,2,3},{100,200,300}))", False, 600.0),
    # SWITCH of each value: 1 -> 10, 2 -> 20, 3 -> the default 0
    ("=SUMPRODUCT(SWITCH(A1:A3,1,10,2,20,0))", False, 30.0),
    # VDB's end period 1, 2, 3 of a 1,000 cost, 0 salvage, life 10, double declining (200, 160, 128
    # per period: 200, 360, 488), summed
    ("=SUM(VDB(1000,0,10,0,A1:A3))", True, 200.0 + 360.0 + 488.0),
]


@pytest.mark.parametrize(("text", "array", "want"), _AUDIT, ids=[t for t, _, _ in _AUDIT])
def test_the_audits_cases(tmp_path: Path, text: str, array: bool, want: float) -> None:
    got = _book(tmp_path, {**_ONE_TWO_THREE, "B9": True}, {"C1": text}, frozenset({"C1"} if array else ()))["C1"]
    assert isinstance(got, float), got
    assert got == pytest.approx(want, rel=1e-12)


def test_the_cut_out_call_is_a_block_the_formula_reads_as_an_array(tmp_path: Path) -> None:
    """Written to the array range whole (a dynamic array's spill and a CSE range): VLOOKUP's
    value for each row, the elements in order (Microsoft, "VLOOKUP function", approximate match)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for k, v in _ONE_TWO_THREE.items():
        ws[k] = v
    ws["C1"] = ArrayFormula("C1:C3", '=VLOOKUP(A1:A3,{1,"a";2,"b";3,"c"},2)')
    ws["D1"] = ArrayFormula("D1:D3", '=VLOOKUP(A1:A3,{1,"a";2,"b";3,"c"},2)&"!"')
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert [got[("S", r, 3)] for r in (1, 2, 3)] == ["a", "b", "c"]
    assert [got[("S", r, 4)] for r in (1, 2, 3)] == ["a!", "b!", "c!"]


def test_outside_array_contexts_a_range_is_intersected(tmp_path: Path) -> None:
    """A plain formula keeps Excel's implicit intersection: the cell in the formula's own row
    (Microsoft, "Implicit intersection operator: @"); row 5 is outside the range: #VALUE!."""
    formulas = {"C2": '=VLOOKUP(A1:A3,{1,"a";2,"b";3,"c"},2)', "C5": '=VLOOKUP(A1:A3,{1,"a";2,"b";3,"c"},2)'}
    got = _book(tmp_path, _ONE_TWO_THREE, formulas)
    assert got["C2"] == "b"
    assert isinstance(got["C5"], ExcelError) and got["C5"].code == "#VALUE!"


# ----------------------------------------------------------------------------- the lifting identity

#: Host calls with a one-value first parameter, ``{x}`` that parameter: under SUMPRODUCT (and in an
#: array formula under SUM) given a range, the result is the sum of the calls of each cell
#: (Microsoft, "SUMPRODUCT function" and "Guidelines and examples of array formulas"). Text results
#: are measured by LEN. Several give the argument as an expression, whose shape the engine knows
#: only once evaluated.
_CALLS = [
    "VLOOKUP({x},{1,10;3,30;5,50;7,70},2)",
    "HLOOKUP({x},{1,3,5,7;10,30,50,70},2)",
    "MATCH({x},{1,3,5,7})",
    "LOOKUP({x},{1,3,5,7},{2,4,6,8})",
    "XMATCH({x},{1,3,5,7},-1)",
    "IFS({x}>4,{x},TRUE,-1)",
    "SWITCH({x},1,10,2,20,-3)",
    "VDB(1000,0,10,0,{x})",
    "NPV({x}/100,1,{1,2})",
    "LEN(FIXED({x}*1.5,1))",
    "GAMMALN({x})",
    "FORECAST({x},{1,2,4},{4,5,7})",
    'DATEDIF(1,{x}*40,"D")',
    'NUMBERVALUE({x}&"%")',
    "LEN(BAHTTEXT({x}))",
    "AGGREGATE({x},6,$H$1:$H$3)",
]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 9), min_size=2, max_size=4))
def test_a_lifted_call_is_the_calls_of_its_elements(tmp_path: Path, xs: list[int]) -> None:
    n = len(xs)
    inputs: dict[str, object] = {f"A{i + 1}": x for i, x in enumerate(xs)}
    inputs.update({"H1": 3.0, "H2": 1.0, "H3": 2.0})
    formulas: dict[str, str] = {}
    arrays: set[str] = set()
    for k, call in enumerate(_CALLS):
        col = openpyxl.utils.get_column_letter(10 + k)
        for i in range(n):  # one call a cell
            formulas[f"{col}{i + 1}"] = "=" + call.replace("{x}", f"A{i + 1}")
        formulas[f"{col}20"] = f"=SUMPRODUCT({call.replace('{x}', f'$A$1:$A${n}')})"
        formulas[f"{col}21"] = f"=SUM({call.replace('{x}', f'$A$1:$A${n}')})"
        arrays.add(f"{col}21")
    got = _book(tmp_path, inputs, formulas, frozenset(arrays))
    for k, call in enumerate(_CALLS):
        col = openpyxl.utils.get_column_letter(10 + k)
        cells = [got[f"{col}{i + 1}"] for i in range(n)]
        assert all(isinstance(v, float) for v in cells), (call, cells)
        want = math.fsum(cells)  # type: ignore[arg-type]
        for row in (20, 21):
            v = got[f"{col}{row}"]
            assert isinstance(v, float) and v == pytest.approx(want, rel=1e-12, abs=1e-12), (call, row, v, want)
