"""The acceptor's public port: a framing front end that QuickFIX sits behind (docs/fix-invariants.md, "The front end").

QuickFIX 1.16 reads a message of any declared BodyLength before its session layer sees it, keeps
a connection that never logs on, and gives each connection a thread: one TCP peer could grow the
acceptor's memory by what it sends, or exhaust its threads with idle connections. The front owns
the public port instead, on one asyncio event loop (one thread for every connection), and relays
each admitted connection to QuickFIX on a loopback port (``addin.fix.run.Serving`` checks that the
listener there is this process's and confines it to the loopback device), under these rules:

* a connection is admitted only under ``max_connections`` (all open), ``max_connections_per_peer``
  (per peer address) and ``max_pending_logons`` (open and not yet logged on); otherwise it is
  closed at once;
* the client's bytes are framed (:mod:`addin.fix.framing`); only whole frames reach QuickFIX, and a
  BodyLength (9) over ``max_message_bytes`` or a broken frame closes the connection;
* the first frame must be a Logon (35=A) with a HeartBtInt (108) of 1 to ``max_heartbeat_s``; QuickFIX
  is connected to only then, so garbage and slow connections never cost QuickFIX a thread;
* the Logon is forwarded with the front's proof in RawData (95/96; a random token per connection, good once,
  :meth:`Front.vouch`), replacing any the client sent: QuickFIX's Logon check refuses a Logon without it, so a
  local process connecting to QuickFIX's loopback port directly cannot log on;
* QuickFIX's Logon answer (35=A) must come within ``logon_timeout_s`` of the accept; after it, a
  client that completes no message for ``idle_heartbeats`` x HeartBtInt is dropped, and so is one
  that leaves what it is sent unread that long;
* each direction's buffers are bounded (the reader's limit, the writer's high-water mark, one
  frame): a side that does not keep up stops the other from being read, it never grows memory;
* every write, either way, must be taken up within ``write_timeout_s`` (QuickFIX reading slowly, a
  client not reading): past it the connection is dropped;
* a client that half-closes (EOF on its side) has the EOF passed on to QuickFIX (``write_eof``), and
  QuickFIX's answers still reach it until QuickFIX closes, for at most ``drain_timeout_s``; an orderly
  end is closed with a FIN once everything was written, never a reset that could lose an answer.

Every refusal and drop is reported through ``on_event`` naming the peer and the limit, and every one
of them goes through one rate limiter (:mod:`addin.fix.refusals`): one full line per (limit or kind of
drop, peer address) per ``refusal_log_s`` window, the rest counted into one summary line with the exact
count (:data:`DROP_KINDS` names the kinds of drop). A peer that
is not logged on cannot be sent a FIX reject (it has no session), so it is only closed; after logon
an oversized or broken message closes the connection too: QuickFIX's session sees a disconnect, and
on reconnect the normal sequence-number resend applies.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields

from addin.fix.framing import Framer, heartbeat_of, with_front_token
from addin.fix.refusals import RefusalLog

#: Bytes asked of a socket per read, and each StreamReader's limit (it stops reading the socket past 2x this).
CHUNK = 16 * 1024
#: The high-water mark of each side's write buffer: past it the writer waits (drain) and stops reading the other side.
WRITE_HIGH_WATER = 64 * 1024


class LimitError(ValueError):
    """A front limit out of its range; ``name`` is the field (``max_message_bytes``, ...)."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}")
        self.name = name


