"""Grouping rows by keys and aggregating them: the one core of GROUPBY and PIVOTBY.

Microsoft, "GROUPBY function" and "PIVOTBY function": the distinct rows of the key columns
(``row_fields``, ``col_fields``) make the groups of an axis; ``total_depth`` adds a grand total
(1 at the end, -1 at the start) and subtotals (2 or more: the groups of the first ``depth - 1``
key columns, after their members, before them when negative); ``sort_order`` orders the groups;
``field_relationship`` 1 (table) sorts the full key rows as flat rows. Each cell is the function
over the value rows a line covers (for PIVOTBY, the rows a row line and a column line share).

What this module settles where Microsoft is silent, from Excel's cached values in formulas'
test book (``formulas__test_test_files_test.xlsx``, sheets LOOKUP and EXTRA):

* a grand total is labelled "Total", and "Grand Total" where subtotals are shown (GROUPBY
  M25:Q39, PIVOTBY EXTRA!BD95); a subtotal line shows its key prefix, blanks beyond it;
* a depth beyond 2 needs as many key columns (PIVOTBY ``row_total_depth`` 3 over one row field
  is #VALUE!, EXTRA!AX3); depth 2 over one column is the grand total alone (LOOKUP!AP101);
* in a hierarchy, a value column in ``sort_order`` orders the deepest groups within their parent
  and the parents keep their key order (PIVOTBY ``col_sort_order`` 3, LOOKUP!AR96, AP101); a key
  column orders the groups of its own level; groups not ordered by the sort are in key order;
* keys sort as Excel sorts: numbers, text (case-insensitive), FALSE, TRUE, errors, blanks.

Notes
-----
Pure functions over lists of cell values (the values a host function receives); the function
applied to a line's values is an :class:`Aggregate`, computed here for the eta-reduced names of
:data:`FUNCTIONS` and by the formula engine for any other function (a LAMBDA), through the
``apply`` callable the engine gives (:data:`addin.headless.host.Apply`).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from addin.headless.host import Apply
from addin.headless.values import ExcelError

#: A prefix no formula types: the function argument of GROUPBY/PIVOTBY as the rewrite passes it
#: (:mod:`addin.headless.semantics`): ``ETA`` + an eta-reduced name, ``LAMBDA`` + a LAMBDA's text.
ETA = "\u2063eta:"
LAMBDA = "\u2063lambda:"
#: A vector of functions (``HSTACK(SUM,AVERAGE)``), not computed: #NAME? with the reason.
VECTOR = "\u2063vector:"


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _first_error(xs: Sequence[Any]) -> ExcelError | None:
    return next((x for x in xs if isinstance(x, ExcelError)), None)


def _numbers(fn: Callable[[list[float]], Any], minimum: int = 1) -> Callable[[Sequence[Any]], Any]:
    """A function of the numbers among a range's values (text, logicals and blanks ignored, the
    first error passed on, Excel's #DIV/0! with fewer than ``minimum`` numbers)."""

    def agg(xs: Sequence[Any]) -> Any:
        bad = _first_error(xs)
        if bad is not None:
            return bad
        nums = [float(x) for x in xs if _num(x)]
        return fn(nums) if len(nums) >= minimum else ExcelError("#DIV/0!")

    return agg


def _sum(nums: list[float]) -> float:
    return math.fsum(nums)


def _extreme(pick: Callable[[list[float]], float]) -> Callable[[list[float]], float]:
    return lambda nums: pick(nums) if nums else 0.0  # MAX/MIN of no numbers is 0


def _percentof(xs: Sequence[Any], of: Sequence[Any]) -> Any:
    """PERCENTOF(data_subset, data_all) = SUM(data_subset) / SUM(data_all) (Microsoft,
    "PERCENTOF function")."""
    part, whole = _numbers(_sum, 0)(xs), _numbers(_sum, 0)(of)
    if isinstance(part, ExcelError):
        return part
    if isinstance(whole, ExcelError):
        return whole
    return part / whole if whole != 0 else ExcelError("#DIV/0!")


