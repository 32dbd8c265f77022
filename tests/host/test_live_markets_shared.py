"""Live markets on a shared server (issue 31, the streaming path's review): what one cell or one
dead endpoint may cost everyone else.

- ``--live`` specs travel as a list: a spec with a comma (``deribit#BTC,ETH``, documented spec
  syntax) stays one offered spec, for any list of one-line specs;
- a live market that is dialing holds up only the cells that name it: another spec opens, and an
  open market is read, while it dials (no process-wide lock held over the dial, none taken for an
  open market);
- a live market that publishes snapshot after snapshot holds one market entry (and one desk book)
  per spec per user in the handle store, not one per snapshot;
- a streaming call is admitted or refused with a reason for any payload, binary attachments and
  calls above the server's in-process cost bound included.

The sources are stand-ins (``open_live_source`` replaced): these tests are about the locks, the
store and admission, not the feed (tests/host/test_live_streams.py runs the real one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import udfs.live
from pricing.errors import DataError

ONE_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), min_size=1, max_size=40)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(udfs.live.ENV, raising=False)
    udfs.live.close_all()
    yield
    udfs.live.close_all()


@settings(max_examples=200, deadline=None)
@given(specs=st.lists(ONE_LINE.filter(lambda s: s.strip() != ""), max_size=6))
def test_offered_specs_round_trip_as_a_list_whatever_they_hold(specs: list[str]) -> None:
    saved = udfs.live.os.environ.get(udfs.live.ENV)
    try:
        udfs.live.offer(specs)
        assert udfs.live.allowed() == tuple(s.strip() for s in specs)
    finally:
        if saved is None:
            udfs.live.os.environ.pop(udfs.live.ENV, None)
        else:
            udfs.live.os.environ[udfs.live.ENV] = saved


def test_a_spec_with_a_comma_is_one_offered_market_and_a_line_break_is_refused() -> None:
    from addin.excel.serve import ServeError, app

    saved = udfs.live.os.environ.get(udfs.live.ENV)
    try:
        udfs.live.offer(["deribit#BTC,ETH", "deribit-test"])
        assert udfs.live.allowed() == ("deribit#BTC,ETH", "deribit-test")
        for bad in ("deribit\nreplay:/etc/passwd", "deribit\r", "deribit\x00"):
            with pytest.raises(ValueError, match="one line"):
                udfs.live.offer([bad])
        with pytest.raises(ServeError, match="one line"):
            app(None, ["deribit\nreplay:x"])
    finally:
        if saved is None:
            udfs.live.os.environ.pop(udfs.live.ENV, None)
        else:
            udfs.live.os.environ[udfs.live.ENV] = saved


def _stand_in(monkeypatch: pytest.MonkeyPatch, dead: str, dialing: threading.Event, release: threading.Event) -> None:
    import pricing.desk.live

    def open_live_source(spec: str, limits: Any = None) -> Any:
        if spec == dead:
            dialing.set()
            release.wait(30)  # a dead endpoint: the connect timeout
            raise DataError(f"{spec}: no answer")
        return SimpleNamespace(alive=True, close=lambda: None, spec=spec)

    monkeypatch.setattr(pricing.desk.live, "open_live_source", open_live_source)


def _in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    t.start()
    return t, out


def test_a_dialing_market_holds_up_only_its_own_cells(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    dead, other = "deribit:ws://127.0.0.1:9/dead", "deribit:ws://127.0.0.1:9/other"
    dialing, release = threading.Event(), threading.Event()
    _stand_in(monkeypatch, dead, dialing, release)
    opened = udfs.live.source(other)  # open before the dead one dials

    def dial_dead() -> str:
        try:
            udfs.live.source(dead)
        except udfs.live.InputError as exc:
            return str(exc)
        return "opened"

    stuck, failed = _in_thread(dial_dead)
    assert dialing.wait(30)
    try:
        # an open market, and a market not opened yet, while the dead one dials
        t1, got1 = _in_thread(udfs.live.source, other)
        t2, got2 = _in_thread(udfs.live.source, "replay:some-file")
        t1.join(20)
        t2.join(20)
        assert got1 == [opened], "an open market waited for another spec's dial"
        assert got2 and got2[0].spec == "replay:some-file", "a second spec waited for another spec's dial"
        assert stuck.is_alive()  # the dead one is still dialing: the others did not wait for it
    finally:
        release.set()
        stuck.join(30)
    assert failed and "no answer" in failed[0], failed


def test_an_open_market_is_read_without_the_process_wide_lock(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _stand_in(monkeypatch, "none", threading.Event(), threading.Event())
    opened = udfs.live.source("deribit-test")
    with udfs.live._lock:  # another thread in the middle of the tables
        t, got = _in_thread(udfs.live.source, "deribit-test")
        t.join(20)
        assert got == [opened]


def test_a_publishing_live_market_holds_one_market_and_one_book_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve snapshots of one live spec quoted by one user leave as many store entries as one
    does (before: a market and a desk book per snapshot, until the user's other handles went)."""
    import udfs.market
    from udfs.market import make_market
    from udfs.store import SCOPE, STORE
    from udfs.xva import rfq

    snap = make_market("bundled", None, "svi").snapshot
    btc = snap.market.chains["BTC"]
    request = [["instrument", "side", "quantity"], [btc.names[len(btc.names) // 2], "buy", 1]]
    token = SCOPE.set("live-user")
    try:
        STORE.get("ARR", "mine", lambda: [1, 2, 3], lambda _: "the user's other handle")
        counts = []
        for i in range(12):
            monkeypatch.setattr(udfs.market, "live_snapshot", lambda text, smile, i=i: (f"live{i:04d}", snap))
            out = rfq(request, "none", "deribit")
            assert not any(hasattr(c, "error") or type(c).__name__ == "XlError" for c in out[1]), out[1]
            counts.append(STORE.usage("live-user")[0])
        assert len(set(counts)) == 1, counts
        STORE.resolve("CQ.ARR#mine", "ARR")  # still there
        with pytest.raises(udfs.live.InputError, match="recalculate"):
            STORE.resolve("CQ.MARKET#live0000", "MARKET")  # an old snapshot's handle asks for a recalculation
        assert STORE.resolve("CQ.MARKET#live0011", "MARKET").snapshot is snap
    finally:
        SCOPE.reset(token)
        STORE.clear()


_WIRE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["LIVE_QUOTE", "LIVE_MARKET"]), args=st.lists(_WIRE, max_size=4), attach=st.binary(max_size=16))
def test_a_streaming_call_with_a_binary_attachment_is_refused_with_a_reason(name: str, args: list[Any], attach: bytes) -> None:
    from addin.excel.calls import Refused
    from addin.excel.stream import admit

    with pytest.raises(Refused) as refused:
        admit({"func_name": name, "args": [*args, attach], "task_key": "k"})
    assert 400 <= refused.value.status < 500 and refused.value.message


def test_a_streaming_call_over_the_in_process_cost_bound_is_refused_with_the_reason() -> None:
    from addin.excel.calls import Refused
    from addin.excel.pool import LARGE_COST
    from addin.excel.stream import admit

    row = ["BTC-27MAR26-100000-C", "buy", 1]
    small = admit({"func_name": "LIVE_QUOTE", "args": [[["instrument", "side", "quantity"], row], [["none"]], [["deribit"]]]})
    assert small.cost < LARGE_COST
    rows = [["instrument", "side", "quantity"]] + [row] * 20_000
    with pytest.raises(Refused) as refused:
        admit({"func_name": "LIVE_QUOTE", "args": [rows, [["none"]], [["deribit"]]]})
    assert refused.value.status == 413
    assert f"{LARGE_COST:,}" in refused.value.message and "CQ.RFQ" in refused.value.message
