"""Margin through the fused scenario kernels equals the matrix (numpy) path, on the bundled
Deribit chain and scenario history (tolerance argued in ``test_paths_agree``)."""

from __future__ import annotations

import dataclasses

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


def _cdf_pieces(market: Market, book, r: np.ndarray, fac: np.ndarray, vol_add: float, horizon_days: float) -> dict[str, int]:
    """How many rows of ``book`` take each normal CDF in the fused kernel (written plainly in numpy).

    A live row whose |d1| and |d2| are all below the Mills ratio's split (``Z_SPLIT``) over the
    scenarios takes the near piece alone, all at or above it the far piece alone, else both.
    """
    from pricing.accel._ncdf_series import Z_SPLIT
    from pricing.accel.scenario import EXPIRED, LIVE
    from pricing.fused import plan_revaluation

    plan = plan_revaluation(book, market, horizon_days)
    assert plan is not None
    live = plan.kind == LIVE
    svi = plan.svi
    k = plan.lk[:, None] - r

    def smile(o: int) -> np.ndarray:
        x = k - svi[:, o + 4][:, None]
        return svi[:, o + 1][:, None] + svi[:, o + 2][:, None] * (
            svi[:, o + 3][:, None] * x + np.sqrt(x * x + svi[:, o + 5][:, None])
        )

    w = svi[:, 0][:, None] * smile(0) + svi[:, 6][:, None] * smile(6)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.maximum(np.sqrt(np.maximum(w, 0.0)) * fac + vol_add * plan.sqrt_t1[:, None], 0.0)
        d1 = -k / sd + 0.5 * sd
    z = np.concatenate([np.abs(d1), np.abs(d1 - sd)], axis=1)
    near = (z < Z_SPLIT).all(axis=1) & live
    far = (z >= Z_SPLIT).all(axis=1) & live
    return {
        "near": int(near.sum()),
        "far": int(far.sum()),
        "mixed": int((live & ~near & ~far).sum()),
        "expired": int((plan.kind == EXPIRED).sum()),
    }


def test_every_cdf_piece_of_the_fused_kernel_agrees_with_the_matrix_path(desk) -> None:
    """Every listed option of the chain, the shortest expiries and the far wings included, so the
    fused kernel's per-row choice of normal CDF (near piece, far piece, both, none for an expired
    option) is exercised; the numbers equal the numpy path's within ``test_reprice_matrix_paths_agree``'s
    bound, and the book is checked to hold rows of every kind (else the test would prove nothing)."""
    market, _, _ = desk
    contracts = market.chains["BTC"].contracts()
    # Listed strikes keep |d| < Z_SPLIT in every scenario; strikes far in both wings of the
    # nearest live expiries (not listed, priced from the fitted smile) reach the far piece.
    live = sorted({c.expiry for c in contracts if (c.expiry - market.as_of).days >= 3})[:2]
    spot = market.surface("BTC").forward(np.array([0.0]))[0]
    wings = [
        dataclasses.replace(c, strike=float(m * spot))
        for c in contracts
        if c.expiry in live and c.strike == min(x.strike for x in contracts if x.expiry == c.expiry)
        for m in (0.001, 0.01, 100.0, 1000.0)
    ]
    contracts = contracts[::3] + wings
    book = from_contracts(contracts, np.where(np.arange(len(contracts)) % 2 == 0, 1.0, -2.5))
    scen = historical_scenarios(["BTC"], ScenarioParams())
    r = expand(scen.returns, scen.underlyings, book)
    fac = expand(np.exp(scen.vol_changes), scen.underlyings, book)
    # sticky moneyness, the default: the smile is read at ln(K/F) - r
    pieces = _cdf_pieces(market, book, r, fac, 0.01, 2)
    assert min(pieces.values()) > 0, pieces
    with accel.using("numpy"):
        a = reprice(book, market, r, vol_factor=fac, vol_add=0.01, horizon_days=2)
    with accel.using("numba"):
        b = reprice(book, market, r, vol_factor=fac, vol_add=0.01, horizon_days=2)
    assert np.abs(a.usd - b.usd).max() <= 1e-8 + 1e-13 * np.abs(a.usd).max()
