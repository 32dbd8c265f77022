"""The order lifecycle on firm quotes: a state machine with named invariants.

A quote is firm for one session and one QuoteReqID, on the sides it names, for its size and
until its ValidUntilTime. Orders are decided against it by :meth:`OrderBook.decide` (pure:
nothing changes) and the decision becomes state only through :meth:`OrderBook.apply_decision`,
after the host has journaled it. Restarting is replaying the journal's events
(:meth:`OrderBook.replay`), so the state after a restart is the state before it.

Invariants (checked by :meth:`OrderBook.violations`, which a stateful property test calls
after every step):

``FILLED_WITHIN_OFFERED``
    Per quote and side, the quantity filled never exceeds the size offered on that side.
``FILL_IN_QUOTE_SESSION``
    Every fill comes from the session the quote was sent to.
``FILL_AT_QUOTED_PRICE``
    Every fill is at the quote's own price for its side (a buy at our offer, a sell at our
    bid), and only when that price satisfies the order's limit Price (44): a buy's limit is
    at or above our offer, a sell's at or below our bid.
``FILL_ON_QUOTED_INSTRUMENT``
    An order whose Symbol (55) or legs, when it names them, are not its quote's is refused
    (checked by :meth:`OrderBook.decide`; the order's text is not journaled, so not re-checked here).
``FILL_WHILE_FIRM``
    No fill after the quote's ValidUntilTime or after the quote was cancelled.
``ONE_ANSWER_PER_CLORDID``
    A ClOrdID is unique per session: the same session sending it again gets the first answer
    (never a second fill); another session's ClOrdID of the same text is a different order.

Memory (a book built with a ``retention`` and an :class:`Archive`, as the FIX gateway builds it):
``BOUNDED_BY_RETENTION``
    After :meth:`OrderBook.forget` at ``now``, the book holds a quote only while
    ``now <= valid_until + retention``, and an answer only while ``now <= max(at, valid_until of its
    quote) + retention``: its size is O(quotes and answers of the last validity + retention), never
    O(everything since the start). What it forgot, the archive (the journal) still answers, so
    :meth:`OrderBook.decide` gives the same decision as a book that forgets nothing; a quote, once
    forgotten, is never firm again (it had expired by the book's latest clock when it was forgotten).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from pricing.desk.refusals import Refusal, RefusalCode

#: The client's sides an order may take (the dealer takes the other one).
ORDER_SIDES = ("buy", "sell")
#: Relative slack on sizes: a quantity within this fraction of the remaining size is within it
#: (FIX carries decimal text, so 0.1 + 0.2 arrives as written; this only absorbs float sums).
SIZE_SLACK = 1e-12


@dataclass(frozen=True, slots=True)
class QuoteTerms:
    """A firm quote as sent.

    Attributes
    ----------
    quote_id, session, quote_req_id : str
        The QuoteID (117); the session it was sent on (SenderCompID/TargetCompID as the host
        names it); the QuoteReqID (131) it answers.
    bid_px, offer_px : float or None
        USD per unit of the structure: a client sell fills at ``bid_px``, a buy at ``offer_px``
        (None: the side is not quoted).
    size : float
        Contracts of the structure offered on each quoted side (BidSize/OfferSize, 134/135).
    valid_until : datetime
        ValidUntilTime (62), timezone-aware UTC.
    symbol : str or None
        The quote's Symbol (55) as quoted (None: not known, e.g. a journal from before it was kept).
    legs : tuple of str or None
        The instruments of its legs (for one instrument, that instrument).
    """

    quote_id: str
    session: str
    quote_req_id: str
    bid_px: float | None
    offer_px: float | None
    size: float
    valid_until: datetime
    # What the quote is on: an order must name the same (not compared: a promise's terms are its prices, size and time).
    symbol: str | None = field(default=None, compare=False)
    legs: tuple[str, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.size) and self.size > 0):
            raise ValueError(f"QuoteTerms.size: must be > 0 contracts, got {self.size!r}")
        if self.valid_until.tzinfo is None:
            raise ValueError("QuoteTerms.valid_until: must be timezone-aware (UTC)")
        if self.bid_px is None and self.offer_px is None:
            raise ValueError("QuoteTerms: a quote has a bid, an offer or both")

    def price(self, side: str) -> float | None:
        """The price a client order on ``side`` fills at (our offer for a buy, our bid for a sell).

        Parameters
        ----------
        side : {"buy", "sell"}
            The client's side.

        Returns
        -------
        float or None
            USD per unit of the structure; None when that side is not quoted.
        """
        return self.offer_px if side == "buy" else self.bid_px if side == "sell" else None


@dataclass(frozen=True, slots=True)
class Order:
    """A NewOrderSingle on a quote: the client's side, quantity (contracts) and limit Price (44, None: at the quote).

    ``symbol`` and ``legs`` are the Symbol (55) and LegSymbols (600) the order names, if it names
    them; they must be the quote's (they are not journaled, so not part of the order's equality).

    Attributes
    ----------
    session : str
        The FIX session the order came on.
    cl_ord_id : str
        ClOrdID (11): unique per session.
    quote_id : str
        QuoteID (117) of the quote it takes.
    side : {"buy", "sell"}
        The client's side.
    quantity : float
        Contracts of the structure (OrderQty, 38).
    limit_px : float or None
        Price (44), USD per unit; None: at the quote.
    symbol : str or None
        Symbol (55), if named.
    legs : tuple of str or None
        LegSymbol (600) of each leg, if named.
    """

    session: str
    cl_ord_id: str
    quote_id: str
    side: str
    quantity: float
    limit_px: float | None = None
    symbol: str | None = field(default=None, compare=False)
    legs: tuple[str, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to an order: filled at ``price`` (USD per unit), or refused with ``refusal``.

    ``at`` is when it was decided (UTC); ``duplicate`` marks an answer repeated from the journal
    for a ClOrdID the session sent before.

    Attributes
    ----------
    order : Order
        The order answered.
    at : datetime
        When it was decided, UTC.
    price : float or None
        The fill price, USD per unit (None: refused).
    refusal : Refusal or None
        Why it was refused (None: filled).
    duplicate : bool
        An answer repeated from the journal.
    """

    order: Order
    at: datetime
    price: float | None = None
    refusal: Refusal | None = None
    duplicate: bool = False

    @property
    def filled(self) -> bool:
        return self.refusal is None

    def __post_init__(self) -> None:
        if (self.refusal is None) == (self.price is None):
            raise ValueError("Decision: a fill has a price and no refusal; a refusal has no price")


