"""The desk service's guarantees (pricing/desk), each stated and tested for all inputs drawn.

* G1 one answer per request, in order: every request gets exactly one quote or one typed
  refusal, whatever the mix of good and bad requests; a refusal never changes a neighbour's numbers.
* G2 every quote names the snapshot it was priced on, and the snapshot is the source's current one.
* G3 a quote does not depend on its batch (accept off): quoting a request alone gives the same
  numbers as quoting it among others (same arithmetic, so to 1e-9 relative).
* G4 the book is the start plus every fill, in order; the quote basis follows it (stateful test):
  after a fill the next quote is priced on the new book, equal to a desk started on that book.
* G5 snapshots are content-addressed: same content, same id; a changed file, a new id; a file
  source re-reads only on change.
* G6 bad text never raises past the desk: rows, parameters and chain files give a typed refusal
  or a named ``ConfigError``/``MarketError``, never another exception.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pricing.desk import (
    Book,
    BookError,
    ConfigError,
    Desk,
    DeskConfig,
    FixedSource,
    Leg,
    MarketError,
    Refusal,
    RefusalCode,
    RfqRequest,
    open_market,
    params_from_rows,
    requests_from_rows,
)
from pricing.desk.config import DESK_HELP
from pricing.desk.market import chain_file_rows, file_snapshot

CHAIN = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"
LIVE = ["BTC-25SEP26-60000-C", "BTC-25SEP26-70000-C", "BTC-25SEP26-50000-P", "BTC-30OCT26-65000-C", "BTC-PERPETUAL"]
EXPIRED = "BTC-21AUG26-60000-C"  # expires 08:00 on the market's day, before its 09:47 snapshot
SPAN = DeskConfig.from_mapping({"model": "span"})


@pytest.fixture(scope="module")
def source() -> Any:
    return FixedSource(open_market("bundled:2026-08-21").current())


def _good(draw: Any) -> RfqRequest:
    k = draw(st.integers(1, 3))
    # At least one option: a structure of futures only is refused (its price is its own mark). Each
    # instrument once (a repeated leg is refused), and the perpetual at most the options' contracts
    # (a future is admitted as a delta hedge only): pricing.desk.admission.hedge_refusal.
    first = draw(st.sampled_from(LIVE[:4]))
    names = [
        first,
        *draw(st.lists(st.sampled_from([n for n in LIVE if n != first]), min_size=k - 1, max_size=k - 1, unique=True)),
    ]
    ratios = draw(st.lists(st.sampled_from([1.0, -1.0, 2.0, -0.5]), min_size=k, max_size=k))
    if "BTC-PERPETUAL" in names[1:]:
        j = names.index("BTC-PERPETUAL")
        ratios[j] = draw(st.sampled_from([0.5, -0.5]))  # at most the first option's |ratio| (0.5 <= 0.5)
    side = draw(st.sampled_from(["buy", "sell", "two-way"]))
    qty = draw(st.sampled_from([0.1, 1.0, 7.0, 25.0]))
    return RfqRequest(tuple(Leg(n, r) for n, r in zip(names, ratios)), side, qty)


BAD = {
    "unknown_instrument": RfqRequest((Leg("BTC-NOTANAME"),), "buy", 1.0),
    "unknown_underlying": RfqRequest((Leg("SOL-25SEP26-100-C"),), "buy", 1.0),
    "expired": RfqRequest((Leg(EXPIRED),), "buy", 1.0),
    "bad_quantity": RfqRequest((Leg(LIVE[0]),), "buy", -3.0),
    "nan_quantity": RfqRequest((Leg(LIVE[0]),), "buy", math.nan),
    "bad_side": RfqRequest((Leg(LIVE[0]),), "hold", 1.0),
    "zero_ratio": RfqRequest((Leg(LIVE[0], 0.0),), "buy", 1.0),
    "no_size": RfqRequest((Leg(LIVE[0]),), "buy"),
    "not_listed": RfqRequest((Leg("BTC-25SEP26-61234-C"),), "buy", 1.0),  # a strike the venue does not list
    "futures_only": RfqRequest((Leg("BTC-PERPETUAL"),), "buy", 1.0),
    # A malformed size is bad input before it is over a limit; a well-formed one over max_contracts (1,000) is a limit.
    "huge_quantity": RfqRequest((Leg(LIVE[0]),), "buy", 1e308),
    "over_limit": RfqRequest((Leg(LIVE[0]),), "buy", 1_500.0),
}
EXPECTED_CODE = {
    "unknown_instrument": RefusalCode.UNKNOWN_INSTRUMENT,
    "unknown_underlying": RefusalCode.UNKNOWN_INSTRUMENT,
    "expired": RefusalCode.EXPIRED,
    "bad_quantity": RefusalCode.BAD_QUANTITY,
    "nan_quantity": RefusalCode.BAD_QUANTITY,
    "bad_side": RefusalCode.BAD_REQUEST,
    "zero_ratio": RefusalCode.BAD_REQUEST,
    "no_size": RefusalCode.BAD_QUANTITY,
    "not_listed": RefusalCode.NOT_LISTED,
    "futures_only": RefusalCode.NOT_LISTED,
    "huge_quantity": RefusalCode.BAD_QUANTITY,
    "over_limit": RefusalCode.LIMIT_EXCEEDED,
}


@st.composite
def mixes(draw: Any) -> list[tuple[str | None, RfqRequest]]:
    n = draw(st.integers(1, 6))
    out: list[tuple[str | None, RfqRequest]] = []
    for i in range(n):
        kind = draw(st.sampled_from([None, None, *BAD]))
        req = _good(draw) if kind is None else BAD[kind]
        out.append((kind, RfqRequest(req.legs, req.side, req.quantity, req.notional_usd, req.settle, f"rfq {i + 1}")))
    return out


def _figures(answer: Any, i: int) -> np.ndarray:
    q = answer.result(i)
    return np.array([v if v is not None else np.nan for v in q.figures().values()], dtype=float)


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mixes())
def test_one_answer_per_request_in_order_with_the_snapshot_named(source: Any, mix: list[tuple[str | None, RfqRequest]]) -> None:
    """G1, G2, G3."""
    desk = Desk(source, Book.empty(), SPAN)
    answer = desk.quote([r for _, r in mix])
    assert len(answer) == len(mix) and answer.snapshot is source.current()
    for i, (kind, req) in enumerate(mix):
        result = answer.result(i)
        if kind is None:
            assert not isinstance(result, Refusal), result
            assert result.snapshot_id == answer.snapshot_id and result.request is req
            # G3: the same request alone gives the same numbers.
            alone = Desk(source, Book.empty(), SPAN).quote([req])
            np.testing.assert_allclose(_figures(answer, i), _figures(alone, 0), rtol=1e-9, atol=1e-9)
        else:
            assert isinstance(result, Refusal) and result.code is EXPECTED_CODE[kind]
            assert result.text.startswith(f"rfq {i + 1}")


@pytest.mark.parametrize("model", ["span", "hvar", "deribit"])
def test_a_perpetual_alone_is_refused_as_not_listed_in_every_model(source: Any, model: str) -> None:
    """A perpetual costs nothing to enter (base 0) and its price is its own mark: alone it is refused
    by admission (NOT_LISTED) in every model. Before admission moved into the desk, a two-way
    BTC-PERPETUAL under SPAN (drawn by hypothesis in the mix above) reached price sanity as 0 / 0
    and was refused there as crossed; locked quotes are now allowed by sanity
    (tests/property/test_desk_checks.py), and this request never gets that far."""
    req = RfqRequest((Leg("BTC-PERPETUAL"),), "two-way", 0.1, ref="perp")
    refusal = Desk(source, Book.empty(), DeskConfig.from_mapping({"model": model})).quote([req]).result(0)
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.NOT_LISTED, refusal


def test_limits_refuse_with_their_own_codes(source: Any) -> None:
    """A size above ``max_contracts`` and a market older than ``max_market_age_s`` are refused
    with LIMIT_EXCEEDED and STALE_MARKET (the bundled market is months old)."""
    big = RfqRequest((Leg(LIVE[0]),), "buy", 50.0, ref="big")
    desk = Desk(source, Book.empty(), DeskConfig.from_mapping({"model": "span", "max_contracts": 10}))
    assert desk.quote([big]).result(0).code is RefusalCode.LIMIT_EXCEEDED  # type: ignore[union-attr]
    stale = Desk(source, Book.empty(), DeskConfig.from_mapping({"model": "span", "max_market_age_s": 60}))
    refusal = stale.quote([RfqRequest((Leg(LIVE[0]),), "buy", 1.0, ref="old")]).result(0)
    assert isinstance(refusal, Refusal) and refusal.code is RefusalCode.STALE_MARKET and "market stale" in refusal.text


class BookMachine(RuleBasedStateMachine):
    """G4: fills join the book in order; the desk's next quote is that of a desk started on the new book."""

    source = FixedSource(open_market("bundled:2026-08-21").current())
    probe = RfqRequest((Leg("BTC-25SEP26-60000-C"),), "two-way", 3.0)

    def __init__(self) -> None:
        super().__init__()
        self.desk = Desk(self.source, Book.empty(), SPAN)
        self.fills: list[list[Leg]] = []

    @rule(name=st.sampled_from(LIVE[:4]), qty=st.sampled_from([-5.0, -1.0, 2.0, 10.0]))
    def fill(self, name: str, qty: float) -> None:
        legs = [Leg(name, qty)]
        self.desk.fill(legs)
        self.fills.append(legs)

    @rule()
    def quote_equals_a_fresh_desk_on_the_same_book(self) -> None:
        fresh = Book(self.desk.book.positions)
        a = self.desk.quote([self.probe])
        b = Desk(self.source, fresh, SPAN).quote([self.probe])
        np.testing.assert_allclose(_figures(a, 0), _figures(b, 0), rtol=1e-12, atol=1e-9)

    @invariant()
    def book_is_start_plus_fills_in_order(self) -> None:
        book = self.desk.book
        assert book.version == len(self.fills)
        held = book.positions
        assert len(held) == len(self.fills)
        expected = [leg.ratio for legs in self.fills for leg in legs]
        assert held.quantity.tolist() == expected


