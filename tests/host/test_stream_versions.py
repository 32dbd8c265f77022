"""A stream recomputes only when what its result reads moved, and is woken by its source's publications.

The version rule, stated for every sequence of publications (hypothesis' state machine): a
``LIVE_QUOTE`` on BTC instruments computes once per publication that changed BTC's content
version (or the staleness), and never for one that changed nothing it reads (a refit that
gave the same slices, marks of ETH). The fake source has no timer (``wait_s`` None): a stream
that were not woken by the publication would never look, and the test's wait would fail.
The real socket.io path (Node's client against a live server) is
``tests/host/test_live_streams.py::test_a_stream_recomputes_only_when_its_currency_moves``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from addin.excel import pool, stream

CURRENCIES = ("BTC", "ETH")
TIMEOUT_S = 60.0  # generous: a loaded machine; a stream that is never woken fails here


class FakeSource:
    """The part of :class:`pricing.desk.live.LiveSource` a stream uses: ``listen``."""

    def __init__(self) -> None:
        self.listeners: dict[int, Any] = {}
        self.versions = dict.fromkeys(CURRENCIES, 0)
        self.stale = False
        self.seq = 0

    def listen(self, callback: Any) -> Any:
        key = len(self.listeners) + 1
        self.listeners[key] = callback
        return lambda: self.listeners.pop(key, None)


class VersionRule(RuleBasedStateMachine):
    """Publications in any order; the stream's computations follow the BTC version only."""

    @initialize()
    def start(self) -> None:
        self.src = FakeSource()
        self.cond = threading.Condition()
        self.looked = -1
        self.computed = 0
        self.expected = 1  # the first result, at once
        self.call = SimpleNamespace(
            name="RFQ",
            args=[[["instrument", "side", "quantity"], ["BTC-27MAR26-100000-C", "buy", 1]], [["none"]], [["deribit"]]],
            runtime="1.4",
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._consume(),), daemon=True)
        self.thread.start()
        self._wait(lambda: self.computed >= 1)

    async def _here(self, user: str, fn: Any, *args: Any) -> Any:
        if fn is stream.market_version:
            with self.cond:
                read = stream.currencies_read(self.call, CURRENCIES)  # type: ignore[arg-type]
                look = stream.Look((tuple((c, self.src.versions[c]) for c in read), self.src.stale), None, self.src)
                self.looked = self.src.seq
                self.cond.notify_all()
            return look
        assert fn is pool.run_json
        with self.cond:
            self.computed += 1
            self.cond.notify_all()
            return True, json.dumps({"result": [[self.computed]]})

    async def _consume(self) -> None:
        self.task = asyncio.current_task()
        try:
            async for _ in stream.results(self.call, "alice", self._here, 0.0):  # type: ignore[arg-type]
                pass
        except asyncio.CancelledError:
            pass

    def _wait(self, predicate: Any) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, TIMEOUT_S), (self.looked, self.src.seq, self.computed, self.expected)

    def _publish(self, changed: frozenset[str], stale: bool) -> None:
        with self.cond:
            for c in changed:
                self.src.versions[c] += 1
            moved = "BTC" in changed or stale != self.src.stale
            self.src.stale = stale
            self.src.seq += 1
            seq = self.src.seq
        for cb in list(self.src.listeners.values()):
            cb()  # on this (the publishing) thread, as the feed's loop calls them
        self._wait(lambda: self.looked >= seq)  # the publication woke the stream, which looked
        if moved:
            self.expected += 1
            self._wait(lambda: self.computed >= self.expected)

    @rule(changed=st.frozensets(st.sampled_from(CURRENCIES)), stale=st.booleans())
    def publish(self, changed: frozenset[str], stale: bool) -> None:
        self._publish(changed, stale)

    @rule()
    def probe(self) -> None:
        # a BTC move: its computation comes after every earlier look, so a spurious computation
        # for an earlier publication would be counted by now
        self._publish(frozenset({"BTC"}), self.src.stale)

    @invariant()
    def computes_only_when_its_inputs_moved(self) -> None:
        if hasattr(self, "src"):
            with self.cond:
                assert self.computed == self.expected, (self.computed, self.expected)

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.call_soon_threadsafe(self.task.cancel)
            self.thread.join(TIMEOUT_S)
            self.loop.close()
            assert not self.src.listeners  # the stream's end stops its listening


VersionRule.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
test_a_stream_computes_once_per_change_of_what_it_reads = VersionRule.TestCase


_INSTRUMENT = {"BTC": "BTC-27MAR26-100000-C", "ETH": "ETH-27MAR26-4000-P"}