#: The eta-reduced functions computed here, each as the named function computes over a range's
#: values: numbers aggregated, text, logicals and blanks ignored, the first error passed on;
#: COUNT counts numbers and COUNTA every non-blank value (errors included).
FUNCTIONS: dict[str, Callable[[Sequence[Any]], Any]] = {
    "SUM": _numbers(_sum, 0),
    "AVERAGE": _numbers(statistics.fmean),
    "COUNT": lambda xs: float(sum(1 for x in xs if _num(x))),
    "COUNTA": lambda xs: float(sum(1 for x in xs if x is not None)),
    "MAX": _numbers(_extreme(max), 0),
    "MIN": _numbers(_extreme(min), 0),
    "MEDIAN": _numbers(statistics.median),
    "PRODUCT": _numbers(lambda nums: math.prod(nums) if nums else 0.0, 0),
    "STDEV.S": _numbers(statistics.stdev, 2),
    "STDEV.P": _numbers(statistics.pstdev),
    "VAR.S": _numbers(statistics.variance, 2),
    "VAR.P": _numbers(statistics.pvariance),
}


@dataclass(frozen=True)
class Aggregate:
    """The function of GROUPBY/PIVOTBY: ``name`` for reasons; ``arity`` 2 when it also takes the
    values it is relative to (PERCENTOF, a LAMBDA of two parameters); ``text`` the formula the
    engine calls (a LAMBDA, an eta-reduced name not in :data:`FUNCTIONS`), else computed here."""

    name: str
    arity: int
    text: str | None = None


def aggregate(value: Any, who: str) -> Aggregate | ExcelError:
    """The function argument as :mod:`addin.headless.semantics` passes it; an error value in its
    place is that error (Excel's cached #N/A for a function given as a cell holding #N/A,
    EXTRA!L96); any other value is #VALUE!."""
    if isinstance(value, list) and len(value) == 1 and len(value[0]) == 1:
        value = value[0][0]
    if isinstance(value, ExcelError):
        return value
    if isinstance(value, str) and value.startswith(ETA):
        name = value[len(ETA) :].upper()
        if name == "PERCENTOF":
            return Aggregate(name, 2)
        return Aggregate(name, 1, None if name in FUNCTIONS else name)
    if isinstance(value, str) and value.startswith(VECTOR):
        return ExcelError("#NAME?", f"{who}: a vector of functions is not implemented by the engine")
    if isinstance(value, str) and value.startswith(LAMBDA):
        text = value[len(LAMBDA) :]
        return Aggregate("LAMBDA", _lambda_arity(text), text)
    return ExcelError("#VALUE!", f"{who}: the function must be a LAMBDA or an eta-reduced function (SUM, AVERAGE...)")


def _lambda_arity(text: str) -> int:
    """The parameters of ``LAMBDA(p1, p2, ..., body)``: the top-level commas inside its parentheses."""
    depth, commas, quoted = 0, 0, False
    for ch in text[text.index("(") :]:
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "," and depth == 1:
            commas += 1
    return max(commas, 1)


class Values:
    """The value columns of the kept data rows and the one place their aggregates are computed
    (here, or in one batch through the formula engine: :meth:`compute`)."""

    def __init__(self, columns: list[list[Any]], fn: Aggregate, apply: Apply | None) -> None:
        self.columns = columns
        self.fn = fn
        self.apply = apply

    def compute(self, requests: Sequence[tuple[Sequence[int], Sequence[int], int]]) -> list[Any]:
        """The function of each request ``(rows, relative_rows, column)``: over the values of
        ``column`` in ``rows`` (and, for a function of two arguments, in ``relative_rows``)."""
        fn, cols = self.fn, self.columns
        args = [([cols[j][i] for i in rows], [cols[j][i] for i in rel] if fn.arity == 2 else None) for rows, rel, j in requests]
        if fn.text is None:
            if fn.arity == 2:
                return [_percentof(x, y or []) for x, y in args]
            return [FUNCTIONS[fn.name](x) for x, _ in args]
        if self.apply is None:
            return [ExcelError("#NAME?", f"{fn.name}: the formula engine is not available here")] * len(args)
        return self.apply([(fn.text, [x] if y is None else [x, y]) for x, y in args])


# ----------------------------------------------------------------------------- keys and order


def key_of(v: Any) -> tuple[Any, ...]:
    """A key value for grouping: numbers by value, text as written, TRUE apart from 1."""
    if isinstance(v, bool):
        return ("b", v)
    if _num(v):
        return ("n", float(v))
    if isinstance(v, ExcelError):
        return ("e", v.code)
    if v is None:
        return ("z",)
    return ("s", v)


