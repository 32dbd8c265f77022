"""``pricing.arrays.option_signs`` reads every element on its own.

An Excel range mixing text and numbers (``"C"`` in one cell, ``-1`` in the next) reaches the
engine as a Python list, which numpy turns into text (``-1`` becomes ``"-1"``). The guarantee:
for any list or 2-D range of the accepted spellings, mixed in any way, each element maps to its
own sign and the shape is kept; anything else is refused with the element named.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.arrays import option_signs
from pricing.errors import PricingInputError


def _case_variants(word: str) -> st.SearchStrategy[str]:
    """``word`` in any mix of cases, with optional surrounding spaces (a typed cell)."""
    cases = st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    )
    return st.tuples(st.sampled_from(["", " "]), cases, st.sampled_from(["", " "])).map("".join)


#: (the cell as given, the sign it means): every accepted spelling of a call and a put.
SPELLING = st.one_of(
    st.sampled_from(["c", "call"]).flatmap(_case_variants).map(lambda s: (s, 1.0)),
    st.sampled_from(["p", "put"]).flatmap(_case_variants).map(lambda s: (s, -1.0)),
    st.sampled_from([1, 1.0, np.int64(1), np.float64(1.0), "1", "+1", "1.0"]).map(lambda v: (v, 1.0)),
    st.sampled_from([-1, -1.0, np.int64(-1), np.float64(-1.0), "-1", "-1.0"]).map(lambda v: (v, -1.0)),
)


@given(cells=st.lists(SPELLING, min_size=1, max_size=12))
def test_a_mixed_list_maps_each_element_to_its_own_sign(cells: list[tuple[object, float]]) -> None:
    signs = option_signs([c for c, _ in cells])
    assert signs.dtype == np.float64
    assert signs.tolist() == [s for _, s in cells]


@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
        lambda rc: st.tuples(st.just(rc), st.lists(SPELLING, min_size=rc[0] * rc[1], max_size=rc[0] * rc[1]))
    )
)
def test_a_mixed_range_keeps_its_shape(shape: tuple[tuple[int, int], list[tuple[object, float]]]) -> None:
    """A 2-D range (rows of cells, as xlwings gives it) comes back 2-D, element for element."""
    (rows, cols), cells = shape
    grid = [[cells[r * cols + k][0] for k in range(cols)] for r in range(rows)]
    want = [[cells[r * cols + k][1] for k in range(cols)] for r in range(rows)]
    assert option_signs(grid).tolist() == want


def test_the_reported_case() -> None:
    """The review's case: ``["C", -1]`` raised because numpy had made -1 the text '-1'."""
    assert option_signs(["C", -1]).tolist() == [1.0, -1.0]


@pytest.mark.parametrize(
    "bad, named",
    [
        (["C", True], "True"),
        (["C", None], "None"),
        (["C", float("nan")], "nan"),
        (["C", 2], "'2'"),
        (["C", "0"], "'0'"),
        (["C", "1.5"], "'1.5'"),
        (["C", "inf"], "'inf'"),
        (["C", "calls"], "'calls'"),
        (["C", ""], "''"),
        ([0.5, -1], "0.5"),
    ],
)
def test_anything_else_in_a_mixed_list_is_refused_by_name(bad: list[object], named: str) -> None:
    with pytest.raises(PricingInputError, match=r"^cp: .*allowed") as err:
        option_signs(bad)
    assert named in str(err.value)
    assert "np.str_" not in str(err.value)


def test_a_ragged_range_is_a_named_error_not_a_numpy_one() -> None:
    with pytest.raises(PricingInputError, match="cp: a ragged range"):
        option_signs([["c"], ["c", "p"]])


@given(
    cells=st.lists(SPELLING, min_size=1, max_size=8), bad=st.sampled_from(["x", "2", "True", "None", " "]), at=st.integers(0, 8)
)
def test_one_bad_element_anywhere_refuses_the_range(cells: list[tuple[object, float]], bad: str, at: int) -> None:
    """A plausible sign is never returned for a range holding a value that is not one."""
    values: list[object] = [c for c, _ in cells]
    values.insert(min(at, len(values)), bad)
    with pytest.raises(PricingInputError, match="cp: "):
        option_signs(values)
