"""Host calls that read a LET name or a LAMBDA parameter: the name replaced by what it stands for.

A host function's call (:mod:`addin.headless.host`) is cut out of its formula into a scratch
cell of its own (``Engine._hoist``), where a name the formula binds with LET or LAMBDA means
nothing: ``=LET(x,2,MATCH(x,A1:A3))`` was #NAME? (Excel: 2). Excel's meaning of those names is
in Microsoft's reference: LET "assigns names to calculation results" (the name stands for its
value wherever the calculation reads it), and the LAMBDA helpers call their LAMBDA once per
element with that element as the parameter ("MAP function": "a new array formed by mapping each
value in the array(s) to a new value by applying a LAMBDA"; BYROW, BYCOL, SCAN, REDUCE and
MAKEARRAY alike). So, before the calls are cut out, every host call whose arguments read such a
name is given the name's meaning in its own text, by one rule:

* a **LET name** is replaced by its value's text (the value's own LET names first): the call
  then reads what the name stands for (``MATCH(x,A1:A3)`` with ``x`` bound to 2 is
  ``MATCH(2,A1:A3)``);
* a **parameter of a LAMBDA helper** (MAP, BYROW, BYCOL, SCAN and REDUCE's value, MAKEARRAY's
  row and column) over an array whose size the text shows (a reference or an array constant;
  MAKEARRAY's literal counts) is replaced by each element in turn (``INDEX(array, i, j)``, a
  row or column for BYROW/BYCOL, the numbers for MAKEARRAY): the call becomes one call per
  element, ``CHOOSE(k, call₁, …, callₙ)``, and the helper iterates over the positions ``k``
  instead (``MAP(SEQUENCE(rows, cols), LAMBDA(k, LET(x, INDEX(array, …), …)))``), so each
  element's LAMBDA reads its own call's result. The calls are ordinary host calls then, cut out
  and evaluated as any.

What this cannot give a value is refused with a reason in the cell (``#CALC!``, never a
plausible number): a host call reading SCAN's or REDUCE's accumulator (known only as the
iteration runs), a parameter of a LAMBDA called directly or through a name, the parameters of
two nested helpers at once, a helper over an array whose size the text does not show, more
than :data:`MOST_ELEMENTS` elements, a LET name whose value is volatile (RAND: one draw in
Excel, one a call here) or a LAMBDA.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_letters, column_number
from addin.headless.extent import CellRefused
from addin.headless.formula import Call, constant_shape, formula, parse, render, significant, split_ref
from addin.headless.letnames import LetNames

#: The most elements a helper is expanded over: one host call each, chosen by CHOOSE, which
#: takes at most 254 values (Microsoft, "CHOOSE function").
MOST_ELEMENTS = 254
#: The error of a cell whose host call reads a name it cannot be given (module docstring).
REFUSED = "#CALC!"
#: Excel's limits on a formula's text (Microsoft, "Excel specifications and limits": "Length of
#: formula contents: 8,192 characters", "Number of nested levels of functions: 64"). A name's
#: value written into a call is text this module makes: a LET chain where each name reads the
#: one before twice (``q_1,q_0+q_0,…``) doubles it at each step (2^n: the audit's n=20 took
#: 110 s and 860 MB, then crashed IronCalc). Text past these limits is never made: the name is
#: refused with the reason instead, so the growth stops at the first name over them.
MOST_CHARACTERS = 8192
MOST_NESTING = 64
_HELPERS = frozenset(("MAP", "BYROW", "BYCOL", "SCAN", "REDUCE", "MAKEARRAY"))
_BINDERS = re.compile(r"\b(?:_xlfn\.)?(?:LET|LAMBDA)\s*\(", re.I)
_VOLATILE = re.compile(r"\b(?:_xlfn\.)?(?:RAND|RANDBETWEEN|RANDARRAY)\s*\(", re.I)
#: ``ROWS(x)`` / ``COLUMNS(x)`` of an argument holding no call or parenthesis (a reference or constant).
_SIZE_CALL = re.compile(r"\b(ROWS|COLUMNS)\s*\(([^()]*)\)", re.I)
#: What a count of MAKEARRAY known from its text is, once its sizes are numbers.
_COUNT_EXPRESSION = re.compile(r"[\d.+\-*() ]+")
_CORNER = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")
#: (row1, col1, row2, col2) of a reference's text, None when it is not one.
SpanReader = Callable[[str], "tuple[int, int, int, int] | None"]


def needs_bound_names(text: str) -> bool:
    """Cheap test before tokenising: the formula binds a name (LET or LAMBDA)."""
    return _BINDERS.search(text) is not None


def _bare(name: str) -> str:
    """A name as compared: without the file's ``_xlpm.`` prefix or an ``@``, upper-case."""
    up = name.lstrip("@").upper()
    return up[6:] if up.startswith("_XLPM.") else up


