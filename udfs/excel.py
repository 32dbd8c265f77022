"""Excel values in and out: coercion of cells and ranges, per-cell errors, tables, parameters.

What the hosts pass to a catalogue function (xlwings COM, xlwings Server, the headless
engine, plain Python): ``None`` for a blank, ``float``/``int``/``bool``/``str``, a
``datetime`` for a date cell, an error as its Excel text (``"#N/A"``) or ``None``, and a
2-D list (rows of cells) for a range. Everything here turns those into numpy arrays plus a
per-cell error array, and back.

Two kinds of failure, kept apart on purpose:

- a bad **element** (one strike is text, one vol is negative) becomes an :class:`XlError`
  in that cell of the result only: a ``str`` whose value is the Excel error code
  (``"#NUM!"``) and whose ``reason`` says why;
- a bad **argument as a whole** (an unknown model, a table with no rows, ranges of
  mismatched sizes) raises :class:`InputError`; each host shows its message in the cell.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

ERROR_CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!", "#BUSY!")
EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)


def to_serial(stamp: datetime) -> float:
    """A UTC datetime as an Excel date serial (days since 1899-12-30, fraction = time)."""
    return (stamp - EXCEL_EPOCH).total_seconds() / 86400.0


# Excel serials of 1990-01-01 and 2200-01-01: a date outside is almost surely a wrong cell.
SERIAL_MIN, SERIAL_MAX = 32874.0, 109574.0


class InputError(ValueError):
    """An argument that is wrong as a whole; the message names it and the allowed values."""


#: The longest reason a cell carries: a message never reprints a user's 50 MB argument.
MAX_REASON = 300


class XlError(str):
    """A per-cell Excel error: equal to its code (``"#NUM!"``), carrying the reason (at most
    :data:`MAX_REASON` characters)."""

    reason: str

    def __new__(cls, code: str, reason: str = "") -> XlError:
        if code not in ERROR_CODES:
            raise ValueError(f"not an Excel error code: {code!r}")
        obj = super().__new__(cls, code)
        obj.reason = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
        return obj

    def __repr__(self) -> str:
        return f"XlError({str(self)!r}, {self.reason!r})"

    def text(self) -> str:
        """``"#NUM! vol: must be > 0"``: the form shown where real error values are impossible."""
        return f"{self}{' ' + self.reason if self.reason else ''}"


def is_error(value: Any) -> bool:
    """True for an :class:`XlError` or an Excel error text such as ``"#N/A"``."""
    return isinstance(value, str) and value.strip().upper() in ERROR_CODES


def _as_error(value: str, field: str) -> XlError:
    if isinstance(value, XlError):
        return value
    return XlError(value.strip().upper(), f"{field}: the input cell is {value.strip().upper()}")


def grid(value: Any) -> list[list[Any]]:
    """Any Excel argument as a list of rows (a scalar becomes 1 x 1)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if not value:
            return [[None]]
        if isinstance(value[0], (list, tuple, np.ndarray)):
            # set(map(...)) runs in C: a 1,000-row range is checked on every per-row formula.
            if set(map(type, value)) == {list} and len(set(map(len, value))) == 1:
                return value  # already rows of one width (what xlwings passes): no copy of a large range
            rows = [list(r) for r in value]
            width = max(len(r) for r in rows)
            return [r + [None] * (width - len(r)) for r in rows]
        return [list(value)]  # a 1-D list is one row, as xlwings passes a row range
    return [[value]]


def is_blank(value: Any) -> bool:
    """An empty cell: None or an empty/whitespace string."""
    return value is None or (isinstance(value, str) and value.strip() == "")


@dataclass(frozen=True)
class Field:
    """One argument as a 2-D array of values and a same-shape array of errors (None = fine)."""

    name: str
    values: np.ndarray
    errors: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape  # type: ignore[return-value]


