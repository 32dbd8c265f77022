"""Functions of one value given arrays inside array formulas (addin/headless/lifting.py).

The rule (ECMA-376 Part 1, §18.17.2 "Single- and Multi-Cell Formulas", and Microsoft,
"Guidelines and examples of array formulas"): in an array formula a function whose parameter
takes one value and is given an array is evaluated for each element; arrays of different sizes
are broadcast (one row or one column repeats along it) and positions beyond a smaller array are
#N/A; the array range itself repeats a one-row/one-column result and fills cells beyond a larger
result with #N/A. The expected values below are that rule computed in Python with each
function's definition from Microsoft's reference (FISHER: 0.5·ln((1+x)/(1-x)), #NUM! unless
-1 < x < 1; NORM.S.DIST(z,TRUE): the standard normal CDF; MOD(n,d): n - d·INT(n/d), #DIV/0!
for d = 0; CODE: the first character's code). None comes from this engine.

Tolerance: 1e-12 relative for FISHER and MOD (one or two floating-point library calls: IronCalc
and Python's math module differ by a few ulps at most); 1e-9 for NORM.S.DIST, the corpus rule
(`bench/corpus.py`), because IronCalc 0.9.1's normal CDF is an approximation (3e-11 relative
at z = 0.75, measured): that is the engine's accuracy, not the element-by-element rule tested.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from addin.headless.lifting import lift
from tests.workbook.bookkit import compute

NA = ExcelError("#N/A")
NUM = ExcelError("#NUM!")
DIV0 = ExcelError("#DIV/0!")
VALUE = ExcelError("#VALUE!")


def _fisher(x: Any) -> Any:
    if isinstance(x, ExcelError):
        return x
    if isinstance(x, str):
        return VALUE
    x = float(x or 0)
    return 0.5 * math.log((1 + x) / (1 - x)) if -1 < x < 1 else NUM


def _norm_s_dist(x: Any) -> Any:
    if isinstance(x, ExcelError):
        return x
    if isinstance(x, str):
        return VALUE
    return 0.5 * math.erfc(-float(x or 0) / math.sqrt(2))


def _mod(n: Any, d: Any) -> Any:
    for v in (n, d):
        if isinstance(v, ExcelError):
            return v
    n, d = float(n or 0), float(d or 0)
    if d == 0:
        return DIV0
    return n - d * math.floor(n / d)


def _close(got: Any, want: Any, rtol: float = 1e-12) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return abs(got - want) <= rtol * max(1.0, abs(want))
    return bool(got == want)


def _write(path: Path, rows: dict[int, list[Any]], formulas: list[tuple[str, str]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, values in rows.items():
        for c, v in enumerate(values, 1):
            if isinstance(v, ExcelError):
                ws.cell(r, c, "=NA()" if v == NA else "=1/0")
            elif v is not None:
                ws.cell(r, c, v)
    for ref, text in formulas:
        ws[ref.split(":")[0]] = ArrayFormula(ref, text)
    wb.save(path)


_cells = st.one_of(
    st.floats(-0.999, 0.999, allow_nan=False).map(lambda x: round(x, 6)),
    st.sampled_from([-1.0, 1.0, 2.5, None, "x", NA]),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_cells, min_size=1, max_size=6), extra=st.integers(0, 2))
def test_a_one_value_function_over_a_range_in_an_array_formula_is_each_elements_value(
    tmp_path: Path, values: list[Any], extra: int
) -> None:
    """FISHER and NORM.S.DIST over a row, entered over that row and ``extra`` cells more (#N/A)."""
    n = len(values)
    last = get_column_letter(n)
    wide = get_column_letter(n + extra)
    book = tmp_path / "lift.xlsx"
    _write(
        book,
        {1: values},
        [(f"A3:{wide}3", f"=FISHER(A1:{last}1)"), (f"A4:{wide}4", f"=NORM.S.DIST(A1:{last}1,TRUE)")],
    )
    res = recalculate(book)
    for row, fn, rtol in ((3, _fisher, 1e-12), (4, _norm_s_dist, 1e-9)):
        for c in range(1, n + extra + 1):
            # a one-cell result fills the range (it is one row and one column)
            want = fn(values[0 if n == 1 else c - 1]) if c <= n or n == 1 else NA
            got = res.cell("S", row, c)
            assert _close(got, want, rtol), (row, c, values, got, want)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    across=st.lists(st.integers(-9, 9), min_size=1, max_size=4),
    down=st.lists(st.integers(-4, 4), min_size=1, max_size=3),
    other=st.lists(st.integers(1, 5), min_size=1, max_size=4),
)
def test_two_arrays_are_broadcast_and_na_beyond_the_smaller(
    tmp_path: Path, across: list[int], down: list[int], other: list[int]
) -> None:
    """``MOD(row, column)`` is the grid of every pair; ``MOD(row, row)`` of two lengths is #N/A
    beyond the shorter; the range entered is 4 × 5, larger than any result."""
    book = tmp_path / "broadcast.xlsx"
    rows: dict[int, list[Any]] = {1: list(across), 2: list(other)}
    for i, d in enumerate(down):
        rows.setdefault(10 + i, [None] * 8)[7] = d  # H10:H12, a column
    a = f"A1:{get_column_letter(len(across))}1"
    o = f"A2:{get_column_letter(len(other))}2"
    h = f"H10:H{9 + len(down)}"
    _write(book, rows, [("A20:E23", f"=MOD({a},{h})"), ("A30:E33", f"=MOD({a},{o})")])
    res = recalculate(book)
    for r in range(4):
        for c in range(5):
            # the grid: rows from the column, columns from the row; a result of one row or
            # column repeats across the entered range, beyond a larger one #N/A
            i = 0 if len(down) == 1 else r
            j = 0 if len(across) == 1 else c
            want = _mod(across[j], down[i]) if i < len(down) and j < len(across) else NA
            assert _close(res.cell("S", 20 + r, 1 + c), want), ("grid", r, c, across, down)
            # one row of max(len) columns; a one-cell result fills the whole range
            width = max(len(across), len(other))
            k = 0 if width == 1 else c
            if k >= width:
                want = NA
            else:
                x = across[0] if len(across) == 1 else (across[k] if k < len(across) else None)
                y = other[0] if len(other) == 1 else (other[k] if k < len(other) else None)
                want = NA if x is None or y is None else _mod(x, y)
            assert _close(res.cell("S", 30 + r, 1 + c), want), ("pairs", r, c, across, other)


