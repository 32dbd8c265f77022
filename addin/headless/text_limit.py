"""Excel's text limit: no text value is longer than 32,767 characters; past it, #VALUE!.

Microsoft, "Excel specifications and limits": the total number of characters a cell can contain
is 32,767. A formula that would build a longer text gives #VALUE! instead: the reference pages of
CONCAT and TEXTJOIN say so ("If the resulting string exceeds 32767 characters (cell limit), CONCAT
returns the #VALUE! error"), REPT's ("If the result of the REPT function is longer than 32,767
characters, REPT returns the #VALUE! error value"), and the ``&`` operator, CONCATENATE,
SUBSTITUTE and REPLACE behave alike (documented Excel behaviour: no intermediate text exceeds
the cell limit). IronCalc 0.9.1 bounds REPT only: ``LEN(A1&A1)`` with 20,000 characters in A1
was 40,000, and a LET doubling a text 40 times would have asked for terabytes.

Text only grows where it is joined, so the bound is written where it is: every ``&`` chain and
every call of a function that joins or substitutes text (:data:`GROWING`) becomes
``LET(t, <it>, IF(LEN(t)>32767, #VALUE!, t))``. A chain's length is at least that of each of its
prefixes, so checking the whole chain is checking each ``&`` in it (one difference: a chain
whose overflow is followed by an error operand gives that error, where Excel's left-to-right
evaluation gives #VALUE!). Each text that reaches a chain is itself bounded (a cell holds at most
32,767 characters, a string literal 255), so what the formula engine builds before the check is
bounded by the formula's length times the limit, and the next step sees #VALUE!: a doubling chain
stops at its first step past the limit.
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, parse, render
from addin.headless.letnames import LetNames

#: Excel's limit on the characters of one text value (a cell's contents).
TEXT_LIMIT = 32_767
#: Functions whose text result can be longer than every text they are given (REPT is IronCalc's own already).
GROWING = frozenset({"CONCAT", "CONCATENATE", "TEXTJOIN", "SUBSTITUTE", "REPLACE", "REPLACEB"})
_COMPARISONS = frozenset({"=", "<", ">", "<=", ">=", "<>"})
_STRINGS = re.compile(r'"(?:[^"]|"")*"')
_GROWING_CALL = re.compile(r"(?<![\w.])(?:_xlfn\.)?(?:" + "|".join(sorted(GROWING)) + r")\s*\(", re.I)


def needs_text_limit(text: str) -> bool:
    """Whether ``text`` joins text: an ``&`` or a :data:`GROWING` call outside string literals."""
    if "&" not in text and "(" not in text:
        return False
    bare = _STRINGS.sub('""', text)
    return "&" in bare or _GROWING_CALL.search(bare) is not None


def text_limit(text: str) -> str:
    """``text`` with every ``&`` chain and :data:`GROWING` call bounded to :data:`TEXT_LIMIT` characters."""
    nodes = parse(text)
    names = LetNames(text)

    def bounded(value: str) -> str:
        t = names("tx")
        return f"LET({t},{value},IF(LEN({t})>{TEXT_LIMIT},#VALUE!,{t}))"

    def walk(seq: list[Any]) -> None:
        """Innermost first: each call's arguments, then the call, then the chains around it."""
        for i, node in enumerate(seq):
            if isinstance(node, Call):
                for arg in node.args:
                    walk(arg)
                if node.key in GROWING:
                    seq[i] = Token(bounded(render([node])), Token.OPERAND, Token.RANGE)
        _bound_chains(seq, bounded)

    walk(nodes)
    return "=" + render(nodes)


def _bound_chains(seq: list[Any], bounded: Any) -> None:
    """Each ``&`` chain of one argument (``seq``), at each level of parentheses, replaced in
    place by one token holding ``bounded(chain)``. A chain ends where ``&``'s precedence does:
    at a comparison, an argument separator or its enclosing parentheses."""
    # per open parenthesis: [where its current chain starts in seq, whether it holds an &]
    frames: list[list[Any]] = [[0, False]]

    def close(start: int, end: int) -> int:
        """The chain seq[start:end] as one token; the index of what followed it."""
        seq[start:end] = [Token(bounded(render(seq[start:end])), Token.OPERAND, Token.RANGE)]
        return start + 1

    i = 0
    while i < len(seq):
        node = seq[i]
        if isinstance(node, Token):
            if node.type in (Token.PAREN, Token.ARRAY) and node.subtype == Token.OPEN:
                frames.append([i + 1, False])
            elif node.type in (Token.PAREN, Token.ARRAY) and node.subtype == Token.CLOSE and len(frames) > 1:
                start, amp = frames.pop()
                if amp:
                    i = close(start, i)
            elif (node.type == Token.OP_IN and node.value in _COMPARISONS) or node.type == Token.SEP:
                start, amp = frames[-1]
                if amp:
                    i = close(start, i)
                frames[-1] = [i + 1, False]
            elif node.type == Token.OP_IN and node.value == "&":
                frames[-1][1] = True
        i += 1
    for start, amp in reversed(frames):  # the chains still open at the end, innermost first
        if amp:
            close(start, len(seq))
