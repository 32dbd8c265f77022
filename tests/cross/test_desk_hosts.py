"""Every host reaches the same ``Desk.quote`` after one parse, and gets the same numbers.

One set of RFQs is quoted from each host: the Excel catalogue (``CQ_RFQ``, sides view), the
CLI (``clearquote quote``'s table path), the FIX gateway's desk (rows, and typed legs) and
Block RFQ (typed legs). The hosts build their requests differently (sheet cells, CSV fields,
FIX groups, a JSON notification), so agreement is a cross-check of each host's translation; the
numbers below them are one computation, so they must agree exactly (rtol 1e-12 allows only for
a different association order in a sum, which none of them has).

The walk is counted, not assumed: a spy on :meth:`pricing.desk.Desk.quote` and on the row reader
``pricing.xva.rfq.read_row`` shows one desk call per host call and one read per text row
(typed requests: none).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

import pricing.desk.request as request_module
import udfs
from addin.cli import quote as cli_quote
from addin.fix.block_rfq import maker_quotes
from addin.fix.desk import Desk as FixDesk
from addin.fix.desk import MarketSource, breakdown
from pricing.desk import Leg, RfqRequest
from pricing.desk.service import Desk
from pricing.portfolio import empty_portfolio

HEADER = ["rfq_id", "legs", "side", "quantity"]
ROWS = [
    ["R1", "BTC-25SEP26-60000-C", "buy", 10.0],
    ["R2", "BTC-25SEP26-60000-C:1;BTC-25SEP26-70000-C:-1", "two-way", 5.0],
    ["R3", "BTC-30OCT26-50000-P", "sell", 2.0],
]
PARAMS = [["model", "span"]]
FIGURES = ("base", "bid_delta_im", "ask_delta_im", "bid_fva_im", "bid_kva", "bid_mva_vm", "bid_ccva", "spread")


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    quote, read = Desk.quote, request_module.read_row

    def spy_quote(self: Desk, requests: Any, **kw: Any) -> Any:
        calls["Desk.quote"] += 1
        return quote(self, requests, **kw)

    def spy_read(row: Any, where: str = "") -> Any:
        calls["read_row"] += 1
        return read(row, where)

    monkeypatch.setattr(Desk, "quote", spy_quote)
    monkeypatch.setattr(request_module, "read_row", spy_read)
    return calls


def _excel() -> np.ndarray:
    out = udfs.CQ_RFQ([HEADER, *ROWS], "none", "bundled:2026-08-21", [*PARAMS, ["columns", "sides"]], True)
    cols = out[0]
    pick = ["base", "delta_im_bid", "delta_im_ask", "bid_fva", "bid_kva", "bid_mva", "bid_ccva", "bid_spread"]
    return np.array([[float(r[cols.index(c)]) for c in pick] for r in out[1:]])


def _cli() -> np.ndarray:
    desk = cli_quote.open_desk("bundled:2026-08-21", None, PARAMS, None)
    rows = cli_quote.quote_table([HEADER, *ROWS], desk)
    cols = list(cli_quote.QUOTE_COLUMNS)
    pick = ["base", "delta_im_bid", "delta_im_ask", "bid_fva", "bid_kva", "bid_mva", "bid_ccva", "bid_spread"]
    return np.array([[float(r[cols.index(c)]) for c in pick] for r in rows])


def _fix_rows() -> np.ndarray:
    desk = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio())
    rows = [dict(zip(HEADER[1:], r[1:])) for r in ROWS]
    _, table, _, _ = desk.quote(rows, [f"QuoteRequest Q, entry {i + 1}" for i in range(len(rows))])
    return np.array([[breakdown(table, t)[k] for k in FIGURES] for t in range(len(rows))], dtype=float)


def _typed() -> list[RfqRequest]:
    out = []
    for _, legs, side, qty in ROWS:
        parts = [p.partition(":") for p in str(legs).split(";")]
        out.append(RfqRequest(tuple(Leg(n, float(r) if r else 1.0) for n, _, r in parts), str(side), float(qty)))
    return out


def _fix_typed() -> np.ndarray:
    desk = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio())
    answer = desk.quote_requests(_typed())
    return np.array([[answer.result(i).figures()[k] for k in FIGURES] for i in range(len(ROWS))], dtype=float)  # type: ignore[union-attr]


def test_every_host_one_desk_call_one_parse_same_numbers(walk: Counter[str]) -> None:
    results = {}
    for host, run, reads in (
        ("excel", _excel, len(ROWS)),
        ("cli", _cli, len(ROWS)),
        ("fix rows", _fix_rows, len(ROWS)),
        ("fix typed legs", _fix_typed, 0),
    ):
        walk.clear()
        results[host] = run()
        assert walk["Desk.quote"] == 1, (host, walk)
        assert walk["read_row"] == reads, (host, walk)
    for host, figures in results.items():
        np.testing.assert_allclose(figures, results["excel"], rtol=1e-12, atol=0, err_msg=host)


def test_block_rfq_quotes_through_the_desk_with_typed_legs(walk: Counter[str]) -> None:
    """The R2 call spread as a Block RFQ notification: one desk call, no text parse, the same
    two-way figures as the FIX desk (the maker quote splits them over the legs)."""
    desk = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio())
    note = {
        "block_rfq_id": 7,
        "amount": 5.0,
        "legs": [
            {"instrument_name": "BTC-25SEP26-60000-C", "direction": "buy", "ratio": 1},
            {"instrument_name": "BTC-25SEP26-70000-C", "direction": "sell", "ratio": 1},
        ],
    }
    out = maker_quotes(note, desk)
    assert walk["Desk.quote"] == 1 and walk["read_row"] == 0
    fix = _fix_typed()[1]
    assert out["breakdown_usd"]["bid_delta_im"] == pytest.approx(fix[1], rel=1e-12)
    assert out["quotes"][0]["mid_usd"] == pytest.approx(fix[0], rel=1e-12)
    assert "snapshot" in out["market"]
