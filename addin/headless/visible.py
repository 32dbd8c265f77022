"""The cells SUBTOTAL and AGGREGATE leave out: hidden rows, filtered rows and nested subtotals.

Microsoft's reference ("SUBTOTAL function", "AGGREGATE function"):

* ``SUBTOTAL(function_num, ref1, ...)``: function_num 101-111 ignore the rows hidden by *Hide
  Rows*, 1-11 include them; both ignore the rows a filter leaves out; both ignore cells of the
  references that hold a SUBTOTAL ("to avoid double counting"). The file does not say which
  hidden rows a filter hid: Excel treats every hidden row of a sheet with an active filter as
  filtered out (Roberto Mensa, "Facts about Subtotal Formula - Visible and Hidden Cells", 2013,
  measured in Excel), so on such a sheet 1-11 leave out every hidden row too.
* ``AGGREGATE(function_num, options, ref1, ...)``: options 1, 3, 5 and 7 ignore hidden rows;
  0 (or omitted), 1, 2 and 3 ignore nested SUBTOTAL and AGGREGATE cells. Hidden rows are left
  out of references only (function_num 14-19: of the array argument when it is a reference);
  hidden columns never ("not designed for horizontal ranges").

The formula engine sees neither the hidden rows (AGGREGATE is a host function reading values)
nor a SUBTOTAL written inside a larger formula (IronCalc 0.9.1 leaves out only cells whose
formula *is* a SUBTOTAL: ``=2*SUBTOTAL(9,A1:A2)`` was counted). So each reference argument is
rewritten, before either sees it, into the rectangles of its cells that count
(:func:`visible`): ``SUBTOTAL(109,A1:A6)`` with row 3 hidden becomes
``SUBTOTAL(109,$A$1:$A$2,$A$4:$A$6)``. A cell counts as a nested subtotal when its formula
calls SUBTOTAL or AGGREGATE anywhere (Excel's rule as LibreOffice implements it: a formula
cell is a subtotal cell when its formula holds either function).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_letters, column_number
from addin.headless.extent import CellRefused, area
from addin.headless.formula import Call, formula, parse, render, rewrite_calls, significant, split_ref


@dataclass(frozen=True)
class Skipped:
    """What SUBTOTAL and AGGREGATE may leave out of one sheet's references."""

    #: Rows hidden in the sheet (by *Hide Rows*, a filter or a collapsed outline), 1-based.
    hidden: frozenset[int]
    #: Whether the sheet (or a table on it) has an active filter: its hidden rows are then filtered out.
    filtered: bool
    #: (row, column) of the cells whose formula calls SUBTOTAL or AGGREGATE.
    nested: frozenset[tuple[int, int]]
    #: A (row, column) holding nothing (below the last used row), stood in for a reference
    #: all of whose cells are left out; None when the sheet's last row is used.
    blank: tuple[int, int] | None


#: Skipped cells of a sheet by name (None: the formula's own sheet); None when unknown.
Sheets = Callable[[str | None], Skipped | None]

_CALLS = re.compile(r"(?<![\w.])(?:_xlfn\.)?(SUBTOTAL|AGGREGATE)\s*\(", re.I)
#: Excel takes at most 255 arguments a function: a reference split into more pieces is refused.
MAX_ARGUMENTS = 255
#: AGGREGATE's options that leave hidden rows out, and those that leave nested subtotals out.
_HIDES = frozenset((1, 3, 5, 7))
_NESTS = frozenset((0, 1, 2, 3))


def needs_visible(text: str) -> bool:
    """Whether ``text`` calls SUBTOTAL or AGGREGATE (cheap test before tokenising)."""
    # substring tests first (every formula of a book passes here): Excel and the engine write
    # function names in capitals, the file's lower-case spelling is checked too
    if not ("TOTAL" in text or "AGGREGATE" in text or "total" in text or "aggregate" in text):
        return False
    return _CALLS.search(text) is not None


def _whole_number(arg: list[Any]) -> int | None:
    """An argument that is one whole-number literal (None otherwise; empty: None)."""
    sig = significant(arg)
    if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.NUMBER:
        x = float(sig[0].value)
        return int(x) if x == int(x) else None
    return None


