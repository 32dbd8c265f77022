"""Office.js streaming functions over socket.io: ``=CQ.LIVE_QUOTE(...)``, ``=CQ.LIVE_MARKET(...)``.

The custom-functions code xlwings Server serves runs a streaming function by emitting
``xlwings:function-call`` (``func_name``, ``args``, ``task_key``) on its socket.io connection and
setting the cell from every ``xlwings:set-result-{task_key}`` event; ``xlwings:cancel-task`` when
the cell goes away. This module is the server side of that protocol, in place of xlwings
Server's own (which sends every result to every connection and shares one task between all
connections with the same ``task_key``: a user's cell would receive another user's numbers):

- **Auth in the handshake.** socket.io sends the token in its connect packet (``auth``), not in
  HTTP headers, so :class:`Streams` authenticates it there with the same providers and roles as
  every HTTP call (:func:`addin.excel.serve.authenticate_token`). No valid token: the connection
  is refused (``connect_error`` with the reason), before any event is read.
- **Per-user isolation.** A stream belongs to one connection (key: connection id and
  ``task_key``); its results are sent to that connection only; it is computed in its user's
  handle scope, as that user's HTTP calls are (another user's handle text does not resolve).
- **What streams.** ``LIVE_QUOTE`` is ``CQ.RFQ`` and ``LIVE_MARKET`` is ``CQ.MARKET_INFO`` (same
  arguments, same admission: :func:`addin.excel.calls.parse`), on a *live* market (a spec the
  server offers: :mod:`udfs.live`); a handle or a range is refused (it never moves). A stream
  recomputes when the live snapshot changes or the market turns stale/fresh, and sends a result
  only when it differs from the last one sent.
- **Bounds.** At most :data:`MAX_STREAMS_PER_USER` streams and :data:`MAX_CONNECTIONS_PER_USER`
  connections per user; at most one look at the market per :data:`INTERVAL_S` per stream (so at
  most one update per interval per cell); every computation runs in the server's call threads
  behind the user's own gate (:meth:`addin.excel.serve.Guard.here`). A disconnect cancels every
  stream of the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
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
#: Seconds between two looks at a stream's market (at most one update per cell per interval).
INTERVAL_S = 1.0
#: Characters of a ``task_key`` (the client makes it from the function name and arguments).
MAX_TASK_KEY = 4096
#: Bytes of one socket.io message (a call's arguments).
MAX_MESSAGE = 1 * 2**20

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
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("xlwings:function-call", self.function_call)
        self.sio.on("xlwings:cancel-task", self.cancel_task)

    # ------------------------------------------------------------------ events

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
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
        self.connections[sid] = _Connection(user)

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
        async for result in results(call, user, self.here, self.interval_s):
            await self.sio.emit(event, {"result": result}, to=sid)

    async def _error(self, sid: str, key: str, reason: str) -> None:
        await self.sio.emit(f"xlwings:set-result-{key}", {"result": [[f"ERROR: {reason[:300]}"]]}, to=sid)


async def results(call: Call, user: str, here: Here, interval_s: float) -> AsyncIterator[Any]:
    """The successive results of a streaming ``call`` made by ``user`` (Office.js JSON rows; a
    failure as one ``ERROR: reason`` cell, the reason never echoing a cell): the first at once,
    then one whenever the market's version moved and the result with it, looked at every
    ``interval_s`` seconds. ``here`` runs a function off the event loop as the user."""
    from addin.excel import pool

    seen: object = None
    sent: str | None = None
    while True:
        version = await here(user, market_version, call)
        if version != seen:
            ok, text = await here(user, pool.run_json, call.name, call.args, call.runtime, user)
            if not ok:
                text = json.dumps({"result": [[f"ERROR: {pool.unechoed(text, call.args)[:300]}"]]})
            if text != sent:
                yield json.loads(text)["result"]
                sent = text
            seen = version
        await asyncio.sleep(interval_s)


def admit(data: dict[str, Any], max_cells: int = MAX_CELLS, max_result_cells: int = MAX_RESULT_CELLS) -> Call:
    """The catalogue call a streaming call stands for, admitted as an HTTP call is; its
    ``market`` must be a live market (a handle or a range never moves)."""
    from addin.excel.calls import parse
    from udfs.live import is_live

    name = data.get("func_name")
    fn = STREAMS.get(name.strip().upper()) if isinstance(name, str) else None
    if fn is None:
        raise Refused(404, f"no streaming function {str(name)[:64]!r}; there are {', '.join(STREAMS)}")
    body = json.dumps({**data, "func_name": fn.lower()}).encode()
    call = parse(body, max_cells, max_result_cells)
    cell = _market_cell(call)
    if not isinstance(cell, str) or not is_live(cell):
        raise Refused(400, "market: a live function needs a live market (deribit, deribit-test, deribit:ws://..., replay:FILE)")
    return call


def market_version(call: Call) -> object:
    """What a stream's result depends on that can move by itself: its live market's snapshot
    id and whether that snapshot is stale (or the reason it cannot be had)."""
    from udfs.live import source

    try:
        snap = source(str(_market_cell(call))).current()
    except Exception as exc:  # the call itself reports why; here only that it is so
        return ("unavailable", type(exc).__name__)
    return (snap.snapshot_id, snap.age_s() > snap.max_age_s)


def _market_cell(call: Call) -> Any:
    """The ``market`` argument of an admitted call as one cell (None when it is not one cell)."""
    from udfs import CATALOGUE

    at = [a.name for a in CATALOGUE[call.name].args].index("market")
    market = call.args[at] if at < len(call.args) else None
    if isinstance(market, list):
        return market[0][0] if len(market) == 1 and len(market[0]) == 1 else None
    return market
