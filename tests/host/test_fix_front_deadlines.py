"""The front's write and half-close deadlines (``addin/fix/front.py``) over real sockets, QuickFIX's part played by a stand-in.

QuickFIX cannot be made to stop reading on cue (its connection thread reads as fast as it prices),
so here QuickFIX's side is a loopback TCP server that answers the Logon with a Logon, as QuickFIX's
acceptor does first, and then misbehaves as told: it stops reading, it floods, it answers after the
client's EOF and never closes. The front is the real ``Front``, on 127.0.0.1, with short limits.
The real acceptor's side of the same guarantees is in ``test_fix_front.py`` (a client that never
reads; a client that half-closes after a QuoteRequest still gets its Quote). Guarantees
(docs/fix-invariants.md, "The front end"):

* a write the other side does not take up within ``write_timeout_s`` drops the connection, with the
  reason logged, in either direction, even while the client's idle rule (here 900 s) is far off;
* after a client's half-close, QuickFIX's answers still reach it; if QuickFIX does not close within
  ``drain_timeout_s`` the connection is dropped with the reason logged.

Waits are bounded, never measurements: each deadline is checked with a margin for a loaded machine.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from addin.fix.front import Front, FrontLimits

WRITE_TIMEOUT_S = 1.0
DRAIN_TIMEOUT_S = 1.5
LIMITS = FrontLimits(write_timeout_s=WRITE_TIMEOUT_S, drain_timeout_s=DRAIN_TIMEOUT_S, max_heartbeat_s=300)
SLACK_S = 8.0  # margin on every deadline: the front, the stand-in and this test share 2 loaded cores


def frame(body: bytes) -> bytes:
    """A FIX 4.4 message with its real BodyLength and CheckSum (FIX 4.4 Vol. 2, "CheckSum Calculation")."""
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return head + b"10=%03d\x01" % (sum(head) % 256)


#: HeartBtInt 300: the idle rule's window is 900 s, so only the write and drain deadlines can fire here.
LOGON = frame(b"35=A\x0134=1\x0149=C\x0156=CLEARQUOTE\x0198=0\x01108=300\x01")
#: A 64 KiB Heartbeat (a TestReqID that long): the framer passes it whole; it fills buffers fast.
BIG = frame(b"35=0\x0149=C\x0156=CLEARQUOTE\x01112=" + b"t" * 65536 + b"\x01")
ANSWER = frame(b"35=0\x0149=CLEARQUOTE\x0156=C\x01112=after-eof\x01")


def _logon(conn: socket.socket) -> bool:
    got = b""
    while b"\x0135=A\x01" not in got:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        got += chunk
    conn.sendall(LOGON)
    return True


def never_reads(conn: socket.socket, done: threading.Event) -> None:
    """QuickFIX stuck (a long callback on its connection thread): answers the Logon, then reads nothing."""
    if _logon(conn):
        done.wait(60)


def floods(conn: socket.socket, done: threading.Event) -> None:
    """QuickFIX sending faster than the client reads (answers to a burst of requests)."""
    if not _logon(conn):
        return
    conn.settimeout(0.5)
    while not done.is_set():
        try:
            conn.sendall(b"x" * 65536)
        except TimeoutError:
            continue
        except OSError:
            return


def answers_after_eof_and_stays(conn: socket.socket, done: threading.Event) -> None:
    """Reads to the client's EOF (passed on by the front), answers after it, and never closes."""
    if not _logon(conn):
        return
    while conn.recv(4096):
        pass
    conn.sendall(ANSWER)
    done.wait(60)


