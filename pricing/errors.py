"""Error types, per-element reason codes and enum parsing shared by the engine.

A whole-call problem (an unknown enum value, a malformed instrument name, a bad data file)
raises an exception whose message names the field and the allowed values. A problem with one
element of an array (a negative vol in one row) never raises: that element becomes NaN and a
:class:`Reason` code says why, so that Excel can fail that cell only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import TypeVar

import numpy as np

from pricing._typing import IntArray

T = TypeVar("T")


class PricingInputError(ValueError):
    """An argument of a whole call is invalid (wrong enum, malformed name, bad table)."""


class DataError(ValueError):
    """A market-data file or table is malformed; the message names file, row and column."""


class Reason(IntEnum):
    """Why an element of a vectorised result is NaN (``OK`` when it is a number)."""

    OK = 0
    NAN_INPUT = 1
    NONPOSITIVE_FORWARD = 2
    NONPOSITIVE_STRIKE = 3
    NEGATIVE_VOL = 4
    EXPIRED = 5
    BELOW_INTRINSIC = 6
    ABOVE_MAXIMUM = 7
    NO_CONVERGENCE = 8
    NONPOSITIVE_PRICE = 9
    BAD_STEPS = 10
    BAD_OPTION_TYPE = 11
    BAD_TREE = 12
    UNDETERMINED = 13

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT = {
    Reason.OK: "ok",
    Reason.NAN_INPUT: "an input is NaN or blank",
    Reason.NONPOSITIVE_FORWARD: "forward/spot must be > 0",
    Reason.NONPOSITIVE_STRIKE: "strike must be > 0",
    Reason.NEGATIVE_VOL: "vol must be >= 0 (a decimal, 0.65 for 65%)",
    Reason.EXPIRED: "t_years must be >= 0 (option already expired)",
    Reason.BELOW_INTRINSIC: "price is below intrinsic value: no implied vol",
    Reason.ABOVE_MAXIMUM: "price is at or above the no-arbitrage maximum: no implied vol",
    Reason.NO_CONVERGENCE: "implied-vol solver did not converge",
    Reason.NONPOSITIVE_PRICE: "price must be > 0",
    Reason.BAD_STEPS: "steps must be a whole number >= 1",
    Reason.BAD_OPTION_TYPE: "option type must be +1 (call) or -1 (put)",
    Reason.BAD_TREE: "too few steps for this vol and carry: tree probability outside [0, 1]",
    Reason.UNDETERMINED: "the time value is below the price's float resolution: every small vol gives this price",
}


def reason_texts(codes: IntArray | Iterable[int]) -> list[str]:
    """Human-readable text of each reason code, in order (flattened).

    Parameters
    ----------
    codes : array of int or iterable of int
        :class:`Reason` codes, any shape.

    Returns
    -------
    list of str
        One per code, in C order.
    """
    flat = np.asarray(codes).ravel()
    # One lookup per distinct code, not per cell: a column of a million prices has a few codes.
    distinct, where = np.unique(flat, return_inverse=True)
    texts = [Reason(int(c)).text for c in distinct]
    return [texts[i] for i in where.ravel().tolist()]


def parse_choice(value: object, field: str, choices: Mapping[str, T]) -> T:
    """Map a case-insensitive string to one of ``choices``.

    Parameters
    ----------
    value : object
        What the user gave (stripped, lower-cased when a string).
    field : str
        The field's name, for the message.
    choices : mapping of str to T
        Allowed lower-case spellings -> value.

    Returns
    -------
    T
        The choice the text names (matched case-insensitively).

    Raises
    ------
    PricingInputError
        If ``value`` is not one of the keys; the message names ``field`` and lists the keys.

    Examples
    --------
    >>> parse_choice(" Call ", "cp", {"call": 1, "put": -1})
    1
    """
    key = str(value).strip().lower() if value is not None else ""
    try:
        return choices[key]
    except KeyError:
        allowed = ", ".join(repr(k) for k in choices)
        raise PricingInputError(f"{field}: {value!r} is not allowed; use one of {allowed}") from None
