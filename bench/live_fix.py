"""``python -m bench live-fix``: tick-to-FIX-quote latency on the live market while bench-fix's load runs.

The FIX gateway runs in this process as ``clearquote fix-acceptor SETTINGS --market
replay:FILE@1 --portfolio BOOK`` runs it (the same :func:`addin.fix.run.build_desk`, the same
:class:`addin.fix.gateway.QuoteGateway` served by the same :class:`addin.fix.run.Serving`, the
same poll every 0.2 s, the same shutdown order), on the synthetic replay of ``python -m bench live`` (all 1,946 bundled 2026-08-21 BTC and
ETH options, every mark each second) played at 1×, with bench-fix's 1,000-position book. Its
only addition is a timestamp: ``toApp`` (QuickFIX calls it on the sending thread just before it
writes a message) notes when each Quote (35=S) is sent and the snapshot it names.

The load is bench-fix's: a QuickFIX initiator in a process of its own (``bench/fix_load.py``)
sends single-leg QuoteRequests one at a time, the next when the previous answer arrived, for
the whole replay.

Tick-to-quote latency of a mark message = from its arrival at the feed client (the session's
``mark_arrivals``, ``time.monotonic()``) to the sending of the first Quote whose snapshot carries
it: every Quote names its snapshot (tag 5040, ``... #N snapshot ...``), and snapshot N was built
on the marks received up to its ``marks_received`` (``LiveSource.published``); the boards are
cumulative, so snapshot N carries every mark message received at or before that time. Mark
messages that arrived before the first measured Quote or after the last one are not counted.
Peer, in the same run: the FIX QuoteRequest→Quote latency the client measures (send to arrival).

A Quote's price is from the snapshot it names first; its margin (ΔIM, costs, spread) may be from
an older one within the desk's bound (``LiveLimits.max_margin_lag_s``, :mod:`pricing.desk.lag`),
named after it (``, margin on ... #M snapshot ...``). The run reports how far behind the margin
was (publications, and seconds of mark receipt between the two snapshots) and every basis build
with the CPU time of the thread that built it (``time.thread_time``): on a quote's path, or ahead
on the book's own thread. ``--margin-lag-s 0`` runs the same bench with every quote's margin on
its own snapshot (the basis rebuilt on the path of the first quote on each new snapshot).

Each mark message's latency is also cut into five phases (decode, wait for publication, publish,
wait for a request, quote; :mod:`bench.live_phases`), each with the CPU time and the run-queue wait
of the thread doing it, and what every other thread and process used during the mark's window:
``phases`` in the JSON, a second table in the text.

Everything shares 2 cores with other work on this machine: the numbers are noisy.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.fix import book_and_requests
from bench.live import json_safe, synth_recording
from bench.live_phases import PhaseProbe, fit_process_pid, summarize, table

#: Recorded seconds of quiet before the first marks: the source's first cold fit is done in them.
GAP_S = 20.0

#: The admission clock's start: the bundled market's options expired in real time (as bench-fix).
CLOCK_START = datetime(2026, 8, 21, 9, 47, 29, tzinfo=UTC)

_SEQ = re.compile(r"#(\d+) snapshot ")
_MARGIN_SEQ = re.compile(r"margin on .*#(\d+) snapshot ")


def margin_lags(published: np.ndarray, quotes: list[tuple[float, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Per Quote, how far its margin snapshot was behind its price snapshot.

    Parameters
    ----------
    published : ndarray
        Rows (marks received, published, version) of the snapshots (``LiveSource.published``).
    quotes : list of (float, str)
        As :func:`tick_to_quote`: each Quote's market tag names its price snapshot ``#N`` and,
        when the margin is from another, ``margin on ... #M``.

    Returns
    -------
    publications, seconds : ndarray
        N - M (0 when the margin is the price snapshot's own) and the seconds of mark receipt
        between them, for every Quote whose snapshots are both in ``published``.
    """
    received = {int(v): float(m) for m, _, v in published}
    behind, seconds = [], []
    for _, tag in quotes:
        price = _SEQ.search(tag)
        if price is None or int(price.group(1)) not in received:
            continue
        n = int(price.group(1))
        margin = _MARGIN_SEQ.search(tag)
        m = int(margin.group(1)) if margin is not None else n
        if m in received:
            behind.append(n - m)
            seconds.append(received[n] - received[m])
    return np.array(behind, dtype=float), np.array(seconds)


