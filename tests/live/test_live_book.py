"""One live book for the FIX gateway: the account's positions (Deribit's private API, or a watched
positions file) and the gateway's own fills are the same :class:`pricing.desk.Book`, so the next
quote's ΔIM includes both; FIX quotes are cancelled (35=Z) when the live market moves beyond the
fill tolerance; the gateway's ``--max-market-age`` is the desk service's rule, by receive time.

Oracle for ΔIM: the desk service on the same snapshot with a static book holding the same
positions (``Book.from_table``), the path ``clearquote quote --portfolio`` takes; equal to 1e-9
relative (the same positions in another order: float summation order only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pricing.desk import Book, Desk, MarketSnapshot, requests_from_rows
from pricing.desk.live.account import Credentials
from tests.live.deribit_server import DeribitTestServer

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")

KEY = Credentials("desk-key", "s3cret-value")
HELD = "BTC-27MAR26-90000-C"
QUOTED = "BTC-27MAR26-80000-P"
PARAMS = [["model", "deribit"]]


def _until(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    end = time.monotonic() + seconds
    while not (got := check()):
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)
    return got


class _Fixed:
    """One snapshot as a market source (the oracle's market is the live desk's, frozen)."""

    def __init__(self, snap: MarketSnapshot) -> None:
        self.snap = snap

    def current(self) -> MarketSnapshot:
        return self.snap

    def close(self) -> None:
        pass


def _answer(desk: Desk) -> tuple[tuple[float, float], MarketSnapshot]:
    """(bid ΔIM, ask ΔIM) of a two-way request for 5 of QUOTED, USD, and the snapshot it was quoted on."""
    answer = desk.quote(requests_from_rows([{"instrument": QUOTED, "side": "two-way", "quantity": 5}], ["rfq"]))
    assert answer.refusals[0] is None, answer.refusals
    return (float(answer.table.bid["delta_im"][0]), float(answer.table.ask["delta_im"][0])), answer.snapshot


def _check(desk: Desk, positions: list[list[Any]]) -> tuple[float, float]:
    """The live desk's ΔIM, equal to the oracle's on the same snapshot with a static book of ``positions``."""
    got, snap = _answer(desk)
    book = Book.from_table([["instrument", "quantity"], *positions]) if positions else Book.empty()
    want, same = _answer(Desk(_Fixed(snap), book, desk.config))
    assert same is snap
    assert got == pytest.approx(want, rel=1e-9)
    return got


def _gateway(tmp_path: Path, desk: Any, sent: list[Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from addin.fix.gateway import QuoteGateway
    from addin.fix.journal import Journal

    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    # The test server's instruments expired in real time: admission's clock is the market's.
    return QuoteGateway(desk, Journal(tmp_path / "j.sqlite"), clock=lambda: desk.market.current().market.as_of)


def _order(quote_id: str, side: str, qty: float, cl: str) -> Any:
    import quickfix44 as fix44

    msg = fix44.NewOrderSingle()
    for f in (fix.ClOrdID(cl), fix.Side(side), fix.TransactTime(), fix.OrdType("D")):
        msg.setField(f)
    msg.setField(fix.Symbol(QUOTED))
    msg.setField(fix.OrderQty(qty))
    msg.setField(fix.QuoteID(quote_id))
    return msg


@contextmanager
def _live_gateway(
    server: DeribitTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, Any, list[Any]]]:
    """The FIX gateway on a live market with the account's book: (desk, account, gateway, messages sent)."""
    from addin.fix.desk import Desk as FixDesk
    from addin.fix.desk import Limits, MarketSource
    from pricing.desk.live.book import account_positions
    from pricing.portfolio import empty_portfolio

    market = MarketSource(f"deribit:{server.url}", None, KEY)
    try:
        account = market.source.account
        assert account is not None
        desk = FixDesk(market, PARAMS, empty_portfolio(), Limits(), account_positions(market.source))
        sent: list[Any] = []
        yield desk, account, _gateway(tmp_path, desk, sent, monkeypatch), sent
    finally:
        market.close()


