"""``clearquote serve``: the Office.js server (xlwings Server on uvicorn), authenticated and bounded.

In front of xlwings Server's app sits :class:`Guard`, an ASGI layer for the custom-function
endpoint: the request body is capped (413), the function name must be the catalogue's (404,
never xlwings Server's 500, which Office.js retries three times), the argument count must fit
the function (400), and no argument may exceed :data:`MAX_CELLS` cells (413). Messages are
short and never echo the request. Authentication is on by default: the token provider
(:mod:`addin.excel.tokens`) unless ``XLWINGS_AUTH_PROVIDERS`` names another (Entra ID); the
server refuses to start with token auth and no tokens file.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from addin.errors import UsageError

PROJECT = Path(__file__).resolve().parent / "server"
CALL_PATH = "/xlwings/custom-functions-call"
MAX_BODY = 32 * 2**20
MAX_CELLS = 1_000_000
#: Bodies from this size are parsed and answered in a worker process (about 20,000 cells).
LARGE_BYTES = 256 * 1024

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ServeError(UsageError):
    """The server cannot start as configured (no auth provider, no tokens file); exit 2 from the CLI."""


def _cells(value: Any) -> int:
    if isinstance(value, list):
        return sum(_cells(v) for v in value) if value and isinstance(value[0], list) else len(value)
    return 1


class Guard:
    """Size, name and arity checks before xlwings Server sees a custom-function call."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_body: int = MAX_BODY, max_cells: int = MAX_CELLS) -> None:
        self.app, self.max_body, self.max_cells = app, max_body, max_cells

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).endswith(CALL_PATH):
            await self.app(scope, receive, send)
            return
        size = int(dict(scope.get("headers") or []).get(b"content-length", b"0") or 0)
        if size > self.max_body:
            await _reply(send, 413, f"request body over {self.max_body // 2**20} MiB")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _reply(send, 413, f"request body over {self.max_body // 2**20} MiB")
                return
        if await self.large(body, scope, send):
            return
        _, problem = await asyncio.to_thread(self.check, body)  # a large body parses off the loop
        if problem is not None:
            await _reply(send, *problem)
            return
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def check(self, body: bytes) -> tuple[dict[str, Any], tuple[int, str] | None]:
        from addin.excel.pool import check_call

        try:
            data = json.loads(body)
        except ValueError:
            return {}, (400, "the request body is not JSON")
        return data, check_call(data, self.max_cells)

    async def large(self, body: bytes, scope: Scope, send: Send) -> bool:
        """Answer a large call here, in a worker process, never on xlwings Server's event loop.

        xlwings Server parses and converts a request's arguments and result on its event loop:
        a 200,000-cell call stalled every other user's one-cell call for seconds (light p99
        25 s under ``clearquote bench-server``). A body over :data:`LARGE_BYTES` is
        authenticated here with the same token check, and the raw bytes go to a worker, which
        parses, checks, runs and serialises it and answers as xlwings Server would (Excel
        errors as Office.js error values), unless the call makes or reads a handle (handles
        live in this process): then it takes xlwings Server's path. Only with token auth and
        no required roles.
        """
        if len(body) < LARGE_BYTES or not self.tokens_only:
            return False
        from addin.excel import pool
        from addin.excel.tokens import check_token

        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if check_token(header) is None:
            await _reply(send, 401, "clearquote: a valid token is required")
            return True
        status, text, kind = await asyncio.get_running_loop().run_in_executor(pool.pool(), pool.answer, body, self.max_cells)
        if status == 0:
            return False
        await _reply(send, status, text, kind)
        return True

    @property
    def tokens_only(self) -> bool:
        providers = json.loads(os.environ.get("XLWINGS_AUTH_PROVIDERS") or "[]")
        return providers == ["custom"] and not json.loads(os.environ.get("XLWINGS_AUTH_REQUIRED_ROLES") or "[]")


async def _reply(send: Send, status: int, text: str, kind: str = "text/plain; charset=utf-8") -> None:
    body = text.encode()
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def configure(tokens: str | None = None) -> None:
    """The environment xlwings Server reads at import: project, namespace, auth on by default."""
    os.environ.setdefault("XLWINGS_PROJECT_DIR", str(PROJECT))
    os.environ.setdefault("XLWINGS_FUNCTIONS_NAMESPACE", "CQ")
    os.environ.setdefault("XLWINGS_ENVIRONMENT", "prod")
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    os.environ.setdefault("XLWINGS_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("XLWINGS_AUTH_PROVIDERS", '["custom"]')
    if tokens:
        os.environ["CLEARQUOTE_TOKENS_FILE"] = str(Path(tokens).resolve())


def app(tokens: str | None = None) -> Guard:
    """The guarded ASGI app (xlwings Server's, configured by :func:`configure`)."""
    configure(tokens)
    providers = json.loads(os.environ["XLWINGS_AUTH_PROVIDERS"] or "[]")
    if not providers:
        raise ServeError("XLWINGS_AUTH_PROVIDERS is empty: the server would let anyone in; name a provider (custom, entraid)")
    if "custom" in providers:
        path = os.environ.get("CLEARQUOTE_TOKENS_FILE")
        if not path or not Path(path).is_file():
            raise ServeError("token auth needs --tokens FILE (make one: clearquote token USER --tokens FILE)")
    import xlwings_server.main

    return Guard(xlwings_server.main.main_app)


def serve(host: str, port: int, tokens: str | None) -> int:
    import uvicorn

    guarded = app(tokens)
    print(f"clearquote serve: http://{host}:{port} (auth {os.environ['XLWINGS_AUTH_PROVIDERS']}, namespace CQ)")
    uvicorn.run(guarded, host=host, port=port, log_level="warning")
    return 0
