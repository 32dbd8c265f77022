"""The FIX 4.4 quote gateway on QuickFIX, driven by a QuickFIX initiator over 127.0.0.1.

The acceptor runs as ``clearquote fix-acceptor`` in its own process (so it can be killed with
SIGKILL and restarted); the test process is the client, a QuickFIX ``SocketInitiator``. Every
wait is bounded (a few seconds per message) and the loopback port is picked free. The
refusal reasons are also checked in-process, without sockets (the QuickFIX messages are real;
only ``Session.sendToTarget`` is captured).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")
fix44 = pytest.importorskip("quickfix44")

from addin.fix.client import RecordingClient, quote_request  # noqa: E402 - after the skip
from addin.fix.run import CLOCK_HOOK, write_settings  # noqa: E402
from tests.host.fixkit import MARKET_TIME, NAME, OTHER, free_port  # noqa: E402

WAIT = 20.0


class Client(RecordingClient):
    """Takes each answer by what it answers (QuoteReqID 131, ClOrdID 11), not by arrival order.

    After a kill -9 the acceptor may not have stored the number of the last message it received
    (QuickFIX stores it after the application has answered): on logon it asks for that message
    again, the client's engine resends it (PossDup), and the acceptor answers it again from its
    journal (ExecID ``-dup``). That answer arrives before the answer to the next order (CI: the
    replayed C2's rejection was taken for C1's). Answers to something else are kept in ``aside``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.aside: list[Any] = []

    def _answer(self, answers: Callable[[Any], bool]) -> Any:
        for m in self.aside:
            if answers(m):
                self.aside.remove(m)
                return m
        deadline = time.monotonic() + WAIT
        while (left := deadline - time.monotonic()) > 0:
            try:
                m = self.inbox.get(timeout=left)[1]
            except queue.Empty:
                break
            if answers(m):
                return m
            self.aside.append(m)
        raise AssertionError(f"no answer within {WAIT} s; other messages: {[str(m) for m in self.aside]}")

    def ask(self, req_id: str, entries: list[dict[str, Any]]) -> list[Any]:
        fix.Session.sendToTarget(quote_request(req_id, entries), self.session)
        return [self._answer(lambda m: _f(m, 131) == req_id) for _ in entries]

    def order(self, cl_ord_id: str, quote_id: str, side: str, qty: float) -> Any:
        fix.Session.sendToTarget(_order(quote_id, side, qty, cl=cl_ord_id), self.session)
        return self._answer(lambda m: _type(m) == "8" and _f(m, 11) == cl_ord_id)


def _f(m: Any, tag: int) -> str | None:
    return m.getField(tag) if m.isSetField(tag) else None


def _type(m: Any) -> str:
    return m.getHeader().getField(35)