@dataclass
class _Scope:
    """One LAMBDA helper's iteration: its elements' positions and what each parameter is at each."""

    index: str  # the name the rewritten helper binds to the position k (1-based)
    positions: list[tuple[int, int]]  # (i, j), 1-based, in the helper's order
    elements: dict[str, Callable[[int, int], str]]  # parameter -> its text at (i, j)
    used: bool = False


@dataclass(frozen=True)
class _Binding:
    value: str | None = None  # a LET name: its value's text
    scope: _Scope | None = None  # a helper's parameter
    why: str | None = None  # a name no text can stand for, and why


@dataclass
class _Rewrite:
    is_host: Container[str]
    takes: Callable[[str, list[str]], bool]
    span: SpanReader
    fresh: LetNames


def bound_names(text: str, hosts: Container[str], takes: Callable[[str, list[str]], bool], span: SpanReader) -> str:
    """``text`` with every host call (a function of ``hosts``) that reads a LET name or a
    LAMBDA helper's parameter given the name's meaning (module docstring); raises
    :class:`~addin.headless.extent.CellRefused` for a name it cannot give in a call its host
    function takes (``takes(key, argument texts)``: a call it declines stays with the formula
    engine, which reads the names itself)."""
    if not needs_bound_names(text):
        return text
    nodes = parse(text)
    rw = _Rewrite(hosts, takes, span, LetNames(text))
    if not _walk(nodes, {}, rw):
        return text
    return formula(nodes)


def _walk(seq: list[Any], env: dict[str, _Binding], rw: _Rewrite) -> bool:
    """Rewrite the calls in ``seq`` under the bindings ``env``; whether anything changed."""
    changed = False
    for idx, node in enumerate(seq):
        if not isinstance(node, Call):
            continue
        key = node.key
        given = _host_call(node, env, rw) if key in rw.is_host and env and _reads(node.args, env) else None
        if given is not None:
            seq[idx] = Token(given, Token.OPERAND, Token.RANGE)
            changed = True
        elif key == "LET" and len(node.args) >= 3:
            changed |= _let(node, env, rw)
        elif key == "LAMBDA" and node.args:
            why = "a parameter of a LAMBDA called directly or through a name"
            inner = dict(env)
            for a in node.args[:-1]:
                inner[_bare(render(a).strip())] = _Binding(why=why)
            changed |= _walk(node.args[-1], inner, rw)
        elif key in _HELPERS and _lambda_of(node) is not None:
            changed |= _helper(seq, idx, node, env, rw)
        else:
            for a in node.args:
                changed |= _walk(a, env, rw)
    return changed


def _let(node: Call, env: dict[str, _Binding], rw: _Rewrite) -> bool:
    changed = False
    inner = dict(env)
    args = node.args
    for k in range(0, len(args) - 1, 2):
        name = _bare(render(args[k]).strip())
        value = args[k + 1]
        text = render(value).strip()
        if _VOLATILE.search(text):
            binding = _Binding(why=f"the LET name {name}, whose value is volatile (drawn once in Excel)")
        elif _lambda(value) is not None:
            binding = _Binding(why=f"the LET name {name}, which holds a LAMBDA")
        else:
            written = _substituted(text, inner)
            over = _over_limits(written)
            binding = _Binding(why=f"the LET name {name}, whose value {over}") if over else _Binding(value=written)
        changed |= _walk(value, inner, rw)
        inner[name] = binding
    changed |= _walk(args[-1], inner, rw)
    return changed


def _lambda(seq: list[Any]) -> Call | None:
    sig = significant(seq)
    return sig[0] if len(sig) == 1 and isinstance(sig[0], Call) and sig[0].key == "LAMBDA" else None


def _lambda_of(node: Call) -> Call | None:
    return _lambda(node.args[-1]) if node.args else None


def _params(lam: Call) -> list[str]:
    return [_bare(render(a).strip()) for a in lam.args[:-1]]


