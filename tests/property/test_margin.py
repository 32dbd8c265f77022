"""Properties every margin model must have: homogeneity, offsets, hedges, additivity of the Euler
allocation, batch = one at a time, determinism, the intraday call.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.margin.addons import AddOnParams
from pricing.margin.call import intraday_margin_call
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import margin, marginal_im, sequential_im
from pricing.margin.hybrid import HybridModel
from pricing.margin.span import SpanModel, SpanParams
from pricing.margin.var import fhs_model, hvar_model, mc_model
from pricing.market import Market
from pricing.portfolio import concat, empty_portfolio, from_contracts
from pricing.positions import position_state
from tests.conftest import EXPIRY, NOW, perpetual

HVAR = hvar_model()


MODELS = [HVAR, fhs_model(), mc_model(n_paths=4000), SpanModel(), DeribitModel(), HybridModel()]


def _seed():
    from pricing.surface import flat_surface

    market = Market(NOW, {"BTC": flat_surface("BTC", 52_000.0, 0.65)})
    base = from_contracts(
        [OptionContract("BTC", EXPIRY, 50_000.0, 1, "linear"), OptionContract("BTC", EXPIRY, 55_000.0, 1, "linear")], [10, -15]
    )
    return market, base


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_empty_portfolio_has_zero_im(model, seed_market: Market) -> None:
    r = margin(empty_portfolio(), seed_market, model)
    assert r.total == 0.0 and r.core == 0.0


@settings(max_examples=15, deadline=None)
@given(st.floats(0.1, 20.0))
def test_var_is_positively_homogeneous(scale: float) -> None:
    market, base = _seed()
    one = margin(base, market, HVAR)
    many = margin(base.scaled(scale), market, HVAR)
    # Same scenarios, P&L linear in quantity: VaR, ES and liquidity scale exactly (1e-9 relative
    # covers the summation order).
    assert many.core == pytest.approx(scale * one.core, rel=1e-9)
    assert many.components["es"] == pytest.approx(scale * one.components["es"], rel=1e-9)
    assert many.liquidity == pytest.approx(scale * one.liquidity, rel=1e-9)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_exact_offset_gives_minus_im(model, seed_market: Market, ratio_spread) -> None:
    long_leg, short_leg = ratio_spread.select([0]), ratio_spread.select([1])
    r = marginal_im(long_leg, long_leg, seed_market, model)  # the dealer sells what it holds
    assert r.delta_sell[0] == pytest.approx(-r.im_base, abs=1e-6 * r.im_base)
    r = marginal_im(short_leg, short_leg, seed_market, model)  # the dealer buys back its short
    assert r.delta_buy[0] == pytest.approx(-r.im_base, abs=1e-6 * r.im_base)
    seq = sequential_im(ratio_spread, ratio_spread.scaled(-1), seed_market, model)
    assert seq.im_after[-1] == pytest.approx(0.0, abs=1e-6 * seq.im_before[0])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_delta_hedge_lowers_im(model, seed_market: Market) -> None:
    call = from_contracts([OptionContract("BTC", EXPIRY, 52_000.0, 1, "linear")], [-20])
    delta = position_state(call, seed_market).delta_coin.sum()
    hedge = from_contracts([perpetual(settle="linear")], [-delta])
    assert margin(call + hedge, seed_market, model).core < margin(call, seed_market, model).core


@settings(max_examples=10, deadline=None)
@given(st.floats(0.04, 0.25), st.floats(0.01, 0.10))
def test_span_scan_risk_is_monotone_in_scan_range(psr: float, step: float) -> None:
    market, base = _seed()
    low = margin(base, market, SpanModel(SpanParams(price_scan_range={"BTC": psr})))
    high = margin(base, market, SpanModel(SpanParams(price_scan_range={"BTC": psr + step})))
    assert high.components["scan_risk"] >= low.components["scan_risk"] - 1e-9


def test_batch_marginal_equals_one_at_a_time(seed_market: Market, ratio_spread) -> None:
    cands = from_contracts(
        [
            OptionContract("BTC", EXPIRY + timedelta(days=d), k, cp, "linear")
            for d, k, cp in [(0, 55_000, 1), (30, 48_000, -1), (60, 60_000, 1)]
        ]
        + [perpetual()],
        [15, 4, 7, 2],
    )
    # The model-risk add-on is held at the portfolio's backtest state in batch mode (documented),
    # so it is switched off to compare like with like.
    addons = AddOnParams(model_risk_rate=0.0)
    for model in MODELS:
        batch = marginal_im(ratio_spread, cands, seed_market, model, addons)
        for i in range(len(cands)):
            one = cands.select([i])
            assert batch.im_buy[i] == pytest.approx(margin(ratio_spread + one, seed_market, model, addons).total, rel=1e-9)
            assert batch.im_sell[i] == pytest.approx(
                margin(ratio_spread + one.scaled(-1), seed_market, model, addons).total, rel=1e-9
            )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_euler_contributions_add_up_to_core(model, seed_market: Market, ratio_spread) -> None:
    two_coins = concat([ratio_spread, from_contracts([perpetual("ETH")], [-3])])
    r = margin(two_coins, seed_market, model)
    assert r.contributions.sum() == pytest.approx(r.core, rel=1e-9, abs=1e-6)


def test_total_is_assembled_from_its_components(seed_market: Market, ratio_spread) -> None:
    r = margin(ratio_spread, seed_market, HVAR)
    assert r.market_im == max(r.core, r.apc_floor)
    assert r.apc_floor == pytest.approx(0.75 * r.core + 0.25 * r.stressed)
    assert r.total == pytest.approx(r.market_im + r.liquidity + r.concentration + r.model_risk)


def test_margin_is_deterministic(seed_market: Market, ratio_spread) -> None:
    for model in MODELS:
        assert margin(ratio_spread, seed_market, model).total == margin(ratio_spread, seed_market, model).total


def test_intraday_margin_call(seed_market: Market, ratio_spread) -> None:
    im = margin(ratio_spread, seed_market, HVAR).total
    call = intraday_margin_call(ratio_spread, {"USD": im - 1000.0}, seed_market, HVAR)
    assert call.call_usd == pytest.approx(1000.0) and call.deadline == NOW + timedelta(hours=1)
    ok = intraday_margin_call(ratio_spread, {"BTC": 2 * im / seed_market.spot("BTC")}, seed_market, HVAR, deadline_minutes=30)
    assert not ok.called and ok.deadline is None and ok.excess_usd == pytest.approx(im)


def test_scenario_params_reach_the_model(seed_market: Market, ratio_spread) -> None:
    layout = hvar_model(lookback_years=2.0).prepare(ratio_spread, seed_market)
    assert int((~layout.stressed).sum()) == 730 - 2 + 1  # 731 closes, n = 730, N = n - h + 1


@pytest.mark.parametrize("settle", ["linear", "inverse"])
@pytest.mark.parametrize("model", [SpanModel(), DeribitModel()], ids=["span", "deribit"])
def test_venue_replica_never_asks_more_than_a_long_options_maximum_loss(model, settle: str, seed_market: Market) -> None:
    """A long option can lose at most its premium, and a venue's loss measure asks no more (SPAN's
    scan of a long option; Deribit PM's risk-matrix worst case). Before the APC was limited to the
    CCP-style models a 25% buffer, and before USD-settled options had their own pool the conversion
    at the shocked spot, pushed a long call's Deribit IM above its premium."""
    for strike in (40_000.0, 52_000.0, 70_000.0):
        book = from_contracts([OptionContract("BTC", EXPIRY, strike, 1, settle)], [10])
        premium = float(position_state(book, seed_market).value_usd.sum())
        r = margin(book, seed_market, model)
        assert r.apc_floor == 0.0
        # Deribit adds its published roll and delta shocks on top of the risk-matrix loss.
        loss = r.components["worst_case"] if "worst_case" in r.components else r.market_im
        assert loss <= premium * (1 + 1e-9), (strike, loss, premium)


