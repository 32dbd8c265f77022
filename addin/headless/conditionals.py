"""COUNTIF(S), SUMIF(S), AVERAGEIF(S), MAXIFS and MINIFS where IronCalc 0.9.1 departs from Excel.

Two classes of calls, found on formulas' test book, are evaluated here as host functions; every
other call stays with the formula engine:

* **an array of criteria** (an array constant, or a multi-cell range in an array formula): Excel
  evaluates the function once for each criterion and returns the array of results, of the
  criteria's shape (several arrays of criteria broadcast as Excel broadcasts: a row or column
  repeats along the other side, ``#N/A`` beyond a smaller array). Microsoft, "COUNTIF
  function": "=SUM(COUNTIF(A2:A5,{"apples","peaches"}))"-style counts rely on it; Excel's cached
  values (``COUNTIF(F24:J24,{"*ao","","TRUE",TRUE,"*a?"})`` over AH24:AW24) show the array and
  the ``#N/A`` beyond it. IronCalc answers 0 (``#VALUE!`` for SUMIF);
* **a logical compared by order** (``"<=TRUE"``, ``">FALSE"``): Excel compares the logical
  cells of the range with the logical (FALSE < TRUE) and nothing else; IronCalc matches nothing.

The criteria rule (Microsoft, "COUNTIF function", "COUNTIFS function", "SUMIFS function",
"Using wildcard characters in criteria"; the blank and logical cases as Excel's cached values
show): a criterion is a value or a text ``[operator]operand``, the operator one of ``=``, ``<>``,
``<``, ``<=``, ``>``, ``>=`` (none: ``=``). The operand is a number if it reads as one (VALUE's
forms, :func:`addin.headless.numeric_text.text_number`), a logical if it is TRUE or FALSE (any
case), an error if it is an error's code, else text. A number, logical or error compares with
cells of the same type only; text compares case-insensitively with text cells, ``=`` and ``<>``
through the wildcards ``*``, ``?`` and ``~``. ``<>x`` is true for every cell ``=x`` is not (blank
cells and other types too). A criterion that is an empty cell is the number 0 (Microsoft,
COUNTIFS: "If the criteria argument is a reference to an empty cell, the COUNTIFS function treats
the empty cell as a 0 value"); the text ``""`` matches blank cells and empty text, ``"="`` blank
cells only, ``"<>"`` every cell that is not blank.

The ranges of one call must have the same rows and columns (else ``#VALUE!``, Microsoft,
SUMIFS: "The sum_range argument must have the same size and shape as the criteria_range");
SUMIF's and AVERAGEIF's optional range is read from its top-left cell in the shape of ``range``
(Microsoft, "SUMIF function"); where it is smaller the cells beyond it are not read here and the
call is ``#VALUE!`` with that reason. SUM and AVERAGE take the numbers of the matched cells (an
error among them is the result), AVERAGE of none ``#DIV/0!``, MAX and MIN of none 0 (Microsoft,
"MAXIFS function").
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from addin.headless.host import HostFunction
from addin.headless.numeric_text import text_number
from addin.headless.values import ERROR_CODES, ExcelError
from addin.headless.wildcards import Wildcard, compile_wildcard

Grid = list[list[Any]]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<>": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}
#: A criterion literal comparing a logical by order: IronCalc 0.9.1 matches nothing for it.
_LOGICAL_ORDER = re.compile(r'"\s*(?:<=|>=|<|>)\s*(?:TRUE|FALSE)\s*"', re.I)
#: A whole column or row (``A:A``, ``1:3``): left to the engine's own cut (extent.py), never read here.
_WHOLE = re.compile(
    r"(?<![A-Za-z0-9_.])\$?[A-Za-z]{1,3}\s*:\s*\$?[A-Za-z]{1,3}(?![A-Za-z0-9_(])|(?<![A-Za-z0-9_.$])\$?\d+\s*:\s*\$?\d+(?![\d.])"
)


@dataclass(frozen=True)
class Criterion:
    """One criterion, parsed once: ``op`` one of ``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``;
    ``operand`` a float, bool, :class:`ExcelError` or str; ``bare``: the text had no operator."""

    op: str
    operand: Any
    bare: bool = False
    pattern: Wildcard | None = None

    def matches(self, cell: Any) -> bool:
        """Whether a cell's value meets the criterion (module docstring)."""
        op, x = self.op, self.operand
        if op == "<>":
            return not Criterion("=", x, self.bare, self.pattern).matches(cell)
        if isinstance(x, str):
            if x == "":
                # "" (bare): blank cells and empty text; "=": blank cells only; "<" etc.: nothing
                return op == "=" and (cell is None or (self.bare and cell == ""))
            if not isinstance(cell, str):
                return False
            if op == "=":
                return self.pattern is not None and self.pattern.fullmatch(cell)
            return _OPS[op](cell.casefold(), x.casefold())
        if isinstance(x, bool):
            return isinstance(cell, bool) and _OPS[op](cell, x)
        if isinstance(x, ExcelError):
            return op == "=" and isinstance(cell, ExcelError) and cell.code == x.code
        if cell is None or isinstance(cell, (bool, str, ExcelError)):
            return False
        return bool(_OPS[op](float(cell), x))