@contextmanager
def front_before(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[tuple[int, list[str]]]:
    """A real Front on 127.0.0.1 relaying to a stand-in that behaves so; yields (public port, the front's events)."""
    done = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            behaviour(self.request, done)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

        def server_bind(self) -> None:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small, so a stall comes soon
            super().server_bind()

    upstream = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    events: list[str] = []
    front = Front(LIMITS, ("127.0.0.1", 0), upstream.server_address, on_event=events.append)
    _, port = front.bind()
    front.start()
    try:
        yield port, events
    finally:
        done.set()
        front.stop()
        upstream.shutdown()
        upstream.server_close()


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return s


def logged_on(s: socket.socket) -> None:
    s.sendall(LOGON)
    got = b""
    while b"\x0135=A\x01" not in got:
        chunk = s.recv(65536)
        assert chunk, f"closed before the Logon answer: {got!r}"
        got += chunk


def wait_for(events: list[str], words: str, seconds: float) -> float | None:
    """Seconds until an event holds ``words``, None if none did within ``seconds``."""
    t0 = time.monotonic()
    while (elapsed := time.monotonic() - t0) < seconds:
        if any(words in e for e in events):
            return elapsed
        time.sleep(0.02)
    return None


def test_quickfix_that_stops_reading_is_dropped_by_the_write_deadline() -> None:
    with front_before(never_reads) as (port, events), connect(port) as s:
        logged_on(s)
        s.settimeout(0.5)
        sent = 0
        blocked = None
        while blocked is None and sent < 4096:  # at most 256 MiB: the buffers on the way hold a few MiB
            try:
                s.sendall(BIG)
                sent += 1
            except TimeoutError:
                blocked = time.monotonic()  # every buffer on the way is full: the front waits on QuickFIX
            except OSError:
                break  # already dropped
        assert sent < 4096, "the client was never pushed back"
        words = f"QuickFIX did not take the client's bytes up within write_timeout_s = {WRITE_TIMEOUT_S:g} s"
        assert wait_for(events, words, WRITE_TIMEOUT_S + SLACK_S) is not None, events
        assert [e for e in events if "dropped" in e] == [e for e in events if words in e], events  # that reason alone


def test_a_client_that_does_not_read_is_dropped_by_the_write_deadline_long_before_its_idle_rule() -> None:
    with front_before(floods) as (port, events), connect(port) as s:
        logged_on(s)
        t0 = time.monotonic()
        words = f"the peer left what it was sent unread within write_timeout_s = {WRITE_TIMEOUT_S:g} s"
        waited = wait_for(events, words, WRITE_TIMEOUT_S + SLACK_S)
        assert waited is not None, events
        assert time.monotonic() - t0 >= WRITE_TIMEOUT_S - 0.05  # not before the deadline (the idle rule's is 900 s)


def test_a_half_closed_client_gets_the_answers_then_the_drain_deadline_ends_it() -> None:
    with front_before(answers_after_eof_and_stays) as (port, events), connect(port) as s:
        logged_on(s)
        s.shutdown(socket.SHUT_WR)  # the client's EOF: the front passes it on to QuickFIX
        t0 = time.monotonic()
        got = b""
        s.settimeout(DRAIN_TIMEOUT_S + SLACK_S)
        try:
            while chunk := s.recv(65536):
                got += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        closed_after = time.monotonic() - t0
        assert ANSWER in got, got  # written by QuickFIX after it read the client's EOF
        words = f"the client half-closed and QuickFIX did not close within drain_timeout_s = {DRAIN_TIMEOUT_S:g} s"
        assert wait_for(events, words, SLACK_S) is not None, events
        assert DRAIN_TIMEOUT_S - 0.05 <= closed_after <= DRAIN_TIMEOUT_S + SLACK_S, closed_after


def test_the_new_limits_are_checked_by_field() -> None:
    for name in ("write_timeout_s", "drain_timeout_s", "refusal_log_s"):
        for bad in (0, -1.0, float("inf"), float("nan"), True, "5"):
            try:
                FrontLimits(**{name: bad})  # type: ignore[arg-type]
            except ValueError as exc:
                assert str(exc).startswith(name), exc
                continue
            raise AssertionError(f"FrontLimits({name}={bad!r}) was accepted")
