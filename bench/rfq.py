"""The RFQ path as Excel drives it: per-row ``CQ_RFQ`` formulas and one batch call.

Inputs: the bundled BTC and ETH chains of 2026-08-21, a 1,000-position book drawn from their
listed options (seeded), the bundled market, model ``hvar`` (1,824 two-day scenarios). Each
per-row formula is one call of the catalogue function with the cells Excel would pass (the
RFQ row, the whole book range, the market text, the params range), so the figure includes
argument parsing and the content-keyed cache lookups. The first call builds the book's
basis (its scenario P&L, IM and SA-CCR set) and is reported apart: "cache warm after the first".
The peer is the same 500 RFQs in one ``CQ_RFQ`` call over the table, which prices them in one
pass; 10,000 RFQs in one call show the batch path's scale.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pricing.chain import load_bundled_chain

AS_OF = "2026-08-21"


def _inputs(n_book: int, n_rfq: int, seed: int = 0) -> tuple[list[list[Any]], list[list[Any]]]:
    names: list[str] = []
    for u in ("BTC", "ETH"):
        chain = load_bundled_chain(u, AS_OF)
        names += [n for n, c in zip(chain.names, chain.contracts()) if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    rng = np.random.default_rng(seed)
    book: list[list[Any]] = [["instrument", "quantity"]]
    book += [
        [names[int(i)], float(rng.integers(1, 20)) * float(rng.choice([-1, 1]))] for i in rng.integers(0, len(names), n_book)
    ]
    sides = ("buy", "sell", "two-way")
    rows = [[names[int(i)], sides[j % 3], float(1 + j % 7)] for j, i in enumerate(rng.integers(0, len(names), n_rfq))]
    return book, rows


def rfq_bench(quick: bool = False) -> dict[str, float]:
    """Seconds: 500 per-row calls (warm), the first (cold) call, and the batch peers."""
    from udfs.store import STORE
    from udfs.xva import rfq

    params = [["model", "hvar"]]
    book, rows = _inputs(1_000, 500)
    STORE.clear()
    start = time.perf_counter()
    rfq([rows[0]], book, "bundled", params, False)
    first = time.perf_counter() - start
    calls = []
    for row in rows:
        t0 = time.perf_counter()
        rfq([row], book, "bundled", params, False)
        calls.append(time.perf_counter() - t0)
    per_row = float(np.sum(calls))
    header = [["instrument", "side", "quantity"]]
    start = time.perf_counter()
    rfq(header + rows, book, "bundled", params, False)
    batch = time.perf_counter() - start
    out = {"rfq_first_call_s": first, "rfq_per_row_500_s": per_row, "rfq_batch_500_s": batch}
    # Per call: the median and the 90th percentile (a shared machine's other jobs show in the tail).
    out["rfq_per_row_median_ms"] = float(np.median(calls)) * 1e3
    out["rfq_per_row_p90_ms"] = float(np.quantile(calls, 0.9)) * 1e3
    if not quick:
        _, big = _inputs(1_000, 10_000, seed=1)
        start = time.perf_counter()
        rfq(header + big, book, "bundled", params, False)
        out["rfq_batch_10k_s"] = time.perf_counter() - start
    return out
