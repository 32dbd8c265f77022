"""The Analysis ToolPak's number functions (addin/headless/toolpak.py).

Oracle: Microsoft's reference ("FACTDOUBLE function": n(n-2)(n-4)..., "If number is nonnumeric,
FACTDOUBLE returns the #VALUE! error value"; "SQRTPI function": sqrt(number*pi), #NUM! below 0;
"ISEVEN function", "ISODD function": the number truncated; "GCD function", "LCM function") written
with Python's ``math``, and Excel's cached values in formulas' test book (MATH & TRIG rows 31, 34,
37, 70; INFORMATION rows 9, 15): a logical cell and a multi-cell range are #VALUE!, in an array
formula too.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from tests.workbook.bookkit import compute


def _factdouble(n: int) -> float:
    return float(math.prod(range(n, 0, -2))) if n > 0 else 1.0


@settings(max_examples=10, deadline=None)
@given(st.lists(st.one_of(st.floats(-1, 40).map(lambda x: round(x, 2)), st.integers(0, 300).map(str)), min_size=1, max_size=5))
def test_the_numbers_are_microsofts_definitions(tmp_path_factory: pytest.TempPathFactory, xs: list[Any]) -> None:
    """Each value (a number, or a whole number as text) in A<i>: FACTDOUBLE, SQRTPI, ISEVEN, ISODD."""
    tmp = tmp_path_factory.mktemp("atp")
    inputs = {f"A{i}": x for i, x in enumerate(xs, 1)}
    formulas = [f"={f}(A{i})" for i in range(1, len(xs) + 1) for f in ("FACTDOUBLE", "SQRTPI", "ISEVEN", "ISODD")]
    got = compute(tmp, formulas, inputs, column=3)
    want: list[Any] = []
    for x in xs:
        v = float(x)
        n = math.trunc(v)
        fd = _factdouble(n)
        sqrtpi = math.sqrt(v * math.pi) if v >= 0 else ExcelError("#NUM!")
        want += [fd, sqrtpi, n % 2 == 0, n % 2 == 1]
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w, rel_tol=1e-14) if isinstance(w, float) and isinstance(g, float) else g == w, (xs, got, want)


def test_excels_cached_values(tmp_path: Path) -> None:
    """The corpus rows rebuilt: a logical #VALUE!, a blank 0 (GCD/LCM: #VALUE!), -1.1 #NUM!, "2.3" 2, date text its day."""
    inputs: dict[str, object] = {"A1": 0, "A2": 2.3, "A3": -1.1, "A4": 5, "A5": -1, "A7": "ciao", "A8": True}
    inputs |= {"B1": -0.4, "B2": 15.7, "B3": 63, "B4": "1/1/1900", "B5": 10}
    formulas = [
        "=FACTDOUBLE(A1)", '=FACTDOUBLE("2.3")', "=FACTDOUBLE(A3)", "=FACTDOUBLE(A4)", "=FACTDOUBLE(A5)",
        "=FACTDOUBLE(A6)", "=FACTDOUBLE(A7)", "=FACTDOUBLE(A8)", "=SQRTPI(A8)", "=SQRTPI(A5)", "=SQRTPI(A6)",
        "=GCD(B2,B3)", "=GCD(B1)", "=GCD(B1,A8)", "=GCD(A6)", "=LCM(B2,B3)", "=LCM(A1,B3,B2)", "=LCM(A6)",
        "=ISEVEN(B4)", "=ISODD(B4)", "=ISEVEN(A8)", "=ISODD(A5)", "=ISEVEN(A2)",
    ]  # fmt: skip
    v, num = ExcelError("#VALUE!"), ExcelError("#NUM!")
    want = [1.0, 2.0, num, 15.0, 1.0, 1.0, v, v, v, num, 0.0, 3.0, num, v, v, 315.0, 0.0, v, False, True, v, True, True]
    assert compute(tmp_path, formulas, inputs, column=4) == want


def test_a_range_is_value_in_an_array_formula(tmp_path: Path) -> None:
    """``{=FACTDOUBLE(A1:A3)}``, ``{=SQRTPI(A1:A3)}``: #VALUE! in every cell (Excel's cached AH31:AW31, AH70:AW70)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, x in enumerate([0, 1, 5], 1):
        ws.cell(r, 1).value = x
    ws["C1"] = ArrayFormula("C1:C3", "=FACTDOUBLE(A1:A3)")
    ws["D1"] = ArrayFormula("D1:D3", "=SQRTPI(A1:A3)")
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert all(got[("S", r, c)] == ExcelError("#VALUE!") for r in (1, 2, 3) for c in (3, 4))
