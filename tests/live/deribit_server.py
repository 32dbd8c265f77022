"""A local server speaking Deribit's API v2 over WebSocket, built from the bundled real chains.

Test code, not product: it answers the requests and sends the notifications the live client
uses, with the shapes Deribit's API reference documents (JSON-RPC 2.0; ``subscription`` and
``heartbeat`` methods; the fields of ``get_book_summary_by_currency``, ``get_instruments``,
``markprice.options``, ``deribit_price_index``, ``ticker`` and ``instrument.state``), and can be
scripted from the test's thread: move the marks, disconnect everyone, go silent, send a
malformed frame, send ``test_request``. It keeps Deribit's credit pool per connection (20
requests/s, burst 100) and answers an excess request with error 10028 and a close, as the
venue does.

Futures: every option whose ``underlying_index`` is a listed future (not ``SYN.``) lists that
future, marked at the option's ``underlying_price``; ``{CCY}-PERPETUAL`` is marked at the index.
"""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

DATA = Path(__file__).resolve().parents[2] / "pricing" / "data"


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def _ms(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Option:
    row: dict[str, Any]


@dataclass
class Book:
    """One currency's instruments as the server holds them (mutable by the script)."""

    currency: str
    options: list[dict[str, Any]]
    futures: dict[str, float]
    index: float

    @classmethod
    def from_csv(cls, path: Path) -> Book:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        options = []
        futures: dict[str, float] = {}
        for r in rows:
            und = r["underlying_index"]
            options.append(
                {
                    "instrument_name": r["instrument_name"],
                    "mark_price": float(r["mark_price"]),
                    "mark_iv": float(r["mark_iv"]),
                    "bid_price": _num(r["bid_price"]),
                    "ask_price": _num(r["ask_price"]),
                    "underlying_price": float(r["underlying_price"]),
                    "underlying_index": und,
                    "estimated_delivery_price": float(r["index_price"]),
                    "open_interest": _num(r["open_interest"]) or 0.0,
                    "volume": _num(r["volume"]) or 0.0,
                    "creation_timestamp": _ms(r["timestamp"]),
                    "base_currency": r["currency"],
                    "quote_currency": r["currency"],
                    "interest_rate": 0.0,
                }
            )
            if not und.startswith("SYN."):
                futures[und] = float(r["underlying_price"])
        ccy = rows[0]["currency"]
        index = statistics.median(float(r["index_price"]) for r in rows)
        futures[f"{ccy}-PERPETUAL"] = index
        return cls(ccy, options, futures, index)


@dataclass
class Script:
    """What the server does, changed from the test's thread (read by the loop)."""

    marks_every_s: float = 0.2
    send_marks: bool = True
    require_test_answers: bool = True
    summary_delay_s: float = 0.0
    #: The API key the private methods accept (client_id, client_secret).
    credentials: tuple[str, str] = ("desk-key", "s3cret-value")
    #: instrument -> signed size in coins, and currency -> account summary fields (coin).
    positions: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The account's trades, oldest first, as ``private/get_user_trades_by_currency_and_time`` returns them.
    trades: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)


