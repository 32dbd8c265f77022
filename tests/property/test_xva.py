"""Properties of the XVA and the quote assembly: linearity, profile ordering, tighter quotes for lower
IM, batch vs accept mode, the vega spread's units.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.margin.addons import AddOnParams
from pricing.margin.var import hvar_model
from pricing.portfolio import from_contracts
from pricing.xva.funding import fva_im_lifetime, fva_im_simple
from pricing.xva.params import QuoteParams
from pricing.xva.profiles import grid, profile
from pricing.xva.quote import quote_book
from pricing.xva.risks import BookCapital, TradeRisk
from pricing.xva.saccr import SaccrLegs, saccr_netting_set
from pricing.xva.single import incremental_ead, two_way
from tests.conftest import EXPIRY


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


def _call_legs() -> SaccrLegs:
    return SaccrLegs(("BTC",), np.array([1]), np.array([50_000.0]), np.array([50_000.0]), np.array([10.0]), np.array([0.25]))


def test_lower_im_gives_a_tighter_quote() -> None:
    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 0.25, _call_legs())
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
    # A two-way quote is never crossed. (The ask may sit below the mid when selling frees the
    # book's IM and brings in premium that is funded at r_F: both are real funding benefits.)
    assert rows[1]["bid_price"] < rows[1]["ask_price"]
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
    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 0.25, _call_legs())
    from pricing.xva.single import spread_amount

    # 0.5 vol point on a vega of 5,000 USD per 1.00 of vol = 25 USD.
    assert spread_amount(risk, QuoteParams(spread_policy="vega", spread_value=0.5)) == pytest.approx(25.0)
    assert spread_amount(risk, QuoteParams(spread_policy="fixed", spread_value=10.0, min_spread=40.0)) == 40.0


def test_trade_capital_is_incremental_and_side_aware() -> None:
    """KVA exposure = EAD(book + trade) - EAD(book) on the dealer's side (Basel CRE52): selling the
    calls the book is long of lowers the exposure; buying more raises it."""
    book_legs = SaccrLegs(("BTC",), np.array([1]), np.array([50_000.0]), np.array([50_000.0]), np.array([20.0]), np.array([0.25]))
    book = BookCapital(book_legs, mtm=150_000.0, im_posted=0.0)
    risk = TradeRisk(75_000.0, 5_000.0, 5.0, 50_000.0, 0.6, 0.25, _call_legs())
    p = QuoteParams(sofr=0.04, im_bankruptcy_remote=True)
    assert incremental_ead(0.0, risk, p, "ask", book) < 0 < incremental_ead(0.0, risk, p, "bid", book)
    empty = incremental_ead(0.0, risk, p, "bid")
    assert empty == pytest.approx(saccr_netting_set(risk.legs, mtm=risk.premium).ead, rel=1e-12)


def test_premium_cash_is_funded_on_each_side() -> None:
    """The funding leg funds the premium the dealer pays (bid), so a model that credits option
    value in IM (SPAN's NOV) and one that does not are funded consistently; premium the dealer
    receives (ask) is placed at its discount curve and earns no spread (docs/methodology.md §D6)."""
    from pricing.xva.single import adjustments

    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 0.25, _call_legs())
    p = QuoteParams(sofr=0.0, funding_spread=0.01)  # r_F = 1%, no discounting
    t = grid(0.25)
    premium_funding = fva_im_lifetime(np.full(t.size, 100_000.0), t, 0.01, 0.0)
    assert adjustments(0.0, risk, p, "bid")["fva_im"] == pytest.approx(premium_funding, rel=1e-12)
    assert adjustments(0.0, risk, p, "ask")["fva_im"] == 0.0
    # SPAN-style: the long's value credited in ΔIM (−100,000) and its premium funded: they cancel.
    assert adjustments(-100_000.0, risk, p, "bid")["fva_im"] == pytest.approx(0.0, abs=1e-9)


def test_replica_profile_starts_at_todays_dim_and_ends_with_the_trade(seed_market) -> None:
    """The replica IM profile (the venue's model re-run on the aged book, today's scenarios) equals
    today's ΔIM at t = 0, is 0 once the trade has expired, and feeds the quote's FVA."""
    from pricing.margin.engine import marginal_im
    from pricing.margin.span import SpanModel
    from pricing.xva.replica_profile import replica_profiles
    from pricing.xva.rfq import parse_rfqs

    rfq = [{"instrument": "BTC-20SEP26-55000-C", "side": "two-way", "quantity": 10, "settle": "linear"}]
    trades = parse_rfqs(rfq, seed_market).trades
    cands, groups = trades.legs, np.zeros(len(trades.legs), np.int64)
    book = from_contracts([OptionContract("BTC", EXPIRY, 50_000.0, 1, "linear")], [10])
    times = np.array([0.0, 10 / 365, 40 / 365])  # the trade expires on day 30
    buy, sell = replica_profiles(book, cands, groups, seed_market, SpanModel(), times)
    today = marginal_im(book, cands, seed_market, SpanModel(), groups=groups)
    assert buy[0, 0] == pytest.approx(today.delta_buy[0], rel=1e-12)
    assert sell[0, 0] == pytest.approx(today.delta_sell[0], rel=1e-12)
    assert buy[0, 2] == 0.0 and sell[0, 2] == 0.0
    flat = quote_book(rfq, book, seed_market, SpanModel(), QuoteParams(sofr=0.04))[0]
    replica = quote_book(rfq, book, seed_market, SpanModel(), QuoteParams(sofr=0.04, im_profile="replica"))[0]
    assert replica["ask_FVA"] != flat["ask_FVA"] and replica["delta_im_ask"] == flat["delta_im_ask"]


def test_venue_presets_capitalise_the_exposure_as_the_rules_say() -> None:
    """QCCP: 2% RW and no CVA capital (CRE54); a non-qualifying venue: 100% RW plus reduced BA-CVA
    (MAR50); an unknown preset names the allowed ones; K_CM enters only with a QCCP's funds given."""
    from pricing.xva.capital import ba_cva_per_ead
    from pricing.xva.single import adjustments

    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 1.0, _call_legs())
    base = dict(sofr=0.0, im_bankruptcy_remote=True)
    q = adjustments(0.0, risk, QuoteParams(**base), "bid")["kva"]
    n = adjustments(0.0, risk, QuoteParams(venue="non_qccp", **base), "bid")["kva"]
    ccr_only = adjustments(0.0, risk, QuoteParams(risk_weight=1.0, **base), "bid")["kva"]
    assert q == pytest.approx(ccr_only * 0.02, rel=1e-12)  # the same EAD, 2% vs 100%
    cva = n - ccr_only
    assert cva == pytest.approx(ccr_only / (0.08 * 1.0) * ba_cva_per_ead(1.0, 0.12), rel=1e-9)
    with pytest.raises(PricingInputError, match=r"venue.*qccp.*non_qccp"):
        QuoteParams(venue="exchange")
    funds = dict(kccp_usd=1e6, default_fund_usd=1e5, df_ccp_usd=5e5, df_members_usd=4.5e6, im_ccp_usd=1e8)
    book = BookCapital(im_posted=1_000_000.0)
    with_kcm = adjustments(100_000.0, risk, QuoteParams(**base, **funds), "bid", book)["kva"]
    without = adjustments(100_000.0, risk, QuoteParams(**base), "bid", book)["kva"]
    assert with_kcm > without
    # A trade that adds no IM adds no default-fund capital (K_CM after − before = 0).
    assert adjustments(0.0, risk, QuoteParams(**base, **funds), "bid", book)["kva"] == pytest.approx(q, rel=1e-12)
    with pytest.raises(PricingInputError, match=r"im_ccp_usd"):
        QuoteParams(kccp_usd=1e6, default_fund_usd=1e5, df_members_usd=4.5e6)


