"""Tick to FIX quote, phase by phase: where each mark message's latency goes (``python -m bench live-fix``).

Per mark message m, on the clock every thread and both processes read (``time.monotonic()``):

0. **arrival** ``a``: the feed client took the frame (the session's ``mark_arrivals``);
1. **decode**: → the board updated (``MarkBoard.apply_marks`` returned): the frame's JSON, the
   marks parsed, the board written (the feed's thread);
2. **wait for publication**: → the start of the publication of the first snapshot carrying m
   (``LiveSource._publish``): the publication rule's hold (``publication_time``'s wait) and the
   feed's loop busy with other frames or waiting for the GIL or a core;
3. **publish**: → that snapshot published (``LiveSource.published``): the chains, the surfaces,
   the content versions, the snapshot swapped in;
4. **wait for a request**: → the start (``fromApp``) of the QuoteRequest whose Quote is the first
   sent on a snapshot carrying m (not before the publication: a request that started earlier and
   read the snapshot after it waited for nothing): the request in flight and the load client's
   round trip;
5. **quote**: → that Quote sent (``toApp``): the desk's quote, the journal, the send.

The five add up to the tick-to-quote latency of :func:`bench.live_fix.tick_to_quote` exactly
(:func:`breakdown`; ``tests/property/test_tick_phases.py``). Each phase's own work is timed by the CPU time of
the thread doing it (``time.thread_time``) and by that thread's time waiting for a core (the
kernel's run-queue delay, ``/proc/thread-self/schedstat``); wall − CPU − run-queue delay is
what is left: the GIL held by another thread, or a timer. Over each mark message's whole window
(arrival → Quote sent) the probe also counts the CPU time every other thread of the gateway's
process used (by role: the refit thread, the book's basis thread, QuickFIX's threads, the
acceptor's poll loop, threads outside Python such as numba's workers), the fit process and the
load client, and the full collections that overlapped it.

What the probe adds to the path it measures: a few clock reads per frame, publication and
Quote (~3 µs each, measured on this machine), and one sample of every thread's CPU clock at
each mark arrival and at each Quote that is the first on a newer snapshot (~4 µs per thread).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

_SEQ = re.compile(r"#(\d+) snapshot ")

#: Phase names, in order (``breakdown``'s rows).
PHASES = ("decode", "wait_publication", "publish", "wait_request", "quote")


def _schedstat_ns(fd: int | None) -> tuple[float, float]:
    """(seconds on a core, seconds waiting for one) of the thread whose schedstat ``fd`` is open."""
    if fd is None:
        return (float("nan"), float("nan"))
    try:
        run, wait, _ = os.pread(fd, 100, 0).split()
    except (OSError, ValueError):
        return (float("nan"), float("nan"))
    return (int(run) * 1e-9, int(wait) * 1e-9)


def _proc_run_s(pid: int | None) -> float:
    """Seconds a whole process has run on a core (``/proc/PID/schedstat`` of its main task, summed
    over its tasks), NaN when it is gone."""
    if pid is None:
        return float("nan")
    total = 0.0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as fh:
                total += int(fh.read().split()[0]) * 1e-9
    except (OSError, ValueError):
        return float("nan")
    return total


def fit_process_pid() -> int | None:
    """The process id of the live source's fit process (None when none was started)."""
    from pricing.desk.live import slicefit

    shared = slicefit._shared
    return shared.pid if shared is not None else None


def role(name: str, fix_idents: frozenset[int], ident: int | None) -> str:
    """The role of a thread of the gateway's process, by its name (or as one QuickFIX called in on).

    Parameters
    ----------
    name : str
        ``threading.Thread.name``.
    fix_idents : frozenset of int
        Idents of the threads QuickFIX called the gateway on.
    ident : int or None
        The thread's ident.

    Returns
    -------
    str
        ``feed``, ``refit``, ``basis``, ``fix``, ``poll`` (the acceptor's loop, the main thread) or ``other``.
    """
    if ident is not None and ident in fix_idents:
        return "fix"
    if name.startswith("clearquote-feed"):
        return "feed"
    if name.startswith("clearquote-refit"):
        return "refit"
    if name == "book-basis":
        return "basis"
    if name == "MainThread":
        return "poll"
    return "other"


