"""One feed session on the event loop: connect, snapshot, subscribe, keep alive, reconnect.

The sequence on every (re)connection, as Deribit's API v2 documents it:

1. ``public/set_heartbeat`` (``LiveLimits.heartbeat_s``); every ``test_request`` is answered
   with ``public/test``;
2. per currency: ``public/get_instruments`` (kind=future: the futures and perpetual whose
   tickers move the forwards) and ``public/get_book_summary_by_currency`` (kind=option: the
   snapshot the board is rebuilt from, so nothing from before a disconnect survives it);
3. ``public/subscribe`` to ``markprice.options.{ccy}_usd``, ``deribit_price_index.{ccy}_usd``,
   ``ticker.{future}.100ms`` for those futures and ``instrument.state.option.{ccy}``.

With credentials, after step 1 and before step 2: ``public/auth``, then
``private/subscribe`` to ``user.changes.any.{ccy}.100ms`` and ``user.portfolio.{ccy}``, then per
currency ``private/get_positions`` (as of the venue's ``usIn``), the account's trades up to
that time (``private/get_user_trades_by_currency_and_time``: the labelled ones retire the fills
booked under their labels, :mod:`pricing.desk.fills`) and ``private/get_account_summary``.

A dropped connection, a frame too large, a request unanswered for ``request_timeout_s``, an
error response, or silence (not even a heartbeat) for three heartbeat intervals: the session
closes and reconnects after ``backoff_initial_s`` doubling to ``backoff_max_s`` (±20 %
jitter). Every request goes through the token bucket. Malformed messages are counted and
ignored.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pricing.desk.live import protocol as rpc
from pricing.desk.live.account import (
    AccountState,
    Credentials,
    VenueTrade,
    parse_account_summary,
    parse_positions,
    parse_trades,
    redact,
)
from pricing.desk.live.marks import MarkBoard
from pricing.desk.live.ratelimit import TokenBucket
from pricing.desk.live.spec import LiveLimits
from pricing.errors import DataError

#: What one failed connection attempt may raise (anything else is a bug and propagates).
CONNECTION_ERRORS = (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError, DataError)
#: Seconds of the account's trade history read on the first connection (a fill journaled this
#: long ago and booked at the venue since is matched; older trades are not read).
TRADES_LOOKBACK_S = 7 * 24 * 3600.0
#: Pages of 1,000 trades read per currency and connection, at most.
TRADES_MAX_PAGES = 20


class SessionError(DataError):
    """The endpoint answered, but not as Deribit's API v2 does (named in the message)."""


@dataclass
class FeedStatus:
    """Counters and clocks of the feed, read by other threads (plain values, replaced whole).

    Attributes
    ----------
    connects, reconnects : int
        Connections made, and those after a loss.
    messages, malformed : int
        Frames received, and those not understood.
    test_requests_answered : int
        Heartbeat test requests answered.
    requests_sent : int
        JSON-RPC requests sent.
    last_error : str
        The last connection failure, one line.
    last_message_mono, last_marks_mono : float
        ``time.monotonic()`` of the last frame and the last option marks.
    mark_arrivals : deque of float
        ``time.monotonic()`` of the last 10,000 mark messages.
    """

    connects: int = 0
    reconnects: int = 0
    messages: int = 0
    malformed: int = 0
    test_requests_answered: int = 0
    requests_sent: int = 0
    last_error: str = ""
    last_message_mono: float = 0.0
    last_marks_mono: float = 0.0
    #: ``time.monotonic()`` of the last 10,000 mark messages (for the benchmark's latency).
    mark_arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))


def index_name(currency: str) -> str:
    """Deribit's index name of a currency (``btc_usd``).

    Parameters
    ----------
    currency : str
        The currency, e.g. ``"BTC"``.

    Returns
    -------
    str
        The venue's price index of the currency, e.g. ``"btc_usd"``.
    """
    return f"{currency.lower()}_usd"


