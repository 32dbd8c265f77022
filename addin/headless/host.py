"""What a host function is: a function the engine evaluates itself, beside the formula engine.

Its own module, below both the engine (which calls host functions) and the modules that
implement Excel's functions as host functions (:mod:`addin.headless.excel_functions`), so
that imports point one way: engine -> excel_functions -> host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from addin.headless.values import ExcelError


@dataclass(frozen=True)
class HostFunction:
    """A function the engine evaluates itself (IronCalc does not know it).

    ``evaluate`` takes every call of one pass (each a list of argument values: ``None`` for
    a blank or omitted argument, a scalar for one cell or an expression, a 2-D list of rows
    for a multi-cell range, :class:`ExcelError` for errors) and returns one result per call:
    a scalar, an :class:`ExcelError` (with its reason) or a 2-D list.
    """

    name: str
    evaluate: Callable[[list[list[Any]]], list[Any]]
    #: Which calls the function takes, from their arguments as (kind, text) pairs, kind one of
    #: "empty", "cell", "range", "array" (a constant), "literal" or "expression"; None: every
    #: call. A call it does not take stays with the formula engine.
    takes: Callable[[list[tuple[str, str]]], bool] | None = None
    #: The function may answer :data:`ENGINE_ANSWER` for a call; the engine then evaluates
    #: the call as written beside it (one scratch formula a call; scalar calls only).
    fallback: bool = False
    #: Positions (0-based) of the arguments read as date serials in Excel's 1900 system (an
    #: as-of time, an expiry): in a 1904 book the engine moves their numbers by 1,462 days
    #: before the call (:func:`addin.headless.dates1904.in_1904`), so a date cell means the day
    #: it shows.
    dates: frozenset[int] = frozenset()
    #: Positions (0-based) of the parameters that take one value (None: every one): given a
    #: multi-cell range or an array there, Excel intersects it implicitly in a plain formula and
    #: evaluates the function element by element in an array context; the engine does both, for
    #: every host function alike (:mod:`addin.headless.host_arguments`). Empty: none declared.
    scalars: frozenset[int] | None = frozenset()
    #: In an array context the engine evaluates the call once per element of the arrays at the
    #: one-value parameters (:func:`addin.headless.host_arguments.spread`), so ``evaluate`` sees
    #: one value there. True: a multi-cell *range* at a one-value parameter is not lifted but
    #: #VALUE! (an array value still is): the Analysis ToolPak's functions,
    #: :mod:`addin.headless.toolpak_arrays`.
    refuses_ranges: bool = False
    #: The function calls functions through the formula engine (a LAMBDA given to GROUPBY):
    #: ``evaluate`` is then called as ``evaluate(calls, applies)``, one :data:`Apply` a call
    #: (bound to the sheet of the call's formula). Such calls are evaluated in the passes.
    applies: bool = False
    #: The result's shape is known only once computed (GROUPBY): nested in a formula
    #: (``INDEX(GROUPBY(...),2,2)``), the call's array is written to a region of its shape and
    #: the formula pointed at it, not cut to its first value.
    spills: bool = False
    #: A constant typed as an argument (a number, text, TRUE/FALSE, an error; not an array
    #: constant) reaches ``evaluate`` as :class:`Typed`, because Excel reads it by other rules than
    #: the same value in a cell ("COUNT function": "Logical values and text representations of
    #: numbers that you type directly into the list of arguments are counted"), and a one-cell
    #: reference reaches ``evaluate`` as its bare value.
    typed: bool = False


@dataclass(frozen=True, slots=True)
class Typed:
    """A constant typed into a call's arguments (:attr:`HostFunction.typed`)."""

    value: Any


#: A spill reference (``E1#``, saved as ``_xlfn.ANCHORARRAY(E1)``): an array of any size.
_SPILL_REFERENCE = re.compile(r"\bANCHORARRAY\s*\(", re.I)


def may_hold_array(kind: str, text: str) -> bool:
    """Whether an argument (its kind, as :attr:`HostFunction.takes` sees it, and text) may hold
    several values: a multi-cell range, an array constant, or an expression over a range, an
    array constant or a spill reference (``A1:A3*2``, ``E1#>1``), or a range of one cell written
    as a range (``A2:A2``: an array of one element to Excel; IronCalc 0.9.1's exact lookups give it
    #N/A, so the host takes it). A bare name, a cell or a call of cells is one value as written (a
    LET variable the engine's own rewrites bind, say)."""
    if kind in ("range", "array") or (kind == "cell" and ":" in text):
        return True
    return kind == "expression" and (":" in text or "{" in text or _SPILL_REFERENCE.search(text) is not None)


#: Calls of functions the formula engine evaluates for a host function, in one batch: each item
#: is (function text, argument columns): the text (a LAMBDA, a function's name) called with
#: each column of values as a range (blanks kept), its sheet-less references read on the sheet
#: of the host call's formula; one value an item (an array result is #CALC!).
Apply = Callable[[list[tuple[str, list[list[Any]]]]], list[Any]]

#: Host functions by the bare upper-case name a formula uses (every spelling mapped).
FunctionTable = Mapping[str, HostFunction]


class _EngineAnswer:
    def __repr__(self) -> str:
        return "ENGINE_ANSWER"


#: What a host function returns for a call it leaves to the formula engine (a format it does
#: not render, say): the engine's own result, computed beside it, is used.
ENGINE_ANSWER = _EngineAnswer()


def element_at(value: Any, i: int, j: int) -> Any:
    """Element (``i``, ``j``), 0-based, of an argument under Excel's broadcast of arrays: a value
    that is not an array is itself; an array of one row or column repeats along it; beyond a
    smaller array, #N/A (Microsoft, "Dynamic array formulas and spilled array behavior")."""
    if not isinstance(value, list):
        return value
    ii = 0 if len(value) == 1 else i
    jj = 0 if len(value[0]) == 1 else j
    return value[ii][jj] if ii < len(value) and jj < len(value[ii]) else ExcelError("#N/A")


def elementwise(one: Callable[[list[Any]], Any]) -> Callable[[list[list[Any]]], list[Any]]:
    """A scalar function lifted over array arguments as Excel lifts it (dynamic arrays): the
    result has the largest row and column counts of the arguments; an argument of one row or
    column repeats along that side; positions beyond a smaller argument are #N/A."""

    def lifted(args: list[Any]) -> Any:
        grids = [a for a in args if isinstance(a, list)]
        if not grids:
            return one(args)
        h = max(len(g) for g in grids)
        w = max(len(g[0]) for g in grids)
        return [[one([element_at(a, i, j) for a in args]) for j in range(w)] for i in range(h)]

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        return [lifted(args) for args in calls]

    return evaluate