def test_apc_auto_is_emir_28b_for_var_models_and_explicit_apc_applies_to_any_model(seed_market: Market, ratio_spread) -> None:
    """EMIR RTS 153/2013 Art. 28: (b) 25% weight on stressed IM for the CCP-style models by default;
    a venue replica gets a floor only when asked (here the (a) 25% buffer)."""
    var = margin(ratio_spread, seed_market, hvar_model())
    assert var.apc_floor == pytest.approx(0.75 * var.core + 0.25 * var.stressed, rel=1e-12)
    assert var.market_im == pytest.approx(max(var.core, var.apc_floor), rel=1e-12)
    span = margin(ratio_spread, seed_market, SpanModel())
    buffered = margin(ratio_spread, seed_market, SpanModel(), AddOnParams(apc="buffer"))
    assert span.apc_floor == 0.0 and buffered.apc_floor == pytest.approx(1.25 * span.core, rel=1e-12)


def test_emir_28c_ten_year_vol_floor_never_lowers_the_fhs_margin(seed_market: Market, ratio_spread) -> None:
    """EMIR RTS 153/2013 Art. 28(c): margin not lower than with volatility estimated over a 10-year
    look-back. As the FHS model's floor (ratio 1 over 10 years) it can only raise the scaling vol."""
    base = margin(ratio_spread, seed_market, fhs_model(vol_floor_ratio=0.0))
    floored = margin(ratio_spread, seed_market, fhs_model(vol_floor_ratio=1.0, vol_floor_years=10.0))
    assert floored.core >= base.core - 1e-9
    with pytest.raises(PricingInputError, match="vol_floor_years"):
        fhs_model(vol_floor_years=-1.0)


@settings(max_examples=60)
@given(
    st.integers(30, 2_500),
    st.floats(0.05, 0.95),
    st.integers(1, 400),
    st.sampled_from([0.9, 0.975, 0.99, 0.995]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_rolling_backtest_equals_a_partition_of_every_window(
    n: int, share: float, days: int, alpha: float, seed: int, ties: bool
) -> None:
    """The backtest ranks the union's worst losses once; the definition partitions each window
    (k-th worst loss of the ``window`` scenarios before day t, docs/methodology.md §C4). Same counts."""
    import numpy as np

    from pricing.margin.addons import backtest_exceptions
    from pricing.margin.quantile import var_es

    window = max(1, int(n * share))
    rng = np.random.default_rng(seed)
    pnl = rng.standard_t(3, n) * 1e4
    if ties:
        pnl = np.round(pnl, -3)
    got = backtest_exceptions(pnl, alpha, window, days)
    d = int(min(days, max(n - window, 0)))
    losses = -pnl
    starts = np.arange(n - d - window, n - window)
    var, _ = var_es(np.lib.stride_tricks.sliding_window_view(losses, window)[starts], alpha)
    assert got[:2] == (int(np.sum(losses[starts + window] > var)), d)
