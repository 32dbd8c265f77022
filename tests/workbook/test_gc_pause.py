"""The engine's pause of the cyclic garbage collector hands the collector back as it found it.

The guarantee (addin/headless/engine.py, ``gc_paused``): after the block the collector is on
exactly when it was on before; what the block left alive is in the oldest generation, nothing
stays frozen that was not frozen before, and objects another part of the process froze
(``addin.fix.run.settle_heap``) stay frozen; a reference cycle that becomes garbage after the
block is still collected (by a full collection, as any object of the oldest generation).
"""

from __future__ import annotations

import gc
import weakref

from addin.headless.engine import gc_paused


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_the_collector_is_on_after_exactly_when_it_was_on_before() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block leaves it off
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_the_block_left_alive_is_old_and_nothing_stays_frozen() -> None:
    assert gc.get_freeze_count() == 0
    with gc_paused():
        kept = [[i] for i in range(10_000)]
    assert gc.get_freeze_count() == 0
    oldest = set(map(id, gc.get_objects(generation=2)))  # not left young, to be walked by the next collection
    assert all(id(x) in oldest for x in kept)
    assert all(gc.is_tracked(x) for x in kept[:10])


def test_a_cycle_made_in_the_block_is_still_collected_once_it_is_garbage() -> None:
    with gc_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
    del a, b
    assert alive() is not None  # a cycle: reference counting alone does not free it
    gc.collect()
    assert alive() is None


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    witness = [[i] for i in range(10)]  # frozen by "someone else" below
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with gc_paused():
            _ = [[i] for i in range(1_000)]
        # Other threads' frozen objects may die meanwhile (the count falls, as in CI once); what must
        # hold is that the block froze nothing of its own and unfroze nothing: the witness is still
        # in the permanent generation, outside every collected one.
        assert gc.get_freeze_count() <= frozen
        assert not any(o is witness for o in gc.get_objects())
    finally:
        gc.unfreeze()
