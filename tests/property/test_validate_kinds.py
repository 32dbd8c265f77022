"""validate's comparison, kind by kind (addin.headless.validate.same): numbers within the
tolerance, whole numbers (counts) and texts exactly whatever the tolerance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from addin.headless.validate import same
from addin.headless.values import ExcelError

counts = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
loose = st.floats(min_value=0.0, max_value=0.99)


@given(counts, counts, loose, st.floats(min_value=0.0, max_value=1e6), st.booleans())
def test_two_whole_numbers_are_equal_only_when_equal(a: int, b: int, rtol: float, atol: float, as_float: bool) -> None:
    stored = float(a) if as_float else a
    verdict = same(stored, float(b), rtol, atol)
    assert (verdict is None) == (float(a) == float(b))


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.floats(min_value=-1e-10, max_value=1e-10))
def test_a_number_within_the_default_tolerance_matches(x: float, rel: float) -> None:
    computed = x + 0.5  # never whole when x is whole: the tolerance rule applies
    stored = computed * (1.0 + rel)
    if float(stored).is_integer() and float(computed).is_integer():
        return
    assert same(stored, computed, 1e-9, 1e-9) is None


@given(st.text(max_size=20), st.text(max_size=20), loose)
def test_texts_compare_exactly(a: str, b: str, rtol: float) -> None:
    assert (same(a, b, rtol, 1.0) is None) == (a == b)


def test_error_values_and_booleans_compare_exactly() -> None:
    assert same(ExcelError("#N/A"), ExcelError("#N/A"), 0.5, 1.0) is None
    assert same(ExcelError("#N/A"), ExcelError("#NUM!"), 0.5, 1.0) is not None
    assert same(True, 1.0, 0.5, 1.0) is not None and same(True, True, 0.0, 0.0) is None


def test_a_whole_number_against_a_fraction_uses_the_tolerance() -> None:
    """A price that happens to be whole in the file (568,800) and is 1 ulp off when recomputed."""
    assert same(568_800.0, 568_800.00000000012, 1e-9, 1e-9) is None
