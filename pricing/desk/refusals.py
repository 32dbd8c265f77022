"""Why the desk did not quote a request, or did not fill an order: a typed code and the text a user reads.

Each host maps the code, never the text: FIX to QuoteRequestRejectReason (658) on a 35=AG and
OrdRejReason (103) on a rejecting ExecutionReport (35=8), Excel to an error value carrying the
text, the CLI to a failed row. The code is chosen where the refusal is made
(:mod:`pricing.desk.request`, :mod:`pricing.desk.service`, :mod:`pricing.desk.admission`,
:mod:`pricing.desk.limits`, :mod:`pricing.desk.orders`, :mod:`pricing.desk.sanity`), so no host
guesses it from English words. FIX values are FIX 4.4's (Volume 6, fields 658 and 103).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RefusalCode(Enum):
    """What a refusal is about."""

    #: A field of the request or order is malformed (a side, a ratio, an order type, a cell holding an error).
    BAD_REQUEST = "bad_request"
    #: An instrument name is not a Deribit name, or its underlying is not in the market.
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    #: A well-formed instrument the venue does not list (or a future/perpetual without its own mark).
    NOT_LISTED = "not_listed"
    #: Futures legs beyond a delta hedge: more futures contracts than options contracts.
    NOT_A_HEDGE = "not_a_hedge"
    #: A leg expired at or before the market's time.
    EXPIRED = "expired"
    #: The size is not a positive number.
    BAD_QUANTITY = "bad_quantity"
    #: The size is above the desk's limit.
    LIMIT_EXCEEDED = "limit_exceeded"
    #: A pre-trade risk limit (notional, ΔIM, net delta or vega, a session's or the desk's total).
    RISK_LIMIT = "risk_limit"
    #: The kill switch is on: no quotes, no fills.
    KILL_SWITCH = "kill_switch"
    #: The market snapshot is older than the desk accepts.
    STALE_MARKET = "stale_market"
    #: A price outside the no-arbitrage bounds (:mod:`pricing.desk.sanity`).
    PRICE_BOUNDS = "price_bounds"
    #: An order's QuoteID is no quote of ours.
    UNKNOWN_QUOTE = "unknown_quote"
    #: An order's QuoteID is a quote sent to another session.
    NOT_YOUR_QUOTE = "not_your_quote"
    #: An order after the quote's ValidUntilTime.
    QUOTE_EXPIRED = "quote_expired"
    #: An order on a quote that was cancelled (35=Z).
    QUOTE_CANCELLED = "quote_cancelled"
    #: An order on a side the quote does not have.
    SIDE_NOT_QUOTED = "side_not_quoted"
    #: An order for more than is left on the quote's side.
    OVER_QUOTED_SIZE = "over_quoted_size"
    #: The order's limit Price (44) is not satisfied by the quote's price.
    LIMIT_PRICE = "limit_price"
    #: The structure's mid moved beyond the fill tolerance since the quote.
    MARKET_MOVED = "market_moved"
    #: Anything else the desk could not price or do (the text says what).
    OTHER = "other"

    @property
    def quote_reject(self) -> int:
        """QuoteRequestRejectReason (658): 1 unknown symbol, 2 exchange closed, 3 exceeds limit,
        4 too late, 5 invalid price, 8 no market, 99 other."""
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
    RefusalCode.LIMIT_EXCEEDED: 3,
    RefusalCode.BAD_QUANTITY: 3,
    RefusalCode.RISK_LIMIT: 3,
    RefusalCode.EXPIRED: 4,
    RefusalCode.PRICE_BOUNDS: 5,
    RefusalCode.STALE_MARKET: 8,
}
_ORDER_REJECT = {
    RefusalCode.UNKNOWN_INSTRUMENT: 1,
    RefusalCode.KILL_SWITCH: 2,
    RefusalCode.LIMIT_EXCEEDED: 3,
    RefusalCode.RISK_LIMIT: 3,
    RefusalCode.QUOTE_EXPIRED: 4,
    RefusalCode.QUOTE_CANCELLED: 4,
    RefusalCode.UNKNOWN_QUOTE: 5,
    RefusalCode.NOT_YOUR_QUOTE: 5,
    RefusalCode.OVER_QUOTED_SIZE: 13,
    RefusalCode.BAD_QUANTITY: 13,
}


@dataclass(frozen=True)
class Refusal:
    """A request the desk did not quote, or an order it did not fill.

    Attributes
    ----------
    code : RefusalCode
        What the refusal is about (hosts map this, never ``text``).
    text : str
        The reason as a user reads it, naming the request or field (``rfqs, row 3, column side: ...``).

    Examples
    --------
    >>> r = Refusal(RefusalCode.EXPIRED, "rfqs, row 2: instrument expired")
    >>> r.code.value, str(r), r.code.quote_reject
    ('expired', 'rfqs, row 2: instrument expired', 4)
    """

    code: RefusalCode
    text: str

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("Refusal.text: a refusal must say why")

    def __str__(self) -> str:
        return self.text
