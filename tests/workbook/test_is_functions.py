"""The IS functions and ERROR.TYPE over a range, element by element (addin/headless/lifting.py).

Oracle: Microsoft, "IS functions" (ISBLANK: an empty cell; ISERR: any error but #N/A; ISERROR:
any error; ISLOGICAL; ISNA; ISNONTEXT: anything not text, a blank cell too; ISNUMBER; ISTEXT)
and "ERROR.TYPE function" (#NULL! 1, #DIV/0! 2, #VALUE! 3, #REF! 4, #NAME? 5, #NUM! 6, #N/A 7;
#N/A for a value that is no error), each taking one value: in an array formula or under
SUMPRODUCT a range gives one result per cell (Excel's cached ``{=ISERROR(C8:Q8)}`` and the other
rows of formulas' test book, sheet INFORMATION). IronCalc 0.9.1 gives one FALSE for a range, so
``SUMPRODUCT(--ISNUMBER(A1:A9))`` was 0.
"""

from __future__ import annotations

from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate

_ERRORS = {"#NULL!": 1, "#DIV/0!": 2, "#VALUE!": 3, "#REF!": 4, "#NAME?": 5, "#NUM!": 6, "#N/A": 7}
_CELL = st.one_of(
    st.sampled_from([0, 1.5, -2]), st.sampled_from(["t", "", "1"]), st.booleans(), st.none(), st.sampled_from(list(_ERRORS))
)
_RULES = {
    "ISBLANK": lambda v: v is None,
    "ISERR": lambda v: isinstance(v, str) and v in _ERRORS and v != "#N/A",
    "ISERROR": lambda v: isinstance(v, str) and v in _ERRORS,
    "ISLOGICAL": lambda v: isinstance(v, bool),
    "ISNA": lambda v: v == "#N/A",
    "ISNONTEXT": lambda v: not (isinstance(v, str) and v not in _ERRORS),
    "ISNUMBER": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "ISTEXT": lambda v: isinstance(v, str) and v not in _ERRORS,
}


def _error_type(v: Any) -> Any:
    return float(_ERRORS[v]) if isinstance(v, str) and v in _ERRORS else ExcelError("#N/A")


@settings(max_examples=10, deadline=None)
@given(st.lists(_CELL, min_size=2, max_size=7))
def test_each_cell_of_the_range_is_tested(tmp_path_factory: pytest.TempPathFactory, cells: list[Any]) -> None:
    """``{=F(A1:?1)}`` over a row of any values, and ``SUMPRODUCT(--F(range))`` in a plain formula."""
    tmp = tmp_path_factory.mktemp("is")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    n = len(cells)
    for j, v in enumerate(cells, 1):
        ws.cell(1, j).value = v  # openpyxl writes "#N/A" and the other codes as error cells
    last = openpyxl.utils.get_column_letter(n)
    names = [*_RULES, "ERROR.TYPE"]
    for i, name in enumerate(names, 3):
        ws.cell(i, 1).value = ArrayFormula(f"A{i}:{last}{i}", f"={name}(A1:{last}1)")
        if name != "ERROR.TYPE":
            ws.cell(i, n + 2).value = f"=SUMPRODUCT(--{name}(A1:{last}1))"
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    for i, name in enumerate(names, 3):
        have = [got[("S", i, j)] for j in range(1, n + 1)]
        if name == "ERROR.TYPE":
            assert have == [_error_type(v) for v in cells], (cells, have)
            continue
        want = [_RULES[name](v) for v in cells]
        assert have == want, (name, cells, have)
        assert got[("S", i, n + 2)] == float(sum(want)), (name, cells)