@pytest.fixture()
def gateway(tmp_path: Path):
    port = free_port()
    acc_cfg = write_settings(tmp_path / "acceptor.cfg", "acceptor", port, tmp_path)
    ini_cfg = write_settings(tmp_path / "initiator.cfg", "initiator", port, tmp_path)
    journal = tmp_path / "journal.sqlite"
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "addin.cli", "fix-acceptor", str(acc_cfg), "--journal", str(journal), "--validity", "3"]
        p = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", CLOCK_HOOK: MARKET_TIME},
        )
        procs.append(p)
        deadline = time.monotonic() + 120
        assert p.stdout is not None
        while time.monotonic() < deadline:
            line = p.stdout.readline().decode()
            if "accepting" in line:
                return p
            if p.poll() is not None:
                break
        raise AssertionError(f"the acceptor did not start: {line!r}")

    start()
    client = Client()
    settings = fix.SessionSettings(str(ini_cfg))
    initiator = fix.SocketInitiator(client, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
    initiator.start()
    client.logged_on.get(timeout=WAIT)
    try:
        yield client, start, procs, journal
    finally:
        initiator.stop()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_quotes_refusals_fills_and_a_kill_9_restart(gateway) -> None:
    client, start, procs, journal = gateway
    # Two-way, one-sided, and a call spread in one QuoteRequest: one Quote per entry.
    q2, q1, qs = client.ask(
        "R1",
        [
            {"symbol": NAME, "qty": 10},
            {"symbol": NAME, "qty": 5, "side": "1"},
            {"symbol": "BTC-CALLSPREAD", "qty": 3, "legs": [(NAME, 1, "1"), (OTHER, 1, "2")]},
        ],
    )
    assert [_type(m) for m in (q2, q1, qs)] == ["S", "S", "S"]
    bid, ask = float(_f(q2, 132)), float(_f(q2, 133))
    base = float(_f(q2, 5001)) / 10
    assert 0 < bid < base < ask and _f(q2, 62) and _f(q2, 60)
    assert _f(q1, 133) is not None and _f(q1, 132) is None  # the client buys: the dealer's offer only
    assert float(_f(qs, 133)) > 0 and _f(qs, 5003) is not None
    # A fill within validity, at the quoted offer: sent at once, so the 3 s validity has to cover
    # one round trip only, not the refusals' round trip too (a margin on a loaded 2-core machine).
    quote_id = _f(q1, 117)
    fill = client.order("C1", quote_id, "1", 5)
    assert _type(fill) == "8" and _f(fill, 39) == "2" and float(_f(fill, 31)) == pytest.approx(float(_f(q1, 133)))
    # Refusals: an AG with a reason code and a text naming the field, never silence.
    unknown, expired, big = client.ask(
        "R2",
        [{"symbol": "BTC-XX-1-C", "qty": 1}, {"symbol": "BTC-1JAN20-50000-C", "qty": 1}, {"symbol": NAME, "qty": 5000}],
    )
    assert [_type(m) for m in (unknown, expired, big)] == ["AG", "AG", "AG"]
    assert (_f(unknown, 658), _f(expired, 658), _f(big, 658)) == ("1", "4", "3")
    assert "expired" in _f(expired, 58) and "OrderQty (38)" in _f(big, 58)
    # After validity: a rejection with the reason.
    time.sleep(3.2)
    late = client.order("C2", _f(q2, 117), "2", 10)
    assert _f(late, 39) == "8" and "expired" in _f(late, 58)
    # kill -9 mid-session, restart on the same store and journal: the client logs on again, a
    # replayed order is answered from the journal (filled once), and the book keeps the fill.
    procs[-1].send_signal(signal.SIGKILL)
    procs[-1].wait(timeout=10)
    start()
    client.logged_on.get(timeout=WAIT)
    again = client.order("C1", quote_id, "1", 5)
    assert _f(again, 39) == "2" and _f(again, 17).endswith("-dup")
    # Whatever the restart replayed (C2, if the kill came before its number was stored) was
    # answered from the journal as before: a duplicate, never decided again.
    assert all(_type(m) == "8" and _f(m, 17).endswith("-dup") for m in client.aside), [str(m) for m in client.aside]
    (after,) = client.ask("R3", [{"symbol": NAME, "qty": 5, "side": "2"}])
    assert _type(after) == "S" and _f(after, 132) is not None and _f(after, 133) is None
    # The restarted book holds the fill (the dealer is short 5): buying 5 back now frees margin,
    # where before the fill (an empty book) buying 5 added it.
    assert float(_f(q1, 5002)) > 0 > float(_f(after, 5002))
    out = subprocess.run(
        [sys.executable, "-m", "addin.cli", "fix-log", "--journal", str(journal), "--table", "fills"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "C1" in out.stdout and "C2" in out.stdout and "expired" in out.stdout
    import sqlite3

    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT status, COUNT(*) FROM fills GROUP BY status ORDER BY status").fetchall() == [
            ("filled", 1),
            ("rejected", 1),
        ]
        assert db.execute("SELECT COUNT(*) FROM quotes WHERE status = 'refused'").fetchone() == (3,)


# -- in-process: the same application object, real QuickFIX messages, sends captured ------------


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    return sent


def _app(tmp_path: Path, market: str = "bundled", **limits: Any) -> Any:
    from addin.fix.desk import Desk, Limits, MarketSource
    from addin.fix.gateway import QuoteGateway
    from addin.fix.journal import Journal
    from pricing.portfolio import empty_portfolio

    desk = Desk(MarketSource(market), [], empty_portfolio(), Limits(**limits))
    # The bundled market's options expired in real time: admission's clock is the market's.
    return QuoteGateway(desk, Journal(tmp_path / "j.sqlite"), clock=lambda: desk.market.current().market.as_of)


def _request(symbol: str, qty: float, side: str | None = None) -> Any:
    return quote_request("R", [{"symbol": symbol, "qty": qty, "side": side}])


def _order(quote_id: str, side: str = "1", qty: float = 1, ord_type: str = "D", cl: str = "C") -> Any:
    msg = fix44.NewOrderSingle()
    for f in (fix.ClOrdID(cl), fix.Side(side), fix.TransactTime(), fix.OrdType(ord_type)):
        msg.setField(f)
    msg.setField(fix.Symbol(NAME))
    msg.setField(fix.OrderQty(qty))
    msg.setField(fix.QuoteID(quote_id))
    return msg


def test_a_stale_market_is_refused_with_reason_8(tmp_path: Path, captured: list[Any]) -> None:
    app = _app(tmp_path, max_market_age_s=60.0)  # the bundled market is months old
    app.on_quote_request(_request(NAME, 1), "S")
    (ag,) = captured
    assert _type(ag) == "AG" and _f(ag, 658) == "8" and "market stale" in _f(ag, 58)


def test_orders_that_cannot_fill_are_rejected_with_the_reason(tmp_path: Path, captured: list[Any]) -> None:
    app = _app(tmp_path)
    app.on_quote_request(_request(NAME, 2, "2"), "S")  # the client sells: a bid only
    quote_id = _f(captured[-1], 117)
    cases = [
        (_order("nope", cl="A"), "QuoteID (117)"),
        (_order(quote_id, ord_type="2", cl="B"), "OrdType (40)"),
        (_order(quote_id, side="1", cl="C"), "no offer"),
        (_order(quote_id, side="2", qty=3, cl="D"), "OrderQty (38)"),
    ]
    for order, why in cases:
        app.on_order(order, "S")
        er = captured[-1]
        assert _type(er) == "8" and _f(er, 39) == "8" and why in _f(er, 58), (why, _f(er, 58))
    app.on_order(_order(quote_id, side="2", qty=2, cl="E"), "S")
    assert _f(captured[-1], 39) == "2"


def test_a_fill_is_refused_when_the_market_moved_beyond_the_tolerance(tmp_path: Path, captured: list[Any]) -> None:
    import csv

    src = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"
    chain = tmp_path / "chain.csv"
    chain.write_bytes(src.read_bytes())
    app = _app(tmp_path, market=str(chain), fill_tolerance=0.005)
    app.on_quote_request(_request(NAME, 1, "1"), "S")
    quote_id = _f(captured[-1], 117)
    with src.open() as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:  # spot up 3%: the call's mid moves far beyond 0.5%
        for k in ("underlying_price", "index_price"):
            if r[k]:
                r[k] = str(float(r[k]) * 1.03)
    with chain.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.utime(chain, ns=(time.time_ns(), time.time_ns() + 10**9))
    app.on_order(_order(quote_id), "S")
    er = captured[-1]
    assert _f(er, 39) == "8" and "market moved" in _f(er, 58)


def test_the_journal_exports_to_xlsx_atomically(tmp_path: Path, captured: list[Any]) -> None:
    import openpyxl

    from addin.cli import main

    app = _app(tmp_path)
    app.on_quote_request(_request(NAME, 1), "S")
    app.on_quote_request(_request("=HYPERLINK(1)", 1), "S")
    app.journal.close()
    out = tmp_path / "audit.xlsx"
    assert main(["fix-log", "--journal", str(tmp_path / "j.sqlite"), "-o", str(out)]) == 0
    wb = openpyxl.load_workbook(out)
    quotes = list(wb["quotes"].values)
    assert quotes[0][0] == "quote_id" and len(quotes) == 3 and {q[4] for q in quotes[1:]} == {"quoted", "refused"}
    assert not any(isinstance(v, str) and v.startswith("=") for row in quotes for v in row)
    assert main(["fix-log", "--journal", str(tmp_path / "missing.sqlite")]) == 2


def test_a_bad_side_and_an_unexpected_failure_still_get_an_answer(tmp_path: Path, captured: list[Any]) -> None:
    app = _app(tmp_path)
    app.on_quote_request(_request(NAME, 1, "5"), "S")  # 5 = sell short: not a quote side here
    assert _type(captured[-1]) == "AG" and "Side (54)" in _f(captured[-1], 58)

    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk full")

    app.desk.quote_requests = boom
    msg = _request(NAME, 1)
    msg.getHeader().setField(fix.MsgType(fix.MsgType_QuoteRequest))
    app.fromApp(msg, "S")
    assert _type(captured[-1]) == "AG" and _f(captured[-1], 658) == "99" and "RuntimeError" in _f(captured[-1], 58)
