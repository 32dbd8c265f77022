"""CHOOSECOLS and CHOOSEROWS given an array of column or row numbers.

Microsoft, "CHOOSECOLS function" / "CHOOSEROWS function": ``CHOOSECOLS(array,col_num1,
[col_num2],…)`` returns the columns named, a negative number counting from the end. Excel
also takes a range or an array constant as a number argument: its elements, row by row, are
numbers in the list, each truncated (Excel's cached values in formulas' test book, sheet
LOOKUP: ``{=CHOOSECOLS({1,2,3;4,5,6;7,8,9},C6:D6)}`` over C6 -3.9 and D6 1.1 is the first
column twice; ``CHOOSECOLS(…,C6:D6,D6:E6)`` four columns); a 2-D range there is #VALUE!
(``CHOOSECOLS(…,D6:E7)``, LOOKUP!AH6, and CHOOSEROWS alike, AH9). IronCalc 0.9.1 takes one number
per argument ("not implemented" for an array). Each such argument whose size the formula's
text gives (an A1 range, an array constant) is written out as one ``INDEX(arg,i,j)`` argument
per element; at most :data:`MAX_ELEMENTS` elements in all (Excel's 255 arguments), else the
call is left as written.
"""

from __future__ import annotations

import re

from addin.headless.a1 import column_number
from addin.headless.formula import Call, constant_shape, formula, parse, render, rewrite_calls, split_ref

#: Excel's limit on a function's arguments.
MAX_ELEMENTS = 254
_NAMES = re.compile(r"CHOOSE(?:COLS|ROWS)\s*\(", re.I)
_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


def needs_number_arrays(text: str) -> bool:
    """Cheap test before tokenising."""
    return _NAMES.search(text) is not None and (":" in text or "{" in text)


def number_arrays(text: str) -> str:
    """The formula with each CHOOSECOLS/CHOOSEROWS number argument that is an array written out
    as its elements (module docstring)."""
    nodes = parse(text)

    def spread(node: Call) -> str | None:
        if node.key not in ("CHOOSECOLS", "CHOOSEROWS") or len(node.args) < 2:
            return None
        args = [render(node.args[0])]
        changed = False
        for arg in node.args[1:]:
            text = render(arg).strip()
            shape = _shape(text)
            if shape is None or shape == (1, 1):
                args.append(render(arg))
                continue
            if shape[0] > 1 and shape[1] > 1:
                return "#VALUE!"  # a 2-D array of numbers (Excel's cached values, LOOKUP!AH6, AH9)
            args.extend(f"INDEX({text},{i},{j})" for i in range(1, shape[0] + 1) for j in range(1, shape[1] + 1))
            changed = True
        if not changed or len(args) - 1 > MAX_ELEMENTS:
            return None
        return f"{node.name}({','.join(args)})"

    if rewrite_calls(nodes, spread) == 0:
        return text
    return formula(nodes)


def _shape(text: str) -> tuple[int, int] | None:
    """Rows and columns of an array constant or an A1 range written in the text; None else."""
    if text.startswith("{"):
        return constant_shape(text)
    ref = split_ref(text)
    if ref is None or ":" not in ref[1]:
        return None
    ends = [_CELL.fullmatch(p) for p in ref[1].split(":")]
    if len(ends) != 2 or ends[0] is None or ends[1] is None:
        return None  # whole columns or rows: not spread
    r1, r2 = int(ends[0].group(2)), int(ends[1].group(2))
    c1, c2 = column_number(ends[0].group(1).upper()), column_number(ends[1].group(1).upper())
    return abs(r2 - r1) + 1, abs(c2 - c1) + 1