def _cells(value: Any, name: str, convert: Any, dtype: Any, fill: Any) -> Field:
    rows = grid(value)
    shape = (len(rows), len(rows[0]))
    out = np.full(shape, fill, dtype=dtype)
    errs = np.full(shape, None, dtype=object)
    # A range repeats its values (a column of "C", one date down 100,000 rows): each distinct
    # cell is converted once, keyed by type, value and the sign of a float (1, 1.0 and TRUE stay
    # apart, and so do 0.0 and -0.0, which compare equal).
    seen: dict[tuple[type, Any, float], tuple[Any, XlError | None]] = {}
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            try:
                # An error cell is its own key: two #N/A cells may carry different reasons.
                key = (
                    None
                    if isinstance(cell, XlError)
                    else (type(cell), cell, math.copysign(1.0, cell) if isinstance(cell, float) else 1.0)
                )
                done = None if key is None else seen.get(key)
            except TypeError:  # an unhashable cell (a nested list): converted on its own
                key, done = None, None
            if done is None:
                done = _convert_cell(cell, name, convert, fill)
                if key is not None:
                    seen[key] = done
            out[i, j], errs[i, j] = done
    return Field(name, out, errs)


def _convert_cell(cell: Any, name: str, convert: Any, fill: Any) -> tuple[Any, XlError | None]:
    """(converted value, None), or (``fill``, the error) for a cell that does not convert."""
    if is_error(cell):
        return fill, _as_error(cell, name)
    try:
        return convert(cell), None
    except _CellProblem as exc:
        return fill, XlError(exc.code, f"{name}: {exc}")


class _CellProblem(Exception):
    def __init__(self, message: str, code: str = "#VALUE!") -> None:
        super().__init__(message)
        self.code = code


#: The largest magnitude a number in a table or a numeric argument may have (quantities,
#: notionals, strikes, sizes, ratios):
#: 1e308 contracts overflowed margin and quote arithmetic to inf. Far above any real book
#: (1e15 contracts, or USD) and far enough below overflow for every product the engine forms.
MAX_MAGNITUDE = 1e15


def _describe(cell: Any) -> str:
    if isinstance(cell, bool):
        return "TRUE/FALSE"
    if isinstance(cell, str):
        return f"the text {cell[:60]!r}{'…' if len(cell) > 60 else ''}"
    return f"{type(cell).__name__} {repr(cell)[:60]}"


def numbers(
    value: Any,
    name: str,
    *,
    default: float | None = None,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    unit: str = "",
) -> Field:
    """Numeric cells; blanks take ``default`` (an error if None); bounds give ``#NUM!``.

    ``lo``/``hi`` are inclusive unless ``lo_open``; text, TRUE/FALSE and dates are ``#VALUE!``
    (Excel's own functions coerce some of them; a pricing input must not).
    """
    suffix = f" ({unit})" if unit else ""
    fast = _plain_numbers(value, name, lo, lo_open, hi)
    if fast is not None:
        return fast

    def convert(cell: Any) -> float:
        if is_blank(cell):
            if default is None:
                raise _CellProblem(f"the cell is blank; a number is required{suffix}")
            return float(default)
        if isinstance(cell, bool) or not isinstance(cell, (int, float, np.integer, np.floating)):
            raise _CellProblem(f"{_describe(cell)} where a number belongs{suffix}")
        try:
            x = float(cell)
        except OverflowError:
            raise _CellProblem(f"an integer of {len(str(abs(int(cell))))} digits is beyond a float{suffix}", "#NUM!") from None
        if not math.isfinite(x):
            raise _CellProblem(f"{x} is not a finite number", "#NUM!")
        if abs(x) > MAX_MAGNITUDE:
            raise _CellProblem(f"{x:g} is beyond ±{MAX_MAGNITUDE:g} (the largest number an argument takes)", "#NUM!")
        if lo is not None and (x <= lo if lo_open else x < lo):
            raise _CellProblem(f"{x:g} must be {'>' if lo_open else '>='} {lo:g}{suffix}", "#NUM!")
        if hi is not None and x > hi:
            raise _CellProblem(f"{x:g} must be <= {hi:g}{suffix}", "#NUM!")
        return x

    return _cells(value, name, convert, float, np.nan)


def _plain_numbers(value: Any, name: str, lo: float | None, lo_open: bool, hi: float | None) -> Field | None:
    """The common case of :func:`numbers` in one step: every cell a finite float within the
    bounds (a column of 10,000 strikes); None sends anything else through the per-cell checks,
    which say what is wrong with which cell."""
    rows = grid(value)
    if not all(type(c) is float for row in rows for c in row):
        return None
    arr = np.array(rows, dtype=float)
    ok = np.isfinite(arr) & (np.abs(arr) <= MAX_MAGNITUDE)
    if lo is not None:
        ok &= arr > lo if lo_open else arr >= lo
    if hi is not None:
        ok &= arr <= hi
    if not ok.all():
        return None
    return Field(name, arr, np.full(arr.shape, None, dtype=object))


