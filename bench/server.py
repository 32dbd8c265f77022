"""``python -m bench server``: the Office.js server under mixed load, on loopback only.

Starts ``clearquote serve`` (token auth on) in its own process on 127.0.0.1, then runs one
round per **shape**: ``--clients`` threads, each its own user with its own token, send
``--calls`` requests each. Light clients send, in turn, three light calls and a medium one;
the shape's ``--heavy-clients`` send only the shape's costly call:

* light: ``CQ.BLACK`` over 100 strikes (what a trader's sheet sends on every edit);
* medium: ``CQ.IM`` of a small book under SPAN and one two-way ``CQ.RFQ`` on the bundled market;
* shape ``column``: ``CQ.BLACK`` over 200,000 strikes (a whole-column formula, 3.6 MB body);
* shape ``medium-bodies``: ``CQ.BLACK`` over 15,000 strikes (a 234 KB body, just under the
  old worker threshold by size: four at once held light calls up to 44 s);
* shape ``broadcast``: ``CQ.BLACK`` of 1,000 forwards (a column) against 1,000 strikes (a row):
  a 30 KB body asking for 1,000,000 result cells, the limit;
* shape ``over-limit``: 3,000 x 3,000 (58 KB asking for 9,000,000 cells: was 161 MB in 82 s;
  now refused 413 from the shapes, counted as ``refused``, not as errors).

Prints, per shape and kind: calls, errors, refusals, p50/p90/p99 latency, and per shape the
throughput and the server's peak memory so far (VmHWM, server process and its workers).
Bounded in time (``--seconds`` per shape) and in count; not a test. Numbers measured on a
shared machine are noisy: the report says where they were measured.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("column", "medium-bodies", "broadcast", "over-limit")


def _body(func: str, args: list[Any]) -> bytes:
    return json.dumps(
        {
            "client": "Office.js",
            "func_name": func,
            "args": args,
            "caller_address": "[Book1.xlsx]Sheet1!A1",
            "session_id": "bench",
            "culture_info_name": "en-US",
            "date_format": "m/d/yyyy",
            "version": "0.37.8",
            "runtime": "1.4",
        }
    ).encode()


def _black(forwards: list[list[float]], strikes: list[list[float]]) -> bytes:
    return _body("black", [[["C"]], forwards, strikes, [[0.25]], [[0.55]]])


def requests_by_kind() -> dict[str, list[bytes]]:
    strikes = [[50_000.0 + 100.0 * i] for i in range(100)]
    book = [["instrument", "quantity"], ["BTC-25SEP26-80000-C", 10], ["BTC-25SEP26-90000-C", -15], ["BTC-PERPETUAL", -2]]
    rfq = [["rfq_id", "instrument", "side", "quantity"], ["r1", "BTC-25SEP26-80000-C", "two-way", 5]]
    return {
        "light": [_black([[60_000.0]], strikes)],
        "medium": [
            _body("im", [book, [["bundled"]], [["span"]]]),
            _body("rfq", [rfq, book, [["bundled"]], [[None]], [[False]]]),
        ],
        "column": [_black([[60_000.0]], [[40_000.0 + 0.25 * i] for i in range(200_000)])],
        "medium-bodies": [_black([[60_000.0]], [[40_000.123456 + 0.25 * i] for i in range(15_000)])],
        "broadcast": [_black([[50_000.0 + i] for i in range(1000)], [[40_000.0 + 10.0 * i for i in range(1000)]])],
        "over-limit": [_black([[50_000.0 + i] for i in range(3000)], [[40_000.0 + 10.0 * i for i in range(3000)]])],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, tokens: Path) -> subprocess.Popen[bytes]:
    code = (
        "from addin.cli.warmup import warm; from addin.excel.serve import serve; "
        f"serve('127.0.0.1', {port}, {str(tokens)!r}, warm)"
    )
    env = {**os.environ, "XLWINGS_SECRET_KEY": "bench-only"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start within 120 s")


def _peak_mb(pid: int) -> float:
    """Peak resident memory of the server and its worker processes (VmHWM), MB."""
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    total = 0.0
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(status.split("VmHWM:", 1)[1].split()[0]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return total or float("nan")


Result = tuple[float, str]  # (seconds, "ok" | "refused" | "error")


def _round(
    url: str, tokens: list[str], kinds: dict[str, list[bytes]], shape: str, clients: int, heavy: int, calls: int, seconds: float
) -> tuple[dict[str, list[Result]], float]:
    results: dict[str, list[Result]] = {"light": [], "medium": [], shape: []}
    lock = threading.Lock()
    stop = time.time() + seconds

    def post(kind: str, payload: bytes, token: str) -> None:
        req = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json", "Authorization": token})
        t = time.perf_counter()
        outcome = "ok"
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                r.read()
        except urllib.error.HTTPError as exc:
            outcome = "refused" if exc.code in (400, 413) else "error"
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            outcome = "error"
        with lock:
            results[kind].append((time.perf_counter() - t, outcome))

    def client(i: int) -> None:
        cycle = [shape] if i < heavy else ["light", "light", "light", "medium"]
        for n in range(calls):
            if time.time() > stop:
                return
            kind = cycle[n % len(cycle)]
            options = kinds[kind]
            post(kind, options[(i + n) % len(options)], tokens[i])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results, time.perf_counter() - t0


def run_bench_server(
    clients: int = 20, calls: int = 10, seconds: float = 60.0, heavy_clients: int = 4, shapes: tuple[str, ...] = SHAPES
) -> int:
    from addin.excel.tokens import new_token

    kinds = requests_by_kind()
    with tempfile.TemporaryDirectory(prefix="clearquote-bench-") as tmp:
        path = Path(tmp) / "tokens"
        tokens = [new_token(f"user{i}", path) for i in range(clients)]
        port = _free_port()
        server = _start(port, path)
        url = f"http://127.0.0.1:{port}/xlwings/custom-functions-call"
        try:
            for payload in kinds["medium"]:  # warm the market fit and the kernels once, outside the clock
                urllib.request.urlopen(
                    urllib.request.Request(url, data=payload, headers={"Authorization": tokens[-1]}), timeout=600
                ).read()
            print(f"{clients} clients, each its own user ({heavy_clients} sending the shape's call), {calls} calls each,")
            print(f"loopback, token auth on, at most {seconds:g} s per shape")
            print(f"{'shape':>14} {'kind':>14} {'calls':>6} {'errors':>7} {'refused':>8} {'p50 s':>8} {'p90 s':>8} {'p99 s':>8}")
            for shape in shapes:
                results, wall = _round(url, tokens, kinds, shape, clients, heavy_clients, calls, seconds)
                for kind, rows in results.items():
                    if not rows:
                        continue
                    lat = np.array([t for t, _ in rows])
                    errors = sum(o == "error" for _, o in rows)
                    refused = sum(o == "refused" for _, o in rows)
                    p50, p90, p99 = np.percentile(lat, [50, 90, 99])
                    print(f"{shape:>14} {kind:>14} {len(rows):>6} {errors:>7} {refused:>8} {p50:>8.3f} {p90:>8.3f} {p99:>8.3f}")
                total = sum(len(v) for v in results.values())
                light = np.array([t for t, _ in results["light"]]) if results["light"] else np.array([np.nan])
                verdict = "ok" if np.percentile(light, 99) <= 1.0 else "OVER"
                print(
                    f"{shape:>14} {'':>14} throughput {total / wall:.1f} calls/s over {wall:.1f} s; "
                    f"light p99 <= 1 s: {verdict}; peak memory so far {_peak_mb(server.pid):.0f} MB"
                )
        finally:
            server.terminate()
            server.wait(timeout=60)
    print("goal: light-call p99 <= 1 s under every shape")
    return 0


def run_call_cost(sizes: tuple[int, ...] = (100, 1000, 5000, 20000)) -> int:
    """The cost per cell of answering a call in one process: xlwings Server's own path (its
    argument conversion runs on the event loop) beside clearquote's (``pool.answer``, which
    the server runs off the loop or in a worker). Best of 5 per size. This is what
    ``addin.excel.pool.LARGE_COST`` is chosen from."""
    import asyncio

    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    import xlwings.server as xlwings_server_api

    from addin.excel import office_js, pool

    def best(fn: Any) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    print(f"{'cells':>7} {'xlwings Server ms':>18} {'us/cell':>8} {'clearquote ms':>14} {'us/cell':>8}")
    for n in sizes:
        strikes = [[40_000.0 + i] for i in range(n)]
        payload = _black([[60_000.0]], strikes)
        data = json.loads(payload)
        theirs = best(lambda d=data: asyncio.run(xlwings_server_api.custom_functions_call(d, office_js)))
        ours = best(lambda p=payload: pool.answer(p, "bench"))
        print(f"{n:>7} {theirs * 1e3:>18.1f} {theirs / n * 1e6:>8.1f} {ours * 1e3:>14.1f} {ours / n * 1e6:>8.1f}")
    print(f"worker threshold: cost >= {pool.LARGE_COST:,} cells (argument cells + result-cell bound)")
    return 0
