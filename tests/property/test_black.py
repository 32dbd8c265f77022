"""Properties of Black-76: parity, bounds, monotonicity, greeks against finite differences,
edge-case triplets, and per-element failure (hypothesis on bounded domains)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.black import black76_greeks, black76_price, black76_reasons
from pricing.errors import PricingInputError, Reason

fwd = st.floats(10.0, 200_000.0)
moneyness = st.floats(-1.5, 1.5)
tenor = st.floats(1.0 / 365.0, 3.0)
vol = st.floats(0.05, 2.5)
rate = st.floats(0.0, 0.10)


@given(fwd, moneyness, tenor, vol, rate)
def test_put_call_parity(f: float, x: float, t: float, v: float, r: float) -> None:
    k = f * np.exp(x)
    c, p = black76_price(["c", "p"], f, k, t, v, rate=r)
    # C - P = DF (F - K); relative to the larger of F, K at 1e-12 (a few ulps of the terms).
    assert c - p == pytest.approx(np.exp(-r * t) * (f - k), abs=1e-12 * max(f, k))


@given(fwd, moneyness, tenor, vol, rate)
def test_no_arbitrage_bounds(f: float, x: float, t: float, v: float, r: float) -> None:
    k = f * np.exp(x)
    df = np.exp(-r * t)
    c, p = black76_price(["c", "p"], f, k, t, v, rate=r)
    tol = 1e-12 * max(f, k)
    assert df * max(f - k, 0) - tol <= c <= df * f + tol
    assert df * max(k - f, 0) - tol <= p <= df * k + tol


@given(fwd, tenor, vol)
def test_monotone_in_strike_and_vol(f: float, t: float, v: float) -> None:
    strikes = f * np.exp(np.linspace(-1, 1, 41))
    calls = black76_price("c", f, strikes, t, v)
    puts = black76_price("p", f, strikes, t, v)
    assert np.all(np.diff(calls) <= 1e-12 * f)
    assert np.all(np.diff(puts) >= -1e-12 * f)
    vols = np.linspace(0.05, 2.5, 30)
    assert np.all(np.diff(black76_price("c", f, f * 1.1, t, vols)) >= -1e-12 * f)


@settings(max_examples=150)
@given(
    st.floats(1000, 100_000),
    st.floats(-0.6, 0.6),
    st.floats(7 / 365, 2.0),
    st.floats(0.2, 1.5),
    rate,
    st.sampled_from(["linear", "inverse"]),
    st.sampled_from([1, -1]),
)
def test_greeks_match_finite_differences(f: float, x: float, t: float, v: float, r: float, settle: str, cp: int) -> None:
    """Central differences. The forward bump is 1e-4 of the distribution's width F vol sqrt(T),
    so truncation, O((d1 h / (F vol sqrt T))^2) relative, stays below ~1e-7 even for
    short-dated wings; other bumps are 1e-4 (vol) and 1e-5 (time, rate). rel=1e-5 covers
    truncation with margin; rounding, O(eps/h) ~ 1e-10 relative, is covered by the absolute
    floor scaled to each greek's natural size."""
    k = f * np.exp(x)
    g = black76_greeks(cp, f, k, t, v, rate=r, settle=settle)

    def price(**kw: float) -> float:
        args = {"forward": f, "t_years": t, "vol": v, "rate": r} | kw
        return float(black76_price(cp, args["forward"], k, args["t_years"], args["vol"], rate=args["rate"], settle=settle))

    def greeks(**kw: float):  # type: ignore[no-untyped-def]
        args = {"forward": f, "vol": v} | kw
        return black76_greeks(cp, args["forward"], k, t, args["vol"], rate=r, settle=settle)

    hf, hv, ht, hr = 1e-4 * f * v * np.sqrt(t), 1e-4, 1e-5, 1e-5
    if settle == "linear":
        delta_fd = (price(forward=f + hf) - price(forward=f - hf)) / (2 * hf)
    else:  # premium-adjusted delta in coin = F d(V/F)/dF
        delta_fd = f * (price(forward=f + hf) - price(forward=f - hf)) / (2 * hf)
    scale_p = f if settle == "linear" else 1.0
    assert g.delta == pytest.approx(delta_fd, rel=1e-5, abs=1e-6)
    gamma_fd = (greeks(forward=f + hf).delta - greeks(forward=f - hf).delta) / (2 * hf)
    assert g.gamma == pytest.approx(gamma_fd, rel=1e-5, abs=1e-6 / f)
    assert g.vega == pytest.approx((price(vol=v + hv) - price(vol=v - hv)) / (2 * hv), rel=1e-5, abs=1e-6 * scale_p)
    assert g.theta == pytest.approx(-(price(t_years=t + ht) - price(t_years=t - ht)) / (2 * ht), rel=1e-5, abs=1e-5 * scale_p)
    assert g.rho == pytest.approx((price(rate=r + hr) - price(rate=r - hr)) / (2 * hr), rel=1e-5, abs=1e-6 * scale_p)
    assert g.vanna == pytest.approx((greeks(vol=v + hv).delta - greeks(vol=v - hv).delta) / (2 * hv), rel=1e-5, abs=1e-5)
    assert g.volga == pytest.approx((greeks(vol=v + hv).vega - greeks(vol=v - hv).vega) / (2 * hv), rel=1e-5, abs=1e-5 * scale_p)


