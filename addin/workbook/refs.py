"""A1 references inside formula text: parsing, relative shapes (R1C1) and the argument path.

Why our own parsing: grouping 100,000 formulas by shape must be cheap. A regex that rewrites
A1 references to relative R1C1 outside string literals costs about a microsecond per formula;
tokenizing every formula costs ~50x more (``HEADLESS.md`` §3), so only one representative
per group is tokenized (:func:`analyse`, with openpyxl's Excel tokenizer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import column_index_from_string

MAX_ROW, MAX_COL = 1_048_576, 16_384

_SHEET = r"(?:'(?P<qs>(?:[^']|'')+)'|(?P<s>[A-Za-z_\u00c0-\uffff][\w.\u00c0-\uffff]*))!"
_CELL = r"\$?[A-Za-z]{1,3}\$?\d+"
_REF = re.compile(
    rf"(?<![\w.$'\]!])(?:{_SHEET})?"
    rf"(?P<ref>{_CELL}(?::{_CELL})?|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}|\$?\d+:\$?\d+)"
    r"(?![\w(!\[])"
)
_STRING = re.compile(r'"(?:[^"]|"")*"')
_PART = re.compile(r"(\$?)([A-Za-z]{1,3})?(\$?)(\d+)?")
_FUNC = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\s*\(")


@dataclass(frozen=True)
class Ref:
    """One rectangular reference as written: 1-based bounds and which parts are absolute.

    ``sheet`` is None for the formula's own sheet. Whole columns or rows get the sheet's
    full extent (``row2 = MAX_ROW``); :meth:`shifted` moves only the relative parts.
    """

    sheet: str | None
    row1: int
    col1: int
    row2: int
    col2: int
    abs_row1: bool
    abs_col1: bool
    abs_row2: bool
    abs_col2: bool

    @property
    def height(self) -> int:
        return self.row2 - self.row1 + 1

    @property
    def width(self) -> int:
        return self.col2 - self.col1 + 1

    @property
    def relative_rows(self) -> bool:
        return not (self.abs_row1 and self.abs_row2)

    def shifted(self, drow: int, dcol: int = 0) -> Ref:
        """The reference as it reads in a cell ``drow`` rows below (Excel's copy rule)."""
        return Ref(
            self.sheet,
            self.row1 + (0 if self.abs_row1 else drow),
            self.col1 + (0 if self.abs_col1 else dcol),
            self.row2 + (0 if self.abs_row2 else drow),
            self.col2 + (0 if self.abs_col2 else dcol),
            self.abs_row1,
            self.abs_col1,
            self.abs_row2,
            self.abs_col2,
        )

    def key(self) -> tuple[str, int, int, int, int]:
        """How ``formulas`` names this input once ``$`` and case are dropped (sheet upper)."""
        return ((self.sheet or "").upper(), self.row1, self.col1, self.row2, self.col2)


def _bound(text: str) -> tuple[int | None, int | None, bool, bool]:
    m = _PART.fullmatch(text)
    if m is None:
        raise ValueError(text)
    col = column_index_from_string(m.group(2).upper()) if m.group(2) else None
    row = int(m.group(4)) if m.group(4) else None
    return row, col, bool(m.group(1)) or col is None, bool(m.group(3)) or row is None


def parse_ref(text: str) -> Ref | None:
    """``Sheet!$A$1:B2``, ``'My sheet'!A:A``, ``3:5``... as a :class:`Ref`; None if not a reference."""
    m = _REF.fullmatch(text.strip())
    if m is None:
        return None
    sheet = m.group("qs").replace("''", "'") if m.group("qs") else m.group("s")
    parts = m.group("ref").split(":")
    r1, c1, ac1, ar1 = _bound(parts[0])
    r2, c2, ac2, ar2 = _bound(parts[-1])
    if r1 is None:  # whole columns
        r1, r2, ar1, ar2 = 1, MAX_ROW, True, True
    if c1 is None:  # whole rows
        c1, c2, ac1, ac2 = 1, MAX_COL, True, True
    assert r2 is not None and c2 is not None
    if r1 > MAX_ROW or r2 > MAX_ROW or c1 > MAX_COL or c2 > MAX_COL:
        return None
    return Ref(sheet, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2), ar1, ac1, ar2, ac2)


