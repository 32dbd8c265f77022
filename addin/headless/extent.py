"""Huge ranges evaluated over the cells that exist, never materialised.

The formula engine (IronCalc) builds an array of every cell of a range for most functions and
operators: ``COUNTBLANK(A1:XFD1048576)`` or ``SUMPRODUCT(B1:XFD1048576+1)`` asked it for
17 billion cells and ended the process ("memory allocation of 3019898896 bytes failed",
measured). A range of more than :attr:`~addin.headless.package.Limits.range_cells` cells is
therefore rewritten before the engine sees it:

* as the whole argument of a function that ignores blank cells in a reference (SUM, COUNT,
  MAX, AVERAGE, AND... Microsoft's reference for each: "empty cells ... are ignored"), it is
  rewritten to a few rectangles (more arguments of the same function) that cover the cells of
  the range that hold a value or a formula (:func:`cover`: per-column runs, neighbouring
  columns with the same runs joined), so the memory follows the cells present, not the
  sheet's corner: a data block at A1:C100 plus a footer at P1048576 becomes
  ``A1:C100,P1048576:P1048576``. Styled empty cells are not cells here (openpyxl writes
  ``<dimension ref="A1:Z1048576"/>`` for one bold empty cell);
* anywhere else (arithmetic on it, COUNTBLANK, ROWS, a lookup) the answer depends on the
  blanks, so the formula's cell becomes ``#NUM!`` with the range, its size and the limit named;
  the rest of the book is computed. So does a range whose cells are spread so that no
  :data:`MAX_PIECES` rectangles of at most ``range_cells`` cells in all cover them.

Before either, a range running to the last row or column (``A:A``, ``A:XFD``, ``1:1``) inside
COUNTIF(S), SUMIF(S), AVERAGEIF(S) or SUMPRODUCT is cut to the used rows and columns, exactly
(:func:`clip`: the cut-off cells are blank, and where blanks count they are added back as
their number times the call at one blank cell), so ``SUMIF(A:XFD,">0")`` and
``SUMPRODUCT((A:A>0)*(B:B))`` cost the cells that exist. Other whole columns (1,048,576 cells)
stay below the default limit and are evaluated as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_letters, column_number
from addin.headless.formula import PLAIN_CELL, Call, formula, parse, render, rewrite_calls, significant, split_ref
from addin.headless.letnames import LetNames
from addin.headless.package import MAX_COLUMNS, MAX_ROWS

#: Functions whose every argument may be a reference whose blank cells are ignored
#: (Microsoft's function reference: SUM, COUNT, COUNTA, AVERAGE(A), MAX(A), MIN(A), PRODUCT,
#: SUMSQ, MEDIAN, MODE, AND, OR, STDEV*, VAR*, AVEDEV, DEVSQ, GEOMEAN, HARMEAN, KURT, SKEW).
BLANK_BLIND = frozenset(
    """SUM COUNT COUNTA AVERAGE AVERAGEA MAX MAXA MIN MINA PRODUCT SUMSQ MEDIAN MODE MODE.SNGL STDEV STDEV.S
    STDEV.P AND OR STDEVA STDEVP STDEVPA VAR VAR.S VAR.P VARA VARP VARPA AVEDEV DEVSQ GEOMEAN HARMEAN KURT SKEW""".split()
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
    c1 = column_number(lm.group(1).upper().lstrip("$")) if lm.group(1) else 1
    c2 = column_number(rm.group(1).upper().lstrip("$")) if rm.group(1) else MAX_COLUMNS
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


#: At most this many rectangles replace one huge range (Excel takes 255 arguments a function).
MAX_PIECES = 32

Rect = tuple[int, int, int, int]  # row1, col1, row2, col2
Cells = Callable[[str | None], Iterable[tuple[int, int]] | None]


def _pieces(inside: list[tuple[int, int]], gap: int) -> list[Rect]:
    """Rectangles over ``inside`` ((col, row), sorted): per column, rows at most ``gap`` apart
    join one run; neighbouring columns with the same runs join one rectangle."""
    runs: dict[int, list[list[int]]] = {}
    for c, r in inside:
        col = runs.setdefault(c, [])
        if col and r - col[-1][1] <= gap:
            col[-1][1] = r
        else:
            col.append([r, r])
    rects: list[Rect] = []
    open_: dict[tuple[int, int], int] = {}
    prev = -1
    for c in sorted(runs):
        now: dict[tuple[int, int], int] = {}
        for r1, r2 in runs[c]:
            i = open_.get((r1, r2)) if prev == c - 1 else None
            if i is None:
                rects.append((r1, c, r2, c))
                i = len(rects) - 1
            else:
                rects[i] = (r1, rects[i][1], r2, c)
            now[(r1, r2)] = i
        open_, prev = now, c
    return rects


def cover(points: Iterable[tuple[int, int]], a: Rect, limit: int) -> list[Rect] | None:
    """At most :data:`MAX_PIECES` rectangles inside ``a``, of at most ``limit`` cells in all, that
    cover every (row, col) of ``points`` inside ``a``; [] when none is inside, None when no such
    cover was found (the runs are joined across ever larger gaps, then the bounding box)."""
    inside = sorted({(c, r) for r, c in points if a[0] <= r <= a[2] and a[1] <= c <= a[3]})
    if not inside:
        return []
    for gap in (1, 64, 4096, 262_144, MAX_ROWS):
        rects = _pieces(inside, gap)
        if len(rects) <= MAX_PIECES and sum(cells(x) for x in rects) <= limit:
            return rects
    rows = [r for _, r in inside]
    box = (min(rows), inside[0][0], max(rows), inside[-1][0])
    return [box] if cells(box) <= limit else None


def fit(text: str, limit: int, used: Cells) -> str:
    """``text`` with each range over ``limit`` cells rewritten to rectangles over the cells that
    exist (module docstring); raises :class:`CellRefused` where that would change the answer.

    ``used(sheet)`` gives the (row, column) of every cell holding a value or a formula on a
    sheet (None: the formula's own sheet), or None when the sheet is unknown.
    """
    nodes = parse(text)
    split = rewrite_calls(nodes, lambda call: _split_conditional(call, limit, used))
    changed = _fit(nodes, None, limit, used, LetNames(text))
    return formula(nodes) if changed or split else text


def _first_uncovered(a: Rect, rects: list[Rect]) -> tuple[int, int] | None:
    """A (row, col) of ``a`` outside every rectangle (so blank: the rectangles cover the cells
    that exist), looked for in the first columns of ``a``; None if none is found there."""
    for c in range(a[1], min(a[3], a[1] + MAX_PIECES) + 1):
        r = a[0]
        for r1, _, r2, _ in sorted(x for x in rects if x[1] <= c <= x[3]):
            if r1 > r:
                break
            r = max(r, r2 + 1)
        if r <= a[2]:
            return r, c
    return None


#: The conditional aggregates :func:`_split_conditional` splits, with their argument counts.
_SPLIT_ARITY: dict[str, Callable[[int], bool]] = {
    "COUNTIF": lambda n: n == 2,
    "COUNTIFS": lambda n: n >= 2 and n % 2 == 0,
    "SUMIF": lambda n: n in (2, 3),
    "AVERAGEIF": lambda n: n in (2, 3),
    "SUMIFS": lambda n: n >= 3 and n % 2 == 1,
    "AVERAGEIFS": lambda n: n >= 3 and n % 2 == 1,
}


def _split_ranges(call: Call) -> list[tuple[Token, tuple[str | None, str], Rect]] | None:
    """The range arguments of a conditional aggregate, each with its parsed reference and the
    area it reads, all of one shape (SUMIF's and AVERAGEIF's third argument is resized to the
    first's shape from its top-left cell, as Excel reads it); None where the call is not split:
    a criterion that is a range (an array of criteria), a name, a 3-D reference, or shapes that
    differ (Excel's #VALUE!, left to the engine)."""
    where = _RANGE_ARGS[call.key](len(call.args))
    out: list[tuple[Token, tuple[str | None, str], Rect]] = []
    for k, arg in enumerate(call.args):
        if k not in where:
            if any(_kind(t) != "cell" for t in _all_ranges(arg)):
                return None
            continue
        sig = significant(arg)
        if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
            return None
        ref = split_ref(sig[0].value.lstrip("@"))
        if ref is None:
            return None
        a = area(ref[1]) if ":" in ref[1] else _cell_area(ref[1])
        if a is None:
            return None
        out.append((sig[0], ref, a))
    h, w = out[0][2][2] - out[0][2][0], out[0][2][3] - out[0][2][1]
    resized = call.key in ("SUMIF", "AVERAGEIF")
    for i, (tok, ref, a) in enumerate(out):
        if (a[2] - a[0], a[3] - a[1]) != (h, w):
            if not (resized and i > 0) or a[0] + h > MAX_ROWS or a[1] + w > MAX_COLUMNS:
                return None
            out[i] = (tok, ref, (a[0], a[1], a[0] + h, a[1] + w))
    return out


def _relative_points(ranges: list[tuple[Token, tuple[str | None, str], Rect]], used: Cells) -> set[tuple[int, int]]:
    """The positions (1-based, relative to each range's top-left) where any range holds a cell."""
    points: set[tuple[int, int]] = set()
    for _, ref, a in ranges:
        for r, c in used(ref[0]) or ():
            if a[0] <= r <= a[2] and a[1] <= c <= a[3]:
                points.add((r - a[0] + 1, c - a[1] + 1))
    return points


def _cell_area(a1: str) -> Rect | None:
    m = PLAIN_CELL.fullmatch(a1)
    if m is None:
        return None
    row, col = int(m.group(2)), column_number(m.group(1).upper().lstrip("$"))
    return row, col, row, col


def _split_conditional(call: Call, limit: int, used: Cells) -> str | None:
    """A conditional aggregate (COUNTIF(S), SUMIF(S), AVERAGEIF(S)) over ranges of more than
    ``limit`` cells whose used cells reach the far corner (so :func:`clip` cut nothing), as the
    same calls over rectangles covering the cells that exist in any of its ranges
    (:func:`cover`, in positions relative to each range: the k-th cell of every range is tested
    together, Microsoft's "COUNTIFS function"). Outside the rectangles every range is blank at
    that position, so (Microsoft's reference for each):

    * SUMIF(S) add nothing there: the sum of the pieces;
    * COUNTIF(S) may count a blank position (``""``): the pieces plus the positions left out
      times the call at one of them;
    * AVERAGEIF(S) ignore a blank average cell: the sum of the pieces over the count of the
      pieces' matching cells whose average cell is a number (``">=0"`` and ``"<0"`` in
      COUNTIFS match numbers only); no such cell is #DIV/0!, as Excel.

    None: left to :func:`_fit`."""
    arity = _SPLIT_ARITY.get(call.key)
    if arity is None or not arity(len(call.args)):
        return None
    ranges = _split_ranges(call)
    if ranges is None:
        return None
    first = ranges[0][2]
    h, w = first[2] - first[0] + 1, first[3] - first[1] + 1
    if h * w <= limit:
        return None
    box: Rect = (1, 1, h, w)
    rects = cover(_relative_points(ranges, used), box, max(1, limit // len(ranges)))
    if rects is None:
        return None
    originals = [tok.value for tok, _, _ in ranges]

    def piece(y1: int, x1: int, y2: int, x2: int) -> list[str]:
        """The argument texts of each range cut to the relative rectangle, rendered call-ready."""
        out = []
        for tok, ref, a in ranges:
            prefix = tok.value[: len(tok.value) - len(ref[1])]
            r1, c1 = a[0] + y1 - 1, a[1] + x1 - 1
            out.append(f"{prefix}${column_letters(c1)}${r1}:${column_letters(a[1] + x2 - 1)}${a[0] + y2 - 1}")
        return out

    def render_with(values: list[str], key: str | None = None) -> str:
        for (tok, _, _), v in zip(ranges, values, strict=True):
            tok.value = v
        text = render([call])
        for (tok, _, _), v in zip(ranges, originals, strict=True):
            tok.value = v
        return text if key is None else key + text[len(call.name) :]  # the same arguments, another function

    blanks = cells(box) - sum(cells(x) for x in rects)
    probe = _first_uncovered(box, rects) if blanks else None
    if blanks and probe is None:
        return None
    if call.key.startswith("AVERAGEIF"):
        return _split_average(call, ranges, rects, piece, render_with)
    terms = [render_with(piece(*x)) for x in rects]
    if probe is not None and (call.key.startswith("COUNTIF") or not terms):
        # as one-cell ranges: IronCalc's COUNTIF(S) is #VALUE! over a single cell reference
        one = render_with(piece(probe[0], probe[1], probe[0], probe[1]))
        terms.append(one if call.key.startswith("SUMIF") else f"{blanks}*{one}")
    return "(" + "+".join(terms) + ")"


def _split_average(
    call: Call,
    ranges: list[tuple[Token, tuple[str | None, str], Rect]],
    rects: list[Rect],
    piece: Callable[..., list[str]],
    render_with: Callable[..., str],
) -> str:
    """AVERAGEIF(S) over the pieces: SUMIF(S) of the pieces over COUNTIFS of their matching
    numeric average cells (:func:`_split_conditional`)."""
    if not rects:
        return "(1/0)"  # no cell exists: no average cell is a number (Excel's #DIV/0!)
    sums, counts = [], []
    for x in rects:
        texts = piece(*x)
        if call.key == "AVERAGEIF":
            rng, crit = texts[0], render(call.args[1])
            avg = texts[1] if len(texts) > 1 else texts[0]
            sums.append(f"SUMIF({rng},{crit},{avg})")
            for sign in ('">=0"', '"<0"'):
                counts.append(f"COUNTIFS({rng},{crit},{avg},{sign})")
        else:  # AVERAGEIFS(average_range, criteria_range1, criterion1, ...)
            sums.append(render_with(texts, "SUMIFS"))
            counts += [_countifs(call, texts, sign) for sign in ('">=0"', '"<0"')]
    return f"(({'+'.join(sums)})/({'+'.join(counts)}))"


def _countifs(call: Call, texts: list[str], sign: str) -> str:
    """COUNTIFS over AVERAGEIFS's criteria pairs (``texts[1:]`` the cut criteria ranges) and its
    cut average range matched against ``sign``."""
    crits = [render(call.args[k]) for k in range(2, len(call.args), 2)]
    pairs = [f"{rng},{crit}" for rng, crit in zip(texts[1:], crits, strict=True)]
    return f"COUNTIFS({','.join(pairs)},{texts[0]},{sign})"


def _fit(seq: list[object], func: str | None, limit: int, used: Cells, fresh: LetNames) -> bool:
    changed = False
    sig = significant(seq)
    for i, node in enumerate(sig):
        if isinstance(node, Call):
            guard = _index_area(node, limit) if not _beside_range_operator(sig, i) else None
            for k, arg in enumerate(node.args):
                if k == 0 and (guard is not None or _lazy_index(node)):
                    continue
                changed |= _fit(arg, node.key, limit, used, fresh)
            if guard is not None:
                seq[seq.index(node)] = Token(_guarded_index(node, guard, limit, fresh), Token.OPERAND, Token.RANGE)
                changed = True
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
                f"{value} covers {cells(a):,} cells "
                + (
                    f"in an expression inside {func}"
                    if func in BLANK_BLIND
                    else f"as an argument of {func}"
                    if func
                    else "in an expression"
                )
                + " (not cut to the cells that exist: the cut is exact only for plain aggregates, the conditional aggregates "
                f"(COUNTIF(S), SUMIF(S), AVERAGEIF(S)), exact lookups and ranges to the sheet's edge whose used cells stop short of it); the "
                f"engine evaluates at most {limit:,} such cells (limit range_cells)",
            )
        rects = cover(used(ref[0]) or (), a, limit)
        if rects is None:
            raise CellRefused(
                "#NUM!",
                f"{value} covers {cells(a):,} cells and the cells it holds are spread too far to cover with "
                f"{MAX_PIECES} ranges of at most {limit:,} cells (limit range_cells)",
            )
        sheet = value[: len(value) - len(ref[1])]  # "'My sheet'!" as written, or ""
        # no cell inside: the range's first cell alone (blank), which the function ignores as well
        node.value = ",".join(
            f"{sheet}${column_letters(c1)}${r1}:${column_letters(c2)}${r2}"
            for r1, c1, r2, c2 in rects or [(a[0], a[1], a[0], a[1])]
        )
        changed = True
    return changed


def _beside_range_operator(sig: list[Any], i: int) -> bool:
    """Whether node ``i`` is an operand of ``:`` (``INDEX(...):INDEX(...)`` needs a reference,
    which the guard's IF does not keep)."""
    return any(
        0 <= j < len(sig) and isinstance(sig[j], Token) and sig[j].type == Token.OP_IN and sig[j].value == ":"
        for j in (i - 1, i + 1)
    )


def _index_area(call: Call, limit: int) -> Rect | None:
    """The area of INDEX's first argument when it is one range of more than ``limit`` cells and
    the row and column are not written as positive literals (:func:`_lazy_index` takes those)
    and hold no range over the limit themselves; None otherwise."""
    if call.key != "INDEX" or len(call.args) not in (2, 3) or _lazy_index(call):
        return None
    sig = significant(call.args[0])
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
        return None
    ref = split_ref(sig[0].value.lstrip("@"))
    a = area(ref[1]) if ref is not None else None
    if a is None or cells(a) <= limit:
        return None
    rest = [render(x).strip() for x in call.args[1:]]
    if not all(rest) or any(has_huge(x, limit) for x in rest):
        return None
    return a


def _guarded_index(call: Call, a: Rect, limit: int, fresh: LetNames) -> str:
    """``INDEX(ref, row, column)`` over a huge ``ref`` with a row and column known only when the
    formula runs: the engine takes the reference without reading its cells (IronCalc 0.9.1,
    measured: ``INDEX(A1:XFD1048576,Z1,Z2)`` in 1 ms, 47 MB), unless a 0 asks for a whole row or
    column (Microsoft, "INDEX function": row_num 0 returns the whole column), which ``SUM``
    would then read (``SUMPRODUCT(INDEX(A1:XFD1048576,0,0))`` ended the process). So the row and
    column are computed once (LET) and a result of more than ``limit`` cells is #NUM!."""
    h, w = a[2] - a[0] + 1, a[3] - a[1] + 1
    ref, row = render(call.args[0]), render(call.args[1])
    ir = fresh("ir")
    if len(call.args) == 3:
        col = render(call.args[2])
        ic = fresh("ic")
        size = f"IF({ir}=0,{h},1)*IF({ic}=0,{w},1)"
        return f"LET({ir},{row},{ic},{col},IF({size}>{limit},#NUM!,{call.name}({ref},{ir},{ic})))"
    # one index: a position in a vector; of a 2-D range, a whole row (Microsoft, "INDEX function")
    one = 1 if h == 1 or w == 1 else w
    return f"LET({ir},{row},IF(IF({ir}=0,{h * w},{one})>{limit},#NUM!,{call.name}({ref},{ir})))"


def _lazy_index(call: Call) -> bool:
    """INDEX(reference, row, column) with a row or a column number written as a positive literal:
    the engine takes the reference without reading its cells (IronCalc 0.9.1, measured: INDEX of
    A1:XFD1048576 at row 3, column 2 takes 2 ms and no memory) and returns at most one row or one
    column, so a huge first argument is not refused (``INDEX(A:Z,MATCH(3,A:A,0),2)``)."""
    if call.key != "INDEX" or len(call.args) != 3:
        return False
    sig = significant(call.args[0])
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
        return False
    for arg in call.args[1:]:
        lit = _literal(arg)
        if lit is not None and lit[:1] != "-" and lit not in ("TRUE", "FALSE") and float(lit) >= 1:
            return True
    return False


# ----------------------------------------------------------------------------- whole columns and rows inside larger arguments

#: Range arguments (0-based; ``None``: every other from 0) of the conditional aggregates.
_RANGE_ARGS: dict[str, Callable[[int], frozenset[int]]] = {
    "COUNTIF": lambda n: frozenset({0}),
    "COUNTIFS": lambda n: frozenset(range(0, n, 2)),
    "SUMIF": lambda n: frozenset({0, 2}),
    "AVERAGEIF": lambda n: frozenset({0, 2}),
    "SUMIFS": lambda n: frozenset({0, *range(1, n, 2)}),
    "AVERAGEIFS": lambda n: frozenset({0, *range(1, n, 2)}),
    # MAXIFS/MINIFS skip a blank max/min cell and give 0 when no cell matches, so the blanks
    # cut off change nothing
    "MAXIFS": lambda n: frozenset({0, *range(1, n, 2)}),
    "MINIFS": lambda n: frozenset({0, *range(1, n, 2)}),
    # exact-match lookups (only those: _exact_lookup): the arrays searched and returned
    "MATCH": lambda n: frozenset({1}),
    "XMATCH": lambda n: frozenset({1}),
    "VLOOKUP": lambda n: frozenset({1}),
    "HLOOKUP": lambda n: frozenset({1}),
    "XLOOKUP": lambda n: frozenset({1, 2}),
}
#: Lookups: cut only for an exact match of a non-empty value (:func:`_exact_lookup`).
_LOOKUPS = frozenset(("MATCH", "XMATCH", "VLOOKUP", "HLOOKUP", "XLOOKUP"))
#: Of those, the ones where a blank cell can count (a criterion may match a blank: ``""``,
#: ``"<>x"``): the blanks cut off are added back as their number times the count at one blank.
_COUNTING = frozenset(("COUNTIF", "COUNTIFS"))
#: Functions applied element by element, so a SUMPRODUCT over them may be cut row by row.
_ELEMENTWISE = frozenset(
    """ISNUMBER ISTEXT ISNONTEXT ISBLANK ISERROR ISERR ISNA ISLOGICAL ISEVEN ISODD ABS N LEN LEFT RIGHT MID UPPER LOWER
    TRIM VALUE EXACT ROUND ROUNDUP ROUNDDOWN INT MOD IF IFERROR NOT SIGN SQRT EXP LN""".split()
)
_CLIPPED = re.compile(r"\b(COUNTIFS?|SUMIFS?|AVERAGEIFS?|SUMPRODUCT|MAXIFS|MINIFS|X?MATCH|[VH]LOOKUP|XLOOKUP)\s*\(", re.I)
Extent = Callable[[str | None], tuple[int, int] | None]


def needs_clip(text: str) -> bool:
    """Cheap test: a range to the last row or column inside a conditional aggregate or SUMPRODUCT."""
    if ":" not in text or _CLIPPED.search(text) is None:
        return False
    outside = _STRING.sub("", text) if '"' in text else text
    for m in _SPANS.finditer(outside):
        a = area(m.group(0))
        if a is not None and (a[2] == MAX_ROWS or a[3] == MAX_COLUMNS) and cells(a) > 1:
            return True
    return False


def clip(text: str, extent: Extent) -> str:
    """Ranges that run to the sheet's last row or column (``A:A``, ``A:XFD``, ``1:1``) inside
    COUNTIF(S), SUMIF(S), AVERAGEIF(S) and SUMPRODUCT cut to the cells that exist, exactly.

    ``extent(sheet)`` is the last used (row, column) of a sheet (None: the formula's own), or
    None when unknown. Beyond the last used row and column of every sheet the ranges read, each
    cell is blank, so (Microsoft's reference for each function):

    * SUMIF(S) add nothing for them (a blank sum cell is 0) and AVERAGEIF(S) ignore them ("if a
      cell in average_range is an empty cell, AVERAGEIF ignores it"): the ranges are cut;
    * COUNTIF(S) and SUMPRODUCT may count them (``COUNTIF(A:A,"")``, ``SUMPRODUCT(--(A:A=""))``):
      the cut call plus the number of cells cut off times the same call at one blank cell of
      the cut-off part (``COUNTIF(A:A,c)`` is ``COUNTIF(A1:A10,c)+1048566*COUNTIF(A11,c)``).

    A call is cut only when every multi-cell range it reads runs to the same edge with the same
    span (so the shapes stay equal) and, for SUMPRODUCT, only through element-wise operators
    and functions; otherwise it stays as written (and :func:`fit` decides).
    """
    nodes = parse(text)
    fresh = LetNames(text)
    done = rewrite_calls(nodes, lambda call: _clip_call(call, extent, fresh))
    return formula(nodes) if done else text


def _all_ranges(seq: list[Any]) -> list[Token]:
    """Every range operand of ``seq``, inside calls too."""
    out: list[Token] = []
    for node in seq:
        if isinstance(node, Call):
            for a in node.args:
                out += _all_ranges(a)
        elif isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE:
            out.append(node)
    return out


def _elementwise_ranges(seq: list[Any]) -> list[Token] | None:
    """The range operands of ``seq`` reached through element-wise calls; None if a multi-cell
    range sits inside any other call (its result need not follow the rows)."""
    out: list[Token] = []
    for node in seq:
        if isinstance(node, Call):
            if node.key not in _ELEMENTWISE:
                if any(_kind(t) != "cell" for a in node.args for t in _all_ranges(a)):
                    return None
                continue
            for a in node.args:
                got = _elementwise_ranges(a)
                if got is None:
                    return None
                out += got
        elif isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE:
            out.append(node)
    return out


def _kind(tok: Token) -> str:
    """ "cell", "range" (an A1 area of more than one cell) or "other" (a name, 3-D, an error...)."""
    ref = split_ref(tok.value.lstrip("@"))
    if ref is None:
        return "other"
    return "cell" if ":" not in ref[1] else ("range" if area(ref[1]) is not None else "other")


def _call_ranges(call: Call) -> list[Token] | None:
    """The range operands a cut would change: SUMPRODUCT's (through element-wise calls), the
    range arguments of a conditional aggregate; None where the call cannot be cut."""
    if call.key == "SUMPRODUCT":
        return _elementwise_ranges([n for a in call.args for n in a])
    if call.key not in _RANGE_ARGS:
        return None
    where = _RANGE_ARGS[call.key](len(call.args))
    toks = []
    for k, arg in enumerate(call.args):
        sig = significant(arg)
        if k in where:
            if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
                return None
            toks.append(sig[0])
        elif any(_kind(t) != "cell" for t in _all_ranges(arg)):
            return None  # a range in a criterion (an array of criteria): left as written
    return toks


def _literal(arg: list[Any]) -> str | None:
    """An argument that is one number or logical literal, upper-cased (None otherwise)."""
    sig = significant(arg)
    if len(sig) == 2 and isinstance(sig[0], Token) and sig[0].type == Token.OP_PRE and sig[0].value == "-":
        inner = _literal(sig[1:])
        return None if inner is None else "-" + inner
    if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype in (Token.NUMBER, Token.LOGICAL):
        return sig[0].value.upper()
    return None


def _exact_lookup(call: Call) -> bool:
    """Whether a lookup finds an exact match by a linear search (Microsoft's reference for each:
    MATCH's match_type 0; VLOOKUP/HLOOKUP's range_lookup FALSE; XMATCH/XLOOKUP's match_mode 0,
    the default, with search_mode 1 or -1), and its lookup value is not a range. A blank cell
    cut off never equals a non-empty value, so the cut finds what the whole column finds; the
    lookup of an empty value is left to the whole column (the call's caller checks it)."""
    key, args = call.key, call.args
    if not args or any(_kind(t) != "cell" for t in _all_ranges(args[0])):
        return False

    def mode(k: int, default: str, allowed: tuple[str, ...]) -> bool:
        if k >= len(args) or not render(args[k]).strip():
            return default in allowed
        return _literal(args[k]) in allowed

    if key == "MATCH":
        return len(args) == 3 and mode(2, "1", ("0", "0.0"))
    if key in ("VLOOKUP", "HLOOKUP"):
        return len(args) == 4 and mode(3, "TRUE", ("FALSE", "0"))
    if key == "XMATCH":
        return mode(2, "0", ("0",)) and mode(3, "1", ("1", "-1"))
    return mode(4, "0", ("0",)) and mode(5, "1", ("1", "-1"))  # XLOOKUP


def _clip_call(call: Call, extent: Extent, fresh: LetNames) -> str | None:
    key = call.key
    if key in _LOOKUPS and not _exact_lookup(call):
        return None
    toks = _call_ranges(call)
    if toks is None:
        return None
    kinds = [_kind(t) for t in toks]
    if "other" in kinds or "range" not in kinds:
        return None  # a name, a 3-D or an unreadable reference: left as written
    multi = []
    for t in toks:
        ref = split_ref(t.value.lstrip("@"))
        a = area(ref[1]) if ref is not None and ":" in ref[1] else None
        if ref is not None and a is not None:
            multi.append((t, ref, a))
    spans = {(a[0], a[2], a[3] - a[1]) if a[2] == MAX_ROWS else None for _, _, a in multi}
    cols = {(a[1], a[3], a[2] - a[0]) if a[3] == MAX_COLUMNS else None for _, _, a in multi}
    rows_cut, cols_cut = len(spans) == 1 and None not in spans, len(cols) == 1 and None not in cols
    if not (rows_cut or cols_cut):
        return None
    last_row = last_col = 0
    for _, ref, _ in multi:
        e = extent(ref[0])
        if e is None:
            return None
        last_row, last_col = max(last_row, e[0]), max(last_col, e[1])
    a0 = multi[0][2]
    r2 = max(last_row, a0[0]) if rows_cut else a0[2]
    c2 = max(last_col, a0[1]) if cols_cut else a0[3]
    if r2 >= a0[2] and c2 >= a0[3]:
        return None  # nothing to cut
    extra = cells(a0) - (r2 - a0[0] + 1) * (c2 - a0[1] + 1)
    originals = [t.value for t, _, _ in multi]
    cut_texts, probe_texts, pad_texts = [], [], []
    for t, ref, a in multi:
        prefix = t.value[: len(t.value) - len(ref[1])]
        nr2, nc2 = a[0] + (r2 - a0[0]), a[1] + (c2 - a0[1])
        cut_texts.append(f"{prefix}${column_letters(a[1])}${a[0]}:${column_letters(nc2)}${nr2}")
        # the cut and one blank row (column) more: the first blank cell after the cells that exist
        pr2, pc2 = (min(nr2 + 1, a[2]), nc2) if rows_cut else (nr2, min(nc2 + 1, a[3]))
        pad_texts.append(f"{prefix}${column_letters(a[1])}${a[0]}:${column_letters(pc2)}${pr2}")
        # a cell of the cut-off part: below the last used row, or right of the last used column
        pr, pc = (nr2 + 1, a[1]) if nr2 < a[2] else (a[0], nc2 + 1)
        # as a one-cell range: IronCalc's COUNTIF(S) is #VALUE! over a single cell reference
        probe_texts.append(f"{prefix}${column_letters(pc)}${pr}:${column_letters(pc)}${pr}")
    texts = []
    for new in (cut_texts, probe_texts, originals):
        for (t, _, _), v in zip(multi, new, strict=True):
            t.value = v
        texts.append(render([call]))
    cut, probe = texts[0], texts[1]
    if key in _LOOKUPS:
        return _cut_lookup(call, [t for t, _, _ in multi], cut_texts, pad_texts, fresh("lk"))
    if key not in _COUNTING and key != "SUMPRODUCT":
        return cut
    return f"({cut}+{extra}*{probe})"


def _cut_lookup(call: Call, toks: list[Token], cut_texts: list[str], pad_texts: list[str], v: str) -> str:
    """An exact lookup reading the cut ranges, unless its value is empty: an empty value (""
    or a blank cell) may match the blanks cut off (LEN is 0 for exactly those). A search from
    the first cell finds the first blank after the cells that exist, so it reads the cut and one
    blank row or column more (``pad_texts``); a search from the last cell (XMATCH/XLOOKUP
    search_mode -1) finds the sheet's last blank, so it keeps the whole ranges. A number or
    logical literal is never empty: the cut alone. The lookup value is computed once (``v``)."""
    first = significant(call.args[0])
    text_literal = len(first) == 1 and isinstance(first[0], Token) and first[0].subtype == Token.TEXT
    if _literal(call.args[0]) is not None or (text_literal and first[0].value not in ('""', "")):
        for t, new_value in zip(toks, cut_texts, strict=True):
            t.value = new_value
        return render([call])
    value = render(call.args[0])
    call.args[0] = [Token(v, Token.OPERAND, Token.RANGE)]
    mode_at = {"XMATCH": 3, "XLOOKUP": 5}.get(call.key)
    backward = mode_at is not None and mode_at < len(call.args) and _literal(call.args[mode_at]) == "-1"
    if not backward:
        for t, new_value in zip(toks, pad_texts, strict=True):
            t.value = new_value
    whole = render([call])
    for t, new_value in zip(toks, cut_texts, strict=True):
        t.value = new_value
    cut = render([call])
    return f"LET({v},{value},IF(LEN({v}),{cut},{whole}))"
