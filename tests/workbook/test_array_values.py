"""Aggregates given an array value (not a range) in an array formula: every aggregate, every way
of making an array (addin/headless/array_aggregates.py, dispersion.py, constant_arrays.py).

Oracle: Microsoft's function reference, the rule for "number1, [number2], ..." arguments: "If an
argument is an array or reference, only numbers in that array or reference are counted. Empty
cells, logical values, or text in the array or reference are ignored" and "Arguments that are
error values ... cause errors" ("SUM function", "AVERAGE function", "MEDIAN function", "PRODUCT
function", "GEOMEAN function", "HARMEAN function", "KURT function", "SKEW function", "STDEV.S
function"...); COUNT: "only numbers in that array or reference are counted" (error values too
are not counted); COUNTA counts every value; the ``A`` functions ("AVERAGEA function", "STDEVA
function"): TRUE 1, FALSE 0, "array or reference arguments that contain text evaluate as 0";
MIN/MAX of no numbers 0, MEDIAN and GEOMEAN/HARMEAN of none #NUM!, AVERAGE #DIV/0!, PRODUCT 0;
KURT needs four numbers and SKEW three (#DIV/0!). The rule is written plainly in Python below
(Python's ``statistics`` for the moments; KURT and SKEW by the formulas on Microsoft's pages).
``IF(test,values)`` without a value_if_false gives FALSE where the test fails (Microsoft, "IF
function"). Numbers are compared to 1e-12 relative: Excel and this oracle add the same ≤ 8
doubles in possibly different orders (an error of a few ulps), far below any wrong reading,
which moves the value by a whole element.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate

_NA, _DIV0, _NUM = ExcelError("#N/A"), ExcelError("#DIV/0!"), ExcelError("#NUM!")

#: A1:A4 and C1:C4 of every book here.
_A = [1.0, 2.0, 3.0, 5.0]
_C = ["x", "y", "z", "w"]

#: Every way to make an array value, with its elements as Excel has them (row by row).
SOURCES: dict[str, tuple[str, list[Any]]] = {
    "expression": ("A1:A4*2", [2.0, 4.0, 6.0, 10.0]),
    "IF filter": ("IF(A1:A4>1,A1:A4)", [False, 2.0, 3.0, 5.0]),
    "IF with text": ('IF(A1:A4>1,A1:A4,"t")', ["t", 2.0, 3.0, 5.0]),
    "IF with an error": ("IF(A1:A4>1,A1:A4,NA())", [_NA, 2.0, 3.0, 5.0]),
    "array constant": ('{1,"a",TRUE,5}', [1.0, "a", True, 5.0]),
    "constant expression": ("{1,2,3,5}*1", [1.0, 2.0, 3.0, 5.0]),
    "logicals": ("A1:A4>2", [False, False, True, True]),
    "LET inside the argument": ("LET(v,IF(A1:A4>2,A1:A4),v)", [False, False, 3.0, 5.0]),
    "TEXT of each": ('TEXT(A1:A4,"0")', ["1", "2", "3", "5"]),
}


def _first_error(xs: list[Any]) -> ExcelError | None:
    return next((x for x in xs if isinstance(x, ExcelError)), None)


def _numbers(xs: list[Any]) -> list[float] | ExcelError:
    error = _first_error(xs)
    return error if error else [float(x) for x in xs if isinstance(x, float)]


def _a_values(xs: list[Any]) -> list[float] | ExcelError:
    error = _first_error(xs)
    return error if error else [float(x) if isinstance(x, (bool, float)) else 0.0 for x in xs]


def _kurt(xs: list[float]) -> Any:
    n = len(xs)
    if n < 4 or statistics.stdev(xs) == 0:
        return _DIV0
    m, s = statistics.fmean(xs), statistics.stdev(xs)
    return n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * sum(((x - m) / s) ** 4 for x in xs) - 3 * (n - 1) ** 2 / (
        (n - 2) * (n - 3)
    )


def _skew(xs: list[float]) -> Any:
    n = len(xs)
    if n < 3 or statistics.stdev(xs) == 0:
        return _DIV0
    m, s = statistics.fmean(xs), statistics.stdev(xs)
    return n / ((n - 1) * (n - 2)) * sum(((x - m) / s) ** 3 for x in xs)


def _at_least(k: int, fold: Callable[[list[float]], Any], error: ExcelError) -> Callable[[list[float]], Any]:
    return lambda xs: fold(xs) if len(xs) >= k else error


#: No numbers at all in GEOMEAN/HARMEAN: an error, but which one Microsoft's pages do not say
#: ("If any data point ≤ 0, HARMEAN returns the #NUM! error value"; nothing on none): the engine's
#: host gives #NUM!, IronCalc over a reference #DIV/0!. Either is accepted, a number is not.
_NO_NUMBERS = ExcelError("#NUM!", "or #DIV/0!: undecided")


def _positive(fold: Callable[[list[float]], Any]) -> Callable[[list[float]], Any]:
    return lambda xs: _NO_NUMBERS if not xs else fold(xs) if all(x > 0 for x in xs) else _NUM


#: Each aggregate: how it reads an array's elements, and what it makes of them (module docstring).
RULES: dict[str, tuple[Callable[[list[Any]], list[float] | ExcelError], Callable[[list[float]], Any]]] = {
    "SUM": (_numbers, lambda xs: float(sum(xs))),
    "AVERAGE": (_numbers, _at_least(1, statistics.fmean, _DIV0)),
    "AVERAGEA": (_a_values, _at_least(1, statistics.fmean, _DIV0)),
    "MIN": (_numbers, lambda xs: min(xs, default=0.0)),
    "MAX": (_numbers, lambda xs: max(xs, default=0.0)),
    "PRODUCT": (_numbers, lambda xs: math.prod(xs) if xs else 0.0),
    "SUMSQ": (_numbers, lambda xs: float(sum(x * x for x in xs))),
    "MEDIAN": (_numbers, _at_least(1, statistics.median, _NUM)),
    "GEOMEAN": (_numbers, _positive(statistics.geometric_mean)),
    "HARMEAN": (_numbers, _positive(statistics.harmonic_mean)),
    "KURT": (_numbers, _kurt),
    "SKEW": (_numbers, _skew),
    "STDEV.S": (_numbers, _at_least(2, statistics.stdev, _DIV0)),
    "VAR.P": (_numbers, _at_least(1, statistics.pvariance, _DIV0)),
    "STDEVA": (_a_values, _at_least(2, statistics.stdev, _DIV0)),
    "STDEVPA": (_a_values, _at_least(1, statistics.pstdev, _DIV0)),
    "VARA": (_a_values, _at_least(2, statistics.variance, _DIV0)),
    "VARPA": (_a_values, _at_least(1, statistics.pvariance, _DIV0)),
}


def _count(xs: list[Any]) -> float:
    return float(sum(1 for x in xs if isinstance(x, float)))


def expected(function: str, xs: list[Any]) -> Any:
    """Excel's value of ``function`` over an array of these elements (module docstring)."""
    if function == "COUNT":
        return _count(xs)
    if function == "COUNTA":
        return float(len(xs))
    read, fold = RULES[function]
    values = read(xs)
    return values if isinstance(values, ExcelError) else fold(values)


