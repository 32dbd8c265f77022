"""Evaluating a plan: each group once over stacked rows where that is exact, else row by row.

Both paths run the same function: the representative formula compiled by ``formulas``
(``Parser().ast(text)[1].compile()``), which gives Excel's semantics for operators, errors,
coercion and the 400+ Excel functions. The fast path calls it once with every input as a
column (n x width) of the group's rows; the slow path calls it once per row with that row's
inputs. The formula text is never evaluated by Python: ``formulas`` parses it into calls of
the functions in its table, to which only the catalogue is added.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import formulas
import numpy as np
from formulas.ranges import Ranges
from openpyxl.utils import get_column_letter

from addin.workbook.book import Book, BookError, where
from addin.workbook.functions import STATE, catalogue_spec, error, register
from addin.workbook.plan import NEEDS_ADDRESS, Binding, Group, Step
from addin.workbook.refs import Ref, analyse, fill_missing, parse_ref


@dataclass
class Stats:
    """What the run did: how many groups went each way (the benchmark and the CLI report it)."""

    groups: int = 0
    stacked_groups: int = 0
    stacked_cells: int = 0
    per_row_cells: int = 0
    fallbacks: list[str] = field(default_factory=list)


def scalar(value: Any) -> Any:
    """A result element as a cell holds it (Python scalars; NaN/inf are #NUM!)."""
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value.flat[0]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return error("#NUM!", "not a finite number")
    return value


_SCALARS = np.frompyfunc(scalar, 1, 1)


def as_grid(result: Any) -> np.ndarray:
    arr = np.asarray(result, dtype=object)
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr.reshape(1, -1)
    return arr


def fit(result: np.ndarray, height: int, width: int) -> np.ndarray:
    """A result placed into a height x width array range (Excel: repeat a single row or
    column, pad the rest with #N/A, drop what does not fit)."""
    h, w = result.shape
    out = np.empty((height, width), dtype=object)
    out[...] = error("#N/A")
    rows = np.arange(height) if h > 1 else np.zeros(height, dtype=int)
    cols = np.arange(width) if w > 1 else np.zeros(width, dtype=int)
    rr, cc = rows[rows < h], cols[cols < w]
    out[: len(rr), : len(cc)] = result[np.ix_(rr, cc)]
    return out


class Evaluator:
    """Runs a plan over a book, writing results into the book's value arrays."""

    def __init__(self, book: Book, stack: bool = True) -> None:
        self.book = book
        self.stack = stack
        register()
        self.parser = formulas.Parser()
        self.stats = Stats()
        self._compiled: dict[str, tuple[Callable[..., Any], list[Binding]]] = {}
        self._texts: dict[tuple[str, int, int], str] | None = None

    # ------------------------------------------------------------------ compile

    def compile(self, group: Group) -> tuple[Callable[..., Any], list[Binding]]:
        """The representative formula compiled once, with what each of its inputs is."""
        # a one-cell compile may bind a range written both ways; a group's may not
        key = f"{group.sheet}\x00{group.text}\x00{len(group.rows) > 1}"
        if key not in self._compiled:
            try:
                fn = self.parser.ast(fill_missing(group.text, lambda name: catalogue_spec(name) is not None))[1].compile()
            except Exception as exc:
                raise BookError(
                    f"{where(self.book.path, group.sheet, group.rep_row, group.col)}: cannot compile {group.text!r} ({exc})"
                ) from None
            own = {}
            for op in group.operands:
                if op.ref is not None:
                    own.setdefault(op.ref.key(), []).append(op.ref)
            bindings = []
            for name in fn.inputs:
                ref = parse_ref(name)
                if ref is None:
                    value = self.book.names[name.upper()]
                    bindings.append(Binding(value if isinstance(value, Ref) else None, value))
                    continue
                sheet = (ref.sheet or "").upper()
                mine = own.get((sheet, ref.row1, ref.col1, ref.row2, ref.col2)) or own.get(
                    ("" if sheet == group.sheet.upper() else group.sheet.upper(), ref.row1, ref.col1, ref.row2, ref.col2)
                )
                if not mine or (
                    len(group.rows) > 1 and len({(m.abs_row1, m.abs_row2, m.abs_col1, m.abs_col2) for m in mine}) != 1
                ):
                    raise LookupError(name)  # the same range written both fixed and relative
                bindings.append(Binding(mine[0]))
            self._compiled[key] = (fn, bindings)
        return self._compiled[key]

    # ------------------------------------------------------------------ inputs

    def _sheet(self, ref: Ref, group: Group):  # type: ignore[no-untyped-def]
        return self.book.sheet(ref.sheet, group.sheet)

    def _row_inputs(self, group: Group, bindings: list[Binding], row: int, ranges: bool) -> list[Any]:
        args = []
        for b in bindings:
            if b.ref is None:
                args.append(b.value)
                continue
            ref = b.ref.shifted(row - group.rep_row)
            if ref.row1 < 1 or ref.col1 < 1:
                args.append(error("#REF!"))
                continue
            block = self._sheet(ref, group).block(ref.row1, ref.row2, ref.col1, ref.col2)
            if ranges:
                rng = f"{get_column_letter(ref.col1)}{ref.row1}:{get_column_letter(ref.col1 + block.shape[1] - 1)}{ref.row1 + block.shape[0] - 1}"
                args.append(Ranges().push(rng, block))
            else:
                args.append(block)
        return args

    def _stacked_inputs(self, group: Group, bindings: list[Binding]) -> list[Any]:
        args = []
        for b in bindings:
            if b.ref is None:
                args.append(b.value)
                continue
            sheet = self._sheet(b.ref, group)
            if not b.ref.relative_rows:
                args.append(sheet.block(b.ref.row1, b.ref.row2, b.ref.col1, b.ref.col2))
                continue
            rows = group.rows + (b.ref.row1 - group.rep_row)
            if rows[0] < 1:
                raise LookupError("reference above row 1")
            block = sheet.block(int(rows[0]), int(rows[-1]), b.ref.col1, b.ref.col2)
            args.append(block[rows - rows[0]])
        return args

    # ------------------------------------------------------------------ evaluate

    def run(self, steps: list[Step], progress: Callable[[int], None] | None = None) -> None:
        seen: set[int] = set()
        for step in steps:
            if step.group.gid not in seen:
                seen.add(step.group.gid)
                self.stats.groups += 1
            if step.row is None:
                self.group(step.group)
                done = step.group.cells()
            else:
                self.cell(step.group, step.row)
                done = 1
            if progress is not None:
                progress(done)

    def group(self, group: Group) -> None:
        if self.stack and group.stackable() and self._stacked(group):
            return
        for row in group.rows.tolist():
            self.cell(group, row)

    def _stacked(self, group: Group) -> bool:
        try:
            fn, bindings = self.compile(group)
            args = self._stacked_inputs(group, bindings)
        except LookupError:
            return False
        STATE.stacked, STATE.vetoed = True, False
        try:
            result = as_grid(fn(*args))
        except Exception as exc:
            self.stats.fallbacks.append(f"{group.sheet}!{get_column_letter(group.col)}{group.rep_row}: {type(exc).__name__}")
            return False
        finally:
            STATE.stacked = False
        n = len(group.rows)
        if STATE.vetoed or result.shape[0] != n or result.shape[1] < 1:
            self.stats.fallbacks.append(
                f"{group.sheet}!{get_column_letter(group.col)}{group.rep_row}: shape {result.shape} for {n} rows"
            )
            return False
        sheet = self.book.sheet(group.sheet, group.sheet)
        width = group.width
        placed = fit(result, n, width) if group.array else result[:, :1]
        placed = _SCALARS(placed)  # numpy's C loop over the cells, not a Python one
        sheet.values[group.rows[:, None], group.col + np.arange(width)[None, :]] = placed.reshape(n, width)
        self.stats.stacked_groups += 1
        self.stats.stacked_cells += n
        return True

    def cell(self, group: Group, row: int) -> None:
        sheet = self.book.sheet(group.sheet, group.sheet)
        try:
            fn, bindings = self.compile(group)
        except LookupError:
            fn, bindings = self._own(group, row)
            row_of_fn = row
        else:
            row_of_fn = None
        shift_group = group if row_of_fn is None else _at(group, row)
        args = self._row_inputs(shift_group, bindings, row, ranges=any(f in NEEDS_ADDRESS for f in group.functions))
        try:
            result = as_grid(fn(*args))
        except Exception as exc:
            result = np.array([[error("#VALUE!", f"formula engine: {type(exc).__name__}: {exc}")]], dtype=object)
        if group.array:
            placed = fit(result, group.height, group.width)
            for i in range(group.height):
                for j in range(group.width):
                    sheet.values[row + i, group.col + j] = scalar(placed[i, j])
        else:
            sheet.values[row, group.col] = scalar(result[0, 0])
        self.stats.per_row_cells += 1

    def _own(self, group: Group, row: int) -> tuple[Callable[..., Any], list[Binding]]:
        """A cell whose formula cannot be shifted from the representative's: compile its own text."""
        if self._texts is None:
            self._texts = {(fc.sheet, fc.row, fc.col): fc.text for fc in self.book.formulas}
        text = self._texts[(group.sheet, row, group.col)]
        own = Group(group.gid, group.sheet, group.col, np.array([row]), text, group.array, analyse(text), group.functions)
        return self.compile(own)


def _at(group: Group, row: int) -> Group:
    return Group(group.gid, group.sheet, group.col, np.array([row]), group.text, group.array, group.operands, group.functions)
