"""``python -m bench live``: the live source replaying every BTC and ETH option's mark each second.

The replay is synthesised from the bundled 2026-08-21 Deribit chains (1,946 options, 22
expiries): the venue's bootstrap answers, then per second one ``markprice.options`` message per
currency with every option's mark (a common vol random walk of 0.15 vol pt/s plus 0.03 vol pt of
noise per option, so expiries cross the 0.25 vol pt refit threshold every few seconds), the index
and the perpetual. It runs through the product's own path: ``replay:FILE@SPEED`` → the loopback
replay server → the WebSocket client → the mark boards → the refit thread → snapshots.

Measured, per speed (1×, 10×, as fast as possible):

- mark-to-snapshot latency: from a mark message's arrival at the client (the session's clock) to
  the publication of the first fitted snapshot built on it or on later marks (the source's
  clock; the boards are cumulative, so that snapshot has it); the stream starts after the first
  cold fit (a quiet gap in the recording), and marks the run ended before are reported apart;
- refit of one expiry (warm-started, validated), timed on the refit thread, the fit itself in
  the fit process: p50/p99 over every refit of the run; a warm fit that fails validation
  queues a cold retry, run when no refit is due and reported apart (count, p99), unless a cold
  retry of that expiry failed less than ``every_s`` ago (skipped); peer: the cold fit of the
  same expiry quotes (``fit_svi`` without a start, as a file's surface is fitted);
- backlog: replay wall time against recorded time / speed;
- memory: the process's RSS after the 1× run and after the longest run, sampled through each run
  (every 50 ms): RSS at each tenth of the run and its growth from the first quarter to the end
  (is memory flat over an hour of marks?).

Everything shares 2 cores with other work on this machine: the numbers are noisy.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DAY = "2026-08-21"


def json_safe(value: Any) -> Any:
    """``value`` with every NaN float replaced by None (JSON has no NaN: a run without refits has no percentile)."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def synth_recording(path: Path, seconds: int, gap_s: float = 0.0, seed: int = 7) -> int:
    """Write a recording of ``seconds`` of marks for every bundled option; returns the option count.

    ``gap_s`` recorded seconds of quiet come between the venue's snapshot and the first marks, so
    the source's first (cold) fit of every expiry is done before the measured stream starts.
    """
    from pricing.chain import load_bundled_chain
    from pricing.desk.live.record import FORMAT

    rng = np.random.default_rng(seed)
    chains = {u: load_bundled_chain(u, DAY) for u in ("BTC", "ETH")}
    t0 = 1_800_000_000.0
    out = gzip.open(path, "wt", encoding="utf-8", compresslevel=1)

    def line(t: float, direction: str, frame: Any) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":"))
        out.write(json.dumps({"t": t, "dir": direction, "frame": text}, separators=(",", ":")) + "\n")

    line(t0, "meta", {"format": FORMAT, "spec": "bench-live synthetic", "currencies": ["BTC", "ETH"]})
    rid = 0

    def ask(method: str, params: dict[str, Any], result: Any) -> None:
        nonlocal rid
        rid += 1
        line(t0, "out", {"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        line(t0, "in", {"jsonrpc": "2.0", "id": rid, "result": result})

    ms0 = int(max(c.as_of for c in chains.values()).timestamp() * 1000)
    ask("public/set_heartbeat", {"interval": 10}, "ok")
    for u, c in chains.items():
        ask(
            "public/get_instruments", {"currency": u, "kind": "future"}, [{"instrument_name": f"{u}-PERPETUAL", "kind": "future"}]
        )
        summary = [
            {
                "instrument_name": n,
                "mark_price": float(p),
                "mark_iv": float(100 * iv),
                "underlying_price": float(f),
                "underlying_index": "SYN." + n.rsplit("-", 2)[0],
                "estimated_delivery_price": c.spot,
                "creation_timestamp": ms0,
                "bid_price": None if not np.isfinite(b) else float(b),
                "ask_price": None if not np.isfinite(a) else float(a),
            }
            for n, p, iv, f, b, a in zip(c.names, c.mark_price, c.mark_iv, c.forward, c.bid_price, c.ask_price)
        ]
        ask("public/get_book_summary_by_currency", {"currency": u, "kind": "option"}, summary)
    ask("public/subscribe", {"channels": []}, [])
    shift = 0.0
    for s in range(1, seconds + 1):
        shift += rng.normal(0.0, 0.0015)
        t, ms = t0 + gap_s + s, ms0 + 1000 * s
        for u, c in chains.items():
            iv = np.maximum(c.mark_iv + shift + rng.normal(0.0, 0.0003, len(c)), 0.01)
            data = [
                {"timestamp": ms, "mark_price": float(p), "iv": round(float(v), 6), "instrument_name": n}
                for n, p, v in zip(c.names, c.mark_price, iv)
            ]
            note = {
                "jsonrpc": "2.0",
                "method": "subscription",
                "params": {"channel": f"markprice.options.{u.lower()}_usd", "data": data},
            }
            line(t, "in", note)
            idx = {"timestamp": ms, "price": c.spot * (1 + shift / 10), "index_name": f"{u.lower()}_usd"}
            line(
                t,
                "in",
                {
                    "jsonrpc": "2.0",
                    "method": "subscription",
                    "params": {"channel": f"deribit_price_index.{u.lower()}_usd", "data": idx},
                },
            )
    out.close()
    return sum(len(c) for c in chains.values())


def _replay(path: Path, speed: str, seconds: int) -> dict[str, Any]:
    """One replay through the product's path: latencies, refit times, wall time, memory."""
    from pricing.desk.live import LiveLimits, open_live_source

    limits = LiveLimits(max_age_s=3600.0, first_fit_timeout_s=120.0)  # the default publish interval
    with open_live_source(f"replay:{path}@{speed}", limits=limits) as src:
        replay = src._replay  # the bench reads the replay server's clocks
        deadline = time.monotonic() + 10 * (seconds + 200) / (1.0 if speed == "max" else float(speed)) + 300
        rss: list[tuple[float, float]] = []  # (monotonic s, RSS MB) through the run: is memory flat?
        while not replay.finished.is_set() and time.monotonic() < deadline:
            rss.append((time.monotonic(), _rss_mb()))
            time.sleep(0.05)
        time.sleep(1.0)  # the last refits land
        arrivals = np.array(src.status.mark_arrivals)
        published = np.array(src.published)
        keepers = list(src.keepers.values())
        warm = [d for k in keepers for d in k.durations_s]
        work = [d for k in keepers for d in k.work_s]
        cold = [d for k in keepers for d in k.cold_durations_s]
        retries = [d for k in keepers for d in k.cold_retry_durations_s]
        rejected = sum(k.rejected for k in keepers)
        first_fit = published[0, 1] if published.size else math.nan
        wall = replay.finished_mono - replay.started_mono
    # A mark message's latency: to the first fitted snapshot built on it or on a later one (the
    # boards are cumulative, so that snapshot has it). Marks that arrived while the first cold fit
    # ran are left out (the start, not the steady state).
    steady = arrivals[arrivals > first_fit] if published.size else arrivals[:0]
    lat, unpublished = [], 0
    for a in steady:
        i = int(np.searchsorted(published[:, 0], a))
        if i >= len(published):
            unpublished += 1  # the run ended before a snapshot took it
            continue
        lat.append(published[i, 1] - a)

    def pct(x: list[float], q: float) -> float:
        return 1000 * float(np.percentile(x, q)) if x else math.nan

    return {
        "speed": speed,
        "recorded_s": seconds,
        "wall_s": wall,
        "marks": int(steady.size),
        "unpublished": unpublished,
        "fallbacks": sum(k.fallbacks for k in keepers),
        "cold_skipped": sum(k.cold_skipped for k in keepers),
        "cold_retries": len(retries),
        "cold_retry_p99_ms": pct(retries, 99),
        "latency_p50_ms": pct(lat, 50),
        "latency_p99_ms": pct(lat, 99),
        "refits": len(warm),
        "refit_p50_ms": pct(warm, 50),
        "refit_p99_ms": pct(warm, 99),
        "fit_and_checks_p50_ms": pct(work, 50),
        "fit_and_checks_p99_ms": pct(work, 99),
        "cold_fits": len(cold),
        "rejected": rejected,
        "rss_mb": _rss_mb(),
        **_rss_course(rss),
    }


def _rss_course(samples: list[tuple[float, float]]) -> dict[str, Any]:
    """RSS at each tenth of a run's wall time, and its growth from the first quarter to the end.

    The first quarter is left out of the growth: the first snapshots, fits and caches are built
    then (the start, not the steady state). A leak per message or per snapshot shows as growth
    proportional to the run; flat memory as a growth near 0.
    """
    if len(samples) < 2:
        return {"rss_tenths_mb": [], "rss_growth_after_first_quarter_mb": math.nan}
    t = np.array([x[0] for x in samples])
    mb = np.array([x[1] for x in samples])
    tenths = [float(np.interp(t[0] + q * (t[-1] - t[0]), t, mb)) for q in np.linspace(0.0, 1.0, 11)]
    quarter = float(np.interp(t[0] + 0.25 * (t[-1] - t[0]), t, mb))
    return {"rss_tenths_mb": tenths, "rss_growth_after_first_quarter_mb": float(mb[-1]) - quarter}


def _fit_peers() -> tuple[list[float], list[float]]:
    """Cold fits (three starts + polish, as a file is fitted) of every bundled expiry, then warm
    refits of each after a 0.5 vol pt move, in this process with no feed running: seconds."""
    import dataclasses

    from pricing.chain import load_bundled_chain
    from pricing.daycount import DAYS_PER_YEAR
    from pricing.surface import otm_quotes
    from pricing.svi import fit_svi

    cold, warm = [], []
    for u in ("BTC", "ETH"):
        chain = load_bundled_chain(u, DAY)
        moved = dataclasses.replace(chain, mark_iv=chain.mark_iv + 0.005)
        uniq, t_all, _ = chain.expiries()
        for e, t in zip(uniq, t_all):
            q = otm_quotes(chain, e)
            if t < 1 / DAYS_PER_YEAR or q.k.size < 5:
                continue
            t0 = time.perf_counter()
            start = fit_svi(q.k, q.vols, q.t_years, weights=q.vegas)
            cold.append(time.perf_counter() - t0)
            m = otm_quotes(moved, e)
            t0 = time.perf_counter()
            fit_svi(m.k, m.vols, m.t_years, weights=m.vegas, start=start)
            warm.append(time.perf_counter() - t0)
    return cold, warm


def run_bench_live(seconds: int = 60, long_seconds: int = 3600, as_json: bool = False) -> int:
    """Replay ``seconds`` of marks at 1× and 10×, and ``long_seconds`` as fast as possible."""
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("1", seconds, 15.0), ("10", seconds, 150.0), ("max", long_seconds, 0.0)]
        rows = []
        n = 0
        for speed, length, gap in runs:
            path = Path(tmp) / f"replay-{speed}.jsonl.gz"
            n = synth_recording(path, length, gap)
            rows.append({**_replay(path, speed, length), "load_average_end": list(os.getloadavg())})
    cold, warm = _fit_peers()
    peers = {
        "cold fit (3 starts + polish, as a file is fitted)": cold,
        "warm refit after a 0.5 vol pt move, no feed running": warm,
    }
    if as_json:
        summary = {
            name: {"p50_ms": 1000 * float(np.percentile(t, 50)), "p99_ms": 1000 * float(np.percentile(t, 99)), "n": len(t)}
            for name, t in peers.items()
        }
        out = {"options": n, "load_average_start": list(load_start), "rows": rows, "peers": summary}
        print(json.dumps(json_safe({**out, "load_average_end": list(os.getloadavg())})))
        return 0
    print(f"bench live: {n} options (bundled BTC+ETH {DAY}), every mark each second; shared 2-core machine: noisy")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_start)}")
    print(
        "refit = one expiry's warm refit on the refit thread, from its start to the new slice kept (the quotes picked,"
        " one round trip to the fit process, the slice kept or rejected); work = the fit and its checks inside the fit process"
    )
    head = (
        f"{'speed':>6} {'recorded s':>10} {'wall s':>8} {'marks':>6} {'lat p50 ms':>10} {'lat p99 ms':>10} {'refits':>7} "
        f"{'refit p50':>9} {'refit p99':>9} {'work p50':>8} {'work p99':>8} {'cold retries':>12} {'retry p99':>9} {'skipped':>7} {'rejected':>8} {'RSS MB':>7}"
        f" {'RSS growth':>10}"
        f" {'load':>5}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['speed']:>6} {r['recorded_s']:>10} {r['wall_s']:>8.1f} {r['marks']:>6} {r['latency_p50_ms']:>10.1f} "
            f"{r['latency_p99_ms']:>10.1f} {r['refits']:>7} {r['refit_p50_ms']:>9.1f} {r['refit_p99_ms']:>9.1f}"
            f" {r['fit_and_checks_p50_ms']:>8.1f} {r['fit_and_checks_p99_ms']:>8.1f}"
            f" {r['cold_retries']:>12} {r['cold_retry_p99_ms']:>9.1f} {r['cold_skipped']:>7} "
            f"{r['rejected']:>8} {r['rss_mb']:>7.0f} {r['rss_growth_after_first_quarter_mb']:>10.1f} {r['load_average_end'][0]:>5.2f}"
        )
    for name, times in peers.items():
        print(
            f"peer, one expiry, {name}: p50 {1000 * np.percentile(times, 50):.1f} ms, p99 {1000 * np.percentile(times, 99):.1f} ms"
        )
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ('load' column: 1-minute load at each run's end)"
    )
    print("RSS growth: MB from the first quarter of the run's wall time to its end (memory flat: near 0)")
    print("goals: refit p99 <= 20 ms; mark-to-snapshot latency p99 <= 250 ms at 1x; no backlog at 10x; memory flat over the hour")
    return 0
