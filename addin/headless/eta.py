"""Eta-reduced functions (``_xleta.SUM``) written out as the LAMBDA they stand for.

Excel 365 lets a function's name stand where a LAMBDA is taken: ``=BYROW(C4:E5,SUM)`` sums
each row, and the file stores the name as ``_xleta.SUM`` (Microsoft, "BYROW function": "the
function ... can be a LAMBDA or an eta-reduced lambda"; the LAMBDA helper functions BYROW,
BYCOL, MAP, SCAN, REDUCE and MAKEARRAY take one alike). An eta-reduced lambda is the function
called with every parameter the helper passes (η-reduction: ``LAMBDA(x,SUM(x))`` is ``SUM``),
so it is written out as ``LAMBDA(p1,…,pn,NAME(p1,…,pn))`` with ``n`` the helper's parameters:

=========== ======================= ===========================================
helper      LAMBDA parameters       Microsoft's reference
=========== ======================= ===========================================
BYROW/BYCOL 1 (the row or column)   "BYROW function", "BYCOL function"
MAP         one per array argument  "MAP function"
SCAN/REDUCE 2 (accumulator, value)  "SCAN function", "REDUCE function"
MAKEARRAY   2 (row, column)         "MAKEARRAY function"
=========== ======================= ===========================================

IronCalc 0.9.1 has the helpers and LAMBDA but not the eta-reduced form (#NAME?). GROUPBY and
PIVOTBY take their function as a name too; they are the host function's concern
(:mod:`addin.headless.groupby`), and are left as written here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, render, rewrite_calls, significant
from addin.headless.letnames import LetNames, is_book_name

_ETA = re.compile(r"_xleta\.", re.I)
_NAME = re.compile(r"_xleta\.([A-Za-z][A-Za-z0-9._]*)", re.I)

#: The helpers and how many parameters their LAMBDA takes, from the call's argument count.
HELPERS: dict[str, Callable[[int], int]] = {
    "BYROW": lambda n: 1,
    "BYCOL": lambda n: 1,
    "MAP": lambda n: n - 1,
    "SCAN": lambda n: 2,
    "REDUCE": lambda n: 2,
    "MAKEARRAY": lambda n: 2,
}


def needs_eta(text: str) -> bool:
    """Cheap test before tokenising: the formula holds an eta-reduced function."""
    return _ETA.search(text) is not None


def eta_expanded(text: str) -> str:
    """The formula with each eta-reduced function a LAMBDA helper is given written out as a
    LAMBDA of the helper's parameters (module docstring); anything else as written."""
    nodes = parse(text)
    fresh = LetNames(text)

    def expand(node: Call) -> str | None:
        arity = HELPERS.get(node.key)
        if arity is None or not node.args:
            return None
        changed = False
        for k, arg in enumerate(node.args):
            sig = significant(arg)
            if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].type != Token.OPERAND:
                continue
            m = _NAME.fullmatch(str(sig[0].value))
            if m is None:
                continue
            n = arity(len(node.args))
            if n < 1:
                continue
            params = [fresh("eta") for _ in range(n)]
            lam = f"LAMBDA({','.join(params)},{m.group(1)}({','.join(params)}))"
            node.args[k] = [Token(lam, Token.OPERAND, Token.RANGE)]
            changed = True
        return render([node]) if changed else None

    if rewrite_calls(nodes, expand) == 0:
        return text
    return formula(nodes)


#: A LAMBDA or LET parameter as the file stores it (``_xlpm.x``), and a string literal.
_PARAMETER = re.compile(r"_xlpm\.([A-Za-z_\\][\w.]*)", re.I)
_STRING = re.compile(r'("(?:[^"]|"")*")')


def has_parameters(text: str) -> bool:
    """Whether the formula names a LAMBDA or LET parameter as the file stores it (the package
    scan then keeps the file's text for :func:`keeps_file_text`, which needs the book's names)."""
    return "_xlpm." in text.lower()


def keeps_file_text(text: str) -> bool:
    """Whether a formula (as the file has it) must reach the formula engine with its parameters
    renamed (:func:`own_parameters`): a LAMBDA or LET parameter is spelled like a defined name
    of the book. IronCalc 0.9.1 cannot parse such a formula (#NAME?: formulas' test book defines
    ``a`` and ``b``, and ``SCAN(H18,{1;3},LAMBDA(a,b,a+b^2))`` on its LOGICAL sheet was
    "cannot parse"), where in Excel the parameter shadows the name inside the LAMBDA
    (Microsoft, "LAMBDA function": a parameter is "any valid name"; "LET function" likewise)."""
    return has_parameters(text) and any(is_book_name(m.group(1)) for m in _PARAMETER.finditer(text))


def own_parameters(text: str) -> str:
    """The formula with every LAMBDA/LET parameter spelled like a defined name of the book
    renamed to a fresh name (:class:`~addin.headless.letnames.LetNames`), in every place the
    formula spells it; a parameter is local to its LAMBDA, so the renaming keeps the value."""
    fresh = LetNames(text)
    renamed: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        name = m.group(1)
        if not is_book_name(name):
            return m.group(0)
        return renamed.setdefault(name.upper(), fresh("p"))

    parts = _STRING.split(text)
    return "".join(p if k % 2 else _PARAMETER.sub(rename, p) for k, p in enumerate(parts))
