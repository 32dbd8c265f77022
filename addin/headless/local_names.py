"""LET names and LAMBDA parameters that collide with the book's names or a function's, renamed.

Microsoft, "LET function": the names a LET assigns are the formula's own ("names are local to
the formula"); a LAMBDA's parameters likewise are its own. IronCalc 0.9.1 and the engine's
rewrites read some such names as something else: a LET name or LAMBDA parameter spelled as a
defined name of the book (``=LET(x,1,x+0)`` in a book defining ``x`` was #VALUE!, every
``MAP(…,LAMBDA(x,…))`` there #NAME?), or as a function the formula calls
(``=LET(match,2,MATCH(match,A1:A3))`` took the call ``MATCH(…)`` for a call of the name:
#NAME? with an internal assertion as its reason). Such a name is renamed, where it is bound and
wherever its scope reads it (not inside a nested LET or LAMBDA that binds the same name again,
never inside a string), to a fresh name (:class:`~addin.headless.letnames.LetNames`) that
collides with nothing. Other names are left as written: the cell's reasons keep naming them.
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, render
from addin.headless.letnames import LetNames, is_book_name

_BINDERS = re.compile(r"\b(?:_xlfn\.)?(?:LET|LAMBDA)\s*\(", re.I)


def _bare(name: str) -> str:
    """A name as compared: without the file's ``_xlpm.`` prefix or an ``@``, upper-case."""
    up = name.strip().lstrip("@").upper()
    return up[6:] if up.startswith("_XLPM.") else up


def local_names(text: str) -> str:
    """``text`` with each LET name and LAMBDA parameter that is a defined name of the book or the
    name of a function the formula calls renamed (module docstring)."""
    if _BINDERS.search(text) is None:
        return text
    nodes = parse(text)
    called = _called(nodes)
    fresh = LetNames(text)
    if not _walk(nodes, {}, called, fresh):
        return text
    return formula(nodes)


def _called(seq: list[Any]) -> set[str]:
    out: set[str] = set()
    for node in seq:
        if isinstance(node, Call):
            out.add(node.key)
            for a in node.args:
                out |= _called(a)
    return out


def _walk(seq: list[Any], env: dict[str, tuple[str, bool]], called: set[str], fresh: LetNames) -> bool:
    """Rename in ``seq`` under ``env`` (a bound name -> its new name, and whether calls of the
    name are calls of it); whether anything changed."""
    changed = False
    for node in seq:
        if isinstance(node, Call):
            if node.key in ("LET", "LAMBDA") and len(node.args) >= 2:
                changed |= _binder(node, env, called, fresh)
                continue
            new = env.get(_bare(node.name))
            if new is not None and new[1]:  # a LAMBDA bound to a name, called
                node.name = new[0]
                changed = True
            for a in node.args:
                changed |= _walk(a, env, called, fresh)
        elif isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE:
            new = env.get(_bare(node.value))
            if new is not None:
                node.value = new[0]
                changed = True
    return changed


def _binder(node: Call, env: dict[str, tuple[str, bool]], called: set[str], fresh: LetNames) -> bool:
    """A LET (names at even positions, each in scope from the next argument on) or a LAMBDA
    (every argument but the last a parameter). A call of a name is a call of what the name holds
    when a LET binds a LAMBDA to it (``LET(f, LAMBDA(…), f(2))``) or it is a LAMBDA's parameter
    (a function passed in); else, a LET name, it is the function
    of that name (``LET(sum, 2, SUM(1, 1))`` is 2 + …: SUM is still the function)."""
    changed = False
    inner = dict(env)
    last = len(node.args) - 1
    for k, arg in enumerate(node.args):
        declares = k < last and (node.key == "LAMBDA" or k % 2 == 0)
        if not declares:
            changed |= _walk(arg, inner, called, fresh)
            continue
        name = _bare(render(arg))
        inner.pop(name, None)  # bound again here: the outer renaming ends
        if is_book_name(name) or name in called:
            # a LAMBDA's parameter called is a function passed in (``g(g, n-1)``)
            value = node.args[k + 1] if node.key == "LET" else [Call("LAMBDA")]
            holds_lambda = any(isinstance(n, Call) and n.key == "LAMBDA" for n in value)
            inner[name] = (fresh("n"), holds_lambda)
            arg[:] = [Token(inner[name][0], Token.OPERAND, Token.RANGE)]
            changed = True
    return changed
