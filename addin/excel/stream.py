"""Office.js streaming functions over socket.io: ``=CQ.LIVE_QUOTE(...)``, ``=CQ.LIVE_MARKET(...)``.

The custom-functions code xlwings Server serves runs a streaming function by emitting
``xlwings:function-call`` (``func_name``, ``args``, ``task_key``) on its socket.io connection and
setting the cell from every ``xlwings:set-result-{task_key}`` event; ``xlwings:cancel-task`` when
the cell goes away. This module is the server side of that protocol, in place of xlwings
Server's own (which sends every result to every connection and shares one task between all
connections with the same ``task_key``: a user's cell would receive another user's numbers):

- **Auth in the handshake.** The served socket.io client sends the token in its connect packet
  (``auth``), not in the engine.io handshake's query or headers, so :class:`Streams`
  authenticates it there with the same providers and roles as every HTTP call
  (:func:`addin.excel.serve.authenticate_token`). No valid token: the connection is refused
  (``connect_error`` with the reason), before any event is read, and its engine.io session is
  closed :data:`REFUSED_CLOSE_S` later (time for the reason to reach the client). A session that
  has not authenticated within :data:`AUTH_TIMEOUT_S` of its handshake is closed; at most
  :data:`MAX_PENDING_PER_ADDRESS` unauthenticated and :data:`MAX_SESSIONS_PER_ADDRESS` sessions
  in all per client address (the next handshake is refused: 401, 403 over a websocket).
- **Per-user isolation.** A stream belongs to one connection (key: connection id and
  ``task_key``); its results are sent to that connection only; it is computed in its user's
  handle scope, as that user's HTTP calls are (another user's handle text does not resolve).
- **What streams.** ``LIVE_QUOTE`` is ``CQ.RFQ`` and ``LIVE_MARKET`` is ``CQ.MARKET_INFO`` (same
  arguments, same admission: :func:`addin.excel.calls.parse`), on a *live* market (a spec the
  server offers: :mod:`udfs.live`); a handle or a range is refused (it never moves). A stream is
  woken by its source's publication of a new snapshot (:meth:`pricing.desk.live.LiveSource.listen`),
  not by a timer, and recomputes only when what its result reads moved: the content versions
  of the currencies it reads (:func:`currencies_read`; ``LIVE_MARKET`` reads all) or whether the
  market is stale (a timer wakes it when the snapshot turns stale). A refit that gives the same
  slices, or marks of another currency, cost one look and no computation. A result is sent
  only when it differs from the last one sent.
- **Bounds.** At most :data:`MAX_STREAMS_PER_USER` streams and :data:`MAX_CONNECTIONS_PER_USER`
  connections per user; at most :data:`MAX_UPDATES_PER_S` looks at the market, so computations,
  per stream in any second (two are :data:`INTERVAL_S` apart at least, however fast the feed);
  every computation runs in the server's call threads
  behind the user's own gate (:meth:`addin.excel.serve.Guard.here`), and at most one of a user's
  stream computations at a time (over all their cells): a user's streams take at most one
  server thread's time. A call whose cost reaches :data:`addin.excel.pool.LARGE_COST` (an HTTP
  call that size goes to a worker lane) is refused as a stream with the reason: it would run in the server process every
  interval. A disconnect cancels every stream of the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from addin.excel.calls import MAX_CELLS, MAX_RESULT_CELLS, Call, Refused

log = logging.getLogger("clearquote.stream")

#: The streaming functions and the catalogue function each streams.
STREAMS = {"LIVE_QUOTE": "RFQ", "LIVE_MARKET": "MARKET_INFO"}
#: Live cells of one user at once (over all their connections).
MAX_STREAMS_PER_USER = 16
#: socket.io connections of one user at once.
MAX_CONNECTIONS_PER_USER = 8
#: Computations of one stream in any second, at most (a fast feed cannot make a cell recompute more).
MAX_UPDATES_PER_S = 4
#: Seconds between two computations of one stream, at least.
INTERVAL_S = 1.0 / MAX_UPDATES_PER_S
#: Seconds between two looks at a market that cannot be had now (no source to be woken by).
UNAVAILABLE_LOOK_S = 1.0
#: Seconds after a snapshot's staleness limit at which a stream looks again (the flip to stale
#: is the one change no publication announces).
STALE_MARGIN_S = 0.05
#: Characters of a ``task_key`` (the client makes it from the function name and arguments).
MAX_TASK_KEY = 4096
#: Bytes of one socket.io message (a call's arguments).
MAX_MESSAGE = 1 * 2**20
#: Seconds an engine.io session may stay without an authenticated socket.io connection.
AUTH_TIMEOUT_S = 5.0
#: Seconds between a refused connection's ``connect_error`` and the close of its session.
REFUSED_CLOSE_S = 0.5
#: Engine.io sessions of one client address not (yet) authenticated.
MAX_PENDING_PER_ADDRESS = 8
#: Engine.io sessions of one client address in all (users behind one proxy share an address).
MAX_SESSIONS_PER_ADDRESS = 64

Authenticate = Callable[[str, str | None], Awaitable[str]]
Here = Callable[..., Awaitable[Any]]


@dataclass
class _Stream:
    user: str
    task: asyncio.Task[None] | None = None
    refs: int = 1


@dataclass
class _Connection:
    user: str
    streams: dict[str, _Stream] = field(default_factory=dict)


class Streams:
    """The socket.io server of the streaming functions (mounted by :class:`addin.excel.serve.Guard`)."""

    def __init__(
        self,
        authenticate: Authenticate,
        here: Here,
        path: str,
        cors_origins: list[str] | str,
        interval_s: float = INTERVAL_S,
        per_user: int = MAX_STREAMS_PER_USER,
        connections_per_user: int = MAX_CONNECTIONS_PER_USER,
    ) -> None:
        import socketio

        self.authenticate, self.here = authenticate, here
        self.interval_s, self.per_user, self.connections_per_user = interval_s, per_user, connections_per_user
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=cors_origins, max_http_buffer_size=MAX_MESSAGE)
        self.asgi = socketio.ASGIApp(self.sio, None, socketio_path=path)
        self.connections: dict[str, _Connection] = {}
        #: engine.io session -> its client address; ``pending``: those not authenticated yet.
        self.addresses: dict[str, str] = {}
        self.pending: set[str] = set()
        self.auth_timeout_s = AUTH_TIMEOUT_S
        self._user_gates: dict[str, asyncio.Lock] = {}
        #: (connection id, task key) -> computations run for that stream (looks not counted),
        #: and the stream's last look at its market.
        self.computations: Counter[tuple[str, str]] = Counter()
        self.looks: dict[tuple[str, str], Look] = {}
        # The engine.io handshake comes before any socket.io packet: bound and time it here,
        # then hand the session to socket.io's own handler.
        eio_connect, eio_disconnect = self.sio.eio.handlers["connect"], self.sio.eio.handlers["disconnect"]

        async def on_eio_connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            if not self.admit_session(eio_sid, environ):
                return False  # engine.io answers 401
            return await eio_connect(eio_sid, environ)

        async def on_eio_disconnect(eio_sid: str, *reason: Any) -> Any:
            self.addresses.pop(eio_sid, None)
            self.pending.discard(eio_sid)
            return await eio_disconnect(eio_sid, *reason)

        self.sio.eio.on("connect", on_eio_connect)
        self.sio.eio.on("disconnect", on_eio_disconnect)
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("xlwings:function-call", self.function_call)
        self.sio.on("xlwings:cancel-task", self.cancel_task)

    # ------------------------------------------------------------------ sessions

    def admit_session(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        """Whether a new engine.io session of this client address may open; if so it is
        pending, and closed unless it authenticates within :attr:`auth_timeout_s`."""
        address = _address(environ)
        if sum(a == address for a in self.addresses.values()) >= MAX_SESSIONS_PER_ADDRESS:
            return False
        if sum(self.addresses.get(p) == address for p in self.pending) >= MAX_PENDING_PER_ADDRESS:
            return False
        self.addresses[eio_sid] = address
        self.pending.add(eio_sid)
        asyncio.get_running_loop().call_later(self.auth_timeout_s, self._close_if_pending, eio_sid)
        return True

    def _close_if_pending(self, eio_sid: str) -> None:
        if eio_sid in self.pending:
            self._close_later(eio_sid, 0.0)

    def _close_later(self, eio_sid: str, delay_s: float) -> None:
        async def close() -> None:
            await asyncio.sleep(delay_s)
            sock = self.sio.eio.sockets.get(eio_sid)
            await self.sio.eio.disconnect(eio_sid)  # sends engine.io's CLOSE packet and ends the session
            if sock is not None:  # and ends its transport now (engine.io's writer closes the
                await sock.queue.put(None)  # websocket on None), not at the 45 s ping timeout

        task = asyncio.get_running_loop().create_task(close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    # ------------------------------------------------------------------ events

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        try:
            user = await self._user_of(auth)
        except Exception:
            if eio_sid is not None:  # the refusal reaches the client, then its session ends
                self.pending.discard(eio_sid)
                self._close_later(eio_sid, REFUSED_CLOSE_S)
            raise
        if eio_sid is not None:
            self.pending.discard(eio_sid)
        self.connections[sid] = _Connection(user)

    async def _user_of(self, auth: Any) -> str:
        import socketio

        auth = auth if isinstance(auth, dict) else {}
        token, provider = auth.get("token"), auth.get("provider")
        if not isinstance(token, str) or not token or len(token) > 16_384:
            raise socketio.exceptions.ConnectionRefusedError("clearquote: a valid token is required")
        try:
            user = await self.authenticate(token, provider if isinstance(provider, str) else None)
        except Exception as exc:  # the providers' own refusals (401, 403) and anything else: no connection
            reason = str(exc) if "may not" in str(exc) else "clearquote: a valid token is required"
            raise socketio.exceptions.ConnectionRefusedError(reason[:200]) from None
        if sum(c.user == user for c in self.connections.values()) >= self.connections_per_user:
            raise socketio.exceptions.ConnectionRefusedError(
                f"clearquote: at most {self.connections_per_user} streaming connections per user"
            )
        return user

    async def disconnect(self, sid: str, *_: Any) -> None:
        conn = self.connections.pop(sid, None)
        if conn is not None:
            for s in conn.streams.values():
                if s.task is not None:
                    s.task.cancel()

    async def function_call(self, sid: str, data: Any) -> None:
        conn = self.connections.get(sid)
        if conn is None:
            await self.sio.disconnect(sid)
            return
        if not isinstance(data, dict):
            return
        key = data.get("task_key")
        if not isinstance(key, str) or not key or len(key) > MAX_TASK_KEY:
            return  # no event name to answer on: nothing to say it to
        existing = conn.streams.get(key)
        if existing is not None:  # two cells with the same formula on one connection share one stream
            existing.refs += 1
            return
        if sum(len(c.streams) for c in self.connections.values() if c.user == conn.user) >= self.per_user:
            await self._error(sid, key, f"at most {self.per_user} live cells per user; remove one to add another")
            return
        try:
            call = admit(data)
        except Refused as r:
            await self._error(sid, key, r.message)
            return
        stream = conn.streams[key] = _Stream(conn.user)
        stream.task = asyncio.create_task(self._run(sid, key, call, conn.user), name=f"clearquote-stream {sid} {key[:40]}")

    async def cancel_task(self, sid: str, data: Any) -> None:
        conn = self.connections.get(sid)
        key = data.get("task_key") if isinstance(data, dict) else None
        if conn is None or not isinstance(key, str) or key not in conn.streams:
            return
        stream = conn.streams[key]
        stream.refs -= 1
        if stream.refs <= 0:
            del conn.streams[key]
            if stream.task is not None:
                stream.task.cancel()

    # ------------------------------------------------------------------ the stream

    async def _run(self, sid: str, key: str, call: Call, user: str) -> None:
        event = f"xlwings:set-result-{key}"
        gate = self._user_gates.setdefault(user, asyncio.Lock())

        async def here(user: str, fn: Callable[..., Any], *args: Any) -> Any:
            async with gate:  # one of the user's stream computations at a time
                if fn is not market_version:
                    self.computations[(sid, key)] += 1
                    return await self.here(user, fn, *args)
                look = self.looks[(sid, key)] = await self.here(user, fn, *args)
                return look

        try:
            async for result in results(call, user, here, self.interval_s):
                await self.sio.emit(event, {"result": result}, to=sid)
        finally:
            self.looks.pop((sid, key), None)
            self.computations.pop((sid, key), None)

    async def _error(self, sid: str, key: str, reason: str) -> None:
        await self.sio.emit(f"xlwings:set-result-{key}", {"result": [[f"ERROR: {reason[:300]}"]]}, to=sid)


@dataclass(frozen=True)
class Look:
    """One look at a stream's market (:func:`market_version`).

    Attributes
    ----------
    version : object
        What the stream's result reads that can move by itself; equal looks need no computation.
    wait_s : float or None
        The longest wait before the next look if no snapshot is published meanwhile (until the
        snapshot turns stale; the retry of a market that cannot be had); None: until one is.
    source : Any
        The live source whose publications wake the stream (``listen``); None when there is none.
    seq : int or None
        The feed's snapshot number looked at (``LiveSnapshot.snapshot_id``), None without one.
    """

    version: object
    wait_s: float | None
    source: Any = None
    seq: int | None = None


async def results(call: Call, user: str, here: Here, interval_s: float) -> AsyncIterator[Any]:
    """The successive results of a streaming ``call`` made by ``user`` (Office.js JSON rows; a
    failure as one ``ERROR: reason`` cell, the reason never echoing a cell): the first at once,
    then one whenever what it reads moved (:func:`market_version`) and the result with it.

    The stream sleeps until its source publishes a snapshot (or its look's ``wait_s`` passes),
    then looks; two looks, so two computations, are ``interval_s`` apart at least (publications
    in between are taken together by the next look). ``here`` runs a function off the event
    loop as the user."""
    from addin.excel import pool

    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:  # on the source's publishing thread
        try:
            loop.call_soon_threadsafe(woken.set)
        except RuntimeError:  # this loop has closed: there is no stream left to wake
            pass

    followed: Any = None
    stop: Callable[[], None] | None = None
    seen: object = _NOTHING
    sent: str | None = None
    try:
        while True:
            woken.clear()  # before the look: a publication during it wakes the next one
            looked = time.monotonic()
            look: Look = await here(user, market_version, call)
            if look.source is not followed:
                if stop is not None:
                    stop()
                stop = look.source.listen(wake) if look.source is not None else None
                followed = look.source
                woken.set()  # a publication between the look and the listen: look once more
            if look.version != seen:
                ok, text = await here(user, pool.run_json, call.name, call.args, call.runtime, user)
                if not ok:
                    text = json.dumps({"result": [[f"ERROR: {pool.unechoed(text, call.args)[:300]}"]]})
                if text != sent:
                    yield json.loads(text)["result"]
                    sent = text
                seen = look.version
            try:
                await asyncio.wait_for(woken.wait(), look.wait_s)
            except TimeoutError:
                pass
            pause = looked + interval_s - time.monotonic()
            if pause > 0:  # the pace: a fast feed's publications are taken together
                await asyncio.sleep(pause)
    finally:
        if stop is not None:
            stop()


_NOTHING = object()


def admit(data: dict[str, Any], max_cells: int = MAX_CELLS, max_result_cells: int = MAX_RESULT_CELLS) -> Call:
    """The catalogue call a streaming call stands for, admitted as an HTTP call is; its
    ``market`` must be a live market (a handle or a range never moves)."""
    from addin.excel.calls import parse
    from addin.excel.pool import LARGE_COST
    from udfs.live import is_live

    name = data.get("func_name")
    fn = STREAMS.get(name.strip().upper()) if isinstance(name, str) else None
    if fn is None:
        raise Refused(404, f"no streaming function {str(name)[:64]!r}; there are {', '.join(STREAMS)}")
    try:
        body = json.dumps({**data, "func_name": fn.lower()}).encode()
    except (TypeError, ValueError):  # a binary attachment, or a number JSON has no text for
        raise Refused(400, "a streaming call's arguments are JSON values (no binary attachments)") from None
    call = parse(body, max_cells, max_result_cells)
    cell = _market_cell(call)
    if not isinstance(cell, str) or not is_live(cell):
        raise Refused(400, "market: a live function needs a live market (deribit, deribit-test, deribit:ws://..., replay:FILE)")
    if call.cost >= LARGE_COST:  # the HTTP rule's bound: such a call would go to a worker lane
        raise Refused(
            413,
            f"a live cell recomputes in the server process on every new snapshot, so its cost is below "
            f"{LARGE_COST:,} (this call: {call.cost:,}); "
            f"quote a larger request with CQ.{fn} and recalculate",
        )
    return call


def market_version(call: Call) -> Look:
    """What a stream's result reads that can move by itself: the content versions of the
    currencies it reads in its live market's snapshot and whether that snapshot is stale (or
    the reason the market cannot be had), with the source to be woken by."""
    from udfs.live import source

    try:
        src = source(str(_market_cell(call)))
        snap = src.current()
    except Exception as exc:  # the call itself reports why; here only that it is so
        return Look(("unavailable", type(exc).__name__), UNAVAILABLE_LOOK_S)
    age, limit = snap.age_s(), snap.max_age_s
    stale = age > limit
    versions = getattr(snap, "versions", None)
    if versions:
        read: object = tuple((c, versions[c]) for c in currencies_read(call, tuple(versions)))
    else:  # a snapshot without versions: every new one may differ
        read = snap.snapshot_id
    seq = getattr(getattr(snap, "feed", None), "snapshot_id", None)
    return Look((read, stale), None if stale else limit - age + STALE_MARGIN_S, src, seq)


def currencies_read(call: Call, currencies: tuple[str, ...]) -> tuple[str, ...]:
    """The currencies of ``currencies`` a streaming call's result reads (all when it cannot tell).

    ``MARKET_INFO`` reads every one. An RFQ reads those named in a text cell of its arguments
    other than the market (an instrument ``BTC-27MAR26-100000-C``, an underlying column ``ETH``,
    a parameter): a quote prices its legs and its portfolio on their own currencies' chains
    and surfaces. A handle (text with ``#``) hides what it holds, and an RFQ naming none of
    them is the engine's to judge: all then."""
    if call.name != "RFQ":
        return currencies
    at = [a.name for a in _catalogue()[call.name].args].index("market")
    texts = [cell.upper() for i, arg in enumerate(call.args) if i != at for cell in _cells(arg) if isinstance(cell, str)]
    if any("#" in t for t in texts):
        return currencies
    named = tuple(c for c in currencies if any(re.search(rf"(?<![A-Z0-9]){re.escape(c.upper())}(?![A-Z0-9])", t) for t in texts))
    return named or currencies


def _cells(arg: Any) -> list[Any]:
    if isinstance(arg, list):
        return [c for row in arg for c in (row if isinstance(row, list) else [row])]
    return [arg]


def _catalogue() -> Any:
    from udfs import CATALOGUE

    return CATALOGUE


def _address(environ: dict[str, Any]) -> str:
    """The client address of an engine.io handshake (ASGI's ``client``; else ``REMOTE_ADDR``)."""
    client = (environ.get("asgi.scope") or {}).get("client")
    if client:
        return str(client[0])
    return str(environ.get("REMOTE_ADDR", "?"))


#: Tasks closing sessions (held so the loop does not drop them before they run).
_closing: set[asyncio.Task[None]] = set()


def _market_cell(call: Call) -> Any:
    """The ``market`` argument of an admitted call as one cell (None when it is not one cell)."""
    from udfs import CATALOGUE

    at = [a.name for a in CATALOGUE[call.name].args].index("market")
    market = call.args[at] if at < len(call.args) else None
    if isinstance(market, list):
        return market[0][0] if len(market) == 1 and len(market[0]) == 1 else None
    return market
