"""FIX framing by the protocol's own rules, bounded: what the front end reads before QuickFIX does.

A FIX message on the wire is ``8=BeginString|9=BodyLength|<body>10=ccc|`` (``|`` is SOH, 0x01):
BeginString (8) first, BodyLength (9) second, the body exactly BodyLength bytes counted from the
byte after 9's SOH up to and including the SOH before CheckSum (10), and CheckSum three digits
(FIX 4.4 specification, Volume 2, "Message Format"; "CheckSum Calculation"). The framer reads only
those three fields: it never parses the body (QuickFIX does), and it never holds more than one
frame's bytes, whose size it knows from 9 before the body arrives, so a peer declaring a body of
1 GB is refused on reading the digits, not after sending them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SOH = 0x01
#: The longest BeginString read ("FIXT.1.1" is 8 bytes): a longer one is garbage, not a frame.
MAX_BEGIN_STRING = 16
TRAILER = 7  # b"10=" + 3 digits + SOH


class FrameError(ValueError):
    """The stream is not FIX framing within the limit; ``limit`` names the limit broken, if one was."""

    def __init__(self, reason: str, limit: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit


@dataclass(frozen=True)
class Frame:
    """One framed message: its bytes as received and where its body starts (``data[body:]`` is 35=...)."""

    data: bytes
    body: int

    def msg_type(self) -> bytes | None:
        """MsgType (35), the body's first field by FIX's header order, or None if the body does not start with it."""
        start = self.body + 3
        if self.data[self.body : start] != b"35=":
            return None
        end = self.data.find(b"\x01", start)
        return self.data[start:end] if end > start else None

    def field(self, tag: int) -> bytes | None:
        """The first value of ``tag`` in the body (``None`` if absent): a scan for ``SOH tag=``, no parse."""
        key = b"\x01%d=" % tag
        at = self.data.find(key, self.body - 1)  # the SOH before the body is 9's terminator
        if at < 0:
            return None
        start = at + len(key)
        end = self.data.find(b"\x01", start)
        return self.data[start:end] if end >= start else None


class Framer:
    """Incremental framer of one direction of one connection.

    Invariants (tested with hypothesis in ``tests/property/test_fix_framing.py``):

    * the frames returned for a stream are the same however the stream is split into ``feed``
      calls (one byte at a time or all at once);
    * a frame whose BodyLength (9) exceeds ``max_body_bytes`` is refused as soon as its digits
      show it (a ``FrameError`` with ``limit="max_message_bytes"``), before its body is read;
    * the bytes held between calls never exceed :meth:`max_held` (one frame: header + body +
      trailer), whatever is fed;
    * a stream that is not framing (no ``8=`` first, a BeginString not among ``begin_strings``,
      ``9`` not digits, no ``10=ddd`` where the body ends) gives a ``FrameError``; from then on
      the framer stays broken (the connection is closed, never resynchronised).

    Parameters
    ----------
    max_body_bytes : int
        The largest BodyLength (9) accepted, bytes.
    begin_strings : sequence of bytes
        The BeginString (8) values accepted (the acceptor's sessions', e.g. ``b"FIX.4.4"``).
    """

    def __init__(self, max_body_bytes: int, begin_strings: Sequence[bytes] = (b"FIX.4.4",)) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        self.max_body = max_body_bytes
        self.begins = tuple(begin_strings)
        self._digits = len(str(max_body_bytes))
        self._buf = bytearray()
        self._broken: FrameError | None = None

    def max_held(self) -> int:
        """The most bytes this framer holds between calls: one whole frame of the largest body."""
        header = 2 + MAX_BEGIN_STRING + 1 + 2 + self._digits + 1
        return header + self.max_body + TRAILER

    def held(self) -> int:
        """Bytes received and not yet returned in a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> tuple[list[Frame], FrameError | None]:
        """The frames completed by ``data`` (in order), and the first broken rule after them (or None).

        The frames before a broken rule are returned with it, so what reaches QuickFIX does not
        depend on how the stream was split; after the rule is broken every call returns it again.
        """
        if self._broken is not None:
            return [], self._broken
        self._buf += data
        frames: list[Frame] = []
        try:
            while (frame := self._next()) is not None:
                frames.append(frame)
        except FrameError as exc:
            self._broken = exc
            self._buf.clear()
        return frames, self._broken

    def _next(self) -> Frame | None:
        """The first frame of the buffer, removed from it, or None if it is not complete yet."""
        buf = self._buf
        if not buf:
            return None
        # 8=BeginString SOH
        if buf[:2] != b"8="[: len(buf)]:
            raise FrameError(f"the message does not start with BeginString (8=): {bytes(buf[:12])!r}")
        end8 = buf.find(SOH, 2, 2 + MAX_BEGIN_STRING + 1)
        if end8 < 0:
            if len(buf) > 2 + MAX_BEGIN_STRING:
                raise FrameError(f"BeginString (8) is not followed by SOH within {MAX_BEGIN_STRING} bytes")
            return None
        begin = bytes(buf[2:end8])
        if begin not in self.begins:
            raise FrameError(f"BeginString (8) {begin[:MAX_BEGIN_STRING]!r} is not one of {[b.decode() for b in self.begins]}")
        # 9=BodyLength SOH (digits only; more digits than the limit has is over the limit)
        at9 = end8 + 1
        if buf[at9 : at9 + 2] != b"9="[: len(buf) - at9]:
            raise FrameError("BodyLength (9) is not the second field")
        digits_at = at9 + 2
        end9 = buf.find(SOH, digits_at, digits_at + self._digits + 1)
        if end9 < 0:
            seen = bytes(buf[digits_at : digits_at + self._digits + 1])
            if not seen.isdigit() and seen:
                raise FrameError(f"BodyLength (9) is not digits: {seen[:12]!r}")
            if len(seen) > self._digits:
                raise FrameError(
                    f"BodyLength (9) of more than {self._digits} digits: over max_message_bytes = {self.max_body:,}",
                    "max_message_bytes",
                )
            return None
        raw = bytes(buf[digits_at:end9])
        if not raw.isdigit():
            raise FrameError(f"BodyLength (9) is not digits: {raw[:12]!r}")
        length = int(raw)
        if length > self.max_body:
            raise FrameError(
                f"BodyLength (9) {length:,} bytes is over max_message_bytes = {self.max_body:,}", "max_message_bytes"
            )
        body = end9 + 1
        trailer = body + length
        total = trailer + TRAILER
        if len(buf) > trailer:  # what has arrived of the trailer must already be it: fail early, not at its end
            self._check_trailer(bytes(buf[trailer : min(total, len(buf))]))
        if len(buf) < total:
            return None
        data = bytes(buf[:total])
        del buf[:total]
        return Frame(data, body)

    @staticmethod
    def _check_trailer(tail: bytes) -> None:
        """``tail`` (the trailer or what has arrived of it) is ``10=ddd SOH``."""
        head, digits = tail[:3], tail[3:6]
        if head != b"10="[: len(head)] or not all(48 <= d <= 57 for d in digits) or tail[6:7] not in (b"", b"\x01"):
            raise FrameError("CheckSum (10=ddd) is missing where BodyLength (9) says the body ends")


def heartbeat_of(frame: Frame) -> int | None:
    """HeartBtInt (108) of a Logon frame, seconds; None if it is absent or not digits."""
    raw = frame.field(108)
    if raw is None or not raw.isdigit() or len(raw) > 9:
        return None
    return int(raw)
