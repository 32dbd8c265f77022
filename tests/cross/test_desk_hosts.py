"""Every host reaches the same ``Desk.quote`` after one parse, and gets the same numbers.

One set of RFQs is quoted from each host: the Excel catalogue (``CQ_RFQ``, sides view), the
CLI (``clearquote quote``'s table path), the real FIX gateway (a QuickFIX QuoteRequest message
through :class:`addin.fix.gateway.QuoteGateway`'s handler, its legs in NoLegs) and Block RFQ
(typed legs). The hosts build their requests differently (sheet cells, CSV fields,
FIX groups, a JSON notification), so agreement is a cross-check of each host's translation; the
numbers below them are one computation, so they must agree exactly (rtol 1e-12 allows only for
a different association order in a sum, which none of them has).

The walk is counted, not assumed: a spy on :meth:`pricing.desk.Desk.quote` and on the row reader
``pricing.xva.rfq.read_row`` shows one desk call per host call and one read per text row
(typed requests: none).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
import quickfix as fix

import pricing.desk.request as request_module
import udfs
from addin.cli import quote as cli_quote
from addin.fix.block_rfq import maker_quotes
from addin.fix.client import quote_request
from addin.fix.desk import Desk as FixDesk
from addin.fix.desk import MarketSource
from addin.fix.gateway import UDF, QuoteGateway
from addin.fix.journal import Journal
from pricing.desk import Leg, RfqRequest
from pricing.desk.service import Desk
from pricing.portfolio import empty_portfolio

HEADER = ["rfq_id", "legs", "side", "quantity"]
ROWS = [
    ["R1", "BTC-25SEP26-60000-C", "buy", 10.0],
    ["R2", "BTC-25SEP26-60000-C:1;BTC-25SEP26-70000-C:-1", "two-way", 5.0],
    ["R3", "BTC-30OCT26-50000-P", "sell", 2.0],
]
PARAMS = [["model", "span"]]
#: What each Desk.quote call answered (the spy keeps them: the gateway's wire carries 6 decimals).
ANSWERS: list[Any] = []
FIGURES = ("base", "bid_delta_im", "ask_delta_im", "bid_fva_im", "bid_kva", "bid_mva_vm", "bid_ccva", "spread")


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    quote, read = Desk.quote, request_module.read_row

    def spy_quote(self: Desk, requests: Any, **kw: Any) -> Any:
        calls["Desk.quote"] += 1
        answer = quote(self, requests, **kw)
        ANSWERS.append(answer)
        return answer

    def spy_read(row: Any, where: str = "") -> Any:
        calls["read_row"] += 1
        return read(row, where)

    monkeypatch.setattr(Desk, "quote", spy_quote)
    monkeypatch.setattr(request_module, "read_row", spy_read)
    return calls


def _excel() -> np.ndarray:
    out = udfs.CQ_RFQ([HEADER, *ROWS], "none", "bundled:2026-08-21", [*PARAMS, ["columns", "sides"]], True)
    cols = out[0]
    pick = ["base", "delta_im_bid", "delta_im_ask", "bid_fva", "bid_kva", "bid_mva", "bid_ccva", "bid_spread"]
    return np.array([[float(r[cols.index(c)]) for c in pick] for r in out[1:]])


def _cli() -> np.ndarray:
    desk = cli_quote.open_desk("bundled:2026-08-21", None, PARAMS, None)
    rows = cli_quote.quote_table([HEADER, *ROWS], desk)
    cols = list(cli_quote.QUOTE_COLUMNS)
    pick = ["base", "delta_im_bid", "delta_im_ask", "bid_fva", "bid_kva", "bid_mva", "bid_ccva", "bid_spread"]
    return np.array([[float(r[cols.index(c)]) for c in pick] for r in rows])


FIX_SIDE = {"buy": "1", "sell": "2", "two-way": None}


def _entry(legs: str, side: str, qty: float) -> dict[str, Any]:
    """A NoRelatedSym entry: one instrument in Symbol (55), a structure's legs in NoLegs (555)."""
    parts = [p.partition(":") for p in legs.split(";")]
    e: dict[str, Any] = {"symbol": parts[0][0], "qty": qty, "side": FIX_SIDE[side]}
    if len(parts) > 1:
        e["symbol"] = "STRATEGY"
        e["legs"] = [(n, abs(float(r or 1)), "1" if float(r or 1) > 0 else "2") for n, _, r in parts]
    return e