def criterion(value: Any) -> Criterion:
    """A criterion value (a cell's, an array element's or a literal's) parsed (module docstring)."""
    if value is None:
        return Criterion("=", 0.0)  # an empty cell as the criterion is 0 (Microsoft, COUNTIFS)
    if isinstance(value, (bool, ExcelError)):
        return Criterion("=", value)
    if isinstance(value, (int, float)):
        return Criterion("=", float(value))
    text = str(value)
    op = next((o for o in ("<=", ">=", "<>", "<", ">", "=") if text.startswith(o)), "")
    rest = text[len(op) :]
    operand: Any
    number = text_number(rest) if rest.strip() else None
    if number is not None:
        operand = number
    elif rest.strip().upper() in ("TRUE", "FALSE"):
        operand = rest.strip().upper() == "TRUE"
    elif rest.strip().upper() in ERROR_CODES:
        operand = ExcelError(rest.strip().upper())
    else:
        operand = rest
    pattern = compile_wildcard(operand) if isinstance(operand, str) and operand else None
    return Criterion(op or "=", operand, bare=not op, pattern=pattern)


def _grid(value: Any) -> Grid:
    """An argument as rows of values (one cell or a scalar: one row of one)."""
    if isinstance(value, list):
        return [row if isinstance(row, list) else [row] for row in value]
    return [[value]]


def _shape(g: Grid) -> tuple[int, int]:
    return len(g), max((len(row) for row in g), default=0)


def _at(g: Grid, i: int, j: int) -> Any:
    """Element (i, j) of a criteria array under Excel's broadcast: a single row or column
    repeats; beyond a smaller array #N/A."""
    ii = 0 if len(g) == 1 else i
    jj = 0 if len(g[0]) == 1 else j
    return g[ii][jj] if ii < len(g) and jj < len(g[ii]) else ExcelError("#N/A")


@dataclass(frozen=True)
class _Form:
    """Where a function's arguments are: ``target`` the range aggregated (None: count),
    the (range, criterion) pairs, and the aggregation."""

    name: str
    aggregate: str  # "count", "sum", "average", "max", "min"
    ifs: bool  # *IFS: target first, then pairs; else range, criterion[, target]


def _split(form: _Form, args: list[Any]) -> tuple[Any, list[tuple[Any, Any]], bool] | ExcelError:
    """(target, pairs, target_resized) from a call's arguments, or #VALUE! for a wrong count."""
    if form.ifs:
        first = 0 if form.aggregate == "count" else 1
        rest = args[first:]
        if not rest or len(rest) % 2:
            return ExcelError("#VALUE!", f"{form.name} takes pairs of criteria_range, criteria")
        pairs = list(zip(rest[::2], rest[1::2], strict=True))
        return (args[0] if first else None), pairs, False
    if len(args) not in ((2,) if form.aggregate == "count" else (2, 3)):
        return ExcelError("#VALUE!", f"{form.name} takes range, criteria" + ("" if form.aggregate == "count" else ", [range]"))
    target = None if form.aggregate == "count" else (args[2] if len(args) == 3 and args[2] is not None else args[0])
    return target, [(args[0], args[1])], len(args) == 3


def _evaluate_one(form: _Form, args: list[Any]) -> Any:
    split = _split(form, args)
    if isinstance(split, ExcelError):
        return split
    target, pairs, resized = split
    ranges = [_grid(r) for r, _ in pairs]
    shape = _shape(ranges[0])
    if any(_shape(g) != shape for g in ranges):
        return ExcelError("#VALUE!", f"{form.name}: the criteria ranges differ in size")
    values: Grid | None = None
    if target is not None:
        values = _grid(target)
        vh, vw = _shape(values)
        if resized:  # SUMIF/AVERAGEIF: the top-left cell of the range, in the shape of `range`
            if vh < shape[0] or vw < shape[1]:
                return ExcelError("#VALUE!", f"{form.name}: the cells of its last range beyond the given ones are not read here")
            values = [row[: shape[1]] for row in values[: shape[0]]]
        elif (vh, vw) != shape:
            return ExcelError("#VALUE!", f"{form.name}: its range and the criteria ranges differ in size")
    crits = [_grid(c) for _, c in pairs]
    arrays = [g for g in crits if _shape(g) != (1, 1)]
    if not arrays:
        return _aggregate(form, ranges, [criterion(g[0][0]) for g in crits], values)
    h = max(len(g) for g in arrays)
    w = max(len(g[0]) for g in arrays)
    out: Grid = []
    for i in range(h):
        row = []
        for j in range(w):
            elems = [_at(g, i, j) for g in crits]
            missing = next((e for g, e in zip(crits, elems, strict=True) if _shape(g) != (1, 1) and _beyond(g, i, j)), None)
            row.append(missing if missing is not None else _aggregate(form, ranges, [criterion(e) for e in elems], values))
        out.append(row)
    return out


