"""``addin.fix.run.settle_heap``: what is alive when the acceptor starts serving leaves the cyclic
collector's sight (``gc.freeze``), so a full collection no longer walks the start-up heap (its
~100 ms pauses were the tail of tick to FIX quote: docs/live.md). Both the command
(``run_acceptor``) and ``python -m bench live-fix`` call it before serving.

Invariants: every object alive at the call is frozen (out of every generation a collection walks);
an object created afterwards is still collected.
"""

from __future__ import annotations

import gc
import inspect
import weakref
from collections.abc import Iterator

import pytest

from addin.fix import run


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process's heap back in the collector's sight


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_settle_heap_freezes_what_is_alive_and_collects_what_comes_later(unfrozen: None) -> None:
    gc.unfreeze()
    before = [_Node(), {"book": [1.0, 2.0]}]  # alive at the call, tracked by the collector
    assert all(any(o is b for o in gc.get_objects()) for b in before)
    run.settle_heap()
    # Frozen: in the permanent generation, out of every generation a collection walks. Checked
    # per object, not by counting the heap (other threads of the test process allocate and free
    # meanwhile: a count with a margin flaked in CI).
    assert gc.get_freeze_count() > 0
    assert not any(any(o is b for o in gc.get_objects()) for b in before)
    later = _Node()
    alive = weakref.ref(later)
    del later
    gc.collect()
    assert alive() is None


def test_the_acceptor_and_the_bench_settle_the_heap_before_serving() -> None:
    from bench import live_fix

    for src in (inspect.getsource(run.run_acceptor), inspect.getsource(live_fix.run_bench_live_fix)):
        assert src.index("settle_heap()") < src.index("serving.start()")
