"""ISFORMULA of a range in an array formula: one TRUE or FALSE per cell.

Microsoft, "ISFORMULA function": "Checks whether there is a reference to a cell that contains a
formula, and returns TRUE or FALSE". Given a range in an array formula (CSE or dynamic), Excel
answers for each cell, and a cell of an array formula's range or of a dynamic array's spill
counts as holding a formula (Excel's cached values in formulas' test book:
``{=ISFORMULA(BC75:BD93)}`` is TRUE at the cells BC78:BC82 that a spill fills, EXTRA!BG79;
``{=ISFORMULA(C10:J10)}`` entered over 16 cells is #N/A beyond the 8, INFORMATION!AP10).
IronCalc 0.9.1 gives #VALUE! for a range. Which cells hold a formula is known from the file
before anything is computed, so the call is written as the array constant of the answers, of
the range's shape (at most :data:`MAX_CELLS` cells, else left as written). Outside array
formulas the call is left to the engine (implicit intersection).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from addin.headless.a1 import column_number
from addin.headless.formula import Call, formula, parse, render, rewrite_calls, split_ref

#: The largest range written out as a constant.
MAX_CELLS = 10_000
_NAME = re.compile(r"ISFORMULA\s*\(", re.I)
_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")

#: The cells holding a formula on a sheet (None: the formula's own sheet), as (row, column).
FormulaCells = Callable[["str | None"], "frozenset[tuple[int, int]] | None"]


def needs_isformula(text: str) -> bool:
    """Cheap test before tokenising."""
    return _NAME.search(text) is not None and ":" in text


def isformula_arrays(text: str, cells_of: FormulaCells) -> str:
    """The formula with each ``ISFORMULA(range)`` of a multi-cell A1 range written as its array
    constant (module docstring)."""
    nodes = parse(text)

    def answer(node: Call) -> str | None:
        if node.key != "ISFORMULA" or len(node.args) != 1:
            return None
        ref = split_ref(render(node.args[0]))
        if ref is None or ":" not in ref[1]:
            return None
        ends = [_CELL.fullmatch(p) for p in ref[1].split(":")]
        if len(ends) != 2 or ends[0] is None or ends[1] is None:
            return None
        r1, r2 = sorted((int(ends[0].group(2)), int(ends[1].group(2))))
        c1, c2 = sorted((column_number(ends[0].group(1).upper()), column_number(ends[1].group(1).upper())))
        if (r2 - r1 + 1) * (c2 - c1 + 1) > MAX_CELLS:
            return None
        cells = cells_of(ref[0])
        if cells is None:
            return None  # a sheet the book does not have: the engine's own answer (#REF!)
        rows = (",".join("TRUE" if (r, c) in cells else "FALSE" for c in range(c1, c2 + 1)) for r in range(r1, r2 + 1))
        return "{" + ";".join(rows) + "}"

    if rewrite_calls(nodes, answer) == 0:
        return text
    return formula(nodes)
