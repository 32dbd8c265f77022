"""The public engine API is documented as STYLE.md asks: numpydoc with Parameters, Returns and a
Notes or Examples section carrying the formula or its source (the doctests run with the suite)."""

from __future__ import annotations

import inspect

import pytest

import pricing
from pricing import desk
from pricing.chain import book_summary_rows
from pricing.daycount import days_to_years, option_times
from pricing.desk import config as desk_config
from pricing.desk import market as desk_market
from pricing.desk import request as desk_request
from pricing.margin import engine
from pricing.revaluation import Market
from pricing.xva import adjustments, quote, rfq

PUBLIC = [getattr(pricing, n) for n in pricing.__all__ if inspect.isfunction(getattr(pricing, n))]
ENTRY_POINTS = [
    engine.margin,
    engine.marginal_im,
    engine.sequential_im,
    engine.margin_basis,
    engine.trade_margins,
    engine.sequential_margins,
    quote.quote_book,
    quote.quote_rfqs,
    quote.side_costs,
    quote.quote_sides,
    rfq.parse_rfqs,
    quote.two_way,
    quote.all_in_price,
    Market.from_chains,
    option_times,
    days_to_years,
    book_summary_rows,
    desk_market.build_snapshot,
    desk_market.open_market,
    desk_market.chain_file_rows,
    desk_config.DeskConfig.from_mapping,
    desk_config.params_from_rows,
    desk_config.coerce,
    desk_config.margin_model,
    desk_request.requests_from_rows,
    desk_request.resolve,
    desk.Desk.quote,
    desk.Book.from_table,
    *(
        f
        for n, f in inspect.getmembers(adjustments, inspect.isfunction)
        if not n.startswith("_") and f.__module__ == adjustments.__name__
    ),
]


@pytest.mark.parametrize("fn", PUBLIC + ENTRY_POINTS, ids=lambda f: f.__qualname__)
def test_public_function_has_numpydoc_with_a_source_or_example(fn) -> None:  # type: ignore[no-untyped-def]
    doc = inspect.getdoc(fn) or ""
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    missing = [s for s in ("Returns",) if s not in doc]
    if params and "Parameters" not in doc:
        missing.append("Parameters")
    if "Notes" not in doc and "Examples" not in doc:
        missing.append("Notes or Examples")
    assert not missing, f"{fn.__qualname__}: docstring lacks {', '.join(missing)}"
