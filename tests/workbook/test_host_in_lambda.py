"""Host calls that read a LET name or a LAMBDA parameter (addin/headless/bound_names.py).

A host function's call is cut out of its formula into a scratch cell, where a LET name or a
LAMBDA parameter means nothing: the outside audit found ``=LET(x,2,MATCH(x,A1:A3))`` #NAME?
(Excel: 2) and MAP/BYROW/SCAN/REDUCE/MAKEARRAY over MATCH, NPV, CONCAT, TEXTJOIN, TEXT #NAME? or
wrong. Excel's meaning, from Microsoft's reference:

* "LET function": LET "assigns names to calculation results"; the name stands for its value in
  the calculation, so ``LET(x, v, F(x))`` is ``F(v)``;
* "MAP function": "Returns an array formed by mapping each value in the array(s) to a new value
  by applying a LAMBDA"; "BYROW function" / "BYCOL function": the LAMBDA applied to each row /
  column; "SCAN function" / "REDUCE function": the LAMBDA given the accumulator and each value;
  "MAKEARRAY function": the LAMBDA given each row and column number. So the element of
  ``MAP(arr, LAMBDA(x, F(x)))`` at a position is ``F`` of the element there.

The audit's cases are checked against Excel's values reasoned from those pages and each
function's page (the reasoning beside each). Every host function of the engine's table (so a
new one is covered when added) is checked by the two identities above: ``LET(x, D2, F(x, …))``
and the second element of ``MAP(D1:D2, LAMBDA(x, F(x, …)))`` are ``F(D2, …)`` (for a range argument,
``LET(x, H1:H3, …)`` and the second column of ``BYCOL(G1:H3, …)`` are ``F(H1:H3, …)``), whose own
value each function's tests check against Excel. No tolerance: the same host function computes the
same arguments.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from addin.headless import ExcelError, HostFunction, recalculate
from addin.headless.excel_functions import excel_functions
from addin.headless.host import elementwise
from addin.headless.values import BookError

from .bookkit import compute

_A = {"A1": 1, "A2": 2, "A3": 3}


def _joined(array: str) -> str:
    """The three elements of a 3x1 array joined by ``&`` (IronCalc 0.9.1's CONCAT of a LAMBDA
    helper's array is #NAME?, "not implemented": a separate class, in the report)."""
    return f"=LET(m,{array},INDEX(m,1,1)&INDEX(m,2,1)&INDEX(m,3,1))"


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        # MATCH(2, {1;2;3}) approximate (match_type 1 omitted): the largest value <= 2 is at position 2
        ("=LET(x,2,MATCH(x,A1:A3))", 2.0),
        ("=LET(x,1,y,x+1,MATCH(y,A1:A3))", 2.0),  # y is 2: LET's names read the earlier ones
        ("=LET(v,A2,VLOOKUP(v,A1:A3,1))", 2.0),  # VLOOKUP approximate finds 2 itself
        # each element found at its own position: 1 + 2 + 3
        ("=SUM(MAP(A1:A3,LAMBDA(x,MATCH(x,A1:A3))))", 6.0),
        ("=SUM(MAP(A1:A3,LAMBDA(x,VLOOKUP(x,A1:A3,1))))", 6.0),
        ("=SUM(BYROW(A1:A3,LAMBDA(r,MATCH(r,A1:A3))))", 6.0),
        # one column {1;2;3}: MATCH(2, it) is 2
        ("=SUM(BYCOL(A1:A3,LAMBDA(c,MATCH(2,c))))", 2.0),
        # 0 + 1 + 2 + 3, and the running sums 1, 3, 6 added up
        ("=REDUCE(0,A1:A3,LAMBDA(a,x,a+MATCH(x,A1:A3)))", 6.0),
        ("=SUM(SCAN(0,A1:A3,LAMBDA(a,x,a+MATCH(x,A1:A3))))", 10.0),
        # MATCH(r, {1;2;3}) is r: rows 1, 1, 2, 2 of a 2x2 array
        ("=SUM(MAKEARRAY(2,2,LAMBDA(r,c,MATCH(r,A1:A3))))", 6.0),
        # "NPV function": one value at the end of period 1 is x / (1 + rate): (1 + 2 + 3) / 1.1
        ("=SUM(MAP(A1:A3,LAMBDA(x,NPV(0.1,x))))", 6 / 1.1),
        # values 1 and 2 at the ends of periods 1 and 2: 1/1.1 + 2/1.1^2
        ("=LET(v,{1,2},NPV(0.1,v))", 1 / 1.1 + 2 / 1.1**2),
        # "CONCAT function": the array constant's texts then the number
        (_joined('MAP(A1:A3,LAMBDA(x,CONCAT({"a","b"},x)))'), "ab1ab2ab3"),
        # "TEXTJOIN function": the constant's texts and x joined by "-"
        (_joined('MAP(A1:A3,LAMBDA(x,TEXTJOIN("-",TRUE,{"a","b"},x)))'), "a-b-1a-b-2a-b-3"),
        # "TEXT function": format "0.0" shows one decimal
        (_joined('MAP(A1:A3,LAMBDA(x,TEXT(x,"0.0")))'), "1.02.03.0"),
        # the parameter inside an expression and a LET inside the LAMBDA: MATCH(x+0, …) is x
        ("=SUM(MAP(A1:A3,LAMBDA(x,LET(y,x+0,MATCH(y,A1:A3)))))", 6.0),
    ],
)
def test_the_audits_cases_are_excels_values(tmp_path: Path, text: str, excel: Any) -> None:
    (got,) = compute(tmp_path, [text], _A)
    if isinstance(excel, float):
        assert isinstance(got, float) and math.isclose(got, excel, rel_tol=1e-15), got  # NPV's divisions: an ulp apart at most
    else:
        assert got == excel