def choices(value: Any, name: str, allowed: Mapping[str, Any], *, default: str | None = None) -> Field:
    """Case-insensitive enum cells; an unknown value's error lists the allowed ones."""
    table = {k.strip().lower(): v for k, v in allowed.items()}
    listing = ", ".join(dict.fromkeys(allowed))

    def convert(cell: Any) -> Any:
        if is_blank(cell):
            if default is None:
                raise _CellProblem(f"the cell is blank; use one of {listing}")
            cell = default
        key = str(cell).strip().lower() if not isinstance(cell, float) or not cell.is_integer() else str(int(cell))
        if key not in table:
            raise _CellProblem(f"{cell!r} is not one of {listing}")
        return table[key]

    return _cells(value, name, convert, object, None)


def to_datetime(cell: Any, name: str, *, default_hour: int = 0) -> datetime:
    """A date cell: an Excel serial (days since 1899-12-30, fraction = time of day, UTC),
    a datetime/date (naive = UTC) or ISO 8601 text. A whole-day value gets ``default_hour``."""
    if isinstance(cell, datetime):
        stamp = cell if cell.tzinfo else cell.replace(tzinfo=UTC)
        whole = stamp.hour == stamp.minute == stamp.second == 0
    elif isinstance(cell, date):
        stamp, whole = datetime(cell.year, cell.month, cell.day, tzinfo=UTC), True
    elif isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, bool):
        try:
            x = float(cell)
        except OverflowError:
            x = math.inf
        if not (SERIAL_MIN <= x <= SERIAL_MAX):
            raise _CellProblem(f"{x:g} is not a date serial between 1990 and 2200", "#NUM!")
        stamp, whole = EXCEL_EPOCH + timedelta(days=x), float(x).is_integer()
    elif isinstance(cell, str) and cell.strip():
        try:
            stamp = datetime.fromisoformat(cell.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _CellProblem(f"{cell!r} is not a date (an Excel date, or ISO text 2026-10-30T08:00Z)") from None
        whole = len(cell.strip()) <= 10
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    elif is_blank(cell):
        raise _CellProblem("the cell is blank; a date is required")
    else:
        raise _CellProblem(f"{_describe(cell)} where a date belongs")
    stamp = stamp.astimezone(UTC)
    # One domain whatever the form: text and datetimes are held to the serials' range too
    # (an ISO 9999-12-31 was accepted while the serial 2958465 was not).
    serial = (stamp - EXCEL_EPOCH).total_seconds() / 86400.0
    if not (SERIAL_MIN <= serial <= SERIAL_MAX):
        raise _CellProblem(f"{stamp:%Y-%m-%d} is not a date between 1990 and 2200", "#NUM!")
    return stamp.replace(hour=default_hour) if whole and default_hour else stamp


def dates(value: Any, name: str, *, default_hour: int = 0) -> Field:
    """Date cells as UTC datetimes (see :func:`to_datetime`); a column repeating a few expiries
    converts each distinct serial once."""
    seen: dict[float, datetime] = {}

    def convert(c: Any) -> datetime:
        if type(c) is not float:
            return to_datetime(c, name, default_hour=default_hour)
        stamp = seen.get(c)
        if stamp is None:
            stamp = seen[c] = to_datetime(c, name, default_hour=default_hour)
        return stamp

    return _cells(value, name, convert, object, None)


#: Result cells one call may broadcast to (a column of 3,000 forwards against a row of 3,000
#: strikes is 9,000,000: 161 MB of answer for a 58 KB request). Checked from the shapes, before any work.
MAX_RESULT_CELLS = 1_000_000


def broadcast(*fields: Field, columns: int = 1) -> tuple[tuple[int, int], list[np.ndarray], np.ndarray]:
    """Excel-style broadcast of same-size ranges, single rows/columns and single cells.

    ``columns`` is the caller's result columns per broadcast cell (``Spec.columns``: 5 for
    CQ_BLACK_GREEKS): the limit applies to cells x columns, before any work.

    Returns the shape, the broadcast values and one merged error array (first error wins).
    Ranges that cannot be lined up raise :class:`InputError` naming them.
    """
    rows = {f.shape[0] for f in fields} - {1}
    cols = {f.shape[1] for f in fields} - {1}
    if len(rows) > 1 or len(cols) > 1:
        sizes = ", ".join(f"{f.name} {f.shape[0]}x{f.shape[1]}" for f in fields if f.shape != (1, 1))
        raise InputError(
            f"ranges of different sizes ({sizes}); give ranges of the same size, a single row/column to repeat, or one cell"
        )
    shape = (rows.pop() if rows else 1, cols.pop() if cols else 1)
    if shape[0] * shape[1] * columns > MAX_RESULT_CELLS:
        each = f" x {columns} result columns" if columns > 1 else ""
        raise InputError(
            f"the ranges broadcast to {shape[0]:,} x {shape[1]:,}{each} = {shape[0] * shape[1] * columns:,} cells; "
            f"the limit is {MAX_RESULT_CELLS:,} result cells per call"
        )
    values = [np.broadcast_to(f.values, shape) for f in fields]
    errors = np.full(shape, None, dtype=object)
    for f in reversed(fields):
        e = np.broadcast_to(f.errors, shape)
        errors = np.where(e != None, e, errors)  # noqa: E711 (element-wise test on an object array)
    return shape, values, errors


def output(
    values: np.ndarray,
    errors: np.ndarray | None = None,
    reasons: np.ndarray | None = None,
    *,
    nan_reason: str = "no finite result: the inputs are outside the method's range (overflow)",
    positive: str | None = None,
) -> list[list[Any]]:
    """A 2-D float array (plus per-cell errors) as the 2-D list the hosts write back.

    NaN or infinite cells without an error become ``#NUM!`` with the engine's reason for that
    cell (``reasons``, broadcast to the values' shape; an engine's "ok" is no reason) or
    ``nan_reason``; with ``positive`` (the reason), a result <= 0 is ``#NUM!`` too (a vol, a
    price of a positive kind): a number is never shown for an input the engine could not price.
    """
    vals = np.atleast_2d(np.asarray(values, dtype=float))
    if (errors is None or not np.any(np.asarray(errors, dtype=object) != None)) and np.isfinite(vals).all():  # noqa: E711
        if positive is None or (vals > 0).all():
            return vals.tolist()  # the common case: every cell a finite number, no error
    errs = np.full(vals.shape, None, dtype=object) if errors is None else np.broadcast_to(errors, vals.shape)
    has_error = errs != None  # noqa: E711
    out = vals.astype(object)  # Python floats
    bad = ~has_error & ~np.isfinite(vals)
    if bad.any():
        # One XlError per distinct reason, shared by its cells (an XlError is an immutable text).
        if reasons is None:
            texts: list[Any] = [nan_reason] * int(bad.sum())
        else:
            why = np.broadcast_to(np.asarray(reasons, dtype=object), vals.shape)[bad].tolist()
            texts = [str(w) if w and str(w) != "ok" else nan_reason for w in why]
        made = {t: XlError("#NUM!", t) for t in set(texts)}
        out[bad] = np.array([made[t] for t in texts], dtype=object)
    if positive is not None:
        low = ~has_error & np.isfinite(vals) & (vals <= 0)
        if low.any():
            out[low] = XlError("#NUM!", positive)
    out[has_error] = errs[has_error]
    return out.tolist()  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- scalars


def scalar(value: Any, name: str) -> Any:
    """A single-cell argument (a 1 x 1 range is unwrapped); a bigger range is an InputError."""
    rows = grid(value)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise InputError(f"{name}: expected one cell, got a {len(rows)}x{len(rows[0])} range")
    cell = rows[0][0]
    if is_error(cell):
        raise InputError(f"{name}: the input cell is {str(cell).strip().upper()}")
    return cell


def scalar_number(
    value: Any,
    name: str,
    *,
    default: float | None = None,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    unit: str = "",
) -> float:
    """One number (blank = ``default``), with the same checks as :func:`numbers`."""
    f = numbers(scalar(value, name), name, default=default, lo=lo, lo_open=lo_open, hi=hi, unit=unit)
    if f.errors[0, 0] is not None:
        raise InputError(f.errors[0, 0].reason)
    return float(f.values[0, 0])


def scalar_int(value: Any, name: str, *, default: int, lo: int, hi: int) -> int:
    x = scalar_number(value, name, default=default, lo=lo, hi=hi)
    if not float(x).is_integer():
        raise InputError(f"{name}: {x:g} must be a whole number between {lo} and {hi}")
    return int(x)


def scalar_choice(value: Any, name: str, allowed: Mapping[str, Any], *, default: str | None) -> Any:
    """One case-insensitive enum value (blank = ``default``; an error if None)."""
    f = choices(scalar(value, name), name, allowed, default=default)
    if f.errors[0, 0] is not None:
        raise InputError(f.errors[0, 0].reason)
    return f.values[0, 0]


def titled(headers: Any, columns: Sequence[str], rows: list[list[Any]], *, default: bool) -> list[list[Any]]:
    """``rows`` under a header row of ``columns`` if the ``headers`` argument (TRUE/FALSE) says so."""
    return [list(columns), *rows] if scalar_bool(headers, "headers", default=default) else rows


BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def scalar_bool(value: Any, name: str, *, default: bool) -> bool:
    """TRUE/FALSE (also 1/0, yes/no); blank = ``default``."""
    cell = scalar(value, name)
    if is_blank(cell):
        return default
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int):
        key = str(cell) if abs(cell) < 10 else "?"  # a huge integer is no boolean (and no float either)
    else:
        key = str(int(cell)) if isinstance(cell, float) and cell.is_integer() else str(cell).strip().lower()[:20]
    if key not in BOOLS:
        raise InputError(f"{name}: {cell!r} is not TRUE or FALSE")
    return BOOLS[key]