@dataclass(frozen=True, slots=True)
class Cancel:
    """A quote withdrawn (QuoteCancel 35=Z): the market moved beyond tolerance, the kill switch, or the client.

    Attributes
    ----------
    quote_id : str
        QuoteID (117) withdrawn.
    reason : str
        Why, as the client reads it.
    """

    quote_id: str
    reason: str


@dataclass(frozen=True)
class Quarantined:
    """An answer the journal holds but cannot read back (its row is in the quarantine table).

    What it said is unknown, so the book assumes the worst of it: the session's ClOrdID is
    answered (refused, never filled again) and its quote is closed, as if fully filled.

    Attributes
    ----------
    session : str
        The FIX session of the unreadable answer.
    cl_ord_id : str
        Its ClOrdID.
    quote_id : str
        The quote it answered.
    why : str
        Why the row could not be read.
    at : datetime
        When it was quarantined, UTC.
    """

    session: str
    cl_ord_id: str
    quote_id: str
    why: str
    at: datetime

    @property
    def text(self) -> str:
        return (
            f"ClOrdID (11) {self.cl_ord_id}: its journaled answer is unreadable (quarantined: {self.why[:120]});"
            " it is not filled again"
        )


def quarantine_reason(q: Quarantined) -> str:
    """The reason the quote of a quarantined answer is closed with (one text for the book and its archive).

    Parameters
    ----------
    q : Quarantined
        The unreadable answer.

    Returns
    -------
    str
        The cancel's reason.
    """
    return f"an answer on it ({q.session}/{q.cl_ord_id}) is quarantined: closed"


def _refuse(order: Order, now: datetime, code: RefusalCode, text: str) -> Decision:
    return Decision(order, now, None, Refusal(code, text))


