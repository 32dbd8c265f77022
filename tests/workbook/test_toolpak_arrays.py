"""The Analysis ToolPak's functions in array contexts (addin/headless/toolpak_arrays.py).

Oracles: Excel's cached values in formulas' test book for a multi-cell range at a one-value
parameter (``{=ERF(C21:I21)}`` ENGINEERING!AH21, ``{=HEX2DEC(C27:J27)}`` AG27, ``{=CONVERT(C16:Q16,
"C","F")}`` AH16, ``{=SQRTPI(C70:Q70)}`` MATH & TRIG!AG70: #VALUE!), and for an array value,
Microsoft's "Guidelines and examples of array formulas" (a function of one value given an array
returns the array of its values): each element is the plain call's value, which Microsoft's
"DEC2HEX function" gives ("If number is negative, places is ignored and DEC2HEX returns a
10-character (40-bit) hexadecimal number"; the number is truncated: 0.5 is "00" with 2 places).
"""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from tests.workbook.bookkit import compute


def _array_column(tmp: Path, formula: str, rows: int, inputs: dict[str, object]) -> list[object]:
    """The values of ``formula`` entered with Ctrl+Shift+Enter over B1:B<rows>."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in inputs.items():
        ws[ref] = v
    ws["B1"] = ArrayFormula(f"B1:B{rows}", formula)
    wb.save(tmp / "a.xlsx")
    got = recalculate(tmp / "a.xlsx").values
    return [got[("S", i, 2)] for i in range(1, rows + 1)]


def test_an_array_constant_is_converted_element_by_element(tmp_path: Path) -> None:
    """``{=DEC2HEX({-1;0.5;2},C2)}`` is each plain call's value (C2 holds 2 places)."""
    got = _array_column(tmp_path, "=DEC2HEX({-1;0.5;2},$C$2)", 3, {"C2": 2})
    assert got == ["FFFFFFFFFF", "00", "02"]


def test_an_array_expression_is_lifted_a_range_refused(tmp_path: Path) -> None:
    """``DEC2BIN(A1:A3+0)`` under SUM is the binary text of each number (SUM of text in an array
    is 0: Microsoft, "SUM function": text in an array is ignored, so ``--`` makes them numbers:
    1 + 10 + 11 = 22); ``ERF(A1:A3)`` of the range itself is #VALUE! (Excel's cached values)."""
    inputs: dict[str, object] = {"A1": 1, "A2": 2, "A3": 3}
    got = _array_column(tmp_path, "=SUM(--DEC2BIN(A1:A3+0))", 1, inputs)
    assert got == [22.0]
    got = _array_column(tmp_path, "=ERF(A1:A3)", 3, inputs)
    assert all(isinstance(g, ExcelError) and g.code == "#VALUE!" for g in got), got
    got = _array_column(tmp_path, "=ERF(A1:A3*1)", 3, inputs)
    assert all(
        isinstance(g, float) and math.isclose(g, math.erf(x), rel_tol=1e-14) for g, x in zip(got, (1, 2, 3), strict=True)
    ), got


def test_sumproduct_of_a_toolpak_function_of_an_array_value(tmp_path: Path) -> None:
    """``SUMPRODUCT(HEX2DEC({"A","FF"}))`` is 10 + 255; of the range A1:A2 holding them, #VALUE!."""
    got = compute(tmp_path, ['=SUMPRODUCT(HEX2DEC({"A","FF"}))', "=SUMPRODUCT(HEX2DEC(A1:A2))"], {"A1": "A", "A2": "FF"})
    assert got[0] == 265.0
    assert isinstance(got[1], ExcelError) and got[1].code == "#VALUE!", got


def test_an_engine_toolpak_function_refuses_a_range_and_lifts_an_array(tmp_path: Path) -> None:
    """C1:C5 = 1, 2, 4, 8, 16. ``{=GESTEP(C1:C5,3)}`` is #VALUE! in every cell (a range at a
    one-value parameter, as Excel's cached ``{=ERF(C21:I21)}``); ``{=GESTEP(C1:C5*1,3)}`` is each
    element's GESTEP, 1 where the number is >= 3 ("GESTEP function"): 0, 0, 1, 1, 1;
    ``{=EDATE({1;2;4;8;16},1)}`` is each serial one month on ("EDATE function"; serial 1 is
    1 January 1900, so 1 February 1900 is 32): 32, 33, 35, 39, 47. Before: 0 five times, and
    #NAME? ("not implemented") for the array values."""
    inputs: dict[str, object] = {f"C{r}": v for r, v in enumerate((1, 2, 4, 8, 16), 1)}
    got = _array_column(tmp_path, "=GESTEP(C1:C5,3)", 5, inputs)
    assert all(isinstance(g, ExcelError) and g.code == "#VALUE!" for g in got), got
    assert _array_column(tmp_path, "=GESTEP(C1:C5*1,3)", 5, inputs) == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert _array_column(tmp_path, "=EDATE({1;2;4;8;16},1)", 5, inputs) == [32.0, 33.0, 35.0, 39.0, 47.0]


def test_under_sumproduct_an_engine_toolpak_function_of_a_range_is_one_error(tmp_path: Path) -> None:
    """Under SUMPRODUCT (its arguments are arrays, "SUMPRODUCT function") the same rule:
    ``SUMPRODUCT(GESTEP(C1:C5,3))`` is #VALUE! (before: 0), ``SUMPRODUCT(--ISNUMBER(EOMONTH(C1:C5,0)))``
    0 (ISNUMBER of the one #VALUE!); of array values each element: ``SUMPRODUCT(GESTEP({1;4;8},3))``
    2, ``SUMPRODUCT(--ISNUMBER(EOMONTH(C1:C5+0,0)))`` 5 (each a date, "EOMONTH function"). A LET
    name bound to the range holds the reference ("LET function": the name is the calculation's
    result), so it is refused as the range is: 0."""
    inputs: dict[str, object] = {f"C{r}": v for r, v in enumerate((1, 2, 4, 8, 16), 1)}
    formulas = [
        "=SUMPRODUCT(GESTEP(C1:C5,3))",
        "=SUMPRODUCT(--ISNUMBER(EOMONTH(C1:C5,0)))",
        "=SUMPRODUCT(GESTEP({1;4;8},3))",
        "=SUMPRODUCT(--ISNUMBER(EOMONTH(C1:C5+0,0)))",
        "=_xlfn.LET(_xlpm.x,C1:C5,SUMPRODUCT(--ISNUMBER(EOMONTH(_xlpm.x,0))))",
    ]
    got = compute(tmp_path, formulas, inputs, column=5)
    assert isinstance(got[0], ExcelError) and got[0].code == "#VALUE!", got
    assert got[1:] == [0.0, 2.0, 5.0, 0.0], got
