"""Table files in and out, shared by the command-line hosts (``addin.cli``, ``addin.fix``).

Reading a CSV/xlsx table, printing rows as a trader reads them, writing a file atomically and
keeping text out of a spreadsheet's formula reader (OWASP CSV injection). No host owns these,
so no host imports another to use them.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import numbers
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from addin.errors import UsageError

#: The text of a number that is not one (NaN, an infinity): Excel's error, never "nan" or "inf".
NOT_A_NUMBER = "#NUM!"
#: From this magnitude numbers print in scientific notation (7 significant digits), never as a
#: 301-digit integer: a double carries at most 15 to 17 significant digits anyway.
LARGE = 1e15


def _scientific(v: Any) -> str:
    """``v`` (an integer or a real of any size) as ``d.dddddde+NN``."""
    try:
        return f"{float(v):.6e}"
    except OverflowError:  # an integer beyond a double: its own digits
        digits = str(abs(int(v)))
        sign = "-" if v < 0 else ""
        return f"{sign}{digits[0]}.{digits[1:7].ljust(6, '0')}e+{len(digits) - 1}"


def cell_text(v: Any, decimals: int = 2) -> str:
    """A value as a trader reads it: blank for missing, integers without decimals, thousands
    separators; a non-finite number is :data:`NOT_A_NUMBER` and a magnitude from :data:`LARGE`
    is in scientific notation (a refused row's quantity of 1e308 once printed 301 digits)."""
    if v is None or (isinstance(v, str) and v == ""):
        return ""
    if isinstance(v, bool):
        return str(v).upper()
    if isinstance(v, numbers.Integral):
        return f"{int(v):,}" if abs(int(v)) < LARGE else _scientific(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if not math.isfinite(f):
            return NOT_A_NUMBER
        if abs(f) >= LARGE:
            return _scientific(f)
        return f"{int(f):,}" if f.is_integer() else f"{f:,.{decimals}f}"
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


def check_output(path: str | None) -> None:
    """Before any work: ``-o PATH`` must be a file that can be written (its folder exists or can
    be made, and takes a new file), else :class:`~addin.errors.UsageError` (exit 2) naming it."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"-o {path}: is a folder; name a file")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists: write_atomic makes the rest
    if not folder.is_dir():
        raise UsageError(f"-o {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"-o {path}: the folder {folder} cannot be written to")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"-o {path}: the file exists and cannot be replaced")


def write_atomic(target: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``target``, then rename it over ``target``:
    a failure leaves no half-written file and the old one (if any) untouched. A folder that
    cannot be made or written is :class:`~addin.errors.UsageError` (exit 2), never a traceback."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write there ({exc.strerror or exc})") from None
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
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        text = read_text(path)
        rows = [[_number(v) for v in r] for r in csv.reader(io.StringIO(text, newline="")) if any(v.strip() for v in r)]
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
        raise UsageError(f"{path.name}: give a .csv or .xlsx table")
    if len(rows) < 2:
        raise UsageError(f"{path.name}: needs a header row and at least one row")
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


#: Byte-order marks and their encodings, longest first (UTF-32 LE starts with UTF-16 LE's BOM).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(raw: bytes, name: str) -> str:
    """The text of a file: the encoding its BOM names (UTF-8, UTF-16, UTF-32), else UTF-8."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raw, used = raw[len(bom) :], encoding
            break
    else:
        used = "utf-8"
    try:
        return raw.decode(used)
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{name}: not {used.upper()} text (byte {exc.start}); save it as UTF-8, or as UTF-16/32 with a byte-order mark"
        ) from None


def read_text(path: Path, what: str = "") -> str:
    """A text file's contents (:func:`decode`), or :class:`~addin.errors.UsageError` naming it."""
    label = f"{what} {path.name}".strip()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{label}: cannot be read ({exc.strerror})") from None
    return decode(raw, label)


def load_json(text: str, name: str) -> Any:
    """JSON text as Python values; malformed or too deeply nested JSON is :class:`~addin.errors.UsageError`.

    Python's parser stops at the interpreter's recursion limit (about 1,000 levels) with a
    RecursionError; no input the CLI reads nests more than a few levels.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise UsageError(f"{name}: the JSON nests too deeply to be an input") from None
    except ValueError as exc:
        raise UsageError(f"{name}: not JSON ({str(exc)[:120]})") from None
