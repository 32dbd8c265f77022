"""Values as the market values them, premium funding at the spread, incremental default-fund capital
(issue 29 items 2 and 4; docs/methodology.md §D4, §D6).

Sources: Deribit marks inverse options in coin with undiscounted Black-76 on the expiry's
forward (``mark_price``, reproduced by tests/reference/test_market_data.py) and a coin is worth
the index (``index_price``) today; ORE's FVA is funded at the spreads over OIS, not at the whole
funding rate (OpenSourceRisk Engine, Docs/UserGuide/methods/xva.tex, docs/methodology.md §D2);
Basel CRE54.32 (K_CM of a qualifying CCP, floor 8% x 2% x DF_i) and CRE54 for a non-qualifying
CCP's default fund (risk weight 1250%; US 12 CFR 217.133, docs/methodology.md §D4).
"""

from __future__ import annotations

import numpy as np
import pytest

from pricing.chain import load_bundled_chain
from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import margin
from pricing.margin.span import SpanModel
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.positions import position_state
from pricing.surface import flat_surface
from pricing.xva.capital import default_fund_after, k_cm, k_cm_incremental
from pricing.xva.params import QuoteParams
from pricing.xva.profiles import grid
from pricing.xva.quote import quote_book


def _row_market(chain, i: int) -> Market:
    """A flat market at row i's mark_iv whose forward at row i's expiry is Deribit's underlying_price."""
    t = float(chain.t_years[i])
    carry = float(np.log(chain.forward[i] / chain.spot) / t)
    return Market(
        chain.as_of, {chain.underlying: flat_surface(chain.underlying, chain.spot, float(chain.mark_iv[i]), carry=carry)}
    )


@pytest.mark.parametrize("underlying,median_tol", [("BTC", 1e-3), ("ETH", 1.5e-3)])
def test_coin_option_usd_value_is_mark_times_index(underlying: str, median_tol: float) -> None:
    """value_usd of a coin-settled option = Deribit's mark (coin) x the index, not mark x forward.

    Every quoted row, each on a flat market at its own mark_iv whose forward at its expiry is
    Deribit's underlying_price. Tolerance: the median relative error within which Black-76
    reproduces Deribit's marks in these files (tests/reference/test_market_data.py: 1e-3 BTC,
    1.5e-3 ETH, the summary and ticker calls being seconds apart). The forward value
    mark x underlying_price misses by F/S - 1 on each row, more than the tolerance in the median.
    """
    chain = load_bundled_chain(underlying, "2026-08-21")
    contracts = chain.contracts()
    rows = np.flatnonzero((chain.mark_price > 0) & (chain.t_years > 0))
    value = np.array(
        [position_state(from_contracts([contracts[i]], [1.0]), _row_market(chain, int(i))).value_usd[0] for i in rows]
    )
    today = chain.mark_price[rows] * chain.spot
    forward_value = chain.mark_price[rows] * chain.forward[rows]
    assert np.median(np.abs(value / today - 1.0)) <= median_tol
    assert np.median(np.abs(value / forward_value - 1.0)) > median_tol


def test_span_net_option_value_equals_its_risk_array_base() -> None:
    """SPAN values a coin option once: its NOV (credited) equals the value its risk arrays start
    from, so a long option alone, unchanged in every scenario, needs no margin. A flat market
    with carry (F/S = 1.03 at expiry) makes the forward value 3% larger than the value today."""
    t_exp = 0.25
    market = Market(
        load_bundled_chain("BTC", "2026-08-21").as_of,
        {"BTC": flat_surface("BTC", 60_000.0, 0.6, carry=np.log(1.03) / t_exp)},
    )
    expiry = market.as_of + np.timedelta64(round(t_exp * 365 * 86400), "s").item()
    long_call = from_contracts([OptionContract("BTC", expiry, 65_000.0, 1, "inverse")], [10.0])
    st = position_state(long_call, market)
    res = margin(long_call, market, SpanModel())
    assert res.components["net_option_value"] == pytest.approx(st.value_usd.sum(), rel=1e-12)
    assert res.total <= st.value_usd.sum()


