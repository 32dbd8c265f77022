"""``recalc``: recalculate a workbook and store the results as cached values, atomically.

The output is the original package with only the cached values changed
(:mod:`addin.headless.writer`): charts, comments, validation, tables, styles and VBA survive,
whatever engine computed. The target is checked *before* anything is computed: an existing
folder, writable, never the input unless ``in_place``, and an in-place input that is not
read-only.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from addin.headless.engine import FunctionTable, Result, gc_paused, recalculate
from addin.headless.isolation import Budget, check_sendable, report, run
from addin.headless.package import Limits
from addin.headless.values import BookError
from addin.headless.writer import Frozen, write_cached

CACHE_MODES = ("all", "catalogue", "libreoffice")


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}-recalc{path.suffix}")


def output_path(path: Path, out: Path | None, in_place: bool) -> Path:
    """Where ``recalc`` writes, checked now so that a refusal comes before the calculation."""
    if in_place:
        if out is not None and out.resolve() != path.resolve():
            raise BookError("give either -o OUT or --in-place, not both")
        if path.exists() and (not path.stat().st_mode & 0o222 or not os.access(path, os.W_OK)):
            raise BookError(f"{path.name}: is read-only; --in-place will not replace it")
        target = path
    else:
        target = out if out is not None else default_output(path)
        if target.exists() and target.resolve() == path.resolve():
            raise BookError(f"{path.name}: the output would overwrite the input; pass --in-place to allow that")
    if target.suffix.lower() != path.suffix.lower():
        raise BookError(
            f"{target.name}: the output must keep the input's type ({path.suffix}); a {path.suffix} cannot be saved as {target.suffix}"
        )
    if target.is_dir():
        raise BookError(f"{target}: is a folder; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise BookError(f"{folder}: no such folder for the output")
    _probe(folder)
    if target.exists() and not in_place and (not target.stat().st_mode & 0o222 or not os.access(target, os.W_OK)):
        raise BookError(f"{target.name}: exists and is read-only; not replaced")
    return target


def _probe(folder: Path) -> None:
    """Create and remove a file in ``folder``: the only test of writability that holds for root
    and for read-only file systems alike."""
    try:
        fd, name = tempfile.mkstemp(prefix=".clearquote-probe-", dir=folder)
    except OSError as exc:
        raise BookError(f"{folder}: the output folder is not writable ({exc.strerror})") from None
    os.close(fd)
    os.unlink(name)


def save(result: Result, target: Path, cache: str = "all") -> None:
    """Write ``result`` into a copy of its workbook at ``target``.

    Every mode stores the computed value of every formula cell, so that any reader (pandas,
    openpyxl ``data_only=True``, a viewer, Excel before it recalculates) sees numbers. The modes
    differ only in what they add for a spreadsheet program without the add-in:

    * ``"all"``: every formula kept, with its value;
    * ``"catalogue"``: the same values; kept as a name for scripts written against the earlier
      mode (which left ordinary formulas without a value for the program to compute);
    * ``"libreoffice"``: as ``"all"``, and catalogue (host-computed) CSE arrays are stored as
      plain values: LibreOffice 7.4 recalculates array formulas on load whatever the recalc
      setting (measured: every member became #NAME?), while it keeps single cells' cached values.
    """
    if cache not in CACHE_MODES:
        raise BookError(f"cache: {cache!r} is not one of {', '.join(CACHE_MODES)}")
    with gc_paused():  # a million updates: see recalculate
        updates: dict[str, dict[int, dict[int, Any]]] = defaultdict(lambda: defaultdict(dict))
        freeze = cache == "libreoffice"
        for (sheet, r, c), value in result.values.items():
            if freeze and (sheet, r, c) in result.host_arrays:
                updates[sheet][r][c] = Frozen(value)
            else:
                updates[sheet][r][c] = value
        write_cached(result.path, target, updates, result.anchors, result.spill_refs)


#: The caps a book runs under by default, through the Python API as through the CLI: a child
#: process with 2,048 MiB of memory and 300 s of CPU time (:class:`~addin.headless.isolation.Budget`).
DEFAULT_BUDGET = Budget()


def recalc(
    path: Path | str,
    out: Path | str | None = None,
    functions: FunctionTable | None = None,
    *,
    in_place: bool = False,
    cache: str = "all",
    limits: Limits | None = None,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    budget: Budget | None = DEFAULT_BUDGET,
    columns: bool = True,
) -> tuple[Result, Path]:
    """Recalculate ``path`` and write it to ``out`` (default ``<name>-recalc.xlsx`` beside it).

    By default the book is evaluated in a child process within ``budget`` (memory and CPU
    time, :data:`DEFAULT_BUDGET`), as the CLI does, so a hostile book costs its child: it is a
    :class:`BookError` naming the book, never the caller's process. The :class:`Result` then
    holds the values but no live model (``Result.cell`` answers for formula cells only), and
    ``functions`` must be picklable (the catalogue's table is). ``budget=None`` runs in this
    process, uncapped. ``columns=False``: host calls one a cell, not a column at a time (see
    :func:`~addin.headless.engine.recalculate`).
    """
    if budget is not None:
        check_sendable(functions)
        got: tuple[Result, Path] = run(
            "addin.headless.recalc:_recalc_in_child",
            (str(path), None if out is None else str(out), functions, in_place, cache, limits, columns),
            str(path),
            budget,
            on_plan=on_plan,
            progress=progress,
        )
        return got
    path = Path(path)
    if cache not in CACHE_MODES:
        raise BookError(f"cache: {cache!r} is not one of {', '.join(CACHE_MODES)}")
    target = output_path(path, Path(out) if out is not None else None, in_place)
    result = recalculate(path, functions, limits=limits, progress=progress, on_plan=on_plan, columns=columns)
    t = time.perf_counter()
    save(result, target, cache)
    result.seconds["write"] = time.perf_counter() - t
    return result, target


def _recalc_in_child(
    path: str,
    out: str | None,
    functions: FunctionTable | None,
    in_place: bool,
    cache: str,
    limits: Limits | None,
    columns: bool = True,
) -> tuple[Result, Path]:
    """:func:`recalc` in a book's child: the result without its live model (it cannot cross)."""
    result, target = recalc(
        path,
        out,
        functions,
        in_place=in_place,
        cache=cache,
        limits=limits,
        progress=child_progress,
        on_plan=child_plan,
        budget=None,
        columns=columns,
    )
    return detached(result), target


def detached(result: Result) -> Result:
    """``result`` without what lives only in this process (the formula engine's model, temporary files)."""
    return dataclasses.replace(result, run=None, keep=None)


def child_plan(n: int) -> None:
    report("plan", n)


def child_progress(n: int) -> None:
    report("progress", n)
