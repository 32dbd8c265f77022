"""What the formula engine survives: the one home of every formula the engine hands to IronCalc.

The file's own formulas are bounded by Excel's limits when the book is scanned
(:func:`addin.headless.package.over_limits`: 8,192 characters, 64 nested functions, 255
parentheses). The engine then rewrites formulas (names written out, LET and LAMBDA names
substituted, host calls cut out, lifting, ...) and a rewrite may legitimately exceed Excel's
8,192 characters. What it must not exceed is what IronCalc 0.9.1 survives: its parser and
evaluator recurse on the formula's tree, and a deep tree overflows the thread's stack, which ends
the whole process with SIGSEGV (in-process, ``budget=None``, there is no child to report it).

Measured on IronCalc 0.9.1 (``update_cell_with_formula`` then ``evaluate`` on an 8 MiB stack, the
main thread's ``ulimit -s`` and a Python thread's alike; each the largest that survived, binary
search in a subprocess): a chain of ``^`` survived 5,320 operators, ``&`` 5,921, ``=``/``<``/``<>``
6,100, ``%`` 11,321, unary ``-`` 11,125, ``+``/``-``/``*``/``/`` 18,491; nested function calls
2,156 levels, ``IF(TRUE,`` 2,140, bare parentheses 2,437; a chain inside nested calls dies where
the two stack costs add up (103 calls around 6,000 ``&``). Length alone does not crash it: a
``SUM`` of 1,000,000 arguments (2,000,005 characters) took 120 MB. Hence the estimate of
:func:`stack_need`, in bytes of that 8 MiB stack (8 MiB over the count that crashed, rounded up),
and the bound of half the stack (:data:`STACK_BYTES`): a margin of two over every shape measured.
A formula over a bound is refused in its cell (:class:`BeyondEngine`, a
:class:`~addin.headless.extent.CellRefused`), never given to IronCalc.
"""

from __future__ import annotations

import re
from typing import Any

from addin.headless.extent import CellRefused

#: Characters of one formula the engine writes: beyond, the text is an explosion (names written
#: out inside names), and the formula engine's tokens of it take memory in proportion (a 2 MB
#: formula: ~100 MB; 4 MB stays well inside the default 2,048 MiB of a book's child). Length
#: alone never crashed IronCalc; depth does (:data:`STACK_BYTES`). The number-to-text rewrite
#: grows each ``&`` operand ~720 characters, so a 1,647-character chain of 350 cells is a
#: 252,403-character rewrite: a bound near Excel's 8,192 would refuse legitimate formulas.
WRITTEN_CHARS = 4_000_000
#: Estimated stack bytes the formula engine may use on one formula: half the 8 MiB it was measured on.
STACK_BYTES = 4 * 2**20
#: The error a formula beyond the bounds gives in its cell: the engine's code for a formula it
#: cannot compute as it rewrote it (as ``bound_names`` for a host call written out past Excel's limits).
REFUSED = "#CALC!"

#: Stack bytes one level of parentheses, a function call or an array constant costs (2,156 nested calls crashed).
_LEVEL = 4_000
#: Stack bytes one operator costs in a chain: ``^ & = < >`` (5,320 ``^`` crashed), ``+ -``
#: (unary ``-``: 11,125, counted so for the binary too), ``%`` (11,321), ``* / :`` (18,491).
_COST = {"^": 1_600, "&": 1_600, "=": 1_600, "<": 1_600, ">": 1_600, "+": 760, "-": 760, "%": 760, "*": 460, "/": 460, ":": 460}
#: Text that holds no operator of the formula: strings, quoted sheet names, structured references.
_INERT = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\[(?:[^\[\]]|\[[^\]]*\])*\]')
_TOKEN = re.compile(r"[(){},;^&=<>+\-%*/:]")
#: Below this many characters no formula can need :data:`STACK_BYTES` (each character costs at
#: most :data:`_LEVEL`): the common formula is never scanned.
_SHORT = STACK_BYTES // _LEVEL


def stack_need(text: str) -> int:
    """Estimated stack bytes the formula engine needs for ``text``: along the deepest path of its
    tree, each enclosing level of parentheses and every operator of each enclosing argument.

    Notes
    -----
    An argument's operators all count, whatever their precedence and wherever the nested part
    stands in the chain (``(...)&1&1`` and ``1&1&(...)`` alike): an over-estimate, never under.
    """
    bare = _INERT.sub("0", text[1:] if text.startswith("=") else text)  # the sign that starts a formula is no operator
    # per open level: [deepest finished argument, this argument's operators, its deepest nested part]
    frames: list[list[int]] = [[0, 0, 0]]
    for m in _TOKEN.finditer(bare):
        ch = m.group()
        top = frames[-1]
        if ch in "({":
            frames.append([0, 0, 0])
        elif ch in ")}":
            if len(frames) > 1:
                _close(frames)
        elif ch in ",;":
            top[0] = max(top[0], top[1] + top[2])
            top[1] = top[2] = 0
        else:
            top[1] += _COST[ch]
    while len(frames) > 1:  # unbalanced text: count what is open
        _close(frames)
    root = frames[0]
    return max(root[0], root[1] + root[2])


def _close(frames: list[list[int]]) -> None:
    done = frames.pop()
    parent = frames[-1]
    parent[2] = max(parent[2], _LEVEL + max(done[0], done[1] + done[2]))


def beyond_engine(text: str) -> str | None:
    """Why the formula engine must not be given ``text``, None when it may."""
    if len(text) > WRITTEN_CHARS:
        return f"the engine's rewrite of this formula is {len(text):,} characters, more than the formula engine takes ({WRITTEN_CHARS:,}, engine_bounds.WRITTEN_CHARS)"
    if len(text) > _SHORT:
        need = stack_need(text)
        if need > STACK_BYTES:
            return (
                f"the engine's rewrite of this formula nests too deep for the formula engine (~{need / 2**20:.1f} MiB of "
                f"stack; the bound is {STACK_BYTES / 2**20:.0f} MiB, engine_bounds.STACK_BYTES)"
            )
    return None


class BeyondEngine(CellRefused):
    """A formula the engine wrote that the formula engine would not survive: its cell is :data:`REFUSED`."""

    def __init__(self, reason: str) -> None:
        super().__init__(REFUSED, reason)


def _checked(text: str) -> str:
    why = beyond_engine(text)
    if why is not None:
        raise BeyondEngine(why)
    return text


class BoundedModel:
    """An IronCalc model whose every formula entry point checks :func:`beyond_engine` first
    (:class:`BeyondEngine` when over); everything else is the model's own.

    The engine holds its model only through this class (``engine._load_once``), so no formula
    reaches IronCalc unchecked, whichever rewrite wrote it.
    """

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def update_cell_with_formula(self, sheet: int, row: int, col: int, formula: str) -> Any:
        return self._model.update_cell_with_formula(sheet, row, col, _checked(formula))

    def set_user_array_formula(self, sheet: int, row: int, col: int, width: int, height: int, formula: str) -> Any:
        return self._model.set_user_array_formula(sheet, row, col, width, height, _checked(formula))

    def set_user_input(self, sheet: int, row: int, col: int, value: str) -> Any:
        if value.startswith("="):
            _checked(value)
        return self._model.set_user_input(sheet, row, col, value)
