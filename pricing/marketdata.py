"""Bundled real market data (package data) and validating loaders.

Files come from ``shared/data`` of the project (sources in the README): Yahoo Finance daily
closes for BTC-USD and ETH-USD, Deribit DVOL daily candles, SOFR (FRED), and Deribit option
chains. Every loader validates as it reads: a missing column, an unparsable date or a
non-positive price raises :class:`~pricing.errors.DataError` naming the file, the row (1-based,
header = row 1) and the column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import DataError, parse_choice

_CHAIN_FILE = re.compile(r"deribit_([a-z0-9]+)_chain_(\d{4})(\d{2})(\d{2})\.csv")
_HISTORY_FILE = re.compile(r"([a-z0-9]+)_usd_daily\.csv")


def _bundled_names() -> list[str]:
    return sorted(p.name for p in resources.files("pricing.data").iterdir() if p.name.endswith(".csv"))


def _chain_dates() -> dict[str, tuple[str, ...]]:
    dates: dict[str, list[str]] = {}
    for name in _bundled_names():
        if m := _CHAIN_FILE.fullmatch(name):
            dates.setdefault(m.group(1).upper(), []).append(f"{m.group(2)}-{m.group(3)}-{m.group(4)}")
    return {u: tuple(sorted(d)) for u, d in sorted(dates.items())}


#: Bundled chain snapshot dates per underlying, read from the file names in ``pricing/data``.
CHAIN_DATES = _chain_dates()
#: Underlyings with a bundled daily price history (``<code>_usd_daily.csv``), lower case -> code.
UNDERLYINGS = {m.group(1): m.group(1).upper() for n in _bundled_names() if (m := _HISTORY_FILE.fullmatch(n))}
#: Snapshot dates on which every bundled underlying has a chain, latest first.
BUNDLED_DATES = tuple(sorted(set.intersection(*(set(d) for d in CHAIN_DATES.values())), reverse=True))


@dataclass(frozen=True)
class DailySeries:
    """A daily time series: ``dates`` (numpy datetime64[D], ascending) and ``values``.

    Attributes
    ----------
    name : str
        Where it came from (the file), for messages.
    dates : ndarray of datetime64[D]
        Strictly ascending days.
    values : ndarray
        One per day.
    """

    name: str
    dates: np.ndarray
    values: FloatArray

    def latest(self) -> tuple[date, float]:
        """The last date and value.

        Returns
        -------
        (date, float)
            The last date of the series and its value.
        """
        return self.dates[-1].astype(object), float(self.values[-1])

    def value_on(self, day: date | str) -> float:
        """The value on ``day`` exactly; raises DataError if that day is missing.

        Parameters
        ----------
        day : date or str
            A date or ``YYYY-MM-DD``.

        Returns
        -------
        float
            The value on that date.

        Raises
        ------
        DataError
            No value on that day.
        """
        key = np.datetime64(str(day), "D")
        pos = np.searchsorted(self.dates, key)
        if pos >= self.dates.size or self.dates[pos] != key:
            raise DataError(f"{self.name}: no value on {day}; data covers {self.dates[0]} to {self.dates[-1]}")
        return float(self.values[pos])


def _open_text(source: str | Path) -> tuple[str, io.TextIOBase]:
    """(display name, text stream) for a bundled file name or a path on disk."""
    path = Path(source)
    if path.exists():
        return str(path), open(path, newline="", encoding="utf-8")
    resource = resources.files("pricing.data").joinpath(str(source))
    if not resource.is_file():
        raise DataError(f"{source}: no such file (bundled files: {', '.join(bundled_files())})")
    return f"pricing/data/{source}", io.StringIO(resource.read_text(encoding="utf-8"), newline="")


def bundled_files() -> list[str]:
    """Names of the CSV files shipped in ``pricing/data``.

    Returns
    -------
    list of str
        Sorted file names.
    """
    return _bundled_names()


def read_table(source: str | Path, required: Sequence[str]) -> tuple[str, list[dict[str, str]]]:
    """Read a CSV with a header row; raise DataError if a required column is missing.

    Parameters
    ----------
    source : str or Path
        A bundled file name or a path.
    required : sequence of str
        Columns that must be in the header.

    Returns
    -------
    (name, rows) : (str, list of dict of str to str)
        The file's name (for messages) and its rows as text.
    """
    name, stream = _open_text(source)
    with stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{name}: missing column(s) {', '.join(missing)}; header has {', '.join(header)}")
        return name, list(reader)


def parse_float(text: str, name: str, row: int, column: str, *, positive: bool = False, allow_blank: bool = False) -> float:
    """Parse a number from a CSV cell with an error naming file, row and column.

    Parameters
    ----------
    text : str
        The cell.
    name : str
        The file's name.
    row : int
        Spreadsheet row number (header = 1).
    column : str
        The column's name.
    positive : bool
        Require > 0.
    allow_blank : bool
        An empty cell is NaN instead of an error.

    Returns
    -------
    float
        Finite (NaN only for an allowed blank).

    Raises
    ------
    DataError
        Naming file, row and column.
    """
    if text is None or text.strip() == "":
        if allow_blank:
            return float("nan")
        raise DataError(f"{name}, row {row}, column {column}: empty cell; a number is required")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{name}, row {row}, column {column}: {text!r} is not a number") from None
    if not np.isfinite(value) or (positive and value <= 0):
        rule = "a finite number > 0" if positive else "a finite number"
        raise DataError(f"{name}, row {row}, column {column}: {text!r} must be {rule}")
    return value


def parse_date(text: str, name: str, row: int, column: str) -> np.datetime64:
    """Parse an ISO date (``YYYY-MM-DD``) from a CSV cell with an error naming file, row and column.

    Parameters
    ----------
    text : str
        The cell.
    name : str
        The file's name.
    row : int
        Spreadsheet row number (header = 1).
    column : str
        The column's name.

    Returns
    -------
    numpy.datetime64
        Day precision.

    Raises
    ------
    DataError
        Not an ISO date.
    """
    try:
        return np.datetime64(date.fromisoformat(text.strip()), "D")
    except (ValueError, AttributeError):
        raise DataError(f"{name}, row {row}, column {column}: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def parse_timestamp(text: str, name: str, row: int, column: str) -> datetime:
    """Parse an ISO 8601 timestamp from a CSV cell (UTC when it names no zone; ``Z`` accepted).

    Parameters
    ----------
    text : str
        The cell.
    name : str
        The file's name.
    row : int
        Spreadsheet row number (header = 1).
    column : str
        The column's name.

    Returns
    -------
    datetime
        Timezone-aware.

    Raises
    ------
    DataError
        Not an ISO 8601 timestamp.
    """
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise DataError(f"{name}, row {row}, column {column}: {text!r} is not an ISO 8601 timestamp") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def load_daily_series(source: str | Path, column: str, *, positive: bool = True) -> DailySeries:
    """Load a ``date,<column>,...`` CSV as a validated, strictly ascending daily series.

    Parameters
    ----------
    source : str or Path
        A bundled file name or a path.
    column : str
        The value column.
    positive : bool
        Require every value > 0.

    Returns
    -------
    DailySeries
        The series, dates ascending.

    Raises
    ------
    DataError
        A missing column, a bad cell, no rows, or dates not strictly ascending (naming the row).
    """
    name, rows = read_table(source, ["date", column])
    dates = np.array([parse_date(r["date"], name, i + 2, "date") for i, r in enumerate(rows)], dtype="datetime64[D]")
    values = np.array([parse_float(r[column], name, i + 2, column, positive=positive) for i, r in enumerate(rows)])
    if dates.size == 0:
        raise DataError(f"{name}: no data rows")
    order = np.diff(dates).astype(np.int64)
    if (order <= 0).any():
        bad = int(np.flatnonzero(order <= 0)[0]) + 3
        raise DataError(f"{name}, row {bad}, column date: dates must be strictly ascending (duplicate or out of order)")
    return DailySeries(name, dates, values)


@lru_cache(maxsize=16)
def load_history(underlying: str) -> DailySeries:
    """Daily USD closes of a bundled underlying (Yahoo Finance, end of UTC day).

    Parameters
    ----------
    underlying : str
        ``BTC`` or ``ETH`` (any case).

    Returns
    -------
    DailySeries
        Dates (``datetime64[D]``) and closes in USD.

    Examples
    --------
    >>> h = load_history("BTC")
    >>> str(h.dates[-1]), h.values[-1]
    ('2026-08-21', np.float64(78335.19))
    """
    code = parse_choice(underlying, "underlying", UNDERLYINGS)
    return load_daily_series(f"{code.lower()}_usd_daily.csv", "close")


@lru_cache(maxsize=16)
def load_dvol(underlying: str) -> DailySeries:
    """Deribit DVOL daily close (30-day implied vol index), as a decimal vol.

    Parameters
    ----------
    underlying : str
        ``BTC`` or ``ETH``.

    Returns
    -------
    DailySeries
        Decimal vols (DVOL 47.53 -> 0.4753).

    Examples
    --------
    >>> d = load_dvol("BTC")
    >>> str(d.dates[-1]), round(float(d.values[-1]), 4)
    ('2026-04-05', 0.4753)
    """
    code = parse_choice(underlying, "underlying", UNDERLYINGS)
    series = load_daily_series(f"{code.lower()}_dvol_daily.csv", "close")
    return DailySeries(series.name, series.dates, series.values / 100.0)


@lru_cache(maxsize=16)
def load_volume_usd(underlying: str) -> DailySeries:
    """Daily spot traded value in USD(T) on Binance (volume in coin x close), for market capacity.

    Parameters
    ----------
    underlying : str
        ``"BTC"`` or ``"ETH"``.

    Returns
    -------
    DailySeries
        USD per day.
    """
    code = parse_choice(underlying, "underlying", UNDERLYINGS)
    name = f"{code.lower()}_usdt_binance_daily.csv"
    volume = load_daily_series(name, "volume")
    close = load_daily_series(name, "close")
    return DailySeries(f"{name} (USD volume)", volume.dates, volume.values * close.values)


@lru_cache(maxsize=16)
def load_sofr() -> DailySeries:
    """SOFR fixings (FRED series SOFR), as decimal rates.

    Returns
    -------
    DailySeries
        Decimal rates, ACT/360 (3.65% -> 0.0365).

    Examples
    --------
    >>> s = load_sofr()
    >>> str(s.dates[-1]), round(float(s.values[-1]), 4)
    ('2026-08-06', 0.0365)
    """
    series = load_daily_series("sofr_daily.csv", "sofr_pct", positive=False)
    return DailySeries(series.name, series.dates, series.values / 100.0)


def chain_file(underlying: str, as_of: str) -> str:
    """Bundled chain file name for an underlying and a snapshot date (YYYY-MM-DD).

    Parameters
    ----------
    underlying : str
        ``"BTC"`` or ``"ETH"``.
    as_of : str
        One of the bundled chain dates.

    Returns
    -------
    str
        E.g. ``deribit_btc_chain_20260821.csv``.

    Raises
    ------
    PricingInputError
        No bundled chain for that underlying or date (the message lists those there are).
    """
    code = parse_choice(underlying, "underlying", UNDERLYINGS)
    dates = {d: d for d in CHAIN_DATES[code]}
    day = parse_choice(as_of, "as_of", dates)
    return f"deribit_{code.lower()}_chain_{day.replace('-', '')}.csv"


def iter_rows(rows: Iterable[dict[str, str]]) -> Iterable[tuple[int, dict[str, str]]]:
    """Rows numbered as a spreadsheet would show them (header = 1).

    Parameters
    ----------
    rows : iterable of dict
        Data rows, in file order.

    Returns
    -------
    iterable of (int, dict)
        (row number, row), the first data row being 2.
    """
    return ((i + 2, r) for i, r in enumerate(rows))