def test_a_book_host_function_reads_lambda_parameters(tmp_path: Path) -> None:
    """A caller's host function (an add-in function IronCalc cannot evaluate at all) inside MAP:
    the add-in function DOUBLE_IT(x) = 2x of each element, 2 + 4 + 6."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in _A.items():
        ws[ref] = v
    ws["B1"] = "=SUM(MAP(A1:A3,LAMBDA(x,DOUBLE_IT(x))))"
    ws["B2"] = "=LET(x,A3,DOUBLE_IT(x))"
    wb.save(tmp_path / "b.xlsx")
    twice = HostFunction("DOUBLE_IT", elementwise(lambda args: 2 * args[0]))
    got = recalculate(tmp_path / "b.xlsx", {"DOUBLE_IT": twice}).values
    assert (got[("S", 1, 2)], got[("S", 2, 2)]) == (12.0, 6.0)


@pytest.mark.parametrize(
    "text",
    [
        "=REDUCE(0,A1:A3,LAMBDA(a,x,MATCH(a+1,A1:A3)+x))",  # the accumulator
        "=LET(f,LAMBDA(x,MATCH(x,A1:A3)),f(2))",  # a LAMBDA through a name
        "=SUM(MAP(SEQUENCE(3),LAMBDA(x,MATCH(x,A1:A3))))",  # an array whose size only computing shows
        "=LET(x,RAND(),MATCH(x,A1:A3))",  # one draw in Excel
    ],
)
def test_what_cannot_be_given_is_an_error_with_its_reason(tmp_path: Path, text: str) -> None:
    """Never a plausible number: #CALC! with the reason (docs/headless-semantics.md)."""
    (got,) = compute(tmp_path, [text], _A)
    assert isinstance(got, ExcelError) and got.code == "#CALC!" and got.reason, got


# ----------------------------------------------------------------------------- every host function

#: Argument lists after the first (the bound one) tried for each function: those giving a value
#: that is not an error are the function's samples.
_RESTS = [
    "",
    ",1",
    ",2,1",
    ",A1:A3",
    ",A1:A3,1",
    ',"-"',
    ',">0"',
    ",1,2",
    ",1,2,3",
    ",A1:A3,A1:A3",
    ',"-",1',
    ',"m","cm"',
    ',400,"d"',
    ",A1:A3,2,1",
    ",1,5,0,1",
    ",A1:A3,LAMBDA(v,SUM(v))",
    ",H1:H3,A1:A3,LAMBDA(v,SUM(v))",
]
#: The bound argument: a cell of a column holding two values (numbers, texts, complex numbers
#: and digits), read as MAP's second element; or (``G``) a column of G1:H3, read as BYCOL's second.
_COLUMNS: dict[str, tuple[Any, Any] | None] = {"D": (2, 3), "E": ("a-b", "1-2-2024"), "F": ("1+2i", "11"), "G": None}
_TABLE = excel_functions(False)
_NAMES = sorted(_TABLE)


def _forms(name: str, col: str, rest: str) -> tuple[str, str, str]:
    """The direct call, the LET form and the helper's element, each the top-left value of a
    function whose result is an array (MAP's LAMBDA must give one value: "MAP function")."""

    def one(call: str) -> str:
        return f"INDEX({call},1,1)" if _TABLE[name].spills else call

    if _COLUMNS[col] is None:
        return (
            f"={one(f'{name}(H1:H3{rest})')}",
            f"=LET(x,H1:H3,{one(f'{name}(x{rest})')})",
            f"=INDEX(BYCOL(G1:H3,LAMBDA(x,{one(f'{name}(x{rest})')})),1,2)",
        )
    return (
        f"={one(f'{name}({col}2{rest})')}",
        f"=LET(x,{col}2,{one(f'{name}(x{rest})')})",
        f"=INDEX(MAP({col}1:{col}2,LAMBDA(x,{one(f'{name}(x{rest})')})),2,1)",
    )


_Key = tuple[str, str, str]