def _beyond(g: Grid, i: int, j: int) -> bool:
    return (len(g) > 1 and i >= len(g)) or (len(g[0]) > 1 and j >= len(g[0]))


def _aggregate(form: _Form, ranges: list[Grid], crits: list[Criterion], values: Grid | None) -> Any:
    """The aggregate over the cells where every criterion holds on its range."""
    h, w = _shape(ranges[0])
    hits = [
        (i, j)
        for i in range(h)
        for j in range(w)
        if all(c.matches(g[i][j] if j < len(g[i]) else None) for g, c in zip(ranges, crits, strict=True))
    ]
    if form.aggregate == "count":
        return float(len(hits))
    assert values is not None
    numbers: list[float] = []
    for i, j in hits:
        v = values[i][j] if j < len(values[i]) else None
        if isinstance(v, ExcelError):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            numbers.append(float(v))
    if form.aggregate == "sum":
        return float(sum(numbers))
    if form.aggregate == "average":
        return sum(numbers) / len(numbers) if numbers else ExcelError("#DIV/0!", f"{form.name}: no cell meets the criteria")
    if not numbers:
        return 0.0
    return max(numbers) if form.aggregate == "max" else min(numbers)


_FORMS = {
    "COUNTIF": _Form("COUNTIF", "count", False),
    "SUMIF": _Form("SUMIF", "sum", False),
    "AVERAGEIF": _Form("AVERAGEIF", "average", False),
    "COUNTIFS": _Form("COUNTIFS", "count", True),
    "SUMIFS": _Form("SUMIFS", "sum", True),
    "AVERAGEIFS": _Form("AVERAGEIFS", "average", True),
    "MAXIFS": _Form("MAXIFS", "max", True),
    "MINIFS": _Form("MINIFS", "min", True),
}
#: The functions of this module, by bare upper-case name.
CONDITIONALS = frozenset(_FORMS)
_MAX_ARGS = 255  # Excel's limit on a function's arguments


def criteria_positions(name: str) -> frozenset[int]:
    """The 0-based positions of the criteria arguments of ``name`` (one value each)."""
    form = _FORMS[name]
    if not form.ifs:
        return frozenset({1})
    first = 0 if form.aggregate == "count" else 1
    return frozenset(range(first + 1, _MAX_ARGS, 2))


def _range_positions(name: str, n: int) -> list[int]:
    crit = criteria_positions(name)
    return [k for k in range(n) if k not in crit]


def _takes(name: str) -> Callable[[list[tuple[str, str]]], bool]:
    crit = criteria_positions(name)

    def takes(args: list[tuple[str, str]]) -> bool:
        """Calls with an array of criteria or a logical compared by order (module docstring),
        whose ranges are bounded references; every other call stays with the formula engine."""
        if any(
            k not in ("cell", "range") or _WHOLE.search(t)
            for k, t in (args[p] for p in _range_positions(name, len(args)) if args[p][0] != "empty")
        ):
            return False
        return any(
            k in ("array", "range") or (k == "literal" and _LOGICAL_ORDER.fullmatch(t.strip()) is not None)
            for p, (k, t) in enumerate(args)
            if p in crit
        )

    return takes


def _evaluator(form: _Form) -> Callable[[list[list[Any]]], list[Any]]:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        return [_evaluate_one(form, args) for args in calls]

    return evaluate


def conditional_functions() -> dict[str, HostFunction]:
    """The host functions, by bare upper-case name; the criteria are one-value parameters
    (:attr:`~addin.headless.host.HostFunction.scalars`): a range of criteria in a plain formula is
    Excel's implicit intersection, in an array formula each criterion's result."""
    return {
        name: HostFunction(name, _evaluator(form), _takes(name), scalars=criteria_positions(name))
        for name, form in _FORMS.items()
    }


__all__ = ["CONDITIONALS", "Criterion", "conditional_functions", "criteria_positions", "criterion"]