class DeribitTestServer:
    """Start with ``with DeribitTestServer(date) as server: server.url``; runs its own loop thread."""

    def __init__(self, date: str = "20251231", currencies: tuple[str, ...] = ("btc", "eth")) -> None:
        self.books = {c.upper(): Book.from_csv(DATA / f"deribit_{c}_chain_{date}.csv") for c in currencies}
        self.script = Script()
        self.connections: set[ServerConnection] = set()
        self.requests: list[tuple[float, str]] = []
        self.answered_tests = 0
        self.rate_limited = 0
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="deribit-test-server")
        self.port = 0
        self._ticker: asyncio.Future[None] | None = None

    # ----------------------------------------------------------------- control (test thread)

    def __enter__(self) -> DeribitTestServer:
        self._thread.start()
        assert self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/api/v2"

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def move_marks(self, currency: str, iv_shift_pct: float) -> None:
        """Shift every option's mark vol by ``iv_shift_pct`` vol points (prices kept; the vol is what fits read)."""

        def apply() -> None:
            for o in self.books[currency].options:
                o["mark_iv"] += iv_shift_pct
                o["creation_timestamp"] += 1000

        self._loop.call_soon_threadsafe(apply)

    def move_future(self, currency: str, name: str, price: float) -> None:
        self._loop.call_soon_threadsafe(self.books[currency].futures.__setitem__, name, price)

    def silence(self) -> None:
        """The open connections stall: nothing more is sent on them (no marks, no heartbeats, no
        answers) and nothing is read from them, while they stay open; new connections are served."""

        def mute() -> None:
            for ws in list(self.connections):
                ws.deribit["muted"] = True  # type: ignore[attr-defined]
                ws.transport.pause_reading()

        self._loop.call_soon_threadsafe(mute)

    def disconnect_all(self) -> None:
        self.call(self._close_all())

    def send_raw(self, text: str) -> None:
        self.call(self._broadcast(text))

    def test_request(self) -> None:
        self.send_raw(json.dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}))

    def stop(self) -> None:
        """Close the listening socket too: the endpoint is dead from now on."""
        self.call(self._shutdown())

    # ----------------------------------------------------------------- the loop

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._started.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None, max_size=2**24)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._ticker = asyncio.ensure_future(self._marks_loop())

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._close_all()
            # close() runs as a task of this loop: awaited here, it ends before the loop stops
            # (else "Task was destroyed but it is pending!" at exit, seen under load).
            await self._server.wait_closed()
        if self._ticker is not None:
            self._ticker.cancel()

    async def _close_all(self) -> None:
        for ws in list(self.connections):
            if ws.deribit.get("muted"):  # type: ignore[attr-defined]
                ws.transport.abort()  # a stalled connection reads no closing handshake
            else:
                await ws.close()

    async def _broadcast(self, text: str) -> None:
        for ws in list(self.connections):
            try:
                await ws.send(text)
            except ConnectionClosed:
                pass

    async def _handler(self, ws: ServerConnection) -> None:
        if ws.request is None or ws.request.path != "/ws/api/v2":
            await ws.close(1008, "unknown path")
            return
        state = {"channels": set(), "credits": 100.0, "stamp": time.monotonic(), "heartbeat": 0.0, "test_due": None}
        ws.deribit = state  # type: ignore[attr-defined]
        real_send = ws.send

        async def send(message: Any, *, text: bool | None = None) -> None:
            if not state.get("muted"):  # a muted (stalled) connection carries nothing more
                await real_send(message, text=text)

        ws.send = send  # type: ignore[method-assign]
        self.connections.add(ws)
        beat = asyncio.ensure_future(self._heartbeats(ws, state))
        try:
            async for raw in ws:
                await self._request(ws, state, raw)
        except ConnectionClosed:
            pass
        finally:
            beat.cancel()
            self.connections.discard(ws)

    async def _request(self, ws: ServerConnection, state: dict[str, Any], raw: str | bytes) -> None:
        us_in = int(time.time() * 1e6)  # Deribit's usIn: when the request arrived (µs since the epoch)
        msg = json.loads(raw)
        method, rid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        self.requests.append((time.monotonic(), method))
        now = time.monotonic()
        state["credits"] = min(100.0, state["credits"] + (now - state["stamp"]) * 20.0)
        state["stamp"] = now
        state["credits"] -= 1.0
        if state["credits"] < 0:
            self.rate_limited += 1
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": 10028, "message": "too_many_requests"}}))
            await ws.close()
            return
        result: Any
        if method == "public/set_heartbeat":
            state["heartbeat"] = float(params["interval"])
            result = "ok"
        elif method == "public/test":
            state["test_due"] = None
            self.answered_tests += 1
            result = {"version": "1.2.26"}
        elif method == "public/get_instruments":
            result = self._instruments(params["currency"], params.get("kind", "any"))
        elif method == "public/get_book_summary_by_currency":
            if self.script.summary_delay_s:
                await asyncio.sleep(self.script.summary_delay_s)
            book = self.books.get(params["currency"])
            result = [dict(o) for o in book.options] if book and params.get("kind") == "option" else []
        elif method == "public/subscribe":
            state["channels"] |= set(params["channels"])
            result = list(params["channels"])
        elif method == "public/auth":
            if (params.get("client_id"), params.get("client_secret")) != self.script.credentials:
                await ws.send(
                    json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": 13004, "message": "invalid_credentials"}})
                )
                return
            state["authed"] = True
            result = {
                "access_token": "tok-" + "x" * 20,
                "refresh_token": "ref-" + "y" * 20,
                "expires_in": 900,
                "token_type": "bearer",
                "scope": "session:x",
            }
        elif method.startswith("private/"):
            if not state.get("authed"):
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": 13009, "message": "unauthorized"}}))
                return
            result = self._private(method, params, state)
        else:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}))
            return
        us_out = int(time.time() * 1e6)
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": rid, "result": result, "usIn": us_in, "usOut": us_out, "usDiff": us_out - us_in})
        )

    def _private(self, method: str, params: dict[str, Any], state: dict[str, Any]) -> Any:
        ccy = str(params.get("currency", "")).upper()
        if method == "private/get_positions":
            return [self._position(n, q) for n, q in self.script.positions.items() if n.startswith(ccy + "-")]
        if method == "private/get_account_summary":
            return {"currency": ccy, **self.script.summaries.get(ccy, {})}
        if method == "private/subscribe":
            state["channels"] |= set(params["channels"])
            return list(params["channels"])
        if method == "private/get_user_trades_by_currency_and_time":
            start, end, count = int(params["start_timestamp"]), int(params["end_timestamp"]), int(params.get("count", 10))
            mine = [
                t for t in self.script.trades if t["instrument_name"].startswith(ccy + "-") and start <= t["timestamp"] <= end
            ]
            return {"trades": mine[:count], "has_more": len(mine) > count}
        raise KeyError(method)

    @staticmethod
    def _position(name: str, size: float) -> dict[str, Any]:
        return {"instrument_name": name, "kind": "option", "size": size, "direction": "buy" if size > 0 else "sell"}

    def push_positions(self, changes: dict[str, float]) -> None:
        """A fill: positions change and ``user.changes.any.{ccy}.100ms`` says so."""
        self.script.positions.update(changes)
        for ccy in {n.split("-")[0] for n in changes}:
            data = {
                "instrument_name": "",
                "trades": [],
                "orders": [],
                "positions": [self._position(n, q) for n, q in changes.items() if n.startswith(ccy)],
            }
            self._push(f"user.changes.any.{ccy}.100ms", data)

    def push_trade(self, instrument: str, size: float, label: str | None = None, *, notify: bool = True) -> dict[str, Any]:
        """The account trades ``size`` coins of an option (+ bought): its position moves, the trade
        joins the account's history and, with ``notify``, ``user.changes.any.{ccy}.100ms`` carries
        the trade and the position (as Deribit's user trade objects: ``trade_id``, ``direction``,
        ``amount``, ``label`` when the order had one, ...); without, the venue books it unheard
        (as while the client is disconnected)."""
        ccy = instrument.split("-")[0]
        trade = {
            "trade_id": f"{ccy}-{len(self.script.trades) + 1}",
            "trade_seq": len(self.script.trades) + 1,
            "timestamp": int(time.time() * 1000),
            "instrument_name": instrument,
            "direction": "buy" if size > 0 else "sell",
            "amount": abs(size),
            "price": 0.05,
            "state": "filled",
            "order_id": f"o-{len(self.script.trades) + 1}",
            "order_type": "limit",
            "liquidity": "T",
            "fee": 0.0,
            "fee_currency": ccy,
        }
        if label is not None:
            trade["label"] = label
        self.script.trades.append(trade)
        self.script.positions[instrument] = self.script.positions.get(instrument, 0.0) + size
        if notify:
            data = {
                "instrument_name": instrument,
                "trades": [trade],
                "orders": [],
                "positions": [self._position(instrument, self.script.positions[instrument])],
            }
            self._push(f"user.changes.any.{ccy}.100ms", data)
        return trade

    def push_summary(self, currency: str, **fields: float) -> None:
        self.script.summaries.setdefault(currency, {}).update(fields)
        self._push(f"user.portfolio.{currency}", {"currency": currency, **self.script.summaries[currency]})

    def _push(self, channel: str, data: Any) -> None:
        async def send() -> None:
            for ws in list(self.connections):
                if channel in ws.deribit["channels"]:  # type: ignore[attr-defined]
                    await ws.send(
                        json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})
                    )

        self.call(send())

    def _instruments(self, currency: str, kind: str) -> list[dict[str, Any]]:
        book = self.books.get(currency)
        if book is None or kind != "future":
            return []
        return [
            {
                "instrument_name": name,
                "kind": "future",
                "is_active": True,
                "settlement_period": "perpetual" if name.endswith("PERPETUAL") else "month",
                "base_currency": currency,
                "quote_currency": "USD",
            }
            for name in book.futures
        ]

    async def _heartbeats(self, ws: ServerConnection, state: dict[str, Any]) -> None:
        """After set_heartbeat: a test_request every interval; unanswered by the next one, the connection closes."""
        while True:
            await asyncio.sleep(0.05)
            interval = state["heartbeat"]
            if not interval or not self.script.require_test_answers or state.get("muted"):
                continue
            await asyncio.sleep(interval)
            if state["test_due"] is not None:
                await ws.close()
                return
            state["test_due"] = time.monotonic()
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}))

    async def _marks_loop(self) -> None:
        while True:
            await asyncio.sleep(self.script.marks_every_s)
            if not self.script.send_marks:
                continue
            for ws in list(self.connections):
                for ccy, book in self.books.items():
                    await self._notify(ws, ccy, book)

    async def _notify(self, ws: ServerConnection, ccy: str, book: Book) -> None:
        channels = ws.deribit["channels"]  # type: ignore[attr-defined]
        idx = f"{ccy.lower()}_usd"
        stamp = max(o["creation_timestamp"] for o in book.options)
        out = []
        if f"markprice.options.{idx}" in channels:
            data = [
                {
                    "timestamp": stamp,
                    "mark_price": o["mark_price"],
                    "iv": o["mark_iv"] / 100.0,
                    "instrument_name": o["instrument_name"],
                }
                for o in book.options
            ]
            out.append(("markprice.options." + idx, data))
        if f"deribit_price_index.{idx}" in channels:
            out.append((f"deribit_price_index.{idx}", {"timestamp": stamp, "price": book.index, "index_name": idx}))
        for name, price in book.futures.items():
            if f"ticker.{name}.100ms" in channels:
                out.append(
                    (
                        f"ticker.{name}.100ms",
                        {"timestamp": stamp, "instrument_name": name, "mark_price": price, "index_price": book.index},
                    )
                )
        for channel, data in out:
            try:
                await ws.send(
                    json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})
                )
            except ConnectionClosed:
                return