def test_sco60_group_2b_raises_the_kva_of_a_hedged_structure() -> None:
    """Group 2b nets nothing and charges half the gross notional, so a call spread's KVA rises
    above Group 2a's; a group outside {2a, 2b} is refused naming the allowed values."""
    from pricing.xva.single import adjustments

    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 1.0, _call_legs())
    base = dict(sofr=0.0, im_bankruptcy_remote=True)
    two_a = adjustments(0.0, risk, QuoteParams(**base), "bid")["kva"]
    two_b = adjustments(0.0, risk, QuoteParams(sco60_group="2b", **base), "bid")["kva"]
    assert two_b > two_a > 0
    with pytest.raises(PricingInputError, match=r"sco60_group.*2a.*2b"):
        QuoteParams(sco60_group="1b")


@settings(max_examples=40)
@given(st.lists(st.floats(1e-4, 30.0), min_size=1, max_size=12), st.sampled_from([1.0, 7.0, 30.5]))
def test_grid_matrix_rows_are_each_trades_own_grid(tenors: list[float], step: float) -> None:
    """Row t of the common grid is grid(T_t) then T_t repeated: the padding adds zero-width periods."""
    from pricing.xva.profiles import grid_matrix

    m = grid_matrix(np.array(tenors), step)
    for row, t in zip(m, tenors):
        own = grid(t, step)
        assert np.array_equal(row[: own.size], own) and np.all(row[own.size :] == t)


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(st.floats(-5e6, 5e6), st.floats(1e-3, 12.0), st.floats(0.0, 0.1), st.floats(0.0, 0.02)), min_size=1, max_size=10
    ),
    st.sampled_from(["flat", "sqrt"]),
)
def test_lifetime_xvas_of_many_trades_equal_each_trades_own(rows: list[tuple[float, float, float, float]], shape: str) -> None:
    """The blocked batch forms give, to the bit, what the one-trade forms give on each trade's own grid:
    the periods are summed in order and padding periods have zero width."""
    from pricing.xva.ccva import ccva, ccva_lifetimes
    from pricing.xva.funding import fva_im_lifetimes

    dim, t, rf, rim = (np.array(c) for c in zip(*rows))
    batch = fva_im_lifetimes(dim, t, rf, rim, profile=shape, discount_rate=0.03)
    cc = ccva_lifetimes(np.abs(dim), t, 0.01, 0.6, default_fund=1e5, profile=shape, discount_rate=0.03)
    for i in range(len(rows)):
        times = grid(t[i], 7.0)
        assert batch[i] == fva_im_lifetime(profile(dim[i], times, shape), times, rf[i], rim[i], 0.03)
        assert cc[i] == ccva(profile(abs(dim[i]), times, shape), times, 0.01, 0.6, default_fund=1e5, discount_rate=0.03)


