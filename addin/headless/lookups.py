"""LOOKUP, VLOOKUP, HLOOKUP and MATCH as Excel searches, for the approximate forms.

Excel's approximate lookups ("VLOOKUP function", "MATCH function": the values "must be placed in
ascending order") are a binary search, and what it returns on data that is not sorted, holds
blanks, or mixes types is the search's own path, which Excel's cached values show (pycel's
lookup.xlsx in the corpus: ``MATCH(6, A1:A16)`` is 10 with blanks in A1:A4, A8 and A13:A16).
The formula engine scans instead, so these functions are evaluated here when a call may be
approximate (the engine keeps exact ``VLOOKUP(..., FALSE)`` and ``MATCH(..., 0)`` calls).

The search, as Apache POI's ``LookupUtils`` documents Excel's behaviour (our own code): the bounds
start outside the vector; a midpoint of another type than the lookup value (blanks and errors
always are) steps forward to the first comparable value before the upper bound (none: the upper
bound moves down to the midpoint; the value just below the upper bound and larger than the
lookup value: likewise); an equal value returns the last of its run; the lower bound is the
answer when the bounds meet. Text compares case-insensitively; numbers, text and booleans never
compare with each other. MATCH with -1 scans for the last value not below the lookup value.
"""

from __future__ import annotations

import math
import re
from typing import Any

from addin.headless.host import may_hold_array
from addin.headless.values import ExcelError, logical
from addin.headless.wildcards import Wildcard, compile_wildcard

_LT, _EQ, _GT, _MISMATCH = -1, 0, 1, 2
_NA = "#N/A"


def _kind(v: Any) -> int:
    if isinstance(v, bool):
        return 2
    if isinstance(v, (int, float)):
        return 1
    if isinstance(v, str):
        return 3
    return 0  # blank or error: never comparable


def compare(x: Any, item: Any) -> int:
    """Where the lookup value ``x`` sits against ``item``: _LT, _EQ, _GT or _MISMATCH."""
    kx, ki = _kind(x), _kind(item)
    if kx == 0 or kx != ki:
        return _MISMATCH
    a, b = (x.upper(), item.upper()) if kx == 3 else (x, item)
    return _LT if a < b else _GT if a > b else _EQ


def approximate(vector: list[Any], x: Any) -> int:
    """0-based index of Excel's approximate match of ``x`` (ascending order assumed), or -1."""
    lo, hi = -1, len(vector)
    while hi - lo >= 2:
        mid = lo + (hi - lo) // 2
        c = compare(x, vector[mid])
        if c == _MISMATCH:
            j = mid + 1
            while j < hi and compare(x, vector[j]) == _MISMATCH:
                j += 1
            if j == hi:
                hi = mid
                continue
            c = compare(x, vector[j])
            if c == _LT and j == hi - 1:
                hi = mid
                continue
            mid = j
        if c == _EQ:
            while mid + 1 < hi and compare(x, vector[mid + 1]) == _EQ:
                mid += 1
            return mid
        if c == _LT:
            hi = mid
        else:
            lo = mid
    return lo


def descending(vector: list[Any], x: Any) -> int:
    """MATCH(x, vector, -1): the last value not below ``x`` before the first one below it."""
    last = -1
    for i, item in enumerate(vector):
        c = compare(x, item)
        if c == _MISMATCH:
            continue
        if c == _EQ:
            return i
        if c == _GT:
            return last
        last = i
    return last


def _pattern(x: str) -> Wildcard:
    """Excel's wildcard pattern: ``*`` any run, ``?`` one character, ``~`` escapes the next
    (:mod:`addin.headless.wildcards`: linear, no backtracking)."""
    return compile_wildcard(x)


def exact(vector: list[Any], x: Any) -> int:
    """The first value equal to ``x`` (text case-insensitive, with wildcards), or -1."""
    if isinstance(x, str) and any(ch in x for ch in "*?~"):
        pat = _pattern(x)
        return next((i for i, v in enumerate(vector) if isinstance(v, str) and pat.fullmatch(v)), -1)
    return next((i for i, v in enumerate(vector) if compare(x, v) == _EQ), -1)


def _grid(v: Any) -> list[list[Any]]:
    return v if isinstance(v, list) else [[v]]


def _scalar(v: Any) -> Any:
    if isinstance(v, list):
        return v[0][0] if len(v) == 1 and len(v[0]) == 1 else ExcelError("#VALUE!")
    return v


def _lookup_value(v: Any) -> Any:
    v = _scalar(v)
    return 0.0 if v is None else v


def _result(v: Any) -> Any:
    return 0.0 if v is None else v  # a blank cell found by a lookup shows 0