def test_premium_is_funded_at_the_spread_not_at_sofr_plus_spread() -> None:
    """10 x BTC-30OCT26-85000-C USD-settled, flat 55%, IM funding off (r_IM = r_F), no quote spread:
    the FVA is the premium carried at the funding spread over SOFR only (ORE: FVA at the spreads
    over OIS), Σ_i V_0 s Δ_i^{ACT/360} DF_i on the weekly grid, computed here by hand, on the bid
    (the dealer pays the premium); the ask receives it and earns no spread. At SOFR + spread it was
    (SOFR + s)/s = 8.3 times larger (the issue's ±383.26 vs ±46.18)."""
    chain = load_bundled_chain("BTC", "2026-08-21")
    market = Market(chain.as_of, {"BTC": flat_surface("BTC", chain.spot, 0.55)})
    sofr, s = 0.0365, 0.005
    p = QuoteParams(
        sofr=sofr,
        funding_spread=s,
        im_rate=sofr + s,
        spread_value=0.0,
        borrow_spread=0.0,
        kva_method="simple",
        risk_weight=0.0,
        pd_annual=0.0,
    )
    row = {"instrument": "BTC-30OCT26-85000-C", "settle": "linear", "side": "two-way", "quantity": 10}
    q = quote_book([row], None, market, DeribitModel(), p)[0]
    legs = from_contracts(
        [
            OptionContract(
                "BTC", np.datetime64("2026-10-30T08:00").item().replace(tzinfo=chain.as_of.tzinfo), 85_000.0, 1, "linear"
            )
        ],
        [10.0],
    )
    st = position_state(legs, market)
    t = float(st.t_years[0])
    v0 = float(st.value_usd[0]) * np.exp(-sofr * t * 365 / 360)
    g = grid(t, 7.0)
    by_hand = v0 * s * float(np.sum(np.diff(g) * 365 / 360 * np.exp(-sofr * g[1:])))
    assert q["base"] == pytest.approx(v0, rel=1e-12)
    assert q["bid_FVA"] == pytest.approx(by_hand, rel=1e-12)
    # Premium received is placed at SOFR and earns no spread: no funding benefit on the ask.
    assert q["ask_FVA"] == 0.0
    assert 40 < by_hand < 50  # the order: 46.18 on its market (here a flat 55%)


def test_k_cm_is_charged_incrementally_per_cre54() -> None:
    """K_CM(after) − K_CM(before), with the contribution shared pro rata to IM (the stated rule).

    Member: DF_i 1M of a 100M fund (1%), so 1% of the venue's 1bn IM (10M); a trade adds 10M IM:
    DF_i' = 100M x 20M / 1,010M = 1,980,198.02. QCCP with K_CCP 5M, DF_CCP 20M:
    slope = max(5M / 120M, 0.16%) = 4.1667% (CRE54.32), ΔK = 4.1667% x 980,198.02 = 40,841.58.
    The old share K_CM x ΔIM / IM(after) gave the first trade on an empty book all of K_CM."""
    dim = np.array([10e6])
    after = default_fund_after(dim, 1e6, 1e8, 1e9)
    assert after[0] == pytest.approx(1e8 * 2e7 / 1.01e9, rel=1e-12)
    inc = k_cm_incremental(dim, df_member=1e6, df_all_members=1e8, im_ccp=1e9, qualifying=True, k_ccp=5e6, df_ccp=2e7)
    by_formula = k_cm(5e6, after[0], 2e7, 1e8) - k_cm(5e6, 1e6, 2e7, 1e8)
    assert inc[0] == pytest.approx(by_formula, rel=1e-12)
    assert inc[0] == pytest.approx(5e6 / 1.2e8 * (after[0] - 1e6), rel=1e-12)
    # The floor 8% x 2% x DF_i binds when K_CCP is small: slope 0.16%.
    low = k_cm_incremental(dim, df_member=1e6, df_all_members=1e8, im_ccp=1e9, qualifying=True, k_ccp=1e3, df_ccp=2e7)
    assert low[0] == pytest.approx(0.0016 * (after[0] - 1e6), rel=1e-12)
    # No IM change, no capital; IM released, capital released.
    zero_and_back = k_cm_incremental(
        np.array([0.0, -5e6]), df_member=1e6, df_all_members=1e8, im_ccp=1e9, qualifying=True, k_ccp=5e6, df_ccp=2e7
    )
    assert zero_and_back[0] == 0.0 and zero_and_back[1] < 0