@settings(max_examples=40)
@given(st.lists(st.floats(1e-3, 50.0), min_size=1, max_size=300), st.integers(1, 5_000))
def test_tenor_blocks_cover_every_trade_once_within_the_budget(tenors: list[float], budget: int) -> None:
    from pricing.xva.profiles import grid_matrix, tenor_blocks

    t = np.array(tenors)
    blocks = tenor_blocks(t, 7.0, max_cells=budget)
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(t.size))
    for idx in blocks:
        assert idx.size == 1 or grid_matrix(t[idx], 7.0).size <= budget


def test_mva_closed_form_equals_the_daily_sum() -> None:
    """Σ_j e^{-r j/365} in closed form equals the day-by-day sum (the formula of docs/methodology.md §D3)."""
    from pricing.xva.funding import mva_vm_batch

    t = np.array([1 / 365, 0.25, 1.0, 7.3])
    got = mva_vm_batch(np.full(4, 3.0), np.full(4, 50_000.0), np.full(4, 0.7), t, 0.004, lag_days=2.0, discount_rate=0.05)
    flow = 0.8 * 3.0 * 50_000.0 * 0.7 * np.sqrt(1 / 365)
    want = [0.004 * 2.0 / 360 * flow * np.exp(-0.05 * np.arange(1, int(np.ceil(x * 365)) + 1) / 365).sum() for x in t]
    assert got == pytest.approx(want, rel=1e-12)
