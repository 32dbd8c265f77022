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
    # exact lookups (IronCalc's own are #N/A for each element) and nested lifted calls
    "VLOOKUP({x},{9,90;1,10;8,80;2,20;7,70;3,30;6,60;4,40;5,50},2,FALSE)",
    "HLOOKUP({x},{9,1,8,2,7,3,6,4,5;90,10,80,20,70,30,60,40,50},2,0)",
    "MATCH({x},{9,1,8,2,7,3,6,4,5},0)",
    "XMATCH({x},{9,1,8,2,7,3,6,4,5})",
    "MATCH(MATCH({x},{1,3,5,7}),{4,3,2,1},-1)",
    "MATCH(VLOOKUP({x},{9,90;1,10;8,80;2,20;7,70;3,30;6,60;4,40;5,50},2,FALSE),{10,20,30,40,50,60,70,80,90},0)",
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


# ----------------------------------------------------------------------------- exact lookups, nesting, TEXT

#: The second audit's cases (A1:A3 = 1, 2, 3; B1:B3 = 10, 20, 30), each Excel's value by the
#: element-by-element rule above and the function's own page: (formula, array formula?, value).
_AUDIT2 = [
    # VLOOKUP, exact: element 1 column 1 (1), element 2 column 2 (20), element 3 beyond the 2-row
    # column array #N/A -> 1000 ("VLOOKUP function"; the broadcast rule: #N/A beyond a smaller array)
    ("=SUM(IFERROR(VLOOKUP(A1:A3,A1:B3,{1;2},FALSE),1000))", True, 1021.0),
    # MATCH, exact, of 1, #N/A, 3: 1 + 0 (the error, by IFERROR) + 3 ("MATCH function")
    ("=SUMPRODUCT(IFERROR(MATCH({1,#N/A,3},A1:A3,0),0))", False, 4.0),
    # MATCH of each value is its own position; INDEX of each: 10 + 20 + 30 ("INDEX function")
    ("=SUM(INDEX(B1:B3,MATCH(A1:A3,A1:A3,0)))", True, 60.0),
    ("=SUMPRODUCT(VLOOKUP(A1:A3,A1:B3,2,FALSE))", False, 60.0),
    # HLOOKUP, exact, second row of each: 4 + 5 + 6 ("HLOOKUP function")
    ("=SUMPRODUCT(HLOOKUP(A1:A3,{1,2,3;4,5,6},2,FALSE))", False, 15.0),
    # XMATCH, exact (its default), of each value: 1 + 2 + 3 ("XMATCH function")
    ("=SUM(XMATCH(A1:A3,A1:A3))", True, 6.0),
    # an expression as the lookup value, exact: 1 + 2 + 3
    ("=SUMPRODUCT(MATCH(A1:A3*1,A1:A3,0))", False, 6.0),
    # nested lifted calls: the outer call reads the inner's whole array (1, 2, 3 each time)
    ("=SUMPRODUCT(MATCH(MATCH(A1:A3,{1,2,3}),{1,2,3}))", False, 6.0),
    ("=SUMPRODUCT(MATCH(MATCH(MATCH(A1:A3,{1,2,3}),{1,2,3}),{1,2,3}))", False, 6.0),
    ("=SUMPRODUCT(MATCH(VLOOKUP(A1:A3,A1:B3,2,FALSE),B1:B3,0))", False, 6.0),
    # TEXT of each value with each format ("TEXT function"): "1", "2.0", #N/A beyond -> 1 + 2 + 1000
    ('=SUM(IFERROR(TEXT(A1:A3,{"0";"0.0"})*1,1000))', True, 1003.0),
    # IS functions of a lifted host call's array: three texts; two #N/A (SWITCH of 2 and 3 with no
    # default, "SWITCH function"); three numbers (approximate MATCH of 1, 2, 3 in {1,2}: 1, 2, 2)
    ('=SUMPRODUCT(--ISTEXT(TEXT(A1:A3,"0")))', False, 3.0),
    ('=SUMPRODUCT(--ISNA(SWITCH(A1:A3,1,"x")))', False, 2.0),
    ("=SUMPRODUCT(--ISNUMBER(MATCH(A1:A3,{1,2})))", False, 3.0),
]


@pytest.mark.parametrize(("text", "array", "want"), _AUDIT2, ids=[t for t, _, _ in _AUDIT2])
def test_exact_lookups_nested_calls_and_text_are_lifted(tmp_path: Path, text: str, array: bool, want: float) -> None:
    inputs = {**_ONE_TWO_THREE, "B1": 10, "B2": 20, "B3": 30}
    got = _book(tmp_path, inputs, {"D1": text}, frozenset({"D1"} if array else ()))["D1"]
    assert isinstance(got, float), got
    assert got == want


