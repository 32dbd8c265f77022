"""From formula cells to an evaluation plan: same-shape groups in dependency order.

1. Formulas down a column with the same R1C1 shape form one :class:`Group` (one row vector).
2. Each group reads rectangles (the union over its rows of each reference) and writes one.
   Group B depends on group A when a rectangle B reads meets the one A writes.
3. The strongly connected components of that graph are taken in topological order. A
   component of one group that does not read itself is evaluated as a whole; any other
   component (a running total reading its own column, bounding boxes that overlap without
   a real cycle) is expanded to its cells and ordered cell by cell, which is exact; a cycle
   among cells is a circular reference and stops the run with the cells named.
"""

from __future__ import annotations

import bisect
import graphlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from addin.workbook.book import Book, BookError, FormulaCell, address, where
from addin.workbook.functions import ELEMENTWISE, catalogue_spec, is_known
from addin.workbook.refs import Operand, Ref, analyse, function_names, shape_key

# Functions whose result depends on where the formula sits, not only on input values.
NEEDS_ADDRESS = frozenset({"ROW", "COLUMN", "ROWS", "COLUMNS", "CELL", "ISREF", "ADDRESS"})
DYNAMIC = frozenset({"INDIRECT", "OFFSET"})


@dataclass(frozen=True)
class Binding:
    """What one input of a compiled formula is: a reference (as in the representative row) or a constant."""

    ref: Ref | None
    value: Any = None


@dataclass
class Group:
    """Formulas of one shape down one column (one row vector); ``rep_row`` is the first."""

    gid: int
    sheet: str
    col: int
    rows: np.ndarray
    text: str
    array: tuple[int, int] | None
    operands: list[Operand] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    @property
    def rep_row(self) -> int:
        return int(self.rows[0])

    @property
    def height(self) -> int:
        return self.array[0] if self.array else 1

    @property
    def width(self) -> int:
        return self.array[1] if self.array else 1

    def cells(self) -> int:
        return len(self.rows)

    def read_rects(self, book: Book) -> list[tuple[str, int, int, int, int]]:
        """(sheet, row1, row2, col1, col2) for every reference, over all the group's rows."""
        lo, hi = int(self.rows[0]) - self.rep_row, int(self.rows[-1]) - self.rep_row
        rects = []
        for op in self.operands:
            ref = op.ref if op.ref is not None else book.names.get(op.name or "")
            if not isinstance(ref, Ref):
                continue
            a, b = ref.shifted(lo), ref.shifted(hi)
            rects.append(((ref.sheet or self.sheet).upper(), min(a.row1, b.row1), max(a.row2, b.row2), a.col1, a.col2))
        return rects

    def write_rect(self) -> tuple[str, int, int, int, int]:
        return (self.sheet.upper(), int(self.rows[0]), int(self.rows[-1]) + self.height - 1, self.col, self.col + self.width - 1)

    def stackable(self) -> bool:
        """Whether one call over stacked rows equals a call per row (the fast path's rule).

        Every function is on the element-wise whitelist or a catalogue function with row-wise
        arguments; every reference that moves with the row is one row tall and, inside a
        catalogue call, sits in one of its row-wise arguments; a fixed multi-cell range is
        only an argument of a catalogue function (an element-wise operator on it would make
        each row an array).
        """
        if len(self.rows) < 2 or self.height != 1:
            return False
        for name in self.functions:
            spec = catalogue_spec(name)
            if (spec is None or not spec.rows) and name not in ELEMENTWISE:
                return False
        for op in self.operands:
            if op.ref is None:
                continue  # names are fixed references or constants
            inner = catalogue_spec(op.path[-1][0]) if op.path else None
            if op.ref.relative_rows:
                if op.ref.height != 1:
                    return False
                for fname, index in op.path:
                    spec = catalogue_spec(fname)
                    if spec is not None and (index >= len(spec.args) or spec.args[index].name not in spec.rows):
                        return False
                if op.ref.width > 1 and inner is None:
                    return False
            elif (op.ref.height > 1 or op.ref.width > 1) and inner is None:
                return False
        return True


@dataclass(frozen=True)
class Step:
    """One unit of work: a whole group, or one cell (row) of a group, in order."""

    group: Group
    row: int | None = None  # None: the whole group