def test_the_accounts_positions_and_fix_fills_are_one_book_for_the_next_delta_im(
    tmp_path: Path, server: DeribitTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from addin.fix.client import quote_request
    from addin.fix.desk import Desk as FixDesk
    from addin.fix.desk import Limits, MarketSource
    from pricing.desk.live.book import account_positions
    from pricing.portfolio import empty_portfolio

    server.script.send_marks = False  # one snapshot throughout: the oracle prices on the same market
    market = MarketSource(f"deribit:{server.url}", None, KEY)
    try:
        desk = FixDesk(market, PARAMS, empty_portfolio(), Limits(), account_positions(market.source))
        empty = _check(desk.service, [])
        # the venue reports a position: the next quote's ΔIM is on it
        server.push_positions({HELD: -25.0})
        _until(lambda: market.source.account is not None and HELD in market.source.account.positions)
        held = _check(desk.service, [[HELD, -25.0]])
        assert held != pytest.approx(empty, rel=1e-6)
        # a FIX fill joins the same book: the client buys 2 of QUOTED, the desk is short 2
        sent: list[Any] = []
        app = _gateway(tmp_path, desk, sent, monkeypatch)
        app.on_quote_request(quote_request("R1", [{"symbol": QUOTED, "qty": 2, "side": "1"}]), "S")
        assert sent[-1].getHeader().getField(35) == "S", sent[-1].toString()
        app.on_order(_order(sent[-1].getField(117), "1", 2, "C1"), "S")
        assert sent[-1].getHeader().getField(35) == "8" and sent[-1].getField(39) == "2", sent[-1].toString()
        both = _check(desk.service, [[HELD, -25.0], [QUOTED, -2.0]])
        assert both != pytest.approx(held, rel=1e-6)
        # the venue's next report replaces its part whole; the fill stays
        server.push_positions({HELD: 0.0})
        _until(lambda: HELD not in market.source.account.positions)  # type: ignore[union-attr]
        _check(desk.service, [[QUOTED, -2.0]])
    finally:
        market.close()


def test_a_fix_fill_the_venue_books_is_held_once(
    tmp_path: Path, server: DeribitTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway's fill, then the venue's trade of it under the fill's label (Deribit's
    ``label``, echoed in ``user.changes``): the book holds it once (before: the venue's position
    and the fill, twice). A second fill booked at the venue while the client is disconnected
    is retired by the snapshot after the reconnect (``private/get_positions`` and the labelled
    trades up to its time), once; a venue trade without the label retires nothing."""
    from addin.fix.client import quote_request
    from pricing.desk.fills import fill_label

    server.script.send_marks = False  # one snapshot throughout: the oracle prices on the same market
    with _live_gateway(server, tmp_path, monkeypatch) as (desk, account, app, sent):
        quote_of: dict[str, str] = {}

        def fill(cl: str) -> None:
            app.on_quote_request(quote_request(f"R-{cl}", [{"symbol": QUOTED, "qty": 2, "side": "1"}]), "S")
            assert sent[-1].getHeader().getField(35) == "S", sent[-1].toString()
            quote_of[cl] = sent[-1].getField(117)
            app.on_order(_order(quote_of[cl], "1", 2, cl), "S")
            assert sent[-1].getHeader().getField(35) == "8" and sent[-1].getField(39) == "2", sent[-1].toString()

        fill("C1")  # the desk sold 2: short 2 in the book, not yet at the venue
        _check(desk.service, [[QUOTED, -2.0]])
        server.push_trade(QUOTED, -2.0, label=fill_label("S", "C1", quote_of["C1"]))  # cleared at the venue
        _until(lambda: account.positions.get(QUOTED) == -2.0)
        _check(desk.service, [[QUOTED, -2.0]])  # once: the venue's position, the fill retired
        # the same fill again: booked at the venue while the client hears nothing, then a reconnect
        fill("C2")
        _check(desk.service, [[QUOTED, -4.0]])
        server.push_trade(QUOTED, -2.0, label=fill_label("S", "C2", quote_of["C2"]), notify=False)
        before = account.horizon_ms["BTC"]
        server.disconnect_all()
        _until(lambda: account.horizon_ms["BTC"] > before and account.positions.get(QUOTED) == -4.0)
        _check(desk.service, [[QUOTED, -4.0]])  # the snapshot holds it, and it is held once
        # a venue trade without the label is the account's own: it joins, and retires nothing
        server.push_trade(HELD, -1.0)
        _until(lambda: account.positions.get(HELD) == -1.0)
        _check(desk.service, [[QUOTED, -4.0], [HELD, -1.0]])


def test_a_fill_booked_at_the_venue_while_a_reconnect_reads_the_trade_history_is_kept(
    tmp_path: Path, server: DeribitTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's socket case: a FIX fill; a reconnection; the venue books the fill's trade
    after answering ``private/get_positions`` but before answering the trade-history read, so
    its ``user.changes`` reaches the client first (the socket is ordered: the notification is
    sent before the history's answer). Before the hold, that notification was applied during
    the session's await (the fill retired, the position set) and then overwritten by the older
    snapshot: the desk's short 2 vanished from the book. Now the snapshot, the trades up to it
    and the notification after it land as one step: short 2, once."""
    import asyncio

    from addin.fix.client import quote_request
    from pricing.desk.fills import fill_label

    server.script.send_marks = False
    with _live_gateway(server, tmp_path, monkeypatch) as (desk, account, app, sent):
        app.on_quote_request(quote_request("R1", [{"symbol": QUOTED, "qty": 2, "side": "1"}]), "S")
        quote_id = sent[-1].getField(117)
        app.on_order(_order(quote_id, "1", 2, "C1"), "S")
        assert sent[-1].getField(39) == "2", sent[-1].toString()
        _check(desk.service, [[QUOTED, -2.0]])

        answer = server._request
        armed = {"BTC": True}

        async def racing(ws: Any, state: dict[str, Any], raw: str | bytes) -> None:
            text = raw.decode() if isinstance(raw, bytes) else raw
            if "get_user_trades" in text and '"BTC"' in text and armed.pop("BTC", False):
                # on the server's loop: the trade and its user.changes go out before this answer
                label = fill_label("S", "C1", quote_id)
                await asyncio.get_running_loop().run_in_executor(None, lambda: server.push_trade(QUOTED, -2.0, label=label))
            await answer(ws, state, raw)

        monkeypatch.setattr(server, "_request", racing)
        before = account.horizon_ms["BTC"]
        server.disconnect_all()
        _until(lambda: account.horizon_ms.get("BTC", 0) > before and not armed)
        assert account.positions.get(QUOTED) == -2.0  # the venue's position after its trade, kept
        _check(desk.service, [[QUOTED, -2.0]])  # the fill retired by it, the position held: once


def test_a_watched_positions_file_is_the_live_books_venue_part(tmp_path: Path, server: DeribitTestServer) -> None:
    import os

    from addin.fix.run import build_desk

    server.script.send_marks = False
    for k in ("DERIBIT_CLIENT_ID", "DERIBIT_CLIENT_SECRET"):
        os.environ.pop(k, None)
    book = tmp_path / "book.csv"
    book.write_text(f"instrument,quantity\n{HELD},-25\n")
    params = tmp_path / "params.csv"
    params.write_text("name,value\nmodel,deribit\n")

    desk = build_desk(str(book), f"deribit:{server.url}", str(params))
    try:
        _check(desk.service, [[HELD, -25.0]])
        book.write_text(f"instrument,quantity\n{HELD},-25\n{QUOTED},7\n")
        os.utime(book, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))  # a new stamp even within one tick
        _check(desk.service, [[HELD, -25.0], [QUOTED, 7.0]])
        book.write_text("instrument,quantity\nNOT-AN-OPTION,1\n")  # a bad edit keeps the last good book
        os.utime(book, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
        _check(desk.service, [[HELD, -25.0], [QUOTED, 7.0]])
    finally:
        desk.market.close()


def test_fix_quotes_are_cancelled_when_the_live_market_moves_beyond_the_fill_tolerance(
    tmp_path: Path, server: DeribitTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from addin.fix.client import quote_request
    from addin.fix.desk import Desk as FixDesk
    from addin.fix.desk import Limits, MarketSource
    from pricing.portfolio import empty_portfolio

    market = MarketSource(f"deribit:{server.url}")
    try:
        sent: list[Any] = []
        desk = FixDesk(market, PARAMS, empty_portfolio(), Limits(quote_validity_s=120.0, fill_tolerance=0.005))
        app = _gateway(tmp_path, desk, sent, monkeypatch)
        app.onCreate("S")  # the session QuickFIX would have created: where the 35=Z goes
        app.poll()
        app.on_quote_request(quote_request("R1", [{"symbol": QUOTED, "qty": 2, "side": None}]), "S")
        assert sent[-1].getHeader().getField(35) == "S"
        quote_id = sent[-1].getField(117)
        # the marks keep coming unchanged: new snapshots, the same mid: the quote stays
        first = market.current().snapshot_id
        _until(lambda: market.current().snapshot_id != first)
        app.poll()
        assert [m for m in sent if m.getHeader().getField(35) == "Z"] == []
        # every BTC mark 10 vol points up: the put's mid moves far beyond 0.5 %: 35=Z
        server.move_marks("BTC", 10.0)

        def cancelled() -> list[Any]:
            app.poll()
            return [m for m in sent if m.getHeader().getField(35) == "Z"]

        (z,) = _until(cancelled, 60.0)
        assert z.getField(117) == quote_id and z.getField(298) == "1" and f"\x0155={QUOTED}\x01" in z.toString()
        assert quote_id in app.orders.cancels  # and no order fills on it any more
    finally:
        market.close()


def test_the_gateways_max_market_age_is_by_receive_time_on_a_live_market(
    tmp_path: Path, server: DeribitTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from addin.fix.client import quote_request
    from addin.fix.desk import Desk as FixDesk
    from addin.fix.desk import Limits, MarketSource
    from pricing.portfolio import empty_portfolio

    market = MarketSource(f"deribit:{server.url}")
    try:
        sent: list[Any] = []
        desk = FixDesk(market, PARAMS, empty_portfolio(), Limits(max_market_age_s=2.0))
        app = _gateway(tmp_path, desk, sent, monkeypatch)
        # the marks' venue time is 2025-12-31, months ago; they were received just now: quoted
        _until(lambda: market.current().age_s() < 1.0)
        app.on_quote_request(quote_request("R1", [{"symbol": QUOTED, "qty": 2, "side": None}]), "S")
        assert sent[-1].getHeader().getField(35) == "S", sent[-1].toString()
        server.script.send_marks = False
        time.sleep(2.5)
        app.on_quote_request(quote_request("R2", [{"symbol": QUOTED, "qty": 2, "side": None}]), "S")
        ag = sent[-1]
        assert ag.getHeader().getField(35) == "AG" and ag.getField(658) == "8", ag.toString()
        assert "market stale: no marks received for" in ag.getField(58) and "(limit 2 s)" in ag.getField(58)
    finally:
        market.close()


def test_the_book_comes_from_the_account_or_a_file_never_both(tmp_path: Path, server: DeribitTestServer) -> None:
    from addin.fix.errors import FixUsageError
    from addin.fix.run import build_desk

    key = tmp_path / "key.json"
    key.write_text('{"client_id": "desk-key", "client_secret": "s3cret-value"}')
    key.chmod(0o600)
    book = tmp_path / "book.csv"
    book.write_text(f"instrument,quantity\n{HELD},-25\n")
    with pytest.raises(FixUsageError, match="either from the account"):
        build_desk(str(book), f"deribit:{server.url}", None, credentials=str(key))
    with pytest.raises(FixUsageError, match="come with a live --market"):
        build_desk(None, "bundled", None, credentials=str(key))
    server.script.positions = {HELD: -25.0}
    desk = build_desk(None, f"deribit:{server.url}", None, credentials=str(key))
    try:
        assert list(desk.book.names) == [HELD] and float(desk.book.quantity[0]) == -25.0
    finally:
        desk.market.close()
