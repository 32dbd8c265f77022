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

import dataclasses
import json
import math
import os
import re
import signal
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import quickfix as fix

from addin.fix.desk import Desk, monotonic_ms, now_utc
from addin.fix.journal import Journal
from pricing.desk import Leg, Quote, RfqRequest
from pricing.desk.fills import fill_label
from pricing.desk.limits import RiskLimits, check_fill, check_request, check_trade
from pricing.desk.orders import Cancel, Decision, Order, OrderBook, Quarantined, QuoteTerms
from pricing.desk.quoted import QuotedLegs, moved
from pricing.desk.refusals import Refusal, RefusalCode
from pricing.errors import PricingInputError
from pricing.xva.rfq import contract_of

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
CLIENT_SIDE = {"1": "buy", "2": "sell"}
#: Cancels journaled in one transaction and sent under one hold of the gateway's lock: the most a
#: QuoteRequest or an order waits behind when a market move withdraws many quotes.
CANCEL_CHUNK = 256
#: Seconds the order book keeps a quote after its ValidUntilTime (and an answer after its time):
#: its memory is O(quotes of the last validity + this), never O(quotes since the start). What it
#: forgot the journal answers (the same answers: docs/fix-invariants.md, "Memory"); this only
#: decides which late orders and resent ClOrdIDs cost a journal read instead of a dict lookup.
#: 10 s, the default quote validity: the book then holds about twice the live quotes.
ORDER_RETENTION_S = 10.0
#: The scan's resolved legs may hold this many quotes beyond twice the order book's before they are pruned.
LEGS_SLACK = 16
#: Test hook for crash consistency: ``before-journal``, ``after-journal`` or ``after-send`` makes
#: the acceptor SIGKILL itself at that step of the order path (tests/host/test_fix_invariants.py).
CRASH_AT = os.environ.get("CLEARQUOTE_FIX_CRASH_AT", "")


def _field(msg: fix.FieldMap, tag: int) -> str | None:
    return msg.getField(tag) if msg.isSetField(tag) else None


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def _text(msg: Any) -> str:
    """A message as the journal keeps it: its FIX text with ``|`` for the SOH separator."""
    return str(msg.toString()).replace("\x01", "|")


def _crash(step: str) -> None:
    if CRASH_AT == step:
        os.kill(os.getpid(), signal.SIGKILL)