def test_only_the_one_value_parameters_are_lifted(tmp_path: Path) -> None:
    """LARGE's ``k`` is one value and its ``array`` a range (Microsoft, "LARGE function"):
    ``{=LARGE(A1:E1,A2:B2)}`` is the 1st and 2nd largest; CODE of each cell (Microsoft, "CODE
    function": "the text for which you want the code of the first character")."""
    book = tmp_path / "params.xlsx"
    _write(
        book,
        {1: [3, 9, 1, 7, 5], 2: [1, 2], 3: ["a", "Bc", "0"]},
        [("A5:C5", "=LARGE(A1:E1,A2:B2)"), ("A6:C6", "=CODE(A3:C3)"), ("A7:A7", "=SUM(FISHER(A8:C8))")],
    )
    res = recalculate(book)
    assert [res.cell("S", 5, c) for c in (1, 2, 3)] == [9, 7, NA]
    assert [res.cell("S", 6, c) for c in (1, 2, 3)] == [97, 66, 48]
    assert res.cell("S", 7, 1) == 0  # three blanks: FISHER(0) each


def test_calls_under_sumproduct_lift_and_scalar_formulas_are_left_alone(tmp_path: Path) -> None:
    """SUMPRODUCT's arguments are arrays (Microsoft, "SUMPRODUCT function"), so a one-value
    function inside is evaluated per element without Ctrl+Shift+Enter; a plain formula is not
    rewritten (``=FISHER(A1:C1)`` outside an array formula intersects, Excel's ``@``)."""
    assert lift("=FISHER(A1:C1)", array_formula=False) == "=FISHER(A1:C1)"
    assert lift("=SUMPRODUCT(FISHER(A1:C1))", array_formula=False).startswith("=SUMPRODUCT(MAP(")
    assert lift("=FISHER(SUM(A1:C1))", array_formula=True) == "=FISHER(SUM(A1:C1))"
    book = tmp_path / "sumproduct.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for c, v in enumerate([0.1, 0.2, 0.3], 1):
        ws.cell(1, c, v)
    ws["A2"] = "=SUMPRODUCT(FISHER(A1:C1))"
    wb.save(book)
    want = sum(_fisher(v) for v in (0.1, 0.2, 0.3))
    assert recalculate(book).cell("S", 2, 1) == pytest.approx(want, rel=1e-12)