def order_of(v: Any) -> tuple[int, Any]:
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


def _compare(a: Any, b: Any) -> int:
    x, y = order_of(a), order_of(b)
    return (x > y) - (x < y)


def _ranked(n: int, criteria: list[tuple[list[Any], bool]]) -> list[int]:
    """The order of ``n`` groups by criteria (each: one value a group, descending?), in turn."""

    def cmp(a: int, b: int) -> int:
        for vals, down in criteria:
            r = _compare(vals[a], vals[b])
            if r:
                return -r if down else r
        return 0

    return sorted(range(n), key=functools.cmp_to_key(cmp))


@dataclass(frozen=True)
class Line:
    """One line of an axis: the key values it shows (all of them for a group, a prefix for a
    subtotal, none for the grand total), the data rows it covers, and whether it is a total."""

    keys: tuple[Any, ...]
    rows: tuple[int, ...]
    total: bool


@dataclass(frozen=True)
class Axis:
    """How one axis is grouped: the key columns' values of every data row, the total depth (0
    none, 1/-1 the grand total at the end/start, ±d subtotals of the first d-1 key columns),
    the sort (signed 1-based columns: the key columns, then the value columns), and whether
    the keys are a table (``field_relationship`` 1) rather than a hierarchy."""

    keys: list[list[Any]]
    width: int
    depth: int
    sort: tuple[int, ...]
    table: bool = False

    def check(self, values: int, who: str) -> ExcelError | None:
        """The option errors (Excel's #VALUE!, module docstring)."""
        d = abs(self.depth)
        if d > 2 and d > self.width:
            return ExcelError("#VALUE!", f"{who}: a total depth of {self.depth} needs {d} key columns")
        if self.table and d > 1 and self.width > 1:
            return ExcelError("#VALUE!", f"{who}: subtotals need the hierarchy field relationship")
        for s in self.sort:
            if not 1 <= abs(s) <= self.width + values:
                return ExcelError("#VALUE!", f"{who}: sort order {s} is not a column of the result")
        if len(self.sort) > 1 and any(abs(s) > self.width for s in self.sort):
            return ExcelError("#VALUE!", f"{who}: several sort columns are taken for the key columns only")
        return None

    @property
    def subtotals(self) -> bool:
        return abs(self.depth) >= 2 and self.width >= 2

    def lines(self, kept: Sequence[int], measure: Callable[[Sequence[Sequence[int]], int], list[Any]]) -> list[Line]:
        """The axis's lines in order. ``measure(groups, j)`` is the aggregate of value column
        ``j`` over each group's rows (sorting by a value column)."""
        body = self._table(kept, measure) if self.table else self._level((), list(kept), 0, measure)
        if self.depth == 0:
            return body
        grand = Line((), tuple(kept), True)
        return [grand, *body] if self.depth < 0 else [*body, grand]

    def _groups(self, rows: Sequence[int], col: int) -> list[tuple[Any, list[int]]]:
        found: dict[tuple[Any, ...], tuple[Any, list[int]]] = {}
        for i in rows:
            v = self.keys[i][col]
            found.setdefault(key_of(v), (v, []))[1].append(i)
        return list(found.values())

    def _sorted(
        self,
        groups: list[tuple[Any, list[int]]],
        col: int,
        leaf: bool,
        measure: Callable[[Sequence[Sequence[int]], int], list[Any]],
    ) -> list[tuple[Any, list[int]]]:
        """Siblings in order: by each sort entry naming their key column or (at the deepest
        level) a value column, then by key ascending."""
        criteria: list[tuple[list[Any], bool]] = []  # one sort value per group, descending?
        for s in self.sort:
            c = abs(s) - 1
            if c == col:
                criteria.append(([g[0] for g in groups], s < 0))
            elif c >= self.width and leaf:
                criteria.append((measure([g[1] for g in groups], c - self.width), s < 0))
        criteria.append(([g[0] for g in groups], False))
        index = _ranked(len(groups), criteria)
        return [groups[i] for i in index]

    def _level(
        self, prefix: tuple[Any, ...], rows: list[int], col: int, measure: Callable[[Sequence[Sequence[int]], int], list[Any]]
    ) -> list[Line]:
        if col == self.width:
            return [Line(prefix, tuple(rows), False)]
        out: list[Line] = []
        sub = 1 <= col <= abs(self.depth) - 1
        if sub and self.depth < 0:
            out.append(Line(prefix, tuple(rows), True))
        for v, members in self._sorted(self._groups(rows, col), col, col == self.width - 1, measure):
            out.extend(self._level((*prefix, v), members, col + 1, measure))
        if sub and self.depth > 0:
            out.append(Line(prefix, tuple(rows), True))
        return out

    def _table(self, kept: Sequence[int], measure: Callable[[Sequence[Sequence[int]], int], list[Any]]) -> list[Line]:
        """Table relationship: the distinct full key rows sorted as flat rows by the sort
        entries, then by every key column ascending."""
        found: dict[tuple[Any, ...], tuple[tuple[Any, ...], list[int]]] = {}
        for i in kept:
            row = tuple(self.keys[i][: self.width])
            found.setdefault(tuple(key_of(v) for v in row), (row, []))[1].append(i)
        groups = list(found.values())
        criteria: list[tuple[list[Any], bool]] = []
        for s in self.sort:
            c = abs(s) - 1
            if c < self.width:
                criteria.append(([g[0][c] for g in groups], s < 0))
            else:
                criteria.append((measure([g[1] for g in groups], c - self.width), s < 0))
        criteria.extend(([g[0][c] for g in groups], False) for c in range(self.width))
        index = _ranked(len(groups), criteria)
        return [Line(groups[i][0], tuple(groups[i][1]), False) for i in index]


