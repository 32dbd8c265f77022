"""The front end's connection accounting as a state machine (hypothesis ``RuleBasedStateMachine``).

A real ``addin.fix.front.Front`` on 127.0.0.1 relays to a stand-in for QuickFIX (a TCP server that
answers a Logon with a Logon, as QuickFIX's acceptor does first); the machine opens connections from
three peer addresses, logs some on, sends some garbage, closes some. The model is the limits'
definition (docs/fix-invariants.md, "The front end"): a connection is admitted exactly when fewer than
``max_connections`` are open, fewer than ``max_connections_per_peer`` from its address, and fewer than
``max_pending_logons`` are not logged on; garbage closes it; a Logon answered moves it from pending to
logged on. After every step the front's own counts equal the model's, and no limit is exceeded.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from addin.fix.front import Front, FrontLimits

LIMITS = FrontLimits(logon_timeout_s=120, max_connections=6, max_connections_per_peer=3, max_pending_logons=4)
PEERS = ("127.0.3.1", "127.0.3.2", "127.0.3.3")
WAIT_S = 10.0  # bound on every wait for the front's loop (a loaded 2-core machine)


def frame(body: bytes) -> bytes:
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return head + b"10=%03d\x01" % (sum(head) % 256)


LOGON = frame(b"35=A\x0134=1\x0149=C\x0156=CLEARQUOTE\x0198=0\x01108=30\x01")


class StandIn(socketserver.BaseRequestHandler):
    """QuickFIX's part as the front sees it: the first message it sends answers the Logon."""

    def handle(self) -> None:
        got = b""
        while b"\x0135=A\x01" not in got:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            got += chunk
        self.request.sendall(LOGON)
        while self.request.recv(4096):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def front():
    upstream = Server(("127.0.0.1", 0), StandIn)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    f = Front(LIMITS, ("127.0.0.1", 0), upstream.server_address)
    _, port = f.bind()
    f.start()
    try:
        yield f, port
    finally:
        f.stop()
        upstream.shutdown()
        upstream.server_close()


def closed(s: socket.socket) -> bool:
    """Whether the front closed ``s`` (what it sent before, e.g. the Logon answer, is read and dropped)."""
    s.setblocking(False)
    try:
        while True:
            if s.recv(65536) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_the_fronts_counts_are_the_limits_model(front: tuple[Front, int]) -> None:
    front, port = front

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[tuple[socket.socket, str, bool]] = []  # socket, peer, logged on

        def teardown(self) -> None:
            for s, _, _ in self.open:
                s.close()
            until(lambda: front.counts() == (0, 0), "the front did not see every close")

        def model(self) -> tuple[int, int]:
            return len(self.open), sum(1 for _, _, on in self.open if not on)

        @rule(peer=st.sampled_from(PEERS))
        def connect(self, peer: str) -> None:
            total, pending = self.model()
            admit = (
                total < LIMITS.max_connections
                and sum(1 for _, p, _ in self.open if p == peer) < LIMITS.max_connections_per_peer
                and pending < LIMITS.max_pending_logons
            )
            s = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S, source_address=(peer, 0))
            if admit:
                until(lambda: front.counts()[0] == total + 1, f"{peer} not admitted under the limits")
                assert not closed(s)
                self.open.append((s, peer, False))
            else:
                until(lambda: closed(s), f"{peer} admitted over a limit")
                s.close()

        @precondition(lambda self: any(not on for _, _, on in self.open))
        @rule(data=st.data())
        def log_on(self, data: st.DataObject) -> None:
            waiting = [i for i, (_, _, on) in enumerate(self.open) if not on]
            i = data.draw(st.sampled_from(waiting))
            s, peer, _ = self.open[i]
            s.setblocking(True)
            s.sendall(LOGON)
            pending = self.model()[1]
            until(lambda: front.counts()[1] == pending - 1, "the Logon answer did not count as logged on")
            self.open[i] = (s, peer, True)

        @precondition(lambda self: bool(self.open))
        @rule(data=st.data(), garbage=st.sampled_from([b"GET / HTTP/1.1\r\n\r\n", b"8=FIX.4.4\x019=99999999\x01", b"\x00" * 64]))
        def send_garbage(self, data: st.DataObject, garbage: bytes) -> None:
            i = data.draw(st.integers(0, len(self.open) - 1))
            s, _, _ = self.open.pop(i)
            s.setblocking(True)
            s.sendall(garbage)
            until(lambda: closed(s), "garbage did not close the connection")
            s.close()
            total = len(self.open)
            until(lambda: front.counts()[0] == total, "a dropped connection is still counted")

        @precondition(lambda self: bool(self.open))
        @rule(data=st.data())
        def close(self, data: st.DataObject) -> None:
            i = data.draw(st.integers(0, len(self.open) - 1))
            s, _, _ = self.open.pop(i)
            s.close()
            total = len(self.open)
            until(lambda: front.counts()[0] == total, "a closed connection is still counted")

        @invariant()
        def counts_are_the_model(self) -> None:
            total, pending = front.counts()
            assert (total, pending) == self.model()
            assert total <= LIMITS.max_connections and pending <= LIMITS.max_pending_logons

    Machine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
    Machine.TestCase().runTest()
