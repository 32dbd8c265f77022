"""Properties of the headless engine's Excel lookups: on sorted data of one type the binary
search is the textbook answer (the largest value not above the lookup value); blanks and
other types between sorted values never change it; the -1 scan is its mirror."""

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless.lookups import approximate, descending, exact

_nums = st.lists(st.integers(-50, 50).map(float), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(_nums, st.integers(-60, 60).map(float))
def test_sorted_numbers_give_the_largest_value_not_above(values: list[float], x: float) -> None:
    data = sorted(values)
    want = bisect.bisect_right(data, x) - 1
    assert approximate(data, x) == want  # the last of a run of equal values, as Excel


@settings(max_examples=200, deadline=None)
@given(_nums, st.integers(-60, 60).map(float), st.lists(st.sampled_from([None, "txt", True]), max_size=40), st.randoms())
def test_blanks_and_other_types_between_sorted_values_are_skipped(values, x, noise, rnd) -> None:  # type: ignore[no-untyped-def]
    data: list[object] = list(sorted(values))
    for item in noise:
        data.insert(rnd.randint(0, len(data)), item)
    got = approximate(data, x)
    numbers = [v for v in data if isinstance(v, float)]
    want = bisect.bisect_right(numbers, x) - 1
    if want < 0:
        assert got == -1
    else:
        assert isinstance(data[got], float) and data[got] == numbers[want]


@settings(max_examples=200, deadline=None)
@given(_nums, st.integers(-60, 60).map(float))
def test_descending_data_give_the_smallest_value_not_below(values: list[float], x: float) -> None:
    data = sorted(values, reverse=True)
    got = descending(data, x)
    if x in data:  # an equal value: its first position, as exact match
        assert got == data.index(x) == exact(data, x)
    else:
        above = [i for i, v in enumerate(data) if v > x]
        assert got == (above[-1] if above else -1)
