"""Batch commands on a Dask cluster: ``--scheduler ADDRESS`` (an existing dask.distributed
scheduler) or ``--workers N`` (a LocalCluster of N worker processes on 127.0.0.1).

Work is partitioned the way it is: one task a book for ``recalc``/``validate``, blocks of rows
for ``quote``, one task a model for ``backtest``, blocks of candidates for ``im-universe``.
What every task shares (a book's margin basis, the market, the parameters) is scattered to the
workers once and passed to the tasks by reference, never pickled per task. A worker that dies
is replaced and its tasks rerun by Dask (up to the scheduler's ``allowed-failures``, 3 by
default); past that the run fails with the lost task named, and nothing is written, since
outputs are written atomically by the task that owns them or by this process at the end.
Paths given to a remote cluster must be readable (and, for ``recalc``, writable) on the workers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from addin.cli.errors import CliUsageError, ClusterError
from addin.errors import UsageError

#: Seconds to reach a scheduler before the command fails with the address named.
CONNECT_TIMEOUT_S = 5


@contextmanager
def cluster(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A ``distributed.Client`` for the options given, or None to run in this process."""
    if scheduler is None and workers is None:
        yield None
        return
    if scheduler is not None and workers is not None:
        raise CliUsageError("give --scheduler ADDRESS or --workers N, not both")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("--scheduler/--workers need dask.distributed: install the 'cluster' extra") from None
    if workers is not None:
        if not 1 <= workers <= 64:
            raise CliUsageError(f"--workers: {workers} is not allowed; give 1 to 64 worker processes")
        # Each worker process gets its share of the cores for the numba kernels' threads.
        share = str(max(1, (os.cpu_count() or 1) // workers))
        local = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=40,
            env={"NUMBA_NUM_THREADS": share},
        )
        client = Client(local)
        try:
            yield client
        finally:
            client.close()
            local.close()
        return
    assert scheduler is not None
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"--scheduler {scheduler}: no scheduler answered within {CONNECT_TIMEOUT_S} s ({type(exc).__name__})"
        ) from None
    try:
        yield client
    finally:
        client.close()


def run_tasks(
    client: Any,
    fn: Callable[..., Any],
    items: Sequence[Any],
    *shared: Any,
    label: str = "task",
    passthrough: tuple[type[BaseException], ...] = (),
) -> list[Any]:
    """``[fn(item, *shared) for item in items]``, on the cluster when ``client`` is given.

    ``shared`` is scattered once (broadcast to every worker); results come back in order. A task
    that failed (its own exception, or its worker lost more often than the scheduler allows) fails
    the run with the task's label and index; a task's own usage error (or an exception of a
    ``passthrough`` type, e.g. the headless engine's ``BookError`` the caller hands in) is raised as it is.
    """
    if client is None:
        return [fn(item, *shared) for item in items]
    from distributed import wait

    # Each shared value as one object (scatter would split a list into its elements), under a key
    # of its own: content-hashed keys are shared between runs, and releasing one run's copy
    # cancelled the other run's tasks ("lost dependencies", measured).
    refs = [client.scatter([s], broadcast=True, hash=False)[0] for s in shared]
    # Keys name the task (for the messages and the dashboard) and are unique per run: Dask would
    # otherwise tie two runs' tasks together and cancel one when the other is released.
    run = uuid.uuid4().hex[:8]
    keys = [f"{label}-{i}-{run}" for i in range(len(items))]
    futures = client.map(fn, list(items), *[[r] * len(items) for r in refs], pure=False, key=keys)
    try:
        wait(futures)
    except Exception as exc:  # the scheduler went away, or the futures were cancelled
        raise ClusterError(
            f"the cluster run of {len(items)} {label} tasks failed: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    out = []
    for i, f in enumerate(futures):
        if f.status != "finished":
            exc = f.exception()
            # A task's own refusal (a workbook the engine refuses, a usage error) is passed on as it is.
            if isinstance(exc, (UsageError, *passthrough)):
                raise exc
            raise ClusterError(f"{label} {i} failed on the cluster: {type(exc).__name__}: {str(exc)[:200]}")
        out.append(f.result())
    return out
