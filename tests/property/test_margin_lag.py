"""A quote's margin may lag its price by a stated bound, and is then exactly the margin of the
snapshot it names (:mod:`pricing.desk.lag`).

Invariants, for any interleaving of publications, fills, quotes and background builds
(a hypothesis ``RuleBasedStateMachine``; the book's thread replaced by explicit
``build_pending`` steps so that every interleaving can be drawn):

1. the price is the newest snapshot's: the quote names the source's current snapshot, and its
   base equals the base of the same request quoted with no lag on that snapshot;
2. the margin snapshot is never newer than the price snapshot and at most the bound older, by
   the market's own time and by when each was built;
3. ΔIM of each side, FVA, MVA, KVA, CCVA and the spread equal those of the same request quoted
   with no lag *on the margin snapshot* against the book as it is now (fills included): the book
   and the trade are revalued on one snapshot, never one on each;
4. each side's price is base + costs + spread of those two, rounded as the desk rounds.

The references are fresh desks with the bound 0 on a fixed source (a second route through the
same engine, built for this request; a lagged basis was built for an earlier request's layout),
so the comparison allows 1e-9 relative (the same arithmetic, possibly in another order:
``tests/cross/test_rfq_path.py``). The snapshots differ by at least 600 s of market time, which
moves every option's value by ~1e-4 of itself (theta over 600 s of a 35-day option): a margin
from the wrong snapshot, or a trade revalued on one snapshot and the book on the other, is
5 orders of magnitude outside the tolerance.

Also: a quote is not held up by a basis being built on the book's thread (events, no timing),
and ΔIM of a lagged quote equals IM(book + trade) - IM(book) by ``pricing.margin.engine.margin``
on the margin snapshot (1e-6 USD + 1e-12 relative, as ``tests/cross/test_rfq_path.py`` justifies
for VaR, an order statistic of the scenario sums).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pricing.desk import Book, Desk, DeskConfig, FixedSource, Leg, MarketSnapshot, Quote, RfqRequest, open_market
from pricing.desk.lag import lag_s
from pricing.margin.engine import margin
from pricing.portfolio import concat
from pricing.xva.sides import all_in_price

BOUND_S = 3600.0
NAMES = ["BTC-25SEP26-60000-C", "BTC-25SEP26-70000-C", "BTC-25SEP26-50000-P", "BTC-30OCT26-65000-C"]
BOOK = [["Instrument", "Quantity"], ["BTC-25SEP26-60000-C", 5], ["BTC-25SEP26-50000-P", -5], ["BTC-30OCT26-65000-C", 3]]
LAGGED = DeskConfig.from_mapping({"max_margin_lag_s": BOUND_S})
EXACT = DeskConfig.from_mapping({})
COSTS = ("delta_im", "fva_im", "mva_vm", "kva", "ccva")
RTOL = 1e-9


@pytest.fixture(scope="module")
def first() -> MarketSnapshot:
    return open_market("bundled:2026-08-21").current()


@dataclass
class Moving:
    """A source whose snapshot the test moves on."""

    snapshot: MarketSnapshot

    def current(self) -> MarketSnapshot:
        return self.snapshot

    def close(self) -> None:
        return None


def moved(snap: MarketSnapshot, seq: int, dt_s: float, built_s: float = 1e-6) -> MarketSnapshot:
    """The next snapshot: the market ``dt_s`` seconds later (0: the same time, another id, as a
    refit), built ``built_s`` seconds after the last (a silence of the feed is a long one)."""
    market = replace(snap.market, as_of=snap.market.as_of + timedelta(seconds=dt_s))
    return replace(snap, market=market, snapshot_id=f"{seq:016x}", created_at=snap.created_at + timedelta(seconds=built_s))


requests = st.builds(
    lambda names, side, qty: RfqRequest(tuple(Leg(n, r) for n, r in zip(names, (1.0, -1.0))), side, qty, ref="rfq"),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True),
    st.sampled_from(["buy", "sell", "two-way"]),
    st.sampled_from([1.0, 7.0, 25.0]),
)


def exact_quote(snap: MarketSnapshot, positions: Any, request: RfqRequest) -> Quote:
    out = Desk(FixedSource(snap), Book(positions), EXACT).quote([request]).result(0)
    assert isinstance(out, Quote), out
    return out


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.isclose(a, b, rtol=RTOL, atol=0.0))


class MarginLagMachine(RuleBasedStateMachine):
    snap0: MarketSnapshot

    @initialize()
    def start(self) -> None:
        self.seq = 0
        self.source = Moving(self.snap0)
        self.book = Book.from_table(BOOK)
        self.book.background = False  # the book's thread is the build_ahead rule
        self.desk = Desk(self.source, self.book, LAGGED)
        self.lagged = 0

    @rule(dt=st.sampled_from([0.0, 600.0, 1800.0, 3000.0, 3600.0, 4000.0]), built=st.sampled_from([1e-6, 1.0, 1800.0, 4000.0]))
    def publish(self, dt: float, built: float) -> None:
        self.seq += 1
        self.source.snapshot = moved(self.source.snapshot, self.seq, dt, built)

    @rule(name=st.sampled_from(NAMES), qty=st.sampled_from([-4.0, 2.0, 10.0]))
    def fill(self, name: str, qty: float) -> None:
        self.desk.fill([Leg(name, qty)])

    @rule()
    def build_ahead(self) -> None:
        self.book.build_pending()

    @rule()
    def look_at_the_source(self) -> None:  # what the book's thread does when no quote asks for half the bound
        self.book.refresh_latest()

    @rule(request=requests)
    def quote(self, request: RfqRequest) -> None:
        price = self.source.current()
        out = self.desk.quote([request])
        q = out.result(0)
        assert isinstance(q, Quote), q
        # 1. the price is the newest snapshot's
        assert q.snapshot_id == out.snapshot_id == price.snapshot_id
        # 2. the margin snapshot: named, never newer, at most the bound older
        margin_snap = out.margin_snapshot
        assert margin_snap is not None and q.margin_snapshot_id == margin_snap.snapshot_id
        assert margin_snap.as_of <= price.as_of and margin_snap.created_at <= price.created_at
        assert lag_s(price, margin_snap) <= BOUND_S
        assert (price.as_of - margin_snap.as_of).total_seconds() <= BOUND_S
        assert (price.created_at - margin_snap.created_at).total_seconds() <= BOUND_S
        self.lagged += q.margin_snapshot_id != q.snapshot_id
        positions = self.book.positions
        on_price, on_margin = exact_quote(price, positions, request), exact_quote(margin_snap, positions, request)
        assert q.base == on_price.base
        # 3. every figure that reads the book: the margin snapshot's, the book as it is now
        for side, ref in ((q.bid, on_margin.bid), (q.ask, on_margin.ask)):
            for k in COSTS:
                assert close(side[k], ref[k]), (k, side[k], ref[k])
        assert close(q.spread, on_margin.spread)
        # 4. the price: the newest base plus the margin snapshot's costs and spread
        for label, side in (("bid", q.bid), ("ask", q.ask)):
            if side["price"] is None:
                continue
            costs = sum(float(side[k] or 0.0) for k in COSTS[1:])
            want = float(all_in_price(q.base, costs, q.spread, label, LAGGED.quote.tick))
            assert close(side["price"], want), (label, side["price"], want)

    @invariant()
    def the_kept_basis_holds_the_book_now(self) -> None:
        kept = self.book._built
        assert kept is None or kept.version <= self.book.version


def test_a_quote_margin_is_the_margin_of_the_snapshot_it_names(first: MarketSnapshot) -> None:
    MarginLagMachine.snap0 = first
    run = MarginLagMachine.TestCase
    run.settings = settings(max_examples=40, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    run().runTest()


def test_a_quote_on_a_new_snapshot_takes_the_built_margin_and_the_build_catches_up(first: MarketSnapshot) -> None:
    """The mechanism, step by step: the first quote on a new snapshot within the bound does not
    build (it asks the book's thread), the build is kept, the next quote's margin is its own."""
    source = Moving(first)
    book = Book.from_table(BOOK)
    book.background = False
    desk = Desk(source, book, LAGGED)
    call = RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq")
    assert desk.quote([call]).margin_snapshot_id == first.snapshot_id and book.builds_on_path == 1
    source.snapshot = moved(first, 1, 600.0)
    out = desk.quote([call])
    assert (out.snapshot_id, out.margin_snapshot_id) == (source.snapshot.snapshot_id, first.snapshot_id)
    assert book.builds_on_path == 1 and book.build_pending() and book.builds_ahead == 1
    assert desk.quote([call]).margin_snapshot_id == source.snapshot.snapshot_id
    # beyond the bound the quote waits for its own snapshot's basis
    source.snapshot = moved(source.snapshot, 2, BOUND_S + 1.0)
    assert desk.quote([call]).margin_snapshot_id == source.snapshot.snapshot_id and book.builds_on_path == 2
    # a fill: the next quote's margin holds it (built on the path, on its own snapshot)
    source.snapshot = moved(source.snapshot, 3, 600.0)
    desk.fill([Leg(NAMES[2], 4.0)])
    assert desk.quote([call]).margin_snapshot_id == source.snapshot.snapshot_id and book.builds_on_path == 3
    # a silence: marks stamped a second on, but published longer than the bound after the last
    source.snapshot = moved(source.snapshot, 4, 1.0, BOUND_S + 1.0)
    assert desk.quote([call]).margin_snapshot_id == source.snapshot.snapshot_id and book.builds_on_path == 4


def test_without_a_bound_every_margin_is_the_price_snapshot_own(first: MarketSnapshot) -> None:
    source = Moving(first)
    book = Book.from_table(BOOK)
    desk = Desk(source, book, EXACT)
    call = RfqRequest((Leg(NAMES[0]),), "buy", 3.0, ref="rfq")
    for seq in range(1, 4):
        source.snapshot = moved(source.snapshot, seq, 1.0)
        out = desk.quote([call])
        assert out.margin_snapshot_id == out.snapshot_id == source.snapshot.snapshot_id
    assert book.builds_on_path == 3 and book.builds_ahead == 0


def test_a_quote_is_not_held_up_by_a_build_on_the_book_thread(first: MarketSnapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Moving(first)
    book = Book.from_table(BOOK)
    desk = Desk(source, book, LAGGED)
    call = RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq")
    desk.quote([call])  # the first basis, on the path
    started, release = threading.Event(), threading.Event()
    make = Book._make

    def slow(*args: Any) -> Any:
        if threading.current_thread().name == "book-basis":
            started.set()
            release.wait(timeout=60)
        return make(*args)

    monkeypatch.setattr(Book, "_make", staticmethod(slow))
    try:
        source.snapshot = moved(first, 1, 600.0)
        out = desk.quote([call])  # asks the book's thread for the new snapshot's basis
        assert started.wait(timeout=60), "the book's thread never started the build"
        # the build is in progress and held: a quote now must still complete, on the lagged margin
        during = desk.quote([call])
        assert during.margin_snapshot_id == first.snapshot_id != during.snapshot_id
        assert out.margin_snapshot_id == first.snapshot_id
    finally:
        release.set()
        desk.close()


def test_a_lagged_delta_im_is_im_of_book_and_trade_less_im_of_book(first: MarketSnapshot) -> None:
    source = Moving(first)
    book = Book.from_table(BOOK)
    book.background = False
    desk = Desk(source, book, LAGGED)
    call = RfqRequest((Leg(NAMES[1]), Leg(NAMES[3], -1.0)), "two-way", 5.0, ref="rfq")
    desk.quote([call])
    source.snapshot = moved(first, 1, 1800.0)
    out = desk.quote([call])
    q = out.result(0)
    assert isinstance(q, Quote) and out.margin_snapshot is not None and q.margin_snapshot_id == first.snapshot_id
    m = out.margin_snapshot.market
    model = LAGGED.margin_model(first.histories, first.dvols, tuple(m.surfaces))
    held = book.positions
    legs = out.batch.trades.legs  # the trade as the dealer holds it if it buys (the bid)
    before = margin(held, m, model, LAGGED.addons).total
    for sign, side in ((1.0, q.bid), (-1.0, q.ask)):
        after = margin(concat([held, legs.with_quantity(sign * legs.quantity)]), m, model, LAGGED.addons).total
        assert side["delta_im"] is not None
        assert np.isclose(side["delta_im"], after - before, rtol=1e-12, atol=1e-6), (side["delta_im"], after - before)


def test_the_book_thread_catches_up_with_the_source_while_no_quote_asks(first: MarketSnapshot) -> None:
    """A pause in the quotes: the book's thread looks at the source every half bound and builds its
    newest snapshot once the newest basis is more than half the bound behind, with no quote asking."""
    source = Moving(first)
    book = Book.from_table(BOOK)
    desk = Desk(source, book, DeskConfig.from_mapping({"max_margin_lag_s": 0.2}))
    try:
        desk.quote([RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq")])  # on the path: gives the source and the bound
        source.snapshot = moved(first, 1, 0.15, 0.15)  # within the bound, more than half of it behind
        deadline = time.monotonic() + 60  # a guard against a hang, not a timing: nothing is asserted on time
        while (book._built is None or book._built.snapshot is not source.snapshot) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert book._built is not None and book._built.snapshot.snapshot_id == source.snapshot.snapshot_id
        assert book.builds_on_path == 1 and book.builds_ahead == 1
    finally:
        desk.close()


def test_the_book_thread_builds_after_the_quote_that_asked_not_beside_it(first: MarketSnapshot) -> None:
    """Quote first: while a quote is being priced (``Book.quoting``) the book's thread waits before
    a build, for at most ``build_grace_s``; it goes ahead as soon as no quote is being priced.
    (A negative is shown by a waiter still waiting after 0.3 s: a wrong rule returns at once.)"""
    book = Book.from_table(BOOK)
    book.build_grace_s = 3600.0
    returned: list[bool] = []
    with book.quoting():
        waiter = threading.Thread(target=lambda: returned.append(book.let_quotes_finish()))
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive() and not returned, "the book's thread did not wait for the quote being priced"
    waiter.join(timeout=60)  # a guard against a hang: nothing is asserted on time
    assert returned == [True]
    # quotes that never pause: the build goes ahead after the grace
    book.build_grace_s = 0.05
    with book.quoting():
        assert book.let_quotes_finish() is False
    assert book.let_quotes_finish() is True  # no quote being priced: at once


def test_a_build_asked_by_a_quote_starts_after_that_quote_is_priced(
    first: MarketSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first quote on a new snapshot asks for its basis; the book's thread builds it once that
    quote is priced, and the next quote takes it."""
    source = Moving(first)
    book = Book.from_table(BOOK)
    book.build_grace_s = 3600.0
    desk = Desk(source, book, LAGGED)
    call = RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq")
    desk.quote([call])  # the first basis, on the path
    built = threading.Event()
    quoting_when_built: list[int] = []
    make = Book._make

    def noted(*args: Any) -> Any:
        if threading.current_thread().name == "book-basis":
            quoting_when_built.append(book._quoting)
            built.set()
        return make(*args)

    monkeypatch.setattr(Book, "_make", staticmethod(noted))
    try:
        source.snapshot = moved(first, 1, 600.0)
        with book.quoting():  # the host is still busy with the quote (journal, send)
            assert desk.quote([call]).margin_snapshot_id == first.snapshot_id
            assert not built.wait(timeout=0.3)
        assert built.wait(timeout=60)
        assert quoting_when_built == [0]
        deadline = time.monotonic() + 60  # a guard against a hang
        while book.builds_ahead < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert desk.quote([call]).margin_snapshot_id == source.snapshot.snapshot_id
    finally:
        desk.close()


class _Watched(Book):
    """A book whose every read of ``_pending`` that sees nothing asked can be followed, at once, by
    a quote that starts and asks (the race: the ask lands just after the look)."""

    inject: Any = None

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name == "_pending" and value is None:
            hook = object.__getattribute__(self, "inject")
            if hook is not None:
                hook(self)
        return value


@pytest.mark.parametrize("at", range(7))  # every look of a step that sees nothing asked (at most 4), and past them
def test_the_book_thread_never_starts_a_build_beside_the_quote_that_asked_it(first: MarketSnapshot, at: int) -> None:
    """Quote first, for every moment the ask can land (CI found one): a quote starts and asks just
    after the book's thread reads "nothing asked" for the ``at``-th time in a step
    (:meth:`Book.step_ahead`); a build may then start only after the thread let the quotes finish
    (here the grace is 0, so it returns False at once and the build goes ahead, as it would once
    the grace ran out). Before the fix the thread built on the strength of its earlier look, with
    no wait at all; a build with no wait while a quote is priced fails this."""
    source = Moving(first)
    book = _Watched.from_table(BOOK)
    book.background = False
    book.build_grace_s = 0.0
    desk = Desk(source, book, LAGGED)
    call = RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq")
    desk.quote([call])
    kept = book._built
    source.snapshot = moved(first, 1, 600.0)
    desk.quote([call])  # asks for the new snapshot's basis: the job the injected quote asks again
    job, book._pending = book._pending, None
    assert job is not None
    events: list[str] = []
    reads = [0]

    def inject(b: Book) -> None:
        reads[0] += 1
        if reads[0] == at + 1:
            b.inject = None
            b._quoting += 1  # a quote starts being priced ...
            b._pending = job  # ... and asks
            events.append("ask")

    make, wait = Book._make, Book.let_quotes_finish

    def made(*args: Any) -> Any:
        events.append(f"build(quoting={book._quoting})")
        return make(*args)

    def waited(self: Book, until: float | None = None) -> bool:
        events.append("wait")
        return wait(self, until)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Book, "_make", staticmethod(made))
        mp.setattr(Book, "let_quotes_finish", waited)
        book._built = kept
        book.inject = inject
        book.step_ahead()
        book.inject = None
    builds = [i for i, e in enumerate(events) if e.startswith("build")]
    for i in builds:
        if events[i] != "build(quoting=0)":
            assert "wait" in events[events.index("ask") : i], events