def pieces(
    a: tuple[int, int, int, int], rows: Iterable[int], cells: Iterable[tuple[int, int]]
) -> list[tuple[int, int, int, int]]:
    """Rectangles (row1, col1, row2, col2) covering exactly the cells of ``a`` outside ``rows``
    and ``cells``: runs of whole rows, a row holding a left-out cell split around it."""
    r1, c1, r2, c2 = a
    out_rows = {r for r in rows if r1 <= r <= r2}
    out_cells: dict[int, set[int]] = {}
    for r, c in cells:
        if r1 <= r <= r2 and c1 <= c <= c2 and r not in out_rows:
            out_cells.setdefault(r, set()).add(c)
    breaks = sorted(out_rows | set(out_cells))
    rects: list[tuple[int, int, int, int]] = []
    start = r1
    for r in [*breaks, r2 + 1]:
        if r > start:
            rects.append((start, c1, r - 1, c2))
        if r in out_cells:
            first = c1
            for c in [*sorted(out_cells[r]), c2 + 1]:
                if c > first:
                    rects.append((r, first, r, c - 1))
                first = c + 1
        start = r + 1
    return rects


def visible(text: str, sheets: Sheets) -> str:
    """``text`` with the reference arguments of SUBTOTAL and AGGREGATE cut to the cells they
    count (module docstring). AGGREGATE's options given by a cell or an expression choose
    among the calls cut for each of the eight options (:func:`_by_options`); a function number
    that is not a literal leaves the references after the first as written, so a call with a
    later reference that some rule would cut is left as written (IronCalc still leaves out
    hidden rows for SUBTOTAL 101-111 itself); a reference split into more pieces than Excel
    takes arguments is refused with ``#NUM!``."""
    nodes = parse(text)
    done = rewrite_calls(nodes, lambda call: _call(call, sheets))
    return formula(nodes) if done else text


def _cut(arg: list[Any], hides: Callable[[Skipped], bool], nests: bool, sheets: Sheets) -> str | None:
    """One reference argument as the comma-joined rectangles of its cells that count; None
    when it is not a plain reference or nothing is left out of it."""
    sig = significant(arg)
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
        return None
    value = sig[0].value.lstrip("@")
    ref = split_ref(value)
    if ref is None:
        return None
    a = area(ref[1]) if ":" in ref[1] else _one_cell(ref[1])
    s = sheets(ref[0])
    if a is None or s is None:
        return None
    rects = pieces(a, s.hidden if hides(s) else (), s.nested if nests else ())
    if rects == [a]:
        return None
    if not rects:
        if s.blank is None:
            return None
        rects = [(s.blank[0], s.blank[1], s.blank[0], s.blank[1])]
    sheet = value[: len(value) - len(ref[1])]
    return ",".join(f"{sheet}${column_letters(x1)}${y1}:${column_letters(x2)}${y2}" for y1, x1, y2, x2 in rects)


def _options(call: Call) -> int | None:
    """AGGREGATE's options when written as a whole-number literal (omitted: 0), else None."""
    return 0 if not render(call.args[1]).strip() else _whole_number(call.args[1])


def _where(call: Call, fn: int) -> range | None:
    """Which of AGGREGATE's arguments are the references its rules cut: ``ref1, ...`` for
    function_num 1-13, the array alone for 14-19 (whose fourth argument is ``k``, a value);
    None for a call left as written."""
    if not (1 <= fn <= 19):
        return None
    if fn <= 13:
        return range(2, len(call.args))
    return range(2, 3) if len(call.args) == 4 else None


def _cut_for(call: Call, fn: int | None, option: int, sheets: Sheets) -> str | None:
    """AGGREGATE cut as ``option`` cuts (hidden rows, nested subtotals), for the literal function
    ``fn``; None when nothing is left out. A function number that is a cell or an expression
    (``fn`` None) decides which arguments are references only once computed: 1-13 read every
    argument after the options as data, 14-19 the array alone (the fourth is ``k``), so the call
    becomes ``IF((function)<14, every reference cut, the array alone cut)``; an invalid, text or
    error function number gets AGGREGATE's own error in either branch (Microsoft, "AGGREGATE
    function")."""
    hides, nests = (lambda s: option in _HIDES), option in _NESTS
    if fn is not None:
        where = _where(call, fn)
        cut = None if where is None else _cut_call(call, where, hides, nests, sheets)
        return None if cut is None else _checked(call, cut)
    every = _cut_call(call, range(2, len(call.args)), hides, nests, sheets)
    if every is None:
        return None
    first = _cut_call(call, range(2, 3), hides, nests, sheets)
    data, array = _checked(call, every), render([call]) if first is None else _checked(call, first)
    return data if data == array else f"IF(({render(call.args[0])})<14,{data},{array})"


def _cut_call(call: Call, where: range, hides: Callable[[Skipped], bool], nests: bool, sheets: Sheets) -> list[str] | None:
    """The call's arguments with those at ``where`` cut to the cells that count; None when
    nothing is left out of any of them."""
    new_args = [render(a) for a in call.args]
    changed = False
    for k in where:
        cut = _cut(call.args[k], hides, nests, sheets)
        if cut is not None:
            new_args[k], changed = cut, True
    return new_args if changed else None


