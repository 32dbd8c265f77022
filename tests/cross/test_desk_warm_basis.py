"""Two routes to a quote on a newly published snapshot agree bit for bit: the book's basis built by
the warmer when the snapshot was published (:class:`pricing.desk.warm.BasisWarmer`), and the basis
a desk that never saw an earlier snapshot builds in the quote itself.

Invariants, for any requests drawn (single legs and structures, BTC and ETH, expiries the book
holds and expiries it does not, so the margin layout is widened for some):

- after a publication the warmer builds the basis on the new snapshot without any request, and a
  quote on that snapshot then builds none (``QuoteBasis.build`` is not called);
- the quote names the published snapshot and gives exactly the numbers (every figure, every
  refusal) of a fresh desk on that snapshot alone;
- before any quote there is no layout to build from: the warmer builds nothing, the first quote does;
- the warmer ends when its source goes (``alive`` False) and when closed.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.chain import load_bundled_chain
from pricing.desk import Book, Desk, DeskConfig, FixedSource, Leg, MarketSnapshot, RfqRequest, open_market
from pricing.desk import book as book_module
from pricing.desk.market import build_snapshot
from pricing.xva.quote import QuoteBasis

DAY = "2026-08-21"
CONFIG = DeskConfig.from_mapping({"model": "deribit"})
BASE = open_market(f"bundled:{DAY}").current()
CHAINS = {u: load_bundled_chain(u, DAY) for u in ("BTC", "ETH")}
#: Two more markets: every mark IV moved by +1 and -1.5 vol points, fitted afresh (new surfaces, new ids).
MOVED = [
    build_snapshot({u: dataclasses.replace(c, mark_iv=c.mark_iv + dv) for u, c in CHAINS.items()}, source=f"moved {dv}")
    for dv in (0.01, -0.015)
]
_LISTED = {
    u: [(n, c.expiry) for n, c in zip(ch.names, ch.contracts()) if (c.expiry - ch.as_of).days > 3] for u, ch in CHAINS.items()
}
LATE = {u: [n for n, _ in rows] for u, rows in _LISTED.items()}
#: The book holds BTC options of the three nearest expiries only: requests on later expiries and on ETH widen the layout.
_NEAR = sorted({e for _, e in _LISTED["BTC"]})[:3]
_HELD = [n for n, e in _LISTED["BTC"] if e in _NEAR]
_RNG = np.random.default_rng(3)
BOOK: list[list[Any]] = [["instrument", "quantity"]] + [
    [_HELD[int(i)], float(_RNG.integers(1, 9)) * float(_RNG.choice([-1, 1]))] for i in _RNG.integers(0, len(_HELD), 150)
]
FIRST = [RfqRequest((Leg(_HELD[0]),), "buy", 1.0, ref="first")]


class Published:
    """A market source that publishes the snapshots it is given, as a live source does (``listen``)."""

    def __init__(self, snapshot: MarketSnapshot) -> None:
        self.snapshot = snapshot
        self.alive = True
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def current(self) -> MarketSnapshot:
        return self.snapshot

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(callback)

        def stop() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return stop

    def publish(self, snapshot: MarketSnapshot) -> None:
        self.snapshot = snapshot
        with self._lock:
            callbacks = list(self._listeners)
        for cb in callbacks:
            cb()

    def close(self) -> None:
        self.alive = False
        self.publish(self.snapshot)


@contextmanager
def counted_builds() -> Iterator[list[int]]:
    """Counts ``QuoteBasis.build`` calls made by the book while inside."""
    calls = [0]
    real = book_module.QuoteBasis.build

    def build(*args: Any, **kwargs: Any) -> QuoteBasis:
        calls[0] += 1
        return real(*args, **kwargs)

    book_module.QuoteBasis = type("CountingBasis", (QuoteBasis,), {"build": staticmethod(build)})  # type: ignore[misc]
    try:
        yield calls
    finally:
        book_module.QuoteBasis = QuoteBasis  # type: ignore[misc]


def _answers(out: Any) -> list[Any]:
    rows: list[Any] = []
    for i in range(len(out)):
        r = out.result(i)
        rows.append(r.text if hasattr(r, "code") else np.array([np.nan if v is None else v for v in r.figures().values()]))
    return rows


def _requests() -> st.SearchStrategy[list[RfqRequest]]:
    names = st.sampled_from(LATE["BTC"] + LATE["ETH"])
    legs = st.lists(st.tuples(names, st.sampled_from([1.0, -1.0, 2.0])), min_size=1, max_size=3, unique_by=lambda t: t[0])
    one = st.builds(
        lambda ls, side, qty: RfqRequest(tuple(Leg(n, r) for n, r in ls), side, qty, ref="r"),
        legs,
        st.sampled_from(["buy", "sell", "two-way"]),
        st.sampled_from([1.0, 5.0, 25.0]),
    )
    return st.lists(one, min_size=1, max_size=4)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests())
def test_a_basis_built_at_publication_quotes_as_one_built_by_the_quote(requests: list[RfqRequest]) -> None:
    source = Published(BASE)
    desk = Desk(source, Book.from_table(BOOK), CONFIG)
    warmer = desk.keep_basis_warm()
    assert warmer is not None
    try:
        desk.quote(FIRST)  # the first quote lays the basis out
        for snap in MOVED:
            source.publish(snap)
            assert warmer.wait_built(snap.snapshot_id, timeout=300.0)
            with counted_builds() as builds:
                got = desk.quote(requests)
            assert builds[0] == 0
            assert got.snapshot_id == snap.snapshot_id
            want = Desk(FixedSource(snap), Book.from_table(BOOK), CONFIG).quote(requests)
            for a, b in zip(_answers(got), _answers(want), strict=True):
                if isinstance(a, str) or isinstance(b, str):
                    assert a == b
                else:
                    assert a.tobytes() == b.tobytes(), (a, b)
    finally:
        warmer.close()
    assert not warmer.running


def test_no_layout_no_build_and_the_warmer_ends_with_its_source() -> None:
    source = Published(BASE)
    desk = Desk(source, Book.from_table(BOOK), CONFIG)
    warmer = desk.keep_basis_warm()
    assert warmer is not None
    source.publish(MOVED[0])
    # Nothing quoted yet: no layout to take; the quote builds the basis itself, once.
    assert not warmer.wait_built(MOVED[0].snapshot_id, timeout=2.0)
    assert warmer.builds == 0
    with counted_builds() as builds:
        desk.quote(FIRST)
    assert builds[0] == 1
    source.publish(MOVED[1])
    assert warmer.wait_built(MOVED[1].snapshot_id, timeout=300.0)
    source.close()  # alive False, and the listeners are told (as LiveSource does when its loop ends)
    warmer.join(timeout=60.0)
    assert not warmer.running
    warmer.close()  # idempotent after the end


def test_a_source_that_does_not_publish_gets_no_warmer() -> None:
    assert Desk(FixedSource(BASE), Book.from_table(BOOK), CONFIG).keep_basis_warm() is None
