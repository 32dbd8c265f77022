"""Bundled real data: loaders validate; Black-76 reproduces Deribit marks; the surface fits."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pricing.black import black76_price
from pricing.chain import load_book_summary_json, load_bundled_chain, load_chain_csv
from pricing.daycount import funding_time, option_time, utc, year_fraction
from pricing.errors import DataError, PricingInputError
from pricing.instruments import format_option_name, parse_instrument_name, parse_option_name
from pricing.marketdata import load_daily_series, load_dvol, load_history, load_sofr
from pricing.structures import butterfly, calendar_spread, straddle, structure_value, vertical_spread
from pricing.surface import build_surface
from pricing.varswap import chain_variance_strikes, constant_maturity_variance, vol_swap_strike


def test_histories_match_published_closes() -> None:
    """Spot checks from shared/data/README.md (Yahoo closes, DVOL, SOFR)."""
    assert load_history("BTC").value_on("2025-12-31") == 87_508.83
    assert load_history("eth").value_on("2021-11-08") == 4_812.09
    assert load_dvol("BTC").value_on("2025-12-31") == pytest.approx(0.4301)
    assert load_sofr().value_on("2025-12-31") == pytest.approx(0.0387)


def test_loader_errors_name_file_row_and_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad_price = tmp_path / "prices.csv"
    bad_price.write_text("date,close\n2024-01-01,100\n2024-01-02,-5\n")
    with pytest.raises(DataError, match=r"prices.csv, row 3, column close.*> 0"):
        load_daily_series(bad_price, "close")
    bad_date = tmp_path / "dates.csv"
    bad_date.write_text("date,close\n2024-01-01,100\n01/02/2024,101\n")
    with pytest.raises(DataError, match=r"dates.csv, row 3, column date.*ISO date"):
        load_daily_series(bad_date, "close")
    missing = tmp_path / "missing.csv"
    missing.write_text("day,close\n2024-01-01,100\n")
    with pytest.raises(DataError, match=r"missing.csv: missing column\(s\) date"):
        load_daily_series(missing, "close")
    with pytest.raises(PricingInputError, match=r"underlying.*'btc', 'eth'"):
        load_history("SOL")


@pytest.mark.parametrize(
    "underlying,as_of,median_tol",
    [
        ("BTC", "2025-12-31", 1e-3),
        ("ETH", "2025-12-31", 1e-3),
        ("BTC", "2026-08-21", 1e-3),
        # shared/data/README.md: in the 2026-08-21 files the summary (mark, IV) and ticker
        # (forward) calls were seconds apart; the ETH file reprices at a median of ~1.2e-3.
        ("ETH", "2026-08-21", 1.5e-3),
    ],
)
def test_black76_reproduces_deribit_marks(underlying: str, as_of: str, median_tol: float) -> None:
    """Deribit marks inverse options with undiscounted Black-76 on the forward at mark_iv."""
    chain = load_bundled_chain(underlying, as_of)
    price = black76_price(chain.cp, chain.forward, chain.strike, chain.t_years, chain.mark_iv, settle="inverse")
    quoted = chain.mark_price > 0
    rel = np.abs(price[quoted] / chain.mark_price[quoted] - 1.0)
    assert np.median(rel) <= median_tol


def test_book_summary_json_matches_csv() -> None:
    """The API's JSON layout (fields as ``get_book_summary_by_currency`` returns them) parses
    to the same chain as the CSV; the payload is built from the bundled snapshot's rows."""
    chain = load_bundled_chain("BTC", "2025-12-31")
    stamp_ms = chain.as_of.timestamp() * 1000
    entries = [
        {
            "instrument_name": name,
            "mark_iv": iv * 100,
            "mark_price": mp,
            "underlying_price": fwd,
            "estimated_delivery_price": chain.spot,
            "creation_timestamp": stamp_ms,
            "bid_price": None if np.isnan(b) else b,
            "ask_price": None if np.isnan(a) else a,
        }
        for name, iv, mp, fwd, b, a in zip(
            chain.names, chain.mark_iv, chain.mark_price, chain.forward, chain.bid_price, chain.ask_price
        )
    ]
    parsed = load_book_summary_json(json.dumps({"jsonrpc": "2.0", "result": entries}))
    assert parsed.names == chain.names
    np.testing.assert_allclose(parsed.t_years, chain.t_years, atol=1e-9)
    np.testing.assert_allclose(parsed.mark_iv, chain.mark_iv)
    with pytest.raises(DataError, match="entry 0, field mark_iv"):
        load_book_summary_json([{"instrument_name": "BTC-27DEC26-60000-C"}])


