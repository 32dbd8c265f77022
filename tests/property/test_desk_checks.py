"""Admission, pre-trade limits and price sanity: each refusal is typed, names what broke, and never lets nonsense through.

Oracles: the venue's instrument list (the bundled Deribit chain of 2026-08-21) for admission; the
no-arbitrage bounds of an option (Hull, *Options, Futures, and Other Derivatives*, 10th ed.,
§11.3: 0 ≤ c ≤ F·df, 0 ≤ p ≤ K·df on a forward) for price sanity, with Black-76 prices
(:func:`pricing.black.black76_price`) as quotes that must pass; the limits' own stated values.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.black import black76_price
from pricing.chain import load_bundled_chain
from pricing.desk.admission import admit
from pricing.desk.limits import RiskLimits, check_fill, check_request, check_trade
from pricing.desk.refusals import RefusalCode
from pricing.desk.sanity import leg_bounds, quote_refusals, structure_bounds

CHAIN = load_bundled_chain("BTC", "2026-08-21")
CHAINS = {"BTC": CHAIN}
AS_OF = CHAIN.as_of
LIVE = [n for n, c in zip(CHAIN.names, CHAIN.contracts()) if c.expiry > AS_OF]


# -- admission ------------------------------------------------------------------------------------


def _mutations(name: str) -> list[str]:
    und, day, strike, cp = name.split("-")
    return [
        f"{name},{name}",
        f"{name};{name}",
        f"{name}:2",
        f" {name}",
        name.lower(),
        f"{und}-{day}-{int(strike) + 1}-{cp}",
        f"{und}-{day[:-2]}{(int(day[-2:]) + 29) % 100:02d}-{strike}-{cp}",
        f"{und}-{day}",
        f"{und}-PERPETUAL",
    ]


@settings(max_examples=300)
@given(
    name=st.one_of(
        st.sampled_from(LIVE), st.sampled_from(LIVE).flatmap(lambda n: st.sampled_from(_mutations(n))), st.text(max_size=40)
    )
)
def test_only_listed_live_options_are_admitted(name: str) -> None:
    why = admit(name, CHAINS, AS_OF)
    if name in LIVE:
        assert why is None
    else:
        assert why is not None and why.code in (RefusalCode.UNKNOWN_INSTRUMENT, RefusalCode.NOT_LISTED, RefusalCode.EXPIRED)
        assert why.text.startswith("Symbol (55): ")


def test_admission_reasons_by_example() -> None:
    name = LIVE[0]
    assert "NoLegs (555)" in admit(f"{name},{LIVE[1]}", CHAINS, AS_OF).text  # one instrument per Symbol
    assert "own mark" in admit("BTC-PERPETUAL", CHAINS, AS_OF).text  # never quoted at 0
    assert "own mark" in admit("BTC-25SEP26", CHAINS, AS_OF).text
    assert admit("BTC-25SEP55-65000-C", CHAINS, AS_OF).code is RefusalCode.NOT_LISTED  # decades away
    assert admit("ETH-25SEP26-3000-C", CHAINS, AS_OF).code is RefusalCode.UNKNOWN_INSTRUMENT  # no ETH list here
    expired = next(n for n, c in zip(CHAIN.names, CHAIN.contracts()) if c.expiry <= AS_OF + timedelta(days=1))
    assert admit(expired, CHAINS, AS_OF + timedelta(days=2)).code is RefusalCode.EXPIRED


# -- limits ---------------------------------------------------------------------------------------


def test_each_limit_names_itself_and_the_value() -> None:
    lim = RiskLimits()
    spot = {"L": 100_000.0}
    cases = [
        (check_request(lim, 1_001, [("L", 1.0)], spot), "max_contracts", "1,001"),
        (check_request(lim, 10, [("L", 200.0)], spot), "max_leg_contracts", "2,000"),
        (check_request(lim, 900, [("L", 1.0), ("M", -1.0)], {**spot, "M": 100_000.0}), "max_notional_usd", "1.8e+08"),
        (check_trade(lim, -2e7, {}, {}), "max_delta_im_usd", "2e+07"),
        (check_trade(lim, 0.0, {"BTC": -6_000.0}, {}), "max_net_delta_coin", "6,000"),
        (check_trade(lim, 0.0, {}, {"BTC": 6e7}), "max_net_vega_usd", "6e+07"),
        (check_fill(lim, 4.9e8, 0.0, 2e7), "max_session_notional_usd", "5.1e+08"),
        (check_fill(lim, 0.0, 9.9e8, 2e7), "max_total_notional_usd", "1.01e+09"),
    ]
    for why, name, value in cases:
        assert why is not None and name in why.text and value in why.text, (name, why)
        assert why.code in (RefusalCode.LIMIT_EXCEEDED, RefusalCode.RISK_LIMIT) and why.code.quote_reject == 3
    assert check_request(lim, 1_000, [("L", 1.0)], {"L": 100_000.0}) is None  # at a limit is within it
    assert check_trade(lim, 1e7, {"BTC": 5_000.0}, {"BTC": -5e7}) is None
    assert check_fill(lim, 4.8e8, 0.0, 2e7) is None


@settings(max_examples=300)
@given(
    quantity=st.floats(0.01, 2_000.0),
    legs=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C"]), st.floats(0.01, 50.0), st.sampled_from([1.0, -1.0])), min_size=1, max_size=25
    ),
)
def test_no_instrument_is_over_the_per_leg_limit_however_the_legs_are_listed(
    quantity: float, legs: list[tuple[str, float, float]]
) -> None:
    """An accepted request holds at most ``max_leg_contracts`` of any one instrument, summed over its legs
    (gross and net), whatever the list of legs; a structure that repeats an instrument is refused, naming it."""
    lim = RiskLimits(max_notional_usd=1e15)
    signed = [(name, sign * ratio) for name, ratio, sign in legs]
    why = check_request(lim, quantity, signed, {"A": 1.0, "B": 1.0, "C": 1.0})
    gross: dict[str, float] = {}
    for name, ratio in signed:
        gross[name] = gross.get(name, 0.0) + quantity * abs(ratio)
    if why is None:
        assert all(v <= lim.max_leg_contracts for v in gross.values()), (gross, signed)
    names = [n for n, _ in signed]
    if len(set(names)) < len(names):
        assert why is not None and why.code is RefusalCode.BAD_REQUEST and "repeats LegSymbol (600)" in why.text


def test_the_same_leg_twenty_times_is_refused_not_filled_twenty_times() -> None:
    """The reviewer's case: LegSymbol X twenty times, ratio 1, OrderQty 1,000 against max_leg_contracts 1,000."""
    why = check_request(RiskLimits(), 1_000, [("BTC-25SEP26-65000-C", 1.0)] * 20, {"BTC-25SEP26-65000-C": 1.0})
    assert why is not None and why.code is RefusalCode.BAD_REQUEST
    assert "leg 2 repeats LegSymbol (600) BTC-25SEP26-65000-C of leg 1" in why.text
    # Bought and sold in two legs is refused too (not netted to nothing).
    assert check_request(RiskLimits(), 1, [("X", 1.0), ("X", -1.0)], {"X": 1.0}) is not None


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_a_limit_is_a_positive_number(bad: float) -> None:
    with pytest.raises(ValueError, match="max_notional_usd"):
        RiskLimits(max_notional_usd=bad)