def tick_to_quote(arrivals: np.ndarray, published: np.ndarray, quotes: list[tuple[float, str]]) -> tuple[np.ndarray, int, int]:
    """Per mark message, seconds from its arrival to the first Quote sent on a snapshot carrying it.

    Parameters
    ----------
    arrivals : ndarray
        ``time.monotonic()`` of each mark message's arrival, ascending.
    published : ndarray
        Rows (marks received, published, version) of the fitted snapshots (``LiveSource.published``).
    quotes : list of (float, str)
        ``time.monotonic()`` a Quote was sent and its market tag (naming ``#version``), in sending order.

    Returns
    -------
    latencies : ndarray
        Seconds, one per mark message between the first and the last Quote.
    before, after : int
        Mark messages left out: arrived before the first Quote was sent, or carried by no Quote sent.

    Notes
    -----
    Snapshot v carries mark message m when ``marks_received(v) >= arrival(m)`` (the boards are
    cumulative). A Quote sent at t on snapshot v answers every such m with t >= arrival(m);
    the latency of m is the earliest such t minus arrival(m). A Quote naming a version not in
    ``published`` (older than its 10,000 rows) carries nothing new and is skipped.
    """
    received = {int(v): float(m) for m, _, v in published}
    sent, carried = [], []
    for t, tag in quotes:
        hit = _SEQ.search(tag)
        if hit is None or int(hit.group(1)) not in received:
            continue
        sent.append(t)
        carried.append(received[int(hit.group(1))])
    if not sent:
        return np.array([]), int(arrivals.size), 0
    t_q = np.array(sent)
    # The newest marks any Quote sent by then carried (snapshots can only get newer, but a
    # request priced on an older snapshot may be sent after a newer one: take the running max).
    reach = np.maximum.accumulate(np.array(carried))
    window = arrivals[arrivals >= t_q[0]]
    before = int(arrivals.size - window.size)
    i = np.searchsorted(reach, window, side="left")  # the first Quote whose snapshot carries the mark
    ok = i < t_q.size
    # that Quote was sent after the mark arrived (its snapshot was built after it): t >= arrival
    return t_q[i[ok]] - window[ok], before, int((~ok).sum())


