"""One instrument, one canonical name, for every host; futures only as a listed, live delta hedge.

Invariants (issues 27 and 32, outside review of the desk service):

- a name is canonical where a :class:`pricing.desk.Leg` is made (stripped, upper case): a
  lower-case or blank-padded twin of ``BTC-25SEP26-150000-C`` is that instrument, never a second one;
- :meth:`pricing.desk.Desk.quote` refuses a structure naming one instrument in two legs
  (``bad_request``) for every host: typed requests (the CLI, FIX, Block RFQ) and table rows
  (``CQ_RFQ``, ``clearquote quote``) alike;
- a future beside an option is admitted only if the venue lists it (a perpetual of the market's
  underlying, a dated future at an expiry the venue lists options on) and it is live by both
  clocks; and only as a hedge: futures contracts at most the options' (an option's delta is at
  most 1 coin per contract), else ``not_a_hedge``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.desk import Book, Desk, DeskConfig, Leg, RfqRequest, open_market
from pricing.desk.admission import hedge_refusal
from pricing.desk.refusals import Refusal, RefusalCode
from pricing.desk.request import requests_from_rows

NAME = "BTC-25SEP26-150000-C"  # listed in the bundled 2026-08-21 chain
DEC = "BTC-25DEC26-60000-C"


@pytest.fixture(scope="module")
def desk() -> Desk:
    return Desk(open_market("bundled:2026-08-21"), Book.empty(), DeskConfig.from_mapping({"model": "span"}))


@st.composite
def variants(draw: st.DrawFn, name: str = NAME) -> str:
    """``name`` with any letters lower-cased and blanks (space, tab) around it."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    body = "".join(c.lower() if f else c for c, f in zip(name, flips))
    pad = st.text(alphabet=" \t", max_size=3)
    return draw(pad) + body + draw(pad)


@given(variants())
def test_a_leg_holds_the_canonical_name(v: str) -> None:
    assert Leg(v, 2.0).instrument == NAME


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=variants(), first=st.booleans(), ratio=st.floats(0.1, 5.0), side=st.sampled_from(["buy", "sell", "two-way"]))
def test_an_instrument_twice_is_refused_by_the_desk_for_every_host(
    desk: Desk, v: str, first: bool, ratio: float, side: str
) -> None:
    """Typed legs (CLI, FIX, Block RFQ) and a row's ``legs`` text (CQ_RFQ, clearquote quote) reach one rule."""
    pair = [(NAME, 1.0), (v, ratio)] if first else [(v, ratio), (NAME, 1.0)]
    typed = RfqRequest(tuple(Leg(n, r) for n, r in pair), side, 600.0, ref="rfq 1")
    (row,) = requests_from_rows([{"legs": ";".join(f"{n}:{r}" for n, r in pair), "side": side, "quantity": 600}])
    out = desk.quote([typed, row])
    for i in range(2):
        why = out.result(i)
        assert isinstance(why, Refusal) and why.code is RefusalCode.BAD_REQUEST, why
        assert f"leg 2 repeats the instrument {NAME} of leg 1" in why.text


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=variants())
def test_a_variant_name_is_quoted_as_the_instrument(desk: Desk, v: str) -> None:
    out = desk.quote([RfqRequest((Leg(NAME),), "two-way", 3.0), RfqRequest((Leg(v),), "two-way", 3.0)])
    a, b = out.result(0), out.result(1)
    assert not isinstance(a, Refusal) and not isinstance(b, Refusal)
    assert (a.base, a.bid["price"], a.ask["price"]) == (b.base, b.bid["price"], b.ask["price"])


@pytest.mark.parametrize(
    ("future", "code"),
    [
        ("BTC-25SEP55", RefusalCode.NOT_LISTED),  # a well-formed name 29 years away (review p2)
        ("BTC-01JAN27", RefusalCode.NOT_LISTED),  # no BTC option expires 1 Jan 2027
        ("SOL-PERPETUAL", RefusalCode.UNKNOWN_INSTRUMENT),  # no SOL in the bundled market
        ("BTC-21AUG26", RefusalCode.EXPIRED),  # expired at 08:00, before the market's 09:47
    ],
)
def test_a_future_beside_an_option_is_admitted_only_if_listed_and_live(desk: Desk, future: str, code: RefusalCode) -> None:
    why = desk.quote([RfqRequest((Leg(DEC), Leg(future, -0.5)), "buy", 1.0, ref="rfq")]).result(0)
    assert isinstance(why, Refusal) and why.code is code, why


