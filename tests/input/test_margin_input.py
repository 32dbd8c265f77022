"""Bad input to the margin engine: a clear error naming the field, never a number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.margin.engine import margin
from pricing.margin.var import ScenarioVarModel, hvar_model
from pricing.market import Market
from pricing.portfolio import from_contracts, portfolio_from_rows
from tests.conftest import EXPIRY, NOW

HVAR = hvar_model()


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_alpha_outside_unit_interval_is_refused(alpha: float) -> None:
    with pytest.raises(PricingInputError, match="alpha"):
        ScenarioVarModel(alpha=alpha)


def test_expired_option_is_refused(seed_market: Market) -> None:
    old = from_contracts([OptionContract("BTC", NOW - timedelta(days=1), 50_000.0, 1)], [1])
    with pytest.raises(PricingInputError, match="expired"):
        margin(old, seed_market, HVAR)


def test_underlying_without_market_or_history_is_refused(seed_market: Market) -> None:
    sol = from_contracts([OptionContract("SOL", EXPIRY, 150.0, 1)], [1])
    with pytest.raises(PricingInputError, match="underlying"):
        margin(sol, seed_market, HVAR)


def test_portfolio_table_errors_name_row_and_column() -> None:
    with pytest.raises(PricingInputError, match=r"row 3.*instrument 'BTC-XX'"):
        portfolio_from_rows([{"instrument": "BTC-PERPETUAL", "quantity": 1}, {"instrument": "BTC-XX", "quantity": 1}])
    with pytest.raises(PricingInputError, match=r"row 2, column quantity"):
        portfolio_from_rows([{"Instrument": "BTC-27DEC26-60000-C", "Quantity": "ten"}])
    p = portfolio_from_rows(
        [{"underlying": "btc", "type": "Put", "expiry": "2026-12-25", "strike": 50000, "quantity": -2, "settle": "linear"}]
    )
    assert p.names == ("BTC-25DEC26-50000-P",) and not p.inverse[0] and p.quantity[0] == -2