@dataclass(frozen=True, slots=True)
class ArchivedQuote:
    """A quote the book no longer holds, as the archive (the journal) has it.

    Attributes
    ----------
    terms : QuoteTerms
        The quote as sent.
    cancel : Cancel or None
        Its cancel, if it was withdrawn (the first one journaled).
    """

    terms: QuoteTerms
    cancel: Cancel | None


class Archive(Protocol):
    """Where what the book forgot is still written: the FIX gateway's journal (:mod:`addin.fix.journal`)."""

    def archived_answer(self, session: str, cl_ord_id: str) -> Decision | None:
        """The first answer the session's ClOrdID got.

        Parameters
        ----------
        session, cl_ord_id : str
            The FIX session and the ClOrdID (11).

        Returns
        -------
        Decision or None
            None if it was never answered.
        """
        ...

    def archived_quote(self, quote_id: str) -> ArchivedQuote | None:
        """A quote sent, with its cancel if any.

        Parameters
        ----------
        quote_id : str
            The QuoteID (117).

        Returns
        -------
        ArchivedQuote or None
            None if no quote was sent under that QuoteID.
        """
        ...


#: What the book schedules to forget: (when, sequence, "q" and a QuoteID or "a" and a (session, ClOrdID)).
_Due = tuple[datetime, int, str, object]


