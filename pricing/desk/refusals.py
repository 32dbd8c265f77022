"""Why the desk did not quote a request: a typed code and the text a user reads.

Each host maps the code, never the text: FIX to QuoteRequestRejectReason (658), Excel to an
error value carrying the text, the CLI to a failed row. The code is chosen where the refusal is
made (:mod:`pricing.desk.request`, :mod:`pricing.desk.service`), so no host guesses it from
English words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RefusalCode(Enum):
    """What a refusal is about."""

    #: A field of the request is malformed (a side, a ratio, a cell holding an error).
    BAD_REQUEST = "bad_request"
    #: An instrument name is not a Deribit name, or its underlying is not in the market.
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    #: A leg expired at or before the market's time.
    EXPIRED = "expired"
    #: The size is not a positive number.
    BAD_QUANTITY = "bad_quantity"
    #: The size is above the desk's limit.
    LIMIT_EXCEEDED = "limit_exceeded"
    #: The market snapshot is older than the desk accepts.
    STALE_MARKET = "stale_market"
    #: Anything else the desk could not price (the text says what).
    OTHER = "other"


@dataclass(frozen=True)
class Refusal:
    """A request the desk did not quote.

    Attributes
    ----------
    code : RefusalCode
        What the refusal is about (hosts map this, never ``text``).
    text : str
        The reason as a user reads it, naming the request (``rfqs, row 3, column side: ...``).

    Examples
    --------
    >>> r = Refusal(RefusalCode.EXPIRED, "rfqs, row 2: instrument expired")
    >>> r.code.value, str(r)
    ('expired', 'rfqs, row 2: instrument expired')
    """

    code: RefusalCode
    text: str

    def __str__(self) -> str:
        return self.text
