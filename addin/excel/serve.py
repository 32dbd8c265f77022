"""``clearquote serve``: the Office.js server (xlwings Server on uvicorn), authenticated and bounded.

In front of xlwings Server's app sits :class:`Guard`, an ASGI layer, in this order:

1. **Auth first.** Every request but the few Office.js fetches without a token (the manifest,
   the task pane, static files, the functions' metadata and code: :data:`PUBLIC`) and CORS
   preflights is authenticated from its headers, by xlwings Server's own providers (token or
   Entra ID), before a byte of its body is read: 401 otherwise, whatever the path, so an
   anonymous client learns nothing (not even which routes exist).
2. **Bounded reading.** A body over :data:`MAX_BODY` is refused (413) from its
   ``Content-Length`` or as it streams; the whole body must arrive within
   :data:`BODY_TIMEOUT` seconds (408). Slow headers are cut by :mod:`addin.excel.protocol`.
3. **Admission** (:func:`addin.excel.calls.parse`): malformed or deep JSON, an unknown
   function (any case), a wrong arity, an odd argument shape: 4xx with a short message that
   never echoes the request; an argument over :data:`~addin.excel.calls.MAX_CELLS` cells, or a
   result bounded from the argument shapes over
   :data:`~addin.excel.calls.MAX_RESULT_CELLS` cells: 413 naming the limit.
4. **Fair, isolated work.** A costly or heavy call runs in a worker process as its user
   (:mod:`addin.excel.pool`; costly calls and heavy functions in separate lanes), and at most
   :data:`PER_USER` of one user's costly calls run at once: the rest of that user's queue
   behind them, not in front of other users'. A worker
   that dies is replaced and its call answered 503 with ``Retry-After``. Everything else
   (light calls, and calls that make, read or list a handle) and every body's parse runs in
   the server process's own bounded thread pool (:data:`LOCAL_THREADS`) in the user's handle
   scope, and at most :data:`LOCAL_PER_USER` of one user's at once (:meth:`Guard.here`), so
   no user can fill the threads and stall another user's one-cell call. The guard answers every call itself, as xlwings
   Server would: xlwings Server's own argument conversion spends about 57 us a cell on the
   event loop (a failed ``pyodide`` import per cell), so a 20,000-cell call held everyone's
   loop for a second. xlwings Server still serves the manifest, metadata, code and static files.
5. **Streaming functions** (``CQ.LIVE_QUOTE``, ``CQ.LIVE_MARKET``): socket.io under
   ``/socket.io/`` goes to :class:`addin.excel.stream.Streams`, never to xlwings Server's own
   socket.io handlers; the handshake is authenticated by the same providers as every request.
6. **Answers are always encodable**: a lone surrogate in a reason is ``?``, never a 500.
7. **Shutdown** ends the worker pool (no worker outlives the server).

The server refuses to start with token auth and no tokens file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from addin.errors import UsageError
from addin.excel.calls import MAX_CELLS, MAX_RESULT_BYTES, MAX_RESULT_CELLS, Call, Refused

T = TypeVar("T")

PROJECT = Path(__file__).resolve().parent / "server"
CALL_PATH = "/xlwings/custom-functions-call"
SCRIPTS_PATH = "/xlwings/custom-scripts-call"
#: Bytes of one request body.
MAX_BODY = 32 * 2**20
#: Seconds for a whole request body to arrive once its headers have.
BODY_TIMEOUT = 30.0
#: Costly calls of one user running at once (the rest of that user's wait their turn).
PER_USER = 1
#: Calls of one user running at once in the server process's threads (parse, light calls,
#: handle calls): the rest of that user's wait, so no user can hold every thread.
LOCAL_PER_USER = 2
#: Threads of the server process that run calls (parse, light and handle calls); its own
#: bounded executor, not asyncio's default one. More than ``LOCAL_PER_USER``: with that gate
#: a user holds at most 2 of them, the others stay free for other users.
LOCAL_THREADS = 8
#: Bodies from this size are parsed in a worker process, never in the server's.
LARGE_BYTES = 256 * 1024
#: Paths Office.js fetches without the user's token: the add-in must load before sign-in.
PUBLIC = frozenset(
    {
        "/",
        "/manifest",
        "/manifest.xml",
        "/manifest/download",
        "/taskpane.html",
        "/favicon.ico",
        "/xlwings/custom-functions-meta",
        "/xlwings/custom-functions-meta.json",
        "/xlwings/custom-functions-code",
        "/xlwings/custom-functions-code.js",
        "/xlwings/custom-scripts-meta",
        "/xlwings/custom-scripts-meta.json",
    }
)
PUBLIC_PREFIXES = ("/static/",)
#: Where socket.io (the streaming functions) is served; authenticated in its own handshake.
SOCKETIO_PATH = "/socket.io/"

log = logging.getLogger("clearquote.serve")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Reply(Exception):
    def __init__(self, status: int, text: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(text)
        self.status, self.text, self.headers = status, text, headers


class ServeError(UsageError):
    """The server cannot start as configured (no auth provider, no tokens file); exit 2 from the CLI."""


class Guard:
    """Auth, bounds, admission and fair scheduling before xlwings Server sees a request."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        max_body: int = MAX_BODY,
        max_cells: int = MAX_CELLS,
        max_result_cells: int = MAX_RESULT_CELLS,
        max_result_bytes: int = MAX_RESULT_BYTES,
        body_timeout: float = BODY_TIMEOUT,
        per_user: int = PER_USER,
        local_per_user: int = LOCAL_PER_USER,
        local_threads: int = LOCAL_THREADS,
    ) -> None:
        self.app, self.max_body, self.max_cells = app, max_body, max_cells
        self.max_result_cells, self.max_result_bytes = max_result_cells, max_result_bytes
        self.body_timeout, self.per_user = body_timeout, per_user
        self.local_per_user = local_per_user
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._local_gates: dict[str, asyncio.Semaphore] = {}
        self._threads = ThreadPoolExecutor(max_workers=local_threads, thread_name_prefix="clearquote-call")
        self.streams: Any = None

    def stream(self, **bounds: Any) -> Guard:
        """Serve the streaming functions (:mod:`addin.excel.stream`) on ``/socket.io/``;
        ``bounds``: :class:`~addin.excel.stream.Streams`' interval and per-user limits."""
        from xlwings_server.config import settings

        from addin.excel.stream import Streams

        prefix = os.environ.get("XLWINGS_APP_PATH", "").rstrip("/")
        self.streams = Streams(authenticate_token, self.here, f"{prefix}/socket.io", settings.cors_allow_origins, **bounds)
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _ending_pool(send))
            return
        path = _route(scope) if scope["type"] in ("http", "websocket") else ""
        if path.startswith(SOCKETIO_PATH):
            if self.streams is not None:
                await self.streams.asgi(scope, receive, send)
            elif scope["type"] == "http":
                await _reply(send, 404, "clearquote: no streaming functions on this server")
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "OPTIONS" or path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            user = await authenticate(scope)
            if path == CALL_PATH and scope.get("method") == "POST":
                await self.call(scope, receive, send, user)
            elif path.startswith(SCRIPTS_PATH):
                raise _Reply(404, "clearquote has no custom scripts")
            else:
                await self.app(scope, receive, send)
        except _Reply as r:
            await _reply(send, r.status, r.text, headers=r.headers)

    async def call(self, scope: Scope, receive: Receive, send: Send, user: str) -> None:
        """One authenticated custom-function call, from its body to its answer."""
        body = await self.read(scope, receive)
        from addin.excel import pool

        if len(body) >= LARGE_BYTES:  # not even parsed here
            async with self.gate(user):
                if await self.in_worker(send, "bulk", body, user):
                    return
        try:
            call = await self.here(user, _parse, body, self.max_cells, self.max_result_cells)
        except Refused as r:
            raise _Reply(r.status, r.message) from None
        lane = pool.offload(call)
        if lane is not None:
            async with self.gate(user):
                await self.in_worker(send, lane, call.body(), user)
        elif pool.costly(call):  # a heavy call on a handle: here, but in the user's own queue
            async with self.gate(user):
                await _reply(send, *await self.here(user, pool.respond, call, user, self.max_result_bytes))
        else:
            await _reply(send, *await self.here(user, pool.respond, call, user, self.max_result_bytes))

    async def here(self, user: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the server process's call threads, behind ``user``'s own
        gate: at most :data:`LOCAL_PER_USER` of one user's calls hold a thread at once."""
        gate = self._local_gates.get(user)
        if gate is None:
            gate = self._local_gates[user] = asyncio.Semaphore(self.local_per_user)
        async with gate:
            return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def read(self, scope: Scope, receive: Receive) -> bytes:
        try:
            declared = int(_header(scope, b"content-length") or 0)
        except ValueError:
            raise _Reply(400, "Content-Length is not a number") from None
        if declared > self.max_body:
            raise _Reply(413, f"request body over {self.max_body // 2**20} MiB (the limit)")
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise _Reply(408, f"the request body did not arrive within {self.body_timeout:g} s") from None
            if message.get("type") == "http.disconnect":
                raise _Reply(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = message.get("more_body", False)
            if size > self.max_body:
                raise _Reply(413, f"request body over {self.max_body // 2**20} MiB (the limit)")
        return b"".join(chunks)

    def gate(self, user: str) -> asyncio.Semaphore:
        """The user's own queue for costly calls (created on first use, one per user)."""
        gate = self._gates.get(user)
        if gate is None:
            gate = self._gates[user] = asyncio.Semaphore(self.per_user)
        return gate

    async def in_worker(self, send: Send, lane: str, body: bytes, user: str) -> bool:
        """Answer a call in a worker process of ``lane`` as ``user``; False if it must run here (handles)."""
        from addin.excel import pool

        try:
            status, text, kind = await pool.submit(
                lane, pool.answer, body, user, self.max_cells, self.max_result_cells, self.max_result_bytes
            )
        except pool.WorkerLost:
            raise _Reply(
                503, "the worker running this call stopped; it has been replaced: try again", _retry_after(pool.RETRY_AFTER)
            ) from None
        if status == 0:
            return False
        await _reply(send, status, text, kind)
        return True


def _parse(body: bytes, max_cells: int, max_result_cells: int) -> Call:
    from addin.excel.calls import parse

    return parse(body, max_cells, max_result_cells)


def _route(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    prefix = os.environ.get("XLWINGS_APP_PATH", "").rstrip("/")
    return path[len(prefix) :] or "/" if prefix and path.startswith(prefix) else path


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers") or []:
        if k == name:
            return bytes(v)
    return None


def _retry_after(seconds: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"retry-after", str(seconds).encode()),)


async def authenticate(scope: Scope) -> str:
    """The user id of the request's credentials, by xlwings Server's configured providers and
    required roles, from the headers alone; :class:`_Reply` 401/403 otherwise."""
    token = (_header(scope, b"authorization") or b"").decode("latin-1")
    provider = _header(scope, b"auth-provider")
    return await authenticate_token(token, provider.decode("latin-1") if provider else None)


async def authenticate_token(token: str, provider: str | None) -> str:
    """The user id of ``token`` by xlwings Server's configured providers and required roles
    (HTTP headers and the socket.io handshake alike); :class:`_Reply` 401/403 otherwise."""
    from fastapi import HTTPException
    from xlwings_server import dependencies
    from xlwings_server.config import settings

    try:
        user = await dependencies.authenticate(token_string=token, auth_provider=provider)
        if not await user.has_required_roles(settings.auth_required_roles) or not await user.is_authorized():
            raise _Reply(403, "clearquote: this user may not use the server")
    except HTTPException as exc:
        status = exc.status_code if 400 <= exc.status_code < 500 else 401
        raise _Reply(status, "clearquote: a valid token is required" if status == 401 else str(exc.detail)[:200]) from None
    return str(user.id)


def _ending_pool(send: Send) -> Send:
    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message.get("type") == "lifespan.shutdown.complete":
            from addin.excel import pool

            await asyncio.to_thread(pool.shutdown)
        await send(message)

    return wrapped


async def _reply(
    send: Send, status: int, text: str, kind: str = "text/plain; charset=utf-8", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = text.encode("utf-8", errors="replace")  # a lone surrogate (from a cell's text) is "?", never a 500
    head = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def configure(tokens: str | None = None) -> None:
    """The environment xlwings Server reads at import: project, namespace, auth on by default."""
    os.environ.setdefault("XLWINGS_PROJECT_DIR", str(PROJECT))
    os.environ.setdefault("XLWINGS_FUNCTIONS_NAMESPACE", "CQ")
    os.environ.setdefault("XLWINGS_ENVIRONMENT", "prod")
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    os.environ.setdefault("XLWINGS_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("XLWINGS_AUTH_PROVIDERS", '["custom"]')
    # The served pages load the socket.io client only with this on; the guard sends socket.io
    # to clearquote's own streaming server (addin.excel.stream), never to xlwings Server's.
    os.environ.setdefault("XLWINGS_ENABLE_SOCKETIO", "true")
    if tokens:
        os.environ["CLEARQUOTE_TOKENS_FILE"] = str(Path(tokens).resolve())


def app(tokens: str | None = None, live: list[str] | None = None, **stream_bounds: Any) -> Guard:
    """The guarded ASGI app (xlwings Server's, configured by :func:`configure`), streaming the
    live markets ``live`` (the only ones a cell may name; none by default)."""
    configure(tokens)
    from udfs.live import offer

    try:
        offer(live or [])  # as a list: ``deribit#BTC,ETH`` is one spec
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    providers = json.loads(os.environ["XLWINGS_AUTH_PROVIDERS"] or "[]")
    if not providers:
        raise ServeError("XLWINGS_AUTH_PROVIDERS is empty: the server would let anyone in; name a provider (custom, entraid)")
    if "custom" in providers:
        path = os.environ.get("CLEARQUOTE_TOKENS_FILE")
        if not path or not Path(path).is_file():
            raise ServeError("token auth needs --tokens FILE (make one: clearquote token USER --tokens FILE)")
    import xlwings_server.main

    return Guard(xlwings_server.main.main_app).stream(**stream_bounds)


def serve(
    host: str, port: int, tokens: str | None, warm: Callable[[], object] | None = None, live: list[str] | None = None
) -> int:
    """Run the guarded app on uvicorn until stopped; ``warm`` (the command line's kernel
    warm-up) runs here and in every worker before the first call, so no user's call pays it."""
    import uvicorn

    from addin.excel import pool
    from addin.excel.protocol import HEADER_TIMEOUT, HeaderTimeoutProtocol

    guarded = app(tokens, live)
    if warm is not None:
        warm()
        pool.set_warm(warm)
    print(f"clearquote serve: http://{host}:{port} (auth {os.environ['XLWINGS_AUTH_PROVIDERS']}, namespace CQ)")
    try:
        uvicorn.run(
            guarded, host=host, port=port, log_level="warning", http=HeaderTimeoutProtocol, timeout_keep_alive=int(HEADER_TIMEOUT)
        )
    finally:
        pool.shutdown()
    return 0