@dataclass
class OrderBook:
    """Quotes, the answers given to orders, and cancels: the desk's promises and what was done with them.

    Attributes
    ----------
    quotes : dict of str to QuoteTerms
        The quotes held, by QuoteID: every quote sent, or with a ``retention`` those not yet forgotten.
    answers : dict of (str, str) to Decision
        The first answer to each (session, ClOrdID) held.
    cancels : dict of str to Cancel
        Withdrawn quotes, by QuoteID.
    filled : dict of (str, str) to float
        Contracts filled per (QuoteID, side).
    filled_at_cancel : dict of (str, str) to float
        Per cancelled quote and side, what was filled when it was cancelled (nothing may follow).
    retention : timedelta or None
        How long after a quote's ValidUntilTime (an answer's time, if later) :meth:`forget` keeps
        it; None: forever (the book of a test, or of a short-lived program).
    archive : Archive or None
        Where :meth:`decide` reads what the book forgot (required with a ``retention``).
    """

    quotes: dict[str, QuoteTerms] = field(default_factory=dict)
    answers: dict[tuple[str, str], Decision] = field(default_factory=dict)
    cancels: dict[str, Cancel] = field(default_factory=dict)
    filled: dict[tuple[str, str], float] = field(default_factory=dict)
    #: Per cancelled quote and side, what was filled when it was cancelled (nothing may follow).
    filled_at_cancel: dict[tuple[str, str], float] = field(default_factory=dict)
    retention: timedelta | None = field(default=None, compare=False)
    archive: Archive | None = field(default=None, compare=False, repr=False)
    #: QuoteIDs that may still be firm (not cancelled, size left, not seen expired), in quoting order.
    #: An index for :meth:`live`, derived from the events: not part of the book's state.
    _open: dict[str, None] = field(default_factory=dict, compare=False, repr=False)
    #: The latest ``now`` :meth:`live` swept expired quotes out of ``_open`` at.
    _swept_at: datetime | None = field(default=None, compare=False, repr=False)
    #: When each quote and answer held may be forgotten (a heap), and the latest clock :meth:`forget` saw.
    _due: list[_Due] = field(default_factory=list, compare=False, repr=False)
    _seq: int = field(default=0, compare=False, repr=False)
    _forgot_at: datetime | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.retention is not None and (self.archive is None or self.retention < timedelta(0)):
            raise ValueError("OrderBook: a retention needs an archive (what is forgotten is read back) and must be >= 0")

    # -- events (the only way state changes) ----------------------------------------------------

    def _schedule(self, when: datetime, kind: str, key: object) -> None:
        if self.retention is not None:
            self._seq += 1
            heapq.heappush(self._due, (when + self.retention, self._seq, kind, key))

    def apply_quote(self, terms: QuoteTerms) -> None:
        """A quote sent. A QuoteID is given once: another quote under the same ID is an error.

        Parameters
        ----------
        terms : QuoteTerms
            A quote sent; it becomes live until filled, cancelled or expired.

        Raises
        ------
        ValueError
            The QuoteID was quoted before (and is still held: the journal's primary key refuses the rest).
        """
        if terms.quote_id in self.quotes:
            raise ValueError(f"QuoteID {terms.quote_id!r}: already quoted")
        self.quotes[terms.quote_id] = terms
        self._open[terms.quote_id] = None
        self._schedule(terms.valid_until, "q", terms.quote_id)

    def apply_decision(self, decision: Decision) -> None:
        """An answer sent (a repeated answer changes nothing).

        Parameters
        ----------
        decision : Decision
            A fill adds its quantity to the quote's side.
        """
        order = decision.order
        key = (order.session, order.cl_ord_id)
        if decision.duplicate or key in self.answers:
            return
        self.answers[key] = replace(decision, duplicate=False)
        q = self.quotes.get(order.quote_id)
        # Kept as long as its quote (a fill is decided while the quote is firm), or as long after it was given.
        self._schedule(decision.at if q is None else max(decision.at, q.valid_until), "a", key)
        if decision.filled:
            side_key = (order.quote_id, order.side)
            self.filled[side_key] = self.filled.get(side_key, 0.0) + order.quantity
            if q is not None and not any(self.remaining(order.quote_id, s) > 0 for s in ORDER_SIDES):
                self._open.pop(order.quote_id, None)

    def apply_cancel(self, cancel: Cancel) -> None:
        """A quote withdrawn (cancelling twice keeps the first reason).

        Parameters
        ----------
        cancel : Cancel
            A cancel of a live quote. With a ``retention``, a cancel of a quote the book does not
            hold is not kept: the archive has it, and :meth:`decide` reads it there.
        """
        if cancel.quote_id in self.cancels:
            return
        if self.retention is not None and cancel.quote_id not in self.quotes:
            return
        self.cancels[cancel.quote_id] = cancel
        self._open.pop(cancel.quote_id, None)
        for s in ORDER_SIDES:
            self.filled_at_cancel[(cancel.quote_id, s)] = self.filled.get((cancel.quote_id, s), 0.0)

    def apply_quarantined(self, q: Quarantined) -> None:
        """An unreadable answer counts: its ClOrdID is answered as refused and its quote is closed.

        Parameters
        ----------
        q : Quarantined
            A journal line that could not be read back; it is kept for inspection and changes no quote.
        """
        key = (q.session, q.cl_ord_id)
        if key not in self.answers:
            order = Order(q.session, q.cl_ord_id, q.quote_id, "?", 0.0)
            self.apply_decision(Decision(order, q.at, None, Refusal(RefusalCode.OTHER, q.text)))
        self.apply_cancel(Cancel(q.quote_id, quarantine_reason(q)))

    def apply(self, event: QuoteTerms | Decision | Cancel | Quarantined) -> None:
        """Any event, as the journal lists them.

        Parameters
        ----------
        event : QuoteTerms, Decision, Cancel or Quarantined
            One journal event, applied by its type.
        """
        if isinstance(event, QuoteTerms):
            self.apply_quote(event)
        elif isinstance(event, Decision):
            self.apply_decision(event)
        elif isinstance(event, Quarantined):
            self.apply_quarantined(event)
        else:
            self.apply_cancel(event)

    @classmethod
    def replay(
        cls,
        events: Iterable[QuoteTerms | Decision | Cancel | Quarantined],
        *,
        retention: timedelta | None = None,
        archive: Archive | None = None,
        now: datetime | None = None,
    ) -> OrderBook:
        """The book a journal describes: its events applied again in the journal's order (a restart).

        Parameters
        ----------
        events : iterable of QuoteTerms, Decision, Cancel or Quarantined
            In journal order.
        retention, archive : optional
            As the book's own (:class:`OrderBook`); with them the book forgets as it replays.
        now : datetime, optional
            With a retention: the clock the replayed book is swept at (:meth:`forget`) once replayed.

        Returns
        -------
        OrderBook
            The book rebuilt from the events, as it was after the last one (less what it forgot).
        """
        book = cls(retention=retention, archive=archive)
        for e in events:
            book.apply(e)
            if retention is not None and isinstance(e, Decision):
                book.forget(e.at)  # an answer's time is a time the gateway was at: nothing due by then is needed
        if retention is not None and now is not None:
            book.forget(now)
        return book

    def forget(self, now: datetime) -> int:
        """Drop what is due at ``now``: quotes ``retention`` after their ValidUntilTime, answers after theirs.

        Parameters
        ----------
        now : datetime
            Timezone-aware; a ``now`` earlier than one already seen forgets nothing more.

        Returns
        -------
        int
            How many quotes and answers were dropped (0 without a retention).

        Notes
        -----
        A quote leaves with what is kept per quote (its cancel, its fills per side); an answer
        alone. Both are still in the archive, where :meth:`decide` reads them: the same answers
        as a book that forgets nothing (``BOUNDED_BY_RETENTION`` in the module docstring). Cost:
        O(k log n) for k dropped of n held (a heap by due time).
        """
        if self.retention is None:
            return 0
        if self._forgot_at is None or now > self._forgot_at:
            self._forgot_at = now
        dropped = 0
        while self._due and self._due[0][0] < self._forgot_at:
            _, _, kind, key = heapq.heappop(self._due)
            if kind == "q":
                assert isinstance(key, str)
                self.quotes.pop(key, None)
                self._open.pop(key, None)
                self.cancels.pop(key, None)
                for s in ORDER_SIDES:
                    self.filled.pop((key, s), None)
                    self.filled_at_cancel.pop((key, s), None)
            else:
                self.answers.pop(key, None)  # type: ignore[call-overload]
            dropped += 1
        return dropped

    def state(self) -> tuple[object, ...]:
        """Everything the book promises and did, comparable with ``==`` (a restart must reproduce it).

        Returns
        -------
        tuple
            Copies of the quotes, answers and cancels, and the non-zero fills.
        """
        return (
            dict(self.quotes),
            dict(self.answers),
            dict(self.cancels),
            {k: v for k, v in self.filled.items() if v},
        )

    def held(self) -> int:
        """How many quotes and answers the book holds now (what ``BOUNDED_BY_RETENTION`` bounds).

        Returns
        -------
        int
            ``len(quotes) + len(answers)``.
        """
        return len(self.quotes) + len(self.answers)

    # -- queries ------------------------------------------------------------------------------

    def terms(self, quote_id: str) -> QuoteTerms | None:
        """A quote's terms, held or (once forgotten) from the archive; None for no quote of that ID.

        Parameters
        ----------
        quote_id : str
            A QuoteID (117) as an order names it.

        Returns
        -------
        QuoteTerms or None
            The quote as sent.
        """
        q = self.quotes.get(quote_id)
        if q is None and self._forgot_at is not None and self.archive is not None:
            got = self.archive.archived_quote(quote_id)
            return None if got is None else got.terms
        return q

    def remaining(self, quote_id: str, side: str) -> float:
        """Contracts still firm on a quote's side (0 for a side not quoted, or a quote not held).

        Parameters
        ----------
        quote_id : str
            The QuoteID of a quote sent.
        side : {"buy", "sell"}
            The client's side.

        Returns
        -------
        float
            Contracts of the structure, >= 0.
        """
        q = self.quotes.get(quote_id)
        if q is None or q.price(side) is None:
            return 0.0
        return max(q.size - self.filled.get((quote_id, side), 0.0), 0.0)

    def live(self, now: datetime) -> list[QuoteTerms]:
        """Quotes still firm at ``now``: not cancelled, not expired, with size left on a side.

        Parameters
        ----------
        now : datetime
            Timezone-aware.

        Returns
        -------
        list of QuoteTerms
            The quotes still open (not filled, cancelled or expired), in quoting order.

        Notes
        -----
        The same list as testing every quote held with :meth:`is_live`, without the scan: a
        gateway polls this on every market snapshot under its lock, and a day's quotes (tens of
        thousands, nearly all expired) made each poll grow with the day. Quotes filled or
        cancelled leave the index when that happens; expired ones when a call sees them expired.
        Expiry is final only for a clock that does not go back, so a ``now`` earlier than one
        already swept at answers by the full scan of the quotes held.
        """
        if self._swept_at is not None and now < self._swept_at:
            return [q for q in self.quotes.values() if self.is_live(q.quote_id, now)]
        expired = [qid for qid in self._open if now > self.quotes[qid].valid_until]
        for qid in expired:
            del self._open[qid]
        self._swept_at = now
        return [self.quotes[qid] for qid in self._open if self.is_live(qid, now)]

    def is_live(self, quote_id: str, now: datetime) -> bool:
        """Whether one quote is still firm at ``now`` (:meth:`live`'s test for one quote).

        Parameters
        ----------
        quote_id : str
            A QuoteID (a quote the book forgot, or never had, is not live).
        now : datetime
            Timezone-aware.

        Returns
        -------
        bool
            Held, not cancelled, not expired, with size left on a side.
        """
        q = self.quotes.get(quote_id)
        return (
            q is not None
            and quote_id not in self.cancels
            and now <= q.valid_until
            and any(self.remaining(quote_id, s) > 0 for s in ORDER_SIDES)
        )

    def _answered(self, session: str, cl_ord_id: str) -> Decision | None:
        before = self.answers.get((session, cl_ord_id))
        if before is None and self._forgot_at is not None and self.archive is not None:
            before = self.archive.archived_answer(session, cl_ord_id)
        return before

    def _quote_for(self, quote_id: str, now: datetime) -> tuple[QuoteTerms | None, Cancel | None, datetime]:
        """The quote an order names, its cancel and the clock to judge its firmness by."""
        q = self.quotes.get(quote_id)
        if q is not None or self._forgot_at is None or self.archive is None:
            return q, self.cancels.get(quote_id), now
        got = self.archive.archived_quote(quote_id)
        if got is None:
            return None, None, now
        # Forgotten means expired by the book's latest clock: a clock set back never revives it.
        return got.terms, got.cancel, max(now, self._forgot_at)

    def decide(self, order: Order, now: datetime) -> Decision:
        """The answer to ``order`` at ``now`` (pure: apply it with :meth:`apply_decision` once journaled).

        The checks, in order: a ClOrdID this session used before gets its first answer (from the
        archive if the book forgot it); the QuoteID must be a quote sent to this session (a quote
        the book forgot is read from the archive, with its cancel); the order's Symbol and legs (if it names
        them) must be the quote's; not cancelled; a quoted side; firm at
        ``now``; a quantity > 0 within what is left on that side; the quote's price within
        the order's limit. The fill is at the quote's own price.

        Parameters
        ----------
        order : Order
            An order against one of the book's quotes.
        now : datetime
            Timezone-aware.

        Returns
        -------
        Decision
            A fill at the quote's price, or a refusal with its code.
        """
        before = self._answered(order.session, order.cl_ord_id)
        if before is not None:
            return replace(before, duplicate=True)
        q, cancel, firm_clock = self._quote_for(order.quote_id, now)
        if q is None or q.session != order.session:
            # Another session's quote is answered as unknown: its existence is not this client's business.
            code = RefusalCode.UNKNOWN_QUOTE if q is None else RefusalCode.NOT_YOUR_QUOTE
            return _refuse(order, now, code, f"QuoteID (117): {order.quote_id!r} is not a quote sent to this session")
        if order.symbol is not None and q.symbol is not None and order.symbol != q.symbol:
            return _refuse(
                order,
                now,
                RefusalCode.BAD_REQUEST,
                f"Symbol (55): the order is on {order.symbol[:60]!r} but quote {q.quote_id} is on {q.symbol!r}",
            )
        if order.legs is not None and q.legs is not None and sorted(order.legs) != sorted(q.legs):
            return _refuse(
                order,
                now,
                RefusalCode.BAD_REQUEST,
                f"NoLegs (555): the order's legs {', '.join(n[:60] for n in order.legs)} are not the legs of"
                f" quote {q.quote_id}: {', '.join(q.legs)}",
            )
        if cancel is not None:
            return _refuse(
                order,
                now,
                RefusalCode.QUOTE_CANCELLED,
                f"QuoteID (117): quote {q.quote_id} was cancelled ({cancel.reason})",
            )
        if order.side not in ORDER_SIDES:
            return _refuse(order, now, RefusalCode.BAD_REQUEST, f"Side (54): {order.side!r}: give 1 (buy) or 2 (sell)")
        price = q.price(order.side)
        if price is None:
            have = "offer" if order.side == "buy" else "bid"
            return _refuse(order, now, RefusalCode.SIDE_NOT_QUOTED, f"Side (54): the quote {q.quote_id} has no {have}")
        if firm_clock > q.valid_until:
            return _refuse(
                order,
                now,
                RefusalCode.QUOTE_EXPIRED,
                f"quote {q.quote_id} expired at {q.valid_until:%Y%m%d-%H:%M:%S.%f}"[:-3] + " (ValidUntilTime)",
            )
        left = self.remaining(q.quote_id, order.side)
        if not (math.isfinite(order.quantity) and order.quantity > 0):
            return _refuse(order, now, RefusalCode.BAD_QUANTITY, f"OrderQty (38): must be > 0 contracts, got {order.quantity!r}")
        if order.quantity > left * (1.0 + SIZE_SLACK):
            done = q.size - left
            return _refuse(
                order,
                now,
                RefusalCode.OVER_QUOTED_SIZE,
                f"OrderQty (38): {order.quantity:g} is more than the {left:g} left on quote {q.quote_id}"
                f" (quoted {q.size:g}, filled {done:g})",
            )
        lim = order.limit_px
        if lim is not None and not math.isfinite(lim):
            return _refuse(order, now, RefusalCode.BAD_REQUEST, f"Price (44): {lim!r} is not a price")
        if lim is not None and (lim < price if order.side == "buy" else lim > price):
            ours = "offer" if order.side == "buy" else "bid"
            need = "at or above" if order.side == "buy" else "at or below"
            return _refuse(
                order,
                now,
                RefusalCode.LIMIT_PRICE,
                # Both at full precision (repr): two different prices never print the same.
                f"Price (44): the limit {lim!r} is not {need} our {ours} {price!r} USD per unit",
            )
        return Decision(order, now, price, None)

    @staticmethod
    def refuse(decision: Decision, refusal: Refusal) -> Decision:
        """A would-be fill refused for a reason found outside the book (the market moved, a risk limit).

        Parameters
        ----------
        decision : Decision
            The fill :meth:`decide` gave.
        refusal : Refusal
            The typed reason the order is refused.

        Returns
        -------
        Decision
            The same order and time, refused.
        """
        return Decision(decision.order, decision.at, None, refusal)

    # -- invariants ---------------------------------------------------------------------------

    def violations(self) -> list[str]:
        """Every broken invariant, named (empty when the book keeps its promises).

        Returns
        -------
        list of str
            One line per broken invariant; empty when the book is consistent.
        """
        out: list[str] = []
        for (quote_id, side), qty in self.filled.items():
            q = self.quotes.get(quote_id)
            if q is None or qty > q.size * (1.0 + SIZE_SLACK):
                out.append(f"FILLED_WITHIN_OFFERED: quote {quote_id} {side}: filled {qty:g} of {q.size if q else 0:g}")
        for (session, cl_ord_id), d in self.answers.items():
            if d.order.session != session or d.order.cl_ord_id != cl_ord_id:
                out.append(f"ONE_ANSWER_PER_CLORDID: {session}/{cl_ord_id} holds another order's answer")
            if not d.filled:
                continue
            q = self.quotes.get(d.order.quote_id)
            if q is None or q.session != session:
                out.append(f"FILL_IN_QUOTE_SESSION: {session}/{cl_ord_id} filled on {d.order.quote_id}")
                continue
            if d.at > q.valid_until:
                out.append(f"FILL_WHILE_FIRM: {session}/{cl_ord_id} filled at {d.at:%H:%M:%S.%f}, after ValidUntilTime")
            px = q.price(d.order.side)
            lim = d.order.limit_px
            if px is None or d.price != px:
                out.append(f"FILL_AT_QUOTED_PRICE: {session}/{cl_ord_id} at {d.price} on a side quoted at {px}")
            elif lim is not None and (lim < px if d.order.side == "buy" else lim > px):
                out.append(f"FILL_AT_QUOTED_PRICE: {session}/{cl_ord_id} filled at {px} beyond its limit {lim}")
        for key, at_cancel in self.filled_at_cancel.items():
            if self.filled.get(key, 0.0) > at_cancel:
                out.append(f"FILL_WHILE_FIRM: quote {key[0]} {key[1]} filled after it was cancelled")
        return out
