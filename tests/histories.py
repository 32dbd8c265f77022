"""Hand-made price histories for the scenario tests (input and property)."""

from __future__ import annotations

import numpy as np

from pricing.marketdata import DailySeries

PRICES = [100, 101, 99, 104, 102, 108, 107, 111, 115, 113, 118, 120]


def series(name: str, start: str, values: list[float]) -> DailySeries:
    dates = np.arange(np.datetime64(start), np.datetime64(start) + np.timedelta64(len(values), "D"))
    return DailySeries(name, dates, np.asarray(values, dtype=float))


def hand_made(n_days: int = 60) -> dict[str, DailySeries]:
    """A BTC history of ``n_days`` ending in :data:`PRICES` (seeded, so every run is the same)."""
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n_days)))
    closes[-len(PRICES) :] = PRICES
    return {"BTC": series("btc", "2024-01-01", list(closes))}
