"""INDEX used as a reference at one end of the range operator ``:``, written as a reference
IronCalc evaluates there.

Microsoft, "INDEX function", reference form: INDEX "returns the reference of the cell at the
intersection of a particular row and column"; a ``row_num`` or ``column_num`` of 0 returns the
reference of the whole column or row; "If array contains only one row or column, the
corresponding row_num or column_num argument is optional"; indexes that "point outside the
reference" are #REF!. Microsoft, "Calculation operators and precedence in Excel": ``:`` makes
"one reference to all the cells between two references". So ``SUM(A1:INDEX(A1:A9,4))`` is
``SUM(A1:A4)``, the common dynamic-range idiom.

IronCalc 0.9.1 evaluates INDEX to a value, never a reference, so a range with an INDEX end was
#VALUE! (``SUM(A1:INDEX(A1:A9,4))``) or a silent wrong number (``COUNT(A1:INDEX(A1:A9,3))`` 0,
Excel 2). It does take OFFSET as a range end. Each INDEX that is an operand of ``:`` and whose
reference is one A1 area (sheet-qualified or not, a whole column or row included) becomes:

* with number literals as indexes, the reference itself (``A4``; a whole column stays ``A:A``,
  never its million cells);
* with indexes from cells or expressions, ``OFFSET(top-left, row offset, column offset, height,
  width)`` whose offsets carry Excel's checks in the formula: an index past the reference is
  #REF!, a negative one #VALUE! (the error of an invalid argument), text that is not a number
  #VALUE! (``INT`` of it), 0 the whole column or row.

An ``area_num`` other than 1, a reference that is a name or several areas, are left as written
(names are written out as A1 text before this runs).
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, bare_name, formula, parse, render
from addin.headless.refops import _a1, _range

#: ``:INDEX(`` or ``INDEX(...):``: a cheap test before tokenising.
_HINT = re.compile(r"(?<![\w.])(?:_xlfn\.)?(?:INDEX|IF|XLOOKUP)\(", re.I)
#: A call ending a range (``:INDEX(``) or starting one (``):``).
_ENDS = re.compile(r"\)\s*:|:\s*(?:_xlfn\.)?(?:INDEX|IF|XLOOKUP)\(", re.I)
#: OFFSET's height or width IronCalc 0.9.1 takes (a whole column's 1,048,576 rows was #VALUE!).
_MOST = 65_536
_SHEET = re.compile(r"^((?:'(?:[^']|'')+'|[^'!:\s]+)!)?(.+)$")
_INTEGER = re.compile(r"\s*(\d+)(?:\.\d*)?\s*")
_ABSOLUTE_CELL = re.compile(r"(\$?)[A-Za-z]{1,3}(\$?)\d+")


def needs_index_refs(text: str) -> bool:
    """Whether the formula may hold an INDEX as an operand of ``:`` (false positives only cost a parse)."""
    return ":" in text and _HINT.search(text) is not None and _ENDS.search(text) is not None


def index_refs(text: str) -> str:
    """The formula with each INDEX that ends a range written as a reference (module docstring)."""
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any]) -> None:
        for i, node in reversed(list(enumerate(seq))):
            if not isinstance(node, Call):
                continue
            for arg in node.args:
                walk(arg)
            prefix, key = _split(node.name)
            if key not in _REFERENCE_RETURNING:
                continue
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            follows = nxt is not None and (nxt.name if isinstance(nxt, Call) else nxt.value).lstrip().startswith(":")
            if prefix is None and not follows:
                continue  # INDEX read for its value: IronCalc's own INDEX is right there
            ref = _REFERENCE_RETURNING[key](node.args)
            if ref is None:
                continue
            if ref == "#REF!":
                # an end past the reference makes the whole range #REF! (Microsoft, "INDEX function")
                if prefix is None and isinstance(nxt, Call):
                    continue
                seq[i : i + (1 if prefix is not None else 2)] = [Token(ref, Token.OPERAND, Token.ERROR)]
            else:
                if prefix is not None and "!" in prefix:
                    # one sheet for both ends, written once (IronCalc cannot parse S!A1:S!A4)
                    sheet = prefix.rpartition("!")[0] + "!"
                    if not ref.startswith(sheet):
                        continue
                    ref = ref[len(sheet) :]
                seq[i] = Token((prefix or "") + ref, Token.OPERAND, Token.RANGE)
            changed[0] = True

    walk(nodes)
    return formula(nodes) if changed[0] else text


def _chosen(args: list[list[Any]]) -> str | None:
    """``IF(c, x[, y])`` returning one of two references (Microsoft, "IF function": the value of
    the branch taken, here a reference) as ``CHOOSE(IF(c,1,2),x[,y])``, which IronCalc takes as a
    range end (IF it did not: ``SUM(A1:IF(TRUE,A4,A2))`` was #VALUE!). Only plain references as
    branches; IF without a false branch returns FALSE, not a reference, and CHOOSE's index 2 past
    its one value is #VALUE! as Excel's range with FALSE."""
    if len(args) not in (2, 3) or not all(_plain_reference(a) for a in args[1:]):
        return None
    branches = ",".join(render(a).strip() for a in args[1:])
    return f"CHOOSE(IF({render(args[0]).strip()},1,2),{branches})"


def _looked_up(args: list[list[Any]]) -> str | None:
    """``XLOOKUP(value, lookup, return)`` (exact match, three arguments) returning a reference
    (Microsoft, "XLOOKUP function": the return of one cell of a one-column ``return_array`` can
    end a range, as in its example ``=SUM(XLOOKUP(...):XLOOKUP(...))``) as the cell of
    ``return`` at ``XMATCH(value, lookup)`` (the same exact match, no wildcards; 1 to the
    lookup's length, or #N/A), written as an OFFSET: IronCalc's XLOOKUP ending a range was #VALUE!."""
    if len(args) != 3 or not _plain_reference(args[2]):
        return None
    m = _SHEET.match(render(args[2]).strip())
    area = _range(m.group(2)) if m is not None else None
    if m is None or area is None or m.group(2).count(":") > 1:
        return None
    r1, c1, r2, c2 = area
    if r1 != r2 and c1 != c2:
        return None  # a 2-D return array returns a row or column per match: left as written
    top_left = _a1(m.group(1) or "", (r1, c1, r1, c1))
    at = f"XMATCH({render(args[0]).strip()},{render(args[1]).strip()})-1"
    return f"OFFSET({top_left},{at},0)" if c1 == c2 else f"OFFSET({top_left},0,{at})"


def _plain_reference(arg: list[Any]) -> bool:
    toks = [t for t in arg if not (isinstance(t, Token) and t.type == Token.WSPACE)]
    return len(toks) == 1 and isinstance(toks[0], Token) and toks[0].subtype == Token.RANGE


def _split(name: str) -> tuple[str | None, str]:
    """``A1:INDEX`` -> ("A1:", "INDEX"); ``INDEX`` -> (None, "INDEX"); the tokenizer keeps a
    range's start in the function token that ends it."""
    head, sep, tail = name.rpartition(":")
    if not sep:
        return None, bare_name(name.lstrip("@").strip())
    return head + sep, bare_name(tail.strip())


def _reference(args: list[list[Any]]) -> str | None:
    """The reference ``INDEX(args)`` returns, as text IronCalc evaluates as a range end; None to
    leave the call as written."""
    if not 2 <= len(args) <= 4:
        return None
    if len(args) == 4 and render(args[3]).strip() not in ("1", ""):
        return None  # another area of a multi-area reference: left to refops
    m = _SHEET.match(render(args[0]).strip())
    if m is None:
        return None
    sheet, a1 = m.group(1) or "", m.group(2)
    area = _range(a1)
    if area is None or a1.count(":") > 1:
        return None
    r1, c1, r2, c2 = area
    height, width = r2 - r1 + 1, c2 - c1 + 1
    row = render(args[1]).strip()
    col = render(args[2]).strip() if len(args) > 2 else ""
    if not col and height == 1 and width > 1:
        row, col = "1", row  # one row and one index: the index is the column (Microsoft)
    elif not col:
        col = "1" if width == 1 else "0"
    if not row:
        row = "1" if height == 1 else "0"
    rows, cols = _literal(row, r1, height), _literal(col, c1, width)
    if rows == "#REF!" or cols == "#REF!":
        return "#REF!"
    if isinstance(rows, tuple) and isinstance(cols, tuple) and rows[0] == rows[1] and cols[0] == cols[1]:
        return _absolute(_a1(sheet, (rows[0], cols[0], rows[1], cols[1])), a1)
    if (row == "0" and height > _MOST) or (col == "0" and width > _MOST):
        return None  # a whole column or row of a sheet-wide reference: never materialised by OFFSET
    top_left = sheet + a1.split(":")[0] if _ABSOLUTE_CELL.fullmatch(a1.split(":")[0]) else _a1(sheet, (r1, c1, r1, c1))
    roff, rsize = _dynamic(row, height)
    coff, csize = _dynamic(col, width)
    return f"OFFSET({top_left},{roff},{coff},{rsize},{csize})"


#: Functions returning a reference as a range end, and how each is written for IronCalc.
_REFERENCE_RETURNING = {"INDEX": _reference, "IF": _chosen, "XLOOKUP": _looked_up}


def _literal(text: str, first: int, size: int) -> tuple[int, int] | str | None:
    """The span (first, last) an index literal picks along one side of the reference, ``#REF!``
    past its end, None when the index is not a number literal. Excel truncates an index (2.7 is 2)."""
    m = _INTEGER.fullmatch(text)
    if m is None:
        return None
    k = int(m.group(1))
    if k == 0:
        return first, first + size - 1
    if k > size:
        return "#REF!"
    return first + k - 1, first + k - 1


def _dynamic(text: str, size: int) -> tuple[str, str]:
    """OFFSET's offset and size for an index computed when the formula runs: the checks of
    :func:`_literal` in the formula (INT of text that is not a number is #VALUE!)."""
    if (lit := _INTEGER.fullmatch(text)) is not None:
        k = int(lit.group(1))
        return ("0", str(size)) if k == 0 else (str(k - 1), "1")
    k = f"INT({text})"
    offset = f"IF({k}<0,#VALUE!,IF({k}>{size},#REF!,MAX({k}-1,0)))"
    return offset, f"IF({k}=0,{size},1)"


def _absolute(ref: str, written: str) -> str:
    """``ref`` with the ``$`` of the reference INDEX was given, so the rewrite filled down is the
    formula filled down: a row of a whole column is absolute (``A:A`` does not move with rows)."""
    first = written.split(":")[0]
    cell = _ABSOLUTE_CELL.fullmatch(first)
    if cell is not None:
        col_abs, row_abs = bool(cell.group(1)), bool(cell.group(2))
    elif first.lstrip("$").isdigit():  # a whole row: its columns are fixed
        col_abs, row_abs = True, first.startswith("$")
    else:  # a whole column: its rows are fixed
        col_abs, row_abs = first.startswith("$"), True

    def mark(m: re.Match[str]) -> str:
        return ("$" if col_abs else "") + m.group(1) + ("$" if row_abs else "") + m.group(2)

    sheet, _, body = ref.rpartition("!")
    body = re.sub(r"([A-Za-z]{1,3})(\d+)", mark, body)
    return (sheet + "!" if sheet else "") + body
