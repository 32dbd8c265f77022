"""Circular references as Excel treats them (Microsoft, "Remove or allow a circular reference").

With iterative calculation off (the default), Excel leaves the cells of a circular chain, and
what it feeds, at 0: the formula engine's #CIRC! becomes 0, with the reason. With it on
(``<calcPr iterate="1">``, File > Options > Formulas), the chain is recalculated from 0 until no
cell moves by more than ``iterateDelta`` (Maximum Change) or ``iterateCount`` (Maximum
Iterations) rounds are done. Each circular cell's formula reads the previous round's values of
the others from scratch cells (Jacobi iteration; Excel goes cell by cell, to the same fixed
point); a circular cell referred to inside a range keeps #CIRC!.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from addin.headless.formula import PLAIN_CELL, map_ranges, split_ref

#: The previous round's values of circular cells under iterative calculation.
ITERATION = "__clearquote_iteration"


def settle(run: Any, cells: list[tuple[str, int, int]]) -> None:
    """Give the circular ``cells`` (sheet title, row, col) of ``run`` (the engine's run) Excel's values."""
    at = [(run.index[t], r, c) for t, r, c in cells if t in run.index]
    if not run.pkg.iterate:
        for si, r, c in at:
            run._put(si, r, c, 0.0)
            run.reasons[(si, r, c)] = "a circular reference: Excel shows 0 while iterative calculation is off"
        return
    model = run.model
    model.add_sheet(ITERATION)
    shadow_sheet = len(model.get_worksheets_properties()) - 1
    run.titles.append(ITERATION)
    shadow = {key: k + 1 for k, key in enumerate(at)}
    for k in shadow.values():
        model.update_cell_with_number(shadow_sheet, k, 1, 0.0)
    for si, r, c in at:
        text = model.get_cell_formula(si, r, c)
        if text:
            with contextlib.suppress(Exception):  # a formula the engine will not take back stays as it was
                model.update_cell_with_formula(si, r, c, _read_shadows(text, run.titles[si], run.names, shadow))
    for _ in range(max(run.pkg.iterate_count, 1)):
        model.evaluate()
        change = 0.0
        for key, k in shadow.items():
            v = model.get_cell_value(*key)
            old = model.get_cell_value(shadow_sheet, k, 1)
            if isinstance(v, float) and isinstance(old, float):
                change = max(change, abs(v - old))
                model.update_cell_with_number(shadow_sheet, k, 1, v)
        run.stats.iterations += 1
        if change < run.pkg.iterate_delta:
            break
    model.evaluate()


def _read_shadows(text: str, sheet: str, names: Mapping[str, int], shadow: Mapping[tuple[int, int, int], int]) -> str:
    """A circular cell's formula with each single-cell reference to a circular cell replaced by
    that cell's scratch copy (the previous round's value)."""
    here = names.get(sheet.upper())

    def to_shadow(operand: str) -> str | None:
        ref = split_ref(operand.lstrip("@"))
        m = PLAIN_CELL.fullmatch(ref[1]) if ref is not None else None
        if ref is None or m is None:
            return None
        si = names.get(ref[0].upper()) if ref[0] is not None else here
        col = 0
        for ch in m.group(1).upper():
            col = col * 26 + ord(ch) - 64
        k = shadow.get((si, int(m.group(2)), col)) if si is not None else None
        return None if k is None else f"'{ITERATION}'!$A${k}"

    return "=" + map_ranges(text, to_shadow).lstrip("=")
