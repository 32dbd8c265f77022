"""XVA against the source article's worked example and hand calculations of the documented forms
(docs/methodology.md §D, F1; Basel CRE52 for SA-CCR).
"""

from __future__ import annotations

import numpy as np
import pytest

from addin.cli.examples.xva import article_quote
from pricing.errors import PricingInputError
from pricing.xva.capital import k_cm, kva_lifetime, kva_simple
from pricing.xva.ccva import ccva
from pricing.xva.funding import mva_vm_settlement_lag
from pricing.xva.profiles import grid
from pricing.xva.saccr import SaccrLegs, saccr_netting_set, saccr_option


def test_article_worked_example_every_line() -> None:
    a = article_quote()
    assert a["delta_im"] == 950_000  # 26,150,000 - 25,200,000
    assert round(a["FVA"]) == 12_500  # 950,000 x (4.763% + 0.50%) x 90/360 = 12,499.63
    # KVA and the MVA/CCVA split follow from inputs docs/methodology.md §F1 chose to reproduce the article
    # (exposure 20M; PD 0.20%, LGD 60%; MVA = 1,100 - CCVA), so they are arithmetic checks of the
    # forms, not independent references: KVA = 20M x 2% x 8% x 10% x 1, CCVA = 950,000 x 0.25 x 0.20% x 60%.
    assert a["KVA"] == pytest.approx(20e6 * 0.02 * 0.08 * 0.10, abs=1e-9)
    assert a["CCVA"] == pytest.approx(950_000 * 0.25 * 0.002 * 0.6, abs=1e-9)
    assert round(a["total_adjustments"]) == 16_800
    assert a["profit_margin"] == 2_000
    assert a["quote"] == 568_800


def test_mva_settlement_lag_hand_calculation() -> None:
    # 10 days, |delta| 100 BTC, S 50,000, vol 50%, spread 50 bp, lag 1 day funded ACT/360, DF = 1:
    # 10 x 0.005 x (1/360) x 0.8 x 100 x 50,000 x 0.5 x sqrt(1/365)
    expected = 10 * 0.005 / 360 * 0.8 * 100 * 50_000 * 0.5 * np.sqrt(1 / 365)
    assert mva_vm_settlement_lag(100, 50_000, 0.5, 10 / 365, 0.005) == pytest.approx(expected, rel=1e-12)


def test_saccr_option_hand_calculation() -> None:
    # Bought ATM call, 1 BTC at 50,000, T = 0.25, margined, MPOR 10 business days (CRE54's floor
    # for trade exposures to a CCP, the default), no collateral:
    # d = 0.5 x 1.2^2 x 0.25 / (1.2 x 0.5) = 0.3; delta = N(0.3); MF = 1.5 sqrt(10/250).
    r = saccr_option(1, 1, 50_000, 50_000, 1.0, 0.25)
    from scipy.stats import norm

    delta = norm.cdf(0.3)
    addon = 0.32 * delta * 50_000 * 1.5 * np.sqrt(10 / 250)
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


def _call_spread() -> SaccrLegs:
    """Bought 10 calls at 60,000, sold 10 at 70,000, spot 60,000, 3 months."""
    return SaccrLegs(
        ("BTC", "BTC"),
        np.array([1, 1]),
        np.full(2, 60_000.0),
        np.array([60_000.0, 70_000.0]),
        np.array([10.0, -10.0]),
        np.full(2, 0.25),
    )


def test_saccr_hedging_set_nets_a_call_spread_by_hand() -> None:
    """Basel CRE52: in one hedging set the effective notionals add with their signs before the
    supervisory factor, so a call spread's add-on is SF |δ1 d1 MF + δ2 d2 MF|, not the sum of the
    legs' add-ons (the finding: one EAD per leg overstated a spread's EAD about 3x)."""
    from scipy.stats import norm

    legs = _call_spread()
    mf = 1.5 * np.sqrt(10 / 250)
    d = [(np.log(60_000 / k) + 0.5 * 1.2**2 * 0.25) / (1.2 * 0.5) for k in (60_000, 70_000)]
    effective = (norm.cdf(d[0]) - norm.cdf(d[1])) * 600_000 * mf  # bought minus sold call deltas, d = P |units|
    r = saccr_netting_set(legs)
    assert r.addon == pytest.approx(0.32 * abs(effective), rel=1e-12)
    assert r.ead == pytest.approx(1.4 * r.addon, rel=1e-12)  # no MtM, no collateral, multiplier 1
    separate = sum(saccr_option(1, s, 60_000, k, 10, 0.25).ead for s, k in ((1, 60_000), (-1, 70_000)))
    assert separate / r.ead > 2  # the legs one by one overstate it


def test_saccr_group_2b_charges_half_the_gross_notional_without_netting() -> None:
    """SCO60 Group 2b as docs/methodology.md §D reads it (BCBS d545; the paragraph's text was not
    retrievable here): no offsetting, add-on 50% of gross notional, PFE multiplier 1 even when the
    set is over-collateralised (the 2a multiplier would fall below 1 there)."""
    legs = _call_spread()
    r = saccr_netting_set(legs, crypto_group="2b", collateral=50_000.0)
    assert r.addon == pytest.approx(0.5 * 2 * 600_000.0, rel=1e-15)
    assert r.multiplier == 1.0
    assert r.ead == pytest.approx(1.4 * r.addon, rel=1e-15)  # RC = max(V - C, 0) = 0
    assert saccr_netting_set(legs, collateral=50_000.0).multiplier < 1.0
    with pytest.raises(PricingInputError, match="crypto_group"):
        saccr_netting_set(legs, crypto_group="2c")
