"""The headless workbook engine: recalculate, write cached values, validate.

``recalculate`` reads a workbook, plans and evaluates every formula (``plan``, ``evaluate``)
and returns the values; ``recalc`` writes them as cached values into a copy (or, asked
explicitly, over the input); ``validate`` recomputes and compares with the values the file
stores. Nothing here changes the input unless ``in_place`` is given.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formulas.tokens.operand import XlError

from addin.workbook.book import Book, BookError, address, read_book
from addin.workbook.evaluate import Evaluator, Stats
from addin.workbook.functions import EMPTY, catalogue_spec, reason_of
from addin.workbook.plan import Group, build_groups, plan
from addin.workbook.writer import STRIP, Frozen, write_cached

CACHE_MODES = ("all", "catalogue", "libreoffice")


@dataclass
class Result:
    """A recalculated book: values in ``book``'s arrays, the groups, and what the run did."""

    book: Book
    groups: list[Group]
    stats: Stats
    seconds: dict[str, float] = field(default_factory=dict)

    def positions(self) -> dict[str, dict[tuple[int, int], Group]]:
        """Every cell a formula fills (anchors and array members), per sheet title."""
        out: dict[str, dict[tuple[int, int], Group]] = defaultdict(dict)
        for g in self.groups:
            for r in g.rows.tolist():
                for dr in range(g.height):
                    for dc in range(g.width):
                        out[g.sheet][(r + dr, g.col + dc)] = g
        return out

    def anchors(self) -> dict[str, set[tuple[int, int]]]:
        out: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for g in self.groups:
            out[g.sheet].update((r, g.col) for r in g.rows.tolist())
        return out

    def value(self, sheet: str, row: int, col: int) -> Any:
        return self.book.sheet(sheet, sheet).values[row, col]

    def errors(self) -> list[tuple[str, str, str]]:
        """(cell, code, reason) for every formula cell whose value is an error."""
        found = []
        for sheet, cells in self.positions().items():
            values = self.book.sheet(sheet, sheet).values
            for r, c in sorted(cells):
                v = values[r, c]
                if isinstance(v, XlError):
                    found.append((address(sheet, r, c), str(v), reason_of(v)))
        return found

    def read_input_errors(self) -> list[str]:
        """Input (non-formula) cells holding an error value that some formula reads."""
        rects = [rect for g in self.groups for rect in g.read_rects(self.book)]
        hits = []
        for sheet, r, c, code in self.book.input_errors:
            if any(s == sheet.upper() and r1 <= r <= r2 and c1 <= c <= c2 for s, r1, r2, c1, c2 in rects):
                hits.append(f"{address(sheet, r, c)} holds {code}")
        return hits


def uses_catalogue(group: Group) -> bool:
    return any(catalogue_spec(name) is not None for name in group.functions)


def recalculate(
    path: Path | str,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    *,
    stack: bool = True,
) -> Result:
    """Evaluate every formula of the workbook at ``path`` (which is only read).

    ``stack=False`` turns the fast path off (every cell evaluated alone): the reference the
    tests compare the fast path with.
    """
    t0 = time.perf_counter()
    book = read_book(path)
    t1 = time.perf_counter()
    groups = build_groups(book)
    steps = plan(book, groups)
    t2 = time.perf_counter()
    if on_plan is not None:
        on_plan(sum(g.cells() for g in groups))
    ev = Evaluator(book, stack)
    ev.run(steps, progress)
    t3 = time.perf_counter()
    return Result(book, groups, ev.stats, {"read": t1 - t0, "plan": t2 - t1, "evaluate": t3 - t2})


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}-recalc{path.suffix}")


def output_path(path: Path, out: Path | None, in_place: bool) -> Path:
    """Where ``recalc`` writes; refuses to overwrite the input unless ``in_place``."""
    if in_place:
        if out is not None and out.resolve() != path.resolve():
            raise BookError("give either -o OUT or --in-place, not both")
        return path
    target = out if out is not None else default_output(path)
    if target.exists() and target.resolve() == path.resolve():
        raise BookError(f"{path.name}: the output would overwrite the input; pass --in-place to allow that")
    if target.suffix.lower() != path.suffix.lower():
        raise BookError(
            f"{target.name}: the output must keep the input's type ({path.suffix}); a {path.suffix} cannot be saved as {target.suffix}"
        )
    if target.is_dir():
        raise BookError(f"{target}: is a folder; give a file name")
    return target


