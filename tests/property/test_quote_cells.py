"""A quote table's cells (``QuoteTable.cells``, the one home of "blank the side not quoted" that
``CQ_RFQ`` and ``clearquote quote`` both show), tested for every mix of sides drawn.

Guarantee: in either view, a trade's ``bid`` cell is blank (``""``) exactly when the client buys
(or price sanity refused the trade), its ``ask`` cell exactly when the client sells (or refused);
every other cell is the finite number :meth:`QuoteTable.columns` holds there, unchanged.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.desk import Book, Desk, DeskConfig, FixedSource, Leg, RfqRequest, open_market
from pricing.xva.quote import TABLE_COLUMNS

LIVE = ["BTC-25SEP26-60000-C", "BTC-25SEP26-70000-C", "BTC-25SEP26-50000-P", "BTC-30OCT26-65000-C"]


@pytest.fixture(scope="module")
def desk() -> Desk:
    source = FixedSource(open_market("bundled:2026-08-21").current())
    return Desk(source, Book.empty(), DeskConfig.from_mapping({"model": "span"}))


requests = st.lists(
    st.builds(
        lambda name, side, qty: RfqRequest((Leg(name),), side, qty),
        st.sampled_from(LIVE),
        st.sampled_from(["buy", "sell", "two-way"]),
        st.sampled_from([0.5, 1.0, 10.0]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests, st.sampled_from(sorted(TABLE_COLUMNS)))
def test_only_the_side_not_quoted_is_blank(desk: Desk, reqs: list[RfqRequest], view: str) -> None:
    table = desk.quote(reqs).table
    values, cells = table.columns(view), table.cells(view)
    assert len(cells) == len(reqs) and all(len(row) == len(TABLE_COLUMNS[view]) for row in cells)
    for t, (req, row) in enumerate(zip(reqs, cells)):
        refused = bool(table.refusals) and table.refusals[t] is not None
        assert (row[-2] == "") == (req.side == "buy" or refused), (req.side, row)
        assert (row[-1] == "") == (req.side == "sell" or refused), (req.side, row)
        for c, cell in enumerate(row):
            if cell != "":
                assert isinstance(cell, float) and math.isfinite(cell) and cell == values[t, c]


def test_a_table_of_no_trades_has_no_cells(desk: Desk) -> None:
    assert desk.quote([RfqRequest((Leg("BTC-NOTANAME"),), "buy", 1.0)]).table.cells("summary") == []
