"""Table files in and out, shared by the command-line hosts (``addin.cli``, ``addin.fix``).

Reading a CSV/xlsx table, printing rows as a trader reads them, writing a file atomically and
keeping text out of a spreadsheet's formula reader (OWASP CSV injection). No host owns these,
so no host imports another to use them.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from addin.headless.values import BookError


def cell_text(v: Any, decimals: int = 2) -> str:
    """A value as a trader reads it: blank for missing, integers without decimals, thousands separators."""
    if v is None or (isinstance(v, str) and v == ""):
        return ""
    if isinstance(v, bool):
        return str(v).upper()
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.{decimals}f}"
    return str(v)


def table_text(rows: Sequence[Sequence[Any]], decimals: int = 2) -> str:
    """Rows (the first is the header) as right-aligned columns with a rule under the header."""
    cells = [[cell_text(v, decimals) for v in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def records_text(records: Sequence[Mapping[str, Any]], decimals: int = 2) -> str:
    """:func:`table_text` of dicts sharing their keys (the keys are the header)."""
    cols = list(records[0])
    return table_text([cols, *([r[c] for c in cols] for r in records)], decimals)


def write_atomic(target: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``target``, then rename it over ``target``:
    a failure leaves no half-written file and the old one (if any) untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_table(path: Path) -> list[list[Any]]:
    """Rows of a CSV or the first sheet of a workbook, header included."""
    if not path.exists():
        raise BookError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [[_number(v) for v in r] for r in csv.reader(fh) if any(v.strip() for v in r)]
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        from addin.headless.package import check_file

        check_file(path)
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True) if any(v is not None for v in r)]
        finally:
            wb.close()
    else:
        raise BookError(f"{path.name}: give a .csv or .xlsx table")
    if len(rows) < 2:
        raise BookError(f"{path.name}: needs a header row and at least one row")
    return rows


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text.strip()


#: Text a spreadsheet program would read as a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(v: Any) -> Any:
    """Text that starts like a formula gets a leading apostrophe, so no program evaluates it."""
    return "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