def test_irr_of_values_holding_an_error_is_value_and_its_guess_lifts(tmp_path: Path) -> None:
    """IRR (Microsoft, "IRR function": values need a positive and a negative number; text,
    logicals and empty cells are ignored). An error among the values is #VALUE! in Excel: its
    cached values in formulas' function test book (``IRR({-7,2,-1,4,-3;7,2,-1,4,#N/A})`` and
    ``IRR(C27:K27)`` over a row holding #N/A are #VALUE!; IronCalc passed the #N/A on). The
    guess is one value: ``{=IRR(values,A3:B3)}`` is IRR once per guess. The reference rate is
    the root of NPV in Python (bisection to 1e-15), against Excel's 0.00001% (1e-7) stop: the
    tolerance 1e-6 relative covers Excel's rule, not the engine's own earlier output."""
    book = tmp_path / "irr.xlsx"
    flows = [-100, 30, 40, 50]
    _write(book, {1: flows, 2: [-100, 30, NA, 50], 3: [0.1, 0.2]}, [("A5:C5", "=IRR(A1:D1,A3:B3)")])
    wb = openpyxl.load_workbook(book)
    wb["S"]["A6"] = "=IRR(A2:D2)"
    wb["S"]["A7"] = "=IRR({-7,2,-1,4,-3;7,2,-1,4,#N/A})"
    wb["S"]["A8"] = '=IRR({-100,"x",30,TRUE,40,50})'
    wb.save(book)

    def npv(rate: float) -> float:
        return sum(f / (1 + rate) ** i for i, f in enumerate(flows))

    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if npv(mid) > 0 else (lo, mid)
    res = recalculate(book)
    assert res.cell("S", 5, 1) == pytest.approx(lo, rel=1e-6)
    assert res.cell("S", 5, 2) == pytest.approx(lo, rel=1e-6)
    assert res.cell("S", 5, 3) == NA
    assert res.cell("S", 6, 1) == VALUE
    assert res.cell("S", 7, 1) == VALUE
    assert res.cell("S", 8, 1) == pytest.approx(lo, rel=1e-6)  # text and logicals in an array ignored


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.sampled_from([-5.0, 0.5, 1.0, 2.5, 3.5, 9.0, None]), min_size=1, max_size=5))
def test_lookup_of_a_range_of_values_in_an_array_formula_looks_each_one_up(tmp_path: Path, values: list[Any]) -> None:
    """``{=LOOKUP(A1:E1,{1,2,3},{"a","b","c"})}``: LOOKUP of each value (the largest value in
    the sorted vector not above it, #N/A below the first: Microsoft, "LOOKUP function"); a blank
    is 0 there. LOOKUP, VLOOKUP, HLOOKUP and MATCH are this project's host functions
    (addin/headless/lookups.py), which lift their lookup value themselves."""
    n = len(values)
    book = tmp_path / "lookup.xlsx"
    last = get_column_letter(n)
    _write(
        book,
        {1: values},
        [(f"A3:{get_column_letter(n + 1)}3", f'=LOOKUP(A1:{last}1,{{1,2,3}},{{"a","b","c"}})'),
         (f"A4:{get_column_letter(n + 1)}4", f"=MATCH(A1:{last}1,{{1,2,3}})")],
    )  # fmt: skip
    res = recalculate(book)
    for c in range(1, n + 2):
        v = values[0 if n == 1 else c - 1] if c <= n or n == 1 else None
        if c > n and n > 1:
            want_l: Any = NA
            want_m: Any = NA
        else:
            x = float(v or 0)
            k = sum(1 for key in (1, 2, 3) if key <= x)
            want_l = NA if k == 0 else "abc"[k - 1]
            want_m = NA if k == 0 else float(k)
        assert res.cell("S", 3, c) == want_l, (c, values)
        assert res.cell("S", 4, c) == want_m, (c, values)


