"""A host function's one-value parameter given a range or an array: Excel's two readings.

A host function (:mod:`addin.headless.host`) declares which of its parameters take one value
(:attr:`~addin.headless.host.HostFunction.scalars`: DATEDIF's dates, TEXTBEFORE's text,
T.TEST's tails and type...). Given a multi-cell range there, Excel reads it one of two ways,
and so does the engine, for every host function alike:

* **implicit intersection**, in a plain (legacy, non-array) formula outside an argument Excel
  evaluates as an array: the range is the one cell in the formula's own row (a one-column
  range) or column (a one-row range); ``#VALUE!`` when the formula's row or column is outside
  it, or the range is 2-D (Microsoft, "Implicit intersection operator: @"; the engine's own
  functions get the same rule from :func:`addin.headless.formula.intersect`). The range text is
  replaced by that cell's address, or by ``#VALUE!`` (:func:`intersect_host_arguments`);
* **element by element** (lifted), in an array formula or under an argument Excel evaluates as
  an array (``SUMPRODUCT``, :data:`~addin.headless.formula.LIFTING`): the host function
  evaluates each element (its own :func:`~addin.headless.host.elementwise`), and the result is
  the whole array of the arguments' broadcast shape (:func:`lifted_shape`, the largest row and
  column counts), which the engine writes into a scratch block of that shape so the function
  outside sees every element. The engine makes one call of each element
  (:func:`spread`) and puts their results together (:func:`gather`), so every host function
  is lifted alike, whatever its own ``evaluate`` does with an array. Where an argument at a
  one-value parameter is an expression (``NPV(A1:A3/10,...)``, ``IFS(A1:A3>1,...)``), the
  shape is known only once it is evaluated (:func:`shape_pending`): the block is sized then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, constant_shape, formula, lifts, parse, render, significant
from addin.headless.host import HostFunction, element_at

#: (row1, col1, row2, col2), 1-based, of a reference's text; None when it is not a reference.
RefReader = Callable[[str], "tuple[int, int, int, int] | None"]


def takes_one_value(fn: HostFunction, k: int) -> bool:
    """Whether parameter ``k`` (0-based) of ``fn`` takes one value."""
    return fn.scalars is None or k in fn.scalars


def intersection(r1: int, c1: int, r2: int, c2: int, row: int, col: int) -> tuple[int, int] | None:
    """Excel's implicit intersection of the range rows ``r1..r2`` × columns ``c1..c2`` with a
    formula at (``row``, ``col``): the one cell of the range in the formula's row (a one-column
    range) or column (a one-row range); a one-cell range is itself; None (``#VALUE!``) when the
    formula's row or column is outside the range, or the range is 2-D."""
    if r1 == r2 and c1 == c2:
        return r1, c1
    if c1 == c2:
        return (row, c1) if r1 <= row <= r2 else None
    if r1 == r2:
        return (r1, col) if c1 <= col <= c2 else None
    return None


def _address(text: str, r: int, c: int) -> str:
    """The cell (r, c) on the sheet ``text`` names (its ``Sheet!`` prefix kept), absolute."""
    letters = ""
    n = c
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    sheet = text.rsplit("!", 1)[0] + "!" if "!" in text else ""
    return f"{sheet}${letters}${r}"


def needs_host_intersection(text: str, functions: Mapping[str, HostFunction]) -> bool:
    """Cheap test: a ``:`` in the formula (a range) and a host function declaring one-value parameters."""
    return ":" in text and any(fn.scalars != frozenset() for fn in functions.values())


def intersect_host_arguments(text: str, row: int, col: int, functions: Mapping[str, HostFunction], ref: RefReader) -> str:
    """A plain formula at (``row``, ``col``) with each multi-cell range given alone to a host
    function's one-value parameter, outside arguments Excel evaluates as arrays, replaced by its
    implicit intersection (:func:`intersection`): the cell's address, or ``#VALUE!``."""
    nodes = parse(text)
    changed = False

    def walk(seq: list[Any], outer: str, lifted: bool) -> None:
        nonlocal changed
        for node in seq:
            if not isinstance(node, Call):
                continue
            key = node.key
            inner = lifts(outer, key, lifted)
            fn = functions.get(key)
            for k, arg in enumerate(node.args):
                walk(arg, key, inner)
                if fn is None or inner or not takes_one_value(fn, k):
                    continue
                sig = significant(arg)
                if len(sig) != 1 or not _is_reference(sig[0]):
                    continue
                span = ref(sig[0].value.lstrip("@"))  # Excel's explicit @ is the same intersection
                if span is None or (span[0] == span[2] and span[1] == span[3]):
                    continue
                cell = intersection(*span, row, col)
                sig[0].value = "#VALUE!" if cell is None else _address(sig[0].value.lstrip("@"), *cell)
                if cell is None:
                    sig[0].type, sig[0].subtype = Token.OPERAND, Token.ERROR
                changed = True

    walk(nodes, "", False)
    return formula(nodes) if changed else text


def _is_reference(node: Any) -> bool:
    return isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE and "[" not in node.value


def array_shape(text: str, ref: RefReader) -> tuple[int, int] | None:
    """The (rows, columns) of an argument known from its text: a reference's size, an array
    constant's; (1, 1) for a literal; None for an expression (its shape is known only when
    evaluated)."""
    t = text.strip()
    if t.startswith("{") and t.endswith("}"):
        return constant_shape(t)
    span = ref(t)
    if span is not None:
        return span[2] - span[0] + 1, span[3] - span[1] + 1
    return None


def lifted_shape(fn: HostFunction, args: list[str], ref: RefReader) -> tuple[int, int] | None:
    """The shape of a host call's result evaluated element by element: the largest row and
    column counts of the arrays at its one-value parameters; None when none is an array of more
    than one element, or one's shape is not known from its text (it is then read as one value)."""
    h = w = 1
    for k, a in enumerate(args):
        if not takes_one_value(fn, k):
            continue
        shape = array_shape(a, ref)
        if shape is None:
            continue
        h, w = max(h, shape[0]), max(w, shape[1])
    return None if (h, w) == (1, 1) else (h, w)


def lifted_calls(text: str, array_formula: bool, functions: Mapping[str, HostFunction]) -> list[tuple[str, tuple[str, ...]]]:
    """The host calls of ``text`` (function key, argument texts) that Excel evaluates element by
    element: every one in an array formula, else those under an argument of
    :data:`~addin.headless.formula.LIFTING` and those given an array constant at a one-value
    parameter (:func:`_constant`)."""
    found: list[tuple[str, tuple[str, ...]]] = []

    def walk(seq: list[Any], outer: str, lifted: bool) -> None:
        for node in seq:
            if not isinstance(node, Call):
                continue
            key = node.key
            inner = lifted if array_formula else lifts(outer, key, lifted)
            for arg in node.args:
                walk(arg, key, inner)
            texts = tuple(render(a).strip() for a in node.args)
            fn = functions.get(key)
            if fn is not None and (inner or any(takes_one_value(fn, k) and _constant(t) for k, t in enumerate(texts))):
                found.append((key, texts))

    walk(parse(text), "", array_formula)
    return found


def _constant(text: str) -> bool:
    """An array constant of more than one element: Excel evaluates a one-value parameter given
    one element by element in any formula, array or not (``=SUM(LEN({"a","bb"}))`` is 3)."""
    shape = constant_shape(text) if text.startswith("{") and text.endswith("}") else None
    return shape is not None and shape != (1, 1)


def element(fn: HostFunction, k: int, text: str, i: int, j: int, ref: RefReader) -> str:
    """Argument ``k`` (its text) at element (``i``, ``j``), 0-based, of a call evaluated element
    by element: an array at a one-value parameter is ``INDEX``-ed under Excel's broadcast (one
    row or column repeats; beyond a smaller array ``#N/A``); anything else is itself."""
    shape = array_shape(text, ref) if takes_one_value(fn, k) else None
    if shape is None or shape == (1, 1):
        return text
    h, w = shape
    if (h > 1 and i >= h) or (w > 1 and j >= w):
        return "NA()"
    return f"INDEX({text},{1 if h == 1 else i + 1},{1 if w == 1 else j + 1})"


def shape_pending(fn: HostFunction, kinds: list[str]) -> bool:
    """Whether a lifted call's result shape is known only once its arguments are evaluated: an
    expression (``kinds``: the engine's argument kinds, :attr:`HostFunction.takes`) at a
    one-value parameter may be an array of any shape."""
    return any(kind == "expression" and takes_one_value(fn, k) for k, kind in enumerate(kinds))


def spread(fn: HostFunction, args: list[Any]) -> tuple[tuple[int, int], list[list[Any]]] | None:
    """A lifted call's argument values as one call an element: the broadcast shape (the largest
    row and column counts of the arrays at one-value parameters) and, row by row, each element's
    arguments (each such array's element under Excel's broadcast, :func:`element_at`; every
    other argument whole). None when no one-value parameter holds an array of several values
    (the call is evaluated as it is)."""
    grids = [
        a for k, a in enumerate(args) if isinstance(a, list) and a and takes_one_value(fn, k) and (len(a) > 1 or len(a[0]) > 1)
    ]
    if not grids:
        return None
    h, w = max(len(g) for g in grids), max(len(g[0]) for g in grids)
    at = [isinstance(a, list) and takes_one_value(fn, k) for k, a in enumerate(args)]
    calls = [[element_at(a, i, j) if at[k] else a for k, a in enumerate(args)] for i in range(h) for j in range(w)]
    return (h, w), calls


def gather(shape: tuple[int, int], results: list[Any]) -> list[list[Any]]:
    """The elements' results (:func:`spread`, row by row) as the array of ``shape``; an element
    whose own result is an array is its first value (Excel's cached values for functions
    returning arrays lifted over a one-value parameter: :data:`addin.headless.lifting.ARRAY_VALUED`)."""
    h, w = shape

    def first(v: Any) -> Any:
        while isinstance(v, list):
            v = v[0][0] if v and isinstance(v[0], list) and v[0] else (v[0] if v else None)
        return v

    return [[first(results[i * w + j]) for j in range(w)] for i in range(h)]