TestBook = BookMachine.TestCase
TestBook.settings = settings(max_examples=6, stateful_step_count=5, deadline=None)


def test_snapshot_ids_follow_content_and_a_file_source_rereads_only_on_change(tmp_path: Path) -> None:
    """G5."""
    path = tmp_path / "chain.csv"
    path.write_bytes(CHAIN.read_bytes())
    src = open_market(str(path))
    first = src.current()
    assert src.current() is first  # unchanged file: not re-read
    assert file_snapshot(path).snapshot_id == first.snapshot_id  # same content, same id
    assert first.source.startswith("chain.csv sha256:")
    lines = CHAIN.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    path.write_text("\n".join([header, *rows[:-1]]) + "\n")  # one option fewer
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))
    second = src.current()
    assert second is not first and second.snapshot_id != first.snapshot_id
    assert open_market("bundled").current().snapshot_id != first.snapshot_id
    # A file that stops reading (half written) keeps the last good snapshot, flagged; it recovers.
    path.write_text(header + "\nBTC-25SEP26-60000-C,not-a-number\n")
    os.utime(path, (stamp + 5, stamp + 5))
    kept = src.current()
    assert kept.snapshot_id == second.snapshot_id and kept.flags and kept.flags[0].startswith("kept last good: --market")
    path.write_bytes(CHAIN.read_bytes())
    os.utime(path, (stamp + 10, stamp + 10))
    back = src.current()
    assert back.snapshot_id == first.snapshot_id and back.flags == ()


