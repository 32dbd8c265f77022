"""How many threads a parallel kernel may use now: by batch size and by the cores actually free.

Why: numba's default is one thread per core for every call. A thread that lands on a core held
by another CPU-bound process (Excel recalculating, a browser, another job) waits for its time
slice, and a ``prange`` loop finishes only when its slowest thread does: with one other busy
process on 2 cores the threaded kernels ran 2x slower than single-threaded numpy (issue 33).
And a small batch gains nothing from threads: starting them costs more than the work.

The rule (:func:`threads_for`):

* ``work`` below the kernel's ``serial_below`` -> 1 (the kernel runs on the calling thread;
  no pool thread is woken);
* otherwise ``min(cores this process may run on, cores not busy with other processes,
  work // serial_below)``, at least 1.

Cores this process may run on: ``os.sched_getaffinity`` (Linux), else ``os.cpu_count()``.
Cores busy with other processes: from ``/proc/stat``, the busy time of *those* cores since the
previous sample minus this process's own CPU time (``os.times``), over the wall time between;
sampled at most every :data:`RESAMPLE_S` seconds (one small file read), so a kernel call costs a
``time.monotonic()`` and a comparison. On Windows the busy time of all cores comes from
``GetSystemTimes`` instead. Where neither exists (macOS), the 1-minute load average
(``os.getloadavg``, minus this process's own runnable thread) stands in, and where that is
missing too, every core counts as free.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

RESAMPLE_S = 0.25
"""Seconds between two samples of /proc/stat (a fresher estimate is not worth the read)."""
MIN_INTERVAL_S = 0.02
"""Below this interval between samples, the busy time is too coarse (10 ms clock ticks) to use."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one), at least 1.

    Returns
    -------
    int
        Cores this process may run on (its CPU affinity where the OS reports one), at least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _affinity() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _windows_busy_seconds() -> float | None:
    """Busy CPU seconds of all cores from Windows' ``GetSystemTimes`` (None elsewhere or on failure).

    Kernel time includes idle time there, so busy = kernel + user - idle (100 ns units).
    """
    if os.name != "nt":
        return None
    import ctypes
    from ctypes import wintypes

    idle, kernel, user = wintypes.FILETIME(), wintypes.FILETIME(), wintypes.FILETIME()
    try:
        ok = ctypes.windll.kernel32.GetSystemTimes(ctypes.byref(idle), ctypes.byref(kernel), ctypes.byref(user))  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return None
    if not ok:
        return None

    def ticks(ft: wintypes.FILETIME) -> int:
        return (int(ft.dwHighDateTime) << 32) | int(ft.dwLowDateTime)

    return (ticks(kernel) + ticks(user) - ticks(idle)) * 1e-7


def _busy_seconds(cpus: frozenset[int] | None) -> float | None:
    """Busy CPU seconds since boot of ``cpus`` (all when None), from /proc/stat (Linux) or
    ``GetSystemTimes`` (Windows: all cores); None without either."""
    try:
        with open("/proc/stat", "rb") as fh:
            text = fh.read(1 << 16).decode("ascii", "replace")
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return _windows_busy_seconds()
    total = 0
    seen = False
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        try:
            index = int(name[3:])
            ticks = [int(x) for x in fields]
        except ValueError:
            continue
        if (cpus is not None and index not in cpus) or len(ticks) < 5:
            continue
        # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
        total += sum(ticks) - ticks[3] - ticks[4]
        seen = True
    return total / tick if seen and tick > 0 else None


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


@dataclass
class _Sample:
    wall: float
    busy: float | None
    own: float


class FreeCores:
    """A cached estimate of the cores of this process's affinity that other processes leave free."""

    def __init__(self) -> None:
        self._cpus = _affinity()
        self._cores = available_cores()
        self._last = self._sample()
        self._free = self._fallback()

    def _sample(self) -> _Sample:
        return _Sample(time.monotonic(), _busy_seconds(self._cpus), _own_cpu_seconds())

    def _fallback(self) -> int:
        """From the load average (this process counts as one runnable thread), or all cores."""
        try:
            others = max(0.0, os.getloadavg()[0] - 1.0)
        except (AttributeError, OSError):
            return self._cores
        return _round_free(self._cores, others)

    def free(self) -> int:
        """Cores not busy with other processes now (1 to :func:`available_cores`).

        Returns
        -------
        int
            Cores not busy with other processes now, 1 to :func:`available_cores`.
        """
        now = time.monotonic()
        if now - self._last.wall < RESAMPLE_S:
            return self._free
        cur = self._sample()
        prev, self._last = self._last, cur
        interval = cur.wall - prev.wall
        if cur.busy is None or prev.busy is None or interval < MIN_INTERVAL_S:
            self._free = self._fallback()
            return self._free
        others = (cur.busy - prev.busy) - (cur.own - prev.own)
        self._free = _round_free(self._cores, max(0.0, others) / interval)
        return self._free


def _round_free(cores: int, busy_others: float) -> int:
    """Cores minus the (fractional) cores others use, to the nearest core, within [1, cores]."""
    return min(cores, max(1, int(cores - busy_others + 0.5)))


_FREE = FreeCores()


def threads_for(work: int, serial_below: int) -> int:
    """Threads for a kernel call of ``work`` units (1: run serially).

    Parameters
    ----------
    work : int
        Units of work of the call (options, option-steps, position-scenarios: the kernel's own).
    serial_below : int
        Units below which one thread is faster than starting the pool (measured per kernel).

    Returns
    -------
    int
        1 for small batches; else the smallest of the free cores, the cores of this process's
        affinity and ``work // serial_below``.
    """
    serial_below = max(1, serial_below)
    if work < serial_below:
        return 1
    return max(1, min(_FREE.free(), work // serial_below))
