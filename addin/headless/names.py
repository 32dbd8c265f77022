"""Defined names of every kind, and 3-D references, written out where the formula engine fails.

IronCalc 0.9.1 evaluates a defined name only when it is an absolute reference; named formulas
(``Total = SUM(S!$A$1:$A$5)``), array constants (``{1,2,3}``), relative names (``S!A1``, which
Excel stores relative to cell A1 and applies relative to the formula's cell: Microsoft, "Define
and use names in formulas"), and the qualified forms ``[0]!Name`` (the workbook's own) and
``Sheet!Name`` (a sheet's) gave #NAME? or #ERROR!. Each such name is replaced in the formula
by its own text in parentheses (names inside it too, to a depth of :data:`MAX_DEPTH`), its
relative references moved to the formula's cell. A name's scope follows Excel: the formula's
sheet first, then the workbook.

A 3-D reference (``SUM(Jan:Mar!B2)``) is the same reference on every sheet from the first to the
last in the workbook's order; as an argument it becomes the list of those references
(``SUM(Jan!B2,Feb!B2,Mar!B2)``), which the functions taking 3-D references (SUM, AVERAGE,
COUNT, COUNTA, MAX, MIN, PRODUCT, STDEV, VAR and their variants: Microsoft, "Create a 3-D
reference") read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_letters, column_number
from addin.headless.formula import Call, formula, has_3d, map_ranges, parse, rewrite_calls, split_ref
from addin.headless.package import MAX_COLUMNS, MAX_ROWS
from addin.headless.values import quote_sheet

#: How deep names inside names are written out (a name referring to itself stops there: #NAME?).
MAX_DEPTH = 16
_CELL = re.compile(r"^(\$?)([A-Za-z]{1,3})(\$?)(\d+)$")
_ABSOLUTE_REF = re.compile(r"^\$[A-Za-z]{1,3}\$\d+(?::\$[A-Za-z]{1,3}\$\d+)?$|^\$[A-Za-z]{1,3}:\$[A-Za-z]{1,3}$|^\$\d+:\$\d+$")
_EXTERNAL = re.compile(r"\[\d+\]")
_THREE_D = re.compile(r"^(?:'((?:[^']|'')+):((?:[^']|'')+)'|([\w.]+):([\w.]+))!(.+)$")

#: Defined names as (upper-case name, scope sheet title or None) -> text (without "=").
Names = Mapping[tuple[str, str | None], str]


def engine_handles(text: str) -> bool:
    """Whether the name of this text is left to the formula engine: an absolute reference (it
    evaluates those), or a reference into another workbook (written out, it would turn the
    formula into text the engine cannot read; as a name it is #NAME?, which IFERROR catches)."""
    if _EXTERNAL.search(text):
        return True
    ref = split_ref(text.lstrip("="))
    return ref is not None and ref[0] is not None and _ABSOLUTE_REF.match(ref[1]) is not None


def _shift_cell(cell: str, dr: int, dc: int) -> str:
    m = _CELL.match(cell)
    if m is None:
        return cell
    col, row = column_number(m.group(2).upper()), int(m.group(4))
    if not m.group(1):
        col = (col - 1 + dc) % MAX_COLUMNS + 1  # Excel wraps a relative name round the grid
    if not m.group(3):
        row = (row - 1 + dr) % MAX_ROWS + 1
    return f"{m.group(1)}{column_letters(col)}{m.group(3)}{row}"


def relative_to(text: str, row: int, col: int) -> str:
    """A name's text (relative to A1, as the file stores it) as seen from cell (row, col)."""
    dr, dc = row - 1, col - 1
    if not (dr or dc):
        return text

    def move(operand: str) -> str | None:
        ref = split_ref(operand.lstrip("@"))
        if ref is None:
            return None
        a1 = ":".join(_shift_cell(p, dr, dc) for p in ref[1].split(":"))
        return operand[: len(operand) - len(ref[1])] + a1 if a1 != ref[1] else None

    return map_ranges("=" + text, move).lstrip("=")


def _lookup(names: Names, operand: str, sheet: str) -> str | None:
    """The text of the name ``operand`` means in a formula on ``sheet``, None if it is no name."""
    if "!" in operand:
        qualifier, _, bare = operand.rpartition("!")
        qualifier = qualifier.strip("'").replace("''", "'")
        if qualifier == "[0]":
            return names.get((bare.upper(), None))
        return names.get((bare.upper(), qualifier)) or names.get((bare.upper(), None))
    return names.get((operand.upper(), sheet)) or names.get((operand.upper(), None))


def mentions(text: str, words: re.Pattern[str] | None) -> bool:
    """Cheap test: a name to write out, or a 3-D reference, may be in the text."""
    return (words is not None and words.search(text) is not None) or (":" in text and "!" in text and has_3d(text))


def pattern(names: Names) -> re.Pattern[str] | None:
    """A regex finding the names the engine does not evaluate itself: those that are not an
    absolute reference, and any name qualified (``[0]!Name``, ``Sheet!Name``). None: no names."""
    own = sorted({n for (n, _), text in names.items() if not engine_handles(text)}, key=len, reverse=True)
    every = sorted({n for n, _ in names}, key=len, reverse=True)
    if not every:
        return None
    alternatives = [r"!(?:" + "|".join(re.escape(w) for w in every) + r")(?![\w(])"]
    if own:
        alternatives.append(r"(?<![\w.])(?:" + "|".join(re.escape(w) for w in own) + r")(?![\w(])")
    return re.compile("|".join(alternatives), re.I)


def write_out(text: str, sheet: str, row: int, col: int, names: Names, sheets: Sequence[str]) -> str:
    """The formula with each name the engine does not evaluate replaced by its text, and each
    3-D reference as its list (module docstring)."""
    for _ in range(MAX_DEPTH):
        new = _once(text, sheet, row, col, names, sheets)
        if new == text:
            return text
        text = new
    return text


def _once(text: str, sheet: str, row: int, col: int, names: Names, sheets: Sequence[str]) -> str:
    nodes = parse(text)
    changed = False

    def walk(seq: list[object]) -> None:
        nonlocal changed
        for node in seq:
            args = getattr(node, "args", None)
            if args is not None:
                for a in args:
                    walk(a)
                continue
            if not (isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE):
                continue
            value = node.value.lstrip("@")
            three = _THREE_D.match(value)
            if three is not None:
                first = (three.group(1) or three.group(3) or "").replace("''", "'")
                last = (three.group(2) or three.group(4) or "").replace("''", "'")
                upper = [s.upper() for s in sheets]
                if first.upper() in upper and last.upper() in upper:
                    i, j = sorted((upper.index(first.upper()), upper.index(last.upper())))
                    node.value = ",".join(f"{quote_sheet(s)}!{three.group(5)}" for s in sheets[i : j + 1])
                    changed = True
                continue
            if split_ref(value) is not None:
                continue  # a plain reference (a name never looks like one)
            found = _lookup(names, value, sheet)
            if found is None or (engine_handles(found) and "!" not in value):
                continue  # the engine reads a bare name of an absolute reference, not a qualified one
            body = relative_to(found.lstrip("="), row, col)
            # a reference stays an operand (implicit intersection then sees it); else grouped
            node.value = body if split_ref(body) is not None else "(" + body + ")"
            changed = True

    walk(nodes)
    return formula(nodes) if changed else text


#: A constant a name may stand for: a number, a string, a logical, an error or an array constant.
_CONSTANT = re.compile(
    r'^\s*(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|"(?:[^"]|"")*"|TRUE|FALSE|#[A-Z0-9/!?]+|\{[^{}]*\})\s*$', re.I
)
_FORMULATEXT = re.compile(r"\bFORMULATEXT\s*\(", re.I)


def needs_formulatext(text: str) -> bool:
    """Cheap test before tokenising."""
    return _FORMULATEXT.search(text) is not None


def formulatext_of_names(text: str, sheet: str, row: int, col: int, names: Names) -> str:
    """The formula with each ``FORMULATEXT(name)`` given the name's cells, or #N/A for a name of
    a constant.

    Microsoft, "FORMULATEXT function": the argument is "a reference to a cell or range of
    cells"; "if the Reference argument is to a cell that does not contain a formula,
    FORMULATEXT returns the #N/A error value". A name of a constant (``Rate = 0.07``) refers to
    no cell holding a formula: #N/A. A name of a reference is that reference, whose formula
    is the answer. IronCalc 0.9.1 gave #NAME? for the constant (its own cell for it is the
    engine's scratch cell, :meth:`~addin.headless.engine._Run._defined_names`). A name of a
    formula (``Total = SUM(...)``) is left to the formula engine.
    """
    nodes = parse(text)

    def answer(node: Call) -> str | None:
        if node.key != "FORMULATEXT" or len(node.args) != 1:
            return None
        toks = [t for t in node.args[0] if not (isinstance(t, Token) and t.type == Token.WSPACE)]
        if len(toks) != 1 or not isinstance(toks[0], Token) or toks[0].subtype != Token.RANGE:
            return None
        operand = toks[0].value.lstrip("@")
        if split_ref(operand) is not None:
            return None  # a reference, not a name
        found = _lookup(names, operand, sheet)
        if found is None:
            return None
        body = found.lstrip("=").strip()
        if _CONSTANT.match(body):
            return "#N/A"
        if split_ref(body) is not None:
            return f"{node.name}({relative_to(body, row, col)})"
        return None

    if rewrite_calls(nodes, answer) == 0:
        return text
    return formula(nodes)