def _checked(call: Call, new_args: list[str]) -> str:
    """The call with ``new_args``, refused where Excel would not take that many arguments."""
    count = sum(a.count(",") + 1 for a in new_args)  # pieces are comma-joined references: no nested commas
    if count > MAX_ARGUMENTS:
        raise CellRefused(
            "#NUM!",
            f"{call.key} leaves out hidden rows or nested subtotals, which splits its references into {count} "
            f"arguments; Excel takes at most {MAX_ARGUMENTS}",
        )
    return f"{call.name}({','.join(new_args)})"


def _by_options(call: Call, fn: int | None, sheets: Sheets) -> str | None:
    """AGGREGATE whose options are a cell or an expression: what it leaves out is known only
    once the options are computed, so the call becomes ``CHOOSE((options)+1, call0, ..., call7)``,
    the k-th call cut as option k cuts (:func:`_cut_for`; each keeping the options as written,
    which decide the errors and the rest). CHOOSE reads the options as AGGREGATE does: a blank
    cell is 0, a fraction truncated, anything outside 0-7 an error (#VALUE!, Microsoft's
    "AGGREGATE function" for options it does not list; "CHOOSE function" truncates its index).
    None when no option would cut anything (the call is left as written)."""
    variants = [_cut_for(call, fn, o, sheets) for o in range(8)]
    if all(v is None for v in variants):
        return None
    plain = render([call])
    calls = [plain if v is None else v for v in variants]
    return f"CHOOSE(({render(call.args[1])})+1,{','.join(calls)})"


def _call(call: Call, sheets: Sheets) -> str | None:
    if call.key not in ("SUBTOTAL", "AGGREGATE") or len(call.args) < 2:
        return None
    fn = _whole_number(call.args[0])
    if call.key == "AGGREGATE":
        options = _options(call)
        if options is None:
            return _by_options(call, fn, sheets)
        return _cut_for(call, fn, options, sheets)
    # SUBTOTAL: 101-111 leave out hidden rows; 1-11 on a sheet with an active filter as well
    new = _cut_call(call, range(1, len(call.args)), lambda s: fn is not None and (fn >= 101 or s.filtered), True, sheets)
    product = fn in (6, 106)
    if new is None and not product:
        return None
    new_args = new if new is not None else [render(a) for a in call.args]
    text = _checked(call, new_args) if new is not None else f"{call.name}({','.join(new_args)})"
    if product:
        # PRODUCT of no number is 0 in Excel (IronCalc 0.9.1's SUBTOTAL 6/106 gives 1): the count of
        # the same cells decides; an error in them stays the error (error*0)
        count_text = f"{call.name}({','.join([str((fn or 0) - 4), *new_args[1:]])})"
        text = f"IF({count_text}=0,{text}*0,{text})"
    return text


def _one_cell(a1: str) -> tuple[int, int, int, int] | None:
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", a1)
    if m is None:
        return None
    row, col = int(m.group(2)), column_number(m.group(1).upper())
    return row, col, row, col


_FILTER = re.compile(rb"<(?:\w+:)?filterColumn\b")
_TABLE_REL = re.compile(rb'Target="([^"]+)"[^>]*?Type="[^"]*/table"|Type="[^"]*/table"[^>]*?Target="([^"]+)"')


def active_filter(book: Any, part: str) -> bool:
    """Whether the worksheet ``part`` of the zip ``book`` (or a table on it) has an active filter:
    an ``autoFilter`` with a ``filterColumn`` (ECMA-376 Part 1, 18.3.2 and 18.5.1.2). The sheet is
    read in chunks, so its size costs time only."""
    with zipfile.ZipFile(book) as z:
        names = set(z.namelist())
        if part in names and _streams_filter(z, part):
            return True
        folder, _, leaf = part.rpartition("/")
        rels = f"{folder}/_rels/{leaf}.rels"
        if rels not in names:
            return False
        for m in _TABLE_REL.finditer(z.read(rels)):
            target = (m.group(1) or m.group(2)).decode()
            path = target.lstrip("/") if target.startswith("/") else _join(folder, target)
            if path in names and _FILTER.search(z.read(path)) is not None:
                return True
    return False


def _streams_filter(z: zipfile.ZipFile, part: str) -> bool:
    tail = b""
    with z.open(part) as f:
        while chunk := f.read(1 << 20):
            if _FILTER.search(tail + chunk) is not None:
                return True
            tail = chunk[-64:]
    return False


def _join(folder: str, target: str) -> str:
    parts = folder.split("/")
    for p in target.split("/"):
        if p == "..":
            parts.pop()
        elif p != ".":
            parts.append(p)
    return "/".join(parts)
