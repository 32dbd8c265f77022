"""The vectorised option time equals the per-pair one bit for bit, and the catalogue's date
columns (CQ_OPTION_TIME, CQ_FORWARD, CQ_VOL) still answer each cell as it answers alone.

Oracle: :func:`pricing.daycount.option_time` (``timedelta.total_seconds() / 86400 / 365``),
one pair at a time. No tolerance: the vectorised form does the same correctly rounded
operations on the same exact microsecond counts, so equality is exact (``==`` on floats,
sign included).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import udfs
from pricing.daycount import elapsed_option_times, option_time
from pricing.errors import PricingInputError

# 1990-2200, the catalogue's date domain, with microseconds and offsets from -14 h to +14 h
_ZONES = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(datetime(1990, 1, 1), datetime(2200, 1, 1), timezones=_ZONES)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(instants, instants), min_size=1, max_size=40), st.data())
def test_elapsed_option_times_equal_option_time_exactly(pairs: list[tuple[datetime, datetime]], data: st.DataObject) -> None:
    # repeats, as a quote book repeats its expiries: each distinct instant is converted once
    pairs = pairs + data.draw(st.lists(st.sampled_from(pairs), max_size=40))
    start = np.array([p[0] for p in pairs], dtype=object)
    end = np.array([p[1] for p in pairs], dtype=object)
    got = elapsed_option_times(start, end)
    want = [option_time(s, e) for s, e in pairs]
    assert got.dtype == np.float64 and got.shape == (len(pairs),)
    assert got.tolist() == want
    assert [np.signbit(g) for g in got] == [np.signbit(w) for w in want]


@settings(max_examples=100, deadline=None)
@given(instants, st.lists(instants, min_size=1, max_size=6), st.integers(1, 4))
def test_one_start_broadcasts_over_a_grid(start: datetime, ends: list[datetime], width: int) -> None:
    grid = np.array([[e] * width for e in ends], dtype=object)
    got = elapsed_option_times(start, grid)
    assert got.shape == grid.shape
    assert got.tolist() == [[option_time(start, e)] * width for e in ends]


def test_naive_or_non_dates_are_refused_like_option_time() -> None:
    aware = datetime(2026, 8, 21, 8, tzinfo=UTC)
    with pytest.raises(PricingInputError, match="no timezone"):
        elapsed_option_times(aware, [aware, datetime(2026, 9, 25, 8)])
    with pytest.raises(PricingInputError, match="expected a datetime"):
        elapsed_option_times([46_300.0], aware)
    assert elapsed_option_times(aware, np.empty((0, 1), dtype=object)).shape == (0, 1)


# a column of expiry cells: serials (whole days take 08:00 UTC, some before the bundled market's
# 2026-08-21 time, so expired), date/times, text, blanks, errors
_EXPIRY_CELLS = st.sampled_from(
    [46_290.0, 46_290.5, 46_325.0, 46_381.0, 46_250.0, 46_255.3, 46_255.0, "2026-12-25T08:00Z", "x", None, True, 3.0, "#N/A"]
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_EXPIRY_CELLS, min_size=1, max_size=15))
def test_date_columns_answer_each_cell_as_alone(column: list[object]) -> None:
    """A column of expiries gives, cell for cell, what each cell gives alone: the same float
    or the same error code and reason (expired, not a date, blank)."""
    calls = {
        "CQ_OPTION_TIME": lambda col: udfs.CQ_OPTION_TIME(46_255.25, col),
        "CQ_FORWARD": lambda col: udfs.CQ_FORWARD("bundled", "BTC", col),
        "CQ_VOL": lambda col: udfs.CQ_VOL("bundled", "BTC", 70_000.0, col),
    }
    for name, fn in calls.items():
        whole = fn([[c] for c in column])
        for i, c in enumerate(column):
            alone = fn([[c]])[0][0]
            got = whole[i][0]
            assert type(got) is type(alone) and got == alone, (name, c, got, alone)
            assert getattr(got, "reason", None) == getattr(alone, "reason", None), (name, c)
