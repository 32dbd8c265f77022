"""Margin models: published examples (McMillan SPAN, Deribit API), properties, marginal IM, calls."""

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.margin.addons import AddOnParams
from pricing.margin.call import intraday_margin_call
from pricing.margin.deribit import DeribitModel, DeribitParams, roll_shock
from pricing.margin.engine import margin, marginal_im, sequential_im
from pricing.margin.quantile import tail_count, var_es
from pricing.margin.span import SpanModel, SpanParams, scan_risk
from pricing.margin.var import ScenarioVarModel, fhs_model, hvar_model, mc_model
from pricing.portfolio import concat, empty_portfolio, from_contracts, portfolio_from_rows
from pricing.revaluation import Market, position_state, reprice
from tests.conftest import EXPIRY, NOW, perpetual

HVAR = hvar_model()
MODELS = [HVAR, fhs_model(), mc_model(n_paths=4000), SpanModel(), DeribitModel()]


# -- order statistic (METHODOLOGY C4) ----------------------------------------------------------


def test_tail_count_rule() -> None:
    assert tail_count(1824, 0.995) == 9
    assert tail_count(2500, 0.995) == 12
    assert tail_count(2000, 0.995) == 10  # exactly 10, not 9 from 9.999999
    assert tail_count(100, 0.999) == 1


def test_var_es_on_a_known_vector() -> None:
    losses = np.arange(1.0, 201.0)  # N = 200, alpha = 0.98 -> k = 4: worst four are 200..197
    var, es = var_es(losses, 0.98)
    assert var == 197.0 and es == pytest.approx(198.5)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_alpha_outside_unit_interval_is_refused(alpha: float) -> None:
    with pytest.raises(PricingInputError, match="alpha"):
        ScenarioVarModel(alpha=alpha)


# -- published examples --------------------------------------------------------------------------

# McMillan, Options as a Strategic Investment, ch. 34 (METHODOLOGY A8): S&P future, PSR $10,000,
# arrays in the book's sign convention (losses negative), extreme rows already at 35%.
FUTURE_ARRAY = [0, 0, 3330, 3330, -3330, -3330, 6670, 6670, -6670, -6670, 10000, 10000, -10000, -10000, 7000, -7000]
CALL_ARRAY = [460, -610, 2640, 1730, -1270, -2340, 5210, 4540, -2540, -3430, 8060, 7640, -3380, -3990, 3130, -1500]


def test_mcmillan_span_examples() -> None:
    # The function SpanModel.assemble charges the scan with, on the book's two portfolios.
    arrays = -np.array([FUTURE_ARRAY, CALL_ARRAY], dtype=float)  # to losses-positive
    scan, worst = scan_risk(np.array([[0, 1], [1, -1]], dtype=float) @ arrays)
    assert scan[0] == 3990 and worst[0] + 1 == 14  # long call: book $3,990, scenario 14
    assert scan[1] == 6620 and worst[1] + 1 == 13  # covered write: book $6,620, scenario 13


def test_deribit_api_example_perpetual_vector_and_roll_shock(seed_market: Market) -> None:
    # Deribit private/pme/simulate example (2024-06-17, METHODOLOGY B2/B3): a 0.314538364 BTC
    # perpetual; its published standard vector at -16% and -12% is -0.059912 and -0.042892 BTC.
    p = from_contracts([perpetual()], [0.314538364])
    pnl = reprice(p, seed_market, np.log1p([-0.16, -0.12]), coin=True)
    np.testing.assert_allclose(pnl.coin[0], [-0.059912, -0.042892], atol=5e-7)  # published to 6 dp
    # Roll shock: 0.01 x 0.314538 (perpetual) + 0.01 x 0.001188 (an option expiry inside the
    # 1% floor) = 0.00315726 BTC as published.
    rs = roll_shock(np.array([0.314538364, 0.001188]), np.array([0.0, 0.05]), DeribitParams())
    assert rs == pytest.approx(0.00315726, abs=5e-9)


def test_deribit_perpetual_margin_is_worst_move_plus_roll(seed_market: Market) -> None:
    q = 0.314538364
    r = margin(from_contracts([perpetual()], [q]), seed_market, DeribitModel())
    worst = q * (1 / 0.84 - 1)  # a long inverse perpetual loses most at -16%
    spot = seed_market.spot("BTC")
    assert r.components["worst_case"] == pytest.approx(worst * spot, rel=1e-12)
    assert r.components["roll_shock"] == pytest.approx(0.01 * q * spot, rel=1e-12)
    assert r.components["maintenance"] == pytest.approx(0.8 * r.core, rel=1e-12)