class FeedSession:
    """The coroutine side of a live source (runs on the source's event loop only).

    Parameters
    ----------
    url : str
        The WebSocket endpoint.
    currencies : tuple of str
        The currencies subscribed, e.g. ``("BTC", "ETH")``.
    limits : LiveLimits
        Rate limit, timeouts, back-off.
    on_change : callable
        Called with the boards after each change.
    recorder : callable, optional
        (direction, frame) -> None, to record the session.
    credentials : Credentials, optional
        For the account's private channels.
    """

    def __init__(
        self,
        url: str,
        currencies: tuple[str, ...],
        limits: LiveLimits,
        on_change: Callable[[dict[str, MarkBoard]], None],
        recorder: Callable[[str, str], None] | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.account = AccountState()
        #: Request ids whose answer is returned with the venue's receive time (``call(timed=True)``).
        self._timed: set[int] = set()
        self.currencies = currencies
        self.limits = limits
        self.on_change = on_change
        self.recorder = recorder
        self.status = FeedStatus()
        self.boards: dict[str, MarkBoard] = {}
        self.bucket = TokenBucket(limits.requests_per_s, limits.request_burst, stamp=time.monotonic())
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        """Ask the session to end (it closes the connection and returns).

        Returns
        -------
        None
            Nothing: the stop is requested; the session closes the connection and returns.
        """
        self._stopping.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` beside the reader, keeping a reference until it ends (asyncio keeps only weak ones)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ one connection

    async def connect_once(self) -> None:
        """Open the connection and bootstrap it; returns once the snapshot is applied."""
        host = urlsplit(self.url).hostname or ""
        loopback = host in ("127.0.0.1", "localhost", "::1")
        self._ws = await connect(
            self.url,
            open_timeout=self.limits.connect_timeout_s,
            max_size=self.limits.max_message_bytes,
            proxy=None if loopback else True,
            compression=None,
        )
        self.status.connects += 1
        self._reader = asyncio.ensure_future(self._read(self._ws))
        try:
            await self._bootstrap()
        except BaseException:
            await self._close()
            raise

    async def _bootstrap(self) -> None:
        await self.call("public/set_heartbeat", {"interval": self.limits.heartbeat_s})
        if self.credentials is not None:
            await self._authenticate()
        futures: dict[str, tuple[str, ...]] = {}
        for ccy in self.currencies:
            futures[ccy] = rpc.future_names(await self.call("public/get_instruments", {"currency": ccy, "kind": "future"}))
            summary = rpc.parse_book_summary(
                await self.call("public/get_book_summary_by_currency", {"currency": ccy, "kind": "option"})
            )
            if isinstance(summary, rpc.Malformed):
                raise SessionError(f"{self.url}: {summary.reason}")
            if ccy in self.boards:
                self.boards[ccy].reload(summary)
            else:
                self.boards[ccy] = MarkBoard(ccy, summary)
        self.status.last_marks_mono = time.monotonic()
        self.on_change(self.boards)
        channels = []
        for ccy in self.currencies:
            idx = index_name(ccy)
            marked = set(self.boards[ccy].futures)
            channels += [f"markprice.options.{idx}", f"deribit_price_index.{idx}", f"instrument.state.option.{ccy.lower()}"]
            channels += [f"ticker.{f}.100ms" for f in futures[ccy] if f in marked or f.endswith("-PERPETUAL")]
        await self.call("public/subscribe", {"channels": channels})

    async def _authenticate(self) -> None:
        """``public/auth`` with the client credentials, then the account's positions and summaries."""
        assert self.credentials is not None
        result = await self.call("public/auth", self.credentials.auth_params())
        expires = result.get("expires_in") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not isinstance(result.get("access_token"), str):
            raise SessionError(f"{self.url}: public/auth answered without an access token")
        if isinstance(expires, (int, float)) and expires > 0:
            self._spawn(self._reauthenticate_after(0.8 * float(expires)))
        # Subscribed before the snapshot: a trade after it comes as a notification, one before it
        # is inside it (and in the trades read up to its time); none falls between the two.
        await self.call(
            "private/subscribe",
            {
                "channels": [
                    f"{c}.{ccy}{i}"
                    for ccy in self.currencies
                    for c, i in (("user.changes.any", ".100ms"), ("user.portfolio", ""))
                ]
            },
        )
        for ccy in self.currencies:
            # the reader runs on during the awaits below: the currency's notifications wait, so the
            # snapshot, the trades up to it and the notifications after it land as one step
            self.account.hold(ccy)
            raw, us_in = await self.call("private/get_positions", {"currency": ccy}, timed=True)
            # The snapshot is as of the venue's receive time: the labelled trades up to then are
            # inside it (a fill they carry is retired with it); later ones come in user.changes.
            as_of_ms = us_in // 1000 if us_in is not None else int(time.time() * 1000)
            trades = await self._labelled_trades(ccy, self.account.horizon_ms.get(ccy), as_of_ms)
            self.account.reset_currency(ccy, parse_positions(raw), trades, as_of_ms)
            summary = parse_account_summary(await self.call("private/get_account_summary", {"currency": ccy}), ccy)
            if summary is not None:
                self.account.set_summary(summary)

    async def _labelled_trades(self, ccy: str, since_ms: int | None, until_ms: int) -> list[VenueTrade]:
        """The account's trades of ``ccy`` from ``since_ms`` (or :data:`TRADES_LOOKBACK_S` back) to
        ``until_ms``, venue time; pages of 1,000 up to :data:`TRADES_MAX_PAGES` (a trade seen twice
        is counted once by the account, so overlapping pages and windows are harmless)."""
        start = (until_ms - int(TRADES_LOOKBACK_S * 1000)) if since_ms is None else since_ms - 1000
        out: list[VenueTrade] = []
        for _ in range(TRADES_MAX_PAGES):
            params = {"currency": ccy, "start_timestamp": start, "end_timestamp": until_ms, "count": 1000, "sorting": "asc"}
            result = await self.call("private/get_user_trades_by_currency_and_time", params)
            page = parse_trades(result.get("trades") if isinstance(result, dict) else None)
            out += [t for t in page if t.timestamp_ms <= until_ms]
            if not (isinstance(result, dict) and result.get("has_more") is True and page):
                break
            start = max(t.timestamp_ms for t in page)
        return out

    async def _reauthenticate_after(self, seconds: float) -> None:
        """A new token before the old one expires (client credentials again: nothing else to keep)."""
        ws = self._ws
        await asyncio.sleep(seconds)
        if ws is self._ws and self.credentials is not None:
            try:
                await self.call("public/auth", self.credentials.auth_params())
            except (*CONNECTION_ERRORS, ConnectionError) as exc:
                self.status.last_error = f"re-authentication failed: {describe(exc)}"

    async def _close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection closed"))
        self._pending.clear()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def send(self, method: str, params: dict[str, Any] | None = None, request_id: int | None = None) -> int:
        """Send one request through the token bucket; returns its id.

        Parameters
        ----------
        method : str
            The JSON-RPC method, e.g. ``"public/get_instruments"``.
        params : dict, optional
            The method's parameters; None sends an empty object.
        request_id : int, optional
            Default: the next id.

        Returns
        -------
        int
            The request id, to match the answer.
        """
        rid = self._new_id() if request_id is None else request_id
        wait = self.bucket.reserve(time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)
        if self._ws is None:
            raise ConnectionError("not connected")
        text = rpc.request(rid, method, params)
        if self.recorder is not None:
            self.recorder("out", redact(text) if method == "public/auth" else text)
        await self._ws.send(text)
        self.status.requests_sent += 1
        return rid

    async def call(self, method: str, params: dict[str, Any] | None = None, *, timed: bool = False) -> Any:
        """A request and its result; an error response or no answer in time fails the session.

        Parameters
        ----------
        method : str
            The JSON-RPC method, e.g. ``"public/get_instruments"``.
        params : dict, optional
            The method's parameters; None sends an empty object.
        timed : bool
            Return ``(result, usIn)``: with the venue's receive time of the request (µs, None
            when the response has none).

        Returns
        -------
        Any
            The result.
        """
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        rid = self._new_id()
        self._pending[rid] = fut
        if timed:
            self._timed.add(rid)
        try:
            await self.send(method, params, rid)
            try:
                return await asyncio.wait_for(fut, self.limits.request_timeout_s)
            except TimeoutError:
                raise SessionError(f"{self.url}: no answer to {method} within {self.limits.request_timeout_s:g} s") from None
        finally:
            self._pending.pop(rid, None)
            self._timed.discard(rid)
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled():
                fut.exception()  # retrieved: a send that failed first has already raised its own error

    async def _read(self, ws: ClientConnection) -> None:
        """Every frame of one connection; ends when it closes (failing the requests still waiting)."""
        try:
            await self._frames(ws)
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the connection closed before the answer"))

    async def _frames(self, ws: ClientConnection) -> None:
        idle = 3.0 * self.limits.heartbeat_s
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), idle)
            except TimeoutError:
                self.status.last_error = f"silent for {idle:g} s (not even a heartbeat)"
                # A silent peer will not answer a closing handshake either (a stalled connection):
                # a graceful close would wait its close timeout for nothing. Drop it at once.
                ws.transport.abort()
                return
            except ConnectionClosed:
                return
            now = time.monotonic()
            if self.recorder is not None:
                text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                self.recorder("in", redact(text) if '"access_token"' in text else text)
            self.status.messages += 1
            self.status.last_message_mono = now
            self._handle(rpc.classify(raw), now)

    def _handle(self, msg: rpc.Message, now: float) -> None:
        if isinstance(msg, rpc.Response):
            fut = self._pending.get(msg.request_id)
            if fut is not None and not fut.done():
                fut.set_result((msg.result, msg.us_in) if msg.request_id in self._timed else msg.result)
        elif isinstance(msg, rpc.ErrorResponse):
            fut = self._pending.get(msg.request_id) if msg.request_id is not None else None
            err = SessionError(f"{self.url}: error {msg.code} {msg.message}".rstrip())
            self.status.last_error = str(err)
            if fut is not None and not fut.done():
                fut.set_exception(err)
            elif msg.code == rpc.TOO_MANY_REQUESTS and self._ws is not None:
                self._spawn(self._ws.close())
        elif isinstance(msg, rpc.Heartbeat):
            if msg.test_request:
                self._spawn(self._answer_test())
        elif isinstance(msg, rpc.Notification):
            self._notification(msg, now)
        else:
            self.status.malformed += 1

    async def _answer_test(self) -> None:
        try:
            await self.send("public/test")
            self.status.test_requests_answered += 1
        except (ConnectionError, ConnectionClosed):
            pass  # the connection is going; the reconnect answers the next one

    def _notification(self, msg: rpc.Notification, now: float) -> None:
        head, _, rest = msg.channel.partition(".")
        update: Any
        if msg.channel.startswith("markprice.options."):
            update = rpc.parse_marks(msg.data)
            board = self._board_for(msg.channel.rsplit(".", 1)[-1].split("_")[0])
            if board is not None and not isinstance(update, rpc.Malformed):
                board.apply_marks(update)
                self.status.last_marks_mono = now
                self.status.mark_arrivals.append(now)
        elif head == "deribit_price_index":
            update = rpc.parse_index(msg.data)
            board = self._board_for(rest.split("_")[0])
            if board is not None and not isinstance(update, rpc.Malformed):
                board.apply_index(update)
        elif head == "ticker":
            update = rpc.parse_ticker(msg.data)
            board = self._board_for(rest.split("-")[0])
            if board is not None and not isinstance(update, rpc.Malformed):
                board.apply_ticker(update)
        elif msg.channel.startswith("instrument.state."):
            update = rpc.parse_state(msg.data)
            board = self._board_for(msg.channel.rsplit(".", 1)[-1])
            if board is not None and not isinstance(update, rpc.Malformed):
                board.apply_state(update)
                if board.listing_changed:
                    self._spawn(self._resnapshot(board.currency))
        elif head == "user":
            update = self._account_notification(msg)
        else:
            update = rpc.Malformed(f"a notification on an unsubscribed channel {msg.channel[:60]!r}")
        if isinstance(update, rpc.Malformed):
            self.status.malformed += 1
            return
        self.on_change(self.boards)

    def _account_notification(self, msg: rpc.Notification) -> object:
        """``user.changes.*`` (positions) and ``user.portfolio.*`` (collateral and the venue's margin)."""
        parts = msg.channel.split(".")
        if parts[1] == "changes" and isinstance(msg.data, dict):
            # the trades and the positions they moved, in one step: a fill is retired when its
            # trade is in the positions, never before nor after
            self.account.apply_changes(parse_positions(msg.data.get("positions")), parse_trades(msg.data.get("trades")))
            return msg
        if parts[1] == "portfolio" and len(parts) >= 3:
            summary = parse_account_summary(msg.data, parts[2])
            if summary is not None:
                self.account.set_summary(summary)
                return msg
        return rpc.Malformed(f"a {'.'.join(parts[:2])} notification without the documented fields")

    def _board_for(self, currency: str) -> MarkBoard | None:
        return self.boards.get(currency.upper())

    async def _resnapshot(self, currency: str) -> None:
        """A new listing: a fresh book summary of that currency (rate-limited like every request)."""
        board = self.boards[currency]
        board.listing_changed = False
        try:
            summary = rpc.parse_book_summary(
                await self.call("public/get_book_summary_by_currency", {"currency": currency, "kind": "option"})
            )
        except (*CONNECTION_ERRORS, ConnectionError):
            return
        if not isinstance(summary, rpc.Malformed):
            board.reload(summary)
            self.on_change(self.boards)

    # ------------------------------------------------------------------ the loop

    def backoff(self, attempt: int) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based): doubling, capped, ±20 % jitter.

        Parameters
        ----------
        attempt : int
            Reconnection attempts made so far since the last success (0 for the first).

        Returns
        -------
        float
            Seconds.
        """
        base = min(self.limits.backoff_max_s, self.limits.backoff_initial_s * 2.0**attempt)
        return base * random.uniform(0.8, 1.2)

    async def run_forever(self) -> None:
        """After the first connection: read until it drops, then reconnect with backoff, until stopped."""
        attempt = 0
        while not self._stopping.is_set():
            reader = self._reader
            if reader is not None:
                stop = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait({reader, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if self._stopping.is_set():
                    break
                self._reader = None
                await self._close()
            delay = self.backoff(attempt)
            attempt += 1
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
                break
            except TimeoutError:
                pass
            try:
                await self.connect_once()
                self.status.reconnects += 1
                attempt = 0
            except (*CONNECTION_ERRORS, ConnectionError) as exc:
                self.status.last_error = describe(exc)
                self._reader = None
        reader = self._reader
        await self._close()
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def describe(exc: BaseException) -> str:
    """A one-line reason for a failed connection (no traceback, no request text).

    Parameters
    ----------
    exc : BaseException
        The failure to describe.

    Returns
    -------
    str
        One line of at most 200 characters, with no traceback and no request text.
    """
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, InvalidHandshake):
        return f"not a WebSocket endpoint ({str(exc)[:120]})"
    if isinstance(exc, ConnectionClosed):
        return "the server closed the connection"
    text = str(exc) or type(exc).__name__
    return text[:200]
