"""Cross-check: the backtest's vectorised IM on a date equals the margin engine's own IM of the
same book, rescaled to that date, with scenarios ending on that date (two routes, one number)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pricing.instruments import parse_option_name
from pricing.margin.backtest import _history, _ref_day, _scaled_market, backtest
from pricing.margin.engine import margin
from pricing.margin.var import hvar_model
from pricing.portfolio import from_contracts
from pricing.revaluation import Market
from udfs.market import market_arg


def test_backtest_im_equals_the_engine_on_sampled_dates() -> None:
    full = market_arg("bundled").market
    # A BTC-only market: the engine's scenario set then covers BTC alone, as the backtest's does.
    market = Market(full.as_of, {"BTC": full.surfaces["BTC"]}, {"BTC": full.chains["BTC"]})
    book = from_contracts(
        [parse_option_name("BTC-25SEP26-80000-C", "linear"), parse_option_name("BTC-25SEP26-90000-C", "linear")], [10, -15]
    )
    model = hvar_model()
    res = backtest(book, market, model)
    hist = _history(("BTC",), market)
    ref = _ref_day(hist, market)
    for i in (0, res.observations // 2, res.observations - 1):
        t = int(np.searchsorted(hist.days, res.dates[i]))
        scaled = _scaled_market(market, {"BTC": float(hist.level[0, t])})
        size = hist.spot[0, t] / hist.spot[0, ref]
        params = dataclasses.replace(model.scenario_params, as_of=res.dates[i].astype(object), include_stress=False)
        direct = margin(book.with_quantity(book.quantity * size), scaled, dataclasses.replace(model, scenario_params=params))
        # Same scenarios and the same revaluation by two routes: agreement to rounding.
        assert res.im[i] == pytest.approx(direct.core, rel=1e-9), res.dates[i]