# ----------------------------------------------------------------------------- tables


def _header(cell: Any) -> str:
    return str(cell).strip().lower().replace(" ", "_") if not is_blank(cell) else ""


@dataclass(frozen=True)
class Table:
    """A range with a header row: lower-case snake column names and data rows (dicts).

    ``rows`` keep the sheet's order; ``row_numbers`` count the header as row 1, as a user
    reads the range. Fully blank rows are dropped (a range drawn larger than the data).
    """

    name: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    row_numbers: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, i: int, column: str | None = None) -> str:
        return f"{self.name}, row {self.row_numbers[i]}" + (f", column {column}" if column else "")


def _headerless(first: list[Any], known: set[str]) -> bool:
    """A first row that names no known column and starts with an instrument name is data."""
    return not any(_header(c) in known for c in first) and isinstance(first[0], str) and "-" in first[0]


def table(
    value: Any,
    name: str,
    *,
    required: Iterable[str] = (),
    any_of: Iterable[Iterable[str]] = (),
    allowed: Iterable[str] | None = None,
    positional: Sequence[str] = (),
) -> Table:
    """Parse a header-row range; missing columns and empty tables raise :class:`InputError`.

    ``any_of`` lists alternatives of which one must be present (e.g. instrument, or
    underlying + type + ...). Error values in data cells are kept as :class:`XlError` so a
    per-row function can fail that row only.

    With ``positional`` column names, a range whose first row is data (it names no known
    column and starts with an instrument name such as ``BTC-25DEC26-100000-C``) is read
    without a header, its columns taken in that order. That is what a per-row formula passes
    (``=CQ_RFQ(B2:D2, ...)``), and what lets the headless engine stack those rows into one
    call. Rows are then numbered from 1.
    """
    required, any_of = tuple(required), tuple(tuple(g) for g in any_of)
    known = {*required, *(c for g in any_of for c in g), *(allowed or ()), *positional}
    rows, start = _with_header(grid(value), name, known, positional)
    columns = tuple(_header(c) for c in rows[0])
    _check_header(columns, name, required, any_of, allowed)
    data, numbers_ = _data_rows(rows[1:], start, columns, name)
    return Table(name, tuple(c for c in columns if c), tuple(data), tuple(numbers_))


