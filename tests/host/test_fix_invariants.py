"""The automated desk keeps its promises, end to end: ``clearquote fix-acceptor`` over TCP with a real
QuickFIX initiator holding two sessions (CLIENT_A, CLIENT_B), the acceptor in its own process.

Each invariant of :mod:`pricing.desk.orders`, :mod:`pricing.desk.admission`,
:mod:`pricing.desk.limits` and the journal is shown at least once on the wire: a quote fills at
most its size; only its own session fills it, at its price and within the order's limit; a
ClOrdID is per session; only listed options are quoted; per-leg size is bounded; the kill switch
cancels live quotes (35=Z) and refuses; the journal holds what each client was told; and a
``kill -9`` at each step of the order path never fills twice nor fills what was rejected.
Waits are bounded (``WAIT`` seconds per message); the port is picked free on 127.0.0.1.
"""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")
fix44 = pytest.importorskip("quickfix44")

from addin.fix.client import quote_request  # noqa: E402 - after the skip
from addin.fix.run import CLOCK_HOOK, write_settings  # noqa: E402
from tests.host.fixkit import MARKET_TIME, NAME, OTHER, free_port  # noqa: E402

WAIT = 30.0
A, B = "CLIENT_A", "CLIENT_B"


def _f(m: Any, tag: int) -> str | None:
    return m.getField(tag) if m.isSetField(tag) else None


def _type(m: Any) -> str:
    return str(m.getHeader().getField(35))


class Clients(fix.Application):  # type: ignore[misc]
    """Two initiator sessions in one application: an inbox and a logon queue per client."""

    def __init__(self) -> None:
        super().__init__()
        self.sid: dict[str, Any] = {}
        self.inbox: dict[str, queue.Queue[Any]] = {A: queue.Queue(), B: queue.Queue()}
        self.logons: dict[str, queue.Queue[Any]] = {A: queue.Queue(), B: queue.Queue()}

    def _who(self, sid: Any) -> str:
        return A if A in str(sid) else B

    def onCreate(self, sid: Any) -> None:
        self.sid[self._who(sid)] = sid

    def onLogon(self, sid: Any) -> None:
        self.logons[self._who(sid)].put(sid)

    def onLogout(self, sid: Any) -> None:
        return None

    def toAdmin(self, message: Any, sid: Any) -> None:
        return None

    def fromAdmin(self, message: Any, sid: Any) -> None:
        return None

    def toApp(self, message: Any, sid: Any) -> None:
        return None

    def fromApp(self, message: Any, sid: Any) -> None:
        self.inbox[self._who(sid)].put(fix.Message(message))

    def ask(self, who: str, req_id: str, entries: list[dict[str, Any]]) -> list[Any]:
        fix.Session.sendToTarget(quote_request(req_id, entries), self.sid[who])
        return [self.inbox[who].get(timeout=WAIT) for _ in entries]

    def order(self, who: str, cl: str, quote_id: str, side: str, qty: float, price: float | None = None) -> Any:
        fix.Session.sendToTarget(_order(cl, quote_id, side, qty, price), self.sid[who])
        return self.inbox[who].get(timeout=WAIT)


def _order(cl: str, quote_id: str, side: str, qty: float, price: float | None = None, symbol: str = NAME) -> Any:
    msg = fix44.NewOrderSingle()
    for f in (fix.ClOrdID(cl), fix.Side(side), fix.TransactTime(), fix.OrdType("D")):
        msg.setField(f)
    msg.setField(fix.Symbol(symbol))
    msg.setField(fix.OrderQty(qty))
    msg.setField(fix.QuoteID(quote_id))
    if price is not None:
        msg.setField(fix.Price(price))
    return msg