class PhaseProbe:
    """Stamps the phases of every mark message in the gateway's process (patched in, removed after).

    Patches ``protocol.classify`` (a mark frame's decode starts), ``MarkBoard.apply_marks`` (the
    board updated), ``source.publication_time`` (the rule's hold) and ``LiveSource._publish`` (a
    publication's start and end); the bench's gateway calls :meth:`request_started` and
    :meth:`quote_sent`. Each stamp is (``time.monotonic()``, the thread's CPU time, its run and
    run-queue seconds).
    """

    def __init__(self, other_pids: Callable[[], Mapping[str, int | None]]) -> None:
        from pricing.desk.live import protocol, source
        from pricing.desk.live.marks import MarkBoard
        from pricing.desk.live.source import LiveSource

        self._other_pids = other_pids
        self._local = threading.local()
        #: Per mark message: (decode start, board updated) monotonic, CPU s, run-queue s.
        self.decodes: list[tuple[float, float, float, float]] = []
        #: Per publication: start, end, CPU s, run-queue s, version after, rule's hold s; start CPU s.
        self.publications: list[tuple[float, float, float, float, int, float, float]] = []
        #: Per Quote sent: request start, sent, CPU s, run-queue s, market tag.
        self.quotes: list[tuple[float, float, float, float, str]] = []
        #: The feed thread's CPU s when each mark message's board was updated (aligned with decodes).
        self.applied_cpu: list[float] = []
        #: Window samples: key -> (monotonic, role -> CPU s).
        self.samples: dict[tuple[str, int], tuple[float, dict[str, float]]] = {}
        self._marks_seen = 0
        self._top_version = 0
        self._fix_idents: set[int] = set()
        self._rule: tuple[float, float] | None = None
        self._pending: tuple[float, float, float] | None = None
        self._protocol, self._source, self._board, self._live = protocol, source, MarkBoard, LiveSource
        self._saved = (protocol.classify, MarkBoard.apply_marks, source.publication_time, LiveSource._publish)
        probe = self
        classify, apply_marks, rule, publish = self._saved

        def timed_classify(raw: str | bytes) -> Any:
            head = raw[:160]
            if (b"markprice.options" in head) if isinstance(head, bytes) else ("markprice.options" in head):
                probe._pending = (time.monotonic(), time.thread_time(), probe._stat()[1])
                probe.sample(("mark", probe._marks_seen))
            return classify(raw)

        def timed_apply(board: Any, update: Any) -> Any:
            out = apply_marks(board, update)
            start = probe._pending
            cpu, (_, queued) = time.thread_time(), probe._stat()
            if start is not None:
                probe.decodes.append((start[0], time.monotonic(), cpu - start[1], queued - start[2]))
                probe.applied_cpu.append(cpu)
                probe._marks_seen += 1
                probe._pending = None
            return out

        def timed_rule(*args: Any) -> float:
            due = rule(*args)
            probe._rule = (time.monotonic(), due)  # the last look before the publication decides its hold
            return due

        def timed_publish(src: Any) -> None:
            t0, c0, (_, q0) = time.monotonic(), time.thread_time(), probe._stat()
            rule_at = probe._rule
            probe._rule = None
            try:
                publish(src)
            finally:
                hold = max(0.0, min(t0, rule_at[1]) - rule_at[0]) if rule_at is not None else 0.0
                c1, (_, q1) = time.thread_time(), probe._stat()
                probe.publications.append((t0, time.monotonic(), c1 - c0, q1 - q0, int(src._seq), hold, c0))

        protocol.classify = timed_classify
        MarkBoard.apply_marks = timed_apply  # type: ignore[method-assign]
        source.publication_time = timed_rule
        LiveSource._publish = timed_publish  # type: ignore[method-assign]

    def _stat(self) -> tuple[float, float]:
        fd = getattr(self._local, "fd", -1)
        if fd == -1:
            try:
                fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
            except OSError:
                fd = None
            self._local.fd = fd
        return _schedstat_ns(fd)

    def sample(self, key: tuple[str, int]) -> None:
        """Every thread's CPU time by role, the fit process's and the load client's, now."""
        fix = frozenset(self._fix_idents)
        by_role: dict[str, float] = {}
        python = 0.0
        for t in threading.enumerate():
            if t.ident is None:
                continue
            try:
                cpu = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            except (OSError, ValueError, OverflowError):
                continue
            r = role(t.name, fix, t.ident)
            by_role[r] = by_role.get(r, 0.0) + cpu
            python += cpu
        by_role["native"] = time.process_time() - python  # threads outside Python: numba's workers, QuickFIX's I/O
        for name, pid in self._other_pids().items():
            by_role[name] = _proc_run_s(pid)
        self.samples[key] = (time.monotonic(), by_role)

    def request_started(self) -> None:
        """Called by the gateway at the start of every application message (``fromApp``)."""
        self._fix_idents.add(threading.get_ident())
        self._local.request = (time.monotonic(), time.thread_time(), self._stat()[1])

    def quote_sent(self, tag: str) -> None:
        """Called by the gateway as each Quote is sent (``toApp``), with its market tag (naming ``#N``)."""
        start = getattr(self._local, "request", None)
        now, cpu, (_, queued) = time.monotonic(), time.thread_time(), self._stat()
        if start is None:  # a Quote sent outside a request (none today): its own start
            start = (now, cpu, queued)
        self.quotes.append((start[0], now, cpu - start[1], queued - start[2], tag))
        hit = _SEQ.search(tag)
        version = int(hit.group(1)) if hit else None
        if version is not None and version > self._top_version:
            self._top_version = version
            self.sample(("quote", version))

    def remove(self) -> None:
        """Put the product's functions back."""
        classify, apply_marks, rule, publish = self._saved
        self._protocol.classify = classify
        self._board.apply_marks = apply_marks  # type: ignore[method-assign]
        self._source.publication_time = rule
        self._live._publish = publish  # type: ignore[method-assign]


