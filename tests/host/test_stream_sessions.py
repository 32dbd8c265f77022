"""The streaming server's sessions (issue 31: 500 anonymous engine.io sessions stayed open, 2,510
tasks, +42 MB): a session that does not authenticate is closed, whatever it does.

The socket.io server of :class:`addin.excel.stream.Streams` alone (no xlwings app, no feed), on
127.0.0.1 port 0, spoken to by a raw engine.io/socket.io v4 client (``websockets``), as a hostile
client would. What each test proves:

- a handshake that never sends CONNECT is closed after the auth timeout;
- a refused CONNECT (no token, a wrong token) gets its ``connect_error`` and then the close;
- an authenticated session stays; its streaming calls with a binary attachment are answered
  with a reason;
- unauthenticated sessions per client address are bounded (the next handshake gets 401);
- a user's stream computations run one at a time over all their cells (another user's do not wait).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from addin.excel import stream
from addin.excel.stream import Streams
from tests.host.serverkit import live

AUTH_TIMEOUT_S = 0.5


async def _authenticate(token: str, provider: str | None) -> str:
    if token == "alice-token":
        return "alice"
    raise PermissionError("401")


async def _here(user: str, fn: Any, *args: Any) -> Any:
    return fn(*args)


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:

    streams = Streams(_authenticate, _here, "socket.io", "*")
    streams.auth_timeout_s = AUTH_TIMEOUT_S
    with live(streams.asgi, lifespan="auto", keep_alive_s=5) as port:
        yield {"streams": streams, "ws": f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", "port": port}


async def _closed(ws: Any, timeout: float = 15.0) -> list[str]:
    """The messages a session receives until the server closes its socket (engine.io's CLOSE
    packet ``1`` first; the socket's close well before engine.io's 45 s ping timeout)."""
    got: list[str] = []
    async with asyncio.timeout(timeout):
        async for m in ws:
            if m == "1":
                continue
            if m == "2":
                await ws.send("3")
                continue
            got.append(m)
    return got


def _wait_empty(streams: Streams) -> None:
    deadline = time.monotonic() + 15
    while (streams.addresses or streams.pending) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not streams.addresses and not streams.pending


def test_a_session_that_never_connects_is_closed(server: dict[str, Any]) -> None:
    import websockets

    async def run() -> list[str]:
        async with websockets.connect(server["ws"]) as ws:
            assert (await ws.recv()).startswith("0{")  # the engine.io handshake
            return await _closed(ws)

    assert asyncio.run(run()) == []
    _wait_empty(server["streams"])


@pytest.mark.parametrize("auth", [None, {}, {"token": "wrong"}, {"token": 5}])
def test_a_refused_connect_gets_its_reason_then_the_close(server: dict[str, Any], auth: Any) -> None:
    import websockets

    async def run() -> list[str]:
        async with websockets.connect(server["ws"]) as ws:
            await ws.recv()
            await ws.send("40" + ("" if auth is None else json.dumps(auth)))
            return await _closed(ws)

    got = asyncio.run(run())
    assert got and got[0].startswith("44") and "a valid token is required" in got[0], got
    _wait_empty(server["streams"])


def test_an_authenticated_session_stays_and_a_binary_attachment_gets_a_reason(server: dict[str, Any]) -> None:
    import websockets

    async def run() -> tuple[str, str]:
        async with websockets.connect(server["ws"]) as ws:
            await ws.recv()
            await ws.send('40{"token": "alice-token"}')
            ok = await ws.recv()
            await asyncio.sleep(AUTH_TIMEOUT_S * 3)  # past the auth timeout: still open
            call = {"func_name": "LIVE_QUOTE", "args": [{"_placeholder": True, "num": 0}], "task_key": "k1"}
            await ws.send("451-" + json.dumps(["xlwings:function-call", call]))
            await ws.send(b"\x00\x01binary")
            async with asyncio.timeout(15):
                while (m := await ws.recv()) == "2":
                    await ws.send("3")
            return ok, str(m)

    ok, answer = asyncio.run(run())
    assert ok.startswith("40{") and '"sid"' in ok
    event, data = json.loads(answer[2:])
    assert event == "xlwings:set-result-k1"
    assert data["result"][0][0].startswith("ERROR: ") and "binary" in data["result"][0][0], data
    _wait_empty(server["streams"])


def test_unauthenticated_sessions_per_address_are_bounded(server: dict[str, Any]) -> None:
    import websockets

    async def run() -> tuple[int, str]:
        held = [await websockets.connect(server["ws"]) for _ in range(stream.MAX_PENDING_PER_ADDRESS)]
        try:
            for ws in held:
                await ws.recv()
            try:
                extra = await websockets.connect(server["ws"])
            except websockets.exceptions.InvalidStatus as exc:
                refused = exc.response.status_code
            else:
                await extra.close()
                refused = 0
            for ws in held:  # every pending one is still closed by the timeout
                await _closed(ws)
            async with websockets.connect(server["ws"]) as again:  # and the address may connect again
                hello = str(await again.recv())
            return refused, hello
        finally:
            for ws in held:
                await ws.close()

    refused, hello = asyncio.run(run())
    assert refused in (401, 403)  # engine.io says 401; an ASGI websocket refused before accept is 403
    assert hello.startswith("0{")
    _wait_empty(server["streams"])


def test_a_users_stream_computations_run_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four cells of one user and one of another: at most one of the user's computations runs at
    once, while the other user's runs beside it (the bound is per user, not global)."""
    running: dict[str, int] = {}
    most: dict[str, int] = {}

    async def here(user: str, fn: Any, *args: Any) -> Any:
        for who in (user, "everyone"):
            running[who] = running.get(who, 0) + 1
            most[who] = max(most.get(who, 0), running[who])
        try:
            await asyncio.sleep(0.01)
            if fn is stream.market_version:  # a new version at every look, due again at once
                return stream.Look(object(), 0.0)
            return (True, json.dumps({"result": [[time.monotonic()]]}))
        finally:
            running[user] -= 1
            running["everyone"] -= 1

    async def run() -> None:
        streams = Streams(_authenticate, here, "socket.io", "*", interval_s=0.0)
        sent: list[str] = []

        async def emit(event: str, data: Any, to: str) -> None:
            sent.append(to)

        monkeypatch.setattr(streams.sio, "emit", emit)
        call: Any = SimpleNamespace(name="RFQ", args=[], runtime="1.4")
        tasks = [asyncio.create_task(streams._run(f"s{i}", "k", call, "alice")) for i in range(4)]
        tasks.append(asyncio.create_task(streams._run("b", "k", call, "bob")))
        while len(sent) < 40:
            await asyncio.sleep(0.01)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    from addin.excel import pool

    monkeypatch.setattr(pool, "run_json", lambda *a: None)
    asyncio.run(run())
    assert most["alice"] == 1, most
    assert most["everyone"] == 2, most  # bob's ran beside one of alice's