class Acceptor:
    """``clearquote fix-acceptor`` in its own process, restartable on the same store and journal."""

    def __init__(self, tmp: Path, port: int) -> None:
        self.cfg = write_settings(tmp / "acceptor.cfg", "acceptor", port, tmp, clients=(A, B))
        self.journal = tmp / "journal.sqlite"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.lines: list[str] = []

    def start(self, crash_at: str = "") -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "addin.cli", "fix-acceptor", str(self.cfg), "--journal", str(self.journal)]
        cmd += ["--validity", "300"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CLEARQUOTE_FIX_CRASH_AT": crash_at, CLOCK_HOOK: MARKET_TIME}
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        assert p.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = p.stdout.readline().decode()
            self.lines.append(line)
            if "accepting" in line:
                # Drained from here on, so a chatty acceptor never blocks on a full pipe.
                threading.Thread(target=self._drain, args=(p.stdout,), daemon=True).start()
                return p
            if p.poll() is not None and not line:
                break
        raise AssertionError(f"the acceptor did not start: {''.join(self.lines)[-2000:]}")

    def _drain(self, out: Any) -> None:
        self.lines.extend(raw.decode() for raw in out)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


@pytest.fixture()
def desk(tmp_path: Path):
    port = free_port()
    acceptor = Acceptor(tmp_path, port)
    acceptor.start()
    clients = Clients()
    settings = fix.SessionSettings(str(write_settings(tmp_path / "initiator.cfg", "initiator", port, tmp_path, clients=(A, B))))
    initiator = fix.SocketInitiator(clients, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
    initiator.start()
    clients.logons[A].get(timeout=WAIT)
    clients.logons[B].get(timeout=WAIT)
    try:
        yield clients, acceptor
    finally:
        initiator.stop()
        acceptor.stop()


def _journal_fills(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT session, cl_ord_id, quote_id, status, quantity, price, code FROM fills ORDER BY rowid"
        ).fetchall()


def test_every_order_invariant_on_the_wire_for_two_sessions(desk: tuple[Clients, Acceptor]) -> None:
    c, acc = desk
    (qa,) = c.ask(A, "R1", [{"symbol": NAME, "qty": 2}])
    (qb,) = c.ask(B, "R1", [{"symbol": NAME, "qty": 1, "side": "1"}])
    assert _type(qa) == "S" and _type(qb) == "S"
    qa_id, offer, bid = _f(qa, 117), float(_f(qa, 133)), float(_f(qa, 132))
    assert 0 < bid < offer

    # FILLED_WITHIN_OFFERED: 2 offered; 1.5 fills, 1 more is refused (13, incorrect quantity), 0.5 fills.
    f1 = c.order(A, "C1", qa_id, "1", 1.5)
    assert _f(f1, 39) == "2" and float(_f(f1, 31)) == offer
    over = c.order(A, "C2", qa_id, "1", 1.0)
    assert _f(over, 39) == "8" and _f(over, 103) == "13" and "0.5 left" in _f(over, 58)
    assert _f(c.order(A, "C3", qa_id, "1", 0.5), 39) == "2"
    assert _f(c.order(A, "C3b", qa_id, "1", 0.1), 39) == "8"  # nothing left on the offer

    # FILL_IN_QUOTE_SESSION: B cannot fill A's quote; A's ClOrdID from B is B's own new order.
    stolen = c.order(B, "C9", qa_id, "2", 0.1)
    assert _f(stolen, 39) == "8" and "not a quote sent to this session" in _f(stolen, 58)
    reuse = c.order(B, "C1", qa_id, "2", 0.1)
    assert _f(reuse, 39) == "8" and not _f(reuse, 17).endswith("-dup") and _f(reuse, 32) is None

    # FILL_AT_QUOTED_PRICE: a buy limit below our offer is refused naming both; above it fills at the offer.
    (qa2,) = c.ask(A, "R2", [{"symbol": NAME, "qty": 2, "side": "1"}])
    offer2 = float(_f(qa2, 133))
    low = c.order(A, "C4", _f(qa2, 117), "1", 1, price=round(offer2 / 2, 2))
    assert _f(low, 39) == "8" and repr(round(offer2 / 2, 2)) in _f(low, 58) and repr(offer2) in _f(low, 58)
    high = c.order(A, "C5", _f(qa2, 117), "1", 1, price=round(offer2 * 1.5, 2))
    assert _f(high, 39) == "2" and float(_f(high, 31)) == offer2
    sell_high = c.order(A, "C6", qa_id, "2", 0.5, price=round(bid * 2, 2))  # a sell limit above our bid
    assert _f(sell_high, 39) == "8" and "bid" in _f(sell_high, 58)

    # Sizes: OrderQty x LegRatioQty is bounded per leg (658=3 naming the limit).
    (huge,) = c.ask(A, "R3", [{"symbol": "BTC-STRIP", "qty": 1, "legs": [(NAME, 1e6, "1")]}])
    assert _type(huge) == "AG" and _f(huge, 658) == "3" and "max_leg_contracts" in _f(huge, 58)

    # Admission: only what the venue lists, one instrument per Symbol; never a negative or zero price.
    names = ["BTC-25SEP55-65000-C", "BTC-PERPETUAL", "BTC-25SEP26", f"{NAME},{OTHER}", "BTC-25SEP26-65001-C"]
    refused = c.ask(A, "R4", [{"symbol": n, "qty": 1} for n in names])
    assert [_type(m) for m in refused] == ["AG"] * len(names)
    assert {_f(m, 658) for m in refused} == {"1"}
    assert "NoLegs" in _f(refused[3], 58) and "own mark" in _f(refused[1], 58) and "not among" in _f(refused[4], 58)

    # The kill switch: live quotes cancelled to their own sessions (35=Z), requests and orders refused.
    out = subprocess.run(
        [sys.executable, "-m", "addin.cli", "fix-admin", "kill", "--journal", str(acc.journal)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    try:
        za = {_f(c.inbox[A].get(timeout=WAIT), 117) for _ in range(2)}
    except queue.Empty:
        raise AssertionError("".join(acc.lines)[-3000:]) from None
    zb = c.inbox[B].get(timeout=WAIT)
    assert za == {qa_id, _f(qa2, 117)} and _type(zb) == "Z" and _f(zb, 117) == _f(qb, 117)
    (closed,) = c.ask(A, "R5", [{"symbol": NAME, "qty": 1}])
    assert _type(closed) == "AG" and _f(closed, 658) == "2"
    late = c.order(A, "C7", _f(qa2, 117), "1", 0.5)
    assert _f(late, 39) == "8" and "cancelled" in _f(late, 58)
    subprocess.run([sys.executable, "-m", "addin.cli", "fix-admin", "resume", "--journal", str(acc.journal)], timeout=120)
    time.sleep(1.0)
    (again,) = c.ask(A, "R6", [{"symbol": NAME, "qty": 1}])
    assert _type(again) == "S"

    # The journal is what each client was told: the fills above, and nothing else filled.
    fills = _journal_fills(acc.journal)
    filled = [(s.split("->")[1], cl, q) for s, cl, _, st, q, _, _ in fills if st == "filled"]
    assert filled == [(A, "C1", 1.5), (A, "C3", 0.5), (A, "C5", 1.0)]
    assert ("FIX.4.4:CLEARQUOTE->CLIENT_B", "C1") in {(s, cl) for s, cl, *_ in fills}


def _sent_by_quickfix(tmp: Path, cl_ord_id: str) -> bool:
    """Whether the acceptor's QuickFIX logged an ExecutionReport for ``cl_ord_id`` among its messages."""
    tag = b"\x0111=%s\x01" % cl_ord_id.encode()
    logs = (tmp / "acceptor" / "log").glob("*.messages.current.log")
    return any(b"\x0135=8\x01" in line and tag in line for log in logs for line in log.read_bytes().splitlines())


@pytest.mark.parametrize("step", ["before-journal", "after-journal", "after-send"])
def test_kill_9_at_each_step_of_the_order_path(tmp_path: Path, step: str) -> None:
    """SIGKILL before the journal write, after it (before the send), and after the send; restart and resend."""
    port = free_port()
    acc = Acceptor(tmp_path, port)
    acc.start(crash_at=step)
    c = Clients()
    settings = fix.SessionSettings(str(write_settings(tmp_path / "initiator.cfg", "initiator", port, tmp_path, clients=(A, B))))
    initiator = fix.SocketInitiator(c, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
    initiator.start()
    try:
        c.logons[A].get(timeout=WAIT)
        (q,) = c.ask(A, "R1", [{"symbol": NAME, "qty": 1, "side": "1"}])
        fix.Session.sendToTarget(_order("C1", _f(q, 117), "1", 1.0), c.sid[A])
        acc.procs[-1].wait(timeout=WAIT)  # it killed itself at the step
        try:
            before = c.inbox[A].get(timeout=2.0)
        except queue.Empty:
            before = None
        # The step is read from what QuickFIX logged as sent (its FileLog writes each outgoing message before
        # the socket write). A report sent before the crash may still die with the process: the front end that
        # relays it runs in the acceptor's process; the resend after the restart answers it (a -dup), below.
        assert _sent_by_quickfix(tmp_path, "C1") == (step == "after-send")
        assert before is None or step == "after-send"
        acc.start()
        c.logons[A].get(timeout=WAIT)
        after = c.order(A, "C1", _f(q, 117), "1", 1.0)  # the client resends: same ClOrdID
        assert _f(after, 39) == "2" and float(_f(after, 31)) == float(_f(q, 133))
        if before is not None:
            assert _f(before, 39) == "2" and _f(after, 17).endswith("-dup")
        rows = _journal_fills(acc.journal)
        assert [(cl, st) for _, cl, _, st, *_ in rows] == [("C1", "filled")]  # filled once, never rejected then filled
    finally:
        initiator.stop()
        acc.stop()


# -- in-process: the same application object, real QuickFIX messages, sends captured ------------


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    return sent


def _gateway(tmp_path: Path, market: str = "bundled", **risk: float) -> Any:
    from addin.fix.desk import Desk, Limits, MarketSource
    from addin.fix.gateway import QuoteGateway
    from addin.fix.journal import Journal
    from pricing.desk.limits import RiskLimits
    from pricing.portfolio import empty_portfolio

    desk = Desk(MarketSource(market), [], empty_portfolio(), Limits())
    # The bundled market's options expired in real time: admission's clock is the market's.
    return QuoteGateway(
        desk,
        Journal(tmp_path / "j.sqlite"),
        risk=RiskLimits(**risk),
        kill_file=tmp_path / "kill",
        clock=lambda: desk.market.current().market.as_of,
    )


def test_net_delta_after_the_fill_is_a_limit(tmp_path: Path, captured: list[Any]) -> None:
    app = _gateway(tmp_path, max_net_delta_coin=0.5)
    app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": 5, "side": "1"}]), "S")
    q = captured[-1]
    app.on_order(_order("C1", _f(q, 117), "1", 5), "S")
    er = captured[-1]
    assert _f(er, 39) == "8" and _f(er, 103) == "3" and "max_net_delta_coin" in _f(er, 58)
    app.on_order(_order("C2", _f(q, 117), "1", 0.1), "S")  # a small fill keeps the book within it
    assert _f(captured[-1], 39) == "2"


def test_a_market_move_beyond_tolerance_cancels_live_quotes(tmp_path: Path, captured: list[Any]) -> None:
    import csv

    src = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"
    chain = tmp_path / "chain.csv"
    chain.write_bytes(src.read_bytes())
    app = _gateway(tmp_path, market=str(chain))
    app.sessions.append("S")
    app.poll()
    app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": 1}]), "S")
    quote_id = _f(captured[-1], 117)
    app.poll()  # nothing moved: nothing cancelled
    assert _type(captured[-1]) == "S"
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
    app.poll()
    z = captured[-1]
    assert _type(z) == "Z" and _f(z, 117) == quote_id
    app.on_order(_order("C1", quote_id, "1", 1), "S")
    assert _f(captured[-1], 39) == "8" and "cancelled" in _f(captured[-1], 58)
    _, cancels = app.journal.table("cancels")
    assert [c[0] for c in cancels] == [quote_id] and "market moved" in cancels[0][2]


def test_an_order_cancel_request_is_answered(tmp_path: Path, captured: list[Any]) -> None:
    app = _gateway(tmp_path)
    msg = fix44.OrderCancelRequest()
    for f in (fix.OrigClOrdID("C1"), fix.ClOrdID("X1"), fix.Side("1"), fix.TransactTime(), fix.Symbol(NAME), fix.OrderQty(1)):
        msg.setField(f)
    app.fromApp(msg, "S")
    assert _type(captured[-1]) == "9" and "nothing rests" in _f(captured[-1], 58)


def test_an_order_on_another_instrument_than_its_quote_is_refused_and_reports_carry_the_quotes_symbol(
    tmp_path: Path, captured: list[Any]
) -> None:
    """The reviewer's case: a BTC quote's QuoteID with 55=ETH-... was filled and reported as ETH at the BTC price."""
    app = _gateway(tmp_path)
    app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": 2, "side": "1"}]), "S")
    q = captured[-1]
    eth = "ETH-25SEP26-3000-C"
    app.on_order(_order("C1", _f(q, 117), "1", 1, symbol=eth), "S")
    er = captured[-1]
    assert _f(er, 39) == "8" and _f(er, 103) == "99" and eth in _f(er, 58) and NAME in _f(er, 58)
    assert _f(er, 55) == NAME  # the report names the quote's instrument, not the order's text
    app.on_order(_order("C2", _f(q, 117), "1", 1, symbol=OTHER), "S")  # another BTC option: refused too
    assert _f(captured[-1], 39) == "8" and OTHER in _f(captured[-1], 58)
    app.on_order(_order("C3", _f(q, 117), "1", 1), "S")
    assert _f(captured[-1], 39) == "2" and _f(captured[-1], 55) == NAME
    app.on_order(_order("C1", _f(q, 117), "1", 1, symbol=eth), "S")  # resent: its first answer, never a fill
    assert _f(captured[-1], 39) == "8" and _f(captured[-1], 17).endswith("-dup") and _f(captured[-1], 55) == NAME


def test_an_option_expired_by_the_wall_clock_is_not_quoted_however_old_the_market(tmp_path: Path, captured: list[Any]) -> None:
    """The reviewer's case: the bundled market is months old and --max-market-age is off; admission checked
    expiry against the market's time only. By the real clock its 25SEP26 options have expired."""
    from datetime import UTC, datetime, timedelta

    from addin.fix.desk import now_utc
    from addin.fix.gateway import QuoteGateway

    assert QuoteGateway.__init__.__defaults__[-1] is now_utc  # type: ignore[index]  # the default is the real clock
    app = _gateway(tmp_path)
    as_of = app.desk.market.current().market.as_of
    expiry = datetime(2026, 9, 25, 8, tzinfo=UTC)
    for now, quoted in ((as_of, True), (expiry - timedelta(seconds=5), False), (expiry + timedelta(days=70), False)):
        app.clock = lambda now=now: now  # validity 10 s: firm until now + 10 s, after the expiry in the last two
        app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": 1}]), "S")
        m = captured[-1]
        assert (_type(m) == "S") == quoted, (now, _f(m, 58))
        if not quoted:
            assert _f(m, 658) == "4" and "expired in real time" in _f(m, 58)
    app.clock = lambda: expiry + timedelta(days=70)
    app.on_quote_request(quote_request("R", [{"symbol": "BTC-STRUCT", "qty": 1, "legs": [("BTC-25JUN27-66000-C", 1, "1")]}]), "S")
    assert _type(captured[-1]) == "S", _f(captured[-1], 58)  # still live by both clocks: quoted


def test_one_instrument_in_twenty_legs_is_refused_on_the_wire(tmp_path: Path, captured: list[Any]) -> None:
    """The reviewer's case as a QuoteRequest: NoLegs with the same LegSymbol 20 times (ratio 1, OrderQty 1,000)."""
    app = _gateway(tmp_path)
    app.on_quote_request(quote_request("R", [{"symbol": "BTC-STRIP", "qty": 1000, "legs": [(NAME, 1, "1")] * 20}]), "S")
    m = captured[-1]
    assert _type(m) == "AG" and _f(m, 658) == "99" and "repeats LegSymbol (600)" in _f(m, 58) and NAME in _f(m, 58)
    assert app.orders.quotes == {}  # nothing quoted, so nothing can fill


# -- the gateway as a state machine: bounded memory, the same answers, the same market-move cancels --


class _Switch:
    """A market source whose snapshot the machine chooses (the desk reads ``current()``)."""

    def __init__(self, snapshots: list[Any]) -> None:
        self.snapshots = snapshots
        self.at = 0
        self.source = self

    def current(self) -> Any:
        return self.snapshots[self.at]

    def close(self) -> None:
        return None


_SNAPSHOTS: list[Any] = []


def _snapshots(tmp: Path) -> list[Any]:
    """The bundled market; it an hour, a day and three days later (theta, and the nearest expiries
    passing: their quotes cannot be valued); and a BTC chain with spot and forwards up 3 % (no ETH)."""
    import csv
    import dataclasses
    from datetime import timedelta

    from pricing.desk import open_market

    if _SNAPSHOTS:
        return _SNAPSHOTS
    base = open_market("bundled").current()
    out = [base]
    for i, later in enumerate((timedelta(hours=1), timedelta(days=1), timedelta(days=3))):
        market = dataclasses.replace(base.market, as_of=base.market.as_of + later)
        out.append(dataclasses.replace(base, market=market, snapshot_id=f"{i + 1:016x}"))
    src = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"
    with src.open() as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("underlying_price", "index_price"):
            if r[k]:
                r[k] = str(float(r[k]) * 1.03)
    up = tmp / "btc_up.csv"
    with up.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out.append(open_market(str(up)).current())
    _SNAPSHOTS.extend(out)
    return out


#: What the machine quotes: near and far BTC and ETH expiries of the bundled chain.
_NAMES = (
    NAME,
    OTHER,
    "BTC-22AUG26-65000-C",
    "BTC-22AUG26-60000-P",
    "BTC-28AUG26-66000-C",
    "ETH-25SEP26-3000-C",
    "ETH-22AUG26-2600-P",
)


class GatewayMachine(RuleBasedStateMachine):
    """One in-process gateway (real QuickFIX messages, sends captured) with a retention of 2 s, a
    clock the machine moves (steps far past the retention) and markets it switches between.

    Checked at every step: each order's answer is what a book that forgets nothing, replayed from
    the journal, decides (a forgotten quote refused for the same reason, a resent ClOrdID its first
    answer, never a second fill, never another session's quote); each market move cancels exactly
    the live quotes whose mid a re-resolution of every live request (:meth:`pricing.desk.service.Desk.mids`,
    the scan before this change) finds moved beyond the tolerance; the gateway's order book and scan
    hold no more than the retention allows; a restart changes none of it.
    """

    RETENTION_S = 2.0

    @initialize()
    def start(self) -> None:
        from datetime import UTC, datetime

        import addin.fix.gateway as gateway_module

        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.switch = _Switch(_snapshots(self.dir))
        self.now = datetime(2026, 12, 6, 12, tzinfo=UTC)
        self.sent: list[tuple[str, Any]] = []
        self._patches = [
            (gateway_module, "now_utc", gateway_module.now_utc),
            (fix.Session, "sendToTarget", fix.Session.__dict__["sendToTarget"]),
        ]
        gateway_module.now_utc = lambda: self.now  # type: ignore[attr-defined]
        fix.Session.sendToTarget = staticmethod(lambda m, s: self.sent.append((str(s), fix.Message(m))))
        self.first: dict[tuple[str, str], tuple[str | None, ...]] = {}
        self.quotes: list[tuple[str, str]] = []  # (QuoteID, Symbol) of every Quote sent
        self.n = 0
        self.app = self._gateway()
        self.app.poll()  # the first poll takes the market's key: a scan needs a change of it

    def _gateway(self) -> Any:
        from addin.fix.desk import Desk, Limits
        from addin.fix.gateway import QuoteGateway
        from addin.fix.journal import Journal
        from pricing.portfolio import empty_portfolio

        desk = Desk(self.switch, [], empty_portfolio(), Limits())  # type: ignore[arg-type]
        app = QuoteGateway(
            desk,
            Journal(self.dir / "j.sqlite"),
            clock=lambda: self.switch.current().market.as_of,
            retention_s=self.RETENTION_S,
        )
        app.sessions.extend(["A", "B"])
        return app

    def teardown(self) -> None:
        self.app.journal.close()
        for owner, name, value in self._patches:
            setattr(owner, name, value)
        self.tmp.cleanup()

    def _shadow(self) -> Any:
        """A book that forgets nothing, replayed from the journal (the reference)."""
        from pricing.desk.orders import OrderBook

        events, _ = self.app.journal.events()
        return OrderBook.replay(e for e, _ in events)

    @rule(
        session=st.sampled_from(["A", "B"]),
        legs=st.lists(st.sampled_from(_NAMES), min_size=1, max_size=2, unique=True),
        side=st.sampled_from([None, "1", "2"]),
        qty=st.sampled_from([1, 2]),
    )
    def quote(self, session: str, legs: list[str], side: str | None, qty: int) -> None:
        self.n += 1
        entry: dict[str, Any] = {"symbol": legs[0], "qty": qty, "side": side}
        if len(legs) > 1:
            entry = {**entry, "symbol": "STRUCT", "legs": [(n, 1, "1") for n in legs]}
        before = len(self.sent)
        self.app.fromApp(quote_request(f"R{self.n}", [entry]), session)  # as QuickFIX calls it
        (got,) = self.sent[before:]
        if _type(got[1]) == "S":
            self.quotes.append((str(_f(got[1], 117)), str(_f(got[1], 55))))

    @precondition(lambda self: bool(self.quotes))
    @rule(
        pick=st.integers(0, 10**6),
        session=st.sampled_from(["A", "B"]),
        cl=st.sampled_from([f"C{i}" for i in range(8)]),
        side=st.sampled_from(["1", "2"]),
        qty=st.sampled_from([0.5, 1.0, 3.0]),
    )
    def order(self, pick: int, session: str, cl: str, side: str, qty: float) -> None:
        from pricing.desk.orders import Order

        quote_id, symbol = self.quotes[pick % len(self.quotes)]
        order = Order(session, cl, quote_id, {"1": "buy", "2": "sell"}[side], qty, symbol=symbol)
        ref = self._shadow().decide(order, self.now)
        before = len(self.sent)
        self.app.fromApp(_order(cl, quote_id, side, qty, symbol=symbol), session)
        (got,) = [m for _, m in self.sent[before:] if _type(m) == "8"]
        fields = (_f(got, 39), _f(got, 31), _f(got, 103), _f(got, 58))
        key = (session, cl)
        if ref.duplicate:
            assert key in self.first and _f(got, 17).endswith("-dup"), (key, fields)
            assert fields == self.first[key], "a resent ClOrdID got another answer"
            return
        assert key not in self.first
        self.first[key] = fields
        if ref.refusal is not None:  # the book's own refusal, word for word, forgotten quote or not
            assert fields[0] == "8" and fields[3] == ref.refusal.text[:300], (ref.refusal.text, fields)
        elif fields[0] == "2":
            assert float(fields[1]) == ref.price
        else:  # a gateway check refused the would-be fill (the market moved, a limit)
            assert fields[2] in ("3", "99"), fields

    @rule(to=st.integers(0, 4))
    def market_moves(self, to: int) -> None:
        if to == self.switch.at:
            to = (to + 1) % len(self.switch.snapshots)
        self.switch.at = to
        self._scan_and_compare(self.app.poll)

    @rule()
    def rescan(self) -> None:
        """A scan on the same market (as after a quote in flight): nothing moved since the last one, or
        the same reference answer."""
        self._scan_and_compare(self.app.cancel_moved)

    def _scan_and_compare(self, scan: Any) -> None:
        import numpy as np

        from addin.fix.gateway import _request

        shadow = self._shadow()
        live = shadow.live(self.now)
        records = [self.app.journal.quote(q.quote_id) for q in live]
        then = np.array([float(r["response"]["base"]) for r in records])
        now = self.app.desk.service.mids([_request(r["request"]) for r in records])
        tol = self.app.desk.limits.fill_tolerance
        rel = np.abs(now - then) / (tol * np.maximum(np.abs(then), 1e-9))
        expected = {q.quote_id for q, r in zip(live, rel) if not r <= 1.0}
        unsure = {q.quote_id for q, r in zip(live, rel) if abs(r - 1.0) < 1e-9}  # on the boundary: either
        before = len(self.sent)
        scan()
        cancelled = {str(_f(m, 117)) for _, m in self.sent[before:] if _type(m) == "Z"}
        assert cancelled - unsure == expected - unsure, "the scan cancelled other quotes than the re-resolution would"

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 30.0]))
    def time_passes(self, seconds: float) -> None:
        from datetime import timedelta

        from addin.fix.gateway import LEGS_SLACK

        self.now += timedelta(seconds=seconds)
        self.app.poll()  # the acceptor's loop: the book forgets what is due, the scan's legs follow it
        legs = len(self.app._legs) + sum(len(f) for f in self.app._fresh)
        assert legs <= 2 * len(self.app.orders.quotes) + LEGS_SLACK

    @rule()
    def restart(self) -> None:
        held = set(self.app.orders.quotes)
        self.app.journal.close()
        self.app = self._gateway()
        self.app.poll()
        assert set(self.app.orders.quotes) == held, "a restart holds other quotes"

    @invariant()
    def memory_is_bounded_by_the_retention(self) -> None:
        from datetime import timedelta

        book = self.app.orders
        if book._forgot_at is None:
            return
        keep = timedelta(seconds=self.RETENTION_S)
        assert all(q.valid_until + keep >= book._forgot_at for q in book.quotes.values())
        assert all(d.at + keep >= book._forgot_at or d.order.quote_id in book.quotes for d in book.answers.values())
        assert {q.quote_id for q in book.live(self.now)} <= set(book.quotes)


GatewayMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestGatewayMachine = GatewayMachine.TestCase
