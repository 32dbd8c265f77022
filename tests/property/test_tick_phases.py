"""The phases of ``python -m bench live-fix`` (``bench.live_phases.breakdown``) add up to its latency.

Invariant, for any sequence of mark arrivals (each decoded some time after), publications (each
taking some time, carrying the marks applied before it started) and Quotes (each priced on the
snapshot current when its request started, sent some time after): the same mark messages as
``bench.live_fix.tick_to_quote`` counts, each with five phases >= 0 whose sum is its latency
(to 1e-12 s: five differences of one clock's readings), the first of them ending when its board
was updated and the third when the first snapshot carrying it was published.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bench.live_fix import tick_to_quote
from bench.live_phases import PHASES, breakdown


@given(st.data())
def test_the_phases_of_each_mark_add_up_to_its_tick_to_quote_latency(data: st.DataObject) -> None:
    steps = data.draw(st.lists(st.sampled_from(["mark", "snapshot", "quote"]), min_size=1, max_size=60))
    t = 0.0
    arrivals, applied, published, starts, quotes, tags = [], [], [], {}, [], []
    last_applied_arrival, version = -1.0, 0
    for step in steps:
        t += data.draw(st.floats(min_value=0.001, max_value=1.0))
        took = data.draw(st.floats(min_value=0.0, max_value=0.05))
        if step == "mark":
            arrivals.append(t)
            applied.append(t + took)
            last_applied_arrival = t  # the board is updated before anything else runs
        elif step == "snapshot":
            version += 1
            starts[version] = t
            published.append((last_applied_arrival, t + took, version))
        elif version:
            # on the current snapshot, or (rarely) the one before it: read just as the next was published
            v = version if version == 1 or data.draw(st.booleans()) else version - 1
            quotes.append((t, t + took, v))
            tags.append((t + took, f"replay:feed@1 #{v} snapshot 0123456789abcdef"))
        t += took
    rows = np.array(published).reshape(-1, 3)
    arr = np.array(arrivals)
    lat, _, _ = tick_to_quote(arr, rows, tags)
    b = breakdown(arr, np.array(applied), rows, starts, quotes)
    total = sum(b[p] for p in PHASES)
    assert b["mark"].size == lat.size
    np.testing.assert_allclose(total, lat, rtol=0, atol=1e-12)
    for p in PHASES:
        assert np.all(b[p] >= 0), p
    m = b["mark"]
    np.testing.assert_allclose(arr[m] + b["decode"], np.array(applied)[m], rtol=0, atol=1e-12)
    first = {int(v): float(p) for _, p, v in rows}
    ends = arr[m] + b["decode"] + b["wait_publication"] + b["publish"]
    np.testing.assert_allclose(ends, [first[int(v)] for v in b["version"]], rtol=0, atol=1e-12)
    for mark, v in zip(m, b["version"]):  # the first snapshot carrying it: it does, the one before does not
        received = {int(x): r for r, _, x in rows}
        assert received[int(v)] >= arr[mark]
        assert int(v) == 1 or received[int(v) - 1] < arr[mark]


def test_no_quote_no_phases() -> None:
    b = breakdown(np.array([1.0]), np.array([1.001]), np.array([[1.0, 1.01, 1]]), {1: 1.005}, [])
    assert all(b[p].size == 0 for p in PHASES)