def _helper(seq: list[Any], idx: int, node: Call, env: dict[str, _Binding], rw: _Rewrite) -> bool:
    """A LAMBDA helper: its LAMBDA's parameters bound to its elements (module docstring)."""
    lam = _lambda_of(node)
    assert lam is not None
    changed = False
    for a in node.args[:-1]:
        changed |= _walk(a, env, rw)
    params = _params(lam)
    arrays = [render(a).strip() for a in node.args[:-1]]
    scope, why = _scope(node.key, arrays, params, env, rw)
    inner = dict(env)
    for p in params:
        inner[p] = _Binding(why=why) if scope is None or p not in scope.elements else _Binding(scope=scope)
    if node.key in ("SCAN", "REDUCE") and params:
        inner[params[0]] = _Binding(why=f"the accumulator of {node.key}, known only as the iteration runs")
    changed |= _walk(lam.args[-1], inner, rw)
    if scope is None or not scope.used:
        return changed
    seq[idx] = Token(_iterated(node, lam, arrays, scope), Token.OPERAND, Token.RANGE)
    return True


def _scope(key: str, arrays: list[str], params: list[str], env: dict[str, _Binding], rw: _Rewrite) -> tuple[_Scope | None, str]:
    """The helper's elements, or None and why they cannot be listed from the text."""
    if key == "MAKEARRAY":
        counts = [_count(_substituted(a, env), rw.span) for a in arrays[:2]]
        if len(counts) != 2 or len(params) != 2 or None in counts:
            return None, "a parameter of MAKEARRAY, whose row and column counts are not known from the formula's text"
        h, w = (c for c in counts if c is not None)
        shapes = [(h, w)]
    else:
        data = {"MAP": arrays, "BYROW": arrays[:1], "BYCOL": arrays[:1]}.get(key, arrays[1:2])
        resolved = [_substituted(a, env) for a in data]
        got = [_shape(a, rw.span) for a in resolved]
        if not got or any(s is None for s in got):
            return None, f"a parameter of {key}, whose array's size is known only once computed"
        shapes = [s for s in got if s is not None]
        if len(set(shapes)) != 1:
            return None, f"a parameter of {key}, whose arrays differ in size"
    h, w = shapes[0]
    if key == "BYROW":
        w = 1
    elif key == "BYCOL":
        h = 1
    if h * w > MOST_ELEMENTS:
        return None, f"a parameter of {key} over {h * w} elements, more than the {MOST_ELEMENTS} a host call is expanded over"
    positions = [(i, j) for i in range(1, h + 1) for j in range(1, w + 1)]
    elements: dict[str, Callable[[int, int], str]] = {}
    if key == "MAKEARRAY":
        elements[params[0]] = lambda i, j: str(i)
        elements[params[1]] = lambda i, j: str(j)
    elif key == "MAP":
        for p, a in zip(params, resolved, strict=False):
            elements[p] = _element(a, w)
    elif key in ("BYROW", "BYCOL") and params:
        elements[params[0]] = _element(resolved[0], shapes[0][1], rows=key == "BYROW", cols=key == "BYCOL")
    elif len(params) == 2:  # SCAN, REDUCE: the value (the accumulator is not an element)
        elements[params[1]] = _element(resolved[0], w)
    return _Scope(rw.fresh("k"), positions, elements), ""


def _count(text: str, span: SpanReader) -> int | None:
    """A MAKEARRAY count known from its text: a whole number written, or ``ROWS``/``COLUMNS`` of
    a reference or array constant (its size, Microsoft, "ROWS function"), alone or in ``+``,
    ``-`` and ``*`` of such counts (``ROWS(A1:A5)*2``), truncated as MAKEARRAY truncates its
    counts; None for anything known only once computed."""

    def size(m: re.Match[str]) -> str:
        shape = _shape(m.group(2), span)
        return "x" if shape is None else str(shape[0] if m.group(1).upper() == "ROWS" else shape[1])

    t = _SIZE_CALL.sub(size, text.strip())
    if not _COUNT_EXPRESSION.fullmatch(t):
        return None
    try:
        value = _arithmetic(ast.parse(t, mode="eval").body)
    except (SyntaxError, ValueError):
        return None
    return int(value) if value >= 1 else None