class Probe:
    """Every basis build, timed by the CPU time of the thread that ran it (``time.thread_time``,
    robust on a loaded machine), and every full (generation-2) collection once the acceptor
    serves, with its pause (every thread stops for it)."""

    def __init__(self) -> None:
        from pricing.desk.book import Book

        self.builds: list[tuple[str, float, float, float]] = []  # (thread, CPU s, wall s, monotonic at the end)
        self.pauses: list[float] = []
        #: (``time.monotonic()`` at its start, seconds) of each full collection.
        self.pause_at: list[tuple[float, float]] = []
        self._began: list[tuple[float, float]] = []
        self._make = Book._make
        Book._make = staticmethod(self._timed)  # type: ignore[method-assign]

    def watch_collections(self) -> None:
        """From now on (after ``settle_heap``'s own full collection of the start-up heap)."""
        gc.callbacks.append(self._collector)

    def _timed(self, *args: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return self._make(*args)
        finally:
            spent = (time.thread_time() - cpu, time.perf_counter() - wall)
            self.builds.append((threading.current_thread().name, *spent, time.monotonic()))

    def _collector(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began.append((time.perf_counter(), time.monotonic()))
        elif self._began:
            began, at = self._began.pop()
            self.pauses.append(time.perf_counter() - began)
            self.pause_at.append((at, self.pauses[-1]))

    def remove(self) -> None:
        from pricing.desk.book import Book

        if self._collector in gc.callbacks:
            gc.callbacks.remove(self._collector)
        Book._make = staticmethod(self._make)  # type: ignore[method-assign]


def run_bench_live_fix(seconds: int = 60, n_book: int = 1_000, as_json: bool = False, margin_lag_s: float | None = None) -> int:
    """Replay ``seconds`` of marks at 1× into the FIX gateway while the client sends QuoteRequests.

    ``margin_lag_s`` replaces the live source's ``max_margin_lag_s`` (None: its default)."""
    from addin.fix.gateway import TAG_MARKET, QuoteGateway
    from addin.fix.run import Serving, build_desk, kill_path, open_checked, settle_heap, write_settings

    load_start = os.getloadavg()
    book_rows, requests = book_and_requests(n_book, 1_000)
    probe = Probe()
    pids: dict[str, int | None] = {"fit_process": None, "load_client": None}
    phases = PhaseProbe(lambda: pids)

    class TimedGateway(QuoteGateway):  # type: ignore[misc]
        """The product's gateway; notes when each Quote is sent (QuickFIX's hook before the write)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.quotes_sent: list[tuple[float, str]] = []

        def fromApp(self, message: Any, session_id: Any) -> None:
            phases.request_started()
            super().fromApp(message, session_id)

        def toApp(self, message: Any, session_id: Any) -> None:
            # Nothing may leave a QuickFIX callback (addin.fix.run.quiet says why): a Quote
            # without its market tag is noted with an empty one and counted by no snapshot.
            if message.getHeader().getField(35) == "S":
                tag = message.getField(TAG_MARKET) if message.isSetField(TAG_MARKET) else ""
                self.quotes_sent.append((time.monotonic(), tag))
                phases.quote_sent(tag)

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        n_options = synth_recording(base / "feed.jsonl.gz", seconds, GAP_S)
        with (base / "book.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows(book_rows)
        (base / "requests.json").write_text(json.dumps(requests))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        acc = write_settings(base / "acceptor.cfg", "acceptor", port, base)
        ini = write_settings(base / "initiator.cfg", "initiator", port, base)
        journal_path = base / "journal.sqlite"
        desk = build_desk(str(base / "book.csv"), f"replay:{base / 'feed.jsonl.gz'}@1", None)
        source = desk.market.source
        pids["fit_process"] = fit_process_pid()
        if margin_lag_s is not None:  # read at each publication: every snapshot of the marks carries it
            source.limits = replace(source.limits, max_margin_lag_s=margin_lag_s)
        journal = open_checked(journal_path)
        offset = CLOCK_START - datetime.now(UTC)
        app = TimedGateway(desk, journal, kill_file=kill_path(journal_path), clock=lambda: datetime.now(UTC) + offset)
        serving = Serving(app, str(acc), journal)  # the acceptor and its shutdown order, as run_acceptor's
        serving.poll()
        settle_heap()  # as run_acceptor does before serving
        probe.watch_collections()
        serving.start()
        out = base / "client.json"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "bench.fix_load", str(ini), str(base / "requests.json"), str(out)]
        client = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pids["load_client"] = client.pid
        done = threading.Event()
        replay = source._replay  # the bench reads the replay server's clocks
        try:
            deadline = time.monotonic() + 30 * (seconds + GAP_S) + 300
            # The acceptor's loop, as run_acceptor's: the kill file and market moves every 0.2 s.
            while not replay.finished.is_set() and client.poll() is None and time.monotonic() < deadline:
                done.wait(0.2)
                serving.poll()
            end = time.monotonic() + 2.0  # quotes on the last marks
            while time.monotonic() < end and client.poll() is None:
                done.wait(0.2)
                serving.poll()
            client.send_signal(signal.SIGTERM)
            client.wait(timeout=120)
        finally:
            if client.poll() is None:
                client.kill()
            serving.stop()  # the engine's threads joined, then the journal closed
            probe.remove()
            phases.remove()
        arrivals = np.array(source.status.mark_arrivals)
        source_lag = float(source.limits.max_margin_lag_s)
        published = np.array(source.published)
        replay_wall = replay.finished_mono - replay.started_mono
        desk.market.close()
        if client.returncode != 0 or not out.exists():
            assert client.stdout is not None
            print(f"bench live-fix: the FIX client failed:\n{client.stdout.read().decode()}", file=sys.stderr)
            return 1
        client_out = json.loads(out.read_text())
        answers, cancels = client_out["answers"], client_out["cancels"]
    lat, before, after = tick_to_quote(arrivals, published, app.quotes_sent)
    by_phase = summarize(phases, arrivals, published, probe.pause_at)
    behind, behind_s = margin_lags(published, app.quotes_sent)
    on_path = np.array([cpu for name, cpu, _, _ in probe.builds if name != "book-basis"])
    ahead = np.array([cpu for name, cpu, _, _ in probe.builds if name == "book-basis"])
    # When each build on a quote's path ended, seconds after the first mark message arrived.
    first_mark = float(arrivals[0]) if arrivals.size else float("nan")
    path_at = [round(at - first_mark, 3) for name, _, _, at in probe.builds if name != "book-basis"]
    fix_lat = np.array([a["answered"] - a["sent"] for a in answers if a["type"] == "S"])
    refused = sum(1 for a in answers if a["type"] != "S")
    reasons: dict[str, int] = {}
    for a in answers:
        if a["type"] != "S":
            why = re.sub(r"[0-9.]+", "N", a["text"].split(": ", 1)[-1])[:100]  # one line per kind of reason
            reasons[why] = reasons.get(why, 0) + 1

    def pct(x: np.ndarray, q: float) -> float:
        return 1000 * float(np.percentile(x, q)) if x.size else float("nan")

    result = {
        "options": n_options,
        "recorded_s": seconds,
        "replay_wall_s": replay_wall,
        "book_positions": n_book,
        "mark_messages": int(lat.size),
        "marks_before_first_quote": before,
        "marks_after_last_quote": after,
        "tick_to_quote_p50_ms": pct(lat, 50),
        "tick_to_quote_p99_ms": pct(lat, 99),
        "tick_to_quote_max_ms": pct(lat, 100),
        "quotes": int(fix_lat.size),
        "refused": refused,
        "fix_request_to_quote_p50_ms": pct(fix_lat, 50),
        "fix_request_to_quote_p99_ms": pct(fix_lat, 99),
        "refusal_reasons": reasons,
        "quote_cancels": cancels,
        "snapshots": int(published.shape[0]) if published.size else 0,
        "max_margin_lag_s": source_lag,
        "quotes_margin_lagged": int((behind > 0).sum()),
        "margin_lag_publications_p50": float(np.percentile(behind, 50)) if behind.size else float("nan"),
        "margin_lag_publications_max": float(behind.max()) if behind.size else float("nan"),
        "margin_lag_received_p99_ms": pct(behind_s, 99),
        "margin_lag_received_max_ms": pct(behind_s, 100),
        "basis_builds_on_path": int(on_path.size),
        "basis_build_on_path_cpu_p50_ms": pct(on_path, 50),
        "basis_build_on_path_cpu_sum_s": float(on_path.sum()),
        "basis_builds_on_path_after_first_mark_s": path_at,
        "basis_builds_ahead": int(ahead.size),
        "basis_build_ahead_cpu_p50_ms": pct(ahead, 50),
        "basis_build_ahead_cpu_sum_s": float(ahead.sum()),
        "full_collections": len(probe.pauses),
        "full_collection_max_ms": 1000 * max(probe.pauses) if probe.pauses else 0.0,
        "phases": by_phase,
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
    }
    if as_json:
        print(json.dumps(json_safe(result)))
        return 0
    print(
        f"bench live-fix: {n_options} options replayed at 1x for {seconds} s into the FIX gateway (in-process, as"
        f" fix-acceptor --market replay:FILE@1), {n_book}-position book, QuoteRequests one at a time from another process"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_start)}; shared 2-core machine: noisy")
    print(f"{'':34s} {'count':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    print(f"{'tick to FIX quote (mark -> 35=S)':34s} {lat.size:>6d} {pct(lat, 50):8.1f} {pct(lat, 99):8.1f} {pct(lat, 100):8.1f}")
    print(
        f"{'peer: FIX QuoteRequest -> Quote':34s} {fix_lat.size:>6d} {pct(fix_lat, 50):8.1f} {pct(fix_lat, 99):8.1f}"
        f" {pct(fix_lat, 100):8.1f}"
    )
    print(
        f"mark messages left out: {before} before the first quote, {after} after the last; {refused} requests refused;"
        f" {cancels} QuoteCancels (market moved); {result['snapshots']} snapshots; replay wall {replay_wall:.1f} s for {seconds + GAP_S:.0f} recorded s"
    )
    for why, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  refused {count}: {why}")
    print(
        f"margin lag bound {source_lag:g} s: {result['quotes_margin_lagged']} of {behind.size} quotes had their margin from an"
        f" older snapshot (at most {result['margin_lag_publications_max']:g} publications, {result['margin_lag_received_max_ms']:.1f} ms"
        f" of marks behind); basis builds on a quote's path {on_path.size} (CPU p50 {pct(on_path, 50):.1f} ms),"
        f" ahead on the book's thread {ahead.size} (CPU p50 {pct(ahead, 50):.1f} ms)"
    )
    print("\n".join(table(by_phase)))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("goal: tick to FIX quote p99 <= 50 ms")
    return 0
