"""A column answers cell for cell what each cell answers alone.

The catalogue converts each distinct cell of a range once and runs the XVA formulas once per
distinct row of inputs (what makes a million-cell column fast); that must be invisible: the
same values, the same errors with the same reasons, 0.0 and -0.0 kept apart, two #N/A cells
with different reasons kept apart.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

import udfs
from udfs.excel import XlError

CELLS = [
    "C",
    "c",
    "P",
    "call",
    " put ",
    1.0,
    -1.0,
    1,
    True,
    0.0,
    -0.0,
    None,
    "",
    math.nan,
    math.inf,
    0.25,
    55_000.0,
    "x",
    "BTC-25SEP26-80000-P",
    "BTC-PERPETUAL",
    XlError("#N/A", "a: one reason"),
    XlError("#N/A", "b: another reason"),
]
columns = st.lists(st.sampled_from(CELLS), min_size=1, max_size=12)


def _same(a: object, b: object) -> bool:
    if isinstance(a, XlError) or isinstance(b, XlError):
        return isinstance(a, XlError) and isinstance(b, XlError) and str(a) == str(b) and a.reason == b.reason
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


def _cellwise(fn, column: list[object], rest: list[object]) -> None:  # type: ignore[no-untyped-def]
    whole = fn([[c] for c in column], *rest)
    for i, c in enumerate(column):
        alone = fn([[c]], *rest)
        assert len(alone) == 1
        assert all(_same(x, y) for x, y in zip(whole[i], alone[0], strict=True)), (c, whole[i], alone[0])


@given(columns)
@settings(max_examples=60)
def test_black_column_of_option_types(column: list[object]) -> None:
    _cellwise(udfs.CQ_BLACK, column, [60_000.0, 55_000.0, 0.25, 0.55])


@given(columns)
@settings(max_examples=60)
def test_black_column_of_strikes(column: list[object]) -> None:
    _cellwise(lambda k, *r: udfs.CQ_BLACK("C", 60_000.0, k, *r), column, [0.25, 0.55])


@given(columns)
@settings(max_examples=60)
def test_instrument_column(column: list[object]) -> None:
    _cellwise(udfs.CQ_INSTRUMENT, column, [])


@given(columns)
@settings(max_examples=60)
def test_kva_column_of_exposures(column: list[object]) -> None:
    _cellwise(udfs.CQ_KVA, column, [0.02, 0.08, 0.1])


@given(columns)
@settings(max_examples=60)
def test_option_time_column(column: list[object]) -> None:
    _cellwise(udfs.CQ_OPTION_TIME, column, [46_300.0])
