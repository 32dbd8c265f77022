"""XVA adjustments against hand calculations (METHODOLOGY D3-D5, F1) and quote properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.cli.examples.xva import article_quote
from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.margin.addons import AddOnParams
from pricing.margin.var import hvar_model
from pricing.portfolio import from_contracts
from pricing.xva.adjustments import (
    ccva,
    fva_im_lifetime,
    fva_im_simple,
    k_cm,
    kva_lifetime,
    kva_simple,
    mva_vm_settlement_lag,
    saccr_option,
)
from pricing.xva.profiles import grid, profile
from pricing.xva.quote import QuoteParams, TradeRisk, quote_book, two_way
from tests.conftest import EXPIRY


def test_article_worked_example_every_line() -> None:
    a = article_quote()
    assert a["delta_im"] == 950_000  # 26,150,000 - 25,200,000
    assert round(a["FVA"]) == 12_500  # 950,000 x (4.763% + 0.50%) x 90/360 = 12,499.63
    assert a["KVA"] == pytest.approx(3_200, abs=1e-9)  # 20M x 2% x 8% x 10% x 1 (inputs stated in F1)
    assert a["MVA"] + a["CCVA"] == pytest.approx(1_100, abs=1e-9)
    assert a["CCVA"] == pytest.approx(285, abs=1e-9)  # 950,000 x 0.25 x 0.20% x 60%
    assert round(a["total_adjustments"]) == 16_800
    assert a["profit_margin"] == 2_000
    assert a["quote"] == 568_800


def test_fva_lifetime_equals_simple_form_for_flat_profile_and_zero_discount() -> None:
    t = grid(90 / 365, 7.0)
    life = fva_im_lifetime(profile(950_000, t), t, 0.05263, 0.0, 0.0)
    assert life == pytest.approx(fva_im_simple(950_000, 0.05263, 0.0, 90), rel=1e-12)


@settings(max_examples=30)
@given(st.floats(-5e6, 5e6), st.floats(0.0, 0.05), st.floats(0.1, 3.0))
def test_fva_is_linear_in_delta_im_and_spread(dim: float, spread: float, k: float) -> None:
    t = grid(0.5, 7.0)
    f = lambda d, s: fva_im_lifetime(profile(d, t), t, 0.04 + s, 0.04, 0.03)  # noqa: E731
    assert f(0.0, spread) == 0.0
    assert f(k * dim, spread) == pytest.approx(k * f(dim, spread), rel=1e-9, abs=1e-9)
    assert f(dim, k * spread / 3) == pytest.approx(k / 3 * f(dim, spread), rel=1e-9, abs=1e-9)


def test_sqrt_runoff_profile_costs_less_than_flat() -> None:
    t = grid(1.0)
    assert fva_im_lifetime(profile(1e6, t, "sqrt"), t, 0.05, 0.0) < fva_im_lifetime(profile(1e6, t), t, 0.05, 0.0)


def test_mva_settlement_lag_hand_calculation() -> None:
    # 10 days, |delta| 100 BTC, S 50,000, vol 50%, spread 50 bp, lag 1 day, DF = 1:
    # 10 x 0.005 x (1/365) x 0.8 x 100 x 50,000 x 0.5 x sqrt(1/365)
    expected = 10 * 0.005 / 365 * 0.8 * 100 * 50_000 * 0.5 * np.sqrt(1 / 365)
    assert mva_vm_settlement_lag(100, 50_000, 0.5, 10 / 365, 0.005) == pytest.approx(expected, rel=1e-12)


def test_saccr_option_hand_calculation() -> None:
    # Bought ATM call, 1 BTC at 50,000, T = 0.25, margined MPOR 5 bd, no collateral:
    # d = 0.5 x 1.2^2 x 0.25 / (1.2 x 0.5) = 0.3; delta = N(0.3); MF = 1.5 sqrt(5/250).
    r = saccr_option(1, 1, 50_000, 50_000, 1.0, 0.25)
    from scipy.stats import norm

    delta = norm.cdf(0.3)
    addon = 0.32 * delta * 50_000 * 1.5 * np.sqrt(5 / 250)
    assert r.supervisory_delta == pytest.approx(delta, rel=1e-12)
    assert r.addon == pytest.approx(addon, rel=1e-12)
    assert r.ead == pytest.approx(1.4 * addon, rel=1e-12)  # RC = 0, multiplier = 1
    sold_put = saccr_option(-1, -1, 50_000, 50_000, 1.0, 0.25)
    assert sold_put.supervisory_delta == pytest.approx(norm.cdf(-0.3), rel=1e-12)
    with_im = saccr_option(1, 1, 50_000, 50_000, 1.0, 0.25, posted_im_non_br=10_000)
    assert with_im.replacement_cost == 10_000 and with_im.ead == pytest.approx(1.4 * (10_000 + addon))


def test_kva_forms() -> None:
    assert kva_simple(80_000_000, 0.02, 0.08, 0.10, 0.25) == pytest.approx(3_200)  # F1: tau = 0.25 needs 8x notional
    t = grid(1.0)
    assert kva_lifetime(np.full(t.size, 1e6), t, 0.02, 0.08, 0.10) == pytest.approx(1e6 * 0.02 * 0.08 * 0.10, rel=1e-12)
    assert k_cm(1e6, 1e5, 5e5, 4.5e6) == pytest.approx(max(1e6 * 1e5 / 5e6, 0.0016 * 1e5))


def test_ccva_hand_calculation() -> None:
    t = np.array([0.0, 0.25])
    pd = 1 - (1 - 0.01) ** 0.25
    assert ccva(np.array([0.0, 1e6]), t, 0.01, 0.6) == pytest.approx(0.6 * pd * 1e6, rel=1e-12)


def test_percent_rates_are_refused_with_a_hint() -> None:
    with pytest.raises(PricingInputError, match=r"percentage.*0.0526"):
        fva_im_simple(1e6, 5.26)
    with pytest.raises(PricingInputError, match="tenor"):
        grid(-1.0)
    with pytest.raises(PricingInputError, match="spread_policy"):
        QuoteParams(spread_policy="huge")


def test_lower_im_gives_a_tighter_quote() -> None:
    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 0.25, ((1, 50_000.0, 10.0),))
    p = QuoteParams(sofr=0.04)
    bid_up, ask_up = two_way(100_000.0, 500_000.0, 500_000.0, risk, p)
    bid_dn, ask_dn = two_way(100_000.0, -500_000.0, -500_000.0, risk, p)
    assert ask_dn.price < ask_up.price and bid_dn.price > bid_up.price
    assert ask_up.price > 100_000 > bid_up.price
    assert ask_dn.fva_im < 0  # a trade that frees IM earns funding back


def test_quote_book_batch_and_accept(seed_market) -> None:
    name = "BTC-20SEP26-55000-C"
    rfqs = [
        {"instrument": name, "side": "buy", "quantity": 15, "settle": "linear"},
        {"legs": "BTC-20SEP26-50000-C:1;BTC-20SEP26-55000-C:-1.5", "side": "two-way", "quantity": 10, "settle": "linear"},
        {"instrument": name, "side": "sell", "quantity": 15, "settle": "linear"},
    ]
    book = from_contracts([OptionContract("BTC", EXPIRY, 50_000.0, 1, "linear")], [10])
    rows = quote_book(rfqs, book, seed_market, hvar_model(), QuoteParams(sofr=0.04, tick=1.0))
    assert [r["side"] for r in rows] == ["buy", "two-way", "sell"]
    assert "ask_price" in rows[0] and "bid_price" not in rows[0]
    assert rows[1]["bid_price"] < rows[1]["base"] < rows[1]["ask_price"]
    assert rows[2]["bid_price"] < rows[2]["base"]
    no_model_risk = AddOnParams(model_risk_rate=0.0)  # held at the book's backtest state in batch mode
    accepted = quote_book(rfqs, book, seed_market, hvar_model(), QuoteParams(sofr=0.04, tick=1.0), no_model_risk, accept=True)
    # RFQ 1 is filled (the dealer sells 15 C55k), RFQ 2 is two-way (not filled); buying the 15
    # back in RFQ 3 exactly undoes RFQ 1's IM change.
    assert accepted[2]["delta_im_bid"] == pytest.approx(-accepted[0]["delta_im_ask"], rel=1e-9)
    assert accepted[0]["delta_im_ask"] == pytest.approx(rows[0]["delta_im_ask"], rel=1e-9)
    with pytest.raises(PricingInputError, match="side"):
        quote_book([{"instrument": name, "side": "maybe", "quantity": 1}], book, seed_market, hvar_model())


def test_vega_spread_is_in_vol_points() -> None:
    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 0.25, ((1, 50_000.0, 10.0),))
    from pricing.xva.quote import spread_amount

    # 0.5 vol point on a vega of 5,000 USD per 1.00 of vol = 25 USD.
    assert spread_amount(risk, QuoteParams(spread_policy="vega", spread_value=0.5)) == pytest.approx(25.0)
    assert spread_amount(risk, QuoteParams(spread_policy="fixed", spread_value=10.0, min_spread=40.0)) == 40.0