def test_chain_csv_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "chain.csv"
    path.write_text(
        "timestamp,instrument_name,mark_iv,mark_price,underlying_price,index_price\n"
        "2026-01-01T00:00:00Z,BTC-27DEC26-60000-X,50,0.1,90000,90000\n"
    )
    with pytest.raises(DataError, match=r"row 2, column instrument_name.*BTC-27DEC26-60000-C"):
        load_chain_csv(path)


def test_instrument_names_round_trip() -> None:
    c = parse_option_name("BTC-27DEC26-60000-C")
    assert (c.underlying, c.strike, c.cp) == ("BTC", 60000.0, 1)
    assert c.expiry == datetime(2026, 12, 27, 8, tzinfo=UTC)
    assert format_option_name(c) == "BTC-27DEC26-60000-C"
    assert parse_option_name("eth-1jan26-2600-p").name == "ETH-1JAN26-2600-P"
    assert parse_option_name("XRP-27DEC26-0d6-C").strike == 0.6
    assert parse_instrument_name("BTC-PERPETUAL").expiry is None
    assert parse_instrument_name("BTC-27DEC26").expiry == datetime(2026, 12, 27, 8, tzinfo=UTC)
    for bad in ("BTC-27XYZ26-60000-C", "BTC-60000-C", "BTC-31FEB26-60000-C"):
        with pytest.raises(PricingInputError, match=r"BTC-27DEC26-60000-C|month|invalid date"):
            parse_option_name(bad)


def test_year_fractions() -> None:
    start = utc(2026, 1, 1, 8)
    assert option_time(start, start + timedelta(days=365)) == 1.0
    assert funding_time(start, start + timedelta(days=90)) == 0.25
    assert year_fraction(start, start - timedelta(hours=12)) < 0
    chain = load_bundled_chain("BTC", "2025-12-31")
    assert chain.t_years[0] == pytest.approx(0.00259042, abs=5e-9)  # Deribit's own column
    with pytest.raises(PricingInputError, match="no timezone"):
        option_time(datetime(2026, 1, 1), start)


@pytest.fixture(scope="module")
def btc_surface():  # type: ignore[no-untyped-def]
    return build_surface(load_bundled_chain("BTC", "2025-12-31"))


def test_svi_fit_quality_and_arbitrage_checks(btc_surface) -> None:  # type: ignore[no-untyped-def]
    """Fit errors on the fitted quotes, measured at 0.06-0.23 vol points RMSE per expiry
    (closing note of issue 2); the bound 0.5 RMSE / 1.5 max leaves room for solver noise but
    fails a broken fit, which misses by several vol points."""
    assert len(btc_surface.fits) >= 10
    for fit in btc_surface.fits:
        assert fit.rmse_vol_pts <= 0.5 and fit.max_abs_vol_pts <= 1.5, fit
        assert fit.butterfly_free
    assert btc_surface.calendar_violations() == []


