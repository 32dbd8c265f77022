"""An IM profile the replica simulates: ΔIM at future dates of the aged book under today's scenarios.

At each date t_i of the XVA grid the market is rolled forward to as-of + t_i with the same
surfaces (so every option's time to expiry shrinks and its vol and forward are read at the
shorter tenor: a roll-down), positions that have expired by then drop out of the book and of
the trade, and the margin model is re-run on the aged book with today's scenario set (a VaR
model keeps the scenario window of the quote date; SPAN and Deribit use fixed moves). Every
RFQ is priced at once on each date, both directions, by :func:`pricing.margin.engine.marginal_im`.

This is the "replica" profile of docs/methodology.md §D3: what the venue would ask of the same
positions as they age, on today's market, rather than a flat or square-root run-off of today's
ΔIM. It carries no market-path uncertainty (an expected-IM profile would need simulated
markets); that is stated wherever it is used.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np

from pricing._typing import FloatArray
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginModel, marginal_im
from pricing.margin.var import ScenarioVarModel
from pricing.portfolio import PERPETUAL, Portfolio
from pricing.revaluation import Market


def frozen_scenarios(model: MarginModel, market: Market) -> MarginModel:
    """``model`` with its scenario window fixed at ``market``'s date (today's scenarios at every future date)."""
    if isinstance(model, ScenarioVarModel) and model.scenarios is None and model.scenario_params.as_of is None:
        params = dataclasses.replace(model.scenario_params, as_of=market.as_of.date())
        return dataclasses.replace(model, scenario_params=params)
    return model


def replica_profiles(
    book: Portfolio,
    candidates: Portfolio,
    groups: np.ndarray,
    market: Market,
    model: MarginModel,
    times: FloatArray,
    addons: AddOnParams | None = None,
) -> tuple[FloatArray, FloatArray]:
    """ΔIM of each trade at each time, dealer buying and dealer selling: two (G, T) arrays, USD.

    Parameters
    ----------
    book : Portfolio
        The dealer's positions today.
    candidates, groups :
        The trades' legs and their trade ids (0..G-1), as for :func:`marginal_im`.
    market : Market
    model : MarginModel
    times : array
        Future times in years (ACT/365) from the market date, starting at 0.

    Returns
    -------
    (buy, sell) : arrays of shape (G, T)
        ΔIM(t) of each trade; 0 once all its legs have expired.

    Notes
    -----
    docs/methodology.md §D3 (IM profile); the aged book is re-margined at each date.
    """
    g = int(groups.max()) + 1 if groups.size else 0
    buy = np.zeros((g, times.size))
    sell = np.zeros((g, times.size))
    fixed = frozen_scenarios(model, market)
    for i, t in enumerate(times):
        aged = Market(market.as_of + timedelta(days=float(t) * 365.0), market.surfaces, market.chains)
        live_c = _alive(candidates, aged)
        if not live_c.any():
            break
        live_b = _alive(book, aged)
        res = marginal_im(book.select(live_b), candidates.select(live_c), aged, fixed, addons, groups=groups[live_c])
        # One entry per trade id up to the largest alive; a trade with no live leg adds nothing.
        k = res.delta_buy.size
        buy[:k, i] = res.delta_buy
        sell[:k, i] = res.delta_sell
    return buy, sell


def _alive(portfolio: Portfolio, market: Market) -> np.ndarray:
    """Positions not yet expired at ``market.as_of`` (perpetuals always)."""
    if len(portfolio) == 0:
        return np.zeros(0, dtype=bool)
    t = portfolio.t_years(market.as_of)
    return np.asarray((portfolio.kind == PERPETUAL) | (t > 1e-9), dtype=bool)