# -- price sanity ---------------------------------------------------------------------------------


@given(
    cp=st.sampled_from([1.0, -1.0]),
    f=st.floats(1_000.0, 200_000.0),
    k_ratio=st.floats(0.2, 5.0),
    t=st.floats(1e-3, 3.0),
    vol=st.floats(0.05, 3.0),
    units=st.floats(0.1, 1_000.0),
)
def test_a_black76_two_way_lies_within_the_bounds(
    cp: float, f: float, k_ratio: float, t: float, vol: float, units: float
) -> None:
    """A model price (per Hull's bounds it must pass) with a small spread is never refused; above the bound it is."""
    k = f * k_ratio
    value = float(black76_price(cp, f, k, t, vol)) * units
    lo, hi = leg_bounds(np.array([True]), np.array([cp]), np.array([f]), np.array([k]), np.array([1.0]), np.array([units]))
    tlo, thi = structure_bounds(lo, hi, np.array([0, 1]))
    assert tlo[0] == 0.0 and thi[0] == pytest.approx((f if cp > 0 else k) * units)
    if value > 1e-6 * thi[0]:
        ok = quote_refusals(np.array([value * 0.999]), np.array([min(value * 1.001, thi[0])]), tlo, thi, np.array([True]), ("x",))
        assert ok == [None]
    over = quote_refusals(np.array([np.nan]), np.array([thi[0] * 1.01]), tlo, thi, np.array([True]), ("x",))
    assert over[0] is not None and "outside the no-arbitrage bounds" in over[0]