def _book(tmp: Path, keys: list[_Key]) -> dict[_Key, tuple[Any, ...]]:
    """Every form of each (function, column, rest) in one book (one recalculation)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in _A.items():
        ws[ref] = v
    for col, pair in _COLUMNS.items():
        if pair is not None:
            ws[f"{col}1"], ws[f"{col}2"] = pair
    for r, (g, h) in enumerate([(1, 2), (2, 5), (4, 7)], 1):
        ws[f"G{r}"], ws[f"H{r}"] = g, h
    for row, key in enumerate(keys, 1):
        for k, text in enumerate(_forms(*key)):
            ws.cell(row, 10 + k).value = text
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    return {key: tuple(got[("S", row, 10 + k)] for k in range(3)) for row, key in enumerate(keys, 1)}


def _values(tmp: Path, keys: list[_Key]) -> dict[_Key, tuple[Any, ...]]:
    """:func:`_book`, function by function and then with fewer arguments where IronCalc 0.9.1
    cannot read a book (it panics on a call with more arguments than its function takes,
    ``SLOPE(D2,1,2)``: in the report); a function's calls it never reads are left out."""
    try:
        return _book(tmp, keys)
    except BookError:
        names = sorted({k[0] for k in keys})
        if len(names) > 1:
            out: dict[_Key, tuple[Any, ...]] = {}
            for name in names:
                out.update(_values(tmp, [k for k in keys if k[0] == name]))
            return out
        most = max(k[2].count(",") for k in keys)
        fewer = [k for k in keys if k[2].count(",") < most]
        return _values(tmp, fewer) if fewer else {}


@pytest.fixture(scope="module")
def every_call(tmp_path_factory: pytest.TempPathFactory) -> dict[_Key, tuple[Any, ...]]:
    """All forms of the candidates of every host function: those of two arguments at most in one
    book, then the longer ones of the functions still without a value."""
    tmp = tmp_path_factory.mktemp("every")
    short = [(n, c, r) for n in _NAMES for c in _COLUMNS for r in _RESTS if r.count(",") <= 1]
    got = _values(tmp, short)
    valued = {k[0] for k, v in got.items() if not isinstance(v[0], ExcelError)}
    longer = [(n, c, r) for n in _NAMES if n not in valued for c in _COLUMNS for r in _RESTS if r.count(",") > 1]
    got.update(_values(tmp, longer))
    return got


@pytest.mark.parametrize("name", _NAMES)
def test_every_host_function_reads_let_names_and_map_elements(name: str, every_call: dict[_Key, tuple[Any, ...]]) -> None:
    """``LET(x, D2, F(x, …))`` and MAP's element at D2 are ``F(D2, …)`` (module docstring), for
    every candidate whose direct call is a value; at least one candidate must be (else add one)."""
    checked = 0
    for col in _COLUMNS:
        for rest in _RESTS:
            if (name, col, rest) not in every_call:
                continue
            direct, let, mapped = every_call[(name, col, rest)]
            if isinstance(direct, ExcelError):
                continue
            checked += 1
            assert let == direct, (_forms(name, col, rest)[1], let, direct)
            assert mapped == direct, (_forms(name, col, rest)[2], mapped, direct)
    assert checked, f"no sample call of {name} gives a value: add its arguments to _RESTS"


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        # "MAKEARRAY function" with counts ROWS(A1:A3) = 3 and COLUMNS(A1) = 1 ("ROWS function",
        # "COLUMNS function"): MATCH(r, {1;2;3}) is r, 1 + 2 + 3
        ("=SUM(MAKEARRAY(ROWS(A1:A3),COLUMNS(A1),LAMBDA(r,c,MATCH(r,A1:A3))))", 6.0),
        # a constant expression of sizes: 1 row x (3 - 1) columns, MATCH(1, …) twice
        ("=SUM(MAKEARRAY(1,ROWS(A1:A3)-1,LAMBDA(r,c,MATCH(r,A1:A3))))", 2.0),
        # the count of an array constant: {1,2} has 2 columns
        ("=SUM(MAKEARRAY(COLUMNS({1,2}),1,LAMBDA(r,c,MATCH(r,A1:A3))))", 3.0),
    ],
)
def test_makearray_counts_known_from_sizes_are_accepted(tmp_path: Path, text: str, excel: float) -> None:
    """MAKEARRAY's counts written as ROWS/COLUMNS of a reference (or arithmetic of such sizes) are
    known from the text like written numbers; they were refused with #CALC!."""
    assert compute(tmp_path, [text], _A) == [excel]


def test_makearray_counts_known_only_once_computed_stay_refused(tmp_path: Path) -> None:
    """A count read from a cell is known only once computed: still #CALC! with the reason."""
    (got,) = compute(tmp_path, ["=SUM(MAKEARRAY(A2,1,LAMBDA(r,c,MATCH(r,A1:A3))))"], _A)
    assert isinstance(got, ExcelError) and got.code == "#CALC!" and "MAKEARRAY" in got.reason
