"""Huge ranges evaluated over the cells that exist, never materialised.

The formula engine (IronCalc) builds an array of every cell of a range for most functions and
operators: ``COUNTBLANK(A1:XFD1048576)`` or ``SUMPRODUCT(B1:XFD1048576+1)`` asked it for
17 billion cells and ended the process ("memory allocation of 3019898896 bytes failed",
measured). A range of more than :attr:`~addin.headless.package.Limits.range_cells` cells is
therefore rewritten before the engine sees it:

* as the whole argument of a function that ignores blank cells in a reference (SUM, COUNT,
  MAX, AVERAGE... Microsoft's reference for each: "empty cells ... are ignored"), it is cut to
  the part that holds cells (the referenced sheet's used area): the answer is the same, since
  the cells left out are blank;
* anywhere else (arithmetic on it, COUNTBLANK, ROWS, a lookup) the answer depends on the
  blanks, so the formula's cell becomes ``#NUM!`` with the range, its size and the limit named;
  the rest of the book is computed.

Whole columns (1,048,576 cells) stay below the default limit and are evaluated as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, significant, split_ref
from addin.headless.package import MAX_COLUMNS, MAX_ROWS

#: Functions whose every argument may be a reference whose blank cells are ignored
#: (Microsoft's function reference: SUM, COUNT, COUNTA, AVERAGE(A), MAX(A), MIN(A), PRODUCT,
#: SUMSQ, MEDIAN, MODE, STDEV*, VAR*, AVEDEV, DEVSQ, GEOMEAN, HARMEAN, KURT, SKEW).
BLANK_BLIND = frozenset(
    """SUM COUNT COUNTA AVERAGE AVERAGEA MAX MAXA MIN MINA PRODUCT SUMSQ MEDIAN MODE MODE.SNGL STDEV STDEV.S
    STDEV.P STDEVA STDEVP STDEVPA VAR VAR.S VAR.P VARA VARP VARPA AVEDEV DEVSQ GEOMEAN HARMEAN KURT SKEW""".split()
)

_SPANS = re.compile(
    r"(?<![\w.])(\$?[A-Za-z]{1,3})?(\$?\d+)?:(\$?[A-Za-z]{1,3})?(\$?\d+)?(?![\w(])",
)
_STRING = re.compile(r'"(?:[^"]|"")*"')


class CellRefused(Exception):
    """A formula the engine will not evaluate: its cell gets ``code`` with ``reason``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _col(letters: str) -> int:
    n = 0
    for ch in letters.upper().lstrip("$"):
        n = n * 26 + ord(ch) - 64
    return n


def area(a1: str) -> tuple[int, int, int, int] | None:
    """(row1, col1, row2, col2) of an A1 range (``A1:C9``, ``A:C``, ``1:9``), None for one cell
    or anything else."""
    if ":" not in a1:
        return None
    left, _, right = a1.partition(":")
    lm = re.fullmatch(r"(\$?[A-Za-z]{1,3})?(\$?\d+)?", left)
    rm = re.fullmatch(r"(\$?[A-Za-z]{1,3})?(\$?\d+)?", right)
    if lm is None or rm is None or not (lm.group(0) and rm.group(0)):
        return None
    c1 = _col(lm.group(1)) if lm.group(1) else 1
    c2 = _col(rm.group(1)) if rm.group(1) else MAX_COLUMNS
    r1 = int(lm.group(2).lstrip("$")) if lm.group(2) else 1
    r2 = int(rm.group(2).lstrip("$")) if rm.group(2) else MAX_ROWS
    if bool(lm.group(1)) != bool(rm.group(1)) or bool(lm.group(2)) != bool(rm.group(2)):
        return None  # A1:3, a mixed form Excel does not write
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def cells(a: tuple[int, int, int, int]) -> int:
    return (a[2] - a[0] + 1) * (a[3] - a[1] + 1)


def has_huge(text: str, limit: int) -> bool:
    """Cheap test before tokenising: a range in the text (outside strings) over ``limit`` cells."""
    if ":" not in text:
        return False
    outside = _STRING.sub("", text) if '"' in text else text
    for m in _SPANS.finditer(outside):
        a = area(m.group(0))
        if a is not None and cells(a) > limit:
            return True
    return False


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def fit(text: str, limit: int, used: Callable[[str | None], tuple[int, int] | None]) -> str:
    """``text`` with each range over ``limit`` cells cut to the cells that exist (module
    docstring); raises :class:`CellRefused` where that would change the answer.

    ``used(sheet)`` gives (last row, last column) holding anything on a sheet (None: the
    formula's own sheet), or None when the sheet is unknown.
    """
    nodes = parse(text)
    changed = _fit(nodes, None, limit, used)
    return formula(nodes) if changed else text


def _fit(seq: list[object], func: str | None, limit: int, used: Callable[[str | None], tuple[int, int] | None]) -> bool:
    changed = False
    sig = significant(seq)
    for node in sig:
        if isinstance(node, Call):
            for arg in node.args:
                changed |= _fit(arg, node.key, limit, used)
            continue
        if not (isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE):
            continue
        value = node.value.lstrip("@")
        ref = split_ref(value)
        a = area(ref[1]) if ref is not None else None
        if ref is None or a is None or cells(a) <= limit:
            continue
        if func not in BLANK_BLIND or len(sig) != 1:
            raise CellRefused(
                "#NUM!",
                f"{value} covers {cells(a):,} cells where blank cells count (an operator, or a function that is "
                f"not a plain aggregate); the engine evaluates at most {limit:,} such cells (limit range_cells)",
            )
        extent = used(ref[0])
        last_row, last_col = extent if extent is not None else (a[0], a[1])
        r2, c2 = min(a[2], max(last_row, a[0])), min(a[3], max(last_col, a[1]))
        sheet = value[: len(value) - len(ref[1])]  # "'My sheet'!" as written, or ""
        node.value = f"{sheet}${_letters(a[1])}${a[0]}:${_letters(c2)}${r2}"
        changed = True
    return changed
