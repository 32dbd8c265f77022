"""Invariants of the pure parts of the live client, for all inputs (hypothesis):

- the message classifier and every channel parser are total: any frame, any JSON, never raises,
  and only entries with the documented fields and sane values get through;
- the token bucket never lets more than ``burst + rate × T`` requests start in any window of T;
- a live chain written as rows and read back by the file reader is the same chain (exact);
- a spec that is not a live market is refused naming what is allowed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.chain import chains_from_rows, load_bundled_chain
from pricing.desk.live import protocol as rpc
from pricing.desk.live.marks import ROW_HEADER, chain_rows
from pricing.desk.live.ratelimit import TokenBucket
from pricing.desk.live.spec import PRODUCTION_URL, TESTNET_URL, LiveLimits, parse_spec
from pricing.errors import PricingInputError

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=30,
)
FIELDS = st.sampled_from(["instrument_name", "mark_price", "iv", "timestamp", "price", "index_name", "state", "mark_iv"])
ENTRY = st.dictionaries(FIELDS, JSON | st.floats(-1e6, 1e6) | st.sampled_from(["BTC-27MAR26-90000-C", "settled"]), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_classify_never_raises_on_any_frame(frame: str | bytes) -> None:
    assert isinstance(rpc.classify(frame), (rpc.Response, rpc.ErrorResponse, rpc.Notification, rpc.Heartbeat, rpc.Malformed))


@settings(max_examples=300, deadline=None)
@given(JSON | st.lists(ENTRY, max_size=8) | ENTRY)
def test_channel_parsers_are_total_and_keep_only_sane_entries(data: object) -> None:
    frame = json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "x", "data": data}}, allow_nan=True)
    assert isinstance(rpc.classify(frame), rpc.Notification)
    marks = rpc.parse_marks(data)
    if isinstance(marks, rpc.MarkUpdate):
        assert len(marks.names) + marks.dropped == len(data)  # type: ignore[arg-type]
        assert np.all(np.isfinite(marks.iv_pct) & (marks.iv_pct > 0) & (marks.mark_price >= 0) & (marks.ts_ms > 0))
    for parser in (rpc.parse_index, rpc.parse_ticker, rpc.parse_state):
        out = parser(data)
        assert isinstance(out, (rpc.PriceUpdate, rpc.StateUpdate, rpc.Malformed))
        if isinstance(out, rpc.PriceUpdate):
            assert math.isfinite(out.price) and out.price > 0
    summary = rpc.parse_book_summary(data)
    if isinstance(summary, rpc.SummaryRows):
        assert np.all(summary.mark_iv > 0) and np.all(summary.underlying_price > 0)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.5, 50),
    st.integers(1, 40),
    st.lists(st.floats(0, 0.5), min_size=1, max_size=200),
)
def test_the_token_bucket_never_exceeds_burst_plus_rate_times_window(rate: float, burst: int, gaps: list[float]) -> None:
    bucket = TokenBucket(rate, burst)
    now, starts = 0.0, []
    for gap in gaps:
        now += gap
        starts.append(now + bucket.reserve(now))
    s = np.array(starts)
    assert np.all(np.diff(s) >= -1e-12)  # first come, first served
    for i in range(s.size):
        for j in range(i, s.size):
            assert j - i + 1 <= burst + rate * (s[j] - s[i]) + 1e-6


@pytest.mark.parametrize("day", ["2025-12-31", "2026-08-21"])
@pytest.mark.parametrize("ccy", ["BTC", "ETH"])
def test_live_rows_read_back_as_the_same_chain(ccy: str, day: str) -> None:
    chain = load_bundled_chain(ccy, day)
    rows = [dict(zip(ROW_HEADER, r)) for r in chain_rows(chain)]
    back = chains_from_rows(rows)[ccy]
    assert back.names == chain.names and back.as_of == chain.as_of and back.spot == chain.spot
    for f in ("expiry", "t_years", "strike", "cp", "forward", "mark_iv", "mark_price", "bid_price", "ask_price"):
        np.testing.assert_array_equal(getattr(back, f), getattr(chain, f), err_msg=f)


def test_specs() -> None:
    assert parse_spec("deribit").url == PRODUCTION_URL and parse_spec("Deribit-Test").url == TESTNET_URL
    spec = parse_spec("deribit:ws://127.0.0.1:9/ws/api/v2#btc")
    assert spec.url == "ws://127.0.0.1:9/ws/api/v2" and spec.currencies == ("BTC",)
    for bad, words in [
        ("deribit:http://x/ws", "ws:// or wss://"),
        ("deribit:ws://:9/x", "with a host"),
        ("deribit:ws://h:port/x", "port is not a number"),
        ("deribitx", "a live market is"),
        ("deribit#", "currency codes"),
        ("replay:/nonexistent/file.jsonl.gz", "no recording"),
    ]:
        with pytest.raises(PricingInputError, match=words):
            parse_spec(bad)


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(PricingInputError, match="max_age_s"):
        LiveLimits(max_age_s=0)
    with pytest.raises(PricingInputError, match="minimum of 10"):
        LiveLimits(heartbeat_s=5)
    with pytest.raises(PricingInputError, match="backoff_max_s"):
        LiveLimits(backoff_initial_s=5, backoff_max_s=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(0), st.just(0.0), st.floats(1e-4, 5.0)), min_size=2, max_size=2))
def test_the_live_and_file_readers_agree_on_which_sides_are_quoted(sides: list[float | None]) -> None:
    """One rule for a missing side (null or 0 is no quote), whether the summary comes from a file
    (:func:`pricing.chain.book_summary_rows`) or from the feed (:func:`parse_book_summary`)."""
    from pricing.chain import book_summary_rows

    entry = {
        "instrument_name": "BTC-25SEP26-60000-C",
        "underlying_index": "BTC-25SEP26",
        "mark_price": 0.05,
        "mark_iv": 55.0,
        "underlying_price": 60_000.0,
        "estimated_delivery_price": 59_900.0,
        "creation_timestamp": 1_787_000_000_000,
        "bid_price": sides[0],
        "ask_price": sides[1],
    }
    live = rpc.parse_book_summary([entry])
    assert isinstance(live, rpc.SummaryRows)
    (row,) = book_summary_rows([entry], "summary.json")
    for key, got in (("bid_price", live.bid_price[0]), ("ask_price", live.ask_price[0])):
        from_file = float(row[key]) if row[key] != "" else math.nan
        assert (math.isnan(got) and math.isnan(from_file)) or got == from_file, (key, got, row[key])
