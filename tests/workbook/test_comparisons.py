"""Comparisons of numbers to 15 significant digits (addin/headless/comparisons.py), one-cell
ranges where Excel takes a range, and calls under an array argument taking arrays element by
element (addin/headless/semantics.py, addin/headless/formula.py).

Expected values come from Microsoft's documentation (cited per test) and, for comparisons of
close numbers, from the rule LibreOffice documents in its source (``rtl::math::approxEqual``,
written out in :func:`approx_equal`) and from LibreOffice itself on the same book; none comes
from this engine.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError, recalculate
from addin.headless.comparisons import excel_comparisons
from tests.workbook.bookkit import compute

SOFFICE = shutil.which("soffice")
OPS = ("=", "<>", "<", ">", "<=", ">=")
_E48 = 2.0**-48


def approx_equal(a: float, b: float) -> bool:
    """Two numbers equal to about 15 significant digits: LibreOffice's ``rtl::math::approxEqual``
    (exact equality; else neither zero, not both integers below 2^53, and the difference under
    2^-48 of the smaller magnitude). Excel "stores and calculates 15 significant digits"
    (Microsoft, "Floating-point arithmetic may give inaccurate results in Excel")."""
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    d = abs(a - b)
    if not math.isfinite(d):
        return False
    if a.is_integer() and b.is_integer() and max(abs(a), abs(b)) < 2.0**53:
        return False
    return d < abs(a) * _E48 and d < abs(b) * _E48


def expected(a: float, op: str, b: float) -> bool:
    eq = approx_equal(a, b)
    less = not eq and a < b
    return {"=": eq, "<>": not eq, "<": less, ">": not eq and not less, "<=": eq or less, ">=": not less}[op]


def _book(path: Path, pairs: list[tuple[float, float]], op_of: list[str]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, ((a, b), op) in enumerate(zip(pairs, op_of, strict=True), 1):
        ws.cell(r, 1).value = a
        ws.cell(r, 2).value = b
        ws.cell(r, 3).value = f"=A{r}{op}B{r}"
    wb.save(path)


def _compute(tmp: Path, formulas: list[str], inputs: dict[str, object] | None = None) -> list[object]:
    return compute(tmp, formulas, inputs, column=5)


def test_comparisons_are_relative_not_an_absolute_epsilon(tmp_path: Path) -> None:
    """IronCalc 0.9.1 alone: ``3E-139=0`` TRUE, ``1E-20>0`` FALSE, ``1E-16=0`` TRUE. Excel
    compares to 15 significant digits: a number is never equal to zero unless it is zero, and
    ``0.1+0.2=0.3`` is TRUE (Microsoft, "Floating-point arithmetic may give inaccurate results
    in Excel")."""
    got = _compute(
        tmp_path,
        ["=3E-139=0", "=1E-20>0", "=-1E-20<0", "=1E-16=0", "=0.1+0.2=0.3", "=A1=A2", "=A1<A2", "=1<1+1E-14",
         '=A3="ABC"', "=A4=0", '=A4=""', "=1/0>1", "=IF(A2>=A1,\"y\",\"n\")", "=(1+2)*3>=9", '="a"&(1E-20>0)',
         "=2^53+1>2^53", "=A5<A6"],
        {"A1": 1.0, "A2": 1.0 + 2**-52, "A3": "abc", "A5": 281474976710656.0, "A6": 281474976710657.0},
    )  # fmt: skip
    assert got == [False, True, True, False, True, True, False, True, True, True, True, ExcelError("#DIV/0!"),
                   "y", True, "aTRUE", False, True]  # fmt: skip


def test_comparisons_of_arrays_and_text_are_left_to_the_engine() -> None:
    """Operands that may be arrays keep the engine's comparison (module docstring)."""
    for text in ("=SUMPRODUCT((A1:A3>0)*1)", '=COUNTIF(A1:A3,">0")', "={1,2}>1", '="a"&"b"'):
        assert excel_comparisons(text) == text
    assert excel_comparisons("=A1>0") != "=A1>0"


FAMILIES = st.sampled_from([0.0, 1.0, -1.0, 0.3, 1 / 3, 3e-139, 1e-20, 12345.678, 2.0**40, 1e15, -7.25e200, 5e-300])


@st.composite
def pairs(draw: st.DrawFn) -> tuple[float, float]:
    """A number and a neighbour a few units in the last places away, or at the 15-digit edge
    (2^-48 relative), or zero, or the same number."""
    a = draw(FAMILIES) * draw(st.sampled_from([1.0, -1.0]))
    how = draw(st.sampled_from(["ulps", "edge", "zero", "same", "far"]))
    if how == "ulps":
        b = a
        for _ in range(draw(st.integers(1, 40))):
            b = math.nextafter(b, math.inf if draw(st.booleans()) else -math.inf)
    elif how == "edge":
        b = a * (1 + draw(st.sampled_from([0.5, 0.9, 0.99, 1.01, 1.1, 2.0, 16.0])) * _E48 * draw(st.sampled_from([1, -1])))
    elif how == "zero":
        b = 0.0
    elif how == "same":
        b = a
    else:
        b = a * draw(st.floats(0.5, 2.0))
    a, b = stored(a), stored(b)
    return (a, b) if draw(st.booleans()) else (b, a)


def stored(x: float) -> float:
    """The number a book written by openpyxl holds: it writes 16 significant digits (``%.16g``)."""
    return float(f"{x:.16g}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(pairs(), st.sampled_from(OPS)), min_size=12, max_size=12))
def test_every_comparison_of_two_numbers_is_the_15_digit_rule(tmp_path: Path, cases: list[Any]) -> None:
    """For any two numbers and any comparison operator, the engine gives :func:`expected`."""
    book = tmp_path / f"c{abs(hash(str(cases)))}.xlsx"
    _book(book, [p for p, _ in cases], [op for _, op in cases])
    got = recalculate(book).values
    for r, ((a, b), op) in enumerate(cases, 1):
        assert got[("S", r, 3)] is expected(a, op, b), f"{a!r} {op} {b!r}"


@pytest.mark.skipif(SOFFICE is None, reason="soffice absent")
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(pairs(), st.sampled_from(OPS)), min_size=60, max_size=60))
def test_generated_comparisons_agree_with_libreoffice(tmp_path: Path, cases: list[Any]) -> None:
    """The same generated comparisons computed by LibreOffice on the same book (and by the
    written rule, so a LibreOffice departure from it is seen as such)."""
    assert SOFFICE is not None
    book = tmp_path / "cmp.xlsx"
    _book(book, [p for p, _ in cases], [op for _, op in cases])
    ours = recalculate(book).values
    cmd = [SOFFICE, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--convert-to", "xlsx"]
    subprocess.run([*cmd, "--outdir", str(tmp_path / "lo"), str(book)], capture_output=True, timeout=300, check=True)
    ws = openpyxl.load_workbook(tmp_path / "lo" / book.name, data_only=True)["S"]
    found = []
    for r, ((a, b), op) in enumerate(cases, 1):
        theirs = ws.cell(r, 3).value
        if ours[("S", r, 3)] is not bool(theirs) or bool(theirs) is not expected(a, op, b):
            found.append(f"{a!r}{op}{b!r}: ours {ours[('S', r, 3)]!r}, LibreOffice {theirs!r}, rule {expected(a, op, b)}")
    assert not found, "\n".join(found)


# ----------------------------------------------------------------------------- one-cell ranges


def test_one_cell_where_a_range_is_taken(tmp_path: Path) -> None:
    """A reference to one cell is a range of one cell (Microsoft, "COUNTIF function": "range:
    the group of cells you want to count"; "INDEX function": "array: a range of cells";
    "MATCH function": "lookup_array: a range of cells"). IronCalc 0.9.1 alone: #VALUE! / #N/A."""
    got = _compute(
        tmp_path,
        ['=COUNTIF(A11,"")', "=INDEX(A1,1,1)", "=INDEX(A2,1)", "=COUNTIF(A2,12.5)", '=SUMIF(A2,">1")',
         '=SUMIFS(A2,A2,">1")', '=AVERAGEIF(A2,">1")', '=MAXIFS(A2,A2,">1")', '=MINIFS(S!$A$2,S!$A$2,">1")',
         "=MATCH(12.5,A2,0)", "=VLOOKUP(12.5,A2,1,FALSE)", "=XLOOKUP(12.5,A2,A2)", "=XMATCH(12.5,A2)",
         '=COUNTIFS(A1,"abc",A2,">1")'],
        {"A1": "abc", "A2": 12.5},
    )  # fmt: skip
    assert got == [1.0, "abc", 12.5, 1.0, 12.5, 12.5, 12.5, 12.5, 12.5, 1.0, 12.5, 12.5, 1.0, 1.0]


def test_one_cell_as_ranks_ref_and_larges_array(tmp_path: Path) -> None:
    """RANK/RANK.EQ/RANK.AVG's ref and LARGE/SMALL's array given one cell are a range of one cell
    (Microsoft, "RANK.EQ function": "ref: an array of, or a reference to, a list of numbers";
    "LARGE function": "array: the array or range of data"): the rank of a number among itself is
    1 and the largest or smallest of one number is that number; k beyond it #NUM!. IronCalc 0.9.1
    alone: #NAME? ("not implemented") for RANK, #NUM! for LARGE/SMALL."""
    got = _compute(
        tmp_path,
        ["=_xlfn.RANK.EQ(A2,A2,0)", "=RANK(A2,S!$A$2)", "=_xlfn.RANK.AVG(A2,A2,1)", "=LARGE(A2,1)", "=SMALL(A2,1)",
         "=LARGE(A2,2)"],
        {"A1": "abc", "A2": 12.5},
    )  # fmt: skip
    assert got[:5] == [1.0, 1.0, 1.0, 12.5, 12.5]
    assert isinstance(got[5], ExcelError) and got[5].code == "#NUM!"


@settings(max_examples=10, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5).map(float), st.sampled_from(["", "x", "5"])), min_size=6, max_size=6))
def test_countif_of_each_cell_adds_up_to_countif_of_the_range(tmp_path_factory: pytest.TempPathFactory, xs: list[Any]) -> None:
    """COUNTIF over a range is the sum of COUNTIF over each of its cells (the definition: it
    counts the cells of the range that meet the criterion), for any cells and criteria."""
    tmp = tmp_path_factory.mktemp("c")
    inputs = {f"A{r}": v for r, v in enumerate(xs, 1) if v is not None}
    crits = ['""', '">0"', "5", '"x"', '"<>"']
    formulas = [f"=COUNTIF(A1:A6,{c})" for c in crits] + [f"=COUNTIF(A{r},{c})" for c in crits for r in range(1, 7)]
    got = _compute(tmp, formulas, inputs)
    for k in range(len(crits)):
        assert got[k] == sum(got[len(crits) + 6 * k + j] for j in range(6)), crits[k]  # type: ignore[misc]


