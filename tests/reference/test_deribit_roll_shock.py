"""Deribit's roll shock is charged on futures, not on options (docs/methodology.md §B3).

Source: Deribit API documentation, ``private/pme/simulate`` example (2024-06-17): a BTC perpetual
of 0.314538364 BTC and a second, vega-free instrument (equal vol-up/same/down entries: a short
dated future of 0.001188 BTC) give roll_shock = 0.00315726 BTC = 1% x (0.314538364 + 0.001188).
Deribit's 2024 model "replaces future contingency with a delta and roll shock-based method" for
futures margining and does not over-collateralise long options (the announcement, as summarised in
the methodology). The replica reproduces the example on the whole book and adds nothing for options.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from pricing.instruments import FutureContract, OptionContract
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import margin
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.surface import flat_surface
from tests.conftest import NOW


def test_published_example_roll_shock_on_the_whole_book_and_none_for_options() -> None:
    spot = 65_000.0
    market = Market(NOW, {"BTC": flat_surface("BTC", spot, 0.5)})
    near = NOW + timedelta(days=30)  # e^{7.5% x 30/365} - 1 = 0.62% < 1%: the 1% floor, as in the example
    futures = [FutureContract("BTC", None, "inverse"), FutureContract("BTC", near, "inverse")]
    book = from_contracts(futures, [0.314538364, -0.001188])
    published = 0.00315726  # BTC
    roll = margin(book, market, DeribitModel()).components["roll_shock"]
    assert roll / spot == pytest.approx(published, abs=5e-9)  # the example's 8 decimals
    options = [OptionContract("BTC", near, 70_000.0, 1, "inverse"), OptionContract("BTC", near, 60_000.0, -1, "inverse")]
    with_options = from_contracts(futures + options, [0.314538364, -0.001188, 5.0, -3.0])
    assert margin(with_options, market, DeribitModel()).components["roll_shock"] == pytest.approx(roll, rel=1e-12)
