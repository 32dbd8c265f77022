"""Shared by the server tests: request bodies as Office.js sends them, tokens, and the guarded
app served by uvicorn on 127.0.0.1 (an ephemeral port) in a thread of the test process."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # read when xlwings.server is imported


def body(func_name: str, args: list[Any], **extra: Any) -> dict[str, Any]:
    """A custom-function call exactly as the Office.js client sends it (xlwings 0.37.8)."""
    return {
        "client": "Office.js",
        "func_name": func_name,
        "args": args,
        "caller_address": "[Book1.xlsx]Sheet1!A1",
        "session_id": "t",
        "culture_info_name": "en-US",
        "date_format": "m/d/yyyy",
        "version": "0.37.8",
        "runtime": "1.4",
        **extra,
    }


def raw(func_name: str, args: list[Any], **extra: Any) -> bytes:
    return json.dumps(body(func_name, args, **extra)).encode()


@contextlib.contextmanager
def environment(tokens: Path) -> Iterator[None]:
    """The server's environment for a test module, restored afterwards."""
    env = {"XLWINGS_SECRET_KEY": "test-only", "XLWINGS_AUTH_PROVIDERS": '["custom"]'}
    keys = [*env, "XLWINGS_PROJECT_DIR", "XLWINGS_FUNCTIONS_NAMESPACE", "CLEARQUOTE_TOKENS_FILE"]
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_tokens(path: Path, *users: str) -> dict[str, str]:
    from addin.excel.tokens import new_token

    return {u: new_token(u, path) for u in users}


@contextlib.contextmanager
def live(guard: Any, *, lifespan: str = "off", keep_alive_s: int = 1) -> Iterator[int]:
    """``guard`` served by uvicorn (clearquote's header-deadline protocol) in a thread; yields the port.

    ``lifespan="auto"`` for an app whose start-up hooks must run (the socket.io streams' ticker)."""
    import uvicorn

    from addin.excel.protocol import HeaderTimeoutProtocol

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        guard, http=HeaderTimeoutProtocol, log_level="warning", lifespan=lifespan, timeout_keep_alive=keep_alive_s
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def exchange(port: int, data: bytes, wait: float = 30.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes or answers fully."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        return read_response(s)


def read_response(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            return out
        if not chunk:
            return out
        out += chunk
        head, sep, rest = out.partition(b"\r\n\r\n")
        if sep:
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if length and len(rest) >= length[0]:
                return out