def breakdown(
    arrivals: np.ndarray,
    applied: np.ndarray,
    published: np.ndarray,
    starts: Mapping[int, float],
    quotes: Sequence[tuple[float, float, int]],
) -> dict[str, np.ndarray]:
    """Per mark message, its tick-to-quote latency cut at the phase boundaries (module docstring).

    Parameters
    ----------
    arrivals, applied : ndarray
        ``time.monotonic()`` of each mark message's arrival and of its board's update, ascending.
    published : ndarray
        Rows (marks received, published, version) of the snapshots, in publication order.
    starts : Mapping[int, float]
        Version -> ``time.monotonic()`` its publication started.
    quotes : sequence of (float, float, int)
        Each Quote's request start, send time and snapshot version, in sending order.

    Returns
    -------
    dict of str to ndarray
        ``mark`` (index into ``arrivals``), ``version`` (the first snapshot carrying it),
        ``first_quote`` (index into ``quotes``: the first Quote sent on a snapshot carrying it), and one
        array of seconds per name in :data:`PHASES`; the same marks as :func:`bench.live_fix.tick_to_quote`.

    Notes
    -----
    With b0 = arrival, b1 = max(b0, board updated), b2 = max(b1, publication start of the first
    snapshot carrying it), b3 = max(b2, that snapshot published), b4 = max(b3, the request
    start of the first Quote carrying it), b5 = that Quote's send time: phase k = b(k+1) − b(k),
    so the phases sum to b5 − b0, the latency. The maxima only bind on inconsistent stamps (a
    request that started before the publication it was priced on: its wait is 0).
    """
    rows = np.asarray(published, dtype=float).reshape(-1, 3)
    received = {int(v): float(m) for m, _, v in rows}
    empty = {k: np.array([], dtype=int) for k in ("mark", "version", "first_quote")} | {p: np.array([]) for p in PHASES}
    sent, carried, index = [], [], []
    for i, (_, t, v) in enumerate(quotes):
        if int(v) not in received:
            continue
        sent.append(t)
        carried.append(received[int(v)])
        index.append(i)
    if not sent:
        return empty
    t_q = np.array(sent)
    reach = np.maximum.accumulate(np.array(carried))
    marks = np.flatnonzero(arrivals >= t_q[0])
    i = np.searchsorted(reach, arrivals[marks], side="left")
    ok = i < t_q.size
    marks, i = marks[ok], i[ok]
    if marks.size == 0:
        return empty
    q = np.array(index)[i]
    # The first snapshot carrying each mark: marks received never fall from one publication to the next.
    order = np.argsort(rows[:, 2], kind="stable")
    by_version = rows[order]
    first = np.searchsorted(np.maximum.accumulate(by_version[:, 0]), arrivals[marks], side="left")
    version = by_version[first, 2].astype(int)
    b0 = arrivals[marks]
    b1 = np.maximum(b0, applied[marks])
    b2 = np.maximum(b1, np.array([starts.get(int(v), np.nan) for v in version]))
    b2 = np.where(np.isnan(b2), b1, b2)
    b3 = np.maximum(b2, by_version[first, 1])
    b4 = np.maximum(b3, np.array([quotes[k][0] for k in q]))
    b5 = np.array([quotes[k][1] for k in q])
    out: dict[str, np.ndarray] = {"mark": marks, "version": version, "first_quote": q}
    for name, lo, hi in zip(PHASES, (b0, b1, b2, b3, b4), (b1, b2, b3, b4, b5)):
        out[name] = hi - lo
    return out