def _arithmetic(node: ast.expr) -> float:
    """The value of a parsed expression of numbers, ``+``, ``-``, ``*`` and parentheses."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _arithmetic(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        a, b = _arithmetic(node.left), _arithmetic(node.right)
        return a + b if isinstance(node.op, ast.Add) else a - b if isinstance(node.op, ast.Sub) else a * b
    raise ValueError("not a count")


def _shape(text: str, span: SpanReader) -> tuple[int, int] | None:
    t = text.strip()
    if t.startswith("{") and t.endswith("}"):
        return constant_shape(t)
    got = span(t)
    return None if got is None else (got[2] - got[0] + 1, got[3] - got[1] + 1)


def _element(array: str, width: int, rows: bool = False, cols: bool = False) -> Callable[[int, int], str]:
    """The text of the element at (i, j) of ``array`` (a row for ``rows``, a column for
    ``cols``): of an A1 reference, the cell (or row, column) itself, as the reference Excel's
    helper passes (``BYROW(A1:C2, LAMBDA(r, COUNTIF(r, ">0")))`` counts cells), its ``$``
    marks kept so a formula filled down moves it as it moves the range; of anything else,
    ``INDEX`` of it."""
    ref = split_ref(array.strip())
    corner = _CORNER.match(ref[1]) if ref is not None else None
    if ref is None or corner is None:
        return lambda i, j: f"INDEX({array},{0 if cols else i},{0 if rows else j})"
    sheet = array.strip()[: len(array.strip()) - len(ref[1])]
    cd, letters, rd, row = corner.groups()
    c1, r1 = column_number(letters.upper()), int(row)
    last = c1 + width - 1

    def at(i: int, j: int) -> str:
        top = f"{rd}{r1 + i - 1}" if not cols else f"{rd}{r1}"
        if rows:  # row i, every column
            return f"{sheet}{cd}{column_letters(c1)}{top}:{cd}{column_letters(last)}{rd}{r1 + i - 1}"
        letter = f"{cd}{column_letters(c1 + j - 1)}"
        if cols:  # column j, every row: the array's own last row
            end = _CORNER.match(ref[1].split(":")[-1])
            return f"{sheet}{letter}{top}:{letter}{end.group(3) + end.group(4) if end else top}"
        return f"{sheet}{letter}{top}"

    return at


def _iterated(node: Call, lam: Call, arrays: list[str], scope: _Scope) -> str:
    """The helper iterating over its positions ``k``, each parameter bound to its element by LET."""
    k = scope.index
    body = render(lam.args[-1])
    names = [render(a).strip() for a in lam.args[:-1]]
    h = max(i for i, _ in scope.positions)
    w = max(j for _, j in scope.positions)
    i_of, j_of = f"INT(({k}-1)/{w})+1", f"MOD({k}-1,{w})+1"
    if node.key == "MAKEARRAY":
        return f"{node.name}({arrays[0]},{arrays[1]},LAMBDA({names[0]},{names[1]},LET({k},({names[0]}-1)*{w}+{names[1]},{body})))"
    if node.key == "MAP":
        lets = ",".join(f"{n},INDEX({a},{i_of},{j_of})" for n, a in zip(names, arrays, strict=False))
        return f"MAP(SEQUENCE({h},{w}),LAMBDA({k},LET({lets},{body})))"
    if node.key == "BYROW":
        return f"MAP(SEQUENCE({h},1),LAMBDA({k},LET({names[0]},INDEX({arrays[0]},{k},0),{body})))"
    if node.key == "BYCOL":
        return f"MAP(SEQUENCE(1,{w}),LAMBDA({k},LET({names[0]},INDEX({arrays[0]},0,{k}),{body})))"
    # SCAN, REDUCE: the accumulator stays the LAMBDA's; the value is the element at k
    return (
        f"{node.name}({arrays[0]},SEQUENCE({h},{w}),LAMBDA({names[0]},{k},"
        f"LET({names[1]},INDEX({arrays[1]},{i_of},{j_of}),{body})))"
    )


def _host_call(node: Call, env: dict[str, _Binding], rw: _Rewrite) -> str | None:
    """A host call reading bound names, as calls that read none (module docstring); None for a
    call left to the formula engine as written."""
    text = _substituted(render([node]), env)
    nodes = parse("=" + text)
    left = _read(nodes, env, set())
    for name in left:
        why = env[name].why
        if why is None:
            continue
        call = significant(nodes)[0]
        if not rw.takes(node.key, [render(a).strip() for a in call.args]):
            return None  # the formula engine's call, names and all
        raise CellRefused(REFUSED, f"a host function's call ({node.key}) reads {why}")
    scopes = {id(env[n].scope): env[n].scope for n in left}
    if not scopes:
        return _bounded(node.key, _own(text, rw))
    if len(scopes) > 1:
        raise CellRefused(REFUSED, f"a host function's call ({node.key}) reads the parameters of two nested LAMBDA helpers")
    (scope,) = scopes.values()
    assert scope is not None
    scope.used = True
    calls = []
    for i, j in scope.positions:
        at = {n: _Binding(value=scope.elements[n](i, j)) for n in left}
        calls.append(_own(_substituted(text, at), rw))
        if sum(map(len, calls)) > MOST_CHARACTERS:  # refused before the rest is made
            _bounded(node.key, "x" * (MOST_CHARACTERS + 1))
    return _bounded(node.key, f"CHOOSE({scope.index},{','.join(calls)})")


def _over_limits(text: str) -> str | None:
    """Why ``text`` could not be a formula's in Excel (:data:`MOST_CHARACTERS`,
    :data:`MOST_NESTING`), None when it could."""
    if len(text) > MOST_CHARACTERS:
        return f"written out is {len(text):,} characters, more than Excel's {MOST_CHARACTERS:,} in a formula"
    depth = most = 0
    for ch in re.sub(r'"(?:[^"]|"")*"', "", text):  # parentheses inside strings do not nest
        depth += ch == "("
        depth -= ch == ")"
        most = max(most, depth)
    if most > MOST_NESTING:
        return f"written out nests {most} levels, more than Excel's {MOST_NESTING}"
    return None


def _bounded(key: str, text: str) -> str:
    """``text`` (a call this module writes) when within Excel's limits, else
    :class:`CellRefused` with the reason."""
    over = _over_limits(text)
    if over:
        raise CellRefused(REFUSED, f"a host function's call ({key}) reading LET names or LAMBDA parameters {over}")
    return text


def _own(text: str, rw: _Rewrite) -> str:
    """A call free of outer names, its own LETs and LAMBDAs rewritten too."""
    nodes = parse("=" + text)
    _walk(nodes, {}, rw)
    return render(nodes)


def _reads(args: list[list[Any]], env: dict[str, _Binding]) -> bool:
    return any(_read(a, env, set()) for a in args)


def _read(seq: list[Any], env: dict[str, _Binding], shadow: set[str]) -> set[str]:
    """The names of ``env`` that ``seq`` reads, outside LETs and LAMBDAs of its own that rebind them."""
    found: set[str] = set()
    for node in seq:
        if isinstance(node, Call):
            key = _bare(node.name)
            if key in env and key not in shadow:
                found.add(key)  # a call of a LAMBDA bound to a name
            inner = set(shadow)
            if node.key in ("LET", "LAMBDA"):
                declared = range(0, len(node.args) - 1, 2) if node.key == "LET" else range(len(node.args) - 1)
                for k in range(len(node.args)):
                    if k in declared:
                        inner.add(_bare(render(node.args[k]).strip()))
                    else:
                        found |= _read(node.args[k], env, inner)
            else:
                for a in node.args:
                    found |= _read(a, env, shadow)
        elif isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE:
            name = _bare(node.value)
            if name in env and name not in shadow:
                found.add(name)
    return found


def _substituted(text: str, env: dict[str, _Binding]) -> str:
    """``text`` with each LET name of ``env`` it reads replaced by its value (parenthesised
    unless one operand), outside LETs and LAMBDAs of its own that rebind the name."""
    values = {n: b.value for n, b in env.items() if b.value is not None}
    if not values:
        return text
    nodes = parse("=" + text)
    _replace(nodes, values, set())
    return render(nodes)


def _replace(seq: list[Any], values: dict[str, str], shadow: set[str]) -> None:
    for node in seq:
        if isinstance(node, Call):
            inner = set(shadow)
            if node.key in ("LET", "LAMBDA"):
                declared = range(0, len(node.args) - 1, 2) if node.key == "LET" else range(len(node.args) - 1)
                for k in range(len(node.args)):
                    if k in declared:
                        inner.add(_bare(render(node.args[k]).strip()))
                    else:
                        _replace(node.args[k], values, inner)
            else:
                for a in node.args:
                    _replace(a, values, shadow)
        elif isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE:
            name = _bare(node.value)
            if name in values and name not in shadow:
                node.value = _operand(values[name])


def _operand(value: str) -> str:
    """A value's text where a name stood: itself when one operand, else in parentheses."""
    sig = significant(parse("=" + value))
    if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].type == Token.OPERAND:
        return value
    if value.startswith("{") and constant_shape(value) is not None:
        return value
    return f"({value})"
