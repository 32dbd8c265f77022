"""The FIX front end's framer (``addin.fix.framing.Framer``): its invariants for any byte stream.

Oracle: FIX 4.4's framing rules (Volume 2, "Message Format": 8 first, 9 second, the body
BodyLength bytes long from the byte after 9's SOH to the SOH before 10, then ``10=ddd``) and the
framer's own contract (docstring): the frames do not depend on how the stream is split, a body
over the limit is refused from its digits, the bytes held never exceed one frame.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from addin.fix.framing import Frame, Framer, fields, heartbeat_of, with_front_token

LIMIT = 64  # small, so that hypothesis reaches the limit often


def message(body: bytes, begin: bytes = b"FIX.4.4", checksum: int = 0) -> bytes:
    return b"8=" + begin + b"\x019=%d\x01" % len(body) + body + b"10=%03d\x01" % checksum


# A body as FIX writes one: any bytes ending with SOH (every field ends with SOH; the SOH before
# 10= is the body's last byte and counted in BodyLength).
bodies = st.binary(max_size=LIMIT - 1).map(lambda b: b + b"\x01")
messages = st.builds(message, bodies, st.just(b"FIX.4.4"), st.integers(0, 255))


def feed_split(stream: bytes, cuts: list[int], limit: int = LIMIT) -> tuple[list[bytes], bool, int]:
    """The frames of ``stream`` fed in pieces cut at ``cuts``; whether it broke; the most bytes held."""
    framer = Framer(limit)
    out: list[bytes] = []
    broke = False
    held = 0
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    for a, b in itertools.pairwise(points):
        frames, error = framer.feed(stream[a:b])
        out += [f.data for f in frames]
        broke = broke or error is not None
        held = max(held, framer.held())
        assert framer.held() <= framer.max_held()
    return out, broke, held


@given(st.lists(messages, max_size=6), st.lists(st.integers(0, 10_000), max_size=20))
def test_valid_messages_frame_the_same_however_the_stream_is_split(msgs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(msgs)
    whole = feed_split(stream, [])
    split = feed_split(stream, cuts)
    assert whole[0] == split[0] == msgs
    assert not whole[1] and not split[1]


@given(
    st.lists(messages, max_size=3),
    st.binary(max_size=200),
    st.lists(st.integers(0, 10_000), max_size=30),
)
def test_any_stream_frames_the_same_prefix_whole_or_split_and_never_holds_more_than_a_frame(
    msgs: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(msgs) + tail
    whole, whole_broke, _ = feed_split(stream, [])
    split, split_broke, held = feed_split(stream, cuts)
    one_byte, byte_broke, _ = feed_split(stream, list(range(len(stream))))
    assert whole == split == one_byte
    assert whole_broke == split_broke == byte_broke
    assert stream.startswith(b"".join(whole))  # frames are the stream's bytes, in order, nothing skipped
    assert whole[: len(msgs)] == msgs
    assert held <= Framer(LIMIT).max_held()


@given(st.integers(LIMIT + 1, 10**12), st.binary(max_size=300), st.lists(st.integers(0, 10_000), max_size=10))
def test_a_body_over_the_limit_is_refused_from_its_digits_before_its_body(length: int, after: bytes, cuts: list[int]) -> None:
    header = b"8=FIX.4.4\x019=%d\x01" % length
    framer = Framer(LIMIT)
    frames, error = framer.feed(header)
    assert frames == [] and error is not None and error.limit == "max_message_bytes"
    # and however it arrives, with anything after it: no frame, refused for the limit
    frames_split, broke, _ = feed_split(header + after, cuts)
    assert frames_split == [] and broke


@given(st.lists(messages, min_size=1, max_size=3), st.integers(LIMIT + 1, 10**6), st.binary(max_size=50))
def test_a_valid_session_then_an_oversized_frame_keeps_the_frames_before_it(msgs: list[bytes], length: int, junk: bytes) -> None:
    stream = b"".join(msgs) + b"8=FIX.4.4\x019=%d\x01" % length + junk
    frames, broke, _ = feed_split(stream, [])
    assert frames == msgs and broke


def test_broken_framing_is_refused_by_example() -> None:
    good = message(b"35=0\x01")
    cases = {
        b"GET / HTTP/1.1\r\n\r\n": "BeginString",
        b"8=FIX.4.2\x019=5\x0135=0\x0110=000\x01": "BeginString",
        b"8=FIX.4.4\x0135=A\x01": "BodyLength (9) is not the second",
        b"8=FIX.4.4\x019=-5\x01": "not digits",
        b"8=FIX.4.4\x019=1e3\x01": "not digits",
        b"8=FIX.4.4\x019=5\x0135=0\x0111=000\x01": "CheckSum",
        b"8=FIX.4.4\x019=5\x0135=0\x0110=0a0\x01": "CheckSum",
        b"8=FIX.4.4\x019=5\x0135=0\x0110=000X": "CheckSum",
        good + b"9=FIX": "BeginString",
    }
    for stream, words in cases.items():
        _frames, error = Framer(LIMIT).feed(stream)
        assert error is not None and words in error.reason, (stream, error)
        assert error.limit is None
    # broken stays broken
    framer = Framer(LIMIT)
    framer.feed(b"garbage")
    assert framer.feed(good) == ([], framer.feed(b"")[1])


def test_the_body_declared_at_exactly_the_limit_is_framed() -> None:
    body = b"35=0\x0158=" + b"x" * (LIMIT - 9) + b"\x01"
    assert len(body) == LIMIT
    frames, error = Framer(LIMIT).feed(message(body))
    assert error is None and [f.data for f in frames] == [message(body)]


def test_a_logons_type_and_heartbeat_are_read() -> None:
    frame = Framer(LIMIT).feed(message(b"35=A\x0134=1\x0149=CLIENT\x01108=30\x01"))[0][0]
    assert isinstance(frame, Frame) and frame.msg_type() == b"A" and heartbeat_of(frame) == 30
    odd = Framer(LIMIT).feed(message(b"35=A\x01108=3x\x01"))[0][0]
    assert heartbeat_of(odd) is None
    none = Framer(LIMIT).feed(message(b"34=1\x0135=A\x01"))[0][0]
    assert none.msg_type() is None and heartbeat_of(none) is None


@given(
    st.binary(min_size=1, max_size=LIMIT).filter(lambda b: not b.endswith(b"\x01")), st.lists(st.integers(0, 10_000), max_size=20)
)
def test_a_body_not_ending_with_soh_is_refused_however_it_arrives(body: bytes, cuts: list[int]) -> None:
    """QuickFIX finds the trailer by ``SOH 10=`` from the body's last byte: a body ending otherwise
    would be a frame to the front and none to QuickFIX, which would then hold and rescan all that
    follows (an outside audit: 148 MiB of acceptor memory in 40 s). Refused, split or whole; the
    empty body too."""
    stream = message(body) + message(b"35=0\x01")
    frames, broke, _ = feed_split(stream, cuts)
    assert frames == [] and broke
    frames, broke, _ = feed_split(message(b""), cuts)
    assert frames == [] and broke


@given(st.integers(1, 300), st.integers(0, 999), st.binary(max_size=20))
def test_heartbtint_is_the_field_not_a_108_inside_a_data_field(beat: int, hidden: int, noise: bytes) -> None:
    """A Logon whose RawData (95/96) holds ``SOH 108=...`` is read as QuickFIX reads it: the data by
    its length, HeartBtInt the real 108 (the audit: a hidden 108=30 let 108=0 or 99999 through);
    a repeated 108 is no HeartBtInt at all."""
    data = noise + b"\x01108=%d\x01" % hidden
    body = b"35=A\x0195=%d\x0196=" % len(data) + data + b"\x01108=%d\x01" % beat
    framer = Framer(10_000)
    frames, error = framer.feed(message(body))
    assert error is None and len(frames) == 1
    assert heartbeat_of(frames[0]) == beat
    twice = Framer(10_000).feed(message(b"35=A\x01108=%d\x01108=%d\x01" % (beat, hidden)))[0][0]
    assert heartbeat_of(twice) is None


_values = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\x01", b"") or b"x")


@given(
    extra=st.lists(st.tuples(st.sampled_from([98, 108, 141, 553, 554, 95]), _values), max_size=6),
    client_raw=st.one_of(st.none(), st.binary(min_size=0, max_size=30)),
    token=st.text("0123456789abcdef", min_size=1, max_size=64).map(str.encode),
)
def test_the_fronts_proof_replaces_any_raw_data_and_the_frame_stays_valid(
    extra: list[tuple[int, bytes]], client_raw: bytes | None, token: bytes
) -> None:
    """For any Logon (a client's own RawData (95/96) included, SOH inside it too), the frame with the front's
    proof is one valid frame (BodyLength and CheckSum as FIX 4.4 Vol. 2 computes them, read back by the
    framer), whose fields are the Logon's without 95/96, then 95=len(token), 96=token."""
    body = b"35=A\x0134=1\x0149=C\x0156=CLEARQUOTE\x01" + b"".join(b"%d=%s\x01" % (t, v) for t, v in extra if t != 95)
    if client_raw is not None:
        body += b"95=%d\x0196=%s\x01" % (len(client_raw), client_raw)
    (logon,), error = Framer(4096).feed(message(body))
    assert error is None
    before = fields(logon)
    assert before is not None
    out = with_front_token(logon, token)
    assert out is not None
    again, error = Framer(4096).feed(out)
    assert error is None and len(again) == 1 and again[0].data == out  # one whole frame
    assert int(out[-4:-1]) == sum(out[:-7]) % 256  # CheckSum: every byte before 10=, modulo 256
    after = fields(again[0])
    assert after == [f for f in before if f[0] not in (95, 96)] + [(95, str(len(token)).encode()), (96, token)]
