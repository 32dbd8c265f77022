"""``python -m bench cluster``: the batch commands on 1 and 2 local Dask worker processes, beside the local run.

Two workloads, each timed in this process (the local run: no Dask), then on a LocalCluster of 1
and of 2 worker processes (started before the clock; workers warm: one small run first):

* 200 generated quote books (50 RFQ rows of per-row formulas each) recalculated, one task a book;
* a ΔIM universe of ~100,000 candidates (every listed BTC/ETH option x 52 sizes) against a
  1,000-position book, hvar, in blocks of 2,000 candidates with the book's basis scattered once.

Printed: seconds, speed-up over the local run, and the overhead per task
(t(1 worker) - t(local)) / tasks: what Dask adds to each task on this machine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _books(folder: Path, n: int) -> list[str]:
    from bench.recalc import generate

    return [str(generate(folder / f"book{i:03d}.xlsx", 50)) for i in range(n)]


def _recalc_all(books: list[str], client: Any) -> None:
    from addin.cli.cluster import run_tasks
    from addin.excel.books import recalc_task

    out = run_tasks(client, recalc_task, books, None, False, "libreoffice", label="book")
    assert all(r[2] is None for r in out)


def _universe(client: Any, inputs: tuple[Any, ...]) -> None:
    from addin.cli.universe import universe

    portfolio, market, model, addons, sizes = inputs
    universe(portfolio, market, model, addons, None, sizes, 2000, client)


def run_bench_cluster(n_books: int = 200) -> int:
    from addin.cli.cluster import cluster
    from bench.rfq import _inputs
    from pricing.margin.addons import AddOnParams
    from udfs.margin import portfolio_arg
    from udfs.market import make_market, model_arg

    book_rows, _ = _inputs(1_000, 1)
    bundle = make_market("bundled")
    model = model_arg("hvar", {}, bundle)
    sizes = [float(s) for s in range(1, 53)]
    uni = (portfolio_arg(book_rows)[0], bundle.market, model, AddOnParams(), sizes)
    n_cands = sum(len([c for c in ch.contracts() if c.expiry > bundle.market.as_of]) for ch in bundle.market.chains.values()) * 52
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        books = _books(Path(tmp), n_books)
        for label, run, tasks in (
            (f"recalc {n_books} books (50 rows each)", lambda c: _recalc_all(books, c), n_books),
            (f"ΔIM universe, {n_cands:,} candidates", lambda c: _universe(c, uni), int(np.ceil(n_cands / 2000))),
        ):
            run(None)  # warm: kernels, the market, the scenario set
            t0 = time.perf_counter()
            run(None)
            local = time.perf_counter() - t0
            timings = [local]
            for n in (1, 2):
                with cluster(None, n) as client:
                    run(client)  # warm the workers
                    t0 = time.perf_counter()
                    run(client)
                    timings.append(time.perf_counter() - t0)
            rows.append((label, tasks, *timings))
    print(
        f"{'workload':40s} {'tasks':>6s} {'local s':>8s} {'1 worker':>9s} {'2 workers':>10s} {'speed-up 2w':>12s} {'overhead/task':>14s}"
    )
    for label, tasks, local, one, two in rows:
        print(
            f"{label:40s} {tasks:6d} {local:8.2f} {one:9.2f} {two:10.2f} {local / two:11.2f}x {1e3 * (one - local) / tasks:11.1f} ms"
        )
    return 0
