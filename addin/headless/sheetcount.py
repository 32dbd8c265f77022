"""The functions that count a book's sheets, answered from the book's own sheets.

The engine adds sheets of its own to the formula engine's model (the host calls' scratch sheet,
the expression arguments', LAMBDA applications', iteration shadows: :mod:`addin.headless.engine`,
:mod:`addin.headless.circular`), always after the book's; IronCalc 0.9.1 counts every sheet of
its model, so ``SHEETS()`` of a three-sheet book with a constant defined name was 4. Excel counts
the book's sheets only:

* ``SHEETS()``: "If reference is omitted, SHEETS returns the number of sheets in the workbook
  that contains the function"; "SHEETS includes all sheets (visible, hidden, or very hidden) in
  addition to all other sheet types (macro, chart, or dialog sheets)" (Microsoft, "SHEETS
  function"): every sheet of ``workbook.xml``;
* ``SHEETS(First:Last!A1)``: "the number of sheets in a reference", the sheets from the first to
  the last in the book's order (a 3-D reference, Microsoft, "Create a 3-D reference");
* ``INFO("numfile")``: "Number of active worksheets in the open workbooks" (Microsoft, "INFO
  function"); headless, the one open book is this one, so its worksheets (the sheets the
  formula engine loaded, before any of the engine's own). A type that is not a literal string
  is compared when the formula runs (``IF(t="numfile",n,INFO(t))``, Excel's ``=`` ignores case).

``SHEET`` and ``CELL("address")`` are unaffected: the engine's sheets come after the book's, so
no sheet of the book changes its number, and no formula of the book refers to them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from addin.headless.formula import Call, formula, parse, render, rewrite_calls

_NAMES = re.compile(r"\b(?:SHEETS|INFO)\s*\(", re.I)
#: ``First:Last!ref`` or ``'First:Last'!ref`` (a 3-D reference), the whole argument.
_THREE_D = re.compile(r"^\s*(?:'((?:[^']|'')+):((?:[^']|'')+)'|([\w.]+):([\w.]+))!\S+\s*$")
_LITERAL = re.compile(r'^\s*"((?:[^"]|"")*)"\s*$')


def needs_sheet_count(text: str) -> bool:
    """Cheap test before tokenising."""
    return _NAMES.search(text) is not None


def sheet_count(text: str, sheets: Sequence[str], worksheets: int) -> str:
    """The formula with ``SHEETS()``, ``SHEETS`` of a 3-D reference and ``INFO("numfile")``
    answered from the book (module docstring).

    Parameters
    ----------
    text : str
        The formula (with ``=``).
    sheets : Sequence[str]
        The book's sheets in its order, every type (``workbook.xml``).
    worksheets : int
        The book's worksheets (what the formula engine loaded before the engine's own sheets).
    """
    nodes = parse(text)
    upper = [s.upper() for s in sheets]

    def answer(node: Call) -> str | None:
        if node.key == "SHEETS" and all(not render(a).strip() for a in node.args) and len(node.args) <= 1:
            return str(len(sheets))  # ``SHEETS()`` parses as one empty argument
        if node.key == "SHEETS" and len(node.args) == 1:
            three = _THREE_D.match(render(node.args[0]))
            if three is None:
                return None
            first = (three.group(1) or three.group(3)).replace("''", "'").upper()
            last = (three.group(2) or three.group(4)).replace("''", "'").upper()
            if first not in upper or last not in upper:
                return None  # a sheet the book does not have: the engine's own answer
            return str(abs(upper.index(last) - upper.index(first)) + 1)
        if node.key == "INFO" and len(node.args) == 1:
            arg = render(node.args[0])
            literal = _LITERAL.match(arg)
            if literal is not None:
                return str(worksheets) if literal.group(1).strip().lower() == "numfile" else None
            return f'IF(({arg})="numfile",{worksheets},INFO({arg}))'
        return None

    if rewrite_calls(nodes, answer) == 0:
        return text
    return formula(nodes)