def build_groups(book: Book) -> list[Group]:
    """Group the book's formulas by (sheet, column, shape) and check each shape once."""
    buckets: dict[tuple[str, int, str, tuple[int, int] | None], list[FormulaCell]] = defaultdict(list)
    for fc in book.formulas:
        buckets[(fc.sheet, fc.col, shape_key(fc.text, fc.row, fc.col), fc.array)].append(fc)
    groups: list[Group] = []
    problems: list[str] = []
    for (sheet, col, _, array), cells in buckets.items():
        cells.sort(key=lambda c: c.row)
        rep = cells[0]
        g = Group(len(groups), sheet, col, np.fromiter((c.row for c in cells), dtype=np.int64, count=len(cells)), rep.text, array)
        try:
            g.operands = analyse(rep.text)
        except Exception as exc:
            problems.append(f"{where(book.path, sheet, rep.row, col)}: cannot parse the formula {rep.text!r} ({exc})")
            continue
        g.functions = function_names(rep.text)
        problems.extend(_check(book, g))
        groups.append(g)
    if problems:
        raise BookError("\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    return groups


def _check(book: Book, g: Group) -> list[str]:
    at = where(book.path, g.sheet, g.rep_row, g.col)
    out = []
    for name in g.functions:
        if name in DYNAMIC:
            out.append(
                f"{at}: {name} builds references at run time, which the headless engine does not follow; use direct references or INDEX"
            )
        elif not is_known(name):
            out.append(
                f"{at}: unknown function {name} in {g.text!r} (neither an Excel function the engine has nor a catalogue function; see `clearquote functions`)"
            )
    for op in g.operands:
        if op.ref is not None:
            sheet = op.ref.sheet
            if sheet is not None and sheet.upper() not in book.sheets:
                out.append(
                    f"{at}: the formula {g.text!r} refers to sheet {sheet!r}, which the workbook does not have (sheets: {', '.join(s.name for s in book.sheets.values())})"
                )
            continue
        if "[" in op.text:
            out.append(f"{at}: structured (table) reference {op.text} is not supported; use a cell range")
        elif op.name not in book.names:
            out.append(f"{at}: unknown name {op.text} in {g.text!r} (not a defined name of the workbook)")
        elif isinstance(book.names[op.name], BookError):
            out.append(f"{at}: {book.names[op.name]}")
        elif isinstance(book.names[op.name], Ref) and book.names[op.name].sheet.upper() not in book.sheets:
            out.append(f"{at}: name {op.text} refers to a missing sheet {book.names[op.name].sheet!r}")
    return out


def _edges(book: Book, groups: list[Group]) -> tuple[list[int], list[int]]:
    by_column: dict[tuple[str, int], list[tuple[int, int, int]]] = defaultdict(list)
    columns: dict[str, list[int]] = defaultdict(list)
    for g in groups:
        sheet, r1, r2, c1, c2 = g.write_rect()
        for c in range(c1, c2 + 1):
            by_column[(sheet, c)].append((r1, r2, g.gid))
    for key in by_column:
        by_column[key].sort()
        columns[key[0]].append(key[1])
    starts = {k: [r1 for r1, _, _ in v] for k, v in by_column.items()}
    src, dst = [], []
    for g in groups:
        for sheet, r1, r2, c1, c2 in g.read_rects(book):
            for c in columns.get(sheet, ()):
                if not c1 <= c <= c2:
                    continue
                entries = by_column[(sheet, c)]
                stop = bisect.bisect_right(starts[(sheet, c)], r2)
                for _w1, w2, h in entries[:stop]:
                    if w2 >= r1:
                        src.append(h)
                        dst.append(g.gid)
    return src, dst


def plan(book: Book, groups: list[Group]) -> list[Step]:
    """The order of evaluation; raises :class:`BookError` naming the cells of a circular reference."""
    n = len(groups)
    if n == 0:
        return []
    src, dst = _edges(book, groups)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)).tocsr()
    ncomp, label = connected_components(graph, directed=True, connection="strong")
    members: dict[int, list[int]] = defaultdict(list)
    for gid, comp in enumerate(label):
        members[int(comp)].append(gid)
    self_loop = {s for s, d in zip(src, dst) if s == d}
    order = graphlib.TopologicalSorter({int(c): set() for c in range(ncomp)})
    for s, d in zip(src, dst):
        if label[s] != label[d]:
            order.add(int(label[d]), int(label[s]))
    steps: list[Step] = []
    for comp in order.static_order():
        ids = members[comp]
        if len(ids) == 1 and ids[0] not in self_loop:
            steps.append(Step(groups[ids[0]]))
        else:
            steps.extend(_cell_order(book, [groups[i] for i in ids]))
    return steps


def _cell_order(book: Book, groups: list[Group]) -> list[Step]:
    """Exact cell-by-cell order inside a strongly connected set of groups."""
    owner: dict[tuple[str, int, int], tuple[Group, int]] = {}
    for g in groups:
        for r in g.rows.tolist():
            for dr in range(g.height):
                for dc in range(g.width):
                    owner[(g.sheet.upper(), r + dr, g.col + dc)] = (g, r)
    positions = defaultdict(list)
    for sheet, r, c in owner:
        positions[sheet].append((r, c))
    graph: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for g in groups:
        for r in g.rows.tolist():
            preds: set[tuple[int, int]] = set()
            for op in g.operands:
                ref = op.ref if op.ref is not None else book.names.get(op.name or "")
                if not isinstance(ref, Ref):
                    continue
                s = ref.shifted(r - g.rep_row)
                sheet = (ref.sheet or g.sheet).upper()
                if s.height * s.width <= 4096:
                    cells = ((rr, cc) for rr in range(s.row1, s.row2 + 1) for cc in range(s.col1, s.col2 + 1))
                else:
                    cells = (p for p in positions[sheet] if s.row1 <= p[0] <= s.row2 and s.col1 <= p[1] <= s.col2)
                for rr, cc in cells:
                    hit = owner.get((sheet, rr, cc))
                    if hit is not None:
                        preds.add((hit[0].gid, hit[1]))
            graph[(g.gid, r)] = preds
    by_id = {g.gid: g for g in groups}
    try:
        ordered = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        cells = " -> ".join(address(by_id[gid].sheet, r, by_id[gid].col) for gid, r in cycle)
        first = by_id[cycle[0][0]]
        raise BookError(f"{where(book.path, first.sheet, cycle[0][1], first.col)}: circular reference: {cells}") from None
    return [Step(by_id[gid], r) for gid, r in ordered]