def _outside_strings(text: str, fn) -> str:  # type: ignore[no-untyped-def]
    out, pos = [], 0
    for m in _STRING.finditer(text):
        out.append(fn(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(fn(text[pos:]))
    return "".join(out)


_CELLS = re.compile(
    rf"(?<![\w.$'\]!])(?:{_SHEET})?(\$?)([A-Za-z]{{1,3}})(\$?)(\d+)(?::(\$?)([A-Za-z]{{1,3}})(\$?)(\d+))?(?![\w(!\[:])"
)
_COLS: dict[str, int] = {}


def _col(letters: str) -> int:
    n = _COLS.get(letters)
    if n is None:
        n = _COLS[letters] = column_index_from_string(letters.upper())
    return n


def shape_key(formula: str, row: int, col: int) -> str:
    """The formula with every A1 reference made relative to (row, col), as R1C1.

    Two cells with the same key compute the same function of their shifted inputs, so
    ``=A2*2`` in B2 and ``=A3*2`` in B3 share the key ``=R[0]C[-1]*2``. Cell and cell-range
    references take a fast path (about 3 µs a formula); whole rows or columns the general one.
    """

    def one(m: re.Match[str]) -> str:
        g = m.groups()
        sheet = f"{(g[0].replace(chr(39) * 2, chr(39)) if g[0] else g[1]).upper()}!" if (g[0] or g[1]) else ""
        parts = [g[2:6], g[6:10] if g[7] else g[2:6]]
        out = []
        for ac, c, ar, r in parts:
            rr = f"R{r}" if ar else f"R[{int(r) - row}]"
            cc = f"C{_col(c)}" if ac else f"C[{_col(c) - col}]"
            out.append(rr + cc)
        return f"{sheet}{out[0]}:{out[1]}"

    return _outside_strings(
        formula, lambda seg: _REF.sub(_general(row, col), _CELLS.sub(one, seg)) if _has_span(seg) else _CELLS.sub(one, seg)
    )


def _has_span(segment: str) -> bool:
    """Whether a segment may hold a whole-row or whole-column reference (``A:A``, ``3:5``)."""
    return bool(
        re.search(r"(?<![\dA-Za-z\]])\$?(?:[A-Za-z]{1,3}|\d+):\$?(?:[A-Za-z]{1,3}|\d+)(?![\d(])", segment)
    ) and not re.fullmatch(r"[^:]*", segment)


def r1c1(ref: Ref, row: int, col: int) -> str:
    """``ref`` in R1C1 relative to (row, col): ``SHEET!R[0]C[-1]:R[0]C[-1]``."""
    r1 = f"R{ref.row1}" if ref.abs_row1 else f"R[{ref.row1 - row}]"
    c1 = f"C{ref.col1}" if ref.abs_col1 else f"C[{ref.col1 - col}]"
    r2 = f"R{ref.row2}" if ref.abs_row2 else f"R[{ref.row2 - row}]"
    c2 = f"C{ref.col2}" if ref.abs_col2 else f"C[{ref.col2 - col}]"
    sheet = f"{(ref.sheet or '').upper()}!" if ref.sheet else ""
    return f"{sheet}{r1}{c1}:{r2}{c2}"


def _general(row: int, col: int):  # type: ignore[no-untyped-def]
    def one(m: re.Match[str]) -> str:
        text = m.group(0)
        if text.startswith("R") and "C" in text and ("[" in text or text[1:2].isdigit()):
            return text  # already rewritten by the fast path
        ref = parse_ref(text)
        if ref is None or (ref.row2 != MAX_ROW and ref.col2 != MAX_COL):
            return text
        return r1c1(ref, row, col)

    return one


def function_names(formula: str) -> list[str]:
    """Upper-case names of the functions a formula calls (outside string literals)."""
    names: list[str] = []
    _outside_strings(formula, lambda seg: names.extend(m.group(1).upper() for m in _FUNC.finditer(seg)) or seg)
    return names


@dataclass(frozen=True)
class Operand:
    """A reference or defined name in a formula, with the calls it is an argument of.

    ``path`` lists (function name, argument index) from the outermost call inward.
    """

    text: str
    ref: Ref | None
    name: str | None
    path: tuple[tuple[str, int], ...]


def analyse(formula: str) -> list[Operand]:
    """Every reference operand of ``formula`` (``=...``) with its enclosing calls."""
    stack: list[list[object]] = []
    found: list[Operand] = []
    for tok in Tokenizer(formula if formula.startswith("=") else f"={formula}").items:
        if tok.type == Token.FUNC and tok.subtype == Token.OPEN:
            stack.append([tok.value[:-1].upper(), 0])
        elif tok.type in (Token.PAREN, Token.ARRAY) and tok.subtype == Token.OPEN:
            stack.append(["(" if tok.type == Token.PAREN else "{", 0])
        elif tok.subtype == Token.CLOSE and stack:
            stack.pop()
        elif tok.type == Token.SEP and tok.subtype == Token.ARG and stack:
            stack[-1][1] = int(stack[-1][1]) + 1  # type: ignore[call-overload]
        elif tok.type == Token.OPERAND and tok.subtype == Token.RANGE:
            path = tuple((str(f), int(i)) for f, i in stack if f not in ("(", "{"))  # type: ignore[call-overload]
            ref = parse_ref(tok.value)
            found.append(Operand(tok.value, ref, None if ref else tok.value.upper(), path))
    return found


MISSING = "__clearquote_missing_argument__"


def fill_missing(formula: str, ours: Callable[[str], bool]) -> str:
    """``formula`` with each omitted argument of a call to one of ``ours`` made explicit.

    Excel passes an omitted argument (``=CQ_IM(A1:B5,,"span")``) to an add-in function as
    missing, so the function applies its default; ``formulas`` passes 0. The compiled text
    carries :data:`MISSING` there instead, which the catalogue adapter turns back into a
    missing argument. The workbook's own text is never changed.
    """
    tokens = Tokenizer(formula if formula.startswith("=") else f"={formula}").items
    if not any(t.type == Token.FUNC and t.subtype == Token.OPEN and ours(t.value[:-1]) for t in tokens):
        return formula
    out: list[Token] = []
    stack: list[bool] = []
    for i, tok in enumerate(tokens):
        if tok.type == Token.WSPACE:
            out.append(tok)
            continue
        opens = tok.subtype == Token.OPEN and tok.type in (Token.FUNC, Token.PAREN, Token.ARRAY)
        prev = next((t for t in reversed(tokens[:i]) if t.type != Token.WSPACE), None)
        ends_arg = (tok.type == Token.SEP and tok.subtype == Token.ARG) or (tok.type == Token.FUNC and tok.subtype == Token.CLOSE)
        if ends_arg and stack and stack[-1] and prev is not None:
            empty_before = (prev.type == Token.SEP and prev.subtype == Token.ARG) or (
                prev.type == Token.FUNC and prev.subtype == Token.OPEN
            )
            # "F()" has no arguments at all, not one missing argument
            if empty_before and not (tok.subtype == Token.CLOSE and prev.subtype == Token.OPEN):
                out.append(Token(f'"{MISSING}"', Token.OPERAND, Token.TEXT))
        if opens:
            stack.append(tok.type == Token.FUNC and ours(tok.value[:-1]))
        elif tok.subtype == Token.CLOSE and stack:
            stack.pop()
        out.append(tok)
    return "=" + "".join(t.value for t in out)
