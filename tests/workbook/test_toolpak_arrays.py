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
