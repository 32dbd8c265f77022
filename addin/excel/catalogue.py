"""The catalogue as the headless engine's function table (the only place that knows both).

:func:`function_table` maps every spelling Excel may have written into a file (``CQ_BLACK``,
``CQ.BLACK``, ``_xludf.CQ_BLACK``, ...; :mod:`udfs.names`) to a
:class:`~addin.headless.HostFunction`. The engine hands each function all its calls of a pass;
calls whose row-wise arguments (``Spec.rows``) are one row each and whose other arguments are
equal are **stacked** into one call of the catalogue function (one numpy evaluation for a
column of 10,000 ``CQ_BLACK`` or ``CQ_RFQ`` rows); the rest are called one by one. A catalogue
error keeps its reason, so the CLI can say why a cell failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from addin.headless import ExcelError, HostFunction
from addin.headless.formula import bare_name

if TYPE_CHECKING:
    from udfs.catalogue import Spec


def _has_error(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_error(v) for v in value)
    return isinstance(value, ExcelError)


def _to_udf(value: Any) -> Any:
    """Engine values as the catalogue takes them (errors as ``udfs.excel.XlError``)."""
    if not _has_error(value):
        return value  # the common case: nothing to convert, no copy
    from udfs.excel import ERROR_CODES as UDF_ERRORS
    from udfs.excel import XlError as UdfError

    if isinstance(value, ExcelError):
        code = value.code if value.code in UDF_ERRORS else "#VALUE!"
        return UdfError(code, value.reason or ("" if code == value.code else f"{value.code} in the input"))
    return [_to_udf(v) for v in value]


def _from_udf(value: Any) -> Any:
    """A catalogue result as the engine takes it (errors as :class:`ExcelError`, non-finite as #NUM!)."""
    if isinstance(value, list):
        return [_from_udf(v) for v in value] if any(isinstance(v, list) or _special(v) for v in value) else value
    if _special(value):
        from udfs.excel import XlError as UdfError

        if isinstance(value, UdfError):
            return ExcelError(str(value), value.reason)
        return ExcelError("#NUM!", "not a finite number")
    return value


def _special(v: Any) -> bool:
    return (isinstance(v, str) and hasattr(v, "reason")) or (isinstance(v, float) and not math.isfinite(v))


def _one_row(value: Any) -> list[Any] | None:
    """A row-wise argument as one row of values, or None if it is not one row."""
    if not isinstance(value, list):
        return [value]
    if len(value) == 1 and isinstance(value[0], list):
        return list(value[0])
    return None


def host(spec: Spec) -> Callable[[list[list[Any]]], list[Any]]:
    """``spec`` as a host function: all calls of a pass in, one result per call out."""
    from udfs.catalogue import safe

    call = safe(spec)
    rows = [i for i, a in enumerate(spec.args) if a.name in spec.rows]

    row_set = frozenset(rows)

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = [None] * len(calls)
        if rows and len(calls) > 1 and _one_group(calls, row_set):
            # a column filled down: the grouping below would put every call into one group
            if not _stack(spec, call, rows, calls, list(range(len(calls))), out):
                out = [_from_udf(call(*args)) for args in calls]
            return out
        groups: dict[Any, list[int]] = {}
        for k, args in enumerate(calls):
            if rows and not any(isinstance(a, (list, ExcelError)) for a in args):
                # one value per argument (a column of CQ_BLACK rows): grouped by the shared ones
                shared = (len(args), *(a for i, a in enumerate(args) if i not in row_set))
                try:
                    groups.setdefault(shared, []).append(k)
                    continue
                except TypeError:  # an unhashable value: the general path
                    pass
            args = [_to_udf(a) for a in args]
            calls[k] = args
            if rows and all(i >= len(args) or _one_row(args[i]) is not None for i in rows):
                shared_repr = repr((len(args), [a for i, a in enumerate(args) if i not in rows]))
                groups.setdefault(shared_repr, []).append(k)
            else:
                out[k] = _from_udf(call(*args))
        for members in groups.values():
            if len(members) == 1 or not _stack(spec, call, rows, calls, members, out):
                for k in members:
                    out[k] = _from_udf(call(*calls[k]))
        return out

    return evaluate


#: Argument values the grouping of ``evaluate`` treats as one value a row (no list, no error).
_SCALARS = frozenset({float, int, str, bool, type(None)})


def _one_group(calls: list[list[Any]], row_set: frozenset[int]) -> bool:
    """Whether ``evaluate``'s grouping would put every call into one stacked group: each call
    has the same number of arguments, every value is a plain scalar (no range, no error), and
    each shared (not row-wise) argument is the same in every call.

    Notes
    -----
    Checked a column at a time in C (``zip``, ``map``, ``list.count``: no Python step per
    call). ``list.count`` compares as the grouping's dict key does (identity, then ``==``), so
    a NaN object repeated is one value and two NaN objects are not; anything not proven one
    group goes through the grouping.
    """
    if len(set(map(len, calls))) != 1:
        return False
    for i, column in enumerate(zip(*calls)):
        if not set(map(type, column)) <= _SCALARS:
            return False
        if i not in row_set and list(column).count(column[0]) != len(column):
            return False
    return True


def _stack(
    spec: Spec, call: Callable[..., Any], rows: list[int], calls: list[list[Any]], members: list[int], out: list[Any]
) -> bool:
    from udfs.excel import XlError as UdfError

    first = calls[members[0]]
    args = list(first)
    columns = list(zip(*(calls[k] for k in members), strict=True))  # one tuple per argument
    for i in rows:
        if i < len(args):
            args[i] = [_one_row(v) if isinstance(v, list) else [v] for v in columns[i]]
    if not spec.stackable(*args):
        return False
    result = call(*args)
    if isinstance(result, list) and len(result) == 1 and len(members) > 1 and isinstance(result[0], list) and len(result[0]) == 1:
        if isinstance(result[0][0], UdfError):  # one error for the whole call: a bad shared argument
            for k in members:
                out[k] = _from_udf(result[0][0])
            return True
    if not (isinstance(result, list) and len(result) == len(members)):
        return False
    for k, row in zip(members, result):
        if type(row) is list and len(row) == 1 and type(row[0]) is float and math.isfinite(row[0]):
            out[k] = row[0]  # the common row: one finite number, nothing to convert
        else:
            out[k] = _from_udf([row] if isinstance(row, list) else row)
    return True


#: Called once, just before the catalogue (and with it the pricing engine) is first imported.
ON_LOAD: list[Callable[[], None]] = []

#: Every catalogue spelling starts with one of these (``CQ_BLACK``, ``CQ.BLACK``, ``CQ_DEV.BLACK``);
#: a test checks it against ``udfs.catalogue.PREFIX``.
PREFIXES = ("CQ_", "CQ.")


class CatalogueFunctions(Mapping[str, HostFunction]):
    """The catalogue's function table, imported on the first name that could be one of ours.

    ``validate`` of a book without catalogue calls never imports the pricing engine or numba:
    a name without the catalogue's prefix is answered without loading anything.
    """

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.upper().startswith(PREFIXES) and key.upper() in function_table()

    def __getitem__(self, key: str) -> HostFunction:
        return function_table()[key.upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(function_table())

    def __len__(self) -> int:
        return len(function_table())


#: The catalogue's arguments read as Excel date serials (``udfs.excel.to_datetime``/``dates``):
#: an as-of time and expiries. A test holds every argument documented as an "Excel date" to it.
DATE_ARGUMENTS = frozenset({"as_of", "expiry", "far_expiry"})


def date_positions(spec: Spec) -> frozenset[int]:
    """Positions (0-based) of ``spec``'s date arguments: a 1904 book's engine moves them into
    the 1900 system the catalogue reads (``HostFunction.dates``)."""
    return frozenset(i for i, a in enumerate(spec.args) if a.name in DATE_ARGUMENTS)


@cache
def function_table() -> dict[str, HostFunction]:
    """Every file spelling of every catalogue function -> its host function (bare upper-case keys)."""
    while ON_LOAD:
        ON_LOAD.pop(0)()
    import udfs  # noqa: F401 - registers the catalogue
    from udfs.catalogue import CATALOGUE
    from udfs.names import NAME_TABLE

    hosts = {name: HostFunction(spec.desktop_name, host(spec), dates=date_positions(spec)) for name, spec in CATALOGUE.items()}
    return {bare_name(spelling): hosts[name] for spelling, name in NAME_TABLE.items()}


def signatures() -> list[tuple[str, str, str]]:
    """(category, ``CQ_NAME(args)`` with optional arguments in brackets, summary) of every
    catalogue function, sorted: what ``clearquote functions`` lists."""
    import udfs  # noqa: F401 - registers the catalogue
    from udfs.catalogue import CATALOGUE

    out = []
    for spec in sorted(CATALOGUE.values(), key=lambda s: (s.category, s.name)):
        args = ", ".join(f"[{a.name}]" if a.optional else a.name for a in spec.args)
        stack = " (stacks down a column)" if spec.rows else ""
        out.append((spec.category, f"{spec.desktop_name}({args}){stack}", spec.summary))
    return out


CATALOGUE_FUNCTIONS = CatalogueFunctions()