def _gateway(tmp: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[QuoteGateway, list[Any]]:
    """The real gateway on the bundled market, its clock at the market's time; messages it sends are kept."""
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    desk = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio())
    as_of = desk.market.current().market.as_of
    return QuoteGateway(desk, Journal(tmp / "journal.sqlite"), clock=lambda: as_of), sent


def _fix_gateway(tmp: Any, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    app, sent = _gateway(tmp, monkeypatch)
    ANSWERS.clear()
    app.on_quote_request(quote_request("Q", [_entry(*r[1:]) for r in ROWS]), "SESSION")
    assert [m.getHeader().getField(35) for m in sent] == ["S"] * len(ROWS)
    answer = ANSWERS[-1]
    figures = np.array([[answer.result(i).figures()[k] for k in FIGURES] for i in range(len(ROWS))], dtype=float)
    # What went out on the wire is those figures, at the 6 decimals the Quote carries.
    wire = np.array([[float(m.getField(UDF[k])) for k in FIGURES] for m in sent])
    np.testing.assert_allclose(wire, figures, rtol=0, atol=5e-7)
    return figures


def _typed() -> list[RfqRequest]:
    out = []
    for _, legs, side, qty in ROWS:
        parts = [p.partition(":") for p in str(legs).split(";")]
        out.append(RfqRequest(tuple(Leg(n, float(r) if r else 1.0) for n, _, r in parts), str(side), float(qty)))
    return out


def _fix_typed() -> np.ndarray:
    desk = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio())
    answer = desk.quote_requests(_typed())
    return np.array([[answer.result(i).figures()[k] for k in FIGURES] for i in range(len(ROWS))], dtype=float)  # type: ignore[union-attr]


