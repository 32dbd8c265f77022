"""Recordings of a live feed: every raw frame with its receive time, gzip-compressed JSON lines.

One line per frame: ``{"t": epoch seconds (float, this machine's clock), "dir": "in" | "out",
"frame": the frame's text}``; the first line is ``dir: "meta"`` with the spec and the
currencies. Frames are written as they pass (a crash loses at most gzip's buffer; a cut file
replays up to its last whole line).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricing.errors import DataError

FORMAT = "clearquote-feed-recording/1"


class Recorder:
    """Append frames to a recording (thread-safe; call :meth:`close` to finish the gzip stream).

    Parameters
    ----------
    path : Path
        A new file (an existing one is never overwritten).
    spec : str
        The live spec recorded (goes into the header).
    currencies : tuple of str
        The currencies recorded, e.g. ``("BTC", "ETH")`` (goes into the header).
    """

    def __init__(self, path: Path, spec: str, currencies: tuple[str, ...]) -> None:
        if path.exists():
            raise DataError(f"--to {path}: the file exists; recordings are never overwritten, choose another name")
        if not path.parent.is_dir():
            raise DataError(f"--to {path}: the folder {path.parent} does not exist")
        self.path = path
        self.frames = 0
        self._lock = threading.Lock()
        self._fh = gzip.open(path, "wt", encoding="utf-8", compresslevel=6)
        self._write("meta", json.dumps({"format": FORMAT, "spec": spec, "currencies": list(currencies)}))

    def _write(self, direction: str, frame: str) -> None:
        line = json.dumps({"t": time.time(), "dir": direction, "frame": frame}, separators=(",", ":"))
        with self._lock:
            self._fh.write(line + "\n")

    def __call__(self, direction: str, frame: str) -> None:
        self._write(direction, frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the gzip stream (idempotent).

        Returns
        -------
        None
            Nothing: the gzip stream is finished and the file can be read by :func:`read_recording`.
        """
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


@dataclass(frozen=True)
class Frame:
    """One WebSocket frame of a recording.

    Attributes
    ----------
    t : float
        When it was recorded, epoch seconds (0 for a skipped notification).
    direction : str
        ``"in"`` (received), ``"out"`` (sent) or ``"meta"`` (the header).
    text : str
        The frame (authentication secrets redacted).
    """

    t: float
    direction: str
    text: str


@dataclass(frozen=True)
class Recording:
    """A recording read back: its frames and whether the file was cut short (a crash).

    Attributes
    ----------
    path : Path
        The file it was read from.
    meta : dict of str to Any
        The header.
    frames : tuple of Frame
        Every frame recorded, in order.
    truncated : bool
        The file was cut short.
    """

    path: Path
    meta: dict[str, Any]
    frames: tuple[Frame, ...]
    truncated: bool


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        yield from enumerate(fh, start=1)


def _parse(path: Path, n: int, line: str) -> Frame:
    try:
        rec = json.loads(line)
        t, direction, text = float(rec["t"]), str(rec["dir"]), rec["frame"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{path.name}, line {n}: not a recording line ({{t, dir, frame}})") from None
    if not isinstance(text, str) or direction not in ("in", "out", "meta"):
        raise DataError(f"{path.name}, line {n}: dir must be in/out/meta and frame a string")
    return Frame(t, direction, text)


def iter_frames(path: Path, *, skip_notifications: bool = False) -> Iterator[Frame]:
    """The frames of a recording in order, read as they are needed (a long recording is never held whole).

    The header (``meta``) comes first. A cut tail (a crash while recording) ends the iteration
    quietly; a malformed line or a file that is not gzip raises :class:`DataError` naming it.
    With ``skip_notifications``, subscription notifications are yielded with an empty text
    without being decoded (a replay's index pass reads hours of marks in seconds).

    Parameters
    ----------
    path : Path
        A recording written by :class:`Recorder` (gzip JSON lines).
    skip_notifications : bool
        Do not decode notifications.

    Yields
    ------
    Frame
        Each frame in the order it was recorded.
    """
    try:
        for n, line in _lines(path):
            if not line.endswith("\n"):
                return  # the last line of a file cut mid-write
            if skip_notifications and n > 1 and '"dir":"in"' in line[:60] and "subscription" in line[:200]:
                yield Frame(0.0, "in", "")
                continue
            frame = _parse(path, n, line)
            if n == 1:
                meta = json.loads(frame.text) if frame.direction == "meta" else None
                if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                    raise DataError(f"{path.name}: no header line; not a recording made by `clearquote feed record`")
            yield frame
    except (EOFError, zlib.error):
        return
    except (gzip.BadGzipFile, UnicodeDecodeError):
        raise DataError(f"{path.name}: not a gzip-compressed recording (make one with `clearquote feed record`)") from None


def read_recording(path: Path) -> Recording:
    """Read a whole recording (tests, tools); a cut tail is kept as ``truncated``.

    Parameters
    ----------
    path : Path
        A recording written by :class:`Recorder` (gzip JSON lines).

    Returns
    -------
    Recording
        The header and every frame.

    Raises
    ------
    DataError
        Not gzip, or a malformed line.
    """
    frames = list(iter_frames(path))
    if not frames:
        raise DataError(f"{path.name}: empty; not a recording made by `clearquote feed record`")
    meta = json.loads(frames[0].text)
    try:
        with gzip.open(path, "rb") as fh:
            whole = fh.read().endswith(b"\n")
    except (EOFError, zlib.error):
        whole = False
    return Recording(path, meta, tuple(frames[1:]), not whole)
