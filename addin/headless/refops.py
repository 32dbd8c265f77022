"""Excel's reference operators on references written out in the formula, resolved from its text.

Microsoft, "Calculation operators and precedence in Excel": the reference operators are ``:``
(range: "one reference to all the cells between two references, including the two
references"), ``,`` (union: "combines multiple references into one reference") and a single
space (intersection: "one reference to cells common to the two references"), in that order of
precedence, above every other operator. A reference of several areas is what AREAS counts
(Microsoft, "AREAS function": ``AREAS((B2:D4,E5,F6:I9))`` is 3); an intersection that is empty
is #NULL! (Microsoft, "#NULL! error": "when you specify an intersection of two areas that do
not intersect").

IronCalc 0.9.1 parses none of a union, an intersection or a range of ranges
(``C14:E14:G13:I14``): the formula is #NAME? ("cannot parse"). Where an argument of a call is
built only from A1 references on one sheet, parentheses and these operators, it is resolved
here into its areas (rectangles, in Excel's order; a union keeps overlapping areas apart) and
written back:

* one area: that reference (``ROW(C12:E13 D13:F13)`` is ``ROW(D13:E13)``);
* no area: ``#NULL!`` (as the reference of a function that reads only its numbers, the
  call's answer: that function returns the error it is given);
* as AREAS's argument: the number of areas (also for a single reference, which IronCalc 0.9.1
  evaluates instead of counting: ``AREAS(K4)`` with an error in K4 was that error, Excel 1);
* several areas as an argument of a function that adds its arguments' cells alike (SUM, COUNT,
  AVERAGE, MAX, ...: :data:`SPREAD`): one argument per area (``SUM((A1:B2,C3))`` is
  ``SUM(A1:B2,C3)``, Microsoft: "=SUM(B5:B15,D5:D15)" is the union's example).

* several areas as INDEX's reference with a literal ``area_num``: that area (#REF! beyond the
  areas; Microsoft, "INDEX function", reference form).

* several areas as the reference of a function that reads only its numbers (RANK.EQ's ``ref``,
  LARGE's and PERCENTILE's ``array``, ...: :data:`_STACKED`): the areas' cells stacked into one
  column, blanks left out (``VSTACK(TOCOL(A1:A3,1),TOCOL(B1:B3,1))``).

* several areas as ROWS's or COLUMNS's reference: #REF! (Excel's cached values in formulas'
  test book: ``COLUMNS((D15:G15,I15:J15,K15:N15))`` and the intersection of a union with a
  column that leaves four areas, LOOKUP!S15, V15, S115, V115).

Several areas anywhere else (an ``area_num`` from a cell, ROW of a union) are left as written.

A whole column or row (``A:B``, ``2:3``) is the rectangle it names (rows 1-1,048,576, columns
1-16,384), so ``SUM(A:A A2:C3)`` is ``SUM(A2:A3)``; an area that is still whole is written back
whole. A deleted reference (``#REF!``) joined to references by these operators makes the whole
reference #REF! (the error propagates: Microsoft, "How to correct a #REF! error").
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_letters, column_number
from addin.headless.formula import Call, formula, parse, render, rewrite_calls
from addin.headless.package import MAX_COLUMNS, MAX_ROWS

#: The error Excel writes in place of a reference whose cells were deleted; as the sheet of
#: :func:`_areas`'s answer, it marks a reference expression holding one.
_DELETED = "#REF!"

#: (row1, col1, row2, col2), 1-based, row1 <= row2 and col1 <= col2.
Area = tuple[int, int, int, int]

#: Functions whose arguments' cells count alike however they are split into arguments.
SPREAD = frozenset(
    "SUM COUNT COUNTA AVERAGE AVERAGEA MAX MAXA MIN MINA PRODUCT SUMSQ MEDIAN STDEV STDEV.S STDEV.P STDEVA "
    "STDEVP STDEVPA VAR VAR.S VAR.P VARA VARP VARPA AND OR XOR DEVSQ AVEDEV GEOMEAN HARMEAN".split()
)

#: Functions reading one argument (by 0-based position) as a reference whose numbers only count
#: (text, logical values and blanks in it ignored: Microsoft, "RANK.EQ function", "LARGE
#: function", "PERCENTILE.INC function", ...): a union there is its areas' cells stacked
#: (``RANK.EQ(2,(A1:A3,B1:B3))``: IronCalc 0.9.1 cannot parse the union, #NAME?).
_STACKED: dict[str, int] = {
    **dict.fromkeys(("RANK", "RANK.EQ", "RANK.AVG"), 1),
    **dict.fromkeys(
        "LARGE SMALL PERCENTILE PERCENTILE.INC PERCENTILE.EXC QUARTILE QUARTILE.INC QUARTILE.EXC "
        "PERCENTRANK PERCENTRANK.INC PERCENTRANK.EXC".split(),
        0,
    ),
}

_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
_COLUMN = re.compile(r"\$?([A-Za-z]{1,3})")
_ROW = re.compile(r"\$?(\d+)")
_SHEET = re.compile(r"^((?:'(?:[^']|'')+'|[^'!:\s]+)!)?(.+)$")


def reference_operators(text: str) -> str:
    """The formula with each argument built from reference operators resolved (module
    docstring); anything else as written."""
    nodes = parse(text)
    whole = _whole_formula(nodes)
    if whole is not None:
        return whole

    if rewrite_calls(nodes, _resolved) == 0:
        return text
    return formula(nodes)


def _resolved(node: Call) -> str | None:
    """The call with each argument built from reference operators resolved (module docstring);
    None to leave it as written."""
    changed = False
    args: list[str] = []
    for i, arg in enumerate(node.args):
        got = _areas(arg)
        if got is None:
            args.append(render(arg))
            continue
        sheet, areas, plain = got
        if node.key == "AREAS" and len(node.args) == 1:
            return _empty(sheet) if not areas else str(len(areas))
        if plain:
            args.append(render(arg))  # one reference as written: nothing to resolve
        elif not areas and _STACKED.get(node.key) == i:
            # an empty intersection is the error #NULL!, which a function reading a reference's
            # numbers returns as it is (IronCalc 0.9.1 answered LARGE(#NULL!,1) "not
            # implemented", PERCENTILE(#NULL!,0.5) #VALUE!)
            return _empty(sheet)
        elif not areas:
            args.append(_empty(sheet))
            changed = True
        elif len(areas) == 1:
            args.append(_a1(sheet, areas[0]))
            changed = True
        elif node.key in SPREAD:
            args.extend(_a1(sheet, a) for a in areas)
            changed = True
        elif _STACKED.get(node.key) == i:
            # a reference read for its numbers only: the areas' cells stacked, blanks left
            # out as a reference's are (TOCOL's ignore 1)
            args.append("VSTACK(" + ",".join(f"TOCOL({_a1(sheet, a)},1)" for a in areas) + ")")
            changed = True
        elif node.key in ("ROWS", "COLUMNS") and len(node.args) == 1:
            return "#REF!"  # of several areas (Excel's cached values, formulas' test book LOOKUP!S15, V15, S115, V115)
        elif node.key == "INDEX" and not args and len(node.args) == 4 and _whole(render(node.args[3])):
            # INDEX(reference, row, column, area_num): the area_num-th area, #REF! beyond
            k = int(render(node.args[3]).strip())
            if not 1 <= k <= len(areas):
                return "#REF!"
            args.append(_a1(sheet, areas[k - 1]))
            args.extend(render(a) for a in node.args[1:3])
            return f"{node.name}({','.join(args)})"
        else:
            return None  # several areas where one is taken: left as written
    if not changed:
        return None
    return f"{node.name}({','.join(args)})"


def _whole_formula(nodes: list[Any]) -> str | None:
    """The formula when all of it is a reference expression (``=(C2:D3 D3:E4)``): its one area,
    or #NULL! for none; several areas are #VALUE! in one cell (Microsoft, "#VALUE! error": a
    multi-area reference where one value is expected). None for any other formula."""
    whole = _areas(nodes)
    if whole is None or whole[2]:
        return None
    sheet, areas = whole[0], whole[1]
    return "=" + (_empty(sheet) if not areas else _a1(sheet, areas[0]) if len(areas) == 1 else "#VALUE!")


def _areas(arg: list[Any]) -> tuple[str, list[Area], bool] | None:
    """An argument's sheet prefix, its areas and whether it is one plain reference; None when it
    holds anything but references on one sheet, parentheses, ``,`` and spaces."""
    toks = [t for t in arg if not isinstance(t, Call)]
    if len(toks) != len(arg) or not toks:
        return None
    while toks and toks[0].type == Token.WSPACE:
        toks = toks[1:]
    while toks and toks[-1].type == Token.WSPACE:
        toks = toks[:-1]
    got = _items(toks)
    if got is None:
        return None
    sheets, items, deleted = got
    if deleted:
        # one #REF! alone is left as written; joined to references by ``:``, ``,`` or a space the
        # whole reference is #REF! (Microsoft, "How to correct a #REF! error": the error
        # propagates to every formula using the reference)
        return (_DELETED, [], False) if len(items) > 1 else None
    if len(sheets) != 1:
        return None
    pos = [0]
    try:
        areas = _union(items, pos)
    except ValueError:
        return None
    if pos[0] != len(items):
        return None
    plain = len(items) == 1 and not items[0][2]
    return sheets.pop(), areas, plain


def _items(toks: list[Any]) -> tuple[set[str], list[Any], bool] | None:
    """The sheet prefixes, the items :func:`_union` reads (``("ref", [area], range of ranges)``,
    parentheses, ``,`` and ``" "``) and whether a deleted reference (#REF!) is among them; None
    for any other token."""
    sheets: set[str] = set()
    items: list[Any] = []
    deleted = False
    for t in toks:
        if t.type == Token.OPERAND and t.subtype == Token.ERROR and t.value.upper() == _DELETED:
            deleted = True  # a reference Excel wrote as #REF! when its cells were deleted
            items.append(("ref", [], False))
            continue
        if t.type == Token.OPERAND and t.subtype == Token.RANGE:
            m = _SHEET.match(t.value)
            if m is None:
                return None
            area = _range(m.group(2))
            if area is None:
                return None
            sheets.add(m.group(1) or "")
            items.append(("ref", [area], m.group(2).count(":") > 1))
        elif t.type == Token.PAREN:
            items.append(t.value)
        elif t.type == Token.OP_IN and t.value == ",":
            items.append(",")
        elif t.type == Token.WSPACE:
            items.append(" ")
        else:
            return None
    return sheets, items, deleted


def _empty(sheet: str) -> str:
    """A reference expression with no area: #REF! when it held a deleted reference, else the
    empty intersection #NULL!."""
    return _DELETED if sheet == _DELETED else "#NULL!"


def _union(items: list[Any], pos: list[int]) -> list[Area]:
    areas = _intersection(items, pos)
    while pos[0] < len(items) and items[pos[0]] == ",":
        pos[0] += 1
        areas = areas + _intersection(items, pos)
    return areas


def _intersection(items: list[Any], pos: list[int]) -> list[Area]:
    areas = _primary(items, pos)
    while pos[0] < len(items) and items[pos[0]] == " ":
        pos[0] += 1
        right = _primary(items, pos)
        areas = [a for a in (_meet(x, y) for x in areas for y in right) if a is not None]
    return areas


def _primary(items: list[Any], pos: list[int]) -> list[Area]:
    if pos[0] >= len(items):
        raise ValueError("a reference is missing")
    item = items[pos[0]]
    pos[0] += 1
    if isinstance(item, tuple):
        return list(item[1])
    if item == "(":
        areas = _union(items, pos)
        if pos[0] >= len(items) or items[pos[0]] != ")":
            raise ValueError("unbalanced")
        pos[0] += 1
        return areas
    raise ValueError(f"unexpected {item!r}")


def _whole(text: str) -> bool:
    return text.strip().isdigit()


def _meet(x: Area, y: Area) -> Area | None:
    r1, c1, r2, c2 = max(x[0], y[0]), max(x[1], y[1]), min(x[2], y[2]), min(x[3], y[3])
    return (r1, c1, r2, c2) if r1 <= r2 and c1 <= c2 else None


def _range(text: str) -> Area | None:
    """``A1``, ``A1:B2``, a whole column or row ``A:B``, ``2:2``, or a range of ranges
    ``C14:E14:G13:I14``, ``A:A:B:B`` (the smallest rectangle holding every cell named: the range
    operator between references); None for anything else (names).

    A whole column is rows 1 to 1,048,576 of its columns and a whole row columns 1 to 16,384 of
    its rows (Microsoft, "Excel specifications and limits"), so an intersection with one is the
    plain intersection of rectangles."""
    parts = text.split(":")
    rows: list[int] = []
    cols: list[int] = []
    i = 0
    while i < len(parts):
        cell = _CELL.fullmatch(parts[i])
        if cell is not None:
            rows.append(int(cell.group(2)))
            cols.append(column_number(cell.group(1).upper()))
            i += 1
            continue
        if i + 1 >= len(parts):
            return None
        first, last = parts[i], parts[i + 1]
        c1, c2 = _COLUMN.fullmatch(first), _COLUMN.fullmatch(last)
        r1, r2 = _ROW.fullmatch(first), _ROW.fullmatch(last)
        if c1 is not None and c2 is not None:
            rows += [1, MAX_ROWS]
            cols += [column_number(c1.group(1).upper()), column_number(c2.group(1).upper())]
        elif r1 is not None and r2 is not None:
            rows += [int(r1.group(1)), int(r2.group(1))]
            cols += [1, MAX_COLUMNS]
        else:
            return None
        i += 2
    if not rows or min(rows) < 1 or max(rows) > MAX_ROWS or min(cols) < 1 or max(cols) > MAX_COLUMNS:
        return None
    return min(rows), min(cols), max(rows), max(cols)


def _a1(sheet: str, area: Area) -> str:
    """The area in A1 form; a whole column or row as ``A:B`` or ``2:3`` (the range the engine
    reads over the cells that exist, never all 1,048,576 rows)."""
    if area[0] == 1 and area[2] == MAX_ROWS:
        return f"{sheet}{column_letters(area[1])}:{column_letters(area[3])}"
    if area[1] == 1 and area[3] == MAX_COLUMNS:
        return f"{sheet}{area[0]}:{area[2]}"
    first = f"{column_letters(area[1])}{area[0]}"
    if area[:2] == area[2:]:
        return sheet + first
    return f"{sheet}{first}:{column_letters(area[3])}{area[2]}"