@dataclass(frozen=True)
class FrontLimits:
    """The front end's limits (``clearquote fix-acceptor --max-message-bytes ...``; defaults justified in docs/fix-invariants.md).

    Parameters
    ----------
    max_message_bytes : int
        The largest BodyLength (9) a client may declare, bytes (default 1 MiB).
    logon_timeout_s : float
        Seconds from the accept to QuickFIX's Logon answer (default 10).
    max_connections : int
        Open client connections, all peers (default 64).
    max_connections_per_peer : int
        Open client connections from one peer address (default 8).
    max_pending_logons : int
        Open client connections not yet logged on (default 16).
    idle_heartbeats : float
        A logged-on client that completes no message for this many HeartBtInts is dropped (default 3).
    max_heartbeat_s : int
        The largest HeartBtInt (108) a Logon may ask for, seconds (default 300).
    write_timeout_s : float
        Seconds a write may wait for the other side to take it up, either way (QuickFIX reading the
        client's messages, the client reading QuickFIX's); past it the connection is dropped (default 30).
    drain_timeout_s : float
        After a client's half-close, seconds its answers may take before QuickFIX closes (default 10).
    refusal_log_s : float
        The window of the refusal log: one line per (limit, peer) per window, then a summary (default 10).
    """

    max_message_bytes: int = 1_048_576
    logon_timeout_s: float = 10.0
    max_connections: int = 64
    max_connections_per_peer: int = 8
    max_pending_logons: int = 16
    idle_heartbeats: float = 3.0
    max_heartbeat_s: int = 300
    write_timeout_s: float = 30.0
    drain_timeout_s: float = 10.0
    refusal_log_s: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            whole = f.type in ("int", int)
            if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not float(value).is_integer()):
                raise LimitError(f.name, f"{value!r} is not {'a whole number' if whole else 'a number'}")
            if not (value > 0 and value < float("inf")):
                raise LimitError(f.name, f"{value!r}: give a finite number > 0")
        if self.max_connections_per_peer > self.max_connections or self.max_pending_logons > self.max_connections:
            raise LimitError("max_connections", "must be at least max_connections_per_peer and max_pending_logons")
        if self.idle_heartbeats < 1:
            raise LimitError("idle_heartbeats", f"{self.idle_heartbeats!r}: give at least 1 (a HeartBtInt)")

    def per_connection_bytes(self) -> int:
        """An upper bound of the bytes one connection holds in the front, whatever its peer sends.

        One frame in the framer, the two StreamReaders' buffers (each at most 2 x CHUNK before the
        transport stops reading, plus one read of at most 256 KiB, asyncio's per-read size) and the
        two write buffers (the high-water mark plus the one frame or chunk written past it).
        """
        framer = Framer(self.max_message_bytes).max_held()
        readers = 2 * (2 * CHUNK + 256 * 1024)
        writers = 2 * WRITE_HIGH_WATER + framer + CHUNK
        return 2 * framer + readers + writers


#: The defaults, the front ``clearquote fix-acceptor`` serves through unless told otherwise.
DEFAULT_LIMITS = FrontLimits()


#: Who did not take a write up, as the drop's reason says it.
QUICKFIX_SLOW = "QuickFIX did not take the client's bytes up"
CLIENT_SLOW = "the peer left what it was sent unread"


class _Drop(Exception):
    """Close the connection; the text says why (with the limit's name), ``kind`` keys it in the rate-limited log."""

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(text)
        self.kind = kind


#: Each kind of drop's text in a summary line (the full line of a window gives the connection's own reason).
DROP_KINDS = {
    "framing": "not FIX framing (or over max_message_bytes)",
    "first_message": "the first message is not a Logon (35=A)",
    "heartbeat": "the Logon's HeartBtInt (108) is missing or out of range",
    "logon_timeout_s": "no Logon answered within logon_timeout_s",
    "idle_heartbeats": "no message for idle_heartbeats x HeartBtInt",
    "write_timeout_s": "a write not taken up within write_timeout_s",
    "drain_timeout_s": "QuickFIX did not close within drain_timeout_s of the client's half-close",
    "upstream": "QuickFIX was not reachable",
    "connection_error": "a connection error",
    "unexpected": "closed on an unexpected error (a bug of the front's)",
}


@dataclass(eq=False)  # compared and hashed by identity: one per socket
class _Connection:
    peer: str
    port: int
    accepted: float
    logged_on: bool = False
    heartbeat_s: int = 0
    last_message: float = 0.0
    upstream: asyncio.StreamWriter | None = None  # the connection to QuickFIX, once made
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    drain_until: float | None = None  # set when the client half-closed: QuickFIX's answers end by then
    token: str | None = None  # the proof the front put in this connection's Logon, until QuickFIX's check takes it
    orderly: bool = False  # everything was written and both sides are done: close with a FIN, not a reset

    def name(self) -> str:
        return f"{self.peer}:{self.port}"


