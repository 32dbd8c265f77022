"""Comparisons of numbers to 15 significant digits, as Excel makes them, not to IronCalc's
absolute epsilon.

IronCalc 0.9.1 compares two numbers as equal when they differ by less than an absolute
epsilon (about 2.2E-16): ``=3E-139=0`` and ``=1E-16=0`` are TRUE there, ``=1E-20>0`` is FALSE.
Excel "stores and calculates 15 significant digits of precision" (Microsoft, "Floating-point
arithmetic may give inaccurate results in Excel"), so its comparisons are relative: ``=3E-139=0``
is FALSE, ``=1E-20>0`` TRUE, and ``=0.1+0.2=0.3`` TRUE (the two differ in the 17th digit).

The rule written here is the one LibreOffice documents in its source (``rtl::math::approxEqual``):
two numbers ``a`` and ``b`` are equal when ``a = b`` exactly, or when neither is zero, they are
not both integers below 2^53, and ``|a - b| < min(|a|, |b|) * 2^-48`` (2^-48 ≈ 3.55E-15: equal to about 15
significant digits). ``<``, ``>``, ``<=``, ``>=`` and ``<>`` follow from the same equality (two
numbers equal by it are neither less nor greater). Zero is compared exactly.

Each comparison of two operands that are single values becomes

``LET(a, x, b, y, IF(AND(number or blank a, number or blank b), s OP 0, a OP b))``

where ``s`` is -1, 0 or 1 computed with SIGN only (SIGN is exact in IronCalc: ``SIGN(1E-20)`` is
1), so IronCalc's epsilon never sees two close numbers; text, logicals and errors keep
IronCalc's own comparison (its ordering of types is Excel's). Operands that may be arrays
(a multi-cell range, an array constant, a spill) are left to the engine: IronCalc's ISNUMBER
of an array is one FALSE, and the implicit intersection of legacy formulas is decided later.
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, render
from addin.headless.letnames import LetNames
from addin.headless.semantics import arrayish

_COMPARE = frozenset(("=", "<", ">", "<=", ">=", "<>"))
_STRING = re.compile(r'"(?:[^"]|"")*"')


_WITH_TEXT = re.compile(r'(?:<>|<=|>=|[=<>])\s*"(?:[^"]|"")*"|"(?:[^"]|"")*"\s*(?:<>|<=|>=|[=<>])')


def needs_comparisons(text: str) -> bool:
    """Cheap test before tokenising: a comparison operator outside strings (after the ``=``)
    that does not compare with a text literal (``F2="buy"``: text is never a close number)."""
    body = text.lstrip()[1:]
    if '"' in body:
        body = _STRING.sub('""', _WITH_TEXT.sub("", body))
    return "=" in body or "<" in body or ">" in body


def excel_comparisons(text: str) -> str:
    """The formula with each comparison of single values made to 15 significant digits
    (module docstring); the text as it was where there is none."""
    nodes = parse(text)
    fresh = LetNames(text)
    changed = [False]

    def compare(left: str, op: str, right: str) -> str:
        a, b, d = (fresh(f"c{x}") for x in "abd")
        number = "OR(ISNUMBER({v}),ISBLANK({v}))"
        # d: a - b (SIGN of an overflow to infinity is still its sign); the sign is 0 where the two are
        # equal to 15 significant digits (close relative to the smaller magnitude, not both
        # integers, neither zero: a zero makes the tolerance 0), else the sign of d
        sign = (
            f"LET({d},({a}+0)-({b}+0),IF(SIGN(ABS({d})-MIN(ABS({a}+0),ABS({b}+0))*2^-48)=-1,"
            f"IF(SIGN({a}-INT({a}))+SIGN({b}-INT({b}))+IF(MAX(ABS({a}+0),ABS({b}+0))<2^53,0,1)=0,SIGN({d}),0),SIGN({d})))"
        )
        changed[0] = True
        return f"LET({a},{left},{b},{right},IF(AND({number.format(v=a)},{number.format(v=b)}),{sign}{op}0,{a}{op}{b}))"

    def level(seq: list[Any]) -> list[Any]:
        """``seq`` (one argument, the top, or the inside of parentheses) with its comparisons
        rewritten, innermost parentheses first."""
        out: list[Any] = []
        i = 0
        while i < len(seq):
            node = seq[i]
            if isinstance(node, Call):
                node.args = [level(arg) for arg in node.args]
            if _paren(node, Token.OPEN):
                j = _closing(seq, i)
                if j is None:
                    return seq
                out += [node, *level(seq[i + 1 : j]), seq[j]]
                i = j + 1
                continue
            out.append(node)
            i += 1
        # comparisons bind loosest of all operators (Microsoft, "Calculation operators and
        # precedence"), so the parts between them are their operands, left to right
        depth, cuts = 0, []
        for k, node in enumerate(out):
            if _paren(node, Token.OPEN):
                depth += 1
            elif _paren(node, Token.CLOSE):
                depth -= 1
            elif depth == 0 and isinstance(node, Token) and node.type == Token.OP_IN and node.value in _COMPARE:
                cuts.append(k)
        if not cuts:
            return out
        bounds = [-1, *cuts, len(out)]
        parts = [out[bounds[k] + 1 : bounds[k + 1]] for k in range(len(bounds) - 1)]
        if any(not render(p).strip() or arrayish(p) or _text_literal(p) for p in parts):
            return out  # a text literal is never a close number: the engine's comparison is Excel's
        acc = render(parts[0]).strip()
        for k, cut in enumerate(cuts):
            acc = compare(acc, out[cut].value, render(parts[k + 1]).strip())
        return [Token(acc, Token.OPERAND, Token.RANGE)]

    top = level(nodes)
    return formula(top) if changed[0] else text


def _paren(node: Any, subtype: str) -> bool:
    return isinstance(node, Token) and node.type == Token.PAREN and node.subtype == subtype


def _closing(seq: list[Any], i: int) -> int | None:
    depth = 0
    for j in range(i, len(seq)):
        if _paren(seq[j], Token.OPEN):
            depth += 1
        elif _paren(seq[j], Token.CLOSE):
            depth -= 1
            if depth == 0:
                return j
    return None


def _text_literal(nodes: list[Any]) -> bool:
    sig = [n for n in nodes if not (isinstance(n, Token) and n.type == Token.WSPACE)]
    return len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.TEXT
