"""The front end's refusal log: one line per (limit, peer) per window and a summary with the exact count.

A connection refused at the door (a limit of :class:`addin.fix.front.FrontLimits` full) costs the
front almost nothing, so a peer can make thousands a second; one log line each would let it fill the
acceptor's log and disk instead. The same holds for a connection admitted and then dropped (garbage,
a first message that is not a Logon, a bad HeartBtInt, a deadline): an audit opened 26,857 such
connections from one address in 5 s, each one logged. So every line of the front that a peer can
cause, refusals and drops alike, is logged per key ``(limit or reason, peer address)`` in windows:

* the first refusal of a key opens its window and is logged in full (peer, port, limit);
* the others in the window are counted, not logged;
* when the window ends, a count above 0 is logged as one summary line
  (``front: refused 612 more from 127.0.1.1: max_pending_logons = 8 not logged on (in the 10 s since the line above)``)
  and the key is forgotten; a later refusal opens a new window.

Invariants (``tests/property/test_fix_refusal_log.py``, hypothesis, any sequence of refusals and
clock readings; ``tests/host/test_fix_front.py`` on the real acceptor):

* every refusal is counted exactly once: the full lines plus the summaries' counts equal the refusals
  (after :meth:`RefusalLog.flush`, which the front calls when it stops);
* a key gets at most 2 lines per window (its full line and one summary);
* the log holds at most ``max_keys`` peers' windows plus one per limit: once ``max_keys`` peers have an
  open window, a new peer's refusals are counted under that limit's "other peers" key (so a peer
  behind many addresses costs lines and memory of one key per limit, not one per address);
* a counted refusal is reported by the first :meth:`RefusalLog.due` at or after its window's end.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The peers whose windows the log holds at once (about 270 bytes each, tracemalloc); past it, "other peers".
MAX_KEYS = 1024
#: The peer of the key that counts refusals from peers beyond ``MAX_KEYS``.
OTHERS = "other peers"


@dataclass
class _Window:
    """One key's open window: when it started (the loop's clock, s), what it counts, and the text of its limit."""

    started: float
    counted: int
    why: str
    verb: str = "refused"


class RefusalLog:
    """Refusals in, log lines out, rate-limited per (limit, peer); a pure object over a clock the caller reads.

    Parameters
    ----------
    window_s : float
        The window of each key, seconds (``FrontLimits.refusal_log_s``).
    max_keys : int
        The peers held at once (default :data:`MAX_KEYS`).
    """

    def __init__(self, window_s: float, max_keys: int = MAX_KEYS) -> None:
        if not window_s > 0 or max_keys < 1:
            raise ValueError(f"window_s must be > 0 and max_keys >= 1, got {window_s!r}, {max_keys!r}")
        self.window_s = float(window_s)
        self.max_keys = max_keys
        # Insertion order is start order: every window opens at the current reading of a clock that
        # does not go back, so the first entry is always the first to end.
        self._open: dict[tuple[str, str], _Window] = {}
        self._peers = 0  # entries whose peer is not OTHERS

    def __len__(self) -> int:
        """Windows held (at most ``max_keys`` + one per limit)."""
        return len(self._open)

    def refuse(self, limit: str, peer: str, line: str, why: str, now: float, verb: str = "refused") -> list[str]:
        """Record one refusal; the lines to log now (windows ended by ``now``, then this refusal's line if it opens one).

        A drop after admission (``verb`` ``"dropped"``) is recorded the same way: ``limit`` is then the
        reason's key (``logon_timeout_s``, ``framing``, ...), and the summary says "dropped".

        Parameters
        ----------
        limit : str
            The limit's name (``max_pending_logons``, ...).
        peer : str
            The peer's address (no port: one key per address).
        line : str
            The full line, logged if this refusal opens a window.
        why : str
            The limit's text, repeated in the summary.
        now : float
            The clock, seconds (never less than an earlier call's).
        verb : str
            What happened to the connection, as the summary says it (``refused``, ``dropped``).
        """
        out = self.due(now)
        key = (limit, peer)
        if key not in self._open and self._peers >= self.max_keys:
            key = (limit, OTHERS)
        window = self._open.get(key)
        if window is not None:
            window.counted += 1
            return out
        if key[1] == OTHERS:  # beyond the peers held: counted from the first, told in the summary by the limit's name
            self._open[key] = _Window(now, 1, limit, verb)
            return out
        self._open[key] = _Window(now, 0, why, verb)
        self._peers += 1
        out.append(line)
        return out

    def next_due(self) -> float | None:
        """When the first open window ends (the clock's seconds), None if none is open."""
        first = next(iter(self._open.values()), None)
        return None if first is None else first.started + self.window_s

    def due(self, now: float) -> list[str]:
        """The summaries of the windows ended by ``now``; those keys are forgotten."""
        out: list[str] = []
        while self._open:
            key, window = next(iter(self._open.items()))
            if window.started + self.window_s > now:
                break
            out += self._close(key, window, now)
        return out

    def flush(self, now: float) -> list[str]:
        """Every open window's summary now (the front stopping): no counted refusal goes unreported."""
        out: list[str] = []
        for key, window in list(self._open.items()):
            out += self._close(key, window, now)
        return out

    def _close(self, key: tuple[str, str], window: _Window, now: float) -> list[str]:
        del self._open[key]
        peer = key[1]
        if peer != OTHERS:
            self._peers -= 1
        if not window.counted:
            return []
        took = now - window.started
        if peer == OTHERS:
            return [
                f"front: {window.verb} {window.counted:,} from other peers: {window.why} "
                f"(in {took:.3g} s; the refusal log held {self.max_keys:,} peers)"
            ]
        return [
            f"front: {window.verb} {window.counted:,} more from {peer}: {window.why} (in the {took:.3g} s since the line above)"
        ]
