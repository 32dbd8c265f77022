"""Year fractions from timezone-aware datetimes.

Crypto options trade 24/7, so option time runs on calendar time, ACT/365 in seconds
(Deribit's own ``time_to_expiry_years`` uses exactly (expiry - now) / (365 x 86400) s).
USD funding (SOFR) accrues ACT/360.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pricing.errors import PricingInputError, parse_choice

SECONDS_PER_DAY = 86_400.0
_BASIS_DAYS = {"act/365": 365.0, "act365": 365.0, "365": 365.0, "act/360": 360.0, "act360": 360.0, "360": 360.0}


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
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    days_per_year = parse_choice(basis, "basis", _BASIS_DAYS)
    return (end - start).total_seconds() / SECONDS_PER_DAY / days_per_year


def option_time(now: datetime, expiry: datetime) -> float:
    """Option time to expiry in years, ACT/365 calendar time (24/7 markets)."""
    return year_fraction(now, expiry, "act/365")


def funding_time(start: datetime, end: datetime) -> float:
    """Funding accrual in years, ACT/360 (SOFR convention)."""
    return year_fraction(start, end, "act/360")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """Shorthand for an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
