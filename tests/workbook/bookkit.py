"""One-sheet books for the semantics tests: formulas written by openpyxl into sheet ``S``, recalculated
headless in this process, their values returned in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl

from addin.headless import ExcelError, recalculate


def compute(
    tmp: Path, formulas: list[str], inputs: dict[str, object] | None = None, column: int = 2, first_row: int = 1
) -> list[object]:
    """The values of ``formulas`` (one a row of ``column``, from ``first_row``) after ``inputs`` (``{"A1": 3, ...}``)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in (inputs or {}).items():
        ws[ref] = v
    for i, f in enumerate(formulas, first_row):
        ws.cell(i, column).value = f
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    return [got[("S", i, column)] for i in range(first_row, first_row + len(formulas))]


def same(a: Any, b: Any) -> bool:
    """Two computed values are the same: equal errors with equal reasons, else the same type and value."""
    if isinstance(a, ExcelError) or isinstance(b, ExcelError):
        return isinstance(a, ExcelError) and isinstance(b, ExcelError) and (a.code, a.reason) == (b.code, b.reason)
    return type(a) is type(b) and a == b
