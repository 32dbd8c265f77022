"""A QuickFIX initiator application that records what it receives: the client side of a session,
for smoke tests, the loopback benchmark and the gateway's own tests."""

from __future__ import annotations

import queue
import time
from typing import Any

import quickfix as fix


class RecordingClient(fix.Application):  # type: ignore[misc]
    """Puts each application message received (with its arrival time) on ``inbox`` and each logon on ``logged_on``."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: queue.Queue[tuple[float, Any]] = queue.Queue()
        self.logged_on: queue.Queue[Any] = queue.Queue()
        self.session: Any = None

    def onCreate(self, sid: Any) -> None:
        self.session = sid

    def onLogon(self, sid: Any) -> None:
        self.logged_on.put(sid)

    def onLogout(self, sid: Any) -> None:
        return None

    def toAdmin(self, message: Any, sid: Any) -> None:
        return None

    def fromAdmin(self, message: Any, sid: Any) -> None:
        return None

    def toApp(self, message: Any, sid: Any) -> None:
        return None

    def fromApp(self, message: Any, sid: Any) -> None:
        self.inbox.put((time.perf_counter(), fix.Message(message)))

    def send(self, message: Any, timeout: float) -> tuple[float, Any]:
        """Send ``message`` on the session; (seconds until the next message arrived, that message)."""
        t0 = time.perf_counter()
        fix.Session.sendToTarget(message, self.session)
        arrived, reply = self.inbox.get(timeout=timeout)
        return arrived - t0, reply


def quote_request(req_id: str, entries: list[dict[str, Any]]) -> Any:
    """A FIX 4.4 QuoteRequest: entries of symbol, qty, optional side ("1"/"2") and legs [(name, ratio, side)]."""
    import quickfix44 as fix44

    msg = fix44.QuoteRequest()
    msg.setField(fix.QuoteReqID(req_id))
    for e in entries:
        g = fix44.QuoteRequest.NoRelatedSym()
        g.setField(fix.Symbol(e["symbol"]))
        g.setField(fix.OrderQty(e["qty"]))
        if e.get("side"):
            g.setField(fix.Side(e["side"]))
        for name, ratio, side in e.get("legs", []):
            leg = fix44.QuoteRequest.NoRelatedSym.NoLegs()
            leg.setField(fix.LegSymbol(name))
            leg.setField(fix.LegRatioQty(ratio))
            leg.setField(fix.LegSide(side))
            g.addGroup(leg)
        msg.addGroup(g)
    return msg
