"""BYROW over one column and BYCOL over one row: each row (column) is one cell, as in Excel.

Microsoft, "BYROW function": BYROW "applies a LAMBDA to each row and returns an array of the
results"; "BYCOL function" alike for columns. A row of a one-column array is one value, which a
function of one value reads as that value: ``{=BYROW(C1:C5,LAMBDA(r,UPPER(r)))}`` is "1", "2",
"4"...; ``BYROW(D1:D5,LAMBDA(r,ISTEXT(r)))`` TRUE each; ``BYROW(A4:A8,LAMBDA(r,COUNTIFS(C:C,">"&r)))``
the count of each criterion. IronCalc 0.9.1 gives its LAMBDA a one-cell range there that most
functions of one value refuse (UPPER #VALUE!, ISTEXT FALSE, a criterion matching nothing).

Such a call is rewritten to MAP over the same array with the same LAMBDA (``MAP(C1:C5,
LAMBDA(r,UPPER(r)))``): MAP gives its LAMBDA each value ("MAP function"), which is the row here.
Only an array whose width (height) is known from its text to be one is rewritten: a range of one
column (row) or an array constant of one column (row); an expression is left as written.
"""

from __future__ import annotations

import re

from addin.headless.a1 import column_number
from addin.headless.formula import Call, constant_shape, formula, parse, render, rewrite_calls, significant, split_ref

_HELPER = re.compile(r"(?<![\w.])(?:_xlfn\.)?BY(?:ROW|COL)\s*\(", re.I)
_AREA = re.compile(r"\$?([A-Za-z]{1,3})?\$?(\d+)?:\$?([A-Za-z]{1,3})?\$?(\d+)?")


def needs_one_wide(text: str) -> bool:
    """Cheap test: the formula calls BYROW or BYCOL."""
    return _HELPER.search(text) is not None


def _one_wide(text: str, rows: bool) -> bool:
    """Whether the array ``text`` is one column (``rows``: BYROW's rows are single cells) or one
    row (BYCOL), as written: a range or an array constant."""
    shape = constant_shape(text)
    if shape is not None:
        return shape[1] == 1 if rows else shape[0] == 1
    ref = split_ref(text)
    if ref is None:
        return False
    area = ref[1].replace("$", "")
    if ":" not in area:
        return False  # one cell: BYROW gives its one value already
    m = _AREA.fullmatch(area)
    if m is None:
        return False
    c1, r1, c2, r2 = m.groups()
    if rows:
        return c1 is not None and c2 is not None and column_number(c1.upper()) == column_number(c2.upper())
    return r1 is not None and r2 is not None and int(r1) == int(r2)


def one_wide(text: str) -> str:
    """``text`` with BYROW over one column and BYCOL over one row as MAP (module docstring);
    ``text`` itself when it calls neither."""
    if not needs_one_wide(text):
        return text
    nodes = parse(text)

    def change(node: Call) -> str | None:
        if node.key not in ("BYROW", "BYCOL") or len(node.args) != 2:
            return None
        fn = significant(node.args[1])
        is_lambda = len(fn) == 1 and isinstance(fn[0], Call) and fn[0].key == "LAMBDA" and len(fn[0].args) == 2
        array = render(node.args[0]).strip()
        if not is_lambda or not _one_wide(array, node.key == "BYROW"):
            return None
        prefix = "_xlfn." if node.name.lower().startswith("_xlfn.") else ""
        return f"{prefix}MAP({array},{render(node.args[1]).strip()})"

    return formula(nodes) if rewrite_calls(nodes, change) else text


__all__ = ["needs_one_wide", "one_wide"]
