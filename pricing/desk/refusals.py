"""Typed reasons a desk refuses a request, an order or a quote, with their FIX codes.

A refusal is data: a :class:`RefusalCode` (what kind of promise would have been broken) and a
text naming the field, the limit and the value. Hosts map the code, never the English text,
to their wire: QuoteRequestRejectReason (658) on a 35=AG, OrdRejReason (103) on a rejecting
ExecutionReport (35=8). Values are FIX 4.4's (FIX 4.4 specification, Volume 6, fields 658 and 103).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RefusalCode(Enum):
    """Why the desk says no; ``value`` is a stable lower-case name (journal, logs, tests).

    ``quote_reject`` is the QuoteRequestRejectReason (658) of a refused request and
    ``order_reject`` the OrdRejReason (103) of a refused order.
    """

    UNKNOWN_INSTRUMENT = "unknown-instrument"
    NOT_LISTED = "not-listed"
    EXPIRED = "expired"
    BAD_FIELD = "bad-field"
    SIZE_LIMIT = "size-limit"
    RISK_LIMIT = "risk-limit"
    KILL_SWITCH = "kill-switch"
    MARKET_STALE = "market-stale"
    PRICE_BOUNDS = "price-bounds"
    UNKNOWN_QUOTE = "unknown-quote"
    NOT_YOUR_QUOTE = "not-your-quote"
    QUOTE_EXPIRED = "quote-expired"
    QUOTE_CANCELLED = "quote-cancelled"
    SIDE_NOT_QUOTED = "side-not-quoted"
    OVER_QUOTED_SIZE = "over-quoted-size"
    LIMIT_PRICE = "limit-price"
    MARKET_MOVED = "market-moved"
    INTERNAL = "internal"

    @property
    def quote_reject(self) -> int:
        """QuoteRequestRejectReason (658): 1 unknown symbol, 2 exchange closed, 3 exceeds limit,
        4 too late, 5 invalid price, 6 not authorized, 8 no market, 99 other."""
        return _QUOTE_REJECT.get(self, 99)

    @property
    def order_reject(self) -> int:
        """OrdRejReason (103): 1 unknown symbol, 2 exchange closed, 3 exceeds limit, 4 too late,
        5 unknown order, 13 incorrect quantity, 99 other."""
        return _ORDER_REJECT.get(self, 99)


_QUOTE_REJECT = {
    RefusalCode.UNKNOWN_INSTRUMENT: 1,
    RefusalCode.NOT_LISTED: 1,
    RefusalCode.KILL_SWITCH: 2,
    RefusalCode.SIZE_LIMIT: 3,
    RefusalCode.RISK_LIMIT: 3,
    RefusalCode.EXPIRED: 4,
    RefusalCode.PRICE_BOUNDS: 5,
    RefusalCode.MARKET_STALE: 8,
}
_ORDER_REJECT = {
    RefusalCode.UNKNOWN_INSTRUMENT: 1,
    RefusalCode.KILL_SWITCH: 2,
    RefusalCode.RISK_LIMIT: 3,
    RefusalCode.SIZE_LIMIT: 3,
    RefusalCode.QUOTE_EXPIRED: 4,
    RefusalCode.QUOTE_CANCELLED: 4,
    RefusalCode.UNKNOWN_QUOTE: 5,
    RefusalCode.NOT_YOUR_QUOTE: 5,
    RefusalCode.OVER_QUOTED_SIZE: 13,
}


@dataclass(frozen=True)
class Refusal:
    """A refusal: its code and a text naming the field (and the limit and the value, if any)."""

    code: RefusalCode
    text: str

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("Refusal.text: a refusal must say why")