def _agrees(got: Any, want: Any) -> bool:
    if want is _NO_NUMBERS:
        return isinstance(got, ExcelError) and got.code in ("#NUM!", "#DIV/0!")
    if isinstance(want, ExcelError):
        return isinstance(got, ExcelError) and got.code == want.code
    if isinstance(want, float):
        return isinstance(got, float) and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300)
    return bool(got == want)


def compute(tmp: Path, formulas: list[str], columns: dict[str, list[Any]] | None = None, array: bool = True) -> list[Any]:
    """Each formula in its own cell of column J (a one-cell array formula unless ``array`` is
    False), over A1:A4 and C1:C4 and ``columns`` (``{"E": [...]}``), recalculated headless."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (a, c) in enumerate(zip(_A, _C, strict=True), 1):
        ws.cell(r, 1).value, ws.cell(r, 3).value = a, c
    for col, values in (columns or {}).items():
        for r, v in enumerate(values, 1):
            ws[f"{col}{r}"] = v
    for r, f in enumerate(formulas, 1):
        ws[f"J{r}"] = ArrayFormula(f"J{r}", f) if array else f
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    return [got[("S", r, 10)] for r in range(1, len(formulas) + 1)]


_FUNCTIONS = ["COUNT", "COUNTA", *RULES]


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_aggregate_over_every_kind_of_array_value(tmp_path: Path, source: str) -> None:
    """``{=F(array)}`` for each aggregate F is F's rule over the array's elements. IronCalc 0.9.1
    alone: COUNT 0; PRODUCT, AVERAGEA #N/IMPL!; AVERAGE, MEDIAN, GEOMEAN, HARMEAN, KURT, SKEW
    counted the logicals of an IF filter as numbers; STDEVA... left them out."""
    text, xs = SOURCES[source]
    got = compute(tmp_path, [f"={f}({text})" for f in _FUNCTIONS])
    wrong = {f: (g, expected(f, xs)) for f, g in zip(_FUNCTIONS, got, strict=True) if not _agrees(g, expected(f, xs))}
    assert not wrong


def test_a_reference_beside_an_array_value_is_read_as_a_reference(tmp_path: Path) -> None:
    """``{=F(A1:A4,IF(A1:A4>2,A1:A4),E1)}`` with E1 TRUE: the range's numbers, the array's, and
    the cell's logical ignored as in any reference (Microsoft, "AVERAGE function")."""
    xs = [*_A, False, False, 3.0, 5.0]
    functions = ["COUNT", "AVERAGE", "MEDIAN", "PRODUCT", "GEOMEAN", "SKEW", "KURT"]
    got = compute(tmp_path, [f"={f}(A1:A4,IF(A1:A4>2,A1:A4),E1)" for f in functions], {"E": [True]})
    assert all(_agrees(g, expected(f, xs)) for f, g in zip(functions, got, strict=True)), got


