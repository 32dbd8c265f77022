"""An IM profile the replica simulates: ΔIM at future dates of the aged book under today's scenarios.

At each date t_i of the XVA grid the market is rolled forward to as-of + t_i with the same
surfaces (so every option's time to expiry shrinks and its vol and forward are read at the
shorter tenor: a roll-down), positions that have expired by then drop out of the book and of
the trade, and the margin model is re-run on the aged book with today's scenario set (a VaR
model keeps the scenario window of the quote date; SPAN and Deribit use fixed moves). Every
RFQ is priced at once on each date, both directions, by :func:`pricing.margin.engine.marginal_im`.

This is the "replica" profile of docs/methodology.md §D7: what the venue would ask of the same
positions as they age, on today's market, rather than a flat or square-root run-off of today's
ΔIM. It freezes the spot (no market-path uncertainty).

:func:`expected_replica_profiles` is the expected-IM profile: at each date the aged book is
re-margined on K simulated markets, the spot (and with it every forward, the smiles kept in
moneyness) moved to S_t = S_0 e^{σ √t z_k − σ² t / 2}, σ the ATM implied vol at t, z_k the
K stratified normal quantiles Φ⁻¹((k − ½)/K); E[ΔIM(t)] is their mean. The book is static
between quote and expiry, so ΔIM(t) depends on the path only through the market at t: the
marginal distribution of S_t is all a path simulation would add (docs/methodology.md §D7).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
from scipy.special import ndtri

from pricing._typing import FloatArray
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginModel, marginal_im
from pricing.margin.var import ScenarioVarModel
from pricing.market import Market
from pricing.portfolio import PERPETUAL, Portfolio

#: Stratified spot quantiles per date of the expected-IM profile (default).
EXPECTED_POINTS = 16


def frozen_scenarios(model: MarginModel, market: Market) -> MarginModel:
    """``model`` with its scenario window fixed at ``market``'s date (today's scenarios at every future date).

    Parameters
    ----------
    model : MarginModel
        The venue replica. Only a :class:`~pricing.margin.var.ScenarioVarModel` that builds its
        scenarios from history with no as-of date of its own is changed.
    market : Market
        Today's market; its date becomes the scenario window's end.

    Returns
    -------
    MarginModel
        A copy with ``scenario_params.as_of`` set to the market's date, or ``model`` itself (SPAN,
        Deribit and VaR models with fixed scenarios or a date already move nothing).

    Notes
    -----
    Without this a VaR model re-margining the book on the market rolled to as-of + t_i would read
    a later history window; the replica profile holds today's scenario set (docs/methodology.md §D7).
    """
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
    candidates : Portfolio
        The trades' legs, with the quantities the dealer buys (the sell side is their negative).
    groups : ndarray of int
        Each leg's trade id in 0..G-1, as for :func:`pricing.margin.engine.marginal_im`.
    market : Market
        Today's market; at each date it is rolled to as-of + t with the same surfaces.
    model : MarginModel
        The venue replica; a historical VaR keeps today's scenarios (:func:`frozen_scenarios`).
    times : ndarray, shape (T,)
        Future times in years (ACT/365) from the market date, starting at 0.
    addons : AddOnParams, optional
        The margin add-ons (the model's defaults if None).

    Returns
    -------
    (buy, sell) : ndarray, shape (G, T) each
        ΔIM(t) of each trade, USD, the dealer buying and selling it; 0 once all its legs have expired.

    Notes
    -----
    ΔIM(t_i) = IM(book_{t_i} ∪ trade_{t_i}; market rolled to t_i) − IM(book_{t_i}; same), both
    aged (expired legs dropped) and margined on today's scenarios with the spot frozen: the
    ``replica`` profile of docs/methodology.md §D7. One margin run per date for all trades.
    """
    g = int(groups.max()) + 1 if groups.size else 0
    buy = np.zeros((g, times.size))
    sell = np.zeros((g, times.size))
    fixed = frozen_scenarios(model, market)
    for i, t in enumerate(times):
        aged = Market(market.as_of + timedelta(days=float(t) * DAYS_PER_YEAR), market.surfaces, market.chains)
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


