"""FIX 4.4 quote gateway on QuickFIX: QuoteRequest → Quote or QuoteRequestReject; NewOrderSingle on a quote → ExecutionReport.

QuickFIX owns the session layer (logon, heartbeats, sequence numbers, resend and gap fill, the
file store, and session-level rejects of garbled messages); this module is the application:

* **QuoteRequest (35=R)**: QuoteReqID (131); per NoRelatedSym (146) entry: Symbol (55, a Deribit
  instrument name, or a strategy name when legs follow), OrderQty (38), Side (54: 1 the client
  buys, 2 sells, absent two-way), and legs NoLegs (555) with LegSymbol (600), LegRatioQty (623),
  LegSide (624: 1 buy, 2 sell, as the client buys the structure). Each entry is one request,
  answered by one **Quote (35=S)** or one **QuoteRequestReject (35=AG)**.
* **Quote**: QuoteReqID, QuoteID (117), Symbol, BidPx (132) / OfferPx (133) all-in in USD per
  unit of the structure (only the side asked for), BidSize (134) / OfferSize (135),
  ValidUntilTime (62), TransactTime (60), and the breakdown in user-defined tags (:data:`UDF`),
  USD totals for the whole quantity. Every quote is journaled before it is sent.
* **QuoteRequestReject**: QuoteRequestRejectReason (658) and Text (58) naming the field:
  unknown instrument (1), expired (4, too late), size outside limits (3), market stale (8, no
  market), anything else the desk refuses (99).
* **NewOrderSingle (35=D)** with OrdType (40) = D (previously quoted) and QuoteID: filled at the
  quoted price while the quote is valid and the structure's mid has not moved beyond the
  tolerance; else an ExecutionReport rejecting it with the reason. A fill joins the book.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import quickfix as fix

from addin.fix.desk import Desk, breakdown, monotonic_ms, now_utc
from addin.fix.journal import Fill, Journal

#: User-defined tags of the Quote: the breakdown, USD totals for the whole quantity.
UDF = {
    "base": 5001,
    "bid_delta_im": 5002,
    "ask_delta_im": 5003,
    "bid_fva_im": 5011,
    "bid_kva": 5012,
    "bid_mva_vm": 5013,
    "bid_ccva": 5014,
    "ask_fva_im": 5021,
    "ask_kva": 5022,
    "ask_mva_vm": 5023,
    "ask_ccva": 5024,
    "spread": 5030,
}
TAG_MARKET, TAG_MODEL = 5040, 5041
#: QuoteRequestRejectReason (658) values of FIX 4.4 used here.
UNKNOWN_SYMBOL, EXCHANGE_CLOSED, EXCEEDS_LIMIT, TOO_LATE, NO_MARKET, OTHER = 1, 2, 3, 4, 8, 99
CLIENT_SIDE = {"1": "buy", "2": "sell"}


def _field(msg: fix.FieldMap, tag: int) -> str | None:
    return msg.getField(tag) if msg.isSetField(tag) else None


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def reject_reason(text: str) -> int:
    """QuoteRequestRejectReason for a desk refusal, from what the refusal is about."""
    low = text.lower()
    if "expired" in low:
        return TOO_LATE
    if "no market data" in low or "underlying" in low or "not a deribit" in low or "instrument" in low or "legs" in low:
        return UNKNOWN_SYMBOL
    if "quantity" in low or "orderqty" in low:
        return EXCEEDS_LIMIT
    return OTHER


class QuoteGateway(fix.Application):  # type: ignore[misc]
    """The QuickFIX application: parses, quotes, journals and answers (see the module docstring)."""

    def __init__(self, desk: Desk, journal: Journal, on_event: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.desk = desk
        self.journal = journal
        self.on_event = on_event or (lambda text: None)
        self.sessions: list[Any] = []

    # -- session callbacks (QuickFIX owns the session) -------------------------------------------

    def onCreate(self, session_id: Any) -> None:
        self.sessions.append(session_id)

    def onLogon(self, session_id: Any) -> None:
        self.on_event(f"logon {session_id}")

    def onLogout(self, session_id: Any) -> None:
        self.on_event(f"logout {session_id}")

    def toAdmin(self, message: Any, session_id: Any) -> None:
        return None

    def fromAdmin(self, message: Any, session_id: Any) -> None:
        return None

    def toApp(self, message: Any, session_id: Any) -> None:
        return None

    def fromApp(self, message: Any, session_id: Any) -> None:
        kind = message.getHeader().getField(fix.MsgType().getTag())
        if kind not in (fix.MsgType_QuoteRequest, fix.MsgType_NewOrderSingle):
            # QuickFIX answers a BusinessMessageReject (35=j) for an application message it was not built for.
            raise fix.UnsupportedMessageType()
        try:
            if kind == fix.MsgType_QuoteRequest:
                self.on_quote_request(message, session_id)
            else:
                self.on_order(message, session_id)
        except Exception as exc:  # the gateway answers every message; it never dies on one
            self.on_event(f"could not handle a {kind} message: {type(exc).__name__}: {exc}")
            self._answer_failure(message, kind, session_id, f"the gateway could not handle this message ({type(exc).__name__})")

    def _answer_failure(self, message: Any, kind: str, session_id: Any, text: str) -> None:
        """An AG (a QuoteRequest) or a rejecting ExecutionReport (an order) when handling failed."""
        if kind == fix.MsgType_QuoteRequest:
            entry = {"symbol": "?"}
            fix.Session.sendToTarget(self._reject(_field(message, 131) or "", entry, OTHER, text), session_id)
        else:
            fill = Fill(_field(message, 11) or "", _field(message, 117) or "", "rejected", text, "?", float("nan"), None, [])
            fix.Session.sendToTarget(self._execution(message, fill), session_id)

    # -- quote requests ----------------------------------------------------------------------------

    def on_quote_request(self, message: Any, session_id: Any) -> None:
        t0 = monotonic_ms()
        received = now_utc()
        req_id = _field(message, 131) or ""
        entries = self._entries(message)
        rows, labels, refused = [], [], []
        for i, e in enumerate(entries):
            labels.append(f"QuoteRequest {req_id}, NoRelatedSym entry {i + 1}")
            rows.append(e["row"])
            refused.append(e["problem"])
        limits = self.desk.limits
        for i, e in enumerate(entries):
            qty = e["row"].get("quantity")
            if refused[i] is None and isinstance(qty, float) and qty > limits.max_quantity:
                refused[i] = f"{labels[i]}, OrderQty (38): {qty:g} is above the limit of {limits.max_quantity:g} contracts"
        batch, table, market_label, market_time = self.desk.quote(
            [r if p is None else None for r, p in zip(rows, refused)], labels
        )
        reasons = [p if p is not None else batch.reasons[i] for i, p in enumerate(refused)]
        stale = limits.max_market_age_s > 0 and self.desk.market_age_s(market_time) > limits.max_market_age_s
        where = {int(r): t for t, r in enumerate(batch.rows.tolist())}
        elapsed = monotonic_ms() - t0
        for i, e in enumerate(entries):
            reason = reasons[i]
            if reason is None and stale:
                age = self.desk.market_age_s(market_time)
                reason = f"{labels[i]}: market stale: its time {market_time:%Y-%m-%d %H:%M:%S}Z is {age:.0f} s old (limit {limits.max_market_age_s:g} s)"
            record = {
                "quote_req_id": req_id,
                "session": str(session_id),
                "received_utc": received.isoformat(),
                "request": e["record"],
                "market": market_label,
                "model": self.desk.model_name,
                "params": self.desk.params_record(),
                "elapsed_ms": elapsed,
            }
            quote_id = uuid.uuid4().hex[:16]
            if reason is not None:
                code = NO_MARKET if "market stale" in reason else reject_reason(reason)
                self.journal.record_quote({**record, "quote_id": quote_id, "status": "refused", "reason": reason})
                fix.Session.sendToTarget(self._reject(req_id, e, code, reason), session_id)
                continue
            figures = breakdown(table, where[i])
            valid_until = now_utc() + timedelta(seconds=limits.quote_validity_s)
            self.journal.record_quote(
                {
                    **record,
                    "quote_id": quote_id,
                    "status": "quoted",
                    "response": figures,
                    "valid_until_utc": valid_until.isoformat(),
                }
            )
            fix.Session.sendToTarget(self._quote(req_id, quote_id, e, figures, valid_until, market_label), session_id)

    def _entries(self, message: Any) -> list[dict[str, Any]]:
        """Each NoRelatedSym entry as a request row, its JSON record and a problem (or None)."""
        out = []
        n = int(_field(message, 146) or 0)
        for i in range(1, n + 1):
            g = fix.Group(146, 55)
            message.getGroup(i, g)
            symbol = _field(g, 55) or ""
            raw_side = _field(g, 54)
            side = CLIENT_SIDE.get(raw_side or "", "two-way")
            problem = None
            if raw_side is not None and raw_side not in CLIENT_SIDE:
                problem = (
                    f"NoRelatedSym entry {i}, Side (54): {raw_side!r}: give 1 (buy) or 2 (sell), or leave it out for two-way"
                )
            raw_qty = _field(g, 38)
            try:
                qty = float(raw_qty) if raw_qty is not None else float("nan")
            except ValueError:
                qty = float("nan")
            if not qty > 0:
                problem = f"NoRelatedSym entry {i}, OrderQty (38): give a quantity > 0 contracts, got {raw_qty!r}"
            legs = []
            for j in range(1, int(_field(g, 555) or 0) + 1):
                leg = fix.Group(555, 600)
                g.getGroup(j, leg)
                name = _field(leg, 600) or ""
                try:
                    ratio = float(_field(leg, 623) or 1.0)
                except ValueError:
                    ratio = float("nan")
                sign = -1.0 if _field(leg, 624) == "2" else 1.0
                legs.append([name, sign * ratio])
            if not legs:
                legs = [[symbol, 1.0]]
            text = ";".join(f"{n}:{r:g}" for n, r in legs)
            out.append(
                {
                    "symbol": symbol,
                    "side": side,
                    "quantity": qty,
                    "row": {"legs": text, "side": side, "quantity": qty},
                    "record": {"symbol": symbol, "legs": legs, "side": side, "quantity": qty},
                    "problem": problem,
                }
            )
        return out

    def _quote(
        self, req_id: str, quote_id: str, entry: dict[str, Any], figures: dict[str, Any], valid_until: datetime, market: str
    ) -> Any:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_Quote))
        msg.setField(fix.QuoteReqID(req_id))
        msg.setField(fix.QuoteID(quote_id))
        msg.setField(fix.Symbol(entry["symbol"]))
        qty = entry["quantity"]
        if figures["bid_price"] is not None:
            msg.setField(fix.BidPx(round(figures["bid_price"] / qty, 8)))
            msg.setField(fix.BidSize(qty))
        if figures["ask_price"] is not None:
            msg.setField(fix.OfferPx(round(figures["ask_price"] / qty, 8)))
            msg.setField(fix.OfferSize(qty))
        msg.setField(fix.StringField(62, _stamp(valid_until)))
        msg.setField(fix.StringField(60, _stamp(now_utc())))
        for key, tag in UDF.items():
            value = figures.get(key)
            if value is not None:
                msg.setField(fix.StringField(tag, f"{value:.6f}"))
        msg.setField(fix.StringField(TAG_MARKET, market[:120]))
        msg.setField(fix.StringField(TAG_MODEL, self.desk.model_name))
        return msg

    def _reject(self, req_id: str, entry: dict[str, Any], code: int, text: str) -> Any:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_QuoteRequestReject))
        msg.setField(fix.QuoteReqID(req_id))
        msg.setField(fix.QuoteRequestRejectReason(code))
        msg.setField(fix.NoRelatedSym(1))
        g = fix.Group(146, 55)
        g.setField(fix.Symbol(entry["symbol"] or "?"))
        msg.addGroup(g)
        msg.setField(fix.Text(text[:300]))
        return msg

    # -- orders on a quote -------------------------------------------------------------------------

    def on_order(self, message: Any, session_id: Any) -> None:
        cl_ord_id = _field(message, 11) or ""
        quote_id = _field(message, 117) or ""
        side = CLIENT_SIDE.get(_field(message, 54) or "", "")
        try:
            qty = float(_field(message, 38) or "nan")
        except ValueError:
            qty = float("nan")
        before = self.journal.fill(cl_ord_id)
        if before is not None:  # a resent order: answer as before, never fill twice
            fix.Session.sendToTarget(self._execution(message, before, duplicate=True), session_id)
            return
        reason, price, legs = self._check_order(message, quote_id, side, qty)
        fill = Fill(cl_ord_id, quote_id, "rejected" if reason else "filled", reason, side or "?", qty, price, legs)
        if self.journal.record_fill(fill, now_utc().isoformat()) and fill.status == "filled":
            self.desk.add_fill(legs)
        fix.Session.sendToTarget(self._execution(message, fill), session_id)

    def _check_order(
        self, message: Any, quote_id: str, side: str, qty: float
    ) -> tuple[str | None, float | None, list[list[Any]]]:
        if _field(message, 40) != "D":
            return "OrdType (40): only D (previously quoted) is accepted, with the QuoteID (117) of a quote", None, []
        quote = self.journal.quote(quote_id)
        if quote is None or quote["status"] != "quoted":
            return f"QuoteID (117): {quote_id!r} is not a quote this gateway gave", None, []
        if side not in ("buy", "sell"):
            return "Side (54): give 1 (buy) or 2 (sell)", None, []
        figures, request = quote["response"], quote["request"]
        price_total = figures["ask_price"] if side == "buy" else figures["bid_price"]
        if price_total is None:
            return f"Side (54): the quote {quote_id} has no {'offer' if side == 'buy' else 'bid'}", None, []
        if not (qty > 0 and qty <= request["quantity"] + 1e-9):
            return f"OrderQty (38): must be > 0 and at most the quoted {request['quantity']:g}", None, []
        valid_until = datetime.fromisoformat(quote["valid_until_utc"])
        if now_utc() > valid_until:
            return f"quote {quote_id} expired at {_stamp(valid_until)} (ValidUntilTime)", None, []
        row = {
            "legs": ";".join(f"{n}:{r:g}" for n, r in request["legs"]),
            "side": request["side"],
            "quantity": request["quantity"],
        }
        mid_now, mid_then = self.desk.mid_now(row), figures["base"]
        tol = self.desk.limits.fill_tolerance
        if abs(mid_now - mid_then) > tol * max(abs(mid_then), 1e-9):
            return (
                f"market moved: the structure's mid is {mid_now:.2f} USD, quoted on {mid_then:.2f} (tolerance {tol:.2%})",
                None,
                [],
            )
        dealer = -1.0 if side == "buy" else 1.0  # the dealer sells what the client buys
        legs = [[name, dealer * qty * ratio] for name, ratio in request["legs"]]
        return None, price_total / request["quantity"], legs

    def _execution(self, order: Any, fill: Fill, duplicate: bool = False) -> Any:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_ExecutionReport))
        filled = fill.status == "filled"
        msg.setField(fix.OrderID(f"O-{fill.cl_ord_id}"))
        msg.setField(fix.ClOrdID(fill.cl_ord_id))
        msg.setField(fix.ExecID(f"E-{fill.cl_ord_id}{'-dup' if duplicate else ''}"))
        msg.setField(fix.ExecType(fix.ExecType_TRADE if filled else fix.ExecType_REJECTED))
        msg.setField(fix.OrdStatus(fix.OrdStatus_FILLED if filled else fix.OrdStatus_REJECTED))
        msg.setField(fix.Symbol(_field(order, 55) or "?"))
        msg.setField(fix.Side(_field(order, 54) or "1"))
        qty = fill.quantity if fill.quantity == fill.quantity else 0.0
        msg.setField(fix.OrderQty(qty))
        msg.setField(fix.LeavesQty(0.0))
        msg.setField(fix.CumQty(qty if filled else 0.0))
        msg.setField(fix.AvgPx(fill.price if filled and fill.price is not None else 0.0))
        if filled and fill.price is not None:
            msg.setField(fix.LastQty(qty))
            msg.setField(fix.LastPx(fill.price))
        else:
            msg.setField(fix.OrdRejReason(fix.OrdRejReason_OTHER))
            msg.setField(fix.Text((fill.reason or "rejected")[:300]))
        msg.setField(fix.StringField(60, _stamp(now_utc())))
        return msg


def describe(journal: Journal) -> str:
    """A short JSON summary of a journal (quotes, refusals, fills)."""
    _, quotes = journal.table("quotes")
    _, fills = journal.table("fills")
    return json.dumps(
        {
            "quotes": sum(1 for q in quotes if q[4] == "quoted"),
            "refused": sum(1 for q in quotes if q[4] == "refused"),
            "fills": sum(1 for f in fills if f[3] == "filled"),
        }
    )