def test_an_exact_lookup_and_text_over_an_array_range_are_each_elements(tmp_path: Path) -> None:
    """Written over the array range: MATCH(…,0) of each of 1, 2, 3 is its position ("MATCH
    function"); TEXT(2, each format) is "2" and "2.0" ("TEXT function")."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for k, v in _ONE_TWO_THREE.items():
        ws[k] = v
    ws["C1"] = ArrayFormula("C1:C3", "=MATCH(A1:A3,A1:A3,0)")
    ws["D1"] = ArrayFormula("D1:D2", '=TEXT(2,{"0";"0.0"})')
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert [got[("S", r, 3)] for r in (1, 2, 3)] == [1.0, 2.0, 3.0]
    assert [got[("S", r, 4)] for r in (1, 2)] == ["2", "2.0"]


def test_a_spill_reference_is_an_array_at_a_one_value_parameter(tmp_path: Path) -> None:
    """``E1#`` (saved as ``_xlfn.ANCHORARRAY(E1)``) is E1's whole spill, 1, 2, 3 (Microsoft,
    "Spilled range operator"): IFS of each (0 + 2 + 3) and TEXT of each ("1.0", "2.0", "3.0")."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["E1"] = ArrayFormula("E1:E3", "=_xlfn.SEQUENCE(3)")
    ws["G1"] = "=SUMPRODUCT(IFS(_xlfn.ANCHORARRAY(E1)>1,_xlfn.ANCHORARRAY(E1),TRUE,0))"
    ws["H1"] = ArrayFormula("H1:H3", '=TEXT(_xlfn.ANCHORARRAY(E1),"0.0")')
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert got[("S", 1, 7)] == 5.0
    assert [got[("S", r, 8)] for r in (1, 2, 3)] == ["1.0", "2.0", "3.0"]


def test_a_nested_call_whose_inner_shape_is_known_late_is_an_error_with_its_reason(tmp_path: Path) -> None:
    """The inner call's array (an expression's, sized once computed) cannot reach the outer call
    whole: the cell is an error saying so, never the outer call of its first element (Excel: 6)."""
    got = _book(tmp_path, _ONE_TWO_THREE, {"D1": "=SUMPRODUCT(MATCH(MATCH(A1:A3*1,A1:A3,0),A1:A3,0))"})["D1"]
    assert isinstance(got, ExcelError) and "known only once computed" in got.reason


def test_an_expression_over_a_host_block_fills_its_array_range_as_excel_does(tmp_path: Path) -> None:
    """``{=DEC2HEX({1;10;100})&"h"}`` entered over E1:F5: the result is a 3 x 1 array ("1h", "Ah",
    "64h": Microsoft, "DEC2HEX function", each element's call); Excel fills an array range larger
    than the result by repeating a one-column result across the columns and writing #N/A in the
    rows beyond it (Microsoft, "Guidelines and examples of array formulas": "if the range is
    larger than the array, the extra cells show #N/A"; the broadcast rule of a one-row or
    one-column array). ``{=IFERROR(CONVERT({1;2},"m","mm"),0)}`` over G1:G3: IFERROR sees only
    the two elements, so the third cell is #N/A too, never 0. Before: the expression read the
    host call's block as a plain formula, the cells beyond "not implemented" (#NAME?) or 0."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["E1"] = ArrayFormula("E1:F5", '=DEC2HEX({1;10;100})&"h"')
    ws["G1"] = ArrayFormula("G1:G3", '=IFERROR(CONVERT({1;2},"m","mm"),0)')
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    na = ExcelError("#N/A")
    grid = [[got[("S", r, c)] for c in (5, 6)] for r in range(1, 6)]
    assert grid == [["1h", "1h"], ["Ah", "Ah"], ["64h", "64h"], [na, na], [na, na]], grid
    assert [got[("S", r, 7)] for r in (1, 2, 3)] == [1000.0, 2000.0, na]


@pytest.mark.parametrize("array", [False, True])
def test_a_range_of_one_cell_is_its_value_to_an_exact_lookup(tmp_path: Path, array: bool) -> None:
    """``A2:A2`` is a range of one cell: an array of one element, the value -2.5 (Microsoft,
    "Guidelines and examples of array formulas"; "MATCH function": the position of the
    lookup value, 2; "VLOOKUP function": the second row's column 2, "b"), as a plain or array
    formula. IronCalc 0.9.1's exact lookups gave #N/A for such a range."""
    inputs: dict[str, object] = {"A1": 3, "A2": -2.5, "A3": 0.25, "B1": "a", "B2": "b", "B3": "c"}
    formulas = {"E1": "=SUM(MATCH(A2:A2,A1:A3,0))", "E2": "=MATCH($A$2:$A$2,A1:A3,0)", "E3": "=VLOOKUP(A2:A2,A1:B3,2,FALSE)"}
    got = _book(tmp_path, inputs, formulas, frozenset(formulas) if array else frozenset())
    assert got == {"E1": 2.0, "E2": 2.0, "E3": "b"}
