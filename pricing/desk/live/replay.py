"""A recording served on loopback as a Deribit API v2 endpoint, so a replay runs the live client's code.

Requests are answered with the recorded response to the same method and parameters (in
recorded order, the last one repeated when they run out), the id rewritten to the request's.
After the first ``public/subscribe`` the recorded notifications are sent at their recorded
spacing divided by the speed (``inf``: back to back). Heartbeat frames are not replayed (the
replay never closes a connection for an unanswered ``test_request``). When the recording ends
the server stays up and silent: the source's snapshots then go stale, as they would live. The
stream position is shared, so a reconnect resumes where the replay was.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from pricing.desk.live import protocol as rpc
from pricing.desk.live.record import iter_frames
from pricing.errors import DataError

PATH = "/ws/api/v2"


def _key(method: str, params: Any) -> str:
    return json.dumps([method, params], sort_keys=True)


class ReplayServer:
    """Serve one recording on 127.0.0.1 (ephemeral port).

    Parameters
    ----------
    path : Path
        The recording.
    speed : float
        Replay speed (1 = as recorded).
    """

    def __init__(self, path: Path, speed: float) -> None:
        self.path = path
        self.speed = speed
        self.responses: dict[str, list[str]] = defaultdict(list)
        self.by_method: dict[str, list[str]] = defaultdict(list)
        #: How many notifications the recording holds (they are read from the file as they are sent).
        self.notifications = 0
        self.started_mono = math.nan
        self.finished_mono = math.nan
        self._cursor: dict[str, int] = defaultdict(int)
        self.position = 0
        self.finished = asyncio.Event()
        self._streaming: asyncio.Task[None] | None = None
        self._clients: set[ServerConnection] = set()
        self._server: Server | None = None
        self.url = ""
        self._index()

    def _index(self) -> None:
        asked: dict[int, tuple[str, Any]] = {}
        for f in iter_frames(self.path, skip_notifications=True):
            if f.direction == "meta":
                continue
            if not f.text:
                self.notifications += 1
                continue
            try:
                msg = json.loads(f.text)
            except ValueError:
                continue  # a malformed frame the venue sent is replayed only if it was a notification-shaped one
            if f.direction == "out" and isinstance(msg, dict) and isinstance(msg.get("id"), int):
                asked[msg["id"]] = (str(msg.get("method")), msg.get("params"))
                continue
            kind = rpc.classify(f.text)
            if isinstance(kind, (rpc.Response, rpc.ErrorResponse)) and kind.request_id in asked:
                method, params = asked[kind.request_id]
                self.responses[_key(method, params)].append(f.text)
                self.by_method[method].append(f.text)
            elif isinstance(kind, rpc.Notification):
                self.notifications += 1
        if not self.by_method.get("public/get_book_summary_by_currency"):
            raise DataError(f"{self.path.name}: the recording has no book summary to start from")

    @classmethod
    async def start(cls, path: Path, speed: float) -> ReplayServer:
        """Start serving on 127.0.0.1 with an ephemeral port (``url`` names it).

        Parameters
        ----------
        path : Path
            The recording.
        speed : float
            Replay speed.

        Returns
        -------
        ReplayServer
            The server itself, listening on 127.0.0.1 at its ephemeral port.
        """
        self = cls(path, speed)
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None, max_size=2**26)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}{PATH}"
        return self

    async def close(self) -> None:
        """Stop streaming and close the server.

        Returns
        -------
        None
            Nothing: the server has stopped and its port is released.
        """
        if self._streaming is not None:
            self._streaming.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _answer(self, method: str, params: Any) -> str | None:
        key = _key(method, params)
        pool = self.responses.get(key) or self.by_method.get(method)
        if not pool:
            return None
        i = self._cursor[key]
        self._cursor[key] = i + 1
        return pool[min(i, len(pool) - 1)]

    async def _handler(self, ws: ServerConnection) -> None:
        if ws.request is None or ws.request.path != PATH:
            await ws.close(1008, "unknown path")
            return
        self._clients.add(ws)
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                    rid, method, params = msg["id"], str(msg["method"]), msg.get("params") or {}
                except (ValueError, KeyError, TypeError):
                    continue
                recorded = self._answer(method, params)
                if method == "public/test":
                    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "result": {"version": "replay"}}
                elif recorded is None:
                    reply = {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"not in the recording: {method}"}}
                else:
                    reply = json.loads(recorded)
                    reply["id"] = rid
                await ws.send(json.dumps(reply))
                if method == "public/subscribe" and self._streaming is None:
                    self._streaming = asyncio.ensure_future(self._stream())
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(ws)

    async def _stream(self) -> None:
        """The notifications at their recorded spacing / speed, to every connected client."""
        loop = asyncio.get_running_loop()
        self.started_mono = loop.time()  # the loop's clock is time.monotonic()
        t_first: float | None = None
        sent = 0
        for frame in iter_frames(self.path):
            if t_first is None and frame.direction != "meta":
                t_first = frame.t  # the recording's start (its bootstrap): the spacing to the first marks is kept
            # Notifications only (responses were answered per request; heartbeats are not replayed). The
            # method sits at the head of the frame, so the whole frame is parsed once, by the client.
            if frame.direction != "in" or '"subscription"' not in frame.text[:120]:
                continue
            if sent < self.position:
                sent += 1
                continue  # a reconnect resumes where the replay was
            if not math.isinf(self.speed) and t_first is not None:
                delay = self.started_mono + (frame.t - t_first) / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif sent % 8 == 0:
                await asyncio.sleep(0)  # let the client's reader run between bursts
            for ws in list(self._clients):
                try:
                    await ws.send(frame.text)
                except ConnectionClosed:
                    pass
            sent += 1
            self.position = sent
        self.finished_mono = loop.time()
        self.finished.set()
