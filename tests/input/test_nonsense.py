"""Plausible-looking numbers for nonsense, found by the adversarial review: each is now a per-cell
error with a true reason (or a refusal naming the field), by the mechanism of its kind."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import udfs
from udfs.excel import XlError

CHAIN = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"
BOOK = [["instrument", "quantity"], ["BTC-PERPETUAL", 1]]


def _chain() -> list[list[object]]:
    def conv(v: str) -> object:
        try:
            return float(v)
        except ValueError:
            return v

    return [[conv(v) for v in r] for r in csv.reader(CHAIN.open())]


def _error(out: list[list[object]], text: str) -> None:
    cell = out[0][0]
    assert isinstance(cell, XlError) and text in cell.reason and "internal" not in cell.reason, cell


def test_sabr_never_shows_a_negative_vol() -> None:
    out = udfs.CQ_SABR_VOL(60000, [[200000], [60000]], [[100], [0.5]], 0.5, 0.5, -0.9, 2.0)
    _error(out, "SABR expansion gives a vol <= 0")
    assert isinstance(out[1][0], float) and out[1][0] > 0


def test_an_overflowing_tree_says_so() -> None:
    _error(udfs.CQ_BINOMIAL("C", 1e15, 60000, 10, 10, 0, 0, 5000), "no finite result")
    # beyond the largest magnitude an argument takes (issue 28): refused before any work, the field named
    _error(udfs.CQ_BINOMIAL("C", 1e300, 60000, 1, 5, 0, 0, 2000), "spot: 1e+300 is beyond")


def test_collateral_rows_are_one_per_currency_and_two_columns() -> None:
    _error(udfs.CQ_MARGIN_CALL(BOOK, [["asset", "amount"], ["btc", 1], ["BTC", 2]], "bundled"), "BTC appears twice")
    _error(udfs.CQ_MARGIN_CALL(BOOK, [["asset", "amount", "x"], ["btc", 1, 2]], "bundled"), "two columns")


def test_true_is_not_a_quantity_and_dates_stay_in_range() -> None:
    _error(udfs.CQ_IM([["instrument", "quantity"], ["BTC-PERPETUAL", True]], "bundled", "span"), "TRUE/FALSE")
    _error(udfs.CQ_OPTION_TIME("2026-08-21", "9999-12-31"), "not a date between 1990 and 2200")
    _error(udfs.CQ_BLACK("C", 10**400, 60000, 0.25, 0.5), "401 digits")


@pytest.mark.parametrize(
    ("edit", "text"),
    [
        (lambda rows, h: rows[5].__setitem__(h.index("mark_iv"), 5500.0), "5500 is not a vol in percent"),
        (
            lambda rows, h: [r.__setitem__(h.index("mark_iv"), r[h.index("mark_iv")] / 100) for r in rows[1:]],
            "multiply decimal vols by 100",
        ),
        (
            lambda rows, h: (rows[3].__setitem__(h.index("bid_price"), 0.05), rows[3].__setitem__(h.index("ask_price"), 0.01)),
            "crossed",
        ),
        (lambda rows, h: rows.__delitem__(slice(8, None)), "no expiry with >= 5 quotes"),
    ],
    ids=["iv-5500", "iv-decimals", "crossed", "too-few-quotes"],
)
def test_chains_are_checked_like_market_data(edit, text: str) -> None:  # type: ignore[no-untyped-def]
    rows = _chain()
    edit(rows, rows[0])
    _error(udfs.CQ_MARKET(rows), text)


def test_variance_replication_refuses_a_one_sided_chain() -> None:
    rows = _chain()
    ot = rows[0].index("option_type")
    calls = [rows[0], *(r for r in rows[1:] if r[ot] == "call")]
    _error(udfs.CQ_VARSWAP_STRIKE(calls, "BTC", 30), "no puts")


def test_a_chain_whose_timestamps_disagree_is_refused() -> None:
    rows = _chain()
    rows[7][0] = "2026-08-20T09:47:29.054Z"  # one quote a day older than the rest
    _error(udfs.CQ_MARKET(rows), "timestamps disagree")


def test_overflowing_quantities_are_refused_naming_the_field() -> None:
    """Issue 28: 1e308 contracts made CQ_IM, CQ_SACCR and CQ_RFQ return inf; each is now an
    error naming the field (a table row fails alone), and no catalogue result is ever inf/NaN."""
    _error(udfs.CQ_IM([["instrument", "quantity"], ["BTC-PERPETUAL", 1e308]], "bundled", "span"), "column quantity: 1e+308")
    _error(udfs.CQ_SACCR("C", 1, 60000, 65000, 1e308, 0.25), "units: 1e+308 is beyond")
    rfqs = [["rfq_id", "instrument", "side", "quantity"], ["r1", "BTC-25SEP26-80000-C", "two-way", 1e308]]
    rfqs.append(["r2", "BTC-25SEP26-80000-C", "two-way", 5])
    out = udfs.CQ_RFQ(rfqs, "none", "bundled")
    assert isinstance(out[1][0], XlError) and "column quantity: 1e+308" in out[1][0].reason
    assert isinstance(out[2][0], float)