class QuoteGateway(fix.Application):  # type: ignore[misc]
    """The QuickFIX application: parses, quotes, journals and answers (see the module docstring).

    On construction it replays its journal: the order book (quotes, answers, cancels) and the
    desk's book (every fill's legs) are as they were when the journal was last written.
    """

    def __init__(
        self,
        desk: Desk,
        journal: Journal,
        on_event: Callable[[str], None] | None = None,
        risk: RiskLimits | None = None,
        kill_file: str | Path | None = None,
        clock: Callable[[], datetime] = now_utc,
        *,
        retention_s: float = ORDER_RETENTION_S,
    ) -> None:
        super().__init__()
        self.desk = desk
        #: The wall clock admission checks expiry against (with the quote's validity); tests set it.
        self.clock = clock
        self.journal = journal
        self.on_event = on_event or (lambda text: None)
        if risk is not None:  # one set of limits: the desk's refusal and the gateway's checks read the same
            desk.use_risk(risk)
        self.kill_file = Path(kill_file) if kill_file else None
        self.killed = False
        #: Set by :meth:`begin_stop`: no fill and no quote once the acceptor's stop has begun.
        self.stopping = False
        self.sessions: list[Any] = []
        self._lock = threading.RLock()
        self._notional: dict[str, float] = {}
        self._market_key: Any = None
        #: Set when a quote priced on an older snapshot than the last one scanned is journaled: the
        #: next poll scans again, so no quote outlives a market move because it was in flight.
        self._rescan = False
        #: The live quotes' structures, resolved once when priced: the market-move scan's input
        #: (:class:`pricing.desk.quoted.QuotedLegs`; pruned to the live quotes at each scan, so
        #: bounded by them). ``_fresh``: quotes sent since the last scan (taken under the lock);
        #: ``_legs`` is the scan's own (under ``_scan_lock``).
        self._fresh: list[QuotedLegs] = []
        self._legs = QuotedLegs.empty()
        self._scan_lock = threading.Lock()
        events, self.quarantined = journal.events()
        for why in self.quarantined:
            self.on_event(f"journal row quarantined (table quarantine): {why}")
        for e, _ in events:
            if isinstance(e, Quarantined):
                self.on_event(
                    f"quarantined answer {e.session}/{e.cl_ord_id}: the ClOrdID is answered as refused (never refilled)"
                    f" and quote {e.quote_id} is closed as fully filled"
                )
        # Bounded: the book forgets what ended more than the retention ago; the journal answers for it.
        self.orders = OrderBook.replay(
            (e for e, _ in events), retention=timedelta(seconds=retention_s), archive=journal, now=now_utc()
        )
        for e, legs in events:
            if isinstance(e, Decision) and e.filled:
                self.desk.add_fill(legs, label=fill_label(e.order.session, e.order.cl_ord_id, e.order.quote_id))
                self._count(e.order.session, legs)

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
        handlers = {
            fix.MsgType_QuoteRequest: self.on_quote_request,
            fix.MsgType_NewOrderSingle: self.on_order,
            fix.MsgType_OrderCancelRequest: self.on_cancel_request,
        }
        if kind not in handlers:
            # QuickFIX answers a BusinessMessageReject (35=j) for an application message it was not built for.
            raise fix.UnsupportedMessageType()
        try:
            handlers[kind](message, session_id)
        except Exception as exc:  # the gateway answers every message; it never dies on one
            self.on_event(f"could not handle a {kind} message: {type(exc).__name__}: {exc}")
            self._answer_failure(message, kind, session_id, f"the gateway could not handle this message ({type(exc).__name__})")

    def _answer_failure(self, message: Any, kind: str, session_id: Any, text: str) -> None:
        """An AG (a QuoteRequest) or a rejecting ExecutionReport (an order) when handling failed.

        An order's failure is journaled as the refusal sent, unless the journal already holds an
        answer for it: then that answer is what the client is told.
        """
        refusal = Refusal(RefusalCode.OTHER, text)
        if kind == fix.MsgType_QuoteRequest:
            fix.Session.sendToTarget(self._reject(_field(message, 131) or "", {"symbol": "?"}, refusal), session_id)
        elif kind == fix.MsgType_NewOrderSingle:
            session = str(session_id)
            cl = _field(message, 11) or ""
            before = self.journal.answer(session, cl)
            if before is not None:
                fix.Session.sendToTarget(self._execution(message, before.decision, duplicate=True), session_id)
                return
            order = Order(session, cl, _field(message, 117) or "", CLIENT_SIDE.get(_field(message, 54) or "", "?"), 0.0)
            d = Decision(order, now_utc(), None, refusal)
            msg = self._execution(message, d)
            if self.journal.record_decision(d, [], _text(msg)):
                self.orders.apply_decision(d)
            fix.Session.sendToTarget(msg, session_id)

    # -- the kill switch, stopping and market moves ---------------------------------------------

    def _closed(self, what: str) -> Refusal | None:
        """Why the desk takes no quote or fill now (the kill switch, or the acceptor stopping), if so."""
        if self.stopping:
            return Refusal(RefusalCode.KILL_SWITCH, f"the acceptor is stopping: {what}")
        if self.killed:
            return Refusal(RefusalCode.KILL_SWITCH, f"the desk's kill switch is on: {what}")
        return None

    def begin_stop(self) -> None:
        """The acceptor is stopping: from now on every order is refused and no quote is sent.

        Called before the engine logs the sessions out (:class:`addin.fix.run.Serving`): an order
        arriving while the Logout is under way is answered with a refusal, never filled into a
        connection that is closing (the client would hold a fill it was never told of).
        """
        with self._lock:
            self.stopping = True

    def poll(self) -> None:
        """Called by the acceptor's loop: the kill file, and live quotes the market moved away from."""
        if self.kill_file is not None:
            killed = self.kill_file.exists()
            if killed and not self.killed:
                self.on_event(f"kill switch on ({self.kill_file}): quoting stopped, live quotes cancelled")
                with self._lock:  # every quote journaled after this sees it (:meth:`_closed`)
                    self.killed = True
                self.cancel_live("kill switch")
            elif self.killed and not killed:
                self.on_event("kill switch off: quoting again")
                self.killed = False
        key = self.desk.market_key()
        with self._lock:
            self.orders.forget(now_utc())  # the order book's memory stays bounded (ORDER_RETENTION_S)
            # The key is taken before the scan prices: a quote journaled from now on, priced on an
            # older snapshot, asks for a scan of its own (:meth:`_journal_quote`).
            scan = (key != self._market_key and self._market_key is not None) or self._rescan
            self._market_key, self._rescan = key, False
        if scan:
            self.cancel_moved()
        else:
            self._prune_legs()

    def _prune_legs(self) -> None:
        """Drop the scan's legs of quotes the order book no longer holds, once they are over twice its
        quotes (amortised: a market that does not move never scans, and the legs would grow)."""
        with self._lock:
            if len(self._legs) + sum(len(f) for f in self._fresh) <= 2 * len(self.orders.quotes) + LEGS_SLACK:
                return
            fresh, self._fresh = self._fresh, []
            held = set(self.orders.quotes)
        with self._scan_lock:
            self._legs = self._legs.plus(fresh).keep(held)

    def cancel_live(self, reason: str, which: Callable[[QuoteTerms], bool] = lambda q: True) -> list[str]:
        """Withdraw live quotes (QuoteCancel 35=Z to each quote's session), journaled before sent.

        The messages are built outside the gateway's lock; then, a chunk of at most
        :data:`CANCEL_CHUNK` quotes at a time under the lock, each quote is checked live again
        there, the chunk's cancels are journaled in one transaction (one disk sync, not one per
        quote) and only then applied and sent. A QuoteRequest or an order waits behind one chunk
        at most, never behind a whole market move (which can withdraw thousands at once).
        """
        with self._lock:
            chosen = [q for q in self.orders.live(now_utc()) if which(q)]
        built = []
        for q in chosen:
            symbol = q.symbol
            if symbol is None:  # a quote from a journal written before the Symbol was kept
                quote = self.journal.quote(q.quote_id)
                symbol = str((quote or {}).get("request", {}).get("symbol", "?"))
            built.append((q, _quote_cancel(q, symbol)))
        done = []
        for start in range(0, len(built), CANCEL_CHUNK):
            with self._lock:
                now = now_utc()
                # filled, cancelled or expired meanwhile: left alone
                still = [(q, msg) for q, msg in built[start : start + CANCEL_CHUNK] if self.orders.is_live(q.quote_id, now)]
                written = self.journal.record_cancels([(Cancel(q.quote_id, reason), now, _text(msg)) for q, msg in still])
                for (q, msg), fresh in zip(still, written):
                    if not fresh:
                        continue
                    self.orders.apply_cancel(Cancel(q.quote_id, reason))
                    session = next((s for s in self.sessions if str(s) == q.session), None)
                    if session is not None:
                        fix.Session.sendToTarget(msg, session)
                    done.append(q.quote_id)
        return done

    def cancel_moved(self) -> list[str]:
        """Withdraw the live quotes whose structure's mid moved beyond the fill tolerance.

        Each quote's request was resolved once, when it was priced (its legs are kept in
        :class:`pricing.desk.quoted.QuotedLegs`); the scan revalues those legs on the new market in
        one batch (:meth:`Desk.mids_of`) outside the gateway's lock and outside the desk service's
        (a QuoteRequest does not wait for that batch); the cancels then take the lock a chunk at a
        time (:meth:`cancel_live`), each quote checked live again there (one filled or cancelled
        meanwhile is left alone). A quote sent before a restart is resolved from the journal at its
        first scan, once.
        """
        tol = self.desk.limits.fill_tolerance
        with self._lock:
            live = dict.fromkeys(q.quote_id for q in self.orders.live(now_utc()))
            fresh, self._fresh = self._fresh, []
        with self._scan_lock:
            held = self._legs.plus(fresh).keep(live)
            known = set(held.ids)
            unpriced: list[str] = []
            missing = [k for k in live if k not in known]
            if missing:  # quoted before a restart: the journal has them
                ids, then, requests = [], [], []
                for quote_id in missing:
                    quote = self.journal.quote(quote_id)
                    if quote is None:
                        unpriced.append(quote_id)
                        continue
                    ids.append(quote_id)
                    then.append(float(quote["response"]["base"]))
                    requests.append(_request(quote["request"]))
                loaded, unresolved = self.desk.resolve_quoted(ids, then, requests)
                unpriced += unresolved
                held = held.plus([loaded])
            self._legs = held
            now = self.desk.mids_of(held)
            gone = moved(held.then, now, tol)
            away = set(unpriced) | {held.ids[i] for i in np.flatnonzero(gone)}
        return self.cancel_live(f"market moved beyond the tolerance {tol:.2%}", lambda q: q.quote_id in away)

    @property
    def risk(self) -> RiskLimits:
        """The desk's size and risk limits (``DeskConfig.risk``, one home)."""
        return self.desk.risk

    # -- quote requests ----------------------------------------------------------------------------

    def on_quote_request(self, message: Any, session_id: Any) -> None:
        t0 = monotonic_ms()
        received = now_utc()
        req_id = _field(message, 131) or ""
        entries = self._entries(message)
        labels = [f"QuoteRequest {req_id}, NoRelatedSym entry {i + 1}" for i in range(len(entries))]
        # One snapshot for the gateway's own checks and the desk's admission and quote.
        snap = self.desk.market.current()
        requests: list[RfqRequest | Refusal] = []
        for e, label in zip(entries, labels):
            e["request"] = _named(e["request"], label)
            requests.append(self._admit(e, snap.market) or e["request"])
        firm_until = self.clock() + timedelta(seconds=self.desk.limits.quote_validity_s)
        answer = self.desk.quote_requests(requests, snapshot=snap, firm_until=firm_until)
        market_label = f"{answer.snapshot.source} snapshot {answer.snapshot_id}"
        if answer.margin_snapshot is not None and answer.margin_snapshot_id != answer.snapshot_id:
            # The margin from an older snapshot within the desk's bound (pricing.desk.lag): named too.
            market_label += f", margin on {answer.margin_snapshot.source} snapshot {answer.margin_snapshot_id}"
        elapsed = monotonic_ms() - t0
        for i, e in enumerate(entries):
            result = answer.result(i)
            refusal = result if isinstance(result, Refusal) else None
            figures = result.figures() if isinstance(result, Quote) else {}
            qty = e["quantity"]
            wire = (wire_price(figures.get("bid_price"), qty, "bid"), wire_price(figures.get("ask_price"), qty, "ask"))
            e["wire"] = wire  # the decimals sent, exactly (a float written by QuickFIX keeps 15 digits only)
            bid_px, offer_px = (None if w is None else float(w) for w in wire)
            if refusal is None:
                refusal = self._trade_limits(figures) or _zero_on_the_wire(bid_px, offer_px, figures, qty)
            record = {
                "quote_req_id": req_id,
                "session": str(session_id),
                "received_utc": received.isoformat(),
                "request": e["record"],
                "market": market_label,
                "model": self.desk.model_name,
                "params": self.desk.params_record(),
                "elapsed_ms": elapsed,
                "quote_id": uuid.uuid4().hex[:16],
            }
            if refusal is not None:
                self._refuse_entry(req_id, e, record, refusal, labels[i], session_id)
                continue
            valid_until = now_utc() + timedelta(seconds=self.desk.limits.quote_validity_s)
            terms = QuoteTerms(
                record["quote_id"],
                str(session_id),
                req_id,
                bid_px,
                offer_px,
                qty,
                valid_until,
                e["symbol"],
                tuple(name for name, _ in e["legs"]),
            )
            msg = self._quote(terms, e, figures, market_label)
            # Resolved once, here: the market-move scan revalues these legs, never the request again.
            trade = int(np.searchsorted(answer.batch.rows, i))
            legs = QuotedLegs.one(terms.quote_id, float(figures["base"]), answer.batch.trades, trade)
            with self._lock:
                # Checked again here, under the lock the kill switch is set under: a request admitted
                # before the switch went on is refused entry by entry from then on, so the cancel of
                # every live quote that follows the switch misses none (no quote firm after the kill).
                late = self._closed("no quotes")
                if late is not None:
                    self._refuse_entry(req_id, e, record, late, labels[i], session_id)
                    continue
                self.journal.record_quote(
                    {
                        **record,
                        "status": "quoted",
                        "response": {**figures, "bid_px": bid_px, "offer_px": offer_px},
                        "valid_until_utc": valid_until.isoformat(),
                    },
                    _text(msg),
                )
                self.orders.apply_quote(terms)
                self._fresh.append(legs)
                if self._market_key is not None and answer.snapshot_id != self._market_key:
                    self._rescan = True
                # Sent under the lock: a market move's QuoteCancel (sent under it too) can never
                # reach the client before the Quote it withdraws.
                fix.Session.sendToTarget(msg, session_id)

    def _refuse_entry(
        self, req_id: str, entry: dict[str, Any], record: dict[str, Any], refusal: Refusal, label: str, session_id: Any
    ) -> None:
        """One entry of a QuoteRequest refused: journaled, then a QuoteRequestReject (35=AG) naming the entry."""
        if not refusal.text.startswith(label):
            refusal = Refusal(refusal.code, f"{label}: {refusal.text}")
        msg = self._reject(req_id, entry, refusal)
        self.journal.record_quote({**record, "status": "refused", "reason": refusal.text, "code": refusal.code.value}, _text(msg))
        fix.Session.sendToTarget(msg, session_id)

    def _admit(self, entry: dict[str, Any], market: Any) -> Refusal | None:
        """The entry's own problem and the gateway's per-request risk limits (the instruments'
        admission is the desk's, in :meth:`pricing.desk.Desk.quote`, on the same snapshot)."""
        closed = self._closed("no quotes")
        if closed is not None:
            return closed
        if entry["problem"] is not None:
            return Refusal(entry["problem"].code, f"{entry['request'].ref}, {entry['problem'].text}")
        for (name, _), raw in zip(entry["legs"], entry["ratios"]):
            if not (math.isfinite(raw) and raw > 0):
                return Refusal(RefusalCode.BAD_REQUEST, f"leg {name[:60]!r}, LegRatioQty (623): must be a number > 0")
        spot: dict[str, float] = {}
        for name, _ in entry["legs"]:
            try:
                underlying = contract_of(name, "inverse").underlying
            except PricingInputError:
                return None  # not an instrument name: the desk's admission refuses it with its code
            if underlying not in market.chains:
                return None  # nor an underlying of the market: likewise
            spot[name] = market.spot(underlying)
        return check_request(self.risk, entry["quantity"], entry["legs"], spot)

    def _trade_limits(self, figures: dict[str, Any]) -> Refusal | None:
        """ΔIM of the side(s) quoted (the book's net delta and vega are checked when an order fills,
        against the book as it is then: :meth:`_net_after`)."""
        sides = [s for s in ("bid", "ask") if figures[f"{s}_price"] is not None]
        worst = max(abs(figures[f"{s}_delta_im"] or 0.0) for s in sides)
        return check_trade(self.risk, worst, {}, {})

    def _net_after(self, legs: list[list[Any]]) -> Refusal | None:
        """The book's net delta and vega per underlying after a fill of ``legs`` (what the dealer will hold)."""
        from pricing.portfolio import from_contracts

        market = self.desk.market.current().market
        part = from_contracts([contract_of(str(n), "inverse") for n, _ in legs], [float(q) for _, q in legs])
        book_delta, book_vega = self.desk.book_greeks()
        trade_delta, trade_vega = self.desk.greeks(part, market)
        after_d = {u: book_delta.get(u, 0.0) + d for u, d in trade_delta.items()}
        after_v = {u: book_vega.get(u, 0.0) + v for u, v in trade_vega.items()}
        return check_trade(self.risk, 0.0, after_d, after_v)

    def _entries(self, message: Any) -> list[dict[str, Any]]:
        """Each NoRelatedSym entry as a typed request (legs and LegRatioQty exact), its JSON record and a problem (or None)."""
        out = []
        n = int(_field(message, 146) or 0)
        for i in range(1, n + 1):
            g = fix.Group(146, 55)
            message.getGroup(i, g)
            symbol = _field(g, 55) or ""
            raw_side = _field(g, 54)
            side = CLIENT_SIDE.get(raw_side or "", "two-way")
            # The entry's first problem, typed; its text names the field (the entry's label is put before it once).
            problem: Refusal | None = None
            if raw_side is not None and raw_side not in CLIENT_SIDE:
                text = f"Side (54): {raw_side!r}: give 1 (buy) or 2 (sell), or leave it out for two-way"
                problem = Refusal(RefusalCode.BAD_REQUEST, text)
            raw_qty = _field(g, 38)
            qty = _number(raw_qty)
            if problem is None and not (math.isfinite(qty) and qty > 0):  # 1e400 reads as inf: no size either
                text = f"OrderQty (38): give a quantity > 0 contracts, got {raw_qty!r}"
                problem = Refusal(RefusalCode.BAD_QUANTITY, text)
            if problem is None and round(qty, 8) == 0.0:  # the Quote's sizes go out at 8 decimals, like its prices
                text = f"OrderQty (38): {qty:g} contracts is 0 at the 8 decimals a Quote's size is sent with"
                problem = Refusal(RefusalCode.BAD_QUANTITY, text)
            legs, ratios = [], []
            for j in range(1, int(_field(g, 555) or 0) + 1):
                leg = fix.Group(555, 600)
                g.getGroup(j, leg)
                name = _field(leg, 600) or ""
                try:
                    ratio = float(_field(leg, 623) or 1.0)
                except ValueError:
                    ratio = float("nan")
                raw_leg_side = _field(leg, 624)
                if problem is None and raw_leg_side not in (None, "1", "2"):
                    text = f"leg {j}, LegSide (624): {raw_leg_side[:20]!r}: give 1 (buy) or 2 (sell), or leave it out for buy"
                    problem = Refusal(RefusalCode.BAD_REQUEST, text)
                sign = -1.0 if raw_leg_side == "2" else 1.0
                legs.append((name, sign * ratio))
                ratios.append(ratio)
            has_legs = bool(legs)
            if not has_legs:
                legs, ratios = [(symbol, 1.0)], [1.0]
            request = RfqRequest(tuple(Leg(n, r) for n, r in legs), side, qty, ref=f"NoRelatedSym entry {i}")
            legs = [(leg.instrument, r) for leg, (_, r) in zip(request.legs, legs)]  # canonical names, one home: Leg
            out.append(
                {
                    "symbol": symbol,
                    "side": side,
                    "quantity": qty,
                    # Typed, ratios exact: no text round trip between the FIX fields and the desk.
                    "request": request,
                    "record": {"symbol": symbol, "legs": [list(x) for x in legs], "side": side, "quantity": qty},
                    "problem": problem,
                    "legs": legs,
                    "ratios": ratios,
                    "has_legs": has_legs,
                }
            )
        return out

    def _quote(self, terms: QuoteTerms, entry: dict[str, Any], figures: dict[str, Any], market: str) -> Any:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_Quote))
        msg.setField(fix.QuoteReqID(terms.quote_req_id))
        msg.setField(fix.QuoteID(terms.quote_id))
        msg.setField(fix.Symbol(entry["symbol"]))
        if terms.bid_px is not None:
            msg.setField(fix.StringField(132, f"{entry['wire'][0]:f}"))
            msg.setField(fix.BidSize(terms.size))
        if terms.offer_px is not None:
            msg.setField(fix.StringField(133, f"{entry['wire'][1]:f}"))
            msg.setField(fix.OfferSize(terms.size))
        msg.setField(fix.StringField(62, _stamp(terms.valid_until)))
        msg.setField(fix.StringField(60, _stamp(now_utc())))
        for key, tag in UDF.items():
            value = figures.get(key)
            if value is not None:
                msg.setField(fix.StringField(tag, f"{value:.6f}"))
        msg.setField(fix.StringField(TAG_MARKET, market[:120]))
        msg.setField(fix.StringField(TAG_MODEL, self.desk.model_name))
        return msg

    def _reject(self, req_id: str, entry: dict[str, Any], refusal: Refusal) -> Any:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_QuoteRequestReject))
        msg.setField(fix.QuoteReqID(req_id))
        msg.setField(fix.QuoteRequestRejectReason(refusal.code.quote_reject))
        msg.setField(fix.NoRelatedSym(1))
        g = fix.Group(146, 55)
        g.setField(fix.Symbol((entry["symbol"] or "?")[:60]))
        msg.addGroup(g)
        msg.setField(fix.Text(refusal.text[:300]))
        return msg

    # -- orders on a quote -------------------------------------------------------------------------

    def on_order(self, message: Any, session_id: Any) -> None:
        """Decide, journal (decision and message in one transaction), apply, send; in that order."""
        session = str(session_id)
        # Validated before anything is journaled: a size that is not a number > 0 is a typed refusal
        # (103=13), and the journal records 0 contracts for it (the column holds a number, never NaN).
        raw_qty = _field(message, 38)
        qty = _number(raw_qty)
        bad_qty = None
        if not (math.isfinite(qty) and qty > 0):
            bad_qty = Refusal(RefusalCode.BAD_QUANTITY, f"OrderQty (38): give a number > 0 contracts, got {raw_qty!r}")
            qty = 0.0
        raw_px = _field(message, 44)
        limit = _number(raw_px) if raw_px is not None else None
        raw_side = _field(message, 54) or ""
        order = Order(
            session,
            _field(message, 11) or "",
            _field(message, 117) or "",
            CLIENT_SIDE.get(raw_side, raw_side),
            qty,
            limit,
            _field(message, 55),
            _order_legs(message),
        )
        with self._lock:
            d = self.orders.decide(order, now_utc())
            if d.duplicate:  # a resent order: answered as before, never filled twice
                fix.Session.sendToTarget(self._execution(message, d, duplicate=True), session_id)
                return
            if bad_qty is not None and (d.refusal is None or d.refusal.code is RefusalCode.BAD_QUANTITY):
                d = OrderBook.refuse(d, bad_qty)  # the raw OrderQty named, not the 0 journaled for it
            d, legs = self._final(message, d)
            msg = self._execution(message, d)
            _crash("before-journal")
            if not self.journal.record_decision(d, legs, _text(msg)):
                raise RuntimeError(f"ClOrdID {order.cl_ord_id}: journaled by another thread")
            _crash("after-journal")
            if d.filled:
                try:
                    self.desk.add_fill(legs, label=fill_label(order.session, order.cl_ord_id, order.quote_id))
                except Exception as exc:  # the client is told what the journal holds: the refusal
                    d = OrderBook.refuse(
                        d, Refusal(RefusalCode.OTHER, f"the fill could not join the book ({type(exc).__name__})")
                    )
                    msg = self._execution(message, d)
                    self.journal.amend_refused(d, _text(msg))
                    legs = []
            self.orders.apply_decision(d)
            if d.filled:
                self._count(session, legs)
            # Sent under the lock, as cancels are: the wire's order is the journal's (never a
            # QuoteCancel before the fill report of an order decided while the quote was firm).
            fix.Session.sendToTarget(msg, session_id)
        _crash("after-send")

    def _final(self, message: Any, d: Decision) -> tuple[Decision, list[list[Any]]]:
        """The book's decision, refused if the order type, the kill switch, the market or a limit says so; and its legs."""
        if _field(message, 40) != "D":
            text = "OrdType (40): only D (previously quoted) is accepted, with the QuoteID (117) of a quote"
            return OrderBook.refuse(d, Refusal(RefusalCode.BAD_REQUEST, text)), []
        if not d.filled:
            return d, []
        closed = self._closed("no fills")
        if closed is not None:
            return OrderBook.refuse(d, closed), []
        quote = self.journal.quote(d.order.quote_id)
        assert quote is not None  # the book holds only journaled quotes
        request = quote["request"]
        mid_now, mid_then = self.desk.mid_now(_request(request)), quote["response"]["base"]
        tol = self.desk.limits.fill_tolerance
        if not abs(mid_now - mid_then) <= tol * max(abs(mid_then), 1e-9):
            return OrderBook.refuse(
                d,
                Refusal(
                    RefusalCode.MARKET_MOVED,
                    f"market moved: the structure's mid is {mid_now:.2f} USD, quoted on {mid_then:.2f} (tolerance {tol:.2%})",
                ),
            ), []
        dealer = -1.0 if d.order.side == "buy" else 1.0  # the dealer sells what the client buys
        legs = [[name, dealer * d.order.quantity * ratio] for name, ratio in request["legs"]]
        notional = self._notional_of(legs)
        why = check_fill(self.risk, self._notional.get(d.order.session, 0.0), sum(self._notional.values()), notional)
        if why is None:
            why = self._net_after(legs)
        if why is not None:
            return OrderBook.refuse(d, why), []
        self.desk.check_fill(legs)  # a leg the book cannot hold fails here, before anything is journaled
        return d, legs

    def _notional_of(self, legs: list[list[Any]]) -> float:
        market = self.desk.market.current().market
        return float(sum(abs(float(q)) * market.spot(contract_of(str(n), "inverse").underlying) for n, q in legs))

    def _count(self, session: str, legs: list[list[Any]]) -> None:
        self._notional[session] = self._notional.get(session, 0.0) + self._notional_of(legs)

    def on_cancel_request(self, message: Any, session_id: Any) -> None:
        """OrderCancelRequest (35=F): orders on quotes fill or are rejected at once, so nothing rests to
        cancel; answered by an OrderCancelReject (35=9) saying so (CxlRejReason 1, unknown order)."""
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_OrderCancelReject))
        msg.setField(fix.OrderID("NONE"))
        msg.setField(fix.ClOrdID(_field(message, 11) or "?"))
        msg.setField(fix.OrigClOrdID(_field(message, 41) or "?"))
        msg.setField(fix.OrdStatus(fix.OrdStatus_REJECTED))
        msg.setField(fix.CxlRejResponseTo(fix.CxlRejResponseTo_ORDER_CANCEL_REQUEST))
        msg.setField(fix.CxlRejReason(fix.CxlRejReason_UNKNOWN_ORDER))
        msg.setField(fix.Text("orders on a quote are filled or rejected at once: nothing rests to cancel"))
        fix.Session.sendToTarget(msg, session_id)

    def _execution(self, order: Any, d: Decision, duplicate: bool = False) -> Any:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType(fix.MsgType_ExecutionReport))
        cl = d.order.cl_ord_id
        msg.setField(fix.OrderID(f"O-{cl}"))
        msg.setField(fix.ClOrdID(cl))
        msg.setField(fix.ExecID(f"E-{cl}{'-dup' if duplicate else ''}"))
        msg.setField(fix.ExecType(fix.ExecType_TRADE if d.filled else fix.ExecType_REJECTED))
        msg.setField(fix.OrdStatus(fix.OrdStatus_FILLED if d.filled else fix.OrdStatus_REJECTED))
        # The instrument traded is the quote's: the report carries its Symbol, never the order's text.
        q = self.orders.terms(d.order.quote_id)  # held, or (forgotten) from the journal: the same report
        symbol = q.symbol if q is not None and q.session == d.order.session and q.symbol else _field(order, 55)
        msg.setField(fix.Symbol((symbol or "?")[:60]))
        msg.setField(fix.Side(_field(order, 54) if _field(order, 54) in CLIENT_SIDE else "1"))
        qty = d.order.quantity if math.isfinite(d.order.quantity) else 0.0
        msg.setField(fix.OrderQty(qty))
        msg.setField(fix.LeavesQty(0.0))
        msg.setField(fix.CumQty(qty if d.filled else 0.0))
        msg.setField(fix.AvgPx(d.price if d.price is not None else 0.0))
        if d.price is not None:
            msg.setField(fix.LastQty(qty))
            msg.setField(fix.LastPx(d.price))
        elif d.refusal is not None:
            msg.setField(fix.OrdRejReason(d.refusal.code.order_reject))
            msg.setField(fix.Text(d.refusal.text[:300]))
        msg.setField(fix.StringField(60, _stamp(d.at)))
        return msg


