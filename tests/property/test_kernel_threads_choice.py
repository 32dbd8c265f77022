"""The thread choice of the numba kernels (issue 33): small batches serial, large ones on free cores only."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from pricing.accel import threads


@given(work=st.integers(0, 10**12), serial_below=st.integers(0, 10**7))
def test_threads_within_bounds(work: int, serial_below: int) -> None:
    n = threads.threads_for(work, serial_below)
    assert 1 <= n <= threads.available_cores()
    if work < serial_below:
        assert n == 1
    assert n <= max(1, work // max(1, serial_below))


@given(cores=st.integers(1, 256), busy=st.floats(0.0, 1e4, allow_nan=False))
def test_free_cores_is_a_core_count_that_drops_as_others_load(cores: int, busy: float) -> None:
    free = threads._round_free(cores, busy)
    assert 1 <= free <= cores
    assert threads._round_free(cores, busy + 1.0) <= free
    if busy <= 0.49:
        assert free == cores


def test_available_cores_is_this_process_affinity() -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads.available_cores() == expected


def test_estimate_survives_missing_proc_stat(monkeypatch) -> None:
    """No /proc/stat (Windows, macOS, a sandbox): the load average or all cores, never an exception."""
    monkeypatch.setattr(threads, "_busy_seconds", lambda cpus: None)
    est = threads.FreeCores()
    est._last.wall -= 10 * threads.RESAMPLE_S
    assert 1 <= est.free() <= threads.available_cores()
    monkeypatch.delattr(os, "getloadavg")
    est = threads.FreeCores()
    est._last.wall -= 10 * threads.RESAMPLE_S
    assert est.free() == threads.available_cores()


def test_others_busy_time_lowers_the_estimate(monkeypatch) -> None:
    """Busy time of our cores that is not this process's own is another process's: it takes cores away."""
    clock = {"wall": 0.0, "busy": 0.0, "own": 0.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(threads, "_busy_seconds", lambda cpus: clock["busy"])
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: clock["own"])
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    est = threads.FreeCores()
    # 1 s later: our cores were busy 3 s in all, 1 s of it ours -> 2 cores held by others.
    clock.update(wall=1.0, busy=3.0, own=1.0)
    assert est.free() == 2
    # Cached within RESAMPLE_S, whatever happened meanwhile.
    clock.update(wall=1.1, busy=7.0, own=1.0)
    assert est.free() == 2
    # Quiet again: only our own work.
    clock.update(wall=2.0, busy=4.0, own=2.0)
    assert est.free() == 4


def test_windows_busy_time_from_get_system_times(monkeypatch) -> None:
    """Windows: busy = kernel + user - idle (kernel time includes idle), FILETIME in 100 ns units.

    ``GetSystemTimes`` is replaced by a fake that fills the three FILETIMEs (this runs on Linux);
    the figures are Microsoft's documented meaning of the three outputs.
    """
    import ctypes
    import types

    def fake(idle, kernel, user) -> int:
        for ref, value in ((idle, 30_000_000), (kernel, 50_000_000), (user, (1 << 32) + 10_000_000)):
            ref._obj.dwLowDateTime = value & 0xFFFFFFFF
            ref._obj.dwHighDateTime = value >> 32
        return 1

    monkeypatch.setattr(
        ctypes, "windll", types.SimpleNamespace(kernel32=types.SimpleNamespace(GetSystemTimes=fake)), raising=False
    )
    monkeypatch.setattr(threads.os, "name", "nt")
    expected = (50_000_000 + (1 << 32) + 10_000_000 - 30_000_000) * 1e-7
    assert abs(threads._windows_busy_seconds() - expected) < 1e-9
    monkeypatch.setattr(ctypes.windll.kernel32, "GetSystemTimes", lambda *a: 0)
    assert threads._windows_busy_seconds() is None
    monkeypatch.setattr(threads.os, "name", "posix")
    assert threads._windows_busy_seconds() is None
