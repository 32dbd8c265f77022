"""The latency bookkeeping of ``python -m bench live-fix`` (``bench.live_fix.tick_to_quote``).

Invariant, for any interleaving of mark arrivals, snapshot publications and Quotes sent: each
mark message's latency is the time from its arrival to the first Quote sent on a snapshot that
carries it (a snapshot carries every mark received up to its ``marks_received``). Oracle: the
definition evaluated directly, one mark and one Quote at a time. Marks that arrived before the
first Quote, or that no Quote carried, are counted apart and never get a latency.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bench.live_fix import tick_to_quote


def _scenario(data: st.DataObject) -> tuple[np.ndarray, np.ndarray, list[tuple[float, str]]]:
    """A feed on one clock: marks arrive, snapshots are built on the marks so far, Quotes name a snapshot then current."""
    steps = data.draw(st.lists(st.sampled_from(["mark", "snapshot", "quote"]), min_size=1, max_size=60))
    t, arrivals, published, quotes = 0.0, [], [], []
    last_marks, version = -1.0, 0
    for step in steps:
        t += data.draw(st.floats(min_value=0.001, max_value=1.0))
        if step == "mark":
            arrivals.append(t)
            last_marks = t
        elif step == "snapshot":
            version += 1
            published.append((last_marks, t, version))
        elif version:
            # a Quote on the current snapshot, or (rarely) on the one before it: priced just as the next was published
            v = version if version == 1 or data.draw(st.booleans()) else version - 1
            quotes.append((t, f"replay:feed@1 #{v} snapshot 0123456789abcdef"))
    return np.array(arrivals), np.array(published).reshape(-1, 3), quotes


@given(st.data())
def test_each_mark_is_timed_to_the_first_quote_that_carries_it(data: st.DataObject) -> None:
    arrivals, published, quotes = _scenario(data)
    received = {int(v): m for m, _, v in published}
    carried = [(t, received[int(tag.split("#")[1].split()[0])]) for t, tag in quotes]
    lat, before, after = tick_to_quote(arrivals, published, quotes)
    expected, n_before, n_after = [], 0, 0
    for a in arrivals:
        if not quotes or a < quotes[0][0]:
            n_before += 1
            continue
        hits = [t for t, m in carried if m >= a]
        if hits:
            expected.append(hits[0] - a)
        else:
            n_after += 1
    assert (before, after) == (n_before, n_after)
    np.testing.assert_array_equal(lat, np.array(expected))
    assert np.all(lat >= 0)


def test_a_quote_naming_an_unknown_snapshot_carries_nothing() -> None:
    arrivals = np.array([1.0, 3.0])
    published = np.array([(1.0, 1.5, 1), (3.0, 3.2, 2)])
    quotes = [(2.0, "x #1 snapshot a"), (3.5, "x #7 snapshot b"), (4.0, "x #2 snapshot c")]
    lat, before, after = tick_to_quote(arrivals, published, quotes)
    assert (before, after) == (1, 0)  # the first mark came before the first Quote
    np.testing.assert_allclose(lat, [1.0])  # #7 is unknown: the mark at 3.0 is carried by the Quote at 4.0
