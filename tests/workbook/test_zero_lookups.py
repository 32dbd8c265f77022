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
    """A lookup value written as another number, text or a logical is never 0; approximate and
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
    assert zero_lookups("=XMATCH(C1,A1:A5)").startswith("=LET(_cqz1,C1,IF(AND(ISNUMBER(_cqz1),_cqz1=0),MATCH(")
