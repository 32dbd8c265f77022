"""Per-expiry values computed once per expiry and spread to the rows, as the per-row definitions give them.

A live source builds a chain and its expiries on every publication; both are now one pass over
the rows instead of a Python loop per row (``MarkBoard.build_chain``'s years to expiry) or a
mask per expiry (``OptionChain.expiries``). Invariants, for any order of the rows and any
assignment of expiries, forwards and times:

- ``OptionChain.expiries()`` is (the distinct expiries ascending, the years to expiry of each
  expiry's first row, the median forward of its rows), bit for bit the definition evaluated with
  a mask per expiry;
- every row of a board's chain has the years to expiry ``option_time(chain time, its expiry)``,
  bit for bit (``pricing.daycount.option_time``, per row).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.chain import load_bundled_chain
from pricing.daycount import option_time
from pricing.desk.live import protocol as rpc
from pricing.desk.live.marks import MarkBoard

CHAIN = load_bundled_chain("BTC", "2026-08-21")


@given(st.data())
def test_expiries_equal_the_per_expiry_definition(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 80))  # 0: an empty chain has three empty arrays (an outside audit saw [nan] forwards)
    mask = np.zeros(len(CHAIN), dtype=bool)
    mask[:n] = True
    days = np.unique(CHAIN.expiry)
    pick = np.array(data.draw(st.lists(st.integers(0, days.size - 1), min_size=n, max_size=n)), dtype=np.intp)
    fwd = np.array(data.draw(st.lists(st.floats(1.0, 1e6), min_size=n, max_size=n)))
    t = np.array(data.draw(st.lists(st.floats(1e-4, 3.0), min_size=n, max_size=n)))
    chain = replace(CHAIN.select(mask), expiry=days[pick], forward=fwd, t_years=t)
    uniq, t_years, forwards = chain.expiries()
    want = np.unique(chain.expiry)
    np.testing.assert_array_equal(uniq, want)
    np.testing.assert_array_equal(t_years, [chain.t_years[chain.expiry == e][0] for e in want])
    np.testing.assert_array_equal(forwards, [np.median(chain.forward[chain.expiry == e]) for e in want])
    assert uniq.shape == t_years.shape == forwards.shape


def _summary(rows: np.ndarray, ts_ms: np.ndarray) -> rpc.SummaryRows:
    entries = [
        {
            "instrument_name": CHAIN.names[i],
            "mark_price": float(CHAIN.mark_price[i]),
            "mark_iv": float(100 * CHAIN.mark_iv[i]),
            "underlying_price": float(CHAIN.forward[i]),
            "underlying_index": "SYN." + CHAIN.names[i].rsplit("-", 2)[0],
            "estimated_delivery_price": CHAIN.spot,
            "creation_timestamp": int(ts),
            "bid_price": None,
            "ask_price": None,
        }
        for i, ts in zip(rows, ts_ms)
    ]
    out = rpc.parse_book_summary(entries)
    assert isinstance(out, rpc.SummaryRows)
    return out


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_a_board_chain_has_each_row_years_to_its_expiry(data: st.DataObject) -> None:
    n = len(CHAIN)
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=60, unique=True)))
    ms0 = int(CHAIN.as_of.timestamp() * 1000)
    ts = ms0 - np.array(data.draw(st.lists(st.integers(0, 60_000), min_size=rows.size, max_size=rows.size)))
    chain = MarkBoard("BTC", _summary(rows, ts)).chain()
    for e, t in zip(chain.expiry, chain.t_years):
        assert t == option_time(chain.as_of, e.astype("datetime64[s]").item().replace(tzinfo=UTC))
