"""Margin through the fused scenario kernels equals the matrix (numpy) path, on the bundled
Deribit chain and scenario history (tolerance argued in ``test_paths_agree``)."""

from __future__ import annotations

import numpy as np
import pytest

from pricing import accel
from pricing.chain import load_bundled_chain
from pricing.margin.addons import AddOnParams
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import margin, marginal_im
from pricing.margin.span import SpanModel
from pricing.margin.var import hvar_model, model_from_scenarios
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.positions import expand
from pricing.revaluation import reprice
from pricing.scenarios import ScenarioParams, historical_scenarios
from pricing.surface import build_surface

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


@pytest.fixture(scope="module")
def desk() -> tuple[Market, object, object]:
    chain = load_bundled_chain("BTC", "2026-08-21")
    market = Market(chain.as_of, {"BTC": build_surface(chain)}, {"BTC": chain})
    live = [c for c in chain.contracts() if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    rng = np.random.default_rng(5)
    book = from_contracts(
        [live[i] for i in rng.integers(0, len(live), 150)], rng.choice([-1.0, 1.0], 150) * rng.uniform(0.1, 20.0, 150).round(1)
    )
    cands = from_contracts([live[i] for i in rng.integers(0, len(live), 400)], rng.uniform(1, 25, 400).round())
    return market, book, cands


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 + 1e-12 * abs(a)


@pytest.mark.parametrize("coin", [False, True])
def test_reprice_matrix_paths_agree(desk, coin: bool) -> None:
    market, book, _ = desk
    scen = historical_scenarios(["BTC"], ScenarioParams())
    r = expand(scen.returns, scen.underlyings, book)
    fac = expand(np.exp(scen.vol_changes), scen.underlyings, book)
    with accel.using("numpy"):
        a = reprice(book, market, r, vol_factor=fac, vol_add=0.01, horizon_days=2, coin=coin)
    with accel.using("numba"):
        b = reprice(book, market, r, vol_factor=fac, vol_add=0.01, horizon_days=2, coin=coin)
    assert np.abs(a.usd - b.usd).max() <= 1e-8 + 1e-13 * np.abs(a.usd).max()
    if coin:
        assert np.abs(a.coin - b.coin).max() <= 1e-12 + 1e-13 * np.abs(a.coin).max()


@pytest.mark.parametrize(
    "model_factory",
    [lambda: hvar_model(), lambda: hvar_model(measure="es"), SpanModel, DeribitModel],
    ids=["hvar", "hvar-es", "span", "deribit"],
)
def test_portfolio_and_marginal_im_paths_agree(desk, model_factory) -> None:
    market, book, cands = desk
    model = model_factory()
    out = {}
    for kind in ("numpy", "numba"):
        with accel.using(kind):
            out[kind] = (margin(book, market, model, AddOnParams()), marginal_im(book, cands, market, model, AddOnParams()))
    (ma, ia), (mb, ib) = out["numpy"], out["numba"]
    for (name, a), (_, b) in zip(ma.as_rows(), mb.as_rows()):
        assert (np.isnan(a) and np.isnan(b)) or _close(a, b), name
    assert np.allclose(ma.contributions, mb.contributions, rtol=1e-12, atol=1e-6)
    assert np.allclose(ia.im_buy, ib.im_buy, rtol=1e-12, atol=1e-6)
    assert np.allclose(ia.im_sell, ib.im_sell, rtol=1e-12, atol=1e-6)


def test_fused_marginal_memory_does_not_grow_with_candidates(desk) -> None:
    """10x the candidates must not cost a (C x S) matrix: the fused path keeps O(S) per thread.

    The fixed part of the peak (~6.5 MB here) is the base portfolio's 250-day rolling backtest.
    """
    import tracemalloc

    market, book, cands = desk
    model = model_from_scenarios(historical_scenarios(["BTC"], ScenarioParams()))
    peaks = []
    with accel.using("numba"):
        marginal_im(book, cands, market, model)
        for n in (40, 400):
            tracemalloc.start()
            marginal_im(book, cands.select(np.arange(n)), market, model)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    # 360 more candidates x 2,037 scenarios would be 5.9 MB as a matrix; allow 0.5 MB of per-row vectors.
    assert peaks[1] - peaks[0] < 5e5
