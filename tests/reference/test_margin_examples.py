"""Margin models against published examples and hand calculations: McMillan's SPAN arrays,
Deribit's API example, the source article's ratio spread (docs/methodology.md §F2), VaR/ES on a known vector.
"""

from __future__ import annotations

import numpy as np
import pytest

from pricing.instruments import OptionContract
from pricing.margin.deribit import DeribitModel, DeribitParams, roll_shock
from pricing.margin.engine import margin
from pricing.margin.quantile import tail_count, var_es
from pricing.margin.span import SpanModel, scan_risk
from pricing.margin.var import hvar_model
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.revaluation import reprice
from tests.conftest import EXPIRY, perpetual

HVAR = hvar_model()


# McMillan, Options as a Strategic Investment, ch. 34 (docs/methodology.md §A8): S&P future, PSR $10,000,
# arrays in the book's sign convention (losses negative), extreme rows already at 35%.
FUTURE_ARRAY = [0, 0, 3330, 3330, -3330, -3330, 6670, 6670, -6670, -6670, 10000, 10000, -10000, -10000, 7000, -7000]


CALL_ARRAY = [460, -610, 2640, 1730, -1270, -2340, 5210, 4540, -2540, -3430, 8060, 7640, -3380, -3990, 3130, -1500]


def test_tail_count_rule() -> None:
    assert tail_count(1824, 0.995) == 9
    assert tail_count(2500, 0.995) == 12
    assert tail_count(2000, 0.995) == 10  # exactly 10, not 9 from 9.999999
    assert tail_count(100, 0.999) == 1


def test_var_es_on_a_known_vector() -> None:
    losses = np.arange(1.0, 201.0)  # N = 200, alpha = 0.98 -> k = 4: worst four are 200..197
    var, es = var_es(losses, 0.98)
    assert var == 197.0 and es == pytest.approx(198.5)


def test_mcmillan_span_examples() -> None:
    # The function SpanModel.assemble charges the scan with, on the book's two portfolios.
    arrays = -np.array([FUTURE_ARRAY, CALL_ARRAY], dtype=float)  # to losses-positive
    scan, worst = scan_risk(np.array([[0, 1], [1, -1]], dtype=float) @ arrays)
    assert scan[0] == 3990 and worst[0] + 1 == 14  # long call: book $3,990, scenario 14
    assert scan[1] == 6620 and worst[1] + 1 == 13  # covered write: book $6,620, scenario 13


def test_deribit_api_example_perpetual_vector_and_roll_shock(seed_market: Market) -> None:
    # Deribit private/pme/simulate example (2024-06-17, docs/methodology.md §B2/B3): a 0.314538364 BTC
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


def test_article_ratio_spread_pnl_matches_methodology(seed_market: Market, ratio_spread) -> None:
    pnl = reprice(ratio_spread, seed_market, np.log([1.124, 1.59]), horizon_days=2).usd.sum(axis=0)
    # F2: -$4.4k at +12.4% (vol flat); a +59% move is what a $98,500 loss takes. Tolerances: F2
    # quotes these to 2-3 significant figures.
    assert pnl[0] == pytest.approx(-4_400, abs=100)
    assert pnl[1] == pytest.approx(-98_500, rel=0.02)


def test_article_ratio_spread_var_is_far_below_98500(seed_market: Market, ratio_spread) -> None:
    r = margin(ratio_spread, seed_market, HVAR)
    # docs/methodology.md §F2 for 1-BTC options: the 99.5% normal move loses $4.4k (vol flat) to $21.6k
    # (+40 vol pts) and fat-tailed 2,500-scenario sets give $17k-25k. The band brackets that
    # range with room for the bundled history's own tails; $98,500 would need a +59% move.
    assert 4_400 <= r.core < 40_000


def test_seed_ratio_spread_deribit_worst_cell_in_the_usd_pool(seed_market: Market, ratio_spread) -> None:
    """The second seed's USD-settled ratio spread (+10 C50k / -15 C55k, 30 days, flat 65% vol) under
    Deribit PM: worst standard cell -24,049 USD (+16%, vol up, no time decay). USD-settled options
    are margined in their own USD pool, so the loss is not converted at the shocked spot (which gave
    20,732 before). Tolerance: the seed prints whole dollars."""
    r = margin(ratio_spread, seed_market, DeribitModel())
    assert r.components["worst_case"] == pytest.approx(24_049, abs=0.5)
    assert r.apc_floor == 0.0


def test_span_short_option_minimum_is_a_share_of_the_outright_margin_of_the_larger_side(seed_market: Market) -> None:
    """CME SPAN: "the SOM charge per short call or short put is a percentage of the outright margin
    on one underlying futures contract" (CME Clearing advisory 20-247; docs/methodology.md §A6),
    counted on the larger of short calls and short puts. 3 short calls, 2 short puts far out of the
    money: SOM = 5% (the default rate, [D]) x 12% x 52,000 x 3 = 936."""
    expiry = EXPIRY
    book = from_contracts(
        [OptionContract("BTC", expiry, 150_000.0, 1, "linear"), OptionContract("BTC", expiry, 10_000.0, -1, "linear")], [-3, -2]
    )
    r = margin(book, seed_market, SpanModel())
    assert r.components["short_option_minimum"] == pytest.approx(0.05 * 0.12 * 52_000 * 3, rel=1e-12)
    assert r.core >= r.components["short_option_minimum"] - r.components["net_option_value"]


def test_seed_ratio_spread_span_scan_risk(seed_market: Market, ratio_spread) -> None:
    """The second seed's ratio spread under SPAN: scan risk 9,277 USD at PSR 12% of S, VSR ±10 vol
    points absolute, 1-day look-ahead, extremes 2x PSR covered at 35% (the defaults). Tolerance:
    the seed prints whole dollars."""
    r = margin(ratio_spread, seed_market, SpanModel())
    assert r.components["scan_risk"] == pytest.approx(9_277, abs=0.5)
    assert r.apc_floor == 0.0
