"""A half-close through the front loses no answer, however the client's bytes arrive (hypothesis, real sockets).

A real ``addin.fix.front.Front`` on 127.0.0.1 relays to a stand-in for QuickFIX that answers the Logon
with a Logon (as QuickFIX's acceptor does first), then echoes every byte it reads and closes when it
reads the EOF, as QuickFIX answers what it read before it reads its EOF. For any run of whole FIX
frames, cut into any pieces the client sends one by one, followed by the client's half-close
(``shutdown(SHUT_WR)``), the client reads the Logon answer and then exactly its frames, in order, and
then a clean EOF (a FIN, never a reset): the front passed the EOF on and relayed every answer first
(docs/fix-invariants.md, "A half-close loses no answer").
"""

from __future__ import annotations

import itertools
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.fix.front import Front, FrontLimits

LIMITS = FrontLimits(logon_timeout_s=30, drain_timeout_s=30, write_timeout_s=30, max_connections_per_peer=8)


def frame(body: bytes) -> bytes:
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return head + b"10=%03d\x01" % (sum(head) % 256)


LOGON = frame(b"35=A\x0134=1\x0149=C\x0156=CLEARQUOTE\x0198=0\x01108=30\x01")


class EchoAfterLogon(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        got = b""
        while len(got) < len(LOGON):  # the client's Logon is LOGON itself (the front forwards whole frames)
            chunk = self.request.recv(4096)
            if not chunk:
                return
            got += chunk
        assert got.startswith(LOGON)
        self.request.sendall(LOGON + got[len(LOGON) :])
        while chunk := self.request.recv(65536):
            self.request.sendall(chunk)
        self.request.close()  # QuickFIX closes once it reads the EOF


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def front() -> Iterator[int]:
    upstream = Server(("127.0.0.1", 0), EchoAfterLogon)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    f = Front(LIMITS, ("127.0.0.1", 0), upstream.server_address)
    _, port = f.bind()
    f.start()
    try:
        yield port
    finally:
        f.stop()
        upstream.shutdown()
        upstream.server_close()


bodies = st.lists(
    st.binary(min_size=0, max_size=3000).map(lambda b: frame(b"35=0\x01112=" + b.replace(b"\x01", b"") + b"\x01")),
    min_size=0,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=bodies, cuts=st.lists(st.integers(0, 30_000), max_size=10))
def test_a_half_closed_client_reads_every_answer_then_a_clean_eof(front: int, frames: list[bytes], cuts: list[int]) -> None:
    stream = LOGON + b"".join(frames)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    with socket.create_connection(("127.0.0.1", front), timeout=30) as s:
        for a, b in itertools.pairwise(points):
            s.sendall(stream[a:b])
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):  # a reset would raise here; the EOF must be clean
            got += chunk
    assert got == LOGON + b"".join(frames)
