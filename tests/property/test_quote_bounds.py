"""Invariants of values and quotes (issue 29 items 2 and 3, docs/methodology.md §B3, §D6).

* On an empty book, with no quote spread and no IM funding cost, at any funding spread, every
  adjustment is a cost (premium paid is funded at the spread, premium received earns no spread):
  bid <= base <= ask, for USD- and coin-settled options, calls and puts, bought or sold, under a
  venue replica and a VaR model.
* A long option alone needs no more Deribit margin than it is worth (the roll shock is charged on
  futures, not on option deltas), below the delta-shock threshold.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.instruments import OptionContract
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import margin
from pricing.margin.span import SpanModel
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.positions import position_state
from pricing.surface import flat_surface
from pricing.xva.params import QuoteParams
from pricing.xva.quote import quote_book
from tests.conftest import NOW

SOFR = 0.0365


def _market(spot: float, vol: float, carry: float) -> Market:
    return Market(NOW, {"BTC": flat_surface("BTC", spot, vol, carry=carry)})


def _name(days: int, strike: float, cp: int) -> str:
    expiry = NOW + timedelta(days=days)
    return f"BTC-{expiry.day}{expiry.strftime('%b').upper()}{expiry.strftime('%y')}-{int(strike)}-{'C' if cp > 0 else 'P'}"


@settings(max_examples=25)
@given(
    st.integers(3, 360),
    st.floats(0.5, 1.6),
    st.sampled_from([1, -1]),
    st.sampled_from(["linear", "inverse"]),
    st.sampled_from(["buy", "sell", "two-way"]),
    st.floats(0.3, 1.2),
    st.floats(-0.05, 0.15),
    st.floats(0.1, 50.0),
    st.sampled_from(["deribit", "span"]),
    st.sampled_from([0.0, 0.005, 0.02]),
)
def test_empty_book_zero_spread_bid_le_base_le_ask(
    days: int,
    moneyness: float,
    cp: int,
    settle: str,
    side: str,
    vol: float,
    carry: float,
    qty: float,
    model: str,
    funding_spread: float,
) -> None:
    spot = 60_000.0
    strike = round(spot * moneyness / 1000.0) * 1000.0
    row = {"instrument": _name(days, strike, cp), "settle": settle, "side": side, "quantity": round(qty, 1)}
    # Any funding spread; posted IM earns what funding costs (no IM change is priced); no quote spread.
    s = funding_spread
    p = QuoteParams(sofr=SOFR, funding_spread=s, im_rate=SOFR + s, spread_value=0.0)
    m = DeribitModel() if model == "deribit" else SpanModel()
    q = quote_book([row], None, _market(spot, vol, carry), m, p)[0]
    if "bid_price" in q:
        assert q["bid_price"] <= q["base"]
    if "ask_price" in q:
        assert q["ask_price"] >= q["base"]


@settings(max_examples=40)
@given(
    st.integers(1, 400),
    st.floats(0.4, 2.0),
    st.sampled_from([1, -1]),
    st.sampled_from(["linear", "inverse"]),
    st.floats(0.2, 1.5),
    st.floats(-0.1, 0.2),
    st.floats(0.1, 100.0),
)
def test_a_long_options_deribit_margin_is_at_most_its_value(
    days: int, moneyness: float, cp: int, settle: str, vol: float, carry: float, qty: float
) -> None:
    """Worst case <= value (an option's value cannot fall below 0) and no roll shock on options;
    100 BTC x 60,000 stays under the $20M delta-shock threshold."""
    spot = 60_000.0
    market = _market(spot, vol, carry)
    long_option = from_contracts([OptionContract("BTC", NOW + timedelta(days=days), spot * moneyness, cp, settle)], [qty])
    value = float(position_state(long_option, market).value_usd.sum())
    res = margin(long_option, market, DeribitModel())
    assert res.components["roll_shock"] == 0.0
    # The venue's own margin (the risk-matrix margin; the desk's add-ons are not the venue's).
    assert res.core <= value * (1.0 + 1e-12) + 1e-9


def test_a_future_still_carries_the_roll_shock() -> None:
    """The roll shock stays on futures: a dated future's IM includes max(1%, e^{7.5% τ} − 1) x |Δ| x S."""
    from tests.conftest import perpetual

    market = _market(60_000.0, 0.6, 0.0)
    perp = from_contracts([perpetual()], [2.0])
    res = margin(perp, market, DeribitModel())
    assert res.components["roll_shock"] == pytest.approx(0.01 * 2.0 * 60_000.0, rel=1e-12)


def test_expected_im_profile_of_a_future_is_the_frozen_one_times_the_mean_spot() -> None:
    """SPAN's margin of a future is PSR_$ x coins, linear in the spot: so at each date its expected
    ΔIM over the K simulated spots is the frozen-spot ΔIM times the mean spot multiplier, and at
    t = 0 (no spot uncertainty yet) the two profiles are equal."""
    import numpy as np

    from pricing.instruments import FutureContract
    from pricing.xva.replica_profile import expected_replica_profiles, replica_profiles, spot_quantiles

    market = _market(60_000.0, 0.6, 0.05)
    future = from_contracts([FutureContract("BTC", NOW + timedelta(days=60), "linear")], [3.0])
    book = from_contracts([], [])
    times = np.array([0.0, 10 / 365, 30 / 365])
    groups = np.zeros(1, np.int64)
    frozen = replica_profiles(book, future, groups, market, SpanModel(), times)
    expected = expected_replica_profiles(book, future, groups, market, SpanModel(), times, points=8)
    for side in (0, 1):
        assert expected[side][0, 0] == pytest.approx(frozen[side][0, 0], rel=1e-12)
        for i, t in enumerate(times):
            mean = float(spot_quantiles(market, float(t), 8)["BTC"].mean())
            assert expected[side][0, i] == pytest.approx(frozen[side][0, i] * mean, rel=1e-9)
