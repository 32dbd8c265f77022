"""The FIX gateway's market-move scan (``QuoteGateway.cancel_moved``): on each new snapshot every
live quote is re-priced in one batch and those whose mid moved beyond the fill tolerance are
cancelled (35=Z).

Invariants (each with the gateway in this process, its sends captured; no timing):
- the scan cancels exactly the quotes a re-resolution of every live request would (the reference,
  :meth:`pricing.desk.service.Desk.mids`), for any interleaving of quotes, fills, cancels, market
  moves, the clock and restarts (a hypothesis state machine), each request resolved once;
- the re-pricing runs outside the gateway's lock: a QuoteRequest on another thread is never
  held up by the scan (another thread takes the lock while the scan prices);
- a quote closed while the scan priced (here: the kill switch's cancel) is not cancelled again;
- a quote sent before a restart (known only from the journal) is re-priced and cancelled too;
- each cancel holds the lock for its own journal write only (a move that withdraws thousands of
  quotes never makes a QuoteRequest wait behind all of their writes).
"""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")

from addin.fix.client import quote_request  # noqa: E402 - after the skip
from tests.host.fixkit import NAME  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    return sent


def _f(m: Any, tag: int) -> str | None:
    return m.getField(tag) if m.isSetField(tag) else None


def _type(m: Any) -> str:
    return str(m.getHeader().getField(35))


def _gateway(journal: Path, chain: Path) -> Any:
    from addin.fix.desk import Desk, Limits, MarketSource
    from addin.fix.gateway import QuoteGateway
    from addin.fix.journal import Journal
    from pricing.portfolio import empty_portfolio

    desk = Desk(MarketSource(str(chain)), [], empty_portfolio(), Limits())
    app = QuoteGateway(desk, Journal(journal), clock=lambda: desk.market.current().market.as_of)
    app.sessions.append("S")
    return app


def _move(chain: Path, factor: float) -> None:
    """Spot and forwards times ``factor``: a call's mid moves far beyond the 0.5 % tolerance."""
    with SRC.open() as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("underlying_price", "index_price"):
            if r[k]:
                r[k] = str(float(r[k]) * factor)
    with chain.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.utime(chain, ns=(time.time_ns(), time.time_ns() + 10**9))


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    out = tmp_path / "chain.csv"
    out.write_bytes(SRC.read_bytes())
    return out


def _quote(app: Any, captured: list[Any], req_id: str) -> str:
    app.on_quote_request(quote_request(req_id, [{"symbol": NAME, "qty": 1}]), "S")
    assert _type(captured[-1]) == "S"
    return str(_f(captured[-1], 117))


def test_the_scan_prices_outside_the_gateways_lock(tmp_path: Path, chain: Path, captured: list[Any]) -> None:
    app = _gateway(tmp_path / "j.sqlite", chain)
    app.poll()
    quote_id = _quote(app, captured, "R1")
    taken: list[bool] = []
    mids = app.desk.mids_of

    def pricing_with_the_lock_free(quoted: Any) -> Any:
        def other() -> None:  # a QuoteRequest's thread would take the lock here
            ok = app._lock.acquire(timeout=60)
            taken.append(ok)
            if ok:
                app._lock.release()

        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=120)
        return mids(quoted)

    app.desk.mids_of = pricing_with_the_lock_free
    _move(chain, 1.03)
    app.poll()
    assert taken == [True]
    assert _type(captured[-1]) == "Z" and _f(captured[-1], 117) == quote_id


def test_a_quote_closed_while_the_scan_priced_is_not_cancelled_again(tmp_path: Path, chain: Path, captured: list[Any]) -> None:
    app = _gateway(tmp_path / "j.sqlite", chain)
    app.poll()
    quote_id = _quote(app, captured, "R1")
    mids = app.desk.mids_of

    def closing_meanwhile(quoted: Any) -> Any:
        app.cancel_live("kill switch")  # another path closes the quote while the scan prices
        return mids(quoted)

    app.desk.mids_of = closing_meanwhile
    _move(chain, 1.03)
    app.poll()
    zs = [m for m in captured if _type(m) == "Z"]
    assert [_f(z, 117) for z in zs] == [quote_id]  # one cancel, the kill switch's
    _, cancels = app.journal.table("cancels")
    assert [(c[0], c[2]) for c in cancels] == [(quote_id, "kill switch")]


def test_a_quote_from_before_a_restart_is_repriced_from_the_journal(tmp_path: Path, chain: Path, captured: list[Any]) -> None:
    first = _gateway(tmp_path / "j.sqlite", chain)
    first.poll()
    kept = _quote(first, captured, "R1")
    first.journal.close()
    again = _gateway(tmp_path / "j.sqlite", chain)  # a restart: the journal is all it knows
    again.poll()
    assert len(again._legs) == 0 and again._fresh == []  # nothing resolved yet: the journal has it
    _move(chain, 1.03)
    again.poll()
    zs = [m for m in captured if _type(m) == "Z"]
    assert [_f(z, 117) for z in zs] == [kept]


class _RecordingLock:
    """The gateway's lock, logging each outermost hold; journal writes are logged beside."""

    def __init__(self, log: list[str]) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.log = log

    def __enter__(self) -> _RecordingLock:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            self.log.append("hold")
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.log.append("free")
        self._lock.release()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()