def _with_header(rows: list[list[Any]], name: str, known: set[str], positional: Sequence[str]) -> tuple[list[list[Any]], int]:
    """The rows with a header row first (one made from ``positional`` for a headerless range),
    and the sheet row number of the first data row."""
    if len(rows) == 1 and len(rows[0]) == 1 and is_blank(rows[0][0]):
        raise InputError(f"{name}: the range is empty; give a table with a header row")
    if not (positional and _headerless(rows[0], known)):
        return rows, 2
    if len(rows[0]) > len(positional):
        raise InputError(f"{name}: a range without a header row has at most {len(positional)} columns ({', '.join(positional)})")
    return [list(positional[: len(rows[0])]), *rows], 1


def _check_header(
    columns: tuple[str, ...],
    name: str,
    required: tuple[str, ...],
    any_of: tuple[tuple[str, ...], ...],
    allowed: Iterable[str] | None,
) -> None:
    """Names present, none twice, the required ones and one of each alternative there, no unknown one."""
    if not any(columns):
        raise InputError(f"{name}: the first row must hold the column names")
    have = ", ".join(c for c in columns if c)
    dup = sorted({c for c in columns if c and columns.count(c) > 1})
    if dup:
        raise InputError(f"{name}: column(s) {', '.join(dup)} appear twice in the header row")
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)}; the header row has {have}")
    for group in any_of:
        if not any(c in columns for c in group):
            raise InputError(f"{name}: needs a column {' or '.join(group)}; the header row has {have}")
    if allowed is not None:
        allowed = tuple(allowed)
        extra = [c for c in columns if c and c not in allowed]
        if extra:
            raise InputError(f"{name}: unknown column(s) {', '.join(extra)}; allowed: {', '.join(allowed)}")


