"""Scenario sets that cannot be built are refused with the dates and the underlying named."""

from __future__ import annotations

import numpy as np
import pytest

from pricing.errors import DataError, PricingInputError
from pricing.marketdata import DailySeries
from pricing.scenarios import ScenarioParams, historical_scenarios


def _series(name: str, start: str, values: list[float]) -> DailySeries:
    dates = np.arange(np.datetime64(start), np.datetime64(start) + np.timedelta64(len(values), "D"))
    return DailySeries(name, dates, np.asarray(values, dtype=float))


PRICES = [100, 101, 99, 104, 102, 108, 107, 111, 115, 113, 118, 120]


def _hand_made(n_days: int = 60) -> dict[str, DailySeries]:
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n_days)))
    closes[-len(PRICES) :] = PRICES
    return {"BTC": _series("btc", "2024-01-01", list(closes))}


def test_horizon_longer_than_history_is_refused() -> None:
    with pytest.raises(PricingInputError, match="horizon_days"):
        historical_scenarios(
            ["BTC"], ScenarioParams(horizon_days=3, lookback_years=2 / 365), histories=_hand_made(), dvols={"BTC": None}
        )
    with pytest.raises(PricingInputError, match="horizon_days"):
        ScenarioParams(horizon_days=0)


def test_window_beyond_history_is_refused() -> None:
    with pytest.raises(PricingInputError, match="covers"):
        historical_scenarios(["BTC"], ScenarioParams(lookback_years=1.0), histories=_hand_made(), dvols={"BTC": None})


def test_gap_in_history_is_refused() -> None:
    hist = _hand_made()["BTC"]
    keep = np.ones(hist.dates.size, bool)
    keep[-5] = False
    gappy = DailySeries("gappy.csv", hist.dates[keep], hist.values[keep])
    with pytest.raises(DataError, match="gap"):
        historical_scenarios(["BTC"], ScenarioParams(lookback_years=10 / 365), histories={"BTC": gappy}, dvols={"BTC": None})


def test_unknown_underlying_is_refused() -> None:
    with pytest.raises(PricingInputError, match="underlying"):
        historical_scenarios(["DOGE"], ScenarioParams())
