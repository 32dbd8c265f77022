"""SPAN's price scan range is one dollar amount per combined commodity (issue 29 item 6).

Source: CME SPAN report documentation, *Scan Rate Tiers* ("Price Scan: the price scan range for the
Combined Commodity. The price scan range is equal to the current Maintenance Requirement for a
Combined Commodity", e.g. "$700" on Eurodollars), and CME *Intra Spreads* (scanning moves every
month of a combined commodity together; the calendar basis is charged by the intra-commodity
spread charge, docs/methodology.md §A4). So every futures month's risk array is the same dollar
move: a long/short calendar spread of futures scans to zero whatever the carry.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from pricing.instruments import FutureContract
from pricing.margin.engine import margin
from pricing.margin.span import PRICE_MOVES, SpanModel, SpanParams
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.positions import position_state
from pricing.surface import flat_surface
from tests.conftest import NOW

SPOT, PSR = 60_000.0, 0.12


def _carry_market() -> Market:
    # 20% annual carry: the 6-month forward is 10.5% above spot, the 1-month 1.7%.
    return Market(NOW, {"BTC": flat_surface("BTC", SPOT, 0.6, carry=0.20)})


def test_each_futures_month_moves_by_the_same_dollars() -> None:
    """A linear future of 1 coin loses exactly m x PSR_$ in scenario m, PSR_$ = 12% x 60,000 = 7,200 USD,
    in every month: the risk arrays of a near and a far month are equal (to rounding)."""
    market = _carry_market()
    book = from_contracts(
        [FutureContract("BTC", NOW + timedelta(days=30), "linear"), FutureContract("BTC", NOW + timedelta(days=180), "linear")],
        [1.0, 1.0],
    )
    model = SpanModel(SpanParams(price_scan_range={"BTC": PSR}, lookahead_days=0.0))
    arrays = model._risk_arrays(book, market, model.prepare(book, market), position_state(book, market))["BTC"]
    multiples = np.concatenate([PRICE_MOVES[:14], [2.0, -2.0]])
    cover = np.r_[np.ones(14), [0.35, 0.35]]
    expected = -multiples * PSR * SPOT * cover
    np.testing.assert_allclose(arrays[0], expected, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(arrays[1], expected, rtol=1e-12, atol=1e-8)


def test_a_calendar_futures_spread_scans_to_zero_and_pays_the_intra_charge() -> None:
    """Long the 1-month, short the 6-month future: no scan risk (both move by the same dollars);
    its risk is the intra-commodity charge, 1% x spot x 1 spread delta = 600 USD."""
    market = _carry_market()
    book = from_contracts(
        [FutureContract("BTC", NOW + timedelta(days=30), "linear"), FutureContract("BTC", NOW + timedelta(days=180), "linear")],
        [1.0, -1.0],
    )
    # No look-ahead: a future's roll down its forward curve over the day is not the point here.
    res = margin(book, market, SpanModel(SpanParams(price_scan_range={"BTC": PSR}, lookahead_days=0.0)))
    assert res.components["scan_risk"] == pytest.approx(0.0, abs=1e-6)
    assert res.components["intra_spread"] == pytest.approx(0.01 * SPOT, rel=1e-12)
