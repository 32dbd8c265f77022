"""Rate inputs: decimals only, with a hint when a percentage is passed by mistake."""

from __future__ import annotations

import math

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.errors import PricingInputError
from pricing.marketdata import load_sofr


def check_rate(value: float, field: str, *, lo: float = -0.05, hi: float = 1.0) -> float:
    """A rate as a decimal in [lo, hi]; 5.26 (a percentage) is refused with the decimal it meant.

    Parameters
    ----------
    value : float
        The rate as given (anything ``float`` reads), decimal per year.
    field : str
        The parameter's name, for the message.
    lo, hi : float
        The allowed range, decimals; default [-0.05, 1.0] (a risk weight passes ``hi=12.5``,
        Basel's 1250%).

    Returns
    -------
    float
        The rate, decimal.

    Raises
    ------
    PricingInputError
        Naming ``field``: not a number, not finite, above ``hi`` (with the decimal a percentage
        meant: 5.26 -> 0.0526) or below ``lo``.

    Notes
    -----
    Rates are decimals everywhere in the engine (0.0365 = 3.65%); a value above ``hi`` is read as
    a percentage typed by mistake and refused with the decimal it meant, never clamped.

    Examples
    --------
    >>> check_rate(0.0526, "sofr")
    0.0526
    >>> check_rate(5.26, "sofr")
    Traceback (most recent call last):
    ...
    pricing.errors.PricingInputError: sofr: 5.26 looks like a percentage; give decimals (0.0526 for 5.26%)
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PricingInputError(f"{field}: {value!r} is not a number; give a decimal rate such as 0.0526") from None
    if not math.isfinite(x):
        raise PricingInputError(f"{field}: must be a finite decimal rate, got {value!r}")
    if x > hi:
        raise PricingInputError(f"{field}: {x} looks like a percentage; give decimals ({x / 100:.6g} for {x}%)")
    if x < lo:
        raise PricingInputError(f"{field}: {x} is below the allowed {lo}; give a decimal rate in [{lo}, {hi}]")
    return x


def check_rates(values: ArrayLike, field: str, *, lo: float = -0.05, hi: float = 1.0) -> FloatArray:
    """:func:`check_rate` of every element (the first bad one is named).

    Parameters
    ----------
    values : array_like
        Rates, decimals (any shape).
    field : str
        The parameter's name, for the message.
    lo, hi : float
        The allowed range, decimals, as for :func:`check_rate`.

    Returns
    -------
    ndarray
        float64, the shape of ``values``.

    Raises
    ------
    PricingInputError
        The first element (in C order) outside [lo, hi] or not finite, with :func:`check_rate`'s message.

    Notes
    -----
    One vectorised test of lo <= x <= hi and finiteness; :func:`check_rate` only words the first failure.

    Examples
    --------
    >>> check_rates([0.01, 0.02], "im_rate").tolist()
    [0.01, 0.02]
    """
    x = np.asarray(values, dtype=np.float64)
    bad = ~(np.isfinite(x) & (x >= lo) & (x <= hi))
    if bad.any():
        check_rate(float(x[bad].reshape(-1)[0]), field, lo=lo, hi=hi)
    return x


def latest_sofr() -> float:
    """The last bundled SOFR fixing, decimal (FRED series SOFR).

    Returns
    -------
    float
        Decimal per year, ACT/360 (3.65% -> 0.0365): the default SOFR of :class:`~pricing.xva.params.QuoteParams`.

    Notes
    -----
    :func:`pricing.marketdata.load_sofr`'s last value; the bundled series ends 2026-08-06.
    """
    return load_sofr().latest()[1]


def check_tenor(years: float, field: str = "tenor_years") -> float:
    """A trade's life in years, checked: a finite number >= 0.

    Parameters
    ----------
    years : float
        The tenor as given (anything ``float`` reads), ACT/365 years.
    field : str
        The parameter's name, for the message; default ``tenor_years``.

    Returns
    -------
    float
        The tenor, years.

    Raises
    ------
    PricingInputError
        Naming ``field``: not a number, not finite, or negative.

    Examples
    --------
    >>> check_tenor("0.25")
    0.25
    """
    try:
        t = float(years)
    except (TypeError, ValueError):
        raise PricingInputError(f"{field}: {years!r} is not a number of years") from None
    if not (math.isfinite(t) and t >= 0):
        raise PricingInputError(f"{field}: must be >= 0 years, got {years!r}")
    return t