def test_a_future_expired_by_the_wall_clock_is_refused(desk: Desk) -> None:
    """BTC-25SEP26 is live at the market's time but expires before the quote stops being firm by the clock."""
    legs = (Leg(DEC), Leg("BTC-25SEP26", -0.5))
    as_of = desk.snapshot().market.as_of
    live = desk.quote([RfqRequest(legs, "buy", 1.0)], firm_until=as_of + timedelta(seconds=30)).result(0)
    assert not isinstance(live, Refusal), live
    late = desk.quote([RfqRequest(legs, "buy", 1.0)], firm_until=as_of + timedelta(days=40)).result(0)
    assert isinstance(late, Refusal) and late.code is RefusalCode.EXPIRED and "BTC-25SEP26" in late.text


@pytest.mark.parametrize("future", ["BTC-PERPETUAL", "BTC-25SEP26", "BTC-25DEC26"])
def test_a_listed_future_as_a_hedge_is_quoted_and_beyond_a_hedge_refused(desk: Desk, future: str) -> None:
    hedged = desk.quote([RfqRequest((Leg(DEC), Leg(future, -1.0)), "two-way", 2.0)]).result(0)
    assert not isinstance(hedged, Refusal), hedged
    # Review p2/p7: 1e-12 of an option and 100 futures went out with negative bids.
    for option_ratio, futures_ratio in ((1e-12, 100.0), (1.0, 1.5)):
        legs = (Leg(DEC, option_ratio), Leg(future, futures_ratio))
        why = desk.quote([RfqRequest(legs, "two-way", 1.0, ref="rfq")]).result(0)
        assert isinstance(why, Refusal) and why.code is RefusalCode.NOT_A_HEDGE, why
        assert why.code.quote_reject == 99 and "delta hedge" in why.text


@given(
    options=st.lists(st.floats(1e-12, 1e3), min_size=1, max_size=4),
    futures=st.lists(st.floats(1e-12, 1e3), min_size=0, max_size=4),
    signs=st.lists(st.sampled_from([1.0, -1.0]), min_size=8, max_size=8),
)
def test_futures_pass_exactly_when_they_are_at_most_the_options_contracts(
    options: list[float], futures: list[float], signs: list[float]
) -> None:
    names = [f"BTC-25DEC26-{60000 + 1000 * i}-C" for i in range(len(options))] + ["BTC-PERPETUAL", "BTC-25SEP26"] * 2
    ratios = options + futures
    legs = [(n, s * r) for n, r, s in zip(names, ratios, signs)]
    why = hedge_refusal(legs, "rfq")
    assert (why is None) == (sum(futures) <= sum(options)), (legs, why)


@settings(max_examples=10, deadline=None)
@given(v=variants())
def test_cq_rfq_refuses_a_twin_leg_and_quotes_a_twin_name(v: str) -> None:
    """The Excel host (``CQ_RFQ``): a ``legs`` cell with an instrument and its twin is that row's
    error naming the repeat; a lone twin is quoted as the instrument (same price as its canonical name)."""
    import udfs
    from udfs.excel import XlError

    rows = [["rfq_id", "legs", "side", "quantity"], ["r1", f"{NAME}:1;{v}:1", "buy", 600]]
    rows += [["r2", f"{v}:1", "buy", 3], ["r3", f"{NAME}:1", "buy", 3]]
    out = udfs.CQ_RFQ(rows, "none", "bundled:2026-08-21")
    assert isinstance(out[1][0], XlError) and f"repeats the instrument {NAME}" in out[1][0].reason, out[1][0]
    assert isinstance(out[2][0], float) and out[2] == out[3]
