"""Contracts and Deribit instrument names.

Deribit names options ``UNDERLYING-DMMMYY-STRIKE-C|P`` (``BTC-27DEC26-60000-C``), futures
``UNDERLYING-DMMMYY`` and perpetuals ``UNDERLYING-PERPETUAL``. Every dated Deribit contract
expires at 08:00 UTC. Fractional strikes are written with ``d`` as decimal point
(``XRP-27DEC26-0d6-C``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pricing.errors import PricingInputError, parse_choice

DERIBIT_EXPIRY_HOUR_UTC = 8
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NUMBER = {m: i + 1 for i, m in enumerate(_MONTHS)}
_OPTION_RE = re.compile(r"^([A-Z][A-Z0-9_]*)-(\d{1,2})([A-Z]{3})(\d{2})-(\d+(?:[dD.]\d+)?)-([CP])$")
_FUTURE_RE = re.compile(r"^([A-Z][A-Z0-9_]*)-(\d{1,2})([A-Z]{3})(\d{2})$")
_PERP_RE = re.compile(r"^([A-Z][A-Z0-9_]*)-PERPETUAL$")
OPTION_NAME_FORM = "UNDERLYING-DMMMYY-STRIKE-C|P, e.g. BTC-27DEC26-60000-C"

CALL_PUT = {"c": 1, "call": 1, "p": -1, "put": -1}
SETTLEMENTS = {"linear": "linear", "usd": "linear", "inverse": "inverse", "coin": "inverse"}


def parse_cp(value: object) -> int:
    """+1 for a call, -1 for a put (case-insensitive ``C``/``call``/``P``/``put``, or +1/-1).

    Parameters
    ----------
    value : object
        A cell or field: ``"C"``/``"P"``, ``"call"``/``"put"`` or +1/-1.

    Returns
    -------
    int
        +1 for a call, -1 for a put.

    Raises
    ------
    PricingInputError
        Anything else, listing the allowed values.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (1, -1):
        return int(value)
    return parse_choice(value, "cp", CALL_PUT)


def parse_settlement(value: object) -> str:
    """``"linear"`` (USD-settled) or ``"inverse"`` (coin-settled, Deribit).

    Parameters
    ----------
    value : object
        ``linear``/``usd`` or ``inverse``/``coin`` (case-insensitive).

    Returns
    -------
    str
        ``"inverse"`` or ``"linear"``.

    Raises
    ------
    PricingInputError
        Anything else, listing the allowed values.
    """
    return parse_choice(value, "settle", SETTLEMENTS)


@dataclass(frozen=True)
class OptionContract:
    """A European option on a crypto underlying, per 1 unit of underlying.

    Attributes
    ----------
    underlying : str
        Currency code of the underlying coin, e.g. ``"BTC"``.
    expiry : datetime
        Timezone-aware expiry instant (Deribit: 08:00 UTC).
    strike : float
        Strike in USD per coin, > 0.
    cp : int
        +1 call, -1 put.
    settle : str
        ``"inverse"`` (premium and payoff in coin, Deribit) or ``"linear"`` (USD).
    """

    underlying: str
    expiry: datetime
    strike: float
    cp: int
    settle: str = "inverse"

    def __post_init__(self) -> None:
        if not (isinstance(self.strike, (int, float)) and math.isfinite(self.strike) and self.strike > 0):
            raise PricingInputError(f"strike: must be a finite number > 0, got {self.strike!r}")
        if self.cp not in (1, -1):
            raise PricingInputError(f"cp: must be +1 (call) or -1 (put), got {self.cp!r}")
        if self.expiry.tzinfo is None:
            raise PricingInputError("expiry: must be timezone-aware (Deribit expiries are 08:00 UTC)")
        parse_settlement(self.settle)

    @property
    def name(self) -> str:
        """The Deribit instrument name."""
        return format_option_name(self)


@dataclass(frozen=True)
class FutureContract:
    """A dated future (``expiry`` set) or a perpetual (``expiry`` is None), per 1 coin.

    Attributes
    ----------
    underlying : str
        ``"BTC"``, ``"ETH"``, ...
    expiry : datetime or None
        Timezone-aware UTC expiry; None for a perpetual.
    settle : {"inverse", "linear"}
        Coin-settled (Deribit) or USD-settled.
    """

    underlying: str
    expiry: datetime | None
    settle: str = "inverse"

    @property
    def name(self) -> str:
        if self.expiry is None:
            return f"{self.underlying}-PERPETUAL"
        return f"{self.underlying}-{format_expiry_code(self.expiry)}"