def test_sanity_refusals_by_example() -> None:
    # A bought call spread (1 x K1 call, -1 x K2 call) on F = 100: within [-100, 100] by its legs' bounds.
    lo, hi = leg_bounds(
        np.array([True, True]),
        np.array([1.0, 1.0]),
        np.array([100.0, 100.0]),
        np.array([90.0, 110.0]),
        np.ones(2),
        np.array([1.0, -1.0]),
    )
    tlo, thi = structure_bounds(lo, hi, np.array([0, 2]))
    assert (tlo[0], thi[0]) == (-100.0, 100.0)
    long_only = np.array([True, True, False, True, True])
    bid = np.array([-1.0, 5.0, -5.0, 0.0, 3.0])
    ask = np.array([2.0, 4.0, 5.0, np.nan, np.nan])
    lo5, hi5 = np.array([0.0, 0.0, -100.0, 0.0, 0.0]), np.full(5, 100.0)
    out = quote_refusals(bid, ask, lo5, hi5, long_only, tuple("abcde"))
    assert "worth more than 0" in out[0] and "above ask" in out[1] and out[2] is None
    assert "bid 0.00" in out[3] and out[4] is None
    # Locked (bid == ask) is a quote, crossed is not: a perpetual two-way with no costs is 0 / 0.
    locked = quote_refusals(
        np.array([0.0, 0.0]), np.array([0.0, -1e-9]), np.full(2, -100.0), np.full(2, 100.0), np.zeros(2, bool), ("p", "q")
    )
    assert locked[0] is None and "crossed" in (locked[1] or "")


def test_the_desk_never_quotes_outside_the_bounds() -> None:
    """Desk.quote on listed options with a fixed 1,000 USD spread: a deep out-of-the-money option's bid
    would be negative; it is refused (PRICE_BOUNDS), and every quote given is within its bounds."""
    from pricing.desk import Book, Desk, DeskConfig, Leg, RfqRequest, open_market

    desk = Desk(
        open_market("bundled:2026-08-21"), Book.empty(), DeskConfig.from_mapping({"spread_policy": "fixed", "spread_value": 1000})
    )
    names = LIVE[:: max(1, len(LIVE) // 60)]
    answer = desk.quote([RfqRequest((Leg(n),), "two-way", 1.0, ref=n) for n in names])
    refused = [r for r in answer.refusals if r is not None and r.code is RefusalCode.PRICE_BOUNDS]
    assert refused, "expected deep out-of-the-money bids below 0 to be refused"
    market = answer.snapshot.market
    for i, n in enumerate(names):
        got = answer.result(i)
        if hasattr(got, "code"):
            continue
        c = next(c for m, c in zip(CHAIN.names, CHAIN.contracts()) if m == n)
        t = (c.expiry - market.as_of).total_seconds() / (365 * 86400)
        f = float(market.surface("BTC").forward(t))
        upper = f if c.cp > 0 else c.strike
        assert 0 < got.bid["price"] < got.ask["price"] <= upper * 1.0000001, (n, got.bid["price"], got.ask["price"], upper)