def test_the_auditors_cases(tmp_path: Path) -> None:
    """The outside audit's formulas over A1:A3 = 1, 2, 3 and C1:C3 = "x", "y", "z": COUNT of the
    IF filter counts its two numbers and COUNT(A1:A3*2) three; PRODUCT of 2 and 3 is 6; CONCAT
    and TEXTJOIN join each element's text ("CONCAT function", "TEXTJOIN function": ignore_empty
    TRUE leaves the two "" out), TEXT(x,"0.0") of 1 is "1.0" ("TEXT function")."""
    got = compute(
        tmp_path,
        [
            "=COUNT(IF(A1:A3>1,A1:A3))",
            "=COUNT(A1:A3*2)",
            "=PRODUCT(IF(A1:A3>1,A1:A3))",
            '=CONCAT(C1:C3&"-")',
            '=TEXTJOIN(",",TRUE,IF(A1:A3>1,C1:C3,""))',
            '=CONCAT(TEXT(A1:A3,"0.0"))',
        ],
    )
    assert got == [2.0, 3.0, 6.0, "x-y-z-", "y,z", "1.02.03.0"]


def test_a_plain_formula_intersects_the_range_and_is_left_to_the_engine(tmp_path: Path) -> None:
    """Outside an array formula Excel intersects ``A1:A4`` in an expression with the formula's
    row (Microsoft, "Implicit intersection operator: @"): in row 2 ``COUNT(A1:A4*2)`` counts one
    number (4) and ``AVERAGE(A1:A4*2)`` is 4; the calls stay with the formula engine."""
    got = compute(tmp_path, ["=1", "=COUNT(A1:A4*2)", "=1", "=AVERAGE(A1:A4*2)"], array=False)
    assert got[1] == 1.0
    assert got[3] == 10.0  # row 4: A4*2