def label(line: Line, axis: Axis) -> list[Any]:
    """The key cells a line shows: its keys, blanks beyond a subtotal's prefix; the grand total
    "Total" ("Grand Total" where subtotals are shown)."""
    if line.total and not line.keys:
        return ["Grand Total" if axis.subtotals else "Total", *([None] * (axis.width - 1))]
    return [*line.keys, *([None] * (axis.width - len(line.keys)))]


# ----------------------------------------------------------------------------- arguments


def grid(value: Any) -> list[list[Any]]:
    """A host argument as rows (one value: one row of one)."""
    if isinstance(value, list):
        return [r if isinstance(r, list) else [r] for r in value]
    return [[value]]


def option(value: Any, default: int | None, who: str, what: str) -> int | ExcelError | None:
    """An integer option: omitted or blank -> ``default``; a number truncated; an error passed
    on; anything else #VALUE!."""
    if isinstance(value, list):
        value = grid(value)[0][0] if len(grid(value)) * len(grid(value)[0]) == 1 else value
    if value is None:
        return default
    if isinstance(value, ExcelError):
        return value
    if _num(value) or isinstance(value, bool):
        return int(value)
    return ExcelError("#VALUE!", f"{who}: {what} must be a number")


def sort_option(value: Any, who: str) -> tuple[int, ...] | ExcelError:
    """``sort_order``: one number or a vector of numbers (omitted: none given)."""
    if value is None:
        return ()
    cells = [v for row in grid(value) for v in row]
    out: list[int] = []
    for v in cells:
        if isinstance(v, ExcelError):
            return v
        if not _num(v) or int(v) == 0:
            return ExcelError("#VALUE!", f"{who}: sort_order holds {v!r}, not a column number")
        out.append(int(v))
    return tuple(out)


def kept_rows(filter_array: Any, count: int, first: int, who: str) -> list[int] | ExcelError:
    """The data rows ``filter_array`` keeps (rows ``first``..``count-1``: after a header row).
    Its first column is read (a wider array: Excel's cached values, LOOKUP!N93); an error among
    the data rows is that error (LOOKUP!N105); numbers are true when not 0, blanks false."""
    if filter_array is None:
        return list(range(first, count))
    mask = grid(filter_array)
    if len(mask) != count:
        return ExcelError("#VALUE!", f"{who}: filter_array has {len(mask)} rows, the fields {count}")
    out: list[int] = []
    for i in range(first, count):
        m = mask[i][0]
        if isinstance(m, ExcelError):
            return m
        if isinstance(m, str):
            return ExcelError("#VALUE!", f"{who}: filter_array holds the text {m!r}")
        if m:
            out.append(i)
    return out


def has_headers(values: list[list[Any]]) -> bool:
    """Automatic ``field_headers`` (Microsoft): headers when the first value is text and the
    second a number."""
    return len(values) > 1 and isinstance(values[0][0], str) and _num(values[1][0])