def _as_number(v: Any) -> Any:
    """One argument as a number where it is numeric text (Excel reads "2" as 2), else as it is."""
    v = _scalar(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return ExcelError("#VALUE!")
    return v


def _index(v: Any) -> int | ExcelError:
    v = _as_number(v)
    if isinstance(v, ExcelError):
        return v
    if v is None or not math.isfinite(float(v)):
        return ExcelError("#VALUE!")
    return math.trunc(float(v))


def _vh(args: list[Any], vertical: bool) -> Any:
    if not 3 <= len(args) <= 4:
        return ExcelError("#VALUE!", f"{'V' if vertical else 'H'}LOOKUP takes lookup_value, table_array, index, [range_lookup]")
    x = _lookup_value(args[0])
    if isinstance(x, ExcelError):
        return x
    if isinstance(args[1], ExcelError):
        return args[1]  # the table itself is an error (a range too large to read: engine._block)
    table = _grid(args[1])
    if not vertical:
        table = [list(col) for col in zip(*table)]
    n = _index(args[2])
    if isinstance(n, ExcelError):
        return n
    # given but empty (``VLOOKUP(x,t,2,)``) or a blank cell: FALSE, as Excel reads a missing value
    # there; left out: TRUE (found by the generative test: the host function took both as TRUE)
    approx = (logical(args[3], True) if args[3] is not None else False) if len(args) == 4 else True
    if isinstance(approx, ExcelError):
        return approx
    if n < 1:
        return ExcelError("#VALUE!")
    if n > len(table[0]):
        return ExcelError("#REF!")
    keys = [row[0] for row in table]
    i = approximate(keys, x) if approx else exact(keys, x)
    return ExcelError(_NA) if i < 0 else _result(table[i][n - 1])


def vlookup(calls: list[list[Any]]) -> list[Any]:
    """VLOOKUP(lookup_value, table_array, col_index_num, [range_lookup]) (Microsoft, "VLOOKUP function")."""
    return [_each(lambda a: _vh(a, True), args) for args in calls]


def hlookup(calls: list[list[Any]]) -> list[Any]:
    """HLOOKUP(lookup_value, table_array, row_index_num, [range_lookup]) (Microsoft, "HLOOKUP function")."""
    return [_each(lambda a: _vh(a, False), args) for args in calls]


def _vector(v: Any) -> list[Any] | None:
    """A one-row or one-column range as a list; None for a block of several rows and columns."""
    g = _grid(v)
    if len(g) == 1:
        return list(g[0])
    if all(len(row) == 1 for row in g):
        return [row[0] for row in g]
    return None


def _lookup(args: list[Any]) -> Any:
    if len(args) not in (2, 3):
        return ExcelError("#VALUE!", "LOOKUP takes lookup_value, lookup_vector, [result_vector]")
    x = _lookup_value(args[0])
    if isinstance(x, ExcelError):
        return x
    for a in args[1:]:
        if isinstance(a, ExcelError):
            return a
    g = _grid(args[1])
    wide = len(g[0]) > len(g)
    keys = list(g[0]) if wide else [row[0] for row in g]
    if len(args) == 2:
        out = list(g[-1]) if wide else [row[-1] for row in g]
    else:
        res = _vector(args[2])
        if res is None:
            return ExcelError(_NA)
        out = res
    i = approximate(keys, x)
    if i < 0 or i >= len(out):
        return ExcelError(_NA)
    return _result(out[i])


def lookup(calls: list[list[Any]]) -> list[Any]:
    """LOOKUP(lookup_value, lookup_vector, [result_vector]) and the array form (Microsoft,
    "LOOKUP function": an array wider than tall is searched in its first row, else its first
    column, and the result is taken from its last row or column)."""
    return [_each(_lookup, args) for args in calls]


def _each(fn: Any, args: list[Any]) -> Any:
    """``fn`` of the arguments, or, when the lookup value is an array of more than one value
    (an array formula, ``{=LOOKUP(C1:Q1,...)}``), the array of ``fn`` of each of its values
    (Microsoft, "Guidelines and examples of array formulas": a function of one value given an
    array is evaluated for each element; addin.headless.lifting does this for the engine's
    functions)."""
    x = args[0] if args else None
    if isinstance(x, list) and (len(x) > 1 or (x and len(x[0]) > 1)):
        return [[fn([v, *args[1:]]) for v in row] for row in x]
    return fn(args)


def _match(args: list[Any]) -> Any:
    if len(args) not in (2, 3):
        return ExcelError("#VALUE!", "MATCH takes lookup_value, lookup_array, [match_type]")
    x = _lookup_value(args[0])
    if isinstance(x, ExcelError):
        return x
    if isinstance(args[1], ExcelError):
        return args[1]
    vec = _vector(args[1])
    if vec is None:
        return ExcelError(_NA)
    kind = (_as_number(args[2]) if args[2] is not None else 0.0) if len(args) == 3 else 1.0  # empty or blank: 0
    if isinstance(kind, ExcelError):
        return kind
    t = float(kind)
    i = approximate(vec, x) if t > 0 else descending(vec, x) if t < 0 else exact(vec, x)
    return ExcelError(_NA) if i < 0 else float(i + 1)


def match(calls: list[list[Any]]) -> list[Any]:
    """MATCH(lookup_value, lookup_array, [match_type]) (Microsoft, "MATCH function")."""
    return [_each(_match, args) for args in calls]


_EXACT = re.compile(r"^\s*(?:FALSE|0+(?:\.0*)?)\s*$", re.I)


def may_be_approximate(position: int) -> Any:
    """A host-function predicate: the call's match-mode argument (at ``position``) is absent, or
    not a literal meaning exact (FALSE, 0), or its lookup value may be an array
    (:func:`~addin.headless.host.may_hold_array`). Exact calls of
    one lookup value stay with the formula engine, which agrees with Excel there and keeps its
    own dependency order; given an array, IronCalc 0.9.1 does not evaluate the lookup for each
    value (every element is #N/A), so the host lifts it (Microsoft, "Guidelines and examples of
    array formulas": a function of one value given an array is evaluated for each element)."""

    def takes(args: list[tuple[str, str]]) -> bool:
        if len(args) > 1 and args[1][0] == "literal":
            return False  # a table that is a number or text: the engine's #VALUE! is Excel's
        if len(args) <= position or (args and may_hold_array(*args[0])):
            return True
        kind, text = args[position]
        return not (kind == "literal" and _EXACT.match(text))

    return takes


__all__ = ["approximate", "compare", "descending", "exact", "hlookup", "lookup", "match", "may_be_approximate", "vlookup"]
