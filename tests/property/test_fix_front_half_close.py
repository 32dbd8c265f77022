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
import re
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


def _frame_end(data: bytes) -> int | None:
    """Where the first frame of ``data`` ends (after its 10=ddd SOH), None until it is all there."""
    head = re.match(rb"8=[^\x01]+\x019=(\d+)\x01", data)
    if head is None:
        return None
    end = head.end() + int(head.group(1)) + 7
    return end if len(data) >= end else None


class EchoAfterLogon(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        got = b""
        # The client's Logon as the front forwards it: LOGON with the front's proof (RawData 95/96) appended to the
        # body, BodyLength and CheckSum recomputed (addin.fix.framing.with_front_token); read by its BodyLength.
        while (end := _frame_end(got)) is None:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            got += chunk
        proof = re.fullmatch(rb"(.*)95=32\x0196=[0-9a-f]{32}\x01", got[got.index(b"35=A") : end - 7], re.S)
        assert proof is not None and frame(proof.group(1)) == LOGON, got[:end]
        self.request.sendall(LOGON + got[end:])
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