def _xlookup(x: float, look: list[float], ret: list[Any], missing: Any, mode: int, search: int) -> Any:
    """XLOOKUP by Microsoft's "XLOOKUP function": match_mode 0 exact, -1 exact or the next
    smaller item, 1 exact or the next larger; search_mode 1 from the first, -1 from the last;
    no match: if_not_found, else #N/A. Values are distinct, so "next smaller" names one item."""
    order = list(range(len(look))) if search == 1 else list(range(len(look)))[::-1]
    hits = [i for i in order if look[i] == x]
    if not hits and mode == -1:
        below = [v for v in look if v < x]
        hits = [look.index(max(below))] if below else []
    if not hits and mode == 1:
        above = [v for v in look if v > x]
        hits = [look.index(min(above))] if above else []
    return ret[hits[0]] if hits else missing


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    look=st.lists(st.integers(-9, 9), min_size=1, max_size=5, unique=True),
    xs=st.lists(st.integers(-10, 10), min_size=4, max_size=4),
    vertical=st.booleans(),
)
def test_xlookup_over_array_constants_is_microsofts_definition(
    tmp_path: Path, look: list[int], xs: list[int], vertical: bool
) -> None:
    """IronCalc 0.9.1's XLOOKUP over array constants is #N/A whatever it looks up (formulas'
    test book: ``XLOOKUP(-2,{-1.1,2.1,3.1,4.1},{1,2,3,4},"pippo")`` is "pippo" in Excel's cached
    values); it is XMATCH's position in the result vector (addin/headless/semantics.py)."""
    sep = ";" if vertical else ","
    lk = "{" + sep.join(str(v) for v in look) + "}"
    ret = [f"r{i}" for i in range(len(look))]
    rt = "{" + sep.join(f'"{v}"' for v in ret) + "}"
    cases = [(x, mode, search) for x in xs for mode, search in ((0, 1), (-1, 1), (1, -1), (0, -1))]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for k, (x, mode, search) in enumerate(cases, 1):
        ws.cell(k, 1, f'=XLOOKUP({x},{lk},{rt},"none",{mode},{search})')
    wb.save(tmp_path / "x.xlsx")
    res = recalculate(tmp_path / "x.xlsx")
    for k, (x, mode, search) in enumerate(cases, 1):
        want = _xlookup(float(x), [float(v) for v in look], ret, "none", mode, search)
        assert res.cell("S", k, 1) == want, (x, look, mode, search)


