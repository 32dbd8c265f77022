"""The live source against the local Deribit API v2 server: marks land, reconnects resubscribe with a
fresh snapshot, heartbeats are answered, malformed frames are counted and ignored, silence is stale,
the request rate stays inside Deribit's credit pool, snapshots are immutable and versioned."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from pricing.desk.live import LiveSource, StaleMarket, open_live_source
from tests.live.conftest import FAST
from tests.live.deribit_server import DeribitTestServer


def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


def _open(server: DeribitTestServer) -> LiveSource:
    return open_live_source(f"deribit:{server.url}", limits=FAST, fit=False)


def test_marks_land_in_the_chain_and_old_snapshots_do_not_change(server: DeribitTestServer) -> None:
    with _open(server) as src:
        first = src.current()
        before = first.chains["BTC"].mark_iv.copy()
        server.move_marks("BTC", 5.0)  # +5 vol points on every BTC option
        _until(lambda: src.current().chains["BTC"].mark_iv[0] > before[0] + 0.04)
        now = src.current()
        assert now.snapshot_id > first.snapshot_id and now.as_of > first.as_of
        np.testing.assert_allclose(now.chains["BTC"].mark_iv, before + 0.05, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(first.chains["BTC"].mark_iv, before)  # the old version is untouched
        np.testing.assert_allclose(now.chains["ETH"].mark_iv, first.chains["ETH"].mark_iv, rtol=1e-15)
        with pytest.raises(AttributeError):
            now.snapshot_id = 0  # type: ignore[misc]


def test_a_future_ticker_moves_the_forward_of_the_options_marked_against_it(server: DeribitTestServer) -> None:
    with _open(server) as src:
        chain = src.current().chains["BTC"]
        on_mar = np.array([n.startswith("BTC-27MAR26-") for n in chain.names])
        assert on_mar.any()
        server.move_future("BTC", "BTC-27MAR26", 100_000.0)
        _until(lambda: bool(np.all(src.current().chains["BTC"].forward[on_mar] == 100_000.0)))
        after = src.current().chains["BTC"]
        book = server.books["BTC"]
        und = {o["instrument_name"]: o["underlying_index"] for o in book.options}
        for name, fwd in zip(after.names, after.forward):  # every futures-marked option sits on its future's mark
            if not und[name].startswith("SYN."):
                assert fwd == book.futures[und[name]], name


def test_a_disconnect_reconnects_resubscribes_and_takes_a_fresh_snapshot(server: DeribitTestServer) -> None:
    with _open(server) as src:
        server.move_marks("ETH", 3.0)
        _until(lambda: src.current().snapshot_id > 1)
        summaries_before = sum(1 for _, m in server.requests if m == "public/get_book_summary_by_currency")
        server.disconnect_all()
        _until(lambda: src.status.reconnects >= 1)
        assert sum(1 for _, m in server.requests if m == "public/get_book_summary_by_currency") == summaries_before + 2
        assert [m for _, m in server.requests][-1] == "public/subscribe"
        seen = src.current().snapshot_id
        _until(lambda: src.current().snapshot_id > seen + 2)  # marks flow again after the resubscription
        assert src.current().age_s() < FAST.max_age_s


def test_a_server_that_goes_silent_is_left_after_three_heartbeat_intervals_with_a_fresh_snapshot(
    server: DeribitTestServer,
) -> None:
    """The connection stays open but nothing comes on it (no marks, no test_request, no answer
    to anything, not even the closing handshake): after 3 heartbeat intervals (Deribit's minimum
    interval, 10 s: 30 s) the client drops it, reconnects, takes a fresh snapshot and resubscribes."""
    with _open(server) as src:
        _until(lambda: src.current().snapshot_id > 1)
        summaries_before = sum(1 for _, m in server.requests if m == "public/get_book_summary_by_currency")
        window = 3 * FAST.heartbeat_s
        t0 = time.monotonic()
        server.silence()
        _until(lambda: src.status.reconnects >= 1, seconds=window + 10)
        waited = time.monotonic() - t0
        # not before the window (marks stopped at once: only the silence rule can reconnect), and
        # within the window + the first backoff + the reconnect (not a close timeout later)
        assert window - 0.5 <= waited <= window + 5, waited
        assert src.status.last_error == f"silent for {window:g} s (not even a heartbeat)"
        assert sum(1 for _, m in server.requests if m == "public/get_book_summary_by_currency") == summaries_before + 2
        assert [m for _, m in server.requests][-1] == "public/subscribe"
        seen = src.current().snapshot_id
        _until(lambda: src.current().snapshot_id > seen + 2)  # marks flow on the new connection
        assert src.current().age_s() < FAST.max_age_s


def test_test_requests_are_answered(server: DeribitTestServer) -> None:
    with _open(server) as src:
        server.test_request()
        _until(lambda: server.answered_tests >= 1)
        _until(lambda: src.status.test_requests_answered >= 1)  # counted once its send returned, a moment later


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "markprice.options.btc_usd"}}',
        '{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "markprice.options.btc_usd", "data": 7}}',
        '{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "deribit_price_index.btc_usd", "data": {"price": -1}}}',
        '{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "ticker.BTC-27MAR26.100ms", "data": {"mark_price": "x"}}}',
        '{"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "other"}}',
        '{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "nobody.subscribed", "data": {}}}',
    ],
)
def test_malformed_frames_are_counted_and_ignored(server: DeribitTestServer, frame: str) -> None:
    with _open(server) as src:
        before = src.current().chains["BTC"]
        server.send_raw(frame)
        _until(lambda: src.status.malformed >= 1)
        now = src.current()
        np.testing.assert_array_equal(now.chains["BTC"].forward, before.forward)
        assert np.all(now.chains["BTC"].mark_iv > 0) and now.age_s() < FAST.max_age_s


def test_bad_entries_inside_a_mark_update_are_dropped_and_the_rest_applied(server: DeribitTestServer) -> None:
    with _open(server) as src:
        chain = src.current().chains["BTC"]
        name = chain.names[0]
        server.send_raw(
            '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"markprice.options.btc_usd","data":['
            f'{{"instrument_name":"{name}","mark_price":0.5,"iv":0.77,"timestamp":1767172709000}},'
            '{"instrument_name":"BTC-1JAN26-82000-C","mark_price":0.5,"iv":"high","timestamp":1767172709000},'
            '{"instrument_name":"NOT-LISTED","mark_price":0.5,"iv":0.5,"timestamp":1767172709000}, 17]}}'
        )
        _until(lambda: src.current().chains["BTC"].mark_iv[0] == pytest.approx(0.77, abs=1e-12))


def test_a_server_that_stops_sending_marks_makes_the_market_stale_naming_the_age(server: DeribitTestServer) -> None:
    with _open(server) as src:
        src.current().check_fresh()
        server.script.send_marks = False
        time.sleep(FAST.max_age_s + 0.3)
        with pytest.raises(StaleMarket, match=r"stale: no marks received for 1\.[3-9] s \(limit 1 s\)"):
            src.current().check_fresh()
        assert src.status.reconnects == 0  # the connection is fine; only the marks stopped
        server.script.send_marks = True
        _until(lambda: src.current().age_s() < 0.5)
        src.current().check_fresh()


def test_many_reconnects_stay_inside_deribits_credit_pool(server: DeribitTestServer) -> None:
    with _open(server) as src:
        for _ in range(8):
            seen = src.status.connects
            server.disconnect_all()
            _until(lambda seen=seen: src.status.connects > seen)
        starts = np.array([t for t, _ in server.requests])
        assert server.rate_limited == 0
        # the client's own bucket (10/s, burst 20): never more than burst + rate × window
        for t in starts:
            window = starts[(starts >= t) & (starts < t + 1.0)]
            assert window.size <= FAST.request_burst + FAST.requests_per_s * 1.0 + 1


def test_a_stopped_endpoint_keeps_the_last_snapshot_which_goes_stale() -> None:
    with DeribitTestServer() as srv, _open(srv) as src:
        srv.stop()
        time.sleep(FAST.max_age_s + 0.3)
        assert src.current().snapshot_id >= 1
        with pytest.raises(StaleMarket):
            src.current().check_fresh()
        assert "refused" in src.status.last_error or src.status.last_error


def test_a_settled_instrument_leaves_the_chain_and_a_listing_takes_a_fresh_snapshot(server: DeribitTestServer) -> None:
    with _open(server) as src:
        gone = src.current().chains["BTC"].names[3]
        server.send_raw(
            '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"instrument.state.option.btc",'
            f'"data":{{"instrument_name":"{gone}","state":"settled","timestamp":1767172709000}}}}}}'
        )
        _until(lambda: gone not in src.current().chains["BTC"].names)
        before = sum(1 for _, m in server.requests if m == "public/get_book_summary_by_currency")
        server.send_raw(
            '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"instrument.state.option.btc",'
            '"data":{"instrument_name":"BTC-27MAR26-250000-C","state":"created","timestamp":1767172709000}}}'
        )
        _until(lambda: sum(1 for _, m in server.requests if m == "public/get_book_summary_by_currency") == before + 1)
        _until(lambda: gone in src.current().chains["BTC"].names)  # the fresh summary still lists it (this server never settles)