# ----------------------------------------------------------------------------- array arguments


def test_calls_under_an_array_argument_take_the_whole_range(tmp_path: Path) -> None:
    """SUMPRODUCT's arguments are arrays ("array1: the first array argument whose components
    you want to multiply and then add", Microsoft, "SUMPRODUCT function"), so a call inside
    takes the range element by element: ``SUMPRODUCT(LEN(A1:A3))`` is the sum of the three
    lengths, not the length of one cell intersected. IF is the known exception in a legacy
    formula (it needs Ctrl+Shift+Enter) and still intersects."""
    got = _compute(
        tmp_path,
        ["=SUMPRODUCT(LEN(A1:A3))", "=SUMPRODUCT(LEN(A1:A3)*1)", "=SUMPRODUCT(--(LEN(A1:A3)>3))",
         "=SUMPRODUCT(ABS(B1:B3))", "=LEN(A1:A3)"],
        {"A1": "abc", "A2": 12.5, "A3": "hello", "B1": -1.0, "B2": 2.0, "B3": -3.0},
    )  # fmt: skip
    assert got[:4] == [12.0, 12.0, 2.0, 6.0]
    assert got[4] == ExcelError("#VALUE!")  # row 5 is outside A1:A3: the legacy intersection has no cell


def test_only_array_typed_arguments_lift_nested_calls() -> None:
    """The rewrite's scope: SUMPRODUCT-like functions (``formula.LIFTING``) lift the calls under
    them; IF under them, and calls under a lookup or CHOOSE (which pass references), keep the
    legacy intersection (IronCalc's own ``@`` and the engine's)."""
    from addin.headless.formula import intersect
    from addin.headless.semantics import whole_array_arguments

    assert whole_array_arguments("=SUMPRODUCT(LEN(@A1:A3))") == "=SUMPRODUCT(LEN(A1:A3))"
    assert intersect("=SUMPRODUCT(ABS(LEN(A1:A3)))", frozenset()) == "=SUMPRODUCT(ABS(LEN(A1:A3)))"
    for kept in ("=CHOOSE(1,LEN(@A1:A3))", "=SUMPRODUCT(IF(LEN(@A1:A3)>1,1,0))"):
        assert whole_array_arguments(kept) == kept
    assert intersect("=MATCH(1,LEN(A1:A3),0)", frozenset()) == "=MATCH(1,LEN(@A1:A3),0)"
