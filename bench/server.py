"""``python -m bench server``: the Office.js server under mixed load, on loopback only.

Starts ``clearquote serve`` (token auth on) in its own process on 127.0.0.1, then ``--clients``
threads each send ``--calls`` requests, in the order light, medium, heavy as the mix says:

* light: ``CQ.BLACK`` over 100 strikes (what a trader's sheet sends on every edit);
* medium: ``CQ.IM`` of a small book under SPAN and one two-way ``CQ.RFQ`` on the bundled market;
* heavy: ``CQ.BLACK`` over 200,000 strikes (a whole-column formula).

Prints, per kind: calls, errors, p50/p90/p99 latency and the run's throughput, and the server's
peak memory (VmHWM). Bounded in time (``--seconds``) and in count; not a test.
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


def requests_by_kind() -> dict[str, list[bytes]]:
    strikes = [[50_000.0 + 100.0 * i] for i in range(100)]
    big = [[40_000.0 + 0.25 * i] for i in range(200_000)]
    book = [["instrument", "quantity"], ["BTC-25SEP26-80000-C", 10], ["BTC-25SEP26-90000-C", -15], ["BTC-PERPETUAL", -2]]
    rfq = [["rfq_id", "instrument", "side", "quantity"], ["r1", "BTC-25SEP26-80000-C", "two-way", 5]]
    return {
        "light": [_body("black", [[["C"]], [[60_000.0]], strikes, [[0.25]], [[0.55]]])],
        "medium": [
            _body("im", [book, [["bundled"]], [["span"]]]),
            _body("rfq", [rfq, book, [["bundled"]], [[None]], [[False]]]),
        ],
        "heavy": [_body("black", [[["C"]], [[60_000.0]], big, [[0.25]], [[0.55]]])],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, tokens: Path) -> subprocess.Popen[bytes]:
    code = f"from addin.excel.serve import serve; serve('127.0.0.1', {port}, {str(tokens)!r})"
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
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return float("nan")


def run_bench_server(clients: int = 20, calls: int = 10, seconds: float = 120.0, heavy_clients: int = 2) -> int:
    from addin.excel.tokens import new_token

    kinds = requests_by_kind()
    with tempfile.TemporaryDirectory(prefix="clearquote-bench-") as tmp:
        tokens = Path(tmp) / "tokens"
        token = new_token("bench", tokens)
        port = _free_port()
        server = _start(port, tokens)
        url = f"http://127.0.0.1:{port}/xlwings/custom-functions-call"
        results: dict[str, list[tuple[float, bool]]] = {k: [] for k in kinds}
        lock = threading.Lock()
        stop = time.time() + seconds

        def post(kind: str, payload: bytes) -> None:
            req = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json", "Authorization": token})
            t = time.perf_counter()
            ok = True
            try:
                with urllib.request.urlopen(req, timeout=600) as r:
                    r.read()
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                ok = False
            with lock:
                results[kind].append((time.perf_counter() - t, ok))

        # warm the market fit and the kernels once, outside the clock
        for payload in kinds["medium"]:
            post("medium", payload)
        results["medium"].clear()

        def client(i: int) -> None:
            kind_cycle = ["heavy"] if i < heavy_clients else ["light", "light", "light", "medium"]
            for n in range(calls):
                if time.time() > stop:
                    return
                kind = kind_cycle[n % len(kind_cycle)]
                options = kinds[kind]
                post(kind, options[(i + n) % len(options)])

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        peak = _peak_mb(server.pid)
        server.terminate()
        server.wait(timeout=30)
    total = sum(len(v) for v in results.values())
    print(f"{clients} clients ({heavy_clients} sending heavy calls), {calls} calls each, loopback, token auth on")
    print(f"{'kind':>8} {'calls':>6} {'errors':>7} {'p50 s':>8} {'p90 s':>8} {'p99 s':>8}")
    for kind, rows in results.items():
        if not rows:
            continue
        lat = np.array([t for t, _ in rows])
        errors = sum(not ok for _, ok in rows)
        p50, p90, p99 = np.percentile(lat, [50, 90, 99])
        print(f"{kind:>8} {len(rows):>6} {errors:>7} {p50:>8.3f} {p90:>8.3f} {p99:>8.3f}")
    print(f"throughput {total / wall:.1f} calls/s over {wall:.1f} s; server peak memory {peak:.0f} MB")
    print("goal: light-call p99 <= 1 s while two 200,000-cell calls run")
    return 0