def test_edge_triplets_expiry_and_zero_vol() -> None:
    """T = 0 gives intrinsic; vol = 0 the discounted intrinsic of the forward; T < 0 is NaN."""
    f, k = 100.0, 90.0
    at_expiry = black76_price(["c", "p"], f, k, 0.0, 0.5)
    np.testing.assert_array_equal(at_expiry, [10.0, 0.0])
    zero_vol = black76_price(["c", "p"], f, k, 1.0, 0.0, rate=0.05)
    np.testing.assert_allclose(zero_vol, [np.exp(-0.05) * 10.0, 0.0], rtol=1e-15)
    tiny_vol = black76_price("c", f, k, 1.0, 1e-9, rate=0.05)
    assert tiny_vol == pytest.approx(zero_vol[0], rel=1e-12)
    assert np.isnan(black76_price("c", f, k, -1e-9, 0.5))
    g = black76_greeks(["c", "c", "p"], [110.0, 100.0, 110.0], 100.0, 0.0, 0.5)
    np.testing.assert_array_equal(g.delta, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(g.gamma, [0.0, 0.0, 0.0])


def test_bad_elements_fail_alone_with_reasons() -> None:
    f = [100.0, 100.0, -1.0, 100.0, np.nan, 100.0]
    k = [100.0, -5.0, 100.0, 100.0, 100.0, 100.0]
    t = [1.0, 1.0, 1.0, -0.1, 1.0, 1.0]
    v = [0.5, 0.5, 0.5, 0.5, 0.5, -0.2]
    prices = black76_price("c", f, k, t, v)
    assert np.isfinite(prices[0]) and np.isnan(prices[1:]).all()
    reasons = black76_reasons("c", f, k, t, v)
    assert list(reasons) == [
        Reason.OK,
        Reason.NONPOSITIVE_STRIKE,
        Reason.NONPOSITIVE_FORWARD,
        Reason.EXPIRED,
        Reason.NAN_INPUT,
        Reason.NEGATIVE_VOL,
    ]


def test_shape_is_kept_and_chunks_agree() -> None:
    rng = np.random.default_rng(0)
    shape = (3, 7001)  # 21,003 elements: three kernel chunks, the last one partial
    f = rng.uniform(50, 150, shape)
    k = rng.uniform(50, 150, shape)
    out = black76_price("p", f, k, 0.5, 0.6)
    assert out.shape == shape
    one_by_one = np.array([black76_price("p", fi, ki, 0.5, 0.6) for fi, ki in zip(f.ravel()[:50], k.ravel()[:50])])
    np.testing.assert_array_equal(out.ravel()[:50], one_by_one)


def test_unknown_enum_lists_allowed_values() -> None:
    with pytest.raises(PricingInputError, match="'c', 'call', 'p', 'put'"):
        black76_price("straddle", 100, 100, 1, 0.5)
    with pytest.raises(PricingInputError, match=r"settle.*'linear'.*'inverse'"):
        black76_price("c", 100, 100, 1, 0.5, settle="quanto")
