"""Year fractions from timezone-aware datetimes.

Crypto options trade 24/7, so option time runs on calendar time, ACT/365 in seconds
(Deribit's own ``time_to_expiry_years`` uses exactly (expiry - now) / (365 x 86400) s).
USD funding (SOFR) accrues ACT/360.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from pricing._typing import ArrayLike, FloatArray, IntArray
from pricing.errors import PricingInputError, parse_choice

SECONDS_PER_DAY = 86_400.0
DAYS_PER_YEAR = 365.0
"""Option time: calendar days per year (ACT/365)."""
SECONDS_PER_YEAR = DAYS_PER_YEAR * SECONDS_PER_DAY
FUNDING_DAYS_PER_YEAR = 360.0
"""Funding accrual: days per year of the ACT/360 money-market basis (SOFR)."""
ACT360_PER_ACT365 = DAYS_PER_YEAR / FUNDING_DAYS_PER_YEAR
"""An ACT/365 year fraction times this is the ACT/360 one of the same dates: the one conversion
between option time and funding accrual (FVA, MVA and discounting at SOFR use it)."""
_BASIS_DAYS = {
    "act/365": DAYS_PER_YEAR,
    "act365": DAYS_PER_YEAR,
    "365": DAYS_PER_YEAR,
    "act/360": FUNDING_DAYS_PER_YEAR,
    "act360": FUNDING_DAYS_PER_YEAR,
    "360": FUNDING_DAYS_PER_YEAR,
}


def _require_aware(value: datetime, field: str) -> None:
    if not isinstance(value, datetime):
        raise PricingInputError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise PricingInputError(
            f"{field}: {value.isoformat()} has no timezone; pass an aware datetime "
            "(e.g. datetime(2026, 8, 21, 8, tzinfo=timezone.utc))"
        )


def year_fraction(start: datetime, end: datetime, basis: str = "act/365") -> float:
    """Year fraction between two aware datetimes, on actual elapsed seconds.

    Parameters
    ----------
    start, end : datetime
        Timezone-aware datetimes; naive ones are rejected (an hour's error at 08:00 UTC
        expiries is ~1e-4 years, visible on short-dated options).
    basis : {"act/365", "act/360"}
        Day-count basis: ACT/365 for option time, ACT/360 for USD funding.

    Returns
    -------
    float
        ``(end - start)`` in days divided by the basis; negative if ``end`` is earlier.

    Notes
    -----
    Actual elapsed seconds / (86,400 x days per year); crypto options trade 24/7 (Deribit's own
    ``time_to_expiry`` is ACT/365 on seconds), USD funding accrues ACT/360 (SOFR).

    Examples
    --------
    >>> year_fraction(utc(2026, 1, 1), utc(2027, 1, 1)), year_fraction(utc(2026, 1, 1), utc(2026, 4, 1), "act/360")
    (1.0, 0.25)
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    days_per_year = parse_choice(basis, "basis", _BASIS_DAYS)
    return (end - start).total_seconds() / SECONDS_PER_DAY / days_per_year


def option_time(now: datetime, expiry: datetime) -> float:
    """Option time to expiry in years, ACT/365 calendar time (24/7 markets).

    Parameters
    ----------
    now, expiry : datetime
        Timezone-aware instants (UTC).

    Returns
    -------
    float
        ``(expiry - now)`` in seconds / (365 x 86,400); negative once expired.

    Examples
    --------
    >>> round(option_time(utc(2026, 8, 21, 8), utc(2026, 9, 25, 8)) * 365, 12)
    35.0
    """
    return year_fraction(now, expiry, "act/365")


