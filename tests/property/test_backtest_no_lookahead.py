"""Backtests without look-ahead (issue 29 item 5, docs/methodology.md §C3.2): cut the history at a date
t and every IM at a date <= t is unchanged, because every calibration constant (the DVOL/RV30
sd ratio of the vol-change fallback, the DVOL/RV30 level ratio of the relative book) is estimated
on an expanding window of data up to the date it is used on.

The book's market is dated 2025-12-31 and the cuts fall after it: the relative book is defined
by its market date (its vols are that date's, moved by the vol index), so that date must be kept.
"""

from __future__ import annotations

import numpy as np
import pytest

import pricing.scenarios as scenarios
from pricing.chain import load_bundled_chain
from pricing.instruments import parse_option_name
from pricing.margin.backtest import _history, backtest
from pricing.margin.var import fhs_model, hvar_model
from pricing.market import Market
from pricing.marketdata import DailySeries, load_dvol, load_history
from pricing.portfolio import from_contracts
from pricing.scenarios import expanding_vol_scale, vol_change_scenarios

CUTS = ("2026-01-20", "2026-03-01")


def _cut(series: DailySeries, day: str) -> DailySeries:
    keep = series.dates <= np.datetime64(day)
    return DailySeries(series.name, series.dates[keep], series.values[keep])


@pytest.fixture
def cut_history(monkeypatch: pytest.MonkeyPatch):
    """A context where the bundled price and DVOL histories end on ``day``."""

    def at(day: str) -> None:
        monkeypatch.setattr(scenarios, "load_history", lambda u: _cut(load_history(u), day))
        monkeypatch.setattr(scenarios, "load_dvol", lambda u: _cut(load_dvol(u), day))

    return at


def _market() -> Market:
    chain = load_bundled_chain("BTC", "2025-12-31")
    return Market(chain.as_of, {"BTC": Market.from_chains([chain]).surfaces["BTC"]}, {"BTC": chain})


def _book():
    return from_contracts(
        [parse_option_name("BTC-27MAR26-90000-C", "linear"), parse_option_name("BTC-27MAR26-110000-C", "linear")], [10, -15]
    )


@pytest.mark.parametrize("cut", CUTS)
def test_relative_book_vol_levels_up_to_the_cut_are_unchanged(cut_history, cut: str) -> None:
    market = _market()
    full = _history(("BTC",), market)
    cut_history(cut)
    short = _history(("BTC",), market)
    n = short.days.size
    assert np.array_equal(short.days, full.days[:n])
    np.testing.assert_array_equal(short.level, full.level[:, :n])


@pytest.mark.parametrize("cut", CUTS)
def test_vol_change_scale_uses_data_up_to_the_date_only(cut: str) -> None:
    """The fallback's sd ratio at t from the full files equals the one from files cut at t; the
    whole-sample ratio (the old constant, 0.7473 on BTC at h = 2) is not what a date before the
    end of DVOL sees."""
    h, full_h, full_d = 2, load_history("BTC"), load_dvol("BTC")
    t = np.array([np.datetime64(cut)])
    assert expanding_vol_scale(full_h, full_d, t, h)[0] == pytest.approx(
        expanding_vol_scale(_cut(full_h, cut), _cut(full_d, cut), t, h)[0], rel=1e-12
    )
    before = expanding_vol_scale(full_h, full_d, np.array([np.datetime64("2020-06-01")]), h)[0]
    assert before == 1.0  # no overlap yet: no scaling
    ends = np.array([np.datetime64(cut)])
    assert vol_change_scenarios(full_h, full_d, ends, h)[2] == expanding_vol_scale(full_h, full_d, ends, h)[0]


@pytest.mark.parametrize("make", [hvar_model, fhs_model], ids=["hvar", "fhs"])
def test_backtest_im_at_every_date_up_to_the_cut_is_unchanged(cut_history, make) -> None:
    market, book, model = _market(), _book(), make()
    full = backtest(book, market, model)
    cut_history(CUTS[1])
    short = backtest(book, market, model)
    n = short.observations
    assert n > 1000 and np.array_equal(short.dates, full.dates[:n])
    # The same arithmetic on the same data: equal to the last bits the block layout allows.
    np.testing.assert_allclose(short.im, full.im[:n], rtol=1e-12, atol=0.0)
