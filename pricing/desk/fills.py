"""Fills the desk booked that the venue has not shown yet: the book's overlay on the venue's positions.

A host's fill (the FIX gateway's) joins the book at once; the same trade reaches the venue
later (an order placed with the fill's label, cleared at Deribit) and from then on it is in the
venue's positions. Counting both would hold it twice. Each fill carries a label the venue
echoes on its trades (Deribit's ``label``); the venue side keeps, per label and instrument, the
coins bought and the coins sold by the trades it has seen inside its current positions, each
trade once by its id (:class:`pricing.desk.live.account.AccountState`). The invariant:

    book = venue positions + Σ over labels, per instrument, of (fill − shown),
    shown = sign(fill) · min(|fill|, the coins traded under the label in the fill's direction).

So a fill seen at the venue is retired exactly once (a trade id counts once, however often it
is reported), a trade larger than the fill retires the fill and no more, a trade in the other
direction under the same label is the account's own (in its positions) and retires nothing nor
brings a retired fill back: retirement only grows. An unlabelled fill stays until the host stops
applying it.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pricing.errors import PricingInputError

#: Label -> instrument -> (coins bought, coins sold) by the venue's trades under that label
#: inside its current positions (both >= 0).
Seen = Mapping[str, Mapping[str, tuple[float, float]]]

#: Characters of a label Deribit keeps on an order (``label``, at most 64).
MAX_LABEL = 64


def fill_label(session: str, order_id: str, quote_id: str) -> str:
    """The label a fill is booked at the venue with: one per fill, the same for it across restarts.

    Parameters
    ----------
    session : str
        The host's session (the FIX session id).
    order_id : str
        The order's id in that session (ClOrdID). Not unique alone: a fresh journal (a new day,
        the client's ClOrdIDs restarting) or a second acceptor may fill the same ClOrdID again.
    quote_id : str
        The quote the order filled (QuoteID, 117): unique per quote, and a quote fills at most
        once, so the triple names one fill.

    Returns
    -------
    str
        ``cq-`` and 16 hex digits, well within :data:`MAX_LABEL`.

    Notes
    -----
    The digest is BLAKE2b (8 bytes) of the JSON array ``[session, order_id, quote_id]`` (ASCII
    escapes): an unambiguous encoding of the tuple, so no choice of separator characters inside
    the parts makes two different fills share a label (a plain join would).

    Examples
    --------
    >>> len(fill_label("FIX.4.4:DESK->CLIENT", "ord-1", "q-1")), fill_label("s", "1", "q")[:3]
    (19, 'cq-')
    >>> fill_label("s", "1", "q") == fill_label("s", "1", "q") != fill_label("s", "1", "r")
    True
    >>> fill_label("A", "x\x1fy", "q") != fill_label("A\x1fx", "y", "q")
    True
    """
    encoded = json.dumps([session, order_id, quote_id], ensure_ascii=True, separators=(",", ":"))
    digest = hashlib.blake2b(encoded.encode("ascii"), digest_size=8).hexdigest()
    return f"cq-{digest}"


def unseen(fills: Sequence[tuple[str | None, Sequence[tuple[str, float]]]], seen: Seen) -> list[tuple[str, float]]:
    """The part of each fill the venue has not shown: ``(instrument, signed quantity)`` rows.

    Parameters
    ----------
    fills : sequence of (label or None, legs)
        Each fill in order: its label (None: never matched) and its legs ``(instrument,
        signed contracts)`` (+ the desk bought). Fills sharing a label are one fill.
    seen : Seen
        Label -> instrument -> (coins bought, coins sold) by the venue's trades under the
        label inside its current positions.

    Returns
    -------
    list of (str, float)
        Per label and instrument, ``fill − shown``; rows of zero left out; unlabelled fills as given.

    Notes
    -----
    ``shown = sign(f) · min(|f|, b)`` with ``b`` the coins bought (a fill ``f > 0``) or sold
    (``f < 0``) under the label: the venue's trades retire the fill up to its size and no
    further, and trades the other way retire nothing (nor undo a retirement).

    Examples
    --------
    >>> unseen([("a", [("X", -2.0)]), (None, [("Y", 1.0)])], {"a": {"X": (0.0, 1.5)}})
    [('Y', 1.0), ('X', -0.5)]
    >>> unseen([("a", [("X", -2.0)])], {"a": {"X": (3.0, 5.0)}})
    []
    """
    out: list[tuple[str, float]] = [(n, float(q)) for label, legs in fills if label is None for n, q in legs if q != 0]
    for _, name, left in _left(fills, seen):
        if left != 0:
            out.append((name, left))
    return out


def open_labels(fills: Sequence[tuple[str | None, Sequence[tuple[str, float]]]], seen: Seen) -> set[str]:
    """The labels of ``fills`` the venue has not shown in full (a label shown in full stays so).

    Parameters
    ----------
    fills : sequence of (label or None, legs)
        As :func:`unseen`.
    seen : Seen
        As :func:`unseen`.

    Returns
    -------
    set of str
        Labels with some leg not yet retired.

    Examples
    --------
    >>> sorted(open_labels([("a", [("X", -2.0)]), ("b", [("X", 1.0)])], {"a": {"X": (0.0, 2.0)}}))
    ['b']
    """
    return {label for label, _, left in _left(fills, seen) if left != 0}


def _left(fills: Sequence[tuple[str | None, Sequence[tuple[str, float]]]], seen: Seen) -> list[tuple[str, str, float]]:
    """(label, instrument, fill − shown) of every labelled fill's legs (fills sharing a label summed)."""
    total: dict[str, dict[str, float]] = {}
    for label, legs in fills:
        if label is None:
            continue
        book = total.setdefault(label, {})
        for name, qty in legs:
            book[name] = book.get(name, 0.0) + float(qty)
    out = []
    for label, book in total.items():
        at_venue = seen.get(label, {})
        for name, qty in book.items():
            bought, sold = at_venue.get(name, (0.0, 0.0))
            shown = min(qty, bought) if qty > 0 else -min(-qty, sold)
            out.append((label, name, qty - shown))
    return out


