"""``python -m bench fix``: request-to-quote latency of the FIX gateway on 127.0.0.1.

A QuickFIX initiator in this process sends single-leg QuoteRequests one at a time (the next when
the previous Quote arrived) to ``clearquote fix-acceptor`` running in its own process against a
1,000-position book (seeded draw of the bundled BTC and ETH listed options), model ``hvar``, the
bundled market. Latency = send to receipt, measured here, so it includes both QuickFIX engines,
the loopback, parsing, the quote itself and the journal's synchronous write. The peer column is
the desk alone (parse + quote, no FIX, no journal) on the same requests in this process.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _names() -> list[str]:
    from pricing.chain import load_bundled_chain

    out: list[str] = []
    for u in ("BTC", "ETH"):
        chain = load_bundled_chain(u, "2026-08-21")
        out += [n for n, c in zip(chain.names, chain.contracts()) if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    return out


def book_and_requests(n_book: int, n_requests: int) -> tuple[list[list[Any]], list[tuple[str, float, str]]]:
    """The bench's book (a header row, then ``n_book`` positions) and its single-leg requests
    (instrument, quantity, FIX side), seeded: the same for ``bench fix`` and ``bench live-fix``."""
    names = _names()
    rng = np.random.default_rng(0)
    book_rows: list[list[Any]] = [["instrument", "quantity"]] + [
        [names[int(i)], float(rng.integers(1, 20)) * float(rng.choice([-1, 1]))] for i in rng.integers(0, len(names), n_book)
    ]
    requests = [(names[int(i)], float(1 + j % 7), "12"[j % 2]) for j, i in enumerate(rng.integers(0, len(names), n_requests))]
    return book_rows, requests


def run_bench_fix(n_requests: int = 1_000, n_book: int = 1_000, front: bool = True) -> int:
    """``front``: the acceptor serves through its framing front end (the default, as deployed); False: ``--no-front``."""
    import quickfix as fix

    from addin.fix.client import RecordingClient, quote_request
    from addin.fix.desk import Desk, Limits, MarketSource
    from addin.fix.run import write_settings
    from pricing.desk import RfqRequest
    from udfs.margin import portfolio_arg

    book_rows, requests = book_and_requests(n_book, n_requests)

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        with (base / "book.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows(book_rows)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        acc = write_settings(base / "acceptor.cfg", "acceptor", port, base)
        ini = write_settings(base / "initiator.cfg", "initiator", port, base)
        cmd = [sys.executable, "-m", "addin.cli", "fix-acceptor", str(acc), "--portfolio", str(base / "book.csv")]
        cmd += ["--journal", str(base / "journal.sqlite"), *([] if front else ["--no-front"])]
        # The bundled market's options expired in real time: admission's clock starts at the market's time.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CLEARQUOTE_FIX_CLOCK": "2026-08-21T09:47:29+00:00"}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 180
            while "accepting" not in proc.stdout.readline().decode():
                if proc.poll() is not None or time.monotonic() > deadline:
                    print("bench-fix: the acceptor did not start", file=sys.stderr)
                    return 1
            client = RecordingClient()
            settings = fix.SessionSettings(str(ini))
            initiator = fix.SocketInitiator(client, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
            initiator.start()
            client.logged_on.get(timeout=30)

            def send(i: int, name: str, qty: float, side: str) -> float:
                return client.send(quote_request(f"B{i}", [{"symbol": name, "qty": qty, "side": side}]), 30)[0]

            try:
                for i in range(20):  # warm: the book's basis, the kernels, the journal
                    send(-i - 1, *requests[i % len(requests)])
                lat = np.array([send(i, *r) for i, r in enumerate(requests)]) * 1e3
            finally:
                initiator.stop()  # a running initiator torn down at exit ends the process with SIGSEGV
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        desk = Desk(MarketSource("bundled"), [], portfolio_arg(book_rows)[0], Limits())
        rows = [{"legs": f"{n}:1", "side": {"1": "buy", "2": "sell"}[s], "quantity": q} for n, q, s in requests]
        # The gateway's path without FIX: one typed request (the parse) and the desk service's quote.
        desk.quote_requests([RfqRequest.from_row(r) for r in rows[:5]])
        alone = []
        for r in rows:
            t0 = time.perf_counter()
            desk.quote_requests([RfqRequest.from_row(r, "bench request")])
            alone.append(time.perf_counter() - t0)
        alone_ms = np.array(alone) * 1e3
    print(f"{n_requests} single-leg QuoteRequests, {n_book}-position book, hvar, loopback, one at a time")
    print(f"acceptor: {'through the framing front end' if front else '--no-front (QuickFIX on the port itself)'}")
    print(f"{'':28s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    print(f"{'FIX request to Quote':28s} {np.median(lat):8.2f} {np.percentile(lat, 99):8.2f} {lat.max():8.2f}")
    print(
        f"{'desk alone (no FIX/journal)':28s} {np.median(alone_ms):8.2f} {np.percentile(alone_ms, 99):8.2f} {alone_ms.max():8.2f}"
    )
    print("goals: p50 <= 5 ms, p99 <= 20 ms")
    return 0
