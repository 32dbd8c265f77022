"""Scenario sets that cannot be built are refused with the dates and the underlying named."""

from __future__ import annotations

import numpy as np
import pytest

from pricing.errors import DataError, PricingInputError
from pricing.marketdata import DailySeries
from pricing.scenarios import ScenarioParams, historical_scenarios
from tests.histories import hand_made


def test_horizon_longer_than_history_is_refused() -> None:
    with pytest.raises(PricingInputError, match="horizon_days"):
        historical_scenarios(
            ["BTC"], ScenarioParams(horizon_days=3, lookback_years=2 / 365), histories=hand_made(), dvols={"BTC": None}
        )
    with pytest.raises(PricingInputError, match="horizon_days"):
        ScenarioParams(horizon_days=0)


def test_window_beyond_history_is_refused() -> None:
    with pytest.raises(PricingInputError, match="covers"):
        historical_scenarios(["BTC"], ScenarioParams(lookback_years=1.0), histories=hand_made(), dvols={"BTC": None})


def test_gap_in_history_is_refused() -> None:
    hist = hand_made()["BTC"]
    keep = np.ones(hist.dates.size, bool)
    keep[-5] = False
    gappy = DailySeries("gappy.csv", hist.dates[keep], hist.values[keep])
    with pytest.raises(DataError, match="gap"):
        historical_scenarios(["BTC"], ScenarioParams(lookback_years=10 / 365), histories={"BTC": gappy}, dvols={"BTC": None})


def test_unknown_underlying_is_refused() -> None:
    with pytest.raises(PricingInputError, match="underlying"):
        historical_scenarios(["DOGE"], ScenarioParams())