def _quote_cancel(q: QuoteTerms, symbol: str) -> Any:
    """QuoteCancel (35=Z) of one quote: FIX 4.4 has no "cancel by QuoteID" type (5 came with FIX 5.0),
    so it is QuoteCancelType 1 (for the securities listed) with the QuoteID and the quote's Symbol."""
    msg = fix.Message()
    msg.getHeader().setField(fix.MsgType(fix.MsgType_QuoteCancel))
    msg.setField(fix.QuoteReqID(q.quote_req_id))
    msg.setField(fix.QuoteID(q.quote_id))
    msg.setField(fix.QuoteCancelType(fix.QuoteCancelType_CANCEL_FOR_ONE_OR_MORE_SECURITIES))
    g = fix.Group(295, 55)
    g.setField(fix.Symbol(symbol[:60] or "?"))
    msg.addGroup(g)
    return msg


def _order_legs(message: Any) -> tuple[str, ...] | None:
    """The LegSymbols (600) of an order's NoLegs (555), if it sends any."""
    n = int(_field(message, 555) or 0)
    if n <= 0:
        return None
    legs = []
    for j in range(1, n + 1):
        leg = fix.Group(555, 600)
        message.getGroup(j, leg)
        legs.append(_field(leg, 600) or "")
    return tuple(legs)


