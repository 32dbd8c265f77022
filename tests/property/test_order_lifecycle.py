"""The order lifecycle keeps its promises under any interleaving (hypothesis ``RuleBasedStateMachine``).

The machine drives :class:`pricing.desk.orders.OrderBook` with the real SQLite
:class:`addin.fix.journal.Journal` underneath, as the gateway does: quotes to two or three
sessions, orders on any quote (other sessions' too), replayed and reused ClOrdIDs, limit prices
either side of the quote, cancels, market moves (every live quote withdrawn), the clock passing
ValidUntilTime, and restarts (the journal closed, reopened, and the book rebuilt from it).
After every step it checks, from what was *sent* (not from the book's own counters):

* filled ≤ offered, per quote and side;
* every fill is on a quote of its own session, at that quote's price, within its limit, while firm;
* a session's ClOrdID never gets two different answers;
* the journal holds exactly the messages sent;

and that the book names no broken invariant (:meth:`OrderBook.violations`). A restart must
reproduce the book's state exactly.

Beside that book (which forgets nothing) runs a bounded one, as the FIX gateway runs it: a
``RETENTION`` and the journal as its archive, swept as the clock passes (steps of up to a
minute, far past the retention). Every decision of the bounded book must be the decision of the
unbounded one (so every answer on the wire stays the same: a forgotten quote is refused for the
same reason, a forgotten ClOrdID gets its first answer), it must list the same live quotes, its
restart must reproduce it, and it holds exactly what the retention says
(``BOUNDED_BY_RETENTION``): a quote while ``valid_until + RETENTION`` has not passed, an answer
while ``max(at, valid_until) + RETENTION`` has not.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from addin.fix.journal import Journal
from pricing.desk.orders import Cancel, Decision, Order, OrderBook, QuoteTerms

SESSIONS = ("FIX.4.4:CLEARQUOTE->A", "FIX.4.4:CLEARQUOTE->B", "FIX.4.4:CLEARQUOTE->C")
T0 = datetime(2026, 8, 21, 10, tzinfo=UTC)
#: The bounded book's retention: longer than the 3 s the clock is set back in the ``live`` check,
#: shorter than the validities (1-30 s) and the clock's steps (up to 60 s), so quotes are forgotten
#: while orders on them, and resent ClOrdIDs, still come.
RETENTION = timedelta(seconds=5)


def _wire(d: Decision) -> str:
    """What the client is told, as text (the gateway sends the ExecutionReport built from the same decision)."""
    o = d.order
    if d.filled:
        return f"8|{o.session}|{o.cl_ord_id}|39=2|31={d.price!r}|32={o.quantity!r}|117={o.quote_id}"
    assert d.refusal is not None
    return f"8|{o.session}|{o.cl_ord_id}|39=8|{d.refusal.code.value}|{d.refusal.text}"


class OrderLifecycle(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "journal.sqlite"
        self.journal = Journal(self.path)
        self.book = OrderBook()
        self.bounded = OrderBook(retention=RETENTION, archive=self.journal)
        self.forgotten = 0
        self.now = T0
        self.n_quotes = 0
        self.sent_quotes: dict[str, QuoteTerms] = {}
        self.sent_answers: dict[tuple[str, str], str] = {}  # first answer per (session, ClOrdID)
        self.sent_fills: list[tuple[Order, float, datetime]] = []
        self.filled_when_cancelled: dict[tuple[str, str], float] = {}

    def teardown(self) -> None:
        self.journal.close()
        self.dir.cleanup()

    @rule(
        session=st.sampled_from(SESSIONS),
        size=st.sampled_from([1.0, 2.5, 10.0]),
        sides=st.sampled_from(["two-way", "buy", "sell"]),
        validity_s=st.sampled_from([1, 5, 30]),
        mid=st.floats(10.0, 5_000.0),
    )
    def quote(self, session: str, size: float, sides: str, validity_s: int, mid: float) -> None:
        self.n_quotes += 1
        qid = f"Q{self.n_quotes}"
        bid = round(mid * 0.99, 8) if sides != "buy" else None
        offer = round(mid * 1.01, 8) if sides != "sell" else None
        terms = QuoteTerms(qid, session, f"R{self.n_quotes}", bid, offer, size, self.now + timedelta(seconds=validity_s))
        row = {
            "quote_id": qid,
            "quote_req_id": terms.quote_req_id,
            "session": session,
            "received_utc": self.now.isoformat(),
            "status": "quoted",
            "request": {"legs": [["BTC-25SEP26-65000-C", 1.0]], "side": sides, "quantity": size},
            "response": {"bid_px": bid, "offer_px": offer},
            "market": "test",
            "model": "test",
            "params": {},
            "valid_until_utc": terms.valid_until.isoformat(),
            "elapsed_ms": 0.0,
        }
        self.journal.record_quote(row, f"S|{qid}")
        self.book.apply_quote(terms)
        self.bounded.apply_quote(terms)
        self.sent_quotes[qid] = terms

    @precondition(lambda self: self.n_quotes > 0)
    @rule(
        burst=st.lists(
            st.tuples(
                st.sampled_from([True, True, True, False]),
                st.sampled_from(SESSIONS),
                st.integers(0, 10**6),
                st.sampled_from([f"C{i}" for i in range(1, 13)]),
                st.sampled_from(["buy", "sell", "buy", "sell", "x"]),
                st.sampled_from([0.5, 0.5, 1.0, 2.5, 4.0, 10.0, 11.0, 0.0, -1.0]),
                st.sampled_from([None, None, -0.02, -0.0001, 0.0, 0.0001, 0.5]),
                st.booleans(),
            ),
            min_size=1,
            max_size=5,
        )
    )
    def orders(self, burst: list[tuple[bool, str, int, str, str, float, float | None, bool]]) -> None:
        for args in burst:
            self._order(*args)

    def _order(
        self, own: bool, session: str, pick: int, cl: str, side: str, qty: float, limit: float | None, unknown: bool
    ) -> None:
        # Mostly the latest quotes, mostly from their own session: where fills (and over-fills) happen.
        qid = "nope" if unknown and pick % 7 == 0 else f"Q{max(1, self.n_quotes - pick % 3)}"
        q = self.sent_quotes.get(qid)
        if own and q is not None:
            session = q.session
        px = None if q is None else q.price(side)
        # A limit relative to the quote's own price on that side: at it, better or worse for us.
        lim = None if limit is None or px is None else px * (1 + limit if side == "buy" else 1 - limit)
        o = Order(session, cl, qid, side, qty, lim)
        d = self.book.decide(o, self.now)
        assert self.bounded.decide(o, self.now) == d, "the bounded book answered otherwise"
        if d.duplicate:
            assert _wire(d) == self.sent_answers[(session, cl)], "a replayed ClOrdID got another answer"
            return
        legs = [["BTC-25SEP26-65000-C", -qty if side == "buy" else qty]] if d.filled else []
        assert self.journal.record_decision(d, legs, _wire(d))
        self.book.apply_decision(d)
        self.bounded.apply_decision(d)
        self.sent_answers[(session, cl)] = _wire(d)
        if d.filled:
            assert d.price is not None
            self.sent_fills.append((o, d.price, self.now))

    @precondition(lambda self: self.n_quotes > 0)
    @rule(pick=st.integers(0, 10**6))
    def cancel(self, pick: int) -> None:
        qid = f"Q{1 + pick % self.n_quotes}"
        c = Cancel(qid, "client OrderCancelRequest")
        if self.journal.record_cancel(c, self.now, f"Z|{qid}"):
            self._withdrawn(qid)
        self.book.apply_cancel(c)
        self.bounded.apply_cancel(c)

    @rule()
    def market_moves(self) -> None:
        """The market moved beyond tolerance: every live quote is withdrawn (35=Z)."""
        live = self.book.live(self.now)
        assert self.bounded.live(self.now) == live
        for q in live:
            c = Cancel(q.quote_id, "market moved beyond tolerance")
            assert self.journal.record_cancel(c, self.now, f"Z|{q.quote_id}")
            self.book.apply_cancel(c)
            self.bounded.apply_cancel(c)
            self._withdrawn(q.quote_id)

    def _withdrawn(self, qid: str) -> None:
        for side in ("buy", "sell"):
            self.filled_when_cancelled[(qid, side)] = self._sent_total(qid, side)

    def _sent_total(self, qid: str, side: str) -> float:
        return sum(o.quantity for o, _, _ in self.sent_fills if (o.quote_id, o.side) == (qid, side))

    @rule(seconds=st.sampled_from([0.5, 2, 10, 60]))
    def time_passes(self, seconds: float) -> None:
        """The clock moves on and the bounded book is swept (the gateway sweeps at every poll)."""
        self.now += timedelta(seconds=seconds)
        self.forgotten += self.bounded.forget(self.now)

    @rule()
    def restart(self) -> None:
        before = self.book.state()
        self.journal.close()
        self.journal = Journal(self.path)
        events, quarantined = self.journal.events()
        assert quarantined == []
        self.book = OrderBook.replay(e for e, _ in events)
        assert self.book.state() == before, "the restarted book differs from the book before the restart"
        self.bounded.forget(self.now)
        bounded_before = self.bounded.state()
        self.bounded = OrderBook.replay((e for e, _ in events), retention=RETENTION, archive=self.journal, now=self.now)
        assert self.bounded.state() == bounded_before, "the restarted bounded book differs from before the restart"

    # -- invariants, from what was sent ---------------------------------------------------------

    @invariant()
    def live_is_every_quote_still_firm(self) -> None:
        """The book's open-quote index answers as a scan of every quote sent would: at the machine's
        clock and, after that sweep, at a time before it (a clock set back)."""
        for at in (self.now, self.now - timedelta(seconds=3), self.now):
            scan = [q for q in self.book.quotes.values() if self.book.is_live(q.quote_id, at)]
            assert self.book.live(at) == scan
            assert self.bounded.live(at) == scan, "the bounded book lists other live quotes"

    @invariant()
    def bounded_holds_exactly_what_the_retention_says(self) -> None:
        """BOUNDED_BY_RETENTION: after a sweep at t, a quote is held iff valid_until + RETENTION >= t,
        an answer iff max(at, its quote's valid_until) + RETENTION >= t; the unbounded book holds all."""
        t = self.bounded._forgot_at
        if t is None:
            assert self.bounded.state() == self.book.state()
            return
        quotes = {k for k, q in self.book.quotes.items() if q.valid_until + RETENTION >= t}
        assert set(self.bounded.quotes) == quotes
        answers = set()
        for key, d in self.book.answers.items():
            q = self.book.quotes.get(d.order.quote_id)
            end = d.at if q is None else max(d.at, q.valid_until)
            if end + RETENTION >= t:
                answers.add(key)
        assert set(self.bounded.answers) == answers
        assert self.bounded.held() == len(quotes) + len(answers)
        assert set(self.bounded.cancels) <= quotes and {k for k, _ in self.bounded.filled} <= quotes

    @invariant()
    def filled_within_offered(self) -> None:
        total: dict[tuple[str, str], float] = {}
        for o, _, _ in self.sent_fills:
            total[(o.quote_id, o.side)] = total.get((o.quote_id, o.side), 0.0) + o.quantity
        for (qid, side), qty in total.items():
            assert qty <= self.sent_quotes[qid].size * (1 + 1e-12), (qid, side, qty)

    @invariant()
    def fills_keep_the_quote_terms(self) -> None:
        for o, price, at in self.sent_fills:
            q = self.sent_quotes[o.quote_id]
            assert o.session == q.session, "a fill for another session's quote"
            assert price == q.price(o.side), "a fill away from the quote's own price"
            assert at <= q.valid_until, "a fill after ValidUntilTime"
            if o.limit_px is not None:
                assert (o.limit_px >= price) if o.side == "buy" else (o.limit_px <= price), "a fill beyond the limit"

    @invariant()
    def nothing_filled_after_a_cancel(self) -> None:
        for (qid, side), at_cancel in self.filled_when_cancelled.items():
            assert self._sent_total(qid, side) == at_cancel, f"quote {qid} {side} filled after it was cancelled"

    @invariant()
    def journal_is_what_was_sent(self) -> None:
        for (session, cl), text in self.sent_answers.items():
            got = self.journal.answer(session, cl)
            assert got is not None and got.message == text
        _, rows = self.journal.table("fills")
        assert len(rows) == len(self.sent_answers)

    @invariant()
    def no_named_violation(self) -> None:
        assert self.book.violations() == []
        assert self.bounded.violations() == []


OrderLifecycle.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase


# -- each rule of OrderBook.decide, once, by example (the machine above explores their interleavings) --


def _book() -> tuple[OrderBook, QuoteTerms]:
    book = OrderBook()
    q = QuoteTerms("Q", SESSIONS[0], "R", 99.0, 101.0, 2.0, T0 + timedelta(seconds=10))
    book.apply_quote(q)
    return book, q


def _decide(book: OrderBook, o: Order, at: datetime = T0) -> Decision:
    d = book.decide(o, at)
    book.apply_decision(d)
    return d


def test_each_order_rule_by_example() -> None:
    from pricing.desk.refusals import RefusalCode as R

    book, _ = _book()
    a, b = SESSIONS[0], SESSIONS[1]
    cases = [
        (Order(b, "X1", "Q", "buy", 1.0), R.NOT_YOUR_QUOTE),
        (Order(a, "X2", "nope", "buy", 1.0), R.UNKNOWN_QUOTE),
        (Order(a, "X3", "Q", "hold", 1.0), R.BAD_REQUEST),
        (Order(a, "X4", "Q", "buy", 0.0), R.BAD_QUANTITY),
        (Order(a, "X5", "Q", "buy", 2.5), R.OVER_QUOTED_SIZE),
        (Order(a, "X6", "Q", "buy", 1.0, 100.99), R.LIMIT_PRICE),  # a buy limit below our offer
        (Order(a, "X7", "Q", "sell", 1.0, 99.01), R.LIMIT_PRICE),  # a sell limit above our bid
    ]
    for order, code in cases:
        d = _decide(book, order)
        assert d.refusal is not None and d.refusal.code is code, (order, d)
    assert "100.99" in str(book.answers[(a, "X6")].refusal) and "101" in str(book.answers[(a, "X6")].refusal)
    late = book.decide(Order(a, "X8", "Q", "buy", 1.0), T0 + timedelta(seconds=11))
    assert late.refusal is not None and late.refusal.code is R.QUOTE_EXPIRED
    # Fills at the quote's own price, never at the client's better limit; then the size is used up.
    f1 = _decide(book, Order(a, "F1", "Q", "buy", 1.5, 150.0))
    assert f1.filled and f1.price == 101.0
    f2 = _decide(book, Order(a, "F2", "Q", "buy", 1.0))
    assert f2.refusal is not None and f2.refusal.code is R.OVER_QUOTED_SIZE and "0.5 left" in f2.refusal.text
    assert _decide(book, Order(a, "F3", "Q", "sell", 2.0, 50.0)).price == 99.0  # the other side has its own size
    # The same ClOrdID: from the same session, the first answer; from another, a new order (refused: not its quote).
    again = book.decide(Order(a, "F1", "Q", "buy", 1.5, 150.0), T0)
    assert again.duplicate and again.price == 101.0
    other = _decide(book, Order(b, "F1", "Q", "buy", 0.5))
    assert other.refusal is not None and other.refusal.code is R.NOT_YOUR_QUOTE and not other.duplicate
    book.apply_cancel(Cancel("Q", "market moved"))
    gone = book.decide(Order(a, "F4", "Q", "buy", 0.5), T0)
    assert gone.refusal is not None and gone.refusal.code is R.QUOTE_CANCELLED
    assert book.violations() == []
    assert book.filled == {("Q", "buy"): 1.5, ("Q", "sell"): 2.0}


def test_violations_name_a_broken_book() -> None:
    """The invariant check is not vacuous: a book fed a fill it should never have had names it."""
    book, _ = _book()
    book.apply_decision(Decision(Order(SESSIONS[1], "Z", "Q", "buy", 3.0), T0 + timedelta(seconds=20), 90.0))
    names = {v.split(":")[0] for v in book.violations()}
    assert names == {"FILL_IN_QUOTE_SESSION", "FILLED_WITHIN_OFFERED"}
    book2, _ = _book()
    book2.apply_decision(Decision(Order(SESSIONS[0], "Z", "Q", "buy", 3.0, 95.0), T0 + timedelta(seconds=20), 90.0))
    names = {v.split(":")[0] for v in book2.violations()}
    assert names == {"FILLED_WITHIN_OFFERED", "FILL_WHILE_FIRM", "FILL_AT_QUOTED_PRICE"}


def test_an_order_must_name_its_quotes_instrument_and_legs() -> None:
    """Symbol (55) and the LegSymbols (600), when the order names them, must be the quote's (refused naming both)."""
    q = QuoteTerms("Q", "S", "R", 99.0, 101.0, 1.0, T0 + timedelta(seconds=10), "BTC-X", ("BTC-X",))
    book = OrderBook()
    book.apply_quote(q)
    wrong = book.decide(Order("S", "C1", "Q", "buy", 1.0, symbol="ETH-Y"), T0)
    assert wrong.refusal is not None and wrong.refusal.code.order_reject == 99
    assert "'ETH-Y'" in wrong.refusal.text and "'BTC-X'" in wrong.refusal.text
    legs = book.decide(Order("S", "C2", "Q", "buy", 1.0, symbol="BTC-X", legs=("BTC-X", "BTC-Z")), T0)
    assert legs.refusal is not None and "BTC-Z" in legs.refusal.text
    assert book.decide(Order("S", "C3", "Q", "buy", 1.0, symbol="BTC-X", legs=("BTC-X",)), T0).filled
    assert book.decide(Order("S", "C4", "Q", "buy", 1.0), T0).filled  # naming nothing is not naming another


def test_a_limit_price_refusal_prints_both_prices_so_they_differ() -> None:
    """The limit and our price differ in the 8th decimal (the Quote's precision): the text shows both apart."""
    offer = 12345.12345678
    book = OrderBook()
    book.apply_quote(QuoteTerms("Q", "S", "R", None, offer, 1.0, T0 + timedelta(seconds=10)))
    d = book.decide(Order("S", "C1", "Q", "buy", 1.0, 12345.12345677), T0)
    assert d.refusal is not None and "limit 12345.12345677 " in d.refusal.text and "offer 12345.12345678 " in d.refusal.text