def test_n_of_a_range_is_n_of_its_first_cell(tmp_path: Path) -> None:
    """N of a range reads its first cell, in an array formula too: Excel's cached values in
    formulas' function test book (``{=N(C19:Q19)}`` over AH19:AW19 is N(C19), 4, in every cell).
    N's own rule (Microsoft, "N function"): a number is itself, TRUE 1, an error the error,
    anything else 0. IronCalc 0.9.1: "not implemented" for a range."""
    book = tmp_path / "n.xlsx"
    _write(book, {1: [4, "x", True], 2: ["x", 4], 3: [True, 4]}, [("A5:C5", "=N(A1:C1)")])
    wb = openpyxl.load_workbook(book)
    wb["S"]["A6"], wb["S"]["A7"], wb["S"]["A8"] = "=N(A2:B2)", "=N(A3:B3)", "=N(A9:B9)"
    wb.save(book)
    res = recalculate(book)
    assert [res.cell("S", 5, c) for c in (1, 2, 3)] == [4, 4, 4]
    assert [res.cell("S", r, 1) for r in (6, 7, 8)] == [0, 1, 0]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shapes=st.lists(
        st.tuples(st.booleans(), st.integers(1, 4), st.booleans(), st.integers(1, 4), st.integers(0, 5)), min_size=1, max_size=6
    )
)
def test_xlookup_over_array_constants_of_other_sizes_is_value(
    tmp_path: Path, shapes: list[tuple[bool, int, bool, int, int]]
) -> None:
    """Microsoft, "XLOOKUP function": the return array must have the lookup array's size; the
    auditor's ``XLOOKUP(2,{1,2,3},{"a","b"})`` is #VALUE! in Excel (it was "b"). A lookup vector
    and a result vector of another length or orientation are #VALUE! whatever is looked up;
    the same length and orientation are Microsoft's definition (a one-element constant is a
    row and a column at once)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for k, (vl, nl, vr, nr, x) in enumerate(shapes, 1):
        lk = "{" + (";" if vl else ",").join(str(i) for i in range(1, nl + 1)) + "}"
        rt = "{" + (";" if vr else ",").join(f'"r{i}"' for i in range(1, nr + 1)) + "}"
        ws.cell(k, 1, f'=XLOOKUP({x},{lk},{rt},"none")')
    wb.save(tmp_path / "x.xlsx")
    res = recalculate(tmp_path / "x.xlsx")
    for k, (vl, nl, vr, nr, x) in enumerate(shapes, 1):
        same = nl == nr and (vl == vr or nl == 1)
        want = ("none" if not 1 <= x <= nl else f"r{x}") if same else "#VALUE!"
        got = res.cell("S", k, 1)
        assert getattr(got, "code", got) == want, (vl, nl, vr, nr, x)


# Inputs of the IS-of-an-array cases: numbers in A1:A3 (COS of each a number), numbers in
# C1:C5, keys in D1:D5.
_IS_INPUTS: dict[str, object] = {"A1": 1.5, "A2": -2.5, "A3": 0.25, **{f"C{i}": 2.0**i for i in range(1, 6)}}
_IS_INPUTS.update({f"D{i}": k for i, k in enumerate("ababc", 1)})


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        # IronCalc evaluates COS element by element itself; ISNUMBER of its three numbers is three
        # TRUEs (Microsoft, "IS functions": "ISNUMBER: value refers to a number"; "SUMPRODUCT
        # function": -- turns TRUE into 1)
        ("=SUMPRODUCT(--ISNUMBER(COS($A$1:$A$3)))", 3.0),
        ("=SUMPRODUCT(--ISTEXT(UPPER($A$1:$A$3)))", 3.0),  # UPPER of a number is text
        # a LET name stands for its value, the range (Microsoft, "LET function"): EXP of 5 numbers
        ("=LET(x,$C$1:$C$5,SUMPRODUCT(--ISNUMBER(EXP(x))))", 5.0),
        ("=SUMPRODUCT(--ISNUMBER(LET(x,$C$1:$C$5,x)))", 5.0),
        # a host function given an array of criteria (conditionals): MAXIFS per key, every one a number
        # (Microsoft, "MAXIFS function": 0 when nothing matches)
        ('=SUMPRODUCT(--ISNUMBER(MAXIFS($C$1:$C$5,$D$1:$D$5,{"a";"b";"z"})))', 3.0),
    ],
)
def test_a_function_of_an_array_the_engine_lifts_is_an_array(tmp_path: Path, text: str, excel: float) -> None:
    """ISNUMBER and ISTEXT of an argument that is an array (a function IronCalc lifts itself, a LET
    name bound to a range, a host call given an array of criteria) are one value per element; they
    were one FALSE (0 summed) before."""
    assert compute(tmp_path, [text], _IS_INPUTS) == [excel]


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        # "COMBIN function": C(5,1) + C(5,2) + C(5,3) = 5 + 10 + 10
        ("=SUMPRODUCT(COMBIN(5,{1;2;3}))", 25.0),
        # "SLN function": (cost - salvage) / life of each cost 2, 4, 8 (C1:C3), life 2
        ("=SUMPRODUCT(SLN($C$1:$C$3,0,2))", 7.0),
        # "DAYS function": end_date - start_date of each end 2, 4, 8, 16, 32 (C1:C5), start 1
        ("=SUMPRODUCT(DAYS($C$1:$C$5,1))", 57.0),
        # "BASE function": text of each number, five texts
        ("=SUMPRODUCT(--ISTEXT(BASE($C$1:$C$5,2)))", 5.0),
    ],
)
def test_functions_ironcalc_reads_once_are_lifted(tmp_path: Path, text: str, excel: float) -> None:
    """Functions of one-value parameters found by the probe (``=ROWS(F(A1:A3))`` #VALUE! in
    IronCalc 0.9.1) evaluated per element under SUMPRODUCT (Microsoft, "SUMPRODUCT function";
    "Guidelines and examples of array formulas"); each was #VALUE! (a whole array given to one value)."""
    assert compute(tmp_path, [text], _IS_INPUTS) == [excel]


@pytest.mark.parametrize(
    "text",
    [
        "=SUMPRODUCT(--ISNUMBER(CHOOSE(NA(),1/3,$C$1:$C$5)))",
        "=SUMPRODUCT(--ISNUMBER(IF(#VALUE!,{-1;0.5;2},#N/A)))",
        "=LET(x,$C$1:$C$5,SUMPRODUCT(--ISNUMBER(CHOOSE(0,x,FALSE))))",
    ],
)
def test_an_is_function_of_a_call_that_gives_one_error_is_false(tmp_path: Path, text: str) -> None:
    """A call that may give an array gives one error here (CHOOSE of #N/A or of index 0 is
    #N/A/#VALUE!, "CHOOSE function"; IF of an error condition is that error, "IF function"):
    ISNUMBER of it is one FALSE ("IS functions": an error value is not a number), 0 summed,
    not the error."""
    assert compute(tmp_path, [text], _IS_INPUTS) == [0.0]