def test_default_fund_at_a_non_qualifying_venue_is_capitalised_at_1250_percent() -> None:
    """CRE54 (non-qualifying CCP): RW 1250% on the contribution, so capital = 8% x 12.5 = 100% of ΔDF_i."""
    dim = np.array([10e6])
    after = default_fund_after(dim, 1e6, 1e8, 1e9)
    inc = k_cm_incremental(dim, df_member=1e6, df_all_members=1e8, im_ccp=1e9, qualifying=False)
    assert inc[0] == pytest.approx(12.5 * 0.08 * (after[0] - 1e6), rel=1e-12)
    # In a quote: the non-QCCP preset charges it through the KVA (CoC 10%, over the trade's life).
    risk_kw = dict(sofr=0.0, im_bankruptcy_remote=True, pd_annual=0.0, borrow_spread=0.0, funding_spread=0.0)
    funds = dict(default_fund_usd=1e6, df_members_usd=1e8, im_ccp_usd=1e9)
    chain = load_bundled_chain("BTC", "2026-08-21")
    market = Market(chain.as_of, {"BTC": flat_surface("BTC", chain.spot, 0.55)})
    row = {"instrument": "BTC-30OCT26-85000-C", "side": "two-way", "quantity": 10}
    with_df = quote_book([row], None, market, DeribitModel(), QuoteParams(venue="non_qccp", **risk_kw, **funds))[0]
    without = quote_book([row], None, market, DeribitModel(), QuoteParams(venue="non_qccp", **risk_kw))[0]
    dim_ask = with_df["delta_im_ask"]
    expected = float(k_cm_incremental(np.array([dim_ask]), df_member=1e6, df_all_members=1e8, im_ccp=1e9, qualifying=False)[0])
    t = position_state(
        from_contracts(
            [
                OptionContract(
                    "BTC", np.datetime64("2026-10-30T08:00").item().replace(tzinfo=chain.as_of.tzinfo), 85_000.0, 1, "inverse"
                )
            ],
            [1.0],
        ),
        market,
    ).t_years[0]
    assert with_df["ask_KVA"] - without["ask_KVA"] == pytest.approx(0.10 * expected * t, rel=1e-9)
    with pytest.raises(PricingInputError, match="im_ccp_usd"):
        QuoteParams(venue="non_qccp", default_fund_usd=1e6)


def test_ccva_counts_the_change_to_the_contribution_not_all_of_it() -> None:
    """CCVA's default-fund term is the contribution the trade adds, ΔDF_i = DF_i' − DF_i (methodology §D4),
    so a trade that adds no IM adds no default-fund exposure; LGD x PD x ΔDF over the life otherwise."""
    from pricing.xva.risks import TradeRisk
    from pricing.xva.single import adjustments

    risk = TradeRisk(100_000.0, 5_000.0, 10.0, 50_000.0, 0.6, 1.0)
    kw = dict(sofr=0.0, im_bankruptcy_remote=True, default_fund_usd=1e6, df_members_usd=1e8, im_ccp_usd=1e9)
    p = QuoteParams(**kw)
    assert adjustments(0.0, risk, p, "ask")["ccva"] == 0.0
    dim = 10e6
    ddf = float(default_fund_after(np.array([dim]), 1e6, 1e8, 1e9)[0]) - 1e6
    pd = 1 - (1 - 0.0005) ** 1.0  # QCCP 0.05%/yr over the 1-year life, LGD 40% (methodology §D3)
    assert adjustments(dim, risk, p, "ask")["ccva"] == pytest.approx(0.4 * pd * ddf, rel=1e-9)
