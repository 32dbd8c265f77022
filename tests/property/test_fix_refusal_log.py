"""The front's refusal log (``addin/fix/refusals.py``) as a state machine (hypothesis ``RuleBasedStateMachine``).

The machine refuses connections from a few limits and peers (more peers than the log holds, so the
"other peers" key is exercised), moves a clock forward by arbitrary steps, and asks for the windows
due. The model is the log's definition (docs/fix-invariants.md, "The front end"): each refusal is
either its key's full line or counted into exactly one summary. After every step:

* the refusals told (full lines + the summaries' counts) plus those still counted in open windows
  equal the refusals made; after ``flush``, the told ones alone do (the count is exact);
* no key has more than 2 lines per window: its full line and one summary;
* the log holds at most ``max_keys`` + one window per limit;
* no window is held past its end once ``due`` was asked at or after it.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from addin.fix.refusals import OTHERS, RefusalLog

WINDOW_S = 10.0
MAX_KEYS = 3
#: Limits refused at the door, and kinds of drop after admission: the front logs both through one log (F6 of the
#: outside audit: drops had bypassed it), each with its verb.
VERBS = {"max_connections": "refused", "max_pending_logons": "refused", "logon_timeout_s": "dropped", "framing": "dropped"}
LIMITS = tuple(VERBS)
PEERS = tuple(f"10.0.0.{i}" for i in range(6))  # twice the peers the log holds
SUMMARY = re.compile(r"^front: (?:refused|dropped) ([\d,]+) (?:more )?from (.+?): (.+) \(in ")
FULL = re.compile(r"^front: (?:refused|dropped) (\S+):(\d+): (\S+) ")


def told(lines: list[str]) -> int:
    """Refusals the lines account for: 1 per full line, N per summary."""
    total = 0
    for line in lines:
        summary = SUMMARY.match(line)
        if summary:
            total += int(summary.group(1).replace(",", ""))
        else:
            assert FULL.match(line), line
            total += 1
    return total


class RefusalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log = RefusalLog(WINDOW_S, max_keys=MAX_KEYS)
        self.now = 0.0
        self.made = 0
        self.lines: list[tuple[float, str]] = []  # (when told, line)
        self.port = 1000

    def _tell(self, lines: list[str]) -> None:
        self.lines += [(self.now, line) for line in lines]

    @rule(limit=st.sampled_from(LIMITS), peer=st.sampled_from(PEERS), times=st.integers(1, 30))
    def refuse(self, limit: str, peer: str, times: int) -> None:
        for _ in range(times):
            self.port += 1
            why = f"{limit} = 8 full"
            verb = VERBS[limit]
            lines = self.log.refuse(limit, peer, f"front: {verb} {peer}:{self.port}: {why}", why, self.now, verb=verb)
            self._tell(lines)
            self.made += 1

    @rule(step=st.floats(0, 3 * WINDOW_S, allow_nan=False))
    def advance(self, step: float) -> None:
        self.now += step

    @rule()
    def due(self) -> None:
        self._tell(self.log.due(self.now))
        after = self.log.next_due()
        assert after is None or after > self.now  # nothing ended is still held

    @invariant()
    def every_refusal_is_counted_once(self) -> None:
        held = sum(w.counted for w in self.log._open.values())
        assert told([line for _, line in self.lines]) + held == self.made

    @invariant()
    def each_line_says_what_happened(self) -> None:
        for _, line in self.lines:  # a drop is never told as a refusal, nor a refusal as a drop
            limit = (SUMMARY.match(line) or FULL.match(line)).group(3).split(" ")[0]  # type: ignore[union-attr]
            assert line.startswith(f"front: {VERBS[limit]} "), line

    @invariant()
    def memory_is_bounded(self) -> None:
        assert len(self.log) <= MAX_KEYS + len(LIMITS)
        assert sum(1 for _, peer in self.log._open if peer != OTHERS) <= MAX_KEYS

    @invariant()
    def at_most_two_lines_per_key_per_window(self) -> None:
        # A key's windows do not overlap and each opens with its full line at least WINDOW_S after
        # the last opened: so in any WINDOW_S-long span a key has at most one full line besides the
        # summary of the window before (summaries come only at a window's end).
        opened: dict[tuple[str, str], list[float]] = {}
        for when, line in self.lines:
            full = FULL.match(line)
            if full:
                opened.setdefault((full.group(3), full.group(1)), []).append(when)
        for times in opened.values():
            assert all(b - a >= WINDOW_S for a, b in itertools.pairwise(times)), times
        summaries: dict[tuple[str, str], int] = {}
        for _, line in self.lines:
            summary = SUMMARY.match(line)
            if summary:
                key = (summary.group(3).split(" ")[0], summary.group(2))
                summaries[key] = summaries.get(key, 0) + 1
        for key, n in summaries.items():  # at most one summary per window, and a window opens with a full line
            assert key[1] == OTHERS or n <= len(opened.get(key, [])), (key, n, opened.get(key))

    def teardown(self) -> None:
        self._tell(self.log.flush(self.now))
        assert told([line for _, line in self.lines]) == self.made
        assert len(self.log) == 0


RefusalMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestRefusalLog = RefusalMachine.TestCase


def test_a_thousand_refusals_from_one_peer_in_one_window_are_two_lines_with_the_exact_count() -> None:
    log = RefusalLog(WINDOW_S)
    lines: list[str] = []
    for i in range(1000):
        why = "max_pending_logons = 8 not logged on"
        lines += log.refuse("max_pending_logons", "10.1.1.1", f"front: refused 10.1.1.1:{i}: {why}", why, i * 0.001)
    assert lines == ["front: refused 10.1.1.1:0: max_pending_logons = 8 not logged on"]
    assert log.next_due() == WINDOW_S
    lines += log.due(WINDOW_S)
    assert lines[1].startswith("front: refused 999 more from 10.1.1.1: max_pending_logons = 8 not logged on (in the 10 s")
    assert len(log) == 0


def test_nonsense_windows_are_refused() -> None:
    for bad in (0.0, -1.0, float("nan")):
        try:
            RefusalLog(bad)
        except ValueError:
            continue
        raise AssertionError(f"RefusalLog({bad}) was accepted")
