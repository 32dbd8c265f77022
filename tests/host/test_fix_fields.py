"""The FIX gateway's fields: typed codes, one label per text, prices rounded outward, sizes that exist on the wire.

In process (the gateway object, real QuickFIX messages, sends captured), outside review of issues 27/32:

- OrderQty (38) of a QuoteRequest entry that is 0, -1, absent, ``abc`` or ``1_000`` is
  ``bad_quantity`` (658=3, as docs/fix-invariants.md maps it), the entry's label written once;
  one that is 0 at the 8 decimals a size is sent with (1e-320) likewise;
- LegSide (624) other than 1 or 2 is refused with a reason (it was read as buy);
- a lower-case or blank-padded twin of a leg is the same instrument: two legs of it are refused,
  and per-leg contracts cannot be split under ``max_leg_contracts`` (review: 1,000 + 200 of
  ``BTC-25SEP26-150000-C`` filled past a 1,000 per-leg limit);
- a bid goes out rounded down and an offer up to 8 decimals (never inward);
- an order whose OrderQty is not a number is refused 103=13 and journaled, never a 103=99
  RuntimeError from a NOT NULL column; only a UNIQUE violation means "ClOrdID already answered".
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")
fix44 = pytest.importorskip("quickfix44")

from addin.fix.client import quote_request  # noqa: E402 - after the skip
from tests.host.fixkit import NAME  # noqa: E402

DEEP = "BTC-25SEP26-150000-C"  # the reviewer's instrument (listed in the bundled 2026-08-21 chain)


def _f(m: Any, tag: int) -> str | None:
    return m.getField(tag) if m.isSetField(tag) else None


def _type(m: Any) -> str:
    return str(m.getHeader().getField(35))


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    return sent


def _gateway(tmp_path: Path, **risk: float) -> Any:
    from addin.fix.desk import Desk, Limits, MarketSource
    from addin.fix.gateway import QuoteGateway
    from addin.fix.journal import Journal
    from pricing.desk.limits import RiskLimits
    from pricing.portfolio import empty_portfolio

    desk = Desk(MarketSource("bundled"), [], empty_portfolio(), Limits())
    return QuoteGateway(
        desk,
        Journal(tmp_path / "j.sqlite"),
        risk=RiskLimits(**risk),
        kill_file=tmp_path / "kill",
        clock=lambda: desk.market.current().market.as_of,
    )


def _raw_request(req_id: str, qty: str | None, legs: list[tuple[str, str, str | None]] = (), symbol: str = NAME) -> Any:  # type: ignore[assignment]
    """A QuoteRequest whose OrderQty and LegSide are written as given (or left out when None)."""
    msg = fix44.QuoteRequest()
    msg.setField(fix.QuoteReqID(req_id))
    g = fix44.QuoteRequest.NoRelatedSym()
    g.setField(fix.Symbol(symbol))
    if qty is not None:
        g.setField(fix.StringField(38, qty))
    for name, ratio, side in legs:
        leg = fix44.QuoteRequest.NoRelatedSym.NoLegs()
        leg.setField(fix.LegSymbol(name))
        leg.setField(fix.StringField(623, ratio))
        if side is not None:
            leg.setField(fix.StringField(624, side))
        g.addGroup(leg)
    msg.addGroup(g)
    return msg


def _order(cl: str, quote_id: str, side: str, qty: str) -> Any:
    msg = fix44.NewOrderSingle()
    for f in (fix.ClOrdID(cl), fix.Side(side), fix.TransactTime(), fix.OrdType("D")):
        msg.setField(f)
    msg.setField(fix.Symbol(NAME))
    msg.setField(fix.StringField(38, qty))
    msg.setField(fix.QuoteID(quote_id))
    return msg


@pytest.mark.parametrize("qty", ["0", "-1", None, "abc", "1_000", "nan", "inf", "1e400", "1e-320"])
def test_a_quantity_that_is_no_size_is_bad_quantity_named_once(tmp_path: Path, captured: list[Any], qty: str | None) -> None:
    app = _gateway(tmp_path)
    app.on_quote_request(_raw_request("R", qty), "S")
    m = captured[-1]
    text = _f(m, 58) or ""
    assert _type(m) == "AG" and _f(m, 658) == "3", text
    assert text.startswith("QuoteRequest R, NoRelatedSym entry 1, OrderQty (38): ") and text.count("NoRelatedSym entry") == 1, (
        text
    )


@pytest.mark.parametrize("side", ["3", "0", "B", ""])
def test_a_leg_side_other_than_buy_or_sell_is_refused(tmp_path: Path, captured: list[Any], side: str) -> None:
    app = _gateway(tmp_path)
    app.on_quote_request(_raw_request("R", "1", [(NAME, "1", side)], symbol="BTC-S"), "S")
    m = captured[-1]
    assert _type(m) == "AG" and _f(m, 658) == "99" and "leg 1, LegSide (624)" in (_f(m, 58) or ""), _f(m, 58)
    assert app.orders.quotes == {}


@st.composite
def _twin(draw: st.DrawFn) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(DEEP), max_size=len(DEEP)).filter(any))
    return draw(st.sampled_from(["", " ", "\t"])) + "".join(c.lower() if f else c for c, f in zip(DEEP, flips))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(twin=_twin(), first=st.floats(1.0, 999.0))
def test_a_case_or_blank_twin_is_the_same_instrument_on_the_wire(
    tmp_path_factory: pytest.TempPathFactory, twin: str, first: float
) -> None:
    """Review p3: 1,000 + 200 contracts of one instrument through a 1,000 per-leg limit was quoted and filled."""
    sent: list[Any] = []
    old = fix.Session.sendToTarget
    fix.Session.sendToTarget = staticmethod(lambda m, s: sent.append(m))
    try:
        app = _gateway(tmp_path_factory.mktemp("twin"))
        legs = [(DEEP, first, "1"), (twin, 1_200.0 - first, "1")]
        app.on_quote_request(quote_request("R", [{"symbol": "BTC-S", "qty": 1, "legs": legs, "side": "1"}]), "S")
    finally:
        fix.Session.sendToTarget = old
    m = sent[-1]
    assert _type(m) == "AG" and "repeats LegSymbol (600)" in (_f(m, 58) or ""), _f(m, 58)
    assert app.orders.quotes == {}


def test_a_single_twin_leg_is_held_to_the_per_leg_limit(tmp_path: Path, captured: list[Any]) -> None:
    app = _gateway(tmp_path)
    app.on_quote_request(quote_request("R", [{"symbol": "BTC-S", "qty": 1, "legs": [(" " + DEEP.lower(), 1_200, "1")]}]), "S")
    m = captured[-1]
    assert _type(m) == "AG" and _f(m, 658) == "3" and f"leg {DEEP}" in (_f(m, 58) or ""), _f(m, 58)


@given(total=st.floats(1e-6, 1e7), qty=st.floats(1e-3, 1e3), side=st.sampled_from(["bid", "ask"]))
def test_wire_prices_round_outward(total: float, qty: float, side: str) -> None:
    from addin.fix.gateway import wire_price

    sent = wire_price(total, qty, side)
    assert sent is not None
    exact = Decimal(total / qty)  # exact: the desk's price per unit as a float
    assert sent == sent.quantize(Decimal("1e-8"))  # 8 decimals
    if side == "bid":
        assert sent <= exact and exact - sent < Decimal("1e-8")
    else:
        assert sent >= exact and sent - exact < Decimal("1e-8")


def test_a_quote_goes_out_within_the_desks_prices(tmp_path: Path, captured: list[Any]) -> None:
    app = _gateway(tmp_path)
    app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": 3}]), "S")
    q = captured[-1]
    row = app.journal.quote(_f(q, 117))
    bid, ask = row["response"]["bid_price"] / 3, row["response"]["ask_price"] / 3
    sent_bid, sent_ask = Decimal(_f(q, 132)), Decimal(_f(q, 133))  # the wire's text, read exactly
    assert sent_bid <= Decimal(bid) and sent_ask >= Decimal(ask) and sent_bid < sent_ask


@pytest.mark.parametrize("qty", ["nan", "abc", "-1", "0"])
def test_an_order_size_that_is_no_number_is_refused_and_journaled(tmp_path: Path, captured: list[Any], qty: str) -> None:
    app = _gateway(tmp_path)
    app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": 2, "side": "1"}]), "S")
    qid = _f(captured[-1], 117)
    app.on_order(_order("C1", qid, "1", qty), "S")
    er = captured[-1]
    assert _type(er) == "8" and _f(er, 39) == "8" and _f(er, 103) == "13", _f(er, 58)
    assert f"OrderQty (38): give a number > 0 contracts, got {qty!r}" in (_f(er, 58) or "")
    fill = app.journal.answer("S", "C1")
    assert fill is not None and fill.decision.refusal is not None and fill.decision.refusal.code.value == "bad_quantity"
    # The same ClOrdID again is the journal's answer (a replay), not a new decision.
    app.on_order(_order("C1", qid, "1", "2"), "S")
    assert _f(captured[-1], 39) == "8"


def test_only_a_unique_violation_means_already_journaled(tmp_path: Path) -> None:
    from addin.fix.journal import _duplicate

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v REAL NOT NULL, u TEXT UNIQUE)")
    con.execute("INSERT INTO t VALUES ('a', 1.0, 'x')")
    for sql, dup in (
        ("INSERT INTO t VALUES ('a', 2.0, 'y')", True),
        ("INSERT INTO t VALUES ('b', 2.0, 'x')", True),
        ("INSERT INTO t VALUES ('c', NULL, 'z')", False),
    ):
        with pytest.raises(sqlite3.IntegrityError) as err:
            con.execute(sql)
        assert _duplicate(err.value) is dup, sql