def _request(record: dict[str, Any]) -> RfqRequest:
    """A journaled request (legs as [name, signed ratio], ratios exact in JSON) as the desk's typed request."""
    legs = tuple(Leg(str(n), float(r)) for n, r in record["legs"])
    return RfqRequest(legs, str(record["side"]), float(record["quantity"]), ref="fill check")


def _named(request: RfqRequest, ref: str) -> RfqRequest:
    """The request named as the gateway names it in a refusal (``QuoteRequest Q1, NoRelatedSym entry 2``)."""
    return dataclasses.replace(request, ref=ref)


#: Decimals of a price on the wire (BidPx (132), OfferPx (133)): one tick is 1e-8.
WIRE_DECIMALS = 8
_TICK = Decimal(1).scaleb(-WIRE_DECIMALS)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def wire_price(total: float | None, qty: float, side: str) -> Decimal | None:
    """A side's price per unit as sent: the bid rounded down and the offer up to :data:`WIRE_DECIMALS`.

    Rounding is always outward (never in the client's favour, never a locked or crossed quote
    made by rounding): the wire bid <= the desk's bid and the wire offer >= the desk's offer,
    each within one tick. ``Decimal(float)`` is exact, so the comparison is exact; the decimal is
    written to the wire as it is (BidPx (132) / OfferPx (133)), and the order book holds the
    nearest float.
    """
    if total is None:
        return None
    exact = Decimal(total / qty)
    return exact.quantize(_TICK, rounding=ROUND_FLOOR if side == "bid" else ROUND_CEILING)


