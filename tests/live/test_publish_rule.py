"""When the live source publishes a change (``pricing.desk.live.source.publication_time``).

Invariants, for any arrival pattern of changes (new marks, landed refits) and any interval,
with the publisher modelled as the source runs it (one pending publication at a time; a change
that arrives while one is pending joins it):
- publications are at least ``publish_interval_s`` apart;
- every change is published no earlier than it arrived and at most ``publish_interval_s`` later;
- a change arriving a full interval after the last publication is published when it arrives
  (the leading edge: no timer to wait for).
"""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from pricing.desk.live.source import publication_time


def _run(gaps: list[float], interval: float) -> tuple[list[float], list[tuple[float, float]], list[tuple[float, float]]]:
    """Publication times; (arrival, publication) of each change; (arrival, publication) of each
    change that arrived a full interval after the last publication with none pending."""
    last, pending = -math.inf, None
    pubs: list[float] = []
    served: list[tuple[float, float]] = []
    quiet: list[tuple[float, float]] = []
    t = 0.0
    for gap in gaps:
        t += gap
        if pending is not None and pending < t:  # the pending publication happened before this change
            pubs.append(pending)
            last, pending = pending, None
        if pending is None:
            pending = publication_time(last, t, interval)
            if t - last >= interval:
                quiet.append((t, pending))
        served.append((t, pending))
    if pending is not None:
        pubs.append(pending)
    return pubs, served, quiet


@given(
    st.lists(st.floats(min_value=0.0, max_value=0.5, allow_nan=False), min_size=1, max_size=200),
    st.floats(min_value=0.001, max_value=0.2, allow_nan=False),
)
def test_publications_are_spaced_and_every_change_is_published_within_one_interval(gaps: list[float], interval: float) -> None:
    pubs, served, quiet = _run(gaps, interval)
    assert all(b - a >= interval * (1 - 1e-12) for a, b in itertools.pairwise(pubs))
    assert all(arrived <= at <= arrived + interval * (1 + 1e-12) for arrived, at in served)
    assert quiet and quiet[0] == (gaps[0], gaps[0])  # the first change is published on arrival
    assert all(at == arrived for arrived, at in quiet)
