"""The kill switch and the acceptor's stop close the desk without a race (an outside audit's
findings, 2026-12-06):

- a QuoteRequest admitted before the kill switch went on, still being priced when it did, sends
  no quote: each entry is checked again under the gateway's lock, the lock the switch is set
  under, so the switch's cancel of every live quote misses none (the audit: 158-319 of a 400-entry
  request stayed firm after the kill, and one filled after the switch went off);
- once the acceptor's stop has begun (``QuoteGateway.begin_stop``, called by
  :class:`addin.fix.run.Serving` before the engine logs the sessions out) every order is refused
  and no quote is sent (the audit: 447 fills journaled, 314 reports received when the stop
  returned — fills decided into closing connections).

The gateway runs in this process with its sends captured; the race's window is held open with
events, never with sleeps.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")

from addin.fix.client import quote_request  # noqa: E402 - after the skip
from tests.host.fixkit import NAME  # noqa: E402
from tests.host.test_fix_market_moves import SRC, _f, _gateway, _type  # noqa: E402


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    return sent


def _order(cl: str, quote_id: str) -> Any:
    import quickfix44 as fix44

    msg = fix44.NewOrderSingle()
    for f in (fix.ClOrdID(cl), fix.Side("1"), fix.TransactTime(), fix.OrdType("D"), fix.Symbol(NAME), fix.OrderQty(1.0)):
        msg.setField(f)
    msg.setField(fix.QuoteID(quote_id))
    return msg


@pytest.mark.parametrize("entries", [1, 5])
def test_a_request_priced_while_the_kill_switch_goes_on_sends_no_quote(tmp_path: Path, captured: list[Any], entries: int) -> None:
    chain = tmp_path / "chain.csv"
    chain.write_bytes(SRC.read_bytes())
    kill = tmp_path / "kill"
    app = _gateway(tmp_path / "j.sqlite", chain)
    app.kill_file = kill
    app.poll()
    priced, go_on = threading.Event(), threading.Event()
    quote = app.desk.quote_requests

    def held(*args: Any, **kwargs: Any) -> Any:
        answer = quote(*args, **kwargs)  # admitted and priced before the switch ...
        priced.set()
        assert go_on.wait(timeout=120)  # ... and sent after it
        return answer

    app.desk.quote_requests = held
    request = quote_request("R1", [{"symbol": NAME, "qty": 1 + i} for i in range(entries)])
    t = threading.Thread(target=app.on_quote_request, args=(request, "S"))
    t.start()
    assert priced.wait(timeout=120)
    kill.touch()
    app.poll()  # the switch goes on and cancels every live quote
    go_on.set()
    t.join(timeout=120)
    assert not t.is_alive()
    kinds = [_type(m) for m in captured]
    assert "S" not in kinds and kinds.count("AG") == entries, kinds
    assert all("kill switch" in str(_f(m, 58)) for m in captured if _type(m) == "AG")
    assert app.orders.live(app.clock()) == []
    _, quotes = app.journal.table("quotes")
    assert quotes and all("refused" in map(str, row) for row in quotes)


def test_nothing_fills_and_nothing_is_quoted_once_the_stop_has_begun(tmp_path: Path, captured: list[Any]) -> None:
    chain = tmp_path / "chain.csv"
    chain.write_bytes(SRC.read_bytes())
    app = _gateway(tmp_path / "j.sqlite", chain)
    app.poll()
    app.on_quote_request(quote_request("R1", [{"symbol": NAME, "qty": 2}]), "S")
    assert _type(captured[-1]) == "S"
    quote_id = str(_f(captured[-1], 117))
    app.begin_stop()
    app.on_order(_order("C1", quote_id), "S")
    report = captured[-1]
    assert _type(report) == "8" and _f(report, 39) == "8", "an order after the stop began is rejected"
    assert "stopping" in str(_f(report, 58))
    app.on_quote_request(quote_request("R2", [{"symbol": NAME, "qty": 1}]), "S")
    assert _type(captured[-1]) == "AG" and "stopping" in str(_f(captured[-1], 58))
    columns, fills = app.journal.table("fills")
    assert [row[columns.index("status")] for row in fills] == ["rejected"]


def test_serving_stop_closes_the_gateway_before_the_engine_logs_out() -> None:
    from addin.fix.run import Serving

    order: list[str] = []

    class Engine:
        def stop(self) -> None:
            order.append("engine stop")

    class App:
        def begin_stop(self) -> None:
            order.append("gateway closed")

    serving = Serving.__new__(Serving)
    serving.app, serving.journal, serving.acceptor = App(), None, Engine()
    serving._owner, serving._stopping = threading.get_ident(), False
    serving.stop()
    assert order == ["gateway closed", "engine stop"]
