"""A host that listens for kernel compilations (the CLI) pays for it only when a compilation can
happen: calls with argument types already seen go straight to the kernel, with no timer thread."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from pricing import accel

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


def test_announcing_timer_only_for_unseen_argument_types() -> None:
    from pricing.accel import black76, jit

    heard: list[tuple[str, float | None]] = []
    n = 64
    args = (np.ones(n), np.full(n, 100.0), np.full(n, 90.0), np.full(n, 0.5), np.full(n, 0.6), np.zeros(n), False, False)
    kernel = jit.Kernel(black76.price_kernel.dispatcher, "black76.price_kernel")  # fresh: no types seen yet
    with mock.patch.object(jit, "ANNOUNCE", lambda name, s: heard.append((name, s))):
        with mock.patch.object(jit.threading, "Timer", wraps=jit.threading.Timer) as timer:
            kernel(*args, np.empty(n))
            assert timer.call_count == 1
            for _ in range(5):
                kernel(*args, np.empty(n))
            assert timer.call_count == 1
            kernel(*args[:-2], True, False, np.empty(n))  # a bool flag is not a new type: no timer
            assert timer.call_count == 1
            kernel(*(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args), np.empty(n))
            assert timer.call_count == 2  # float32 inputs: a new signature could compile
