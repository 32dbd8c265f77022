"""Compilation settings, the compile announcer and bit-cast intrinsics shared by the numba kernels.

A kernel compiles on its first call with a new argument signature (seconds each), then loads
from numba's on-disk cache in later processes (milliseconds). :func:`kernel` wraps each public
kernel so that a compilation can be announced while it runs: the library stays silent, and a
host (the CLI) that sets :data:`ANNOUNCE` hears "compiling NAME" (after half a second, so cache
loads stay silent) and "compiled NAME in N s".
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import config, get_num_threads, njit, set_num_threads, types
from numba.extending import intrinsic

from pricing.accel.threads import threads_for

FASTMATH = {"nsz", "arcp", "contract", "afn"}
"""LLVM flags: FMA contraction and reciprocal tricks, but no ``reassoc`` (it would fold the
round-to-nearest magic constant and reorder the compensated sums) and no ``nnan``/``ninf``
(NaN inputs must come out as NaN)."""
F = TypeVar("F", bound=Callable[..., Any])


def _njit(*, parallel: bool = False, inline: bool = False) -> Callable[[F], Any]:
    """numba.njit with the project's options: ``error_model="numpy"`` drops the zero-division
    checks (a branch per division), ``cache`` keeps compiled code on disk between processes."""
    return njit(
        nogil=True, cache=True, error_model="numpy", fastmath=FASTMATH, parallel=parallel, inline="always" if inline else "never"
    )


def inline(fn: F) -> F:
    """A scalar helper compiled into the kernels that call it (``inline="always"``).

    Parameters
    ----------
    fn : callable
        A scalar function of floats.

    Returns
    -------
    callable
        The numba dispatcher.
    """
    return cast(F, _njit(inline=True)(fn))


ANNOUNCE: Callable[[str, float | None], None] | None = None
"""Set by a host: called with (kernel name, None) when a compilation has run for half a second,
and with (kernel name, seconds) when it has finished. None (the default): silent."""
_SLOW = 0.5


#: Parameter names of the kernels' output arrays; every other array argument is an input.
OUTPUTS = frozenset({"out", "converged", "usd", "coin"})


def _largest_input(args: tuple[Any, ...]) -> int:
    """Default units of work of a call: the size of its largest array argument."""
    return max((a.size for a in args if isinstance(a, np.ndarray)), default=0)


def _set_threads(n: int) -> None:
    """Ask numba for ``n`` threads in this calling thread (numba's setting is per thread)."""
    n = min(n, int(getattr(config, "NUMBA_NUM_THREADS", n)))
    if get_num_threads() != n:
        set_num_threads(n)


class Kernel:
    """A numba dispatcher that reports its compilations to :data:`ANNOUNCE`.

    Each call sets its thread count first (:func:`pricing.accel.threads.threads_for`, through
    numba's per-thread ``set_num_threads``): small batches, and any batch while the other cores
    are busy, run on the calling thread alone; large batches on the free cores only. One machine
    code for every thread count, so the numbers are bit-identical (``tests/cross``).

    Why not a serial twin (``parallel=False``) for small batches: measured, it was 5x slower per
    option than the parallel kernel on one thread at 100k options (8.8 vs 48.7 ns, best of 40;
    the cause was not pinned down, most likely a loop that LLVM did not vectorise), and
    numba's disk cache keys entries by signature and CPU but not by the ``parallel`` flag,
    so the two compilations overwrote each other's cached code.

    Input arrays are passed as read-only views (O(1)), whatever the caller's flags: numba
    types a read-only array apart from a writable one, so mixed flags (a broadcast scalar next
    to a fresh array) would compile up to 2^n signatures of one kernel. With the views, each
    kernel has one signature, compiled once.

    Parameters
    ----------
    dispatcher : numba dispatcher
        The compiled function.
    name : str
        How compilations are announced.
    serial_below : int
        Calls with fewer units of work run on the calling thread.
    work : callable
        Arguments -> units of work (default: the largest array's size).
    """

    def __init__(
        self, dispatcher: Any, name: str, serial_below: int = 1, work: Callable[[tuple[Any, ...]], int] = _largest_input
    ) -> None:
        self.dispatcher = dispatcher
        self.name = name
        self.serial_below = serial_below
        self.work = work
        self.__doc__ = dispatcher.__doc__
        params = inspect.signature(dispatcher.py_func).parameters
        self._inputs = tuple(i for i, p in enumerate(params) if p not in OUTPUTS)
        self._seen: set[tuple[Any, ...]] = set()

    def threads(self, *args: Any) -> int:
        """Threads a call with these arguments would use now (1: the calling thread alone).

        Parameters
        ----------
        *args : Any
            The call's arguments.

        Returns
        -------
        int
            The number of threads the kernel's parallel loops run on.
        """
        if FORCE_THREADS is not None:
            return FORCE_THREADS
        return threads_for(int(self.work(args)), self.serial_below)

    def __call__(self, *args: Any) -> Any:
        args = _frozen_inputs(args, self._inputs)
        _set_threads(self.threads(*args))
        dispatcher = self.dispatcher
        hook = ANNOUNCE
        if hook is None:
            return dispatcher(*args)
        # Only a call with argument types not seen before can compile: the others skip the
        # announcing timer (a thread start per call would cost more than many kernels).
        key = tuple(
            (a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.writeable) if isinstance(a, np.ndarray) else type(a) for a in args
        )
        if key in self._seen:
            return dispatcher(*args)
        before = len(dispatcher.overloads)
        timer = threading.Timer(_SLOW, hook, (self.name, None))
        timer.daemon = True
        timer.start()
        t0 = time.perf_counter()
        try:
            out = dispatcher(*args)
            self._seen.add(key)
            return out
        finally:
            timer.cancel()
            seconds = time.perf_counter() - t0
            if len(dispatcher.overloads) > before and seconds >= _SLOW:
                hook(self.name, seconds)

    def signatures(self) -> list[Any]:
        """The argument signatures compiled or loaded in this process.

        Returns
        -------
        list
            The type signatures compiled so far (empty under numpy or before the first call).
        """
        return list(self.dispatcher.signatures)


def _frozen_inputs(args: tuple[Any, ...], inputs: tuple[int, ...]) -> tuple[Any, ...]:
    out = list(args)
    for i in inputs:
        a = out[i]
        if isinstance(a, np.ndarray) and a.flags.writeable:
            view = a.view()
            view.flags.writeable = False
            out[i] = view
    return tuple(out)


def kernel(
    *, serial_below: int, work: Callable[[tuple[Any, ...]], int] = _largest_input
) -> Callable[[Callable[..., Any]], Kernel]:
    """``@kernel(serial_below=N)``: compile ``fn`` as a parallel announced kernel.

    ``work(args)`` counts a call's units of work (default: the largest array's size); calls of
    fewer than ``serial_below`` units run serially (see :mod:`pricing.accel.threads`).

    Parameters
    ----------
    serial_below : int
        Units of work below which a call runs serially.
    work : callable
        Arguments -> units of work.

    Returns
    -------
    callable
        The decorator, returning a :class:`Kernel`.
    """

    def wrap(fn: Callable[..., Any]) -> Kernel:
        module = fn.__module__.rsplit(".", 1)[-1]
        return Kernel(_njit(parallel=True)(fn), f"{module}.{fn.__name__}", serial_below=serial_below, work=work)

    return wrap


FORCE_THREADS: int | None = None
"""Tests and benchmarks: None (the default) lets :func:`~pricing.accel.threads.threads_for`
choose; n forces n threads (capped by numba's pool, ``NUMBA_NUM_THREADS``)."""


def _f64_bits(typingctx: Any, x: Any) -> Any:
    """Reinterpret a float64 as its int64 bit pattern (no conversion).

    Parameters
    ----------
    typingctx : numba typing context
        Supplied by numba (an intrinsic): call as ``f64_bits(x)`` in a kernel.
    x : float64
        Any double, NaN and infinities included.

    Returns
    -------
    signature and codegen
        numba's intrinsic pair; in a kernel the call gives an int64.
    """
    sig = types.int64(types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


def _bits_f64(typingctx: Any, x: Any) -> Any:
    """Reinterpret an int64 bit pattern as a float64.

    Parameters
    ----------
    typingctx : numba typing context
        Supplied by numba (an intrinsic): call as ``bits_f64(x)`` in a kernel.
    x : int64
        The IEEE 754 bit pattern of a double, as :func:`f64_bits` returns it.

    Returns
    -------
    signature and codegen
        numba's intrinsic pair; in a kernel the call gives a float64.
    """
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


# Typed for the callers (inside kernels they take and return numba scalars).
f64_bits = cast(Callable[[float], int], intrinsic(_f64_bits))
bits_f64 = cast(Callable[[int], float], intrinsic(_bits_f64))
