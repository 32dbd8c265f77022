"""Shared by the FIX gateway tests: the instruments they quote, the bundled market's time the
acceptor's admission clock starts at, and a free loopback port for each acceptor."""

from __future__ import annotations

import socket

NAME = "BTC-25SEP26-65000-C"  # listed in the bundled 2026-08-21 chain
OTHER = "BTC-25SEP26-70000-C"
#: The bundled market's time: the acceptor's admission clock starts there (its options expired in real time).
MARKET_TIME = "2026-08-21T09:47:29+00:00"


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