def _parse_expiry(day: str, month: str, year: str, name: str) -> datetime:
    if month not in _MONTH_NUMBER:
        raise PricingInputError(f"instrument {name!r}: unknown month {month!r}; use one of {', '.join(_MONTHS)}")
    try:
        return datetime(2000 + int(year), _MONTH_NUMBER[month], int(day), DERIBIT_EXPIRY_HOUR_UTC, tzinfo=UTC)
    except ValueError as exc:
        raise PricingInputError(f"instrument {name!r}: invalid date {day}{month}{year} ({exc})") from None


def format_expiry_code(expiry: datetime) -> str:
    """``27DEC26`` for 2026-12-27 (day without a leading zero, as Deribit writes it).

    Parameters
    ----------
    expiry : datetime
        The expiry instant (its date is used).

    Returns
    -------
    str
        Deribit's expiry code, e.g. ``"27DEC24"``.

    Examples
    --------
    >>> from pricing.daycount import utc
    >>> format_expiry_code(utc(2026, 9, 5, 8))
    '5SEP26'
    """
    utc_expiry = expiry.astimezone(UTC)
    return f"{utc_expiry.day}{_MONTHS[utc_expiry.month - 1]}{utc_expiry.year % 100:02d}"


def _format_strike(strike: float) -> str:
    if float(strike).is_integer():
        return str(int(strike))
    return repr(float(strike)).replace(".", "d")


def parse_option_name(name: str, settle: str = "inverse") -> OptionContract:
    """Parse a Deribit option name such as ``BTC-27DEC26-60000-C``.

    Parameters
    ----------
    name : str
        ``UNDERLYING-DMMMYY-STRIKE-C|P``, any case.
    settle : {"inverse", "linear"}
        Coin-settled (Deribit's BTC/ETH options) or USD-settled.

    Returns
    -------
    OptionContract
        Expiry at 08:00 UTC on the named day (Deribit's expiry time).

    Raises
    ------
    PricingInputError
        If the name does not have the form ``UNDERLYING-DMMMYY-STRIKE-C|P``.

    Examples
    --------
    >>> c = parse_option_name("BTC-25SEP26-80000-P")
    >>> c.strike, c.cp, f"{c.expiry:%Y-%m-%d %H:%M %Z}"
    (80000.0, -1, '2026-09-25 08:00 UTC')
    """
    text = str(name).strip().upper()
    match = _OPTION_RE.match(text)
    if match is None:
        raise PricingInputError(f"instrument {name!r} is not an option name; expected {OPTION_NAME_FORM}")
    underlying, day, month, year, strike_text, cp = match.groups()
    expiry = _parse_expiry(day, month, year, text)
    strike = float(strike_text.replace("D", ".").replace("d", "."))
    return OptionContract(underlying, expiry, strike, 1 if cp == "C" else -1, parse_settlement(settle))


def format_option_name(contract: OptionContract) -> str:
    """The Deribit name of an option contract (inverse of :func:`parse_option_name`).

    Parameters
    ----------
    contract : OptionContract
        The option to name.

    Returns
    -------
    str
        ``UNDERLYING-DMMMYY-STRIKE-C|P`` (Deribit's instrument naming, expiry at 08:00 UTC).

    Examples
    --------
    >>> format_option_name(parse_option_name("btc-25sep26-80000-p"))
    'BTC-25SEP26-80000-P'
    """
    cp = "C" if contract.cp == 1 else "P"
    return f"{contract.underlying}-{format_expiry_code(contract.expiry)}-{_format_strike(contract.strike)}-{cp}"


def parse_instrument_name(name: str, settle: str = "inverse") -> OptionContract | FutureContract:
    """Parse any Deribit option, future or perpetual name.

    Parameters
    ----------
    name : str
        An option (``BTC-25SEP26-80000-P``), a dated future (``BTC-25SEP26``) or a perpetual
        (``BTC-PERPETUAL``).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    OptionContract or FutureContract
        A perpetual is a :class:`FutureContract` with ``expiry=None``.

    Examples
    --------
    >>> parse_instrument_name("ETH-PERPETUAL")
    FutureContract(underlying='ETH', expiry=None, settle='inverse')
    """
    text = str(name).strip().upper()
    if _OPTION_RE.match(text):
        return parse_option_name(text, settle)
    if match := _PERP_RE.match(text):
        return FutureContract(match.group(1), None, parse_settlement(settle))
    if match := _FUTURE_RE.match(text):
        underlying, day, month, year = match.groups()
        return FutureContract(underlying, _parse_expiry(day, month, year, text), parse_settlement(settle))
    raise PricingInputError(
        f"instrument {name!r} is not a Deribit name; expected {OPTION_NAME_FORM}, "
        "UNDERLYING-DMMMYY (future) or UNDERLYING-PERPETUAL"
    )