_NUMERIC = ["COUNT", "SUM", "AVERAGE", "MIN", "MAX", "PRODUCT", "MEDIAN", "SKEW", "KURT", "STDEV.S", "GEOMEAN"]
_A_FUNCTIONS = ["AVERAGEA", "STDEVA", "VARPA"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(-50, 50).map(lambda k: k / 4), min_size=1, max_size=7),
    st.integers(-10, 10).map(float),
)
def test_an_aggregate_of_an_if_filter_is_the_aggregate_of_the_cells_it_keeps(
    tmp_path_factory: pytest.TempPathFactory, xs: list[float], t: float
) -> None:
    """For random numbers r and threshold t, ``{=F(IF(r>t,r))}`` is ``F`` over a range holding the
    kept cells only (FALSE elements are ignored: Microsoft's rule above) for every numeric
    aggregate, and for the ``A`` functions F over the cells with the others 0 (FALSE is 0);
    ``{=COUNT(r*2)}`` is ``COUNT(r)`` and ``{=PRODUCT(r*1)}`` is ``PRODUCT(r)``. Both sides are
    computed by the engine; the range side is the formula engine's reading of a reference."""
    tmp = tmp_path_factory.mktemp("filter")
    n = len(xs)
    kept = [x for x in xs if x > t]
    zeroed = [x if x > t else 0.0 for x in xs]
    r = f"G1:G{n}"
    formulas = [f"={f}(IF({r}>{t},{r}))" for f in _NUMERIC + _A_FUNCTIONS]
    formulas += [f"={f}(H1:H{max(len(kept), 1)})" for f in _NUMERIC]
    formulas += [f"={f}(I1:I{n})" for f in _A_FUNCTIONS]
    formulas += [f"=COUNT({r}*2)", f"=COUNT({r})", f"=PRODUCT({r}*1)", f"=PRODUCT({r})"]
    got = compute(tmp, formulas, {"G": list(xs), "H": kept, "I": zeroed})
    k = len(_NUMERIC) + len(_A_FUNCTIONS)
    arrays, ranges, counts = got[:k], got[k : 2 * k], got[2 * k :]
    for f, a, b in zip(_NUMERIC + _A_FUNCTIONS, arrays, ranges, strict=True):
        assert _agrees(a, b) if isinstance(b, (float, ExcelError)) else a == b, (f, a, b)
    assert counts[0] == counts[1] and _agrees(counts[2], counts[3]), counts


@pytest.mark.parametrize("array", [True, False])
def test_a_constant_typed_beside_an_array_is_read_as_typed(tmp_path: Path, array: bool) -> None:
    """A constant typed into the arguments is read by the typed rule, not as a value in a cell:
    COUNT counts a typed TRUE and numeric text ("COUNT function": "Logical values and text
    representations of numbers that you type directly into the list of arguments are counted"),
    not other text or an error; AVERAGE, MEDIAN and PRODUCT read TRUE as 1 and "2" as 2, other
    text as #VALUE! ("AVERAGE function": "text that cannot be translated into numbers cause
    errors"; "MEDIAN function" alike). The same TRUE in a cell (E1) is ignored ("If an argument
    is an array or reference, only numbers in that array or reference are counted"). Found by the
    outside audit: ``COUNT(TRUE,{1})`` was 1, ``COUNT("1",{1,"2"})`` 1 (IronCalc's reading)."""
    got = compute(
        tmp_path,
        [
            "=COUNT(TRUE,{1})",
            '=COUNT("1",{1,"2"})',
            '=COUNT("abc",{1})',
            "=COUNT(#N/A,{1})",
            "=COUNT(E1,{1})",
            '=PRODUCT("2",{3})',
            "=AVERAGE(TRUE,{3})",
            "=MEDIAN(FALSE,{4,6})",
            '=PRODUCT("x",{3})',
            '=COUNT(1,{1,2,"a"})',
            "=PRODUCT(2,{1,2,3})",
        ],
        {"E": [True]},
        array=array,
    )
    assert got[:8] == [2.0, 2.0, 1.0, 1.0, 1.0, 6.0, 2.0, 4.0]
    assert isinstance(got[8], ExcelError) and got[8].code == "#VALUE!"
    assert got[9:] == [3.0, 12.0]


