"""``fix-acceptor --market deribit...``: the FIX gateway quotes from the live source through the desk
service (in process: real QuickFIX messages, sends captured, as tests/host/test_fix.py does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.live.deribit_server import DeribitTestServer

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")


def test_the_fix_gateway_quotes_from_the_live_market_and_names_the_snapshot(
    tmp_path: Path, server: DeribitTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from addin.fix.client import quote_request
    from addin.fix.desk import Desk, Limits, MarketSource
    from addin.fix.gateway import QuoteGateway
    from addin.fix.journal import Journal
    from pricing.portfolio import empty_portfolio

    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    market = MarketSource(f"deribit:{server.url}")
    try:
        # The test server's recorded instruments expired in real time: admission's clock is the market's.
        app = QuoteGateway(
            Desk(market, [["model", "deribit"]], empty_portfolio(), Limits()),
            Journal(tmp_path / "j.sqlite"),
            clock=lambda: market.current().market.as_of,
        )
        app.on_quote_request(quote_request("R1", [{"symbol": "BTC-27MAR26-90000-C", "qty": 2, "side": None}]), "S")
        (msg,) = sent
        assert msg.getHeader().getField(35) == "S", msg.toString()
        assert float(msg.getField(133)) > float(msg.getField(132)) > 0  # offer above bid
        assert market.current().source.startswith(f"deribit:{server.url} #")
    finally:
        market.close()
