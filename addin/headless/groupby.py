"""GROUPBY and PIVOTBY (Microsoft 365), which IronCalc 0.9.1 does not have: host functions.

Microsoft, "GROUPBY function": ``GROUPBY(row_fields, values, function, [field_headers],
[total_depth], [sort_order], [filter_array], [field_relationship])``; "PIVOTBY function":
``PIVOTBY(row_fields, col_fields, values, function, [field_headers], [row_total_depth],
[row_sort_order], [col_total_depth], [col_sort_order], [filter_array], [relative_to])``.
The grouping, totals, order and the function's application are :mod:`addin.headless.grouping`'s
(one core for both); this module reads the arguments and lays the result out.

* ``function``: an eta-reduced function (``_xleta.SUM`` in the file), PERCENTOF, or a LAMBDA
  (evaluated by the formula engine on each line's values, one or two parameters); a value in
  its place is #VALUE!, an error that error;
* ``field_headers``: 0 none, 1 the first row is headers (not shown), 2 generated headers
  shown ("Row Field 1", "Col Field 1", "Value 1"...: Microsoft does not name them, not seen in
  Excel's cached values), 3 headers shown; omitted: 1 when the first value is text and the
  second a number, else 0 (Excel's cached values show no headers for the automatic form over
  three row fields, LOOKUP!Y25, where Microsoft's note says they are shown);
* totals: omitted is 1 (the grand total only: LOOKUP!Y25 and EXTRA!H96, where Microsoft says
  "and, if possible, subtotals");
* a second argument (PERCENTOF, a LAMBDA of two parameters) is, in GROUPBY, the value column's
  kept values (LOOKUP!S25: each line over the grand total); in PIVOTBY the rows ``relative_to``
  names: 0 the column's total, 1 the row's total, 2 the grand total, 3 the parent column's
  total (within the row), 4 the parent row's total (within the column); a total line's parent
  is itself (Excel's cached values, LOOKUP!AE96:AE111, EXTRA!BD95, BM95);
* PIVOTBY's layout: with headers shown, a first row holding the column fields' headers joined
  by ", " above the first value column, the column keys one row per column field (each repeated
  over the value columns), then the row fields' and value columns' headers; a cell whose row
  and column share no data row is blank.

A vector of functions (``HSTACK(SUM,AVERAGE)``) is #NAME? with the reason ("not implemented").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from addin.headless.grouping import (
    Aggregate,
    Axis,
    Line,
    Values,
    aggregate,
    grid,
    has_headers,
    kept_rows,
    key_of,
    label,
    option,
    sort_option,
)
from addin.headless.host import Apply
from addin.headless.values import ExcelError


def _at(args: list[Any], k: int) -> Any:
    return args[k] if k < len(args) else None


def _headers(value: Any, values: list[list[Any]], who: str) -> int | ExcelError:
    fh = option(value, None, who, "field_headers")
    if isinstance(fh, ExcelError):
        return fh
    if fh is None:
        return 1 if has_headers(values) else 0
    if fh not in (0, 1, 2, 3):
        return ExcelError("#VALUE!", f"{who}: field_headers {fh} is not 0, 1, 2 or 3")
    return fh


def _key_error(fields: list[list[Any]], kept: Sequence[int]) -> ExcelError | None:
    return next((v for i in kept for v in fields[i] if isinstance(v, ExcelError)), None)


def _columns(values: list[list[Any]]) -> list[list[Any]]:
    return [[row[j] for row in values] for j in range(len(values[0]))]


def _generated(prefix: str, n: int) -> list[str]:
    return [f"{prefix} {k}" for k in range(1, n + 1)]


def _fields(args: list[Any], count: int, who: str) -> list[list[list[Any]]] | ExcelError:
    """The field arguments as rows, all of one length (else #VALUE!); an error in place of one
    is that error."""
    out = []
    for a in args[:count]:
        if isinstance(a, ExcelError):
            return a
        out.append(grid(a))
    if len({len(g) for g in out}) != 1:
        return ExcelError("#VALUE!", f"{who}: the fields and values have different numbers of rows")
    return out


def _inputs(args: list[Any], who: str, count: int, most: int) -> tuple[list[list[list[Any]]], Aggregate] | ExcelError:
    """The ``count`` field arguments (the last the values) and the function after them."""
    if not count + 1 <= len(args) <= most:
        return ExcelError("#VALUE!", f"{who} takes {count} fields, a function and up to {most - count - 1} options")
    fields = _fields(args, count, who)
    if isinstance(fields, ExcelError):
        return fields
    fn = aggregate(args[count], who)
    if isinstance(fn, ExcelError):
        return fn
    return fields, fn


def _groupby(args: list[Any], apply: Apply | None) -> Any:
    who = "GROUPBY"
    given = _inputs(args, who, 2, 8)
    if isinstance(given, ExcelError):
        return given
    (keys, vals), fn = given
    fh = _headers(_at(args, 3), vals, who)
    depth = option(_at(args, 4), 1, who, "total_depth")
    sort = sort_option(_at(args, 5), who)
    relation = option(_at(args, 7), 0, who, "field_relationship")
    for v in (fh, depth, sort, relation):
        if isinstance(v, ExcelError):
            return v
    assert isinstance(fh, int) and isinstance(depth, int) and isinstance(sort, tuple) and isinstance(relation, int)
    if relation not in (0, 1):
        return ExcelError("#VALUE!", f"GROUPBY: field_relationship {relation} is not 0 or 1")
    kept = kept_rows(_at(args, 6), len(keys), 1 if fh in (1, 3) else 0, who)
    if isinstance(kept, ExcelError):
        return kept
    bad = _key_error(keys, kept)
    if bad is not None:
        return bad
    if not kept:
        return ExcelError("#CALC!", "GROUPBY: no data rows (after the header and filter_array)")
    k, m = len(keys[0]), len(vals[0])
    axis = Axis(keys, k, depth, sort, relation == 1)
    bad = axis.check(m, who)
    if bad is not None:
        return bad
    values = Values(_columns(vals), fn, apply)
    lines = axis.lines(kept, lambda groups, j: values.compute([(g, kept, j) for g in groups]))
    cells = values.compute([(line.rows, kept, j) for line in lines for j in range(m)])
    out: list[list[Any]] = []
    if fh == 3:
        out.append([*keys[0], *vals[0]])
    elif fh == 2:
        out.append([*_generated("Row Field", k), *_generated("Value", m)])
    for n, line in enumerate(lines):
        out.append([*label(line, axis), *cells[n * m : (n + 1) * m]])
    return out


class _Pivot:
    """The cells of a PIVOTBY: a row line and a column line share data rows; the second
    argument's rows are those ``relative_to`` names (module docstring)."""

    def __init__(self, rows: Axis, cols: Axis, kept: list[int], values: Values, relative: int) -> None:
        self.rows, self.cols, self.kept, self.values, self.relative = rows, cols, kept, values, relative
        self._sets: dict[tuple[int, ...], set[int]] = {}

    def _set(self, rows: tuple[int, ...]) -> set[int]:
        found = self._sets.get(rows)
        if found is None:
            found = self._sets[rows] = set(rows)
        return found

    def _parent(self, axis: Axis, line: Line) -> tuple[int, ...]:
        if not line.keys:
            return line.rows
        prefix = [key_of(v) for v in line.keys[:-1]]
        return tuple(i for i in self.kept if [key_of(v) for v in axis.keys[i][: len(prefix)]] == prefix)

    def _request(self, r: Line, c: Line, j: int) -> tuple[list[int], list[int], int] | None:
        cs = self._set(c.rows)
        shared = [i for i in r.rows if i in cs]
        if not shared:
            return None
        if self.values.fn.arity == 1:
            return shared, [], j
        rel = self.relative
        if rel == 0:
            of: Sequence[int] = c.rows
        elif rel == 1:
            of = r.rows
        elif rel == 2:
            of = self.kept
        elif rel == 3:
            parent = set(self._parent(self.cols, c))
            of = [i for i in r.rows if i in parent]
        else:
            parent = set(self._parent(self.rows, r))
            of = [i for i in c.rows if i in parent]
        return shared, list(of), j

    def cells(self, pairs: Sequence[tuple[Line, Line, int]]) -> list[Any]:
        """The value of each (row line, column line, value column); blank where they share no row."""
        requests = [self._request(r, c, j) for r, c, j in pairs]
        found = iter(self.values.compute([q for q in requests if q is not None]))
        return [None if q is None else next(found) for q in requests]

    def leaf(self, axis: Axis, rows: Sequence[int]) -> Line:
        return Line(tuple(axis.keys[rows[0]][: axis.width]), tuple(rows), False)


def _pivot_options(
    args: list[Any], vals: list[list[Any]]
) -> tuple[int, int, tuple[int, ...], int, tuple[int, ...], int] | ExcelError:
    """(field_headers, row_total_depth, row_sort_order, col_total_depth, col_sort_order, relative_to)."""
    who = "PIVOTBY"
    fh = _headers(_at(args, 4), vals, who)
    rdepth = option(_at(args, 5), 1, who, "row_total_depth")
    rsort = sort_option(_at(args, 6), who)
    cdepth = option(_at(args, 7), 1, who, "col_total_depth")
    csort = sort_option(_at(args, 8), who)
    relative = option(_at(args, 10), 0, who, "relative_to")
    for v in (fh, rdepth, rsort, cdepth, csort, relative):
        if isinstance(v, ExcelError):
            return v
    assert isinstance(fh, int) and isinstance(rdepth, int) and isinstance(cdepth, int) and isinstance(relative, int)
    assert isinstance(rsort, tuple) and isinstance(csort, tuple)
    if relative not in range(5):
        return ExcelError("#VALUE!", f"PIVOTBY: relative_to {relative} is not 0 to 4")
    return fh, rdepth, rsort, cdepth, csort, relative


def _pivotby(args: list[Any], apply: Apply | None) -> Any:
    who = "PIVOTBY"
    given = _inputs(args, who, 3, 11)
    if isinstance(given, ExcelError):
        return given
    (rkeys, ckeys, vals), fn = given
    opts = _pivot_options(args, vals)
    if isinstance(opts, ExcelError):
        return opts
    fh, rdepth, rsort, cdepth, csort, relative = opts
    kept = kept_rows(_at(args, 9), len(rkeys), 1 if fh in (1, 3) else 0, who)
    if isinstance(kept, ExcelError):
        return kept
    bad = _key_error(rkeys, kept) or _key_error(ckeys, kept)
    if bad is not None:
        return bad
    if not kept:
        return ExcelError("#CALC!", "PIVOTBY: no data rows (after the header and filter_array)")
    kr, kc, m = len(rkeys[0]), len(ckeys[0]), len(vals[0])
    raxis, caxis = Axis(rkeys, kr, rdepth, rsort), Axis(ckeys, kc, cdepth, csort)
    bad = raxis.check(m, who) or caxis.check(m, who)
    if bad is not None:
        return bad
    pivot = _Pivot(raxis, caxis, kept, Values(_columns(vals), fn, apply), relative)
    everything = Line((), tuple(kept), True)
    # a value column in a sort orders each axis's groups by their total over the other axis
    rlines = raxis.lines(kept, lambda groups, j: pivot.cells([(pivot.leaf(raxis, g), everything, j) for g in groups]))
    clines = caxis.lines(kept, lambda groups, j: pivot.cells([(everything, pivot.leaf(caxis, g), j) for g in groups]))
    cells = pivot.cells([(r, c, j) for r in rlines for c in clines for j in range(m)])
    width = len(clines) * m
    if fh == 3:
        rhead, chead, vhead = rkeys[0], ckeys[0], vals[0]
    else:
        rhead, chead, vhead = _generated("Row Field", kr), _generated("Col Field", kc), _generated("Value", m)
    out: list[list[Any]] = []
    if fh in (2, 3):
        out.append([*([None] * kr), ", ".join(_text(h) for h in chead), *([None] * (width - 1))])
    clabels = [label(c, caxis) for c in clines]
    for t in range(kc):
        out.append([*([None] * kr), *(lab[t] for lab in clabels for _ in range(m))])
    if fh in (2, 3):
        out.append([*rhead, *(vhead[j] for _ in clines for j in range(m))])
    for n, r in enumerate(rlines):
        out.append([*label(r, raxis), *cells[n * width : (n + 1) * width]])
    return out


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def groupby(calls: list[list[Any]], applies: list[Apply] | None = None) -> list[Any]:
    """GROUPBY over every call of a pass (module docstring); ``applies``: the formula engine
    for each call (a LAMBDA as the function)."""
    return [_groupby(args, applies[k] if applies else None) for k, args in enumerate(calls)]


def pivotby(calls: list[list[Any]], applies: list[Apply] | None = None) -> list[Any]:
    """PIVOTBY over every call of a pass (module docstring)."""
    return [_pivotby(args, applies[k] if applies else None) for k, args in enumerate(calls)]


__all__ = ["Aggregate", "groupby", "pivotby"]
