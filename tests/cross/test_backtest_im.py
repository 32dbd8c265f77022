"""Cross-check: the backtest's vectorised IM on a date equals the margin engine's own IM of the
same book, rescaled to that date, with scenarios ending on that date (two routes, one number);
for the VaR model and for the hybrid (VaR in SPAN's assembly)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pricing.instruments import parse_option_name
from pricing.margin.backtest import _history, _ref_day, _scaled_market, backtest
from pricing.margin.engine import margin
from pricing.margin.hybrid import HybridModel
from pricing.margin.var import hvar_model
from pricing.market import Market
from pricing.portfolio import from_contracts
from udfs.market import market_arg


@pytest.mark.parametrize("kind", ["hvar", "hybrid"])
def test_backtest_im_equals_the_engine_on_sampled_dates(kind: str) -> None:
    full = market_arg("bundled").market
    # A BTC-only market: the engine's scenario set then covers BTC alone, as the backtest's does.
    market = Market(full.as_of, {"BTC": full.surfaces["BTC"]}, {"BTC": full.chains["BTC"]})
    book = from_contracts(
        [parse_option_name("BTC-25SEP26-80000-C", "linear"), parse_option_name("BTC-25SEP26-90000-C", "linear")], [10, -15]
    )
    var = hvar_model()
    model = var if kind == "hvar" else HybridModel(var)
    res = backtest(book, market, model)
    hist = _history(("BTC",), market)
    ref = _ref_day(hist, market)
    for i in (0, res.observations // 2, res.observations - 1):
        t = int(np.searchsorted(hist.days, res.dates[i]))
        scaled = _scaled_market(market, {"BTC": float(hist.level[0, t])})
        size = hist.spot[0, t] / hist.spot[0, ref]
        params = dataclasses.replace(var.scenario_params, as_of=res.dates[i].astype(object), include_stress=False)
        on_date = dataclasses.replace(var, scenario_params=params)
        direct = margin(book.with_quantity(book.quantity * size), scaled, on_date if kind == "hvar" else HybridModel(on_date))
        # Same scenarios and the same revaluation by two routes: agreement to rounding. The
        # hybrid is tested on its risk before the NOV credit (one expiry: no intra charge, whose
        # composite deltas the backtest keeps at the market date's vol level).
        tested = direct.core if kind == "hvar" else direct.components["risk"]
        assert res.im[i] == pytest.approx(tested, rel=1e-9), res.dates[i]