def _pct(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return 1000 * float(np.percentile(x, q)) if x.size else float("nan")


def summarize(
    probe: PhaseProbe, arrivals: np.ndarray, published: np.ndarray, pauses: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    """The phases' wall and CPU p50/p99 (ms), what ran beside each mark's window, and the worst marks.

    Parameters
    ----------
    probe : PhaseProbe
        The run's stamps.
    arrivals : ndarray
        ``FeedStatus.mark_arrivals``.
    published : ndarray
        ``LiveSource.published`` rows.
    pauses : sequence of (float, float)
        Full collections once the acceptor served: (``time.monotonic()`` at the start, seconds).

    Returns
    -------
    dict
        ``phases``: name -> wall p50/p99, CPU p50/p99, run-queue p50/p99 (ms); ``rule_hold``;
        ``beside``: role -> CPU ms in a mark's window p50/p99; ``worst``: the five slowest marks, each phase and
        what ran beside it.
    """
    n = min(len(probe.decodes), arrivals.size)
    applied = np.array([d[1] for d in probe.decodes[:n]])
    arr = arrivals[:n]
    pubs = {p[4]: p for p in probe.publications}
    starts = {v: p[0] for v, p in pubs.items()}
    quotes = []
    for start, sent, _, _, tag in probe.quotes:
        hit = _SEQ.search(tag)
        quotes.append((start, sent, int(hit.group(1)) if hit else -1))
    b = breakdown(arr, applied, published, starts, quotes)
    marks, versions, qs = b["mark"], b["version"], b["first_quote"]
    nan = float("nan")
    cpu = {
        "decode": np.array([probe.decodes[m][2] for m in marks]),
        "wait_publication": np.array([pubs[v][6] - probe.applied_cpu[m] if v in pubs else nan for m, v in zip(marks, versions)]),
        "publish": np.array([pubs[v][2] if v in pubs else nan for v in versions]),
        "wait_request": np.full(marks.size, nan),
        "quote": np.array([probe.quotes[k][2] for k in qs]),
    }
    queued = {
        "decode": np.array([probe.decodes[m][3] for m in marks]),
        "publish": np.array([pubs[v][3] if v in pubs else nan for v in versions]),
        "quote": np.array([probe.quotes[k][3] for k in qs]),
    }
    hold = np.minimum(np.array([pubs[v][5] if v in pubs else nan for v in versions]), b["wait_publication"])
    phases = {
        name: {
            "wall_p50_ms": _pct(b[name], 50),
            "wall_p99_ms": _pct(b[name], 99),
            "cpu_p50_ms": _pct(cpu[name], 50),
            "cpu_p99_ms": _pct(cpu[name], 99),
            "run_queue_p50_ms": _pct(queued[name], 50) if name in queued else nan,
            "run_queue_p99_ms": _pct(queued[name], 99) if name in queued else nan,
        }
        for name in PHASES
    }
    total = sum(b[name] for name in PHASES) if marks.size else np.array([])
    beside: dict[str, list[float]] = {}
    for m, k in zip(marks, qs):
        v = quotes[k][2]
        lo, hi = probe.samples.get(("mark", int(m))), probe.samples.get(("quote", int(v)))
        if lo is None or hi is None:
            continue
        for r in set(lo[1]) | set(hi[1]):
            beside.setdefault(r, []).append(hi[1].get(r, nan) - lo[1].get(r, nan))
    gc_in = np.array(
        [sum(d for s, d in pauses if s < arr[m] + t and s + d > arr[m]) for m, t in zip(marks, total)] if marks.size else []
    )
    worst = []
    for j in np.argsort(-total)[:5] if marks.size else []:
        m, k = int(marks[j]), int(qs[j])
        lo, hi = probe.samples.get(("mark", m)), probe.samples.get(("quote", quotes[k][2]))
        others = {r: round(1000 * (hi[1].get(r, nan) - lo[1].get(r, nan)), 1) for r in sorted(lo[1])} if lo and hi else {}
        worst.append(
            {
                "mark": m,
                "total_ms": round(1000 * float(total[j]), 1),
                **{f"{p}_ms": round(1000 * float(b[p][j]), 1) for p in PHASES},
                "rule_hold_ms": round(1000 * float(hold[j]), 1),
                "publish_cpu_ms": round(1000 * float(cpu["publish"][j]), 1),
                "quote_cpu_ms": round(1000 * float(cpu["quote"][j]), 1),
                "gc_ms": round(1000 * float(gc_in[j]), 1),
                "beside_cpu_ms": others,
            }
        )
    every = np.array([q[2] for q in probe.quotes])
    return {
        "marks": int(marks.size),
        "total_p50_ms": _pct(total, 50),
        "total_p99_ms": _pct(total, 99),
        "phases": phases,
        "rule_hold_p50_ms": _pct(hold, 50),
        "rule_hold_p99_ms": _pct(hold, 99),
        "publications": len(probe.publications),
        "publication_cpu_p50_ms": _pct(np.array([p[2] for p in probe.publications]), 50),
        "beside_cpu_ms": {r: {"p50": _pct(np.array(x), 50), "p99": _pct(np.array(x), 99)} for r, x in sorted(beside.items())},
        "gc_in_window_max_ms": _pct(gc_in, 100),
        "every_quote_cpu_p50_ms": _pct(every, 50),
        "every_quote_cpu_p99_ms": _pct(every, 99),
        "worst": worst,
        "per_mark_ms": {p: [round(1000 * float(x), 2) for x in b[p]] for p in PHASES} | {"mark": [int(m) for m in marks]},
    }


def table(s: dict[str, Any]) -> list[str]:
    """:func:`summarize`'s result as the bench's printed lines."""
    lines = [
        f"tick to quote, phase by phase ({s['marks']} mark messages; ms; CPU = the phase's own thread, run queue = its wait for a core)",
        f"{'phase':22s} {'wall p50':>9s} {'wall p99':>9s} {'CPU p50':>8s} {'CPU p99':>8s} {'runq p50':>9s} {'runq p99':>9s}",
    ]
    for name, p in s["phases"].items():
        lines.append(
            f"{name:22s} {p['wall_p50_ms']:9.1f} {p['wall_p99_ms']:9.1f} {p['cpu_p50_ms']:8.1f} {p['cpu_p99_ms']:8.1f}"
            f" {p['run_queue_p50_ms']:9.1f} {p['run_queue_p99_ms']:9.1f}"
        )
    lines.append(f"{'sum (tick to quote)':22s} {s['total_p50_ms']:9.1f} {s['total_p99_ms']:9.1f}")
    lines.append(
        f"peer: every Quote's CPU (fromApp -> toApp) p50 {s['every_quote_cpu_p50_ms']:.1f}, p99 {s['every_quote_cpu_p99_ms']:.1f}"
    )
    lines.append(
        f"of the wait for publication, the publication rule's hold: p50 {s['rule_hold_p50_ms']:.1f}, p99 {s['rule_hold_p99_ms']:.1f};"
        f" {s['publications']} publications, CPU p50 {s['publication_cpu_p50_ms']:.1f}"
    )
    beside = ", ".join(f"{r} {v['p50']:.1f}/{v['p99']:.1f}" for r, v in s["beside_cpu_ms"].items())
    lines.append(
        f"CPU beside each mark's window (p50/p99 ms): {beside}; full collections in a window: max {s['gc_in_window_max_ms']:.1f}"
    )
    for w in s["worst"]:
        lines.append(f"  worst: {w}")
    return lines
