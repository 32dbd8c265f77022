"""Loaders refuse bad files with the file, row and column named."""

from __future__ import annotations

import pytest

from pricing.chain import load_chain_csv
from pricing.errors import DataError, PricingInputError
from pricing.marketdata import load_daily_series, load_history


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


def test_chain_csv_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "chain.csv"
    path.write_text(
        "timestamp,instrument_name,mark_iv,mark_price,underlying_price,index_price\n"
        "2026-01-01T00:00:00Z,BTC-27DEC26-60000-X,50,0.1,90000,90000\n"
    )
    with pytest.raises(DataError, match=r"row 2, column instrument_name.*BTC-27DEC26-60000-C"):
        load_chain_csv(path)