@settings(max_examples=60, deadline=None)
@given(legs=st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=4), portfolio=st.sampled_from((*CURRENCIES, "none")))
def test_an_rfq_reads_the_currencies_its_legs_and_portfolio_name(legs: list[str], portfolio: str) -> None:
    rows = [["instrument", "side", "quantity"]] + [[_INSTRUMENT[c], "buy", 1] for c in legs]
    book = [["none"]] if portfolio == "none" else [["instrument", "quantity"], [_INSTRUMENT[portfolio], 2]]
    call: Any = SimpleNamespace(name="RFQ", args=[rows, book, [["deribit#BTC,ETH"]]], runtime="1.4")
    want = set(legs) | ({portfolio} - {"none"})
    assert set(stream.currencies_read(call, CURRENCIES)) == want
    # a handle hides what it holds: every currency; the market's own text is never read
    call.args[1] = [["CQ.PORTFOLIO#1f2e"]]
    assert stream.currencies_read(call, CURRENCIES) == CURRENCIES
    info: Any = SimpleNamespace(name="MARKET_INFO", args=[[["deribit"]]], runtime="1.4")
    assert stream.currencies_read(info, CURRENCIES) == CURRENCIES


def test_a_look_wakes_the_stream_when_its_snapshot_turns_stale(monkeypatch: Any) -> None:
    """The flip to stale is announced by no publication: a fresh look carries the time left
    before it (plus a margin) as its wait; a stale look waits for the next publication."""
    import udfs.live

    class Src:
        age = 10.0

        def current(self) -> Any:
            return SimpleNamespace(
                age_s=lambda: self.age, max_age_s=30.0, versions={"BTC": "v1", "ETH": "v2"}, feed=SimpleNamespace(snapshot_id=7)
            )

    src = Src()
    monkeypatch.setattr(udfs.live, "source", lambda spec: src)
    call: Any = SimpleNamespace(name="RFQ", args=[[["BTC-27MAR26-100000-C", "buy", 1]], [["none"]], [["deribit"]]], runtime="1.4")
    fresh = stream.market_version(call)
    assert fresh.version == ((("BTC", "v1"),), False) and fresh.seq == 7 and fresh.source is src
    assert fresh.wait_s == pytest.approx(20.0 + stream.STALE_MARGIN_S)
    src.age = 31.0
    stale = stream.market_version(call)
    assert stale.version == ((("BTC", "v1"),), True) and stale.wait_s is None


def test_a_market_that_cannot_be_had_is_looked_at_again_without_a_source(monkeypatch: Any) -> None:
    import udfs.live

    def refuse(spec: str) -> Any:
        raise udfs.live.InputError("market: this server does not offer that live market")

    monkeypatch.setattr(udfs.live, "source", refuse)
    call: Any = SimpleNamespace(name="MARKET_INFO", args=[[["deribit"]]], runtime="1.4")
    look = stream.market_version(call)
    assert look.source is None and look.wait_s == stream.UNAVAILABLE_LOOK_S and look.version == ("unavailable", "InputError")


def test_a_fast_feed_is_taken_at_the_streams_pace_and_its_last_change_is_never_lost() -> None:
    """Two hundred BTC changes published back to back: two computations are ``interval_s`` apart
    at least (the pace is a sleep, so the gap is never shorter; 2 ms for the loop's clock), and
    the last version published is computed (a publication during the pause is not lost)."""
    import time as clock

    interval = 0.05
    src = FakeSource()
    cond = threading.Condition()
    computed: list[tuple[float, int]] = []
    call: Any = SimpleNamespace(name="RFQ", args=[[["BTC-27MAR26-100000-C", "buy", 1]], [["none"]], [["deribit"]]], runtime="1.4")

    async def here(user: str, fn: Any, *args: Any) -> Any:
        with cond:
            if fn is stream.market_version:
                return stream.Look((src.versions["BTC"], False), None, src)
            computed.append((clock.monotonic(), src.versions["BTC"]))
            cond.notify_all()
            return True, json.dumps({"result": [[len(computed)]]})

    loop = asyncio.new_event_loop()

    async def consume() -> None:
        try:
            async for _ in stream.results(call, "alice", here, interval):
                pass
        except asyncio.CancelledError:
            pass

    task = loop.create_task(consume())
    thread = threading.Thread(target=loop.run_until_complete, args=(task,), daemon=True)
    thread.start()
    try:
        with cond:
            assert cond.wait_for(lambda: computed, TIMEOUT_S)
        for _ in range(200):
            with cond:
                src.versions["BTC"] += 1
            for cb in list(src.listeners.values()):
                cb()
        with cond:
            assert cond.wait_for(lambda: computed[-1][1] == 200, TIMEOUT_S), computed[-3:]
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(computed)]
        assert min(gaps) >= interval - 0.002, min(gaps)
        assert len(computed) < 201  # taken together, not one computation per publication
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(TIMEOUT_S)
        loop.close()
