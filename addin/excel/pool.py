"""Large calls of the Office.js server run in a pool of worker processes.

One 200,000-cell ``CQ.BLACK`` spends seconds in Python parsing its cells while holding the
GIL; in the server's own process every other user's one-cell call waited behind it (light
p99 28.9 s under ``clearquote bench-server``). Calls whose arguments hold more than
:data:`LARGE_CELLS` cells therefore go to a process pool, unless they create or read a handle
(``CQ_MARKET``'s objects live in the server process's store, scoped to their user).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

LARGE_CELLS = 20_000
HANDLE_MAKERS = frozenset({"MARKET"})
_POOL: ProcessPoolExecutor | None = None


def cells(value: Any) -> int:
    if isinstance(value, list):
        return sum(cells(v) for v in value)
    return 1


def _mentions_handle(value: Any) -> bool:
    if isinstance(value, list):
        return any(_mentions_handle(v) for v in value)
    return isinstance(value, str) and value.strip().upper().startswith("CQ.")


def offload(name: str, args: tuple[Any, ...]) -> bool:
    """Whether a call goes to the process pool (large, and no handle in or out)."""
    return name not in HANDLE_MAKERS and cells(list(args)) > LARGE_CELLS and not _mentions_handle(list(args))


def pool() -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        workers = max(1, min(4, (os.cpu_count() or 2) - 1))
        _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return _POOL


def run(name: str, args: tuple[Any, ...]) -> tuple[bool, Any]:
    """In a worker: (True, the rendered result) or (False, the failure's reason)."""
    from addin.excel.render import render
    from udfs import CATALOGUE
    from udfs.catalogue import failure

    try:
        return True, render(CATALOGUE[name].fn(*args))
    except Exception as exc:
        return False, failure(exc).reason
