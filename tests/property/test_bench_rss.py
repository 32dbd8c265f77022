"""The memory bookkeeping of ``python -m bench live`` (``bench.live._rss_course``): RSS at each
tenth of a run and its growth after the first quarter, the figure behind "memory flat over an
hour of marks" (docs/live.md)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bench.live import _rss_course


@given(
    st.floats(1.0, 1e4),
    st.floats(-100.0, 100.0),
    st.integers(2, 400),
    st.floats(0.1, 1e4),
)
def test_growth_after_the_first_quarter_of_a_linear_course(base: float, slope: float, n: int, span: float) -> None:
    """RSS growing linearly by ``slope`` MB over the run grows by 3/4 of it after the first quarter."""
    samples = [(span * i / (n - 1), base + slope * i / (n - 1)) for i in range(n)]
    out = _rss_course(samples)
    assert math.isclose(out["rss_growth_after_first_quarter_mb"], 0.75 * slope, rel_tol=1e-9, abs_tol=1e-9 * base)
    assert len(out["rss_tenths_mb"]) == 11
    assert math.isclose(out["rss_tenths_mb"][0], base) and math.isclose(
        out["rss_tenths_mb"][-1], base + slope, abs_tol=1e-9 * base
    )


def test_a_start_spike_is_not_growth_and_too_few_samples_say_so() -> None:
    # memory built in the first tenth (fits, caches), then flat: no growth
    samples = [(0.0, 100.0), (1.0, 250.0)] + [(float(i), 250.0) for i in range(2, 41)]
    assert _rss_course(samples)["rss_growth_after_first_quarter_mb"] == 0.0
    assert math.isnan(_rss_course([(0.0, 1.0)])["rss_growth_after_first_quarter_mb"])
