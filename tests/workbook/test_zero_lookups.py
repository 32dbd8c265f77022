"""Exact lookups of 0 skip blank cells (addin/headless/zero_lookups.py).

Oracle: Microsoft, "XMATCH function" (match_mode 0, exact), "VLOOKUP function" and "HLOOKUP
function" (range_lookup FALSE: an exact match), "XLOOKUP function" (the first exact match, else
if_not_found, else #N/A): an exact match is a cell equal to the lookup value, and a blank cell
holds no value, so 0 is never found in a blank (Excel's MATCH(0,...,0) behaves the same way).
The expected answers are that definition computed in Python, never this engine's output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from addin.headless.zero_lookups import zero_lookups

NA = ExcelError("#N/A")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.lists(st.sampled_from([None, 0.0, 1.0, -2.0, "a"]), min_size=1, max_size=8))
def test_an_exact_lookup_of_zero_is_the_first_cell_holding_zero(tmp_path: Path, column: list[Any]) -> None:
    n = len(column)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, v in enumerate(column, 1):
        ws.cell(r, 1, v)
        ws.cell(r, 2, r * 10)
        ws.cell(20, r, v)  # the same values along row 20 for HLOOKUP
        ws.cell(21, r, r * 10)
    ws["Z1"] = 0
    last = openpyxl.utils.get_column_letter(n)
    formulas = {
        "D1": f"=XMATCH(0,A1:A{n})",
        "D2": f"=VLOOKUP(0,A1:B{n},2,FALSE)",
        "D3": f"=XLOOKUP(0,A1:A{n},B1:B{n})",
        "D4": f'=XLOOKUP(Z1,A1:A{n},B1:B{n},"none")',
        "D5": f"=HLOOKUP(Z1,A20:{last}21,2,FALSE)",
        "D6": f"=MATCH(0,A1:A{n},0)",
        "D7": f"=XMATCH(Z1,A1:A{n},0,1)",
    }
    for ref, f in formulas.items():
        ws[ref] = f
    wb.save(tmp_path / "z.xlsx")
    got = recalculate(tmp_path / "z.xlsx")
    hits = [r for r, v in enumerate(column, 1) if v == 0.0 and not isinstance(v, bool) and v is not None]
    first = hits[0] if hits else None
    want = {
        "D1": float(first) if first else NA,
        "D2": first * 10.0 if first else NA,
        "D3": first * 10.0 if first else NA,
        "D4": first * 10.0 if first else "none",
        "D5": first * 10.0 if first else NA,
        "D6": float(first) if first else NA,
        "D7": float(first) if first else NA,
    }
    for ref, w in want.items():
        r = int(ref[1:])
        assert got.cell("S", r, 4) == w, (ref, formulas[ref], column)


def test_only_lookups_that_may_look_for_zero_are_rewritten() -> None:
    """A lookup value written as another number, text or TRUE is never 0 or FALSE; approximate and
    last-to-first searches and tables that are not sheet ranges are left as written."""
    for kept in (
        "=XMATCH(1,A1:A5)",
        '=XMATCH("0",A1:A5)',
        "=XMATCH(TRUE,A1:A5)",
        "=XMATCH(0,A1:A5,0,-1)",
        "=XMATCH(0,A1:A5,1)",
        "=VLOOKUP(0,A1:B5,2)",
        "=VLOOKUP(0,A1:B5,2,TRUE)",
        "=VLOOKUP(0,{0,1;2,3},2,FALSE)",
        "=XLOOKUP(0,A1:B5,C1:C5)",
    ):
        assert zero_lookups(kept) == kept, kept
    zero = "IF(ISNUMBER(_cqz1),_cqz1=0,IF(ISLOGICAL(_cqz1),NOT(_cqz1),FALSE))"  # 0 or FALSE
    assert zero_lookups("=XMATCH(C1,A1:A5)").startswith(f"=LET(_cqz1,C1,IF({zero},MATCH(")
    assert zero_lookups("=XMATCH(FALSE,A1:A5)").startswith(f"=LET(_cqz1,FALSE,IF({zero},MATCH(")


def _code(v: Any) -> Any:
    return v.code if isinstance(v, ExcelError) else v


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.one_of(st.integers(-2, 4), st.sampled_from([0.5, 1.9, 2.99])),
    lookup=st.sampled_from(["0", "Z1", "1", "Z2"]),
)
def test_an_invalid_index_or_shape_keeps_excels_error(tmp_path: Path, index: float, lookup: str) -> None:
    """Microsoft, "VLOOKUP function" / "HLOOKUP function": an index below 1 is #VALUE!, beyond
    the table #REF! (the index is truncated: 1.9 is 1); "XLOOKUP function": lookup and return
    arrays of different sizes are #VALUE!; "XMATCH function": the lookup array is one row or
    column (a 2-D one is #VALUE!). The auditor's book (A1:A4 = 1, blank, 0, 5; B1:B4 = x,y,z,w):
    ``VLOOKUP(0,A1:B4,0,FALSE)`` was 0, ``HLOOKUP(0,A1:C1,0,FALSE)`` #N/A,
    ``XLOOKUP(0,A1:A4,B1:B3)`` "z", ``XLOOKUP(0,A1:A4,C1:F1)`` 0, ``XMATCH(0,A1:B4)`` #NAME?;
    Excel: #VALUE! each. Whatever the lookup value (0 or not), valid calls find the first exact
    match (blanks skipped) and invalid ones are Excel's error."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (a, b) in enumerate(zip([1, None, 0, 5], "xyzw", strict=True), 1):
        ws.cell(r, 1, a)
        ws.cell(r, 2, b)
    ws["Z1"], ws["Z2"] = 0, 5
    for c, v in enumerate([1, None, 0, 5], 1):
        ws.cell(10, c, v)
        ws.cell(11, c, f"h{c}")
    x = {"0": 0, "Z1": 0, "1": 1, "Z2": 5}[lookup]
    formulas = {
        1: f"=VLOOKUP({lookup},A1:B4,{index},FALSE)",
        2: f"=HLOOKUP({lookup},A10:D11,{index},FALSE)",
        3: f"=XLOOKUP({lookup},A1:A4,B1:B3)",
        4: f"=XLOOKUP({lookup},A1:A4,C1:F1)",
        5: f"=XMATCH({lookup},A1:B4)",
        6: f"=XLOOKUP({lookup},A1:A4,B1:B4)",
    }
    for r, f in formulas.items():
        ws.cell(r, 5, f)
    wb.save(tmp_path / "z.xlsx")
    got = recalculate(tmp_path / "z.xlsx")
    row = {0: 3, 1: 1, 5: 4}[x]
    k = int(index)
    want = {
        1: "#VALUE!" if k < 1 else "#REF!" if k > 2 else "xyzw"[row - 1] if k == 2 else float(x),
        2: "#VALUE!" if k < 1 else "#REF!" if k > 2 else f"h{row}" if k == 2 else float(x),
        3: "#VALUE!",
        4: "#VALUE!",
        5: "#VALUE!",
        6: "xyzw"[row - 1],
    }
    for r, w in want.items():
        assert _code(got.cell("S", r, 5)) == w, (formulas[r], index, lookup)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.sampled_from([0, 5, 7]), min_size=1, max_size=4))
