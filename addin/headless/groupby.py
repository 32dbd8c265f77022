"""GROUPBY (Microsoft 365), which IronCalc 0.9.1 does not have: a host function.

Microsoft, "GROUPBY function": ``GROUPBY(row_fields, values, function, [field_headers],
[total_depth], [sort_order], [filter_array], [field_relationship])`` groups the rows of
``values`` by the distinct rows of ``row_fields`` and aggregates each value column with
``function``; the result is an array, the groups sorted, with a grand total row.

What is computed:

* ``function`` an eta-reduced function (``SUM``, written ``_xleta.SUM`` in the file and turned
  into its name by :mod:`addin.headless.semantics`): SUM, AVERAGE, COUNT, COUNTA, MAX, MIN,
  MEDIAN, PRODUCT, STDEV.S, STDEV.P, VAR.S, VAR.P; numbers are aggregated, text and blanks
  ignored (COUNTA counts every non-blank value), as the named functions do over a range;
* ``field_headers`` 0 (no headers), 1 (headers, not shown), 3 (headers shown) and omitted
  (automatic: headers when the first value is text and the second a number; shown when there
  is more than one row field);
* ``total_depth`` 0 (no totals), 1 (a grand total row, "Total", the default) and -1 (the grand
  total at the top);
* ``sort_order`` one integer: the result column to sort by, negative for descending (default
  1, the first row field ascending); keys sort as Excel sorts: numbers, then text
  (case-insensitive), then FALSE, TRUE;
* ``filter_array`` a column of logicals: the rows kept.

A LAMBDA as ``function``, subtotals (``total_depth`` 2 or -2), generated headers (2), several
sort columns and ``field_relationship`` 1 with several row fields are an error value with the
reason (#NAME?, as "not implemented" is), never a wrong array.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from addin.headless.values import ExcelError


def _rows(value: Any) -> list[list[Any]]:
    if isinstance(value, list):
        return [r if isinstance(r, list) else [r] for r in value]
    return [[value]]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(fn: Callable[[list[float]], Any], minimum: int = 1) -> Callable[[list[Any]], Any]:
    def agg(xs: list[Any]) -> Any:
        nums = [float(x) for x in xs if _num(x)]
        return fn(nums) if len(nums) >= minimum else ExcelError("#DIV/0!")

    return agg


#: The eta-reduced functions GROUPBY takes (each over a range's values, Microsoft's reference).
FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "SUM": lambda xs: math.fsum(float(x) for x in xs if _num(x)),
    "AVERAGE": _numbers(statistics.fmean),
    "COUNT": lambda xs: float(sum(1 for x in xs if _num(x))),
    "COUNTA": lambda xs: float(sum(1 for x in xs if x is not None)),
    "MAX": lambda xs: max((float(x) for x in xs if _num(x)), default=0.0),
    "MIN": lambda xs: min((float(x) for x in xs if _num(x)), default=0.0),
    "MEDIAN": _numbers(statistics.median),
    "PRODUCT": lambda xs: math.prod(float(x) for x in xs if _num(x)) if any(_num(x) for x in xs) else 0.0,
    "STDEV.S": _numbers(statistics.stdev, 2),
    "STDEV.P": _numbers(statistics.pstdev),
    "VAR.S": _numbers(statistics.variance, 2),
    "VAR.P": _numbers(statistics.pvariance),
}


def _unsupported(what: str) -> ExcelError:
    return ExcelError("#NAME?", f"GROUPBY: {what} is not implemented by the engine")


def _sort_key(v: Any) -> tuple[int, Any]:
    """Excel's ascending order: numbers, text (case-insensitive), FALSE, TRUE, errors, blanks."""
    if isinstance(v, bool):
        return 2, v
    if _num(v):
        return 0, float(v)
    if isinstance(v, str):
        return 1, v.lower()
    if isinstance(v, ExcelError):
        return 3, v.code
    return 4, 0