def test_3d_references_and_intersections_are_references_not_array_values(tmp_path: Path) -> None:
    """``F(S1:S3!A1:A2)`` is F over the same cells of every sheet from S1 to S3 (Microsoft, "Create
    a 3-D reference to the same cell range on multiple worksheets": SUM, AVERAGE, COUNT, PRODUCT,
    STDEV, VAR and their variants take them), for every aggregate here. The text ``S1:S3!A1:A2``
    holds a colon but is no array value: taken as one, COUNT was 0 and AVERAGE #VALUE! (Apache
    POI's 55906-MultiSheetRefs test book, our holdout). An intersection (``S2!A1:B2 S2!A1:A2``,
    Microsoft, "Calculation operators and precedence": "one reference to cells common to the two
    references") likewise."""
    wb = openpyxl.Workbook()
    sheets = [wb.active, wb.create_sheet("S2"), wb.create_sheet("S3")]
    sheets[0].title = "S1"
    cells = [[4.0, 1.0], [2.0, 8.0], [3.0, 5.0]]
    for ws, (a1, a2) in zip(sheets, cells, strict=True):
        ws["A1"], ws["A2"] = a1, a2
    functions = ["COUNT", "COUNTA", "AVERAGE", "PRODUCT", "MEDIAN", "GEOMEAN", "HARMEAN", "KURT", "SKEW", "STDEVA", "VARPA"]
    for r, f in enumerate(functions, 1):
        sheets[0][f"J{r}"] = f"={f}(S1:S3!A1:A2)"
        sheets[0][f"K{r}"] = f"={f}(S2!A1:B2 S2!A1:A2)"  # an intersection: S2's A1:A2
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    xs = [v for pair in cells for v in pair]
    wrong = {f: got[("S1", r, 10)] for r, f in enumerate(functions, 1) if not _agrees(got[("S1", r, 10)], expected(f, xs))}
    assert not wrong
    wrong = {f: got[("S1", r, 11)] for r, f in enumerate(functions, 1) if not _agrees(got[("S1", r, 11)], expected(f, cells[1]))}
    assert not wrong  # the intersection operator: PRODUCT of it was 1 while taken as an array value


def test_a_range_ending_in_a_reference_function_is_a_reference(tmp_path: Path) -> None:
    """``A1:OFFSET(...)``, ``A1:INDEX(...)``, ``A1:CHOOSE(...)`` are references ("Calculation
    operators and precedence": ``:`` makes one reference of two; OFFSET, INDEX and CHOOSE return
    references), read by AVERAGE/COUNT as cells: the numbers of A1:A4 = 1, 2, 3, 5 (found by the
    index-range helper: AVERAGE of such a range was 0, taken as an array value). An IF filter alone
    stays an array value: with text in the range, ``{=AVERAGE(IF(r>1,r))}`` averages the numbers it
    keeps ("x">1 is TRUE in Excel's comparison order: text above numbers, "Calculation operators")."""
    got = compute(
        tmp_path,
        [
            "=AVERAGE(A1:OFFSET(A1,COUNTA(A1:A4)-1,0))",
            "=AVERAGE(A1:INDEX(A:A,4))",
            "=COUNT(A1:CHOOSE(2,A2,A3))",
            "=AVERAGE(IF(E1:E5>1,E1:E5))",
            "=COUNT(IF(E1:E5>1,E1:E5))",
        ],
        {"E": [1.0, 2.0, "x", 4.0, 5.0]},
        array=False,
    )
    assert got[:3] == [11 / 4, 11 / 4, 3.0]
    got = compute(tmp_path, ["=AVERAGE(IF(E1:E5>1,E1:E5))", "=COUNT(IF(E1:E5>1,E1:E5))"], {"E": [1.0, 2.0, "x", 4.0, 5.0]})
    assert got == [11 / 3, 3.0]