def _zero_on_the_wire(bid_px: float | None, offer_px: float | None, figures: dict[str, Any], qty: float) -> Refusal | None:
    """A price that would go out as 0 (or less) per unit at the Quote's 8 decimals is refused, never sent."""
    for side, px, total in (("bid", bid_px, figures["bid_price"]), ("ask", offer_px, figures["ask_price"])):
        if px is not None and not px > 0.0:
            return Refusal(
                RefusalCode.PRICE_BOUNDS,
                f"{side} {total / qty:.3g} USD per unit is 0 at the {WIRE_DECIMALS} decimals it is sent with",
            )
    return None


def _number(raw: str | None) -> float:
    """A FIX decimal field as a float; NaN when absent or not a decimal (``abc``, ``1_000``, ``nan``, ``inf``)."""
    if raw is None or not _NUMBER.fullmatch(raw.strip()):
        return math.nan
    return float(raw)


def describe(journal: Journal) -> str:
    """A short JSON summary of a journal (quotes, refusals, fills, cancels, quarantined rows)."""
    _, quotes = journal.table("quotes")
    cols, fills = journal.table("fills")
    status = cols.index("status")
    return json.dumps(
        {
            "quotes": sum(1 for q in quotes if q[4] == "quoted"),
            "refused": sum(1 for q in quotes if q[4] == "refused"),
            "fills": sum(1 for f in fills if f[status] == "filled"),
            "cancels": len(journal.table("cancels")[1]),
            "quarantined": len(journal.table("quarantine")[1]),
        }
    )
