"""The hybrid model (VaR per combined commodity in SPAN's assembly) against the rules it is made of.

References: CME SPAN assembly and its "Normal" inter-commodity credit (docs/methodology.md §A4-A7,
CME's public SPAN pages cited there), the k-th-worst VaR rule (§C4), EMIR RTS 153/2013 Art. 28(b)
for the APC floor. Each expected value is computed here from those formulas on the model's own
per-commodity VaRs, so the tests check the assembly, not a stored number. Tolerances: 1e-9
relative, the summation order of the same floats.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pricing.instruments import OptionContract
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import margin
from pricing.margin.hybrid import HybridModel
from pricing.margin.quantile import tail_count
from pricing.margin.span import SpanModel, SpanParams
from pricing.margin.var import fhs_model
from pricing.market import Market
from pricing.portfolio import from_contracts
from tests.conftest import EXPIRY, perpetual

BARE = SpanParams(intra_spread_rate=0.0, inter_credit_rate=0.0, som_rate=0.0, nov_credit=False)


def _var(pnl: np.ndarray, alpha: float = 0.995) -> float:
    losses = np.sort(-pnl)[::-1]
    return float(losses[tail_count(pnl.size, alpha) - 1])


def test_without_spreads_som_or_nov_the_hybrid_is_the_fhs_var(seed_market: Market, ratio_spread) -> None:
    # One commodity, SPAN's extras off: risk = VaR_BTC, the FHS model's core on the same scenarios.
    hybrid = margin(ratio_spread, seed_market, HybridModel(span=BARE))
    fhs = margin(ratio_spread, seed_market, fhs_model())
    assert hybrid.core == pytest.approx(fhs.core, rel=1e-9)
    assert hybrid.stressed == pytest.approx(fhs.stressed, rel=1e-9)


def test_assembly_follows_span(seed_market: Market, ratio_spread) -> None:
    # max(VaR + intra - inter, SOM) - NOV, floored at 0 (§A7) with SPAN's own SOM and NOV.
    r = margin(ratio_spread, seed_market, HybridModel())
    span = margin(ratio_spread, seed_market, SpanModel())
    c = r.components
    assert c["short_option_minimum"] == pytest.approx(span.components["short_option_minimum"], rel=1e-12)
    assert c["net_option_value"] == pytest.approx(span.components["net_option_value"], rel=1e-12)
    expected = max(max(c["var"] + c["intra_spread"] - c["inter_credit"], c["short_option_minimum"]) - c["net_option_value"], 0)
    assert r.core == pytest.approx(expected, rel=1e-9)
    assert r.contributions.sum() == pytest.approx(r.core, rel=1e-9)


def test_calendar_spread_pays_spans_intra_charge(seed_market: Market) -> None:
    # Long the near call, short the far call: one spread delta pair across two tiers; charge =
    # rate x spot x min(long deltas, short deltas) (§A4), VaR part unchanged by the charge.
    far = EXPIRY.replace(year=EXPIRY.year + 1)
    book = from_contracts(
        [OptionContract("BTC", EXPIRY, 52_000.0, 1, "linear"), OptionContract("BTC", far, 52_000.0, 1, "linear")], [10, -10]
    )
    p = dataclasses.replace(BARE, intra_spread_rate=0.01)
    r = margin(book, seed_market, HybridModel(span=p))
    bare = margin(book, seed_market, HybridModel(span=BARE))
    assert r.components["intra_spread"] > 0
    assert r.core == pytest.approx(bare.core + r.components["intra_spread"], rel=1e-9)


def test_btc_eth_inter_credit_is_spans_normal_method(seed_market: Market) -> None:
    # Long BTC, short ETH perpetuals of similar USD size: the USD net deltas offset. Per leg
    # credit = rate x (matched USD / spot) x WPR, WPR = VaR_u / |net delta_u| (§A5, price risk = VaR).
    book = from_contracts([perpetual("BTC", "linear"), perpetual("ETH", "linear")], [1.0, -18.0])
    rate = 0.5
    p = dataclasses.replace(BARE, inter_credit_rate=rate)
    r = margin(book, seed_market, HybridModel(span=p))
    btc = margin(book.select([0]), seed_market, HybridModel(span=BARE)).core
    eth = margin(book.select([1]), seed_market, HybridModel(span=BARE)).core
    usd_b, usd_e = 1.0 * 52_000.0, 18.0 * 2_600.0
    matched = min(usd_b, usd_e)
    credit = rate * (matched / 52_000.0) * btc / 1.0 + rate * (matched / 2_600.0) * eth / 18.0
    assert btc > 0 and eth > 0 and credit > 0
    assert r.components["var"] == pytest.approx(btc + eth, rel=1e-9)
    assert r.components["inter_credit"] == pytest.approx(credit, rel=1e-9)
    assert r.core == pytest.approx(btc + eth - credit, rel=1e-9)
    joint = _var(r.scenario_pnl[: r.scenario_pnl.size - _n_stressed(book, seed_market)])
    assert r.components["joint_var"] == pytest.approx(joint, rel=1e-9)


def _n_stressed(book, market: Market) -> int:
    return int(HybridModel().prepare(book, market).scenarios.stressed.sum())


def test_hybrid_is_a_ccp_model_so_the_emir_28b_floor_applies(seed_market: Market, ratio_spread) -> None:
    r = margin(ratio_spread, seed_market, HybridModel())
    assert r.apc_floor == pytest.approx(0.75 * r.core + 0.25 * r.stressed, rel=1e-12)
    none = margin(ratio_spread, seed_market, HybridModel(), AddOnParams(apc="none"))
    assert none.apc_floor == 0.0
