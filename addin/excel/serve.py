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

import json
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "server"
CALL_PATH = "/xlwings/custom-functions-call"
MAX_BODY = 32 * 2**20
MAX_CELLS = 1_000_000

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _cells(value: Any) -> int:
    if isinstance(value, list):
        return sum(_cells(v) for v in value) if value and isinstance(value[0], list) else len(value)
    return 1


class Guard:
    """Size, name and arity checks before xlwings Server sees a custom-function call."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_body: int = MAX_BODY, max_cells: int = MAX_CELLS) -> None:
        from udfs import CATALOGUE

        self.app, self.max_body, self.max_cells = app, max_body, max_cells
        self.arity = {spec.name.lower(): (sum(not a.optional for a in spec.args), len(spec.args)) for spec in CATALOGUE.values()}

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
        problem = self.check(body)
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

    def check(self, body: bytes) -> tuple[int, str] | None:
        try:
            data = json.loads(body)
        except ValueError:
            return 400, "the request body is not JSON"
        if not isinstance(data, dict):
            return 400, "the request body is not a JSON object"
        name = str(data.get("func_name", ""))[:64]
        if name.lower() not in self.arity:
            return 404, f"no catalogue function {name!r}"
        args = data.get("args")
        if not isinstance(args, list):
            return 400, "'args' must be a JSON array"
        lo, hi = self.arity[name.lower()]
        if not lo <= len(args) <= hi:
            span = f"{lo}" if lo == hi else f"{lo} to {hi}"
            return 400, f"CQ.{name.upper()} takes {span} arguments, got {len(args)}"
        for i, a in enumerate(args, 1):
            if _cells(a) > self.max_cells:
                return 413, f"argument {i} has more than {self.max_cells:,} cells"
        return None


async def _reply(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
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
    from addin.headless.values import BookError

    providers = json.loads(os.environ["XLWINGS_AUTH_PROVIDERS"] or "[]")
    if not providers:
        raise BookError("XLWINGS_AUTH_PROVIDERS is empty: the server would let anyone in; name a provider (custom, entraid)")
    if "custom" in providers:
        path = os.environ.get("CLEARQUOTE_TOKENS_FILE")
        if not path or not Path(path).is_file():
            raise BookError("token auth needs --tokens FILE (make one: clearquote token USER --tokens FILE)")
    import xlwings_server.main

    return Guard(xlwings_server.main.main_app)


def serve(host: str, port: int, tokens: str | None) -> int:
    import uvicorn

    guarded = app(tokens)
    print(f"clearquote serve: http://{host}:{port} (auth {os.environ['XLWINGS_AUTH_PROVIDERS']}, namespace CQ)")
    uvicorn.run(guarded, host=host, port=port, log_level="warning")
    return 0
