"""AGGREGATE (Microsoft, "AGGREGATE function"), which IronCalc 0.9.1 does not have.

``AGGREGATE(function_num, options, ref1, [ref2], ...)`` and, for function_num 14-19,
``AGGREGATE(function_num, options, array, k)``. Numbers in the references are aggregated; text,
logical values and blanks are ignored (as the named functions do in references); an error
value is returned unless ``options`` ignores errors (2, 3, 6, 7).

Notes
-----
Options that ignore hidden rows (1, 3, 5, 7) and nested SUBTOTAL/AGGREGATE cells (0-3) are
applied before the call reaches this function: :mod:`addin.headless.visible` rewrites each
reference into the rectangles of the cells that count, so a reference may arrive as several
arguments (for function_num 14-19 every argument between ``options`` and ``k`` is the array).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from addin.headless.values import ExcelError

_NUM = ExcelError("#NUM!")
_DIV0 = ExcelError("#DIV/0!")


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [v for row in value for v in (row if isinstance(row, list) else [row])]
    return [value]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _percentile(xs: list[float], p: float, exclusive: bool) -> Any:
    """Excel's PERCENTILE.INC (rank p(n-1)+1) and PERCENTILE.EXC (rank p(n+1)), interpolated."""
    n = len(xs)
    if n == 0 or not (0 <= p <= 1):
        return _NUM
    rank = p * (n + 1) if exclusive else p * (n - 1) + 1
    if rank < 1 or rank > n:
        return _NUM
    s = sorted(xs)
    lo = math.floor(rank)
    frac = rank - lo
    return s[lo - 1] if lo >= n else s[lo - 1] + frac * (s[lo] - s[lo - 1])


def _stat(fn: Callable[[list[float]], float], minimum: int, empty: ExcelError) -> Callable[[list[float]], Any]:
    return lambda xs: fn(xs) if len(xs) >= minimum else empty


def _mode(xs: list[float]) -> Any:
    counts: dict[float, int] = {}
    for x in xs:
        counts[x] = counts.get(x, 0) + 1
    best = max(counts.values(), default=0)
    if best < 2:
        return ExcelError("#N/A")
    return next(x for x in xs if counts[x] == best)  # the first of the most frequent, as Excel


_PLAIN: dict[int, Callable[[list[float]], Any]] = {
    1: _stat(statistics.fmean, 1, _DIV0),
    2: lambda xs: float(len(xs)),
    4: lambda xs: max(xs, default=0.0),
    5: lambda xs: min(xs, default=0.0),
    6: lambda xs: math.prod(xs) if xs else 0.0,
    7: _stat(statistics.stdev, 2, _DIV0),
    8: _stat(statistics.pstdev, 1, _DIV0),
    9: lambda xs: math.fsum(xs),
    10: _stat(statistics.variance, 2, _DIV0),
    11: _stat(statistics.pvariance, 1, _DIV0),
    12: _stat(statistics.median, 1, _NUM),
    13: _mode,
}


def _with_k(fn: int, xs: list[float], k: float) -> Any:
    if fn in (14, 15):
        j = int(k)
        if not 1 <= j <= len(xs):
            return _NUM
        return sorted(xs, reverse=fn == 14)[j - 1]
    if fn in (16, 18):
        return _percentile(xs, k, fn == 18)
    q = int(k)
    if (fn == 17 and not 0 <= q <= 4) or (fn == 19 and not 1 <= q <= 3):
        return _NUM
    return _percentile(xs, q / 4, fn == 19)


def _one(args: list[Any]) -> Any:
    if len(args) < 3:
        return ExcelError("#VALUE!", "AGGREGATE takes function_num, options, ref1, ...")
    head = [
        v[0][0] if isinstance(v, list) and v and isinstance(v[0], list) and len(v) == 1 and len(v[0]) == 1 else v
        for v in args[:2]
    ]
    head[1] = 0.0 if head[1] is None else head[1]  # options "0 or omitted"
    for v in head:
        if isinstance(v, ExcelError):
            return v
    if not all(_number(v) for v in head):
        return ExcelError("#VALUE!", "AGGREGATE: function_num and options are numbers")
    fn, options = int(head[0]), int(head[1] or 0)
    if not (1 <= fn <= 19 and 0 <= options <= 7):
        return ExcelError("#VALUE!", "AGGREGATE: function_num 1-19, options 0-7")
    skip_errors = options in (2, 3, 6, 7)
    # 14-19: the array may arrive split into pieces (addin.headless.visible), k is the last argument
    refs, k = (args[2:], None) if fn <= 13 else (args[2:-1], args[-1]) if len(args) > 3 else (args[2:3], None)
    values = [v for a in refs for v in _flat(a)]
    if not skip_errors:
        for v in values:
            if isinstance(v, ExcelError):
                return v
    if fn == 3:
        return float(sum(1 for v in values if v is not None and v != "" and not isinstance(v, ExcelError)))
    xs = [float(v) for v in values if _number(v)]
    if fn <= 13:
        return _PLAIN[fn](xs)
    k = k[0][0] if isinstance(k, list) and k and isinstance(k[0], list) else k
    if not _number(k):
        return k if isinstance(k, ExcelError) else ExcelError("#VALUE!", "AGGREGATE: k is a number")
    return _with_k(fn, xs, float(k))


def aggregate(calls: list[list[Any]]) -> list[Any]:
    """AGGREGATE over every call of a pass (module docstring)."""
    return [_one(args) for args in calls]
