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

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import ARRAY_ARGS, Call, formula, parse, render, significant

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
    count = [0]

    def walk(seq: list[Any]) -> None:
        for i, node in enumerate(seq):
            if not isinstance(node, Call):
                continue
            for a in node.args:
                walk(a)
            key = node.key
            if key == "USDOLLAR":
                node.name = "DOLLAR"  # USDOLLAR is DOLLAR in U.S. format (Microsoft, "USDOLLAR function")
                count[0] += 1
            if key in _COUNTS:
                args = [
                    f"--({render(a)})" if k in _COUNTS[key] and render(a).strip() else render(a) for k, a in enumerate(node.args)
                ]
                count[0] += 1
                seq[i] = Token(f"{node.name}({','.join(args)})", Token.OPERAND, Token.RANGE)
            elif key == "DATE" and not date1904 and len(node.args) == 3 and all(render(a).strip() for a in node.args):
                count[0] += 1
                v, e = f"_cqds{count[0]}", f"_cqde{count[0]}"
                y, m, d = (render(a) for a in node.args)
                # IronCalc's serials are days like Excel's, one more before March 1900 (the day
                # Excel counts that never was): one less where the month starts before it.
                # IF, not OR or MAX: element by element over arrays.
                body = f"LET({v},{node.name}({y},{m},{d}),{e},{v}-IF({node.name}({y},{m},1)<61,1,0),IF({e}<0,#NUM!,{e}))"
                seq[i] = Token(body, Token.OPERAND, Token.RANGE)

    walk(nodes)
    return formula(nodes) if count[0] else text


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


# ----------------------------------------------------------------------------- numbers as text
#
# NOT applied by the engine (docs/headless-semantics.md, "Open"): rounding each ``&`` operand to
# 15 significant digits, as Excel turns a number into text, changed COUNTIFS(range,">="&E2)
# counts on the committed margin_lab.xlsx where LibreOffice (also 15 digits) and formulas'
# ExcelModel agree with IronCalc's full-precision text; the cause was not found in time.

#: Text functions and the arguments (0-based; None: all) they read as text.
_AS_TEXT: dict[str, frozenset[int] | None] = {
    **dict.fromkeys(
        ("LEN", "LEFT", "RIGHT", "MID", "UPPER", "LOWER", "PROPER", "TRIM", "CODE", "SUBSTITUTE", "REPT"), frozenset({0})
    ),
    **dict.fromkeys(("FIND", "SEARCH", "EXACT"), frozenset({0, 1})),
    "CONCATENATE": None,
    "CONCAT": None,
}
#: Functions whose result is always text: nothing to convert when ``&`` joins it.
_TEXT_RESULTS = frozenset(
    "LEFT RIGHT MID UPPER LOWER PROPER TRIM CLEAN CONCATENATE CONCAT TEXTJOIN TEXT SUBSTITUTE REPLACE REPT CHAR T DOLLAR FIXED".split()
)
_TEXT_NAMES = re.compile(r"\b(" + "|".join(sorted(_AS_TEXT, key=len, reverse=True)) + r")\s*\(", re.I)


def needs_fifteen_digits(text: str) -> bool:
    """Cheap test: the formula joins with ``&`` or calls a text function (outside strings)."""
    outside = _STRING.sub('""', text) if '"' in text else text
    return "&" in outside or _TEXT_NAMES.search(outside) is not None


def fifteen_digits(text: str) -> str:
    """Every value a formula turns into text (``&``'s operands, text functions' text arguments)
    first rounded to 15 significant digits, as Excel converts a number to text (module
    docstring); other values pass unchanged."""
    nodes = parse(text)
    count = [0]

    def wrap() -> tuple[str, str]:
        count[0] += 1
        v = f"_cqt{count[0]}"
        return f"LET({v},", f",IF(ISNUMBER({v}),IF({v}=0,0,ROUND({v},14-INT(LOG10(ABS({v}))))),{v}))"

    def walk(seq: list[Any]) -> None:
        for node in seq:
            if isinstance(node, Call):
                positions = _AS_TEXT.get(node.key, frozenset())
                for k, arg in enumerate(node.args):
                    walk(arg)
                    if (positions is None or k in positions) and render(arg).strip() and not _is_text_literal(arg):
                        head, tail = wrap()
                        arg[:] = [Token(head + render(arg) + tail, Token.OPERAND, Token.RANGE)]
        # ``&`` binds looser than arithmetic and tighter than comparisons (Microsoft, "Calculation
        # operators and precedence"): its operands are the runs between it and the next ``&``
        # or comparison, or the ends
        cuts = [i for i, n in enumerate(seq) if isinstance(n, Token) and n.type == Token.OP_IN and n.value in _LOOSER]
        if not any(seq[i].value == "&" for i in cuts):
            return
        bounds = [-1, *cuts, len(seq)]
        for k in range(1, len(bounds) - 1):
            if seq[bounds[k]].value != "&":
                continue
            for lo, hi in ((bounds[k - 1] + 1, bounds[k] - 1), (bounds[k] + 1, bounds[k + 1] - 1)):
                _wrap_run(seq, lo, hi, wrap)

    walk(nodes)
    return formula(nodes) if count[0] else text


_LOOSER = frozenset(("&", "=", "<", ">", "<=", ">=", "<>"))


def _wrap_run(seq: list[Any], lo: int, hi: int, wrap: Any) -> None:
    """``seq[lo..hi]`` (one operand of ``&``) wrapped in the 15-digit conversion, once."""
    while lo <= hi and isinstance(seq[lo], Token) and seq[lo].type == Token.WSPACE:
        lo += 1
    while hi >= lo and isinstance(seq[hi], Token) and seq[hi].type == Token.WSPACE:
        hi -= 1
    if lo > hi:
        return
    first = seq[lo]
    if isinstance(first, Token) and first.value.startswith("LET(_cqt"):
        return  # wrapped already (the operand of two joins)
    if lo == hi and (
        (isinstance(first, Token) and first.subtype == Token.TEXT) or (isinstance(first, Call) and first.key in _TEXT_RESULTS)
    ):
        return  # text already
    head, tail = wrap()
    seq[lo] = Token(head + render([seq[lo]]), Token.OPERAND, Token.RANGE)
    last = seq[hi] if hi != lo else seq[lo]
    seq[hi] = Token(render([last]) + tail, Token.OPERAND, Token.RANGE)


def _is_text_literal(arg: list[Any]) -> bool:
    sig = significant(arg)
    return len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.TEXT
