"""Reading a workbook: its cell values, its formulas and its defined names, as arrays.

openpyxl's read-only mode streams the sheets (about 10x less memory than a full load, and it
already expands Excel's shared formulas into per-cell text). Values are kept per sheet in
one 2-D object array indexed by (row, column), 1-based, with ``formulas``' blank token for
empty cells, so a group of formulas gathers its inputs by slicing.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.formula import ArrayFormula

from addin.workbook.functions import EMPTY, error
from addin.workbook.refs import MAX_COL, MAX_ROW, Ref, parse_ref

ERROR_CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
SUFFIXES = (".xlsx", ".xlsm")


class BookError(Exception):
    """A workbook the engine cannot (or must not) calculate; the message names file, sheet, cell."""


def where(path: Path | str, sheet: str, row: int, col: int) -> str:
    return f"{Path(path).name}, sheet {sheet!r}, cell {get_column_letter(col)}{row}"


def address(sheet: str, row: int, col: int) -> str:
    """``'Sheet name'!B7``: how the CLI names a cell."""
    quoted = sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!{get_column_letter(col)}{row}"


@dataclass(frozen=True)
class FormulaCell:
    """A formula as written: ``text`` starts with ``=``; ``array`` is (height, width) for CSE arrays."""

    sheet: str
    row: int
    col: int
    text: str
    array: tuple[int, int] | None = None


@dataclass
class Sheet:
    """One worksheet's values: ``values[row, col]``, 1-based; blanks are ``EMPTY``."""

    name: str
    values: np.ndarray

    @property
    def max_row(self) -> int:
        return self.values.shape[0] - 1

    @property
    def max_col(self) -> int:
        return self.values.shape[1] - 1

    def block(self, r1: int, r2: int, c1: int, c2: int) -> np.ndarray:
        """The values of a rectangle; cells beyond the used area are blank (whole columns clip)."""
        r2, c2 = min(r2, max(self.max_row, r1)), min(c2, max(self.max_col, c1))
        out = np.empty((r2 - r1 + 1, c2 - c1 + 1), dtype=object)
        out[...] = EMPTY
        rr, cc = min(r2, self.max_row), min(c2, self.max_col)
        if r1 <= rr and c1 <= cc:
            out[: rr - r1 + 1, : cc - c1 + 1] = self.values[r1 : rr + 1, c1 : cc + 1]
        return out

    def grow(self, rows: int, cols: int) -> None:
        """Make room for results written beyond the read area (array formula ranges)."""
        if rows > self.max_row or cols > self.max_col:
            bigger = np.empty((max(rows, self.max_row) + 1, max(cols, self.max_col) + 1), dtype=object)
            bigger[...] = EMPTY
            bigger[: self.values.shape[0], : self.values.shape[1]] = self.values
            self.values = bigger


@dataclass
class Book:
    """A workbook as the engine sees it."""

    path: Path
    sheets: dict[str, Sheet]  # key: upper-case name (Excel sheet names are case-insensitive)
    formulas: list[FormulaCell]
    names: dict[str, Ref | Any] = field(default_factory=dict)
    input_errors: list[tuple[str, int, int, str]] = field(default_factory=list)

    def sheet(self, name: str | None, default: str) -> Sheet:
        key = (name or default).upper()
        if key not in self.sheets:
            raise KeyError(name)
        return self.sheets[key]


def check_file(path: Path) -> None:
    """Refuse, with the reason, anything that is not an existing .xlsx/.xlsm workbook."""
    if not path.exists():
        raise BookError(f"{path}: no such file")
    if path.is_dir():
        raise BookError(f"{path}: is a folder, not a workbook")
    if path.suffix.lower() not in SUFFIXES:
        raise BookError(
            f"{path.name}: not an Excel workbook (the engine reads {', '.join(SUFFIXES)}; save .xls/.ods/.csv as .xlsx first)"
        )
    if not zipfile.is_zipfile(path):
        raise BookError(f"{path.name}: not a workbook (not an Office Open XML zip; is it a renamed or damaged file?)")
    with zipfile.ZipFile(path) as z:
        if "xl/workbook.xml" not in z.namelist():
            raise BookError(f"{path.name}: a zip without xl/workbook.xml, so not an Excel workbook")