def test_a_market_move_journals_its_cancels_a_chunk_per_hold_of_the_lock(
    tmp_path: Path, chain: Path, captured: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A market move that withdraws many quotes: one journal transaction (one disk sync) per chunk of
    at most ``CANCEL_CHUNK`` cancels, one transaction per hold of the lock, so a QuoteRequest waits
    behind one chunk at most; every cancel is journaled before it is sent."""
    import addin.fix.gateway as gateway_module

    monkeypatch.setattr(gateway_module, "CANCEL_CHUNK", 3)
    app = _gateway(tmp_path / "j.sqlite", chain)
    app.poll()
    ids = [_quote(app, captured, f"R{i}") for i in range(4)]
    log: list[str] = []
    app._lock = _RecordingLock(log)
    write = app.journal.record_cancels
    sent_before_written: list[str] = []

    def logged(cancels: list[Any]) -> Any:
        log.append(f"write{len(cancels)}")
        sent = {_f(z, 117) for z in captured if _type(z) == "Z"}
        sent_before_written.extend(c.quote_id for c, _, _ in cancels if c.quote_id in sent)
        return write(cancels)

    app.journal.record_cancels = logged
    _move(chain, 1.03)
    app.poll()
    assert sorted(_f(z, 117) for z in captured if _type(z) == "Z") == sorted(ids)
    assert [e for e in log if e.startswith("write")] == ["write3", "write1"]
    holds = "".join({"hold": "(", "free": ")"}.get(e, "w") for e in log)
    assert all(h.count("w") <= 1 for h in holds.split(")"))  # one transaction per hold
    assert sent_before_written == []
    journaled = {row[0] for row in app.journal.table("cancels")[1]}
    assert journaled == set(ids)


def test_record_cancels_is_one_transaction_answering_each_quote_once(tmp_path: Path) -> None:
    """``Journal.record_cancels``: a quote withdrawn before (or twice in the batch) is False and not
    written again; the others are True and written, all in one commit."""
    from datetime import UTC, datetime

    from addin.fix.journal import Journal
    from pricing.desk.orders import Cancel

    journal = Journal(tmp_path / "j.sqlite")
    at = datetime(2026, 8, 21, 10, tzinfo=UTC)
    assert journal.record_cancel(Cancel("Q1", "first"), at, "Z|Q1")
    got = journal.record_cancels([(Cancel(q, "move"), at, f"Z|{q}") for q in ("Q1", "Q2", "Q3", "Q2")])
    assert got == [False, True, True, False]
    rows = journal.table("cancels")[1]
    assert sorted((r[0], r[2]) for r in rows) == [("Q1", "first"), ("Q2", "move"), ("Q3", "move")]
    assert journal.record_cancels([]) == []
    journal.close()


def test_a_quote_in_flight_during_a_market_move_is_scanned_when_it_is_journaled(
    tmp_path: Path, chain: Path, captured: list[Any]
) -> None:
    """Case kept from an outside review: a QuoteRequest priced on the old snapshot and journaled
    after the move's scan listed the live quotes was never checked (firm until it expired). Now a
    quote journaled on a snapshot older than the last one scanned makes the next poll scan again."""
    app = _gateway(tmp_path / "j.sqlite", chain)
    app.poll()
    quote = app.desk.quote_requests

    def the_market_moves_while_pricing(*args: Any, **kwargs: Any) -> Any:
        answer = quote(*args, **kwargs)  # priced on the snapshot before the move
        _move(chain, 1.03)
        app.poll()  # the move's scan runs now: the quote is not journaled yet, so not seen
        return answer

    app.desk.quote_requests = the_market_moves_while_pricing
    quote_id = _quote(app, captured, "R1")
    app.desk.quote_requests = quote
    assert not [m for m in captured if _type(m) == "Z"]
    app.poll()  # no new snapshot: the rescan the in-flight quote asked for
    assert [_f(m, 117) for m in captured if _type(m) == "Z"] == [quote_id]
    app.poll()
    assert len([m for m in captured if _type(m) == "Z"]) == 1  # one rescan, then quiet


def test_every_message_is_sent_under_the_gateways_lock(tmp_path: Path, chain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Case kept from an outside review: a fill report (35=8) was sent after the lock was released,
    so a market move's QuoteCancel (35=Z, sent under the lock) could reach the client first while
    the journal holds the fill first. Quotes, fill reports and cancels are now sent under the lock,
    so the wire's order is the journal's."""
    app = _gateway(tmp_path / "j.sqlite", chain)
    sent: list[tuple[str, bool]] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append((_type(m), app._lock._is_owned()))))
    app.poll()
    app.on_quote_request(quote_request("R1", [{"symbol": NAME, "qty": 2}]), "S")
    assert sent and sent[-1][0] == "S"
    captured: list[Any] = []

    def record(m: Any, s: Any) -> None:
        captured.append(m)
        sent.append((_type(m), app._lock._is_owned()))

    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(record))
    app.on_quote_request(quote_request("R2", [{"symbol": NAME, "qty": 2}]), "S")
    quote_id = str(_f(captured[-1], 117))
    import quickfix44 as fix44

    order = fix44.NewOrderSingle()
    for f in (fix.ClOrdID("C1"), fix.Side("1"), fix.TransactTime(), fix.OrdType("D"), fix.Symbol(NAME), fix.OrderQty(1.0)):
        order.setField(f)
    order.setField(fix.QuoteID(quote_id))
    app.on_order(order, "S")
    _move(chain, 1.03)
    app.poll()
    kinds = [k for k, _ in sent]
    assert kinds.count("S") == 2 and "8" in kinds and "Z" in kinds
    assert all(owned for _, owned in sent), sent