def test_every_host_one_desk_call_one_parse_same_numbers(
    walk: Counter[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {}
    for host, run, reads in (
        ("excel", _excel, len(ROWS)),
        ("cli", _cli, len(ROWS)),
        ("fix gateway", lambda: _fix_gateway(tmp_path, monkeypatch), 0),
        ("fix typed legs", _fix_typed, 0),
    ):
        walk.clear()
        results[host] = run()
        assert walk["Desk.quote"] == 1, (host, walk)
        assert walk["read_row"] == reads, (host, walk)
    for host, figures in results.items():
        np.testing.assert_allclose(figures, results["excel"], rtol=1e-12, atol=0, err_msg=host)


def test_block_rfq_quotes_through_the_desk_with_typed_legs(walk: Counter[str]) -> None:
    """The R2 call spread as a Block RFQ notification: one desk call, no text parse, the same
    two-way figures as the FIX desk (the maker quote splits them over the legs)."""
    desk = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio())
    note = {
        "block_rfq_id": 7,
        "amount": 5.0,
        "legs": [
            {"instrument_name": "BTC-25SEP26-60000-C", "direction": "buy", "ratio": 1},
            {"instrument_name": "BTC-25SEP26-70000-C", "direction": "sell", "ratio": 1},
        ],
    }
    out = maker_quotes(note, desk)
    assert walk["Desk.quote"] == 1 and walk["read_row"] == 0
    fix = _fix_typed()[1]
    assert out["breakdown_usd"]["bid_delta_im"] == pytest.approx(fix[1], rel=1e-12)
    assert out["quotes"][0]["mid_usd"] == pytest.approx(fix[0], rel=1e-12)
    assert "snapshot" in out["market"]


def test_a_ratio_of_nine_significant_digits_is_quoted_exactly(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """LegRatioQty 1.23456789 reaches the desk as 1.23456789 (the review found it quoted as 1.23457, the
    text round trip's 6 digits): the gateway's quote equals a typed request's with that exact ratio."""
    ratio = 1.23456789
    a, b = "BTC-25SEP26-65000-C", "BTC-25SEP26-70000-C"
    app, sent = _gateway(tmp_path, monkeypatch)
    ANSWERS.clear()
    monkeypatch.setattr(Desk, "quote", _keep(Desk.quote))
    app.on_quote_request(quote_request("R", [{"symbol": "X", "qty": 10, "legs": [(a, 1.0, "1"), (b, ratio, "2")]}]), "S")
    (answer,) = ANSWERS
    assert answer.requests[0].legs[1].ratio == -ratio
    assert answer.batch.trades.legs.quantity.tolist() == [10.0, -10.0 * ratio]
    typed = FixDesk(MarketSource("bundled:2026-08-21"), PARAMS, empty_portfolio()).quote_requests(
        [RfqRequest((Leg(a, 1.0), Leg(b, -ratio)), "two-way", 10.0)]
    )
    assert float(answer.table.base[0]) == float(typed.table.base[0])
    assert sent[0].getHeader().getField(35) == "S"


def _keep(quote: Any) -> Any:
    def spy(self: Desk, requests: Any, **kw: Any) -> Any:
        answer = quote(self, requests, **kw)
        ANSWERS.append(answer)
        return answer

    return spy


def test_the_desk_admits_for_every_host(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A well-formed strike the venue does not list (BTC-25SEP26-61234-C; the review's case, which
    ``Desk.quote`` quoted at 17,618.85 for the CLI and Excel while Block RFQ refused it) is refused
    by the desk with ``not_listed`` for every host: Excel's error text, the CLI's failed row, FIX 658=1,
    Block RFQ's typed refusal."""
    from addin.fix.block_rfq import BlockRfqRefused
    from pricing.desk import RefusalCode

    name = "BTC-25SEP26-61234-C"
    rows = [HEADER, ["R1", name, "buy", 1.0]]
    excel = udfs.CQ_RFQ(rows, "none", "bundled:2026-08-21", [*PARAMS, ["columns", "sides"]], True)
    assert "not among" in str(excel[1]) and "17618" not in str(excel[1])
    cli = cli_quote.quote_table(rows, cli_quote.open_desk("bundled:2026-08-21", None, PARAMS, None))
    assert "not among" in str(cli[0])
    app, sent = _gateway(tmp_path, monkeypatch)
    app.on_quote_request(quote_request("Q", [{"symbol": name, "qty": 1}]), "S")
    assert sent[0].getHeader().getField(35) == "AG" and sent[0].getField(658) == "1" and "not among" in sent[0].getField(58)
    note = {"block_rfq_id": 1, "amount": 1, "legs": [{"instrument_name": name, "direction": "buy", "ratio": 1}]}
    with pytest.raises(BlockRfqRefused) as refused:
        maker_quotes(note, app.desk)
    assert refused.value.refusal.code is RefusalCode.NOT_LISTED


def test_one_size_limit_for_the_desk_and_the_gateway(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``max_contracts`` has one home, ``DeskConfig.risk`` (the review found ``Limits.max_quantity`` and
    ``RiskLimits.max_contracts`` both set, able to disagree): the params' value is what the desk refuses
    by, and the limits given to the gateway are the desk's own object."""
    from pricing.desk import Book, DeskConfig, RefusalCode, open_market
    from pricing.desk.limits import RiskLimits

    config = DeskConfig.from_mapping({"model": "span", "max_contracts": 5})
    assert config.risk == RiskLimits(max_contracts=5)
    desk = Desk(open_market("bundled:2026-08-21"), Book.empty(), config)
    over = desk.quote([RfqRequest((Leg("BTC-25SEP26-60000-C"),), "buy", 6.0, ref="r")]).result(0)
    assert over.code is RefusalCode.LIMIT_EXCEEDED and "max_contracts = 5" in over.text  # type: ignore[union-attr]
    app, sent = _gateway(tmp_path, monkeypatch)
    limits = RiskLimits(max_contracts=7)
    app2 = QuoteGateway(app.desk, Journal(tmp_path / "j2.sqlite"), risk=limits, clock=app.clock)
    assert app2.risk is limits and app2.desk.service.config.risk is limits
    app2.on_quote_request(quote_request("Q", [{"symbol": "BTC-25SEP26-60000-C", "qty": 8}]), "S")
    assert sent[-1].getField(658) == "3" and "max_contracts" in sent[-1].getField(58)