class JournalFills:
    """The FIX gateway's fills read from its journal (SQLite, opened read-only), re-read when it changes.

    For a process beside the gateway (the margin screen, ``clearquote live --journal``): the
    journal's ``fills`` table, rows with ``status = 'filled'``, each ``(session, cl_ord_id,
    quote_id, legs)`` with ``legs`` the JSON ``[[instrument, signed quantity the desk now holds],
    ...]``; the label is :func:`fill_label` of the session, ClOrdID and QuoteID, as the gateway
    books it. The journal's own bytes are never written (SQLite ``mode=ro``; SQLite may create
    the ``-shm``/``-wal`` files beside a WAL journal, which it needs to read one). The reader is
    total: a row it cannot read (a column not text, legs not ``[[name, finite number], ...]``,
    JSON nested beyond any sense) is left out and named in ``warnings``; a read that fails (the
    gateway mid-write, a damaged file) keeps the last good fills and says why in ``error``.

    Parameters
    ----------
    path : Path
        The gateway's journal file (``clearquote fix-acceptor ... --journal``).

    Raises
    ------
    PricingInputError
        The file is missing, unreadable, not SQLite, or has no ``fills`` table with those columns (named).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fills: list[tuple[str | None, list[tuple[str, float]]]] = []
        self.version = 0
        self.error = ""
        self.skipped = 0
        self.warnings: tuple[str, ...] = ()
        self._stamp: tuple[tuple[int, int], ...] | None = None
        if not path.is_file():
            raise PricingInputError(f"--journal {path}: no such file")
        stamp = self._file_stamp()
        try:
            self._read()
        except (sqlite3.Error, ValueError, OSError) as exc:
            raise PricingInputError(f"--journal {path}: not the gateway's journal ({exc})") from None
        self._stamp = stamp

    def poll(self) -> bool:
        """Re-read when the file (or its write-ahead log) changed; True when the fills changed.

        Returns
        -------
        bool
            True if the fills changed; False when unchanged or unreadable (``error`` says why).
        """
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        before = self.fills
        try:
            self._read()
        except (sqlite3.Error, ValueError, OSError) as exc:
            self.error = f"{self.path.name}: {exc} (the last good fills kept)"
            return False
        self._stamp, self.error = stamp, ""
        return self.fills != before

    def _file_stamp(self) -> tuple[tuple[int, int], ...]:
        out = []
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = p.stat()
            except OSError:
                out.append((0, 0))
                continue
            out.append((st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _read(self) -> None:
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=1.0)
        # bytes, decoded per row: a cell that is not UTF-8 skips its row, not the whole read
        conn.text_factory = bytes
        try:
            cols = {_text(r[1]) for r in conn.execute("PRAGMA table_info(fills)")}
            if not {"session", "cl_ord_id", "quote_id", "status", "legs"} <= cols:
                raise ValueError("no fills table with session, cl_ord_id, quote_id, status and legs")
            rows = conn.execute(
                "SELECT rowid, session, cl_ord_id, quote_id, legs FROM fills WHERE status = 'filled' ORDER BY rowid"
            ).fetchall()
        finally:
            conn.close()
        fills: list[tuple[str | None, list[tuple[str, float]]]] = []
        warnings: list[str] = []
        for row in rows:
            fill, why = journal_fill(row[1:])
            if fill is None:
                warnings.append(f"{self.path.name}: fills row {row[0]} left out: {why}")
                continue
            fills.append(fill)
        self.fills, self.skipped, self.warnings = fills, len(warnings), tuple(warnings)
        self.version += 1


def journal_fill(row: Sequence[Any]) -> tuple[tuple[str, list[tuple[str, float]]] | None, str]:
    """One journal ``fills`` row ``(session, cl_ord_id, quote_id, legs)`` as ``(label, legs)``; total.

    Parameters
    ----------
    row : sequence
        The four cells as SQLite gives them (text as ``str`` or UTF-8 ``bytes``; anything else
        a hostile or damaged file may hold).

    Returns
    -------
    ((label, legs) or None, str)
        The fill (its :func:`fill_label` and its legs ``(instrument, signed quantity)``) and
        ``""``; or None and why the row cannot be read. Never raises.
    """
    if len(row) != 4:
        return None, f"{len(row)} columns, not 4"
    names = ("session", "cl_ord_id", "quote_id")
    parts = [_text(v) for v in row[:3]]
    for name, part in zip(names, parts, strict=True):
        if not part:
            return None, f"{name} is not non-empty UTF-8 text"
    legs = _legs(row[3])
    if legs is None:
        return None, "legs is not [[instrument, finite quantity], ...] JSON"
    session, order_id, quote_id = parts
    assert session is not None and order_id is not None and quote_id is not None
    return (fill_label(session, order_id, quote_id), legs), ""


def _text(value: Any) -> str | None:
    """A cell as text (str, or bytes that are UTF-8); None otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _legs(value: Any) -> list[tuple[str, float]] | None:
    """``[[instrument, quantity], ...]`` from the journal's JSON; None when it is not that (never raises)."""
    text = _text(value)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return None
    if not isinstance(data, list):
        return None
    out = []
    for leg in data:
        if not (isinstance(leg, list) and len(leg) == 2 and isinstance(leg[0], str) and leg[0].strip()):
            return None
        qty = leg[1]
        if isinstance(qty, bool) or not isinstance(qty, (int, float)):
            return None
        try:
            size = float(qty)
        except OverflowError:  # an integer beyond any float
            return None
        if not math.isfinite(size):
            return None
        out.append((leg[0].strip().upper(), size))
    return out