def option_times(now: datetime, expiry_s: ArrayLike) -> FloatArray:
    """Option times to expiry in years (ACT/365 on seconds) for many expiries at once.

    Parameters
    ----------
    now : datetime
        Valuation instant, timezone-aware.
    expiry_s : array_like
        Expiries as epoch seconds (UTC), or ``datetime64`` values.

    Returns
    -------
    ndarray
        ``(expiry - now) / (365 x 86400 s)``; negative for past expiries.

    Examples
    --------
    >>> float(option_times(utc(2026, 8, 21, 8), [utc(2026, 9, 20, 8).timestamp()])[0]) == 30 / 365
    True
    """
    _require_aware(now, "now")
    arr = np.asarray(expiry_s)
    seconds = arr.astype("datetime64[s]").astype(np.int64) if arr.dtype.kind == "M" else arr.astype(np.float64)
    return np.asarray((seconds - now.timestamp()) / SECONDS_PER_YEAR, dtype=np.float64)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def elapsed_option_times(start: datetime | npt.ArrayLike, end: datetime | npt.ArrayLike) -> FloatArray:
    """Option time in years (ACT/365 on seconds) between aware datetimes, element by element:
    :func:`option_time` for whole arrays, bit for bit.

    Parameters
    ----------
    start, end : datetime or array_like of datetime
        Timezone-aware instants (an object array, a sequence or one datetime); broadcast
        against each other like numpy arrays.

    Returns
    -------
    ndarray
        ``(end - start)`` in seconds / 86,400 / 365, the broadcast shape; negative once expired.

    Notes
    -----
    Each distinct instant is converted once to integer microseconds since 1970-01-01 UTC (a
    quote book repeats a few expiries down 100,000 rows); the differences are exact integers,
    and ``us / 1e6 / 86400 / 365`` is the same sequence of correctly rounded operations as
    ``timedelta.total_seconds() / 86400 / 365`` in :func:`year_fraction` (exact below 2^53 us,
    285 years), so every element equals :func:`option_time` of its pair exactly.

    Examples
    --------
    >>> elapsed_option_times(utc(2026, 8, 21, 8), [utc(2026, 9, 25, 8), utc(2026, 8, 21, 8)]).tolist() == [35 / 365, 0.0]
    True
    """
    s, e = np.broadcast_arrays(np.asarray(start, dtype=object), np.asarray(end, dtype=object))
    micros = _micros(e, "end") - _micros(s, "start")
    return np.asarray(micros / 1e6 / SECONDS_PER_DAY / DAYS_PER_YEAR, dtype=np.float64)


def _micros(instants: npt.NDArray[np.object_], field: str) -> IntArray:
    """Integer microseconds since 1970-01-01 UTC of an object array of aware datetimes: each
    distinct one converted once, the rest looked up (``map`` over a dict: no Python loop per element)."""
    flat = instants.ravel().tolist()
    distinct = dict.fromkeys(flat)
    values = []
    for k, stamp in enumerate(distinct):
        _require_aware(stamp, field)
        d = stamp - _EPOCH
        values.append((d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds)
        distinct[stamp] = k
    index = np.fromiter(map(distinct.__getitem__, flat), dtype=np.intp, count=len(flat))
    return np.asarray(np.array(values, dtype=np.int64)[index].reshape(instants.shape), dtype=np.int64)


def days_to_years(days: ArrayLike) -> FloatArray:
    """Calendar days as option time in years (ACT/365): margin horizons, look-aheads, tenors.

    Parameters
    ----------
    days : array_like
        Calendar days.

    Returns
    -------
    ndarray
        days / 365.

    Examples
    --------
    >>> float(days_to_years(73.0))
    0.2
    """
    return np.asarray(np.asarray(days, dtype=np.float64) / DAYS_PER_YEAR, dtype=np.float64)


def funding_time(start: datetime, end: datetime) -> float:
    """Funding accrual in years, ACT/360 (SOFR convention).

    Parameters
    ----------
    start, end : datetime
        Timezone-aware instants (UTC).

    Returns
    -------
    float
        Elapsed days / 360.

    Examples
    --------
    >>> funding_time(utc(2026, 1, 1), utc(2026, 4, 1))
    0.25
    """
    return year_fraction(start, end, "act/360")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """Shorthand for an aware UTC datetime.

    Parameters
    ----------
    year, month, day : int
        The calendar date (proleptic Gregorian).
    hour, minute, second : int
        UTC time of day.

    Returns
    -------
    datetime
        Timezone-aware, UTC.

    Examples
    --------
    >>> utc(2026, 9, 25, 8).isoformat()
    '2026-09-25T08:00:00+00:00'
    """
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