class Front:
    """The public port's front end: an asyncio loop on one thread, relaying to QuickFIX on loopback.

    Parameters
    ----------
    limits : FrontLimits
        The limits above.
    listen : (str, int)
        The public address (host ``""`` is every interface; port 0 an ephemeral one).
    upstream : (str, int)
        QuickFIX's loopback address.
    begin_strings : sequence of bytes
        The BeginStrings of the acceptor's sessions.
    on_event : callable
        Where refusals and drops are reported (a line of text each; it must not raise).
    """

    def __init__(
        self,
        limits: FrontLimits,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        begin_strings: Sequence[bytes] = (b"FIX.4.4",),
        on_event: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.limits = limits
        self.listen = listen
        self.upstream = upstream
        self.begins = tuple(begin_strings)
        self.on_event = on_event
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._open: set[_Connection] = set()
        self._per_peer: dict[str, int] = {}
        self._sock: socket.socket | None = None
        self._refusals = RefusalLog(limits.refusal_log_s)
        self._refusal_timer: asyncio.TimerHandle | None = None
        # The proofs of the Logons relayed and not yet checked (one per open connection at most); the front's
        # thread adds, QuickFIX's threads take (:meth:`vouch`), so under a lock.
        self._tokens: set[str] = set()
        self._tokens_lock = threading.Lock()

    def vouch(self, token: str | None) -> bool:
        """Whether ``token`` is the proof of a Logon this front relayed and no check has taken yet; taken if so.

        QuickFIX's Logon check (:func:`addin.fix.run.shielded`) calls it with the Logon's RawData (96): a Logon
        that did not come through the front (a local process connecting to QuickFIX's loopback port directly)
        has none, or one already taken, and is refused. Each proof is random (128 bits, ``secrets``), made per
        connection, held in this process's memory only, and good once.
        """
        if token is None:
            return False
        with self._tokens_lock:
            for held in self._tokens:
                if hmac.compare_digest(held, token):
                    self._tokens.discard(held)
                    return True
        return False

    # -- the owner's thread -------------------------------------------------------------------

    def public_inode(self) -> int | None:
        """The inode of the public listening socket (not QuickFIX's: ``addin.fix.listener.check`` excludes it)."""
        if self._sock is None:
            return None
        return os.fstat(self._sock.fileno()).st_ino

    def bind(self) -> tuple[str, int]:
        """Bind the public port (an error here is the command's: the port is taken, the host unknown)."""
        host, port = self.listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=128, reuse_port=False)
        self._sock.setblocking(False)
        bound = self._sock.getsockname()
        return str(bound[0]), int(bound[1])

    def start(self) -> None:
        """Serve on the bound port from the front's own thread (returns once it is serving)."""
        if self._sock is None:
            self.bind()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, sock=self._sock, limit=CHUNK, start_serving=True)
            )
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="clearquote-fix-front")
        self._thread.start()
        ready.wait()

    def stop_accepting(self) -> None:
        """Close the public port; connections already open keep relaying (QuickFIX's Logouts go through them)."""
        if self._thread is None or not self._loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._close_server(), self._loop).result()

    def stop(self) -> None:
        """Close the port and every connection, then end the front's thread (joined before this returns)."""
        if self._thread is None:
            if self._sock is not None:
                self._sock.close()
            self._loop.close()
            return
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result()
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._thread = None

    def counts(self) -> tuple[int, int]:
        """(open connections, of which not logged on): read from any thread, a snapshot for reports and tests."""
        conns = list(self._open)
        return len(conns), sum(1 for c in conns if not c.logged_on)

    # -- the loop's thread --------------------------------------------------------------------

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()  # not wait_closed: from 3.12 it waits for the open connections to end

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()  # not wait_closed: on 3.11 it waits for the connections cancelled below
        tasks = [t for c in list(self._open) for t in c.tasks]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._refusal_timer is not None:
            self._refusal_timer.cancel()
            self._refusal_timer = None
        for line in self._refusals.flush(self._loop.time()):  # every refusal counted is told before the front ends
            self.on_event(line)

    def _refusal(self, peer: str) -> tuple[str, str] | None:
        """The limit that refuses a new connection from ``peer`` (its name, its text), None if it is admitted."""
        total, pending = self.counts()
        lim = self.limits
        if total >= lim.max_connections:
            return "max_connections", f"max_connections = {lim.max_connections} open"
        if self._per_peer.get(peer, 0) >= lim.max_connections_per_peer:
            return "max_connections_per_peer", f"max_connections_per_peer = {lim.max_connections_per_peer} open from {peer}"
        if pending >= lim.max_pending_logons:
            return "max_pending_logons", f"max_pending_logons = {lim.max_pending_logons} not logged on"
        return None

    def _refused(self, conn: _Connection, limit: str, why: str) -> None:
        """Log a refusal through the rate-limited refusal log, and arm its timer for the summaries."""
        line = f"front: refused {conn.name()}: {why}"
        for text in self._refusals.refuse(limit, conn.peer, line, why, self._loop.time()):
            self.on_event(text)
        self._arm_refusal_timer()

    def _dropped(self, conn: _Connection, kind: str, line: str) -> None:
        """Log a drop after admission through the same rate limiter, keyed (kind, peer address): a peer that opens
        connections only to be dropped (garbage, no Logon) costs one line and one summary per window, not one each."""
        for text in self._refusals.refuse(kind, conn.peer, line, DROP_KINDS[kind], self._loop.time(), verb="dropped"):
            self.on_event(text)
        self._arm_refusal_timer()

    def _arm_refusal_timer(self) -> None:
        when = self._refusals.next_due()
        if when is not None and self._refusal_timer is None:
            self._refusal_timer = self._loop.call_at(when, self._refusal_summaries, when)

    def _refusal_summaries(self, when: float) -> None:
        self._refusal_timer = None
        # max(): the loop may run a timer a clock resolution early; the window it was set for has ended.
        for text in self._refusals.due(max(self._loop.time(), when)):
            self.on_event(text)
        self._arm_refusal_timer()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername") or ("?", 0)
        conn = _Connection(str(address[0]), int(address[1]), self._loop.time())
        refusal = self._refusal(conn.peer)
        if refusal is not None:
            writer.transport.abort()
            self._refused(conn, *refusal)
            return
        self._open.add(conn)
        self._per_peer[conn.peer] = self._per_peer.get(conn.peer, 0) + 1
        task = asyncio.current_task()
        assert task is not None
        conn.tasks.append(task)
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        try:
            await self._relay(conn, reader, writer)
        except _Drop as why_dropped:
            self._dropped(conn, why_dropped.kind, f"front: dropped {conn.name()}: {why_dropped}")
        except asyncio.CancelledError:
            pass  # the front is stopping
        except (ConnectionError, OSError) as exc:
            self._dropped(conn, "connection_error", f"front: {conn.name()}: connection error: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug of the front's: this connection closes, the front and QuickFIX serve on
            self._dropped(conn, "unexpected", f"front: {conn.name()}: closed on an unexpected {type(exc).__name__}: {exc}")
        finally:
            self._open.discard(conn)
            if conn.token is not None:  # a proof QuickFIX never checked goes with its connection
                with self._tokens_lock:
                    self._tokens.discard(conn.token)
            left = self._per_peer.get(conn.peer, 1) - 1
            if left:
                self._per_peer[conn.peer] = left
            else:
                self._per_peer.pop(conn.peer, None)
            if conn.orderly:  # all written (drained to empty): a FIN, so the client reads every answer
                writer.close()
            else:
                writer.transport.abort()
            if conn.upstream is not None:  # QuickFIX sees the disconnect (its session logs out)
                conn.upstream.transport.abort()

    def _deadline(self, conn: _Connection) -> tuple[float, str, str]:
        """When the connection is dropped if nothing moves it, the limit that says so, and its kind (:data:`DROP_KINDS`)."""
        if conn.drain_until is not None:
            return (
                conn.drain_until,
                f"the client half-closed and QuickFIX did not close within drain_timeout_s = {self.limits.drain_timeout_s:g} s",
                "drain_timeout_s",
            )
        if not conn.logged_on:
            return (
                conn.accepted + self.limits.logon_timeout_s,
                f"no Logon within logon_timeout_s = {self.limits.logon_timeout_s:g} s",
                "logon_timeout_s",
            )
        window = self.limits.idle_heartbeats * conn.heartbeat_s
        return (
            conn.last_message + window,
            f"no message for {window:g} s (idle_heartbeats = {self.limits.idle_heartbeats:g} x HeartBtInt {conn.heartbeat_s} s)",
            "idle_heartbeats",
        )

    async def _within_deadline(self, conn: _Connection, read: Callable[[], Awaitable[bytes]]) -> bytes:
        """``read()`` (a socket read), or ``_Drop`` once the connection's deadline passes first."""
        while True:
            due, why, kind = self._deadline(conn)
            left = due - self._loop.time()
            if left <= 0:
                raise _Drop(why, kind)
            try:
                return await asyncio.wait_for(read(), left)
            except TimeoutError:
                continue  # the deadline may have moved meanwhile (the Logon answer came): look again

    async def _drain(self, writer: asyncio.StreamWriter, why: str, until: tuple[float, str, str] | None = None) -> None:
        """``writer.drain()`` within ``write_timeout_s`` (and by ``until``, a connection deadline, if sooner), or ``_Drop``.

        ``why`` says who did not take the bytes up; the reason logged names the limit that ran out.
        """
        low, _ = writer.transport.get_write_buffer_limits()
        if writer.transport.get_write_buffer_size() <= low:
            # At or under the low-water mark the writer is not paused: drain() returns without waiting, so no
            # timer is set (the relay's common case: one per message each way, a timer task each would cost).
            await writer.drain()
            return
        limit = self.limits.write_timeout_s
        left, reason, kind = limit, f"{why} within write_timeout_s = {limit:g} s", "write_timeout_s"
        if until is not None and until[0] - self._loop.time() < limit:
            left, reason, kind = until[0] - self._loop.time(), f"{why}: {until[1]}", until[2]
        try:
            await asyncio.wait_for(writer.drain(), max(left, 0.001))
        except TimeoutError:
            raise _Drop(reason, kind) from None

    async def _flush(self, writer: asyncio.StreamWriter, why: str, until: tuple[float, str, str] | None = None) -> None:
        """Everything buffered in ``writer`` written to the socket (not only down to the high-water mark), in time."""
        writer.transport.set_write_buffer_limits(high=0)
        await self._drain(writer, why, until)

    async def _relay(self, conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = Framer(self.limits.max_message_bytes, self.begins)
        while True:  # the first frame, within the logon deadline
            data = await self._within_deadline(conn, lambda: reader.read(CHUNK))
            if not data:
                return  # closed before a Logon: nothing to relay
            got, error = framer.feed(data)
            if got:
                break
            if error is not None:
                raise _Drop(self._frame_reason(error), "framing")
        first = got[0]
        if first.msg_type() != b"A":
            raise _Drop(f"the first message is MsgType (35) {first.msg_type()!r}, not a Logon (35=A)", "first_message")
        beat = heartbeat_of(first)
        if beat is None or not 1 <= beat <= self.limits.max_heartbeat_s:
            shown = first.field(108) if beat is None else str(beat).encode()
            raise _Drop(
                f"Logon HeartBtInt (108) {shown!r}: give 1 to max_heartbeat_s = {self.limits.max_heartbeat_s} s,"
                " once, as a field of the Logon (not inside a data field)",
                "heartbeat",
            )
        conn.heartbeat_s = beat
        due, why, kind = self._deadline(conn)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream, limit=CHUNK), max(due - self._loop.time(), 0.001)
            )
        except TimeoutError:
            raise _Drop(why, kind) from None
        except OSError as exc:
            raise _Drop(f"QuickFIX is not reachable on {self.upstream[0]}:{self.upstream[1]}: {exc}", "upstream") from None
        conn.upstream = up_writer
        up_writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        conn.token = secrets.token_hex(16)
        proven = with_front_token(first, conn.token.encode())
        if proven is None:  # not reached: heartbeat_of read the same fields above
            raise _Drop("the Logon's body is not fields", "framing")
        with self._tokens_lock:
            self._tokens.add(conn.token)
        up_writer.write(proven)
        for frame in got[1:]:
            up_writer.write(frame.data)
        await self._drain(up_writer, QUICKFIX_SLOW)
        conn.last_message = self._loop.time()
        if error is not None:
            raise _Drop(self._frame_reason(error), "framing")
        await self._both_ways(conn, framer, reader, writer, up_reader, up_writer)

    async def _both_ways(
        self,
        conn: _Connection,
        framer: Framer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Relay both ways until one side ends; a client's half-close lets QuickFIX's answers through first."""
        inward = asyncio.ensure_future(self._inward(conn, framer, reader, up_writer))
        outward = asyncio.ensure_future(self._outward(conn, up_reader, writer))
        conn.tasks += [inward, outward]
        try:
            done, _ = await asyncio.wait((inward, outward), return_when=asyncio.FIRST_COMPLETED)
            if done == {inward} and inward.exception() is None:
                # The client half-closed (EOF, its side only): pass the EOF on and let QuickFIX's
                # answers to what it sent reach it, until QuickFIX closes or the drain deadline.
                conn.drain_until = self._loop.time() + self.limits.drain_timeout_s
                if up_writer.can_write_eof():
                    up_writer.write_eof()
                finished, _ = await asyncio.wait((outward,), timeout=self.limits.drain_timeout_s)
                if not finished:
                    _, why, kind = self._deadline(conn)
                    raise _Drop(why, kind)
                done = finished
        finally:
            inward.cancel()
            outward.cancel()
            await asyncio.gather(inward, outward, return_exceptions=True)
        for t in done:
            failure = t.exception()
            if failure is not None:
                raise failure

    async def _inward(self, conn: _Connection, framer: Framer, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        """Client to QuickFIX: whole frames only, each direction's backpressure by ``drain``."""
        while True:
            data = await self._within_deadline(conn, lambda: reader.read(CHUNK))
            if not data:
                return  # the client closed: QuickFIX sees the disconnect
            frames, error = framer.feed(data)
            if frames:
                up.write(b"".join(f.data for f in frames))
                await self._drain(up, QUICKFIX_SLOW)
                conn.last_message = self._loop.time()
            if error is not None:
                raise _Drop(self._frame_reason(error), "framing")

    async def _outward(self, conn: _Connection, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """QuickFIX to the client, as it comes; the first message tells whether the Logon was accepted."""
        head = b""
        answered = False
        while True:
            data = await up_reader.read(CHUNK)
            if not data:
                # QuickFIX closed (a Logout, a refused Logon, its own heartbeat timeout, the EOF passed on
                # after a half-close): everything it sent is written to the client, then a FIN, not a reset.
                await self._flush(writer, CLIENT_SLOW, self._deadline(conn) if conn.drain_until is not None else None)
                conn.orderly = True
                return
            if not answered:
                head += data[:64]
                at = head.find(b"\x0135=")
                end = head.find(b"\x01", at + 4) if at >= 0 else -1
                if end > 0:
                    answered = True
                    conn.logged_on = head[at + 4 : end] == b"A"  # the acceptor's first message answers the Logon
                    conn.last_message = self._loop.time()
            writer.write(data)
            await self._drain(writer, CLIENT_SLOW, self._deadline(conn))

    def _frame_reason(self, error: Exception) -> str:
        return f"not FIX framing: {error}"


def behind_front(settings: str, upstream_port: int) -> tuple[tuple[str, int], tuple[bytes, ...], str]:
    """An acceptor's QuickFIX settings text moved behind the front.

    Returns the public address the settings named (``SocketAcceptHost``, every interface if absent,
    and ``SocketAcceptPort``: the front listens there), the sessions' BeginStrings, and the same
    settings with QuickFIX listening on ``127.0.0.1:upstream_port`` instead (every
    ``SocketAcceptHost``/``SocketAcceptPort`` line rewritten; a host line added to ``[DEFAULT]``).

    Raises ``LimitError`` (name ``settings``) when the settings name no port or more than one: the
    front serves one public port.
    """
    ports: set[str] = set()
    hosts: set[str] = set()
    begins: list[bytes] = []
    out: list[str] = []
    for line in settings.splitlines():
        key, sep, value = line.partition("=")
        name = key.strip()
        if sep and name == "SocketAcceptPort":
            ports.add(value.strip())
            out.append(f"SocketAcceptPort={upstream_port}")
        elif sep and name == "SocketAcceptHost":
            hosts.add(value.strip())
            out.append("SocketAcceptHost=127.0.0.1")
        else:
            if sep and name == "BeginString" and value.strip().encode() not in begins:
                begins.append(value.strip().encode())
            out.append(line)
    if len(ports) != 1 or not next(iter(ports)).isdigit():
        raise LimitError("settings", f"the front serves one SocketAcceptPort; the settings give {sorted(ports) or 'none'}")
    if len(hosts) > 1:
        raise LimitError("settings", f"the front serves one SocketAcceptHost; the settings give {sorted(hosts)}")
    if not hosts:
        at = next((i for i, line in enumerate(out) if line.strip() == "[DEFAULT]"), None)
        if at is None:
            out[:0] = ["[DEFAULT]", "SocketAcceptHost=127.0.0.1"]
        else:
            out.insert(at + 1, "SocketAcceptHost=127.0.0.1")
    host = next(iter(hosts)) if hosts else ""
    return (host, int(next(iter(ports)))), tuple(begins) or (b"FIX.4.4",), "\n".join(out) + "\n"


def loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (QuickFIX binds it next; it takes no port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