def _option(value: Any, default: int) -> int | None:
    v = _rows(value)[0][0] if isinstance(value, list) else value
    if v is None:
        return default
    return int(v) if _num(v) else None


def _options(opts: list[Any], fields: int) -> tuple[int, int, int] | ExcelError:
    """(field_headers, total_depth, sort_order), -1 for automatic headers; an error for what is
    not computed (module docstring)."""
    if isinstance(opts[2], list) and len(_rows(opts[2])) * len(_rows(opts[2])[0]) > 1:
        return _unsupported("several sort columns")
    headers, depth, sort = _option(opts[0], -1), _option(opts[1], 1), _option(opts[2], 1)
    relation = _option(opts[4], 0)
    if headers is None or depth is None or sort is None or relation is None:
        return ExcelError("#VALUE!", "GROUPBY: field_headers, total_depth, sort_order are numbers")
    if headers == 2 or depth not in (0, 1, -1) or (relation == 1 and fields > 1):
        return _unsupported(f"field_headers {headers}, total_depth {depth} or field_relationship {relation}")
    return headers, depth, sort


def _one(args: list[Any]) -> Any:
    if len(args) < 3:
        return ExcelError("#VALUE!", "GROUPBY takes row_fields, values, function, ...")
    keys, vals, fn = _rows(args[0]), _rows(args[1]), args[2]
    bad = next((v for row in keys for v in row if isinstance(v, ExcelError)), None)
    if bad is not None:
        return bad
    if not isinstance(fn, str) or fn.upper() not in FUNCTIONS:
        return _unsupported("a function other than an eta-reduced SUM, AVERAGE, COUNT... (a LAMBDA)")
    agg = FUNCTIONS[fn.upper()]
    opts = [args[k] if k < len(args) else None for k in range(3, 8)]
    parsed = _options(opts, len(keys[0]))
    if isinstance(parsed, ExcelError):
        return parsed
    headers, depth, sort = parsed
    if len(keys) != len(vals):
        return ExcelError("#VALUE!", "GROUPBY: row_fields and values have different numbers of rows")
    if headers == -1:  # automatic (Microsoft): headers when the first value is text and the second a number
        has = len(vals) > 1 and isinstance(vals[0][0], str) and _num(vals[1][0])
        headers = (3 if len(keys[0]) > 1 else 1) if has else 0
    head_keys, head_vals = (keys[0], vals[0]) if headers in (1, 3) else (None, None)
    first = 1 if headers in (1, 3) else 0
    keep = [True] * len(keys)
    if opts[3] is not None:
        mask = _rows(opts[3])
        if len(mask) != len(keys):
            return ExcelError("#VALUE!", "GROUPBY: filter_array has a different number of rows")
        keep = [bool(m[0]) and not isinstance(m[0], ExcelError) for m in mask]
    groups: dict[tuple[Any, ...], list[list[Any]]] = {}
    for i in range(first, len(keys)):
        if keep[i]:
            groups.setdefault(tuple(keys[i]), []).append(vals[i])
    width = len(vals[0])
    body = [[*k, *(agg([r[j] for r in rows]) for j in range(width))] for k, rows in groups.items()]
    col = abs(sort) - 1
    if not 0 <= col < len(keys[0]) + width:
        return ExcelError("#VALUE!", f"GROUPBY: sort_order {sort} is not a column of the result")
    body.sort(key=lambda row: _sort_key(row[col]), reverse=sort < 0)
    out: list[list[Any]] = []
    if headers == 3 and head_keys is not None and head_vals is not None:
        out.append([*head_keys, *head_vals])
    total = [
        [
            "Total",
            *([None] * (len(keys[0]) - 1)),
            *(agg([vals[i][j] for i in range(first, len(vals)) if keep[i]]) for j in range(width)),
        ]
    ]
    return out + (total if depth == -1 else []) + body + (total if depth == 1 else [])


def groupby(calls: list[list[Any]]) -> list[Any]:
    """GROUPBY over every call of a pass (module docstring)."""
    return [_one(args) for args in calls]