# -- properties ----------------------------------------------------------------------------------


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


# -- the source article's second example (METHODOLOGY F2) ----------------------------------------


def test_article_ratio_spread_pnl_matches_methodology(seed_market: Market, ratio_spread) -> None:
    pnl = reprice(ratio_spread, seed_market, np.log([1.124, 1.59]), horizon_days=2).usd.sum(axis=0)
    # F2: -$4.4k at +12.4% (vol flat); a +59% move is what a $98,500 loss takes. Tolerances: F2
    # quotes these to 2-3 significant figures.
    assert pnl[0] == pytest.approx(-4_400, abs=100)
    assert pnl[1] == pytest.approx(-98_500, rel=0.02)


def test_article_ratio_spread_var_is_far_below_98500(seed_market: Market, ratio_spread) -> None:
    r = margin(ratio_spread, seed_market, HVAR)
    # METHODOLOGY F2 for 1-BTC options: the 99.5% normal move loses $4.4k (vol flat) to $21.6k
    # (+40 vol pts) and fat-tailed 2,500-scenario sets give $17k-25k. The band brackets that
    # range with room for the bundled history's own tails; $98,500 would need a +59% move.
    assert 4_400 <= r.core < 40_000


# -- intraday margin call and bad input ------------------------------------------------------------


def test_intraday_margin_call(seed_market: Market, ratio_spread) -> None:
    im = margin(ratio_spread, seed_market, HVAR).total
    call = intraday_margin_call(ratio_spread, {"USD": im - 1000.0}, seed_market, HVAR)
    assert call.call_usd == pytest.approx(1000.0) and call.deadline == NOW + timedelta(hours=1)
    ok = intraday_margin_call(ratio_spread, {"BTC": 2 * im / seed_market.spot("BTC")}, seed_market, HVAR, deadline_minutes=30)
    assert not ok.called and ok.deadline is None and ok.excess_usd == pytest.approx(im)


def test_expired_option_is_refused(seed_market: Market) -> None:
    old = from_contracts([OptionContract("BTC", NOW - timedelta(days=1), 50_000.0, 1)], [1])
    with pytest.raises(PricingInputError, match="expired"):
        margin(old, seed_market, HVAR)


def test_underlying_without_market_or_history_is_refused(seed_market: Market) -> None:
    sol = from_contracts([OptionContract("SOL", EXPIRY, 150.0, 1)], [1])
    with pytest.raises(PricingInputError, match="underlying"):
        margin(sol, seed_market, HVAR)


def test_portfolio_table_errors_name_row_and_column() -> None:
    with pytest.raises(PricingInputError, match=r"row 3.*instrument 'BTC-XX'"):
        portfolio_from_rows([{"instrument": "BTC-PERPETUAL", "quantity": 1}, {"instrument": "BTC-XX", "quantity": 1}])
    with pytest.raises(PricingInputError, match=r"row 2, column quantity"):
        portfolio_from_rows([{"Instrument": "BTC-27DEC26-60000-C", "Quantity": "ten"}])
    p = portfolio_from_rows(
        [{"underlying": "btc", "type": "Put", "expiry": "2026-12-25", "strike": 50000, "quantity": -2, "settle": "linear"}]
    )
    assert p.names == ("BTC-25DEC26-50000-P",) and not p.inverse[0] and p.quantity[0] == -2


def _seed():
    from pricing.surface import flat_surface

    market = Market(NOW, {"BTC": flat_surface("BTC", 52_000.0, 0.65)})
    base = from_contracts(
        [OptionContract("BTC", EXPIRY, 50_000.0, 1, "linear"), OptionContract("BTC", EXPIRY, 55_000.0, 1, "linear")], [10, -15]
    )
    return market, base


def test_scenario_params_reach_the_model(seed_market: Market, ratio_spread) -> None:
    layout = hvar_model(lookback_years=2.0).prepare(ratio_spread, seed_market)
    assert int((~layout.stressed).sum()) == 730 - 2 + 1  # 731 closes, n = 730, N = n - h + 1
