"""The headless engine's batch of calls to one catalogue function: a batch that is one column
filled down (every shared argument the same, every value a plain scalar) is stacked in one step
without grouping the calls one by one; the answers are the grouping's, cell for cell.

Oracle: the same batch through the call-by-call grouping (the path before the one-step check),
compared exactly (the same float, sign included; the same error code and reason).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.excel import catalogue
from addin.excel.catalogue import function_table
from addin.headless.values import ExcelError

_NAN = math.nan
_NUMBERS = st.sampled_from([100.0, 90.0, 110.0, 0.5, 0.25, 1.0, 0.0, -0.0, -1.0, 1e300, _NAN, 3])
_CELLS = st.one_of(
    _NUMBERS,
    st.sampled_from(["C", "P", "call", "x", "", None, True, "#N/A", ExcelError("#N/A", "upstream"), [[1.0, 2.0]], [[100.0]]]),
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, ExcelError) or isinstance(b, ExcelError):
        return isinstance(a, ExcelError) and isinstance(b, ExcelError) and a.code == b.code and a.reason == b.reason
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


def _both(name: str, calls: list[list[Any]]) -> tuple[list[Any], list[Any]]:
    fn = function_table()[name]
    fast = fn.evaluate([list(c) for c in calls])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(catalogue, "_one_group", lambda *a: False)
        slow = fn.evaluate([list(c) for c in calls])
    return fast, slow


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(_CELLS, _NUMBERS, _NUMBERS, _NUMBERS, _NUMBERS), min_size=2, max_size=12),
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.01, "x", None, _NAN]), st.sampled_from(["linear", "inverse", None])),
        min_size=1,
        max_size=2,
    ),
)
def test_a_column_batch_answers_as_the_grouping(rows: list[tuple[Any, ...]], shared: list[tuple[Any, Any]]) -> None:
    """CQ_BLACK calls: row-wise cp, forward, strike, t_years, vol of every kind (errors,
    ranges, text, NaN); shared rate and settle the same in every call, or differing."""
    calls = [[*row, *shared[k % len(shared)]] for k, row in enumerate(rows)]
    fast, slow = _both("CQ_BLACK", calls)
    assert len(fast) == len(slow) == len(calls)
    assert all(map(_same, fast, slow)), (calls, fast, slow)


_EXPIRIES = st.sampled_from([46_290.0, 46_325.0, 46_381.0, 46_250.0, "x", None, ExcelError("#N/A", "up"), [[46_290.0]]])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(_EXPIRIES, min_size=2, max_size=10),
    st.lists(st.sampled_from(["BTC", "ETH", "btc", "XRP"]), min_size=1, max_size=2),
)
def test_a_forward_batch_answers_as_the_grouping(expiries: list[Any], underlyings: list[str]) -> None:
    """CQ_FORWARD calls: one market, the underlying shared or differing between calls,
    expiries of every kind down the rows."""
    calls = [["bundled", underlyings[k % len(underlyings)], e] for k, e in enumerate(expiries)]
    fast, slow = _both("CQ_FORWARD", calls)
    assert all(map(_same, fast, slow)), (calls, fast, slow)


def test_a_repeated_nan_object_is_one_shared_value_and_two_are_not() -> None:
    """The grouping's dict key compares by identity first: one NaN object repeated is one
    group, two NaN objects are two (each answered alone); both paths agree."""
    rows = [["C", 100.0, 100.0 + k, 0.5, 0.3] for k in range(4)]
    one = float("nan")
    for rates in ([one] * 4, [float("nan") for _ in range(4)]):
        fast, slow = _both("CQ_BLACK", [[*r, rate] for r, rate in zip(rows, rates, strict=True)])
        assert all(map(_same, fast, slow))


def test_a_quote_book_column_takes_the_one_step_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A column of plain rows with one market handle never reaches the call-by-call grouping."""
    seen = []
    real = catalogue._one_group
    monkeypatch.setattr(catalogue, "_one_group", lambda *a: seen.append(real(*a)) or seen[-1])
    calls = [["bundled", "BTC", 46_290.0 + (k % 3) * 35] for k in range(50)]
    out = function_table()["CQ_FORWARD"].evaluate(calls)
    assert seen == [True] and all(type(v) is float and v > 0 for v in out)
