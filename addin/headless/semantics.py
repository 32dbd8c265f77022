"""Excel's semantics where IronCalc 0.9.1 departs from them, restored by rewriting the formula.

Each class was found by the generative differential test (tests/workbook/test_generative.py) or
on the holdout of unseen books, and is fixed for every formula, never per file:

* **DATE before March 1900.** Excel counts a 29 February 1900 that never was (serial 60), so
  its serials before 1 March 1900 are one less than the calendar's: ``DATE(1900,1,1)`` is 1,
  IronCalc says 2 (Microsoft, "Excel incorrectly assumes that the year 1900 is a leap year").
  Excel's DATE adds the days to the first of the month, so its serial is IronCalc's less one
  wherever the month starts before March 1900; below 0 it is #NUM!.
* **Text numbers in LEFT, RIGHT, MID.** Excel converts a text argument that is a number
  (``LEFT("a string","6")`` is ``"a stri"``; Microsoft, "LEFT, LEFTB functions": num_chars
  is a number, and Excel converts text to numbers where a number is expected); IronCalc
  gives #VALUE!. The count arguments are given as ``--(x)``, which is Excel's own conversion
  (a blank is 0, TRUE is 1, other text #VALUE!).
* **Implicit intersection where Excel takes the whole range.** IronCalc's xlsx reader writes
  ``@`` into legacy formulas, also before arguments Excel reads whole: ``WORKDAY(A2,3,H1:H3)``
  became ``WORKDAY(A2,3,@H1:H3)``, one holiday instead of three. The ``@`` is removed from
  every argument :data:`~addin.headless.formula.ARRAY_ARGS` lists (Excel's array and
  reference parameters); elsewhere IronCalc's intersections stand (they agree with Excel's on
  the corpus).
* **USDOLLAR** ("converts a number to text format and applies a currency symbol ... the same as
  DOLLAR", U.S. format: Microsoft, "USDOLLAR function") is missing; it is written as DOLLAR,
  which the engine computes in its en-US locale.
* **Parenthesised comparisons next to ``&``.** IronCalc renders ``"its "&(2<3)&" blue"``
  without the parentheses and re-reads formulas from that text (on load, and whenever a sheet
  is added), so it computes ``("its "&2)<(3&" blue")``, FALSE; Excel: "its TRUE blue" (``&``
  binds tighter than ``<``: Microsoft, "Calculation operators and precedence"). The package
  scan keeps such formulas' text as the file has it (:func:`needs_own_text`), and each
  parenthesised comparison becomes ``IF(a<b,TRUE,FALSE)``, the same value in a form whose
  rendering keeps the grouping.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import ARRAY_ARGS, Call, formula, parse, render, rewrite_calls, significant

#: Count arguments (0-based) of the text functions that IronCalc does not convert from text.
_COUNTS = {"LEFT": (1,), "RIGHT": (1,), "MID": (1, 2), "LEFTB": (1,), "RIGHTB": (1,), "MIDB": (1, 2)}
_NAMES = re.compile(r"\b(DATE|LEFTB?|RIGHTB?|MIDB?|USDOLLAR)\s*\(", re.I)
_COMPARE = frozenset(("=", "<", ">", "<=", ">=", "<>"))
_STRING = re.compile(r'"(?:[^"]|"")*"')


def needs_own_text(text: str) -> bool:
    """Whether the formula (as the file has it) must be given to the engine as written, not as
    the engine's reader renders it (a parenthesised comparison beside ``&``)."""
    if not ("&" in text and "(" in text):
        return False
    outside = _STRING.sub("", text.lstrip("="))
    return "&" in outside and "(" in outside and any(op in outside for op in "<>=")


def needs_rewrite(text: str) -> bool:
    """Cheap test before tokenising: the formula calls DATE, LEFT, RIGHT or MID."""
    return _NAMES.search(text) is not None


def grouped_comparisons(text: str) -> str:
    """Each parenthesised comparison ``(a<b)`` as ``IF(a<b,TRUE,FALSE)`` (module docstring)."""
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any]) -> None:
        opens: list[tuple[int, bool]] = []  # position of each open parenthesis, and whether it holds a comparison
        for i, node in enumerate(seq):
            if isinstance(node, Call):
                for a in node.args:
                    walk(a)
            elif isinstance(node, Token) and node.type == Token.PAREN and node.subtype == Token.OPEN:
                opens.append((i, False))
            elif isinstance(node, Token) and node.type == Token.PAREN and node.subtype == Token.CLOSE and opens:
                start, compares = opens.pop()
                if compares:
                    seq[start] = Token("IF(", Token.PAREN, Token.OPEN)
                    seq[i] = Token(",TRUE,FALSE)", Token.PAREN, Token.CLOSE)
                    changed[0] = True
            elif isinstance(node, Token) and node.type == Token.OP_IN and node.value in _COMPARE and opens:
                opens[-1] = (opens[-1][0], True)

    walk(nodes)
    return formula(nodes) if changed[0] else text


def rewrite(text: str, date1904: bool) -> str:
    """The formula with DATE and the text functions' counts as Excel computes them (module
    docstring); in the 1904 system DATE is left to :mod:`addin.headless.dates1904`."""
    nodes = parse(text)
    names = itertools.count(1)
    renamed = False

    def as_excel(node: Call) -> str | None:
        nonlocal renamed
        key = node.key
        if key == "USDOLLAR":
            node.name = "DOLLAR"  # USDOLLAR is DOLLAR in U.S. format (Microsoft, "USDOLLAR function")
            renamed = True
        if key in _COUNTS:
            args = [f"--({render(a)})" if k in _COUNTS[key] and render(a).strip() else render(a) for k, a in enumerate(node.args)]
            return f"{node.name}({','.join(args)})"
        if key == "DATE" and not date1904 and len(node.args) == 3 and all(render(a).strip() for a in node.args):
            k = next(names)
            v, e = f"_cqds{k}", f"_cqde{k}"
            y, m, d = (render(a) for a in node.args)
            # IronCalc's serials are days like Excel's, one more before March 1900 (the day
            # Excel counts that never was): one less where the month starts before it.
            # IF, not OR or MAX: element by element over arrays.
            return f"LET({v},{node.name}({y},{m},{d}),{e},{v}-IF({node.name}({y},{m},1)<61,1,0),IF({e}<0,#NUM!,{e}))"
        return None

    replaced = rewrite_calls(nodes, as_excel)
    return formula(nodes) if replaced or renamed else text


def whole_array_arguments(text: str) -> str:
    """The formula without the ``@`` IronCalc's reader put before a range in an argument Excel
    reads whole (module docstring)."""
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any]) -> None:
        for node in seq:
            if not isinstance(node, Call):
                continue
            positions = ARRAY_ARGS.get(node.key, frozenset())
            for k, arg in enumerate(node.args):
                walk(arg)
                sig = significant(arg)
                whole = positions is None or k in positions
                if whole and len(sig) == 1 and isinstance(sig[0], Token) and sig[0].value.startswith("@") and ":" in sig[0].value:
                    sig[0].value = sig[0].value[1:]
                    changed[0] = True

    walk(nodes)
    return formula(nodes) if changed[0] else text