def cell_value(value: Any, data_type: str) -> Any:
    """An openpyxl cell value as Excel holds it: numbers as float, dates as serials, errors as tokens."""
    if value is None:
        return EMPTY
    if data_type == "e":
        code = str(value).strip().upper()
        return error(code if code in ERROR_CODES else "#VALUE!")
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (datetime, date, time)):
        return float(to_excel(value))
    if isinstance(value, timedelta):
        return value.total_seconds() / 86400.0
    return value


def _defined_names(wb: Any, path: Path) -> dict[str, Ref | Any]:
    names: dict[str, Ref | Any] = {}
    for name, dn in wb.defined_names.items():
        if name.startswith("_xlnm."):
            continue
        text = (dn.attr_text or "").strip().lstrip("=")
        ref = parse_ref(text)
        if ref is not None and ref.sheet is not None:
            names[name.upper()] = Ref(ref.sheet, ref.row1, ref.col1, ref.row2, ref.col2, True, True, True, True)
            continue
        try:
            names[name.upper()] = float(text)
        except ValueError:
            if text.upper() in ("TRUE", "FALSE"):
                names[name.upper()] = text.upper() == "TRUE"
            elif len(text) >= 2 and text[0] == text[-1] == '"':
                names[name.upper()] = text[1:-1].replace('""', '"')
            else:
                names[name.upper()] = BookError(
                    f"{path.name}: defined name {name} = {text!r}: only names of cells, ranges and constants are supported"
                )
    return names


def read_book(path: Path | str, *, stored: bool = False) -> Book:
    """Read every worksheet; ``stored=True`` reads the cached results instead of the formulas.

    Chart sheets are skipped. Raises :class:`BookError` for files that are not workbooks.
    """
    path = Path(path)
    check_file(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=stored, keep_links=False)
    except Exception as exc:
        raise BookError(f"{path.name}: cannot be read as a workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheets: dict[str, Sheet] = {}
        cells: list[FormulaCell] = []
        input_errors: list[tuple[str, int, int, str]] = []
        for ws in wb.worksheets:
            if not hasattr(ws, "iter_rows"):
                continue
            ws.reset_dimensions()  # a stale <dimension> would hide cells (some writers leave it wrong)
            rows: list[tuple[int, list[tuple[int, Any]]]] = []
            max_col = 0
            for row in ws.iter_rows():
                entries = []
                rnum = 0
                for c in row:
                    v = c.value
                    if v is None:
                        continue
                    rnum = c.row
                    if isinstance(v, ArrayFormula):
                        c1, r1, c2, r2 = range_boundaries(v.ref)
                        cells.append(FormulaCell(ws.title, c.row, c.column, v.text, (r2 - r1 + 1, c2 - c1 + 1)))
                        entries.append((c.column, EMPTY))
                        max_col = max(max_col, c2)
                        continue
                    if c.data_type == "f" and isinstance(v, str):
                        cells.append(FormulaCell(ws.title, c.row, c.column, v))
                        entries.append((c.column, EMPTY))
                    else:
                        val = cell_value(v, c.data_type)
                        if c.data_type == "e":
                            input_errors.append((ws.title, c.row, c.column, str(val)))
                        entries.append((c.column, val))
                    max_col = max(max_col, c.column)
                if entries:
                    rows.append((rnum, entries))
            max_row = max((r for r, _ in rows), default=0)
            values = np.empty((min(max_row, MAX_ROW) + 1, min(max_col, MAX_COL) + 1), dtype=object)
            values[...] = EMPTY
            for r, entries in rows:
                for col, val in entries:
                    values[r, col] = val
            sheets[ws.title.upper()] = Sheet(ws.title, values)
        names = _defined_names(wb, path)
    finally:
        wb.close()
    book = Book(path, sheets, cells, names, input_errors if not stored else [])
    for fc in cells:
        if fc.array:
            book.sheets[fc.sheet.upper()].grow(fc.row + fc.array[0] - 1, fc.col + fc.array[1] - 1)
    return book
