"""uvicorn's HTTP/1.1 protocol with a deadline on request headers.

uvicorn cuts an idle keep-alive connection but not one that sends its headers a byte at a
time: each such connection held a socket and a protocol object for as long as the client
liked. :class:`HeaderTimeoutProtocol` closes a connection whose request line and headers are
not complete :data:`HEADER_TIMEOUT` seconds after the connection opened or its previous
response ended. The body's own deadline is the server's (``addin.excel.serve.BODY_TIMEOUT``).

The deadline is the HTTP protocol's only while it owns the connection: a WebSocket upgrade
(the socket.io streams of ``=CQ.LIVE_*`` cells) hands the transport to uvicorn's WebSocket
protocol, which has its own keep-alive pings. The deadline is disarmed at the upgrade, and a
deadline that fires anyway (already due on the loop) leaves a transport it no longer owns
alone: before, every streaming connection was cut :data:`HEADER_TIMEOUT` seconds after it
opened (the client saw ``transport close`` and its cells "Stream disconnected").
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds for a request line and its headers to arrive (env ``CLEARQUOTE_HEADER_TIMEOUT``).
HEADER_TIMEOUT = float(os.environ.get("CLEARQUOTE_HEADER_TIMEOUT") or 10.0)


class HeaderTimeoutProtocol(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose headers come too slowly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.get_protocol() is not self:  # upgraded: the WebSocket protocol's now
            return
        if self._waiting_for_headers() and not self.transport.is_closing():
            self.transport.close()

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._disarm()  # the request's headers are complete; the connection leaves HTTP
        super().handle_websocket_upgrade(event)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_headers():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
