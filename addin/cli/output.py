"""What every ``clearquote`` command shares on output: the exit codes and the table printer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any


class Exit(IntEnum):
    """Exit codes, the same for every command (README, "Exit codes")."""

    OK = 0
    FAILED = 1  # validate found mismatches, or some quote rows failed
    BAD_INPUT = 2  # usage or bad input: nothing was written
    INPUT_ERRORS = 3  # recalc wrote the book, but formulas read input cells holding errors
    INTERRUPTED = 130


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


def check_output(path: str | None) -> None:
    """Before any work: ``-o PATH`` must be a file that can be written (its folder exists or can
    be made, and takes a new file), else :class:`BookError` (exit 2) naming it."""
    if not path:
        return
    from addin.headless.values import BookError

    target = Path(path)
    if target.is_dir():
        raise BookError(f"-o {path}: is a folder; name a file")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists: write_atomic makes the rest
    if not folder.is_dir():
        raise BookError(f"-o {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BookError(f"-o {path}: the folder {folder} cannot be written to")
    if target.exists() and not os.access(target, os.W_OK):
        raise BookError(f"-o {path}: the file exists and cannot be replaced")


def write_atomic(target: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``target``, then rename it over ``target``:
    a failure leaves no half-written file and the old one (if any) untouched. A folder that
    cannot be made or written is :class:`BookError` (exit 2), never a traceback."""
    from addin.headless.values import BookError

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BookError(f"{target}: cannot write there ({exc.strerror or exc})") from None
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