def test_a_live_spec_without_the_live_package_is_a_named_error() -> None:
    try:
        import pricing.desk.live  # noqa: F401

        pytest.skip("the live package is present: its own tests cover open_live_source")
    except ImportError:
        pass
    with pytest.raises(MarketError, match="deribit:BTC"):
        open_market("deribit:BTC")


cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["buy", "sell", "two-way", "BTC-25SEP26-60000-C", "BTC-25SEP26-60000-C:1;BTC-25SEP26-70000-C:-1"]),
)
keys = st.sampled_from(["instrument", "legs", "side", "quantity", "notional_usd", "settle", "instrument_name", "junk"])


@settings(max_examples=300)
@given(st.lists(st.dictionaries(keys, cells, max_size=6), max_size=5))
def test_rows_never_raise_and_refusals_are_typed(rows: list[dict[str, Any]]) -> None:
    """G6 for request rows: each row is a request or a typed refusal naming its row."""
    out = requests_from_rows(rows)
    assert len(out) == len(rows)
    for i, r in enumerate(out):
        assert isinstance(r, (RfqRequest, Refusal))
        if isinstance(r, Refusal):
            assert isinstance(r.code, RefusalCode) and r.text.startswith(f"rfqs, row {i + 2}")


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from([*DESK_HELP, "nonsense", "Model"]), cells, max_size=5))
def test_parameters_are_accepted_or_refused_by_name(values: dict[str, Any]) -> None:
    """G6 for parameters: a ConfigError naming the parameter, or a configuration."""
    try:
        cfg = DeskConfig.from_mapping(values)
    except ConfigError as exc:
        text = str(exc)
        assert any(name.lower() in text for name in values) or text.startswith("params"), text
        return
    assert cfg.model in ("hvar", "fhs", "mc", "span", "deribit", "hybrid")


@settings(max_examples=150)
@given(st.binary(max_size=400), st.sampled_from(["m.csv", "m.json", "m.txt"]))
def test_chain_files_of_any_bytes_give_rows_or_a_named_error(raw: bytes, name: str) -> None:
    """G6 for market files: rows, or a MarketError naming the file."""
    try:
        rows = chain_file_rows(raw, name)
    except MarketError as exc:
        assert name in str(exc)
        return
    assert isinstance(rows, list)


def test_params_rows_name_a_repeated_parameter() -> None:
    with pytest.raises(ConfigError, match="row 3: parameter alpha is given twice"):
        params_from_rows([["name", "value"], ["alpha", 0.99], ["Alpha", 0.995]])


def test_fills_of_unknown_instruments_are_refused_by_name() -> None:
    book = Book.empty()
    with pytest.raises(BookError, match="fill"):
        book.apply_fill([Leg("NOT-A-NAME", 1.0)])
    assert book.version == 0 and len(book.positions) == 0
    book.apply_fill([Leg("BTC-PERPETUAL", 1.0)])
    assert len(book.positions) == 1 and book.version == 1
