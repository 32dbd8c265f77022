"""SCAN whose LAMBDA gives an error at some value (addin/headless/scan_errors.py).

Oracle: Microsoft, "SCAN function": SCAN "returns an array that has each intermediate value";
an error at one value is that intermediate value, the ones before it unaffected. The expected
values are the running sums worked by hand: ABS of 3, -2.5, 0.25 and the numeric text "7" (a
number as arithmetic reads it: Microsoft, "How Excel converts text to numbers" in "Calculation
operators and precedence") are 3, 2.5, 0.25, 7; ABS("abc") is #VALUE!. An accumulator holding
the error is the error inside the LAMBDA, so ``IFERROR(a,100)`` recovers from it.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate


def _scan(tmp: Path, body: str, data: list[object]) -> list[object]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for i, v in enumerate(data, 1):
        ws.cell(i, 1).value = v
    n = len(data)
    ws["B1"] = ArrayFormula(f"B1:B{n}", f"=_xlfn.SCAN(0,A1:A{n},_xlfn.LAMBDA(_xlpm.a,_xlpm.x,{body}))")
    wb.save(tmp / "s.xlsx")
    got = recalculate(tmp / "s.xlsx").values
    return [got[("S", i, 2)] for i in range(1, n + 1)]


def test_each_value_before_the_error_is_kept(tmp_path: Path) -> None:
    got = _scan(tmp_path, "_xlpm.a+ABS(_xlpm.x)", [3, -2.5, 0.25, "7", "abc"])
    assert got[:4] == [3.0, 5.5, 5.75, 12.75]
    assert isinstance(got[4], ExcelError) and got[4].code == "#VALUE!", got


def test_the_error_is_the_accumulator_of_the_next_value(tmp_path: Path) -> None:
    """1/(x-0.25): 1/2.75, then 1/2.75 + 1/-2.75 = 0, then #DIV/0! at 0.25; IFERROR(a,100) reads
    that error and goes on: 100 + 1/6.75; #DIV/0! keeps its kind."""
    got = _scan(tmp_path, "IFERROR(_xlpm.a,100)+1/(_xlpm.x-0.25)", [3, -2.5, 0.25, 7])
    assert got[0] == 1 / 2.75 and got[1] == 0.0 and got[3] == 100 + 1 / 6.75, got
    assert isinstance(got[2], ExcelError) and got[2].code == "#DIV/0!", got