def test_surface_interpolates_and_shocks(btc_surface) -> None:  # type: ignore[no-untyped-def]
    s = btc_surface
    t_mid = 0.5 * (s.t_years[5] + s.t_years[6])
    w5 = s.total_variance(0.0, s.t_years[5])
    w6 = s.total_variance(0.0, s.t_years[6])
    assert w5 <= s.total_variance(0.0, t_mid) <= w6
    assert s.forward(0.0) == pytest.approx(s.spot)
    np.testing.assert_allclose(s.forward(s.t_years), s.forwards)
    k, t = 95_000.0, s.t_years[4]
    base = s.vol(k, t)
    # sticky strike: the vol at a strike ignores the spot move; sticky moneyness: it follows it.
    assert s.vol(k, t, spot_shock=0.1, rule="sticky_strike") == pytest.approx(base)
    moved = s.vol(k * np.exp(0.1), t, spot_shock=0.1)
    assert moved == pytest.approx(base)
    grid = s.vol(np.array([[80_000.0], [100_000.0]]), t, spot_shock=np.array([-0.1, 0.0, 0.1]), vol_shift=0.05)
    assert grid.shape == (2, 3)
    sabr = build_surface(load_bundled_chain("BTC", "2025-12-31"), model="sabr")
    assert max(f.rmse_vol_pts for f in sabr.fits) <= 1.0


def test_structures_are_sums_of_legs(btc_surface) -> None:  # type: ignore[no-untyped-def]
    now = load_bundled_chain("BTC", "2025-12-31").as_of
    exp = utc(2026, 3, 27, 8)
    far = utc(2026, 6, 26, 8)
    fly = butterfly("BTC", exp, 80_000, 90_000, 100_000)
    g = structure_value(fly, btc_surface, now)
    legs = btc_surface.greeks(np.ones(3), np.array([80_000.0, 90_000.0, 100_000.0]), np.full(3, option_time(now, exp)))
    assert float(g.price) == pytest.approx(float(legs.price[0] - 2 * legs.price[1] + legs.price[2]))
    assert float(g.price) > 0  # a butterfly on an arbitrage-free smile has positive value
    assert float(structure_value(straddle("BTC", exp, 90_000, qty=-1), btc_surface, now).vega) < 0
    assert float(structure_value(calendar_spread("BTC", exp, far, 90_000), btc_surface, now).price) > 0
    assert float(structure_value(vertical_spread("BTC", exp, 90_000, 100_000, 1), btc_surface, now).delta) > 0
    with pytest.raises(PricingInputError, match="strictly increasing"):
        butterfly("BTC", exp, 90_000, 80_000, 100_000)


def test_variance_swap_near_dvol() -> None:
    """30-day variance-swap vol from the 2025-12-31 chains within 3 vol points of DVOL's close
    (measured: BTC 44.8 vs 43.0, ETH 62.2 vs 60.8; DVOL drops |delta| < 5% wings and uses
    bid/ask mids, we use all marks, so the replication sits slightly above)."""
    for code in ("BTC", "ETH"):
        chain = load_bundled_chain(code, "2025-12-31")
        var30 = constant_maturity_variance(chain_variance_strikes(chain))
        dvol = load_dvol(code).value_on("2025-12-31")
        assert abs(np.sqrt(var30) - dvol) <= 0.03


def test_vol_swap_convexity() -> None:
    k_vol, method = vol_swap_strike(0.25, 30 / 365, 0.8)
    assert method == "brockhaus-long" and k_vol < 0.5
    s2 = 0.8**2 * (30 / 365) / 3
    exact = 0.5 * np.exp(-0.5 * s2)
    # Brockhaus-Long expands to sqrt(K)(1 - s^2/2 - s^4), the lognormal to
    # sqrt(K)(1 - s^2/2 + s^4/8): they differ by (9/8) s^4 sqrt(K) at leading order.
    assert abs(k_vol - exact) <= 1.2 * s2**2 * 0.5
    assert vol_swap_strike(0.25, 5.0, 3.0)[1] == "lognormal"
    assert vol_swap_strike(0.25, 1.0, 0.0)[0] == pytest.approx(0.5)