def save(result: Result, target: Path, cache: str = "all") -> None:
    """Write ``result`` into a copy of its workbook at ``target``.

    ``cache="all"`` stores every formula's value; ``"catalogue"`` stores only the values of
    cells that call the catalogue and clears the others, so that a spreadsheet program
    without the add-in (LibreOffice) keeps our values and computes its own for the rest.
    ``"libreoffice"`` is ``"catalogue"`` with the catalogue's CSE arrays stored as plain
    values: LibreOffice 7.4 recalculates array formulas on load whatever the recalc setting
    (measured: every member became #NAME?), while it keeps single cells' cached values.
    """
    if cache not in CACHE_MODES:
        raise BookError(f"cache: {cache!r} is not one of {', '.join(CACHE_MODES)}")
    updates: dict[str, dict[int, dict[int, Any]]] = defaultdict(lambda: defaultdict(dict))
    for sheet, cells in result.positions().items():
        values = result.book.sheet(sheet, sheet).values
        for (r, c), g in cells.items():
            ours = uses_catalogue(g)
            if cache == "all" or (ours and not (cache == "libreoffice" and g.array)):
                updates[sheet][r][c] = values[r, c]
            else:
                updates[sheet][r][c] = Frozen(values[r, c]) if ours else STRIP
    write_cached(result.book.path, target, updates, result.anchors())


def recalc(
    path: Path | str,
    out: Path | str | None = None,
    *,
    in_place: bool = False,
    cache: str = "all",
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> tuple[Result, Path]:
    """Recalculate ``path`` and write it to ``out`` (default ``<name>-recalc.xlsx`` beside it)."""
    path = Path(path)
    target = output_path(path, Path(out) if out is not None else None, in_place)
    result = recalculate(path, progress, on_plan)
    t = time.perf_counter()
    save(result, target, cache)
    result.seconds["write"] = time.perf_counter() - t
    return result, target


# ----------------------------------------------------------------------------- validate


@dataclass(frozen=True)
class Mismatch:
    cell: str
    stored: Any
    computed: Any
    why: str


def show(value: Any) -> str:
    if value is EMPTY or value is None:
        return "(blank)"
    if isinstance(value, XlError):
        return str(value) + (f" ({reason_of(value)})" if reason_of(value) else "")
    if isinstance(value, float):
        return f"{value:.12g}"
    return repr(value)


def same(stored: Any, computed: Any, rtol: float, atol: float) -> str | None:
    """None when equal under Excel's types and the tolerance; else why not."""
    blank_s = stored is EMPTY or stored is None or stored == ""
    blank_c = computed is EMPTY or computed is None or computed == ""
    if blank_s and blank_c:
        return None
    if blank_s:
        return "no cached value in the file (recalculate it first)"
    if isinstance(stored, XlError) or isinstance(computed, XlError):
        return (
            None
            if str(stored) == str(computed) and isinstance(stored, XlError) == isinstance(computed, XlError)
            else "different value"
        )
    if isinstance(stored, bool) or isinstance(computed, bool):
        return (
            None
            if stored is computed or (isinstance(stored, bool) and isinstance(computed, bool) and stored == computed)
            else "different value"
        )
    if isinstance(stored, (int, float)) and isinstance(computed, (int, float)):
        diff = abs(float(stored) - float(computed))
        if diff <= atol + rtol * abs(float(computed)):
            return None
        rel = diff / abs(float(computed)) if computed else math.inf
        return f"differs by {diff:.3g} (relative {rel:.3g} > rtol {rtol:g})"
    return None if str(stored) == str(computed) else "different value"


def validate(
    path: Path | str,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> tuple[Result, list[Mismatch], int]:
    """Recompute every formula and compare with the stored values; returns the mismatches and the number of cells compared.

    ``atol`` (1e-9 by default: a billionth of a dollar) keeps values that should be zero
    from failing on rounding noise, where a relative test means nothing.
    """
    if not (0 <= rtol < 1) or not (0 <= atol):
        raise BookError(f"--rtol must be in [0, 1) and --atol >= 0 (got {rtol}, {atol})")
    result = recalculate(path, progress, on_plan)
    stored = read_book(path, stored=True)
    mismatches = []
    compared = 0
    for sheet, cells in result.positions().items():
        mine = result.book.sheet(sheet, sheet)
        theirs = stored.sheet(sheet, sheet)
        for r, c in sorted(cells):
            s = theirs.values[r, c] if r <= theirs.max_row and c <= theirs.max_col else EMPTY
            v = mine.values[r, c]
            compared += 1
            why = same(s, v, rtol, atol)
            if why is not None:
                mismatches.append(Mismatch(address(sheet, r, c), s, v, why))
    return result, mismatches, compared