def test_an_array_of_lookup_values_is_looked_up_one_by_one(tmp_path: Path, values: list[Any]) -> None:
    """The auditor's book (A1:A3 = 5, 0, 5; F1:F3 = blank, 0, 5; G1:G3 = p, q, r):
    ``{=VLOOKUP(A1:A3,F1:G3,2,FALSE)}`` was #N/A x3 (Excel r, q, r) and ``{=XMATCH(A1:A3,F1:F3)}``
    #N/A x3 (3, 2, 3): the zero rewrite's ``AND(ISNUMBER(x),x=0)`` collapsed the array. In an
    array formula each lookup value is looked up alone (Microsoft, "Dynamic array formulas":
    a function given an array where it takes one value returns an array), the blank skipped."""
    n = len(values)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, v in enumerate(values, 1):
        ws.cell(r, 1, v)
    for r, (f, g) in enumerate([(None, "p"), (0, "q"), (5, "r")], 1):
        ws.cell(r, 6, f)
        ws.cell(r, 7, g)
    for col, f in (
        ("H", "=VLOOKUP(A1:A{n},F1:G3,2,FALSE)"),
        ("I", "=XMATCH(A1:A{n},F1:F3)"),
        ("J", "=XLOOKUP(A1:A{n},F1:F3,G1:G3)"),
    ):
        ws[f"{col}1"] = ArrayFormula(f"{col}1:{col}{n}", f.format(n=n))
    wb.save(tmp_path / "z.xlsx")
    got = recalculate(tmp_path / "z.xlsx")
    where = {0: 2, 5: 3}
    for r, v in enumerate(values, 1):
        hit = where.get(v)  # 7: no cell holds it, #N/A
        assert _code(got.cell("S", r, 8)) == ("pqr"[hit - 1] if hit else "#N/A"), (values, r)
        assert _code(got.cell("S", r, 9)) == (float(hit) if hit else "#N/A"), (values, r)
        assert _code(got.cell("S", r, 10)) == ("pqr"[hit - 1] if hit else "#N/A"), (values, r)


def test_a_lookup_value_that_may_be_an_array_is_left_as_written_outside_array_formulas() -> None:
    """A range of lookup values in a plain formula is the engine's implicit intersection, not
    collapsed by the zero rewrite; names and array-valued functions are not known to be one
    value either."""
    for kept in (
        "=VLOOKUP(A1:A3,F1:G3,2,FALSE)",
        "=XMATCH(A1:A3,F1:F3)",
        "=XMATCH(rng,F1:F3)",
        "=XMATCH(OFFSET(A1,0,0,3,1),F1:F3)",
        "=XMATCH(ROUND(A1:A3,0),F1:F3)",
        "=XMATCH({0,1},F1:F3)",
    ):
        assert zero_lookups(kept) == kept, kept
    assert zero_lookups("=XMATCH(ROUND(C1,0)+1,A1:A5)").startswith("=LET(")