def test_a_quote_that_begins_after_the_wait_holds_the_build_back_until_it_is_priced(first: MarketSnapshot) -> None:
    """The second moment (an outside audit found it): the book's thread saw a build asked and its
    wait returned with no quote being priced; a quote Q2 then begins and asks before the job is
    taken. The build must not start beside Q2: it waits again (the grace here is an hour) and
    starts once Q2 is priced. Q2 ends on a timer thread; nothing is asserted on time. Before the
    fix the job was taken at once and built while Q2 was being priced."""
    source = Moving(first)
    book = Book.from_table(BOOK)
    book.background = False
    book.build_grace_s = 3600.0
    desk = Desk(source, book, LAGGED)
    call = RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq")
    desk.quote([call])
    source.snapshot = moved(first, 1, 600.0)
    desk.quote([call])  # asks for the new snapshot's basis
    asked = book._pending
    assert asked is not None
    events: list[str] = []
    make, wait = Book._make, Book.let_quotes_finish

    def q2_ends() -> None:
        with book._wake:
            book._quoting -= 1
            events.append("Q2 priced")
            book._wake.notify_all()

    def waited(self: Book, until: float | None = None) -> bool:
        quiet = wait(self, until)
        events.append(f"wait->{quiet}")
        if len(events) == 1:  # right after the first wait: Q2 begins and asks
            with book._wake:
                book._quoting += 1
            book._pending = asked
            events.append("Q2 asks")
            threading.Timer(0.2, q2_ends).start()
        return quiet

    def made(*args: Any) -> Any:
        events.append(f"build(quoting={book._quoting})")
        return make(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Book, "_make", staticmethod(made))
        mp.setattr(Book, "let_quotes_finish", waited)
        assert book.step_ahead()
    assert events[-1] == "build(quoting=0)" and "Q2 priced" in events, events