def spot_quantiles(market: Market, t_years: float, points: int = EXPECTED_POINTS) -> dict[str, FloatArray]:
    """Per underlying, the K stratified spot multipliers e^{σ √t z_k − σ² t/2} at time ``t_years``.

    Parameters
    ----------
    market : Market
        Today's market; each surface gives its ATM total variance.
    t_years : float
        t, ACT/365 years from the market date (negative is read as 0).
    points : int
        K, the quantiles per date (>= 1); default 16.

    Returns
    -------
    dict of str to ndarray, shape (K,)
        Per underlying, the multipliers m_k of today's spot, increasing in k; all 1 at t = 0.

    Raises
    ------
    PricingInputError
        ``points`` < 1.

    Notes
    -----
    m_k = exp(σ √t z_k − σ² t / 2), z_k = Φ⁻¹((k − ½)/K), σ² t the surface's ATM (log-moneyness
    0) total variance at t (the last expiry's beyond it); the drift is 0 in the forward measure,
    so E[S_t / F(t)] = 1 up to the stratification (docs/methodology.md §D7).
    """
    if points < 1:
        raise PricingInputError(f"points: the expected-IM profile needs at least 1 point per date, got {points!r}")
    z = ndtri((np.arange(points) + 0.5) / points)
    out = {}
    for u, surf in market.surfaces.items():
        t = max(float(t_years), 0.0)
        w = float(surf.total_variance(np.zeros(1), np.array([max(t, 1e-9)]))[0]) if t > 0 else 0.0
        out[u] = np.exp(np.sqrt(max(w, 0.0)) * z - 0.5 * max(w, 0.0))
    return out


def _moved(market: Market, factors: dict[str, float]) -> Market:
    """The market with each underlying's spot and forwards times its factor (smiles kept in moneyness)."""
    surfaces = {
        u: dataclasses.replace(s, spot=s.spot * factors[u], forwards=s.forwards * factors[u]) for u, s in market.surfaces.items()
    }
    return Market(market.as_of, surfaces, market.chains)


def expected_replica_profiles(
    book: Portfolio,
    candidates: Portfolio,
    groups: np.ndarray,
    market: Market,
    model: MarginModel,
    times: FloatArray,
    addons: AddOnParams | None = None,
    points: int = EXPECTED_POINTS,
) -> tuple[FloatArray, FloatArray]:
    """Expected ΔIM of each trade at each time over simulated spots, dealer buying and selling: (G, T) each, USD.

    Parameters
    ----------
    book, candidates, groups, market, model, times, addons :
        As for :func:`replica_profiles`.
    points : int
        Stratified spot quantiles per date (K).

    Returns
    -------
    (buy, sell) : arrays of shape (G, T)
        Expected replica IM, USD, at each grid time G for each trade T, the dealer buying and selling.

    Notes
    -----
    E[ΔIM(t_i)] = (1/K) Σ_k ΔIM(t_i; S_0 m_k(t_i)) with the multipliers of :func:`spot_quantiles`
    (module docstring; docs/methodology.md §D7). All underlyings move together on quantile k
    (perfect correlation: a conservative choice for a book hedged across BTC and ETH).
    """
    g = int(groups.max()) + 1 if groups.size else 0
    buy = np.zeros((g, times.size))
    sell = np.zeros((g, times.size))
    fixed = frozen_scenarios(model, market)
    for i, t in enumerate(times):
        aged = Market(market.as_of + timedelta(days=float(t) * DAYS_PER_YEAR), market.surfaces, market.chains)
        live_c = _alive(candidates, aged)
        if not live_c.any():
            break
        live_b = _alive(book, aged)
        multipliers = spot_quantiles(market, float(t), points)
        for k in range(points):
            moved = _moved(aged, {u: float(m[k]) for u, m in multipliers.items()})
            res = marginal_im(book.select(live_b), candidates.select(live_c), moved, fixed, addons, groups=groups[live_c])
            n = res.delta_buy.size
            buy[:n, i] += res.delta_buy / points
            sell[:n, i] += res.delta_sell / points
    return buy, sell


def _alive(portfolio: Portfolio, market: Market) -> np.ndarray:
    """Positions not yet expired at ``market.as_of`` (perpetuals always)."""
    if len(portfolio) == 0:
        return np.zeros(0, dtype=bool)
    t = portfolio.t_years(market.as_of)
    return np.asarray((portfolio.kind == PERPETUAL) | (t > 1e-9), dtype=bool)