def _table_cell(v: Any, name: str, row: int, column: str) -> Any:
    """A table's data cell: error texts as :class:`XlError`; a number that is not finite or
    beyond :data:`MAX_MAGNITUDE` as a ``#NUM!`` naming its row and column (the row fails alone)."""
    if is_error(v):
        return _as_error(v, f"{name}, row {row}, column {column}")
    if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_)):
        try:
            x = float(v)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x) or abs(x) > MAX_MAGNITUDE:
            return XlError(
                "#NUM!", f"{name}, row {row}, column {column}: {x:g} is beyond ±{MAX_MAGNITUDE:g} (the largest a table takes)"
            )
    return v


def _data_rows(rows: list[list[Any]], start: int, columns: tuple[str, ...], name: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Non-blank rows as {column: value} (error cells kept as :class:`XlError`) and their row numbers."""
    data, numbers_ = [], []
    for i, r in enumerate(rows, start=start):
        if all(is_blank(c) for c in r):
            continue
        data.append({c: _table_cell(v, name, i, c) for c, v in zip(columns, r) if c})
        numbers_.append(i)
    if not data:
        raise InputError(f"{name}: the table has a header row but no data rows")
    return data, numbers_


def first_error(row: Mapping[str, Any]) -> XlError | None:
    for v in row.values():
        if isinstance(v, XlError):
            return v
    return None


def params(value: Any, name: str, allowed: Mapping[str, str]) -> dict[str, Any]:
    """A two-column name/value range (a header row ``name | value`` is optional).

    Names are case-insensitive; blank values are skipped (the default applies); an unknown
    name raises :class:`InputError` listing the allowed ones with what they mean.
    """
    if value is None:
        return {}
    rows = grid(value)
    if len(rows) == 1 and len(rows[0]) == 1 and is_blank(rows[0][0]):
        return {}
    if len(rows[0]) != 2:
        raise InputError(f"{name}: expected two columns (name, value), got {len(rows[0])}")
    out: dict[str, Any] = {}
    for i, (k, v) in enumerate(rows, start=1):
        if is_blank(k) and is_blank(v):
            continue
        key = _header(k)
        if i == 1 and key in ("name", "parameter", "param") and _header(v) == "value":
            continue
        if key not in allowed:
            listing = "; ".join(f"{n} ({d})" for n, d in allowed.items())
            raise InputError(f"{name}, row {i}: unknown parameter {k!r}. Allowed: {listing}")
        if key in out:
            raise InputError(f"{name}, row {i}: parameter {key} is given twice")
        if is_error(v):
            raise InputError(f"{name}, row {i}, parameter {key}: the value cell is {str(v).strip().upper()}")
        if not is_blank(v):
            out[key] = v
    return out


# ----------------------------------------------------------------------------- content keys


def content_key(*values: Any) -> str:
    """A hash of argument contents (what the cells hold, not where they are).

    Used to cache parsed tables and fitted surfaces: 500 formulas that pass the same chain
    range share one fit, and an edited cell gives a new key.
    """
    h = hashlib.blake2b(digest_size=12)
    for v in values:
        h.update(pickle.dumps(v.tolist() if isinstance(v, np.ndarray) else v, protocol=5))
        h.update(b"\x00")
    return h.hexdigest()
