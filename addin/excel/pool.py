"""Costly calls of the Office.js server run in a pool of worker processes, as their user.

One 200,000-cell ``CQ.BLACK`` spends seconds in Python parsing its cells while holding the
GIL; in the server's own process every other user's one-cell call waited behind it (light
p99 28.9 s under ``python -m bench server``). A call whose cost (argument cells plus the
bound on its result cells, :class:`addin.excel.calls.Call`) reaches :data:`LARGE_COST`, or
that is a heavy catalogue function (margin, quotes, surfaces), therefore runs in a worker,
unless it makes, reads or lists a handle (:func:`in_process`): those objects live in the
server process's store.

Isolation: the authenticated user travels with every call into the worker, which runs it
with :data:`udfs.store.SCOPE` set to that user, so every object the worker stores or finds
is that user's (each worker process has its own store, scoped the same way).

Failure: a worker that dies (the OOM killer) breaks the executor; :func:`submit` then
replaces the pool and raises :class:`WorkerLost`, which the server answers 503 with
``Retry-After``. Workers ask the kernel to kill them when the server dies
(``PR_SET_PDEATHSIG``), and :func:`shutdown` ends them on a graceful stop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from addin.excel.calls import MAX_CELLS, MAX_RESULT_BYTES, MAX_RESULT_CELLS, Call, Refused, parse

#: Cost (argument cells + result-cell bound) from which a call runs in a worker process. In
#: the server process a call holds the GIL for about 4 us a cell (parse, convert, price,
#: serialise; measured on this project's 2-core machine, docs/server-limits.md): 5,000 is
#: about 20 ms taken from every other user's calls, the most one call may take.
LARGE_COST = 5_000
#: Functions that make or list handles: the server process's store holds them.
IN_PROCESS = frozenset({"MARKET", "HANDLES"})
#: Seconds a client is told to wait after its worker died (the pool is already replaced).
RETRY_AFTER = 2
#: Lanes of worker processes: ``bulk`` for calls of large cost (a whole column, a broadcast),
#: ``heavy`` for heavy functions on small arguments (a margin, a quote). Each lane is its own
#: pool, so a trader's one-line quote never queues behind other users' whole-column calls.
LANES = ("bulk", "heavy")
_POOLS: dict[str, ProcessPoolExecutor] = {}
_LOCK = threading.Lock()


class WorkerLost(Exception):
    """The worker running a call died; the pool has been replaced."""


def in_process(call: Call) -> bool:
    """Whether ``call`` must run in the server process (it makes, reads or lists a handle, or
    prices on a live market, whose feed only the server process holds)."""
    return call.name in IN_PROCESS or call.mentions_handle() or call.names_live_market()


def costly(call: Call) -> bool:
    """Whether a call takes the user's queue: its cost reaches :data:`LARGE_COST`, or it is heavy."""
    from udfs import CATALOGUE

    return call.cost >= LARGE_COST or CATALOGUE[call.name].heavy


def offload(call: Call) -> str | None:
    """The lane a call runs in (``bulk`` from :data:`LARGE_COST`, ``heavy`` for a heavy
    function), or None: it runs in the server process (light, or a handle in or out)."""
    from udfs import CATALOGUE

    if in_process(call):
        return None
    if call.cost >= LARGE_COST:
        return "bulk"
    return "heavy" if CATALOGUE[call.name].heavy else None


def _start_worker(warm: Callable[[], object] | None) -> None:
    """Worker initialiser: die with the server, and load the catalogue and (with ``warm``, the
    command line's kernel warm-up) the kernels now rather than inside the first user's call."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG (Linux); elsewhere no such call
    except (OSError, AttributeError):
        pass
    try:
        import udfs  # noqa: F401

        if warm is not None:
            warm()
    except Exception:  # a worker that cannot warm still serves (it compiles on first use)
        pass


_WARM: Callable[[], object] | None = None


def set_warm(warm: Callable[[], object] | None) -> None:
    """The warm-up every new worker runs first (picklable: a module-level function)."""
    global _WARM
    _WARM = warm


def workers() -> int:
    """Worker processes per lane: one less than the cores, between 1 and 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def pool(lane: str = "bulk") -> ProcessPoolExecutor:
    with _LOCK:
        if lane not in _POOLS:
            _POOLS[lane] = ProcessPoolExecutor(
                max_workers=workers(),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(_WARM,),
            )
        return _POOLS[lane]


def worker_pids(lane: str | None = None) -> list[int]:
    """The worker processes' ids, of ``lane`` or of every lane (for tests)."""
    with _LOCK:
        pools = [ex for name, ex in _POOLS.items() if lane in (None, name)]
        procs = [p for ex in pools for p in (getattr(ex, "_processes", None) or {}).values()]
    return [p.pid for p in procs if p.pid is not None]


def shutdown() -> None:
    """End every lane's pool and its workers now (graceful stop: no worker outlives the server)."""
    with _LOCK:
        old = list(_POOLS.values())
        _POOLS.clear()
    for ex in old:
        procs = list((getattr(ex, "_processes", None) or {}).values())
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)


def _replace(lane: str, broken: ProcessPoolExecutor) -> None:
    with _LOCK:
        if _POOLS.get(lane) is broken:
            del _POOLS[lane]
    broken.shutdown(wait=False, cancel_futures=True)


async def submit(lane: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a worker of ``lane``; :class:`WorkerLost` (pool replaced) if the worker died."""
    executor = pool(lane)
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    except BrokenProcessPool:
        _replace(lane, executor)
        raise WorkerLost from None


def run(name: str, args: tuple[Any, ...], user: str) -> tuple[bool, Any]:
    """``CATALOGUE[name]`` in ``user``'s scope: (True, the rendered result) or (False, the reason)."""
    from addin.excel.render import render
    from udfs import CATALOGUE
    from udfs.catalogue import failure
    from udfs.store import SCOPE

    token = SCOPE.set(user)
    try:
        return True, render(CATALOGUE[name].fn(*args))
    except Exception as exc:
        return False, failure(exc).reason
    finally:
        SCOPE.reset(token)


#: Office.js error values (custom-functions runtime 1.4 and later), as xlwings Server sends them.
ERROR_TYPES = {
    "#DIV/0!": "Div0",
    "#N/A": "NotAvailable",
    "#NAME?": "Name",
    "#NULL!": "Null",
    "#NUM!": "Num",
    "#REF!": "Ref",
    "#VALUE!": "Value",
}


def _plain(value: Any) -> bool:
    """Whether a range holds no text (nothing to clean or to turn into an error value)."""
    if not isinstance(value, list):
        return not isinstance(value, str)
    rows = [r for r in value if isinstance(r, list)]
    return len(rows) == len(value) and str not in set(map(type, itertools.chain.from_iterable(rows)))


def _clean(value: Any) -> Any:
    """An argument as xlwings Server's ``ndim=2, err_to_str`` conversion gives it ("" is blank)."""
    if isinstance(value, list) and _plain(value):
        return value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if value == "" else value


def _office(value: Any, runtime: float) -> Any:
    if isinstance(value, list) and _plain(value):
        return value
    if isinstance(value, list):
        return [_office(v, runtime) for v in value]
    if runtime >= 1.4 and isinstance(value, str) and value in ERROR_TYPES:
        return {"type": "Error", "errorType": ERROR_TYPES[value]}
    return value


def run_json(name: str, args: tuple[Any, ...], runtime: str, user: str) -> tuple[bool, str]:
    """The whole answer of a call, (True, the JSON body) or (False, the reason)."""
    ok, value = run(name, tuple(_clean(list(args))), user)
    if not ok:
        return False, str(value)
    if not isinstance(value, list):
        value = [[value]]
    elif value and not isinstance(value[0], list):
        value = [value]
    try:
        version = float(runtime)
    except ValueError:
        version = 1.4
    try:
        return True, json.dumps({"result": _office(value, version)}, allow_nan=False)
    except (TypeError, ValueError) as exc:  # a catalogue bug: shown on the cell (400), never retried as a 500 would be
        return False, f"internal error (the result of CQ.{name} is not JSON: {str(exc)[:80]}); please report it"


#: Text cells of a call looked for in its refusal reason (distinct, first found).
MAX_ECHO_CHECKS = 10_000


def unechoed(reason: str, args: tuple[Any, ...]) -> str:
    """``reason`` without the text of any argument cell: a cell's text quoted (as the
    catalogue's reasons quote it) becomes ``(the cell's text)``, and the result is always
    encodable (a lone surrogate or control character is ``?``). A refusal names the argument,
    row and field, never what the user typed."""
    texts: set[str] = set()
    for a in args:
        cells = itertools.chain.from_iterable(r for r in a if isinstance(r, list)) if isinstance(a, list) else (a,)
        for c in cells:
            if isinstance(c, str) and c:
                texts.add(c)
                if len(texts) >= MAX_ECHO_CHECKS:
                    break
    for t in sorted(texts, key=len, reverse=True):
        for form in (repr(t), json.dumps(t), f"'{t}'", f'"{t}"'):
            if form in reason:
                reason = reason.replace(form, "(the cell's text)")
    return "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in reason)


def respond(call: Call, user: str, max_result_bytes: int = MAX_RESULT_BYTES) -> tuple[int, str, str]:
    """(status, body, content type) of an admitted call run as ``user``, here.

    The answer is xlwings Server's (``{"result": rows}``, Excel errors as Office.js error
    values, a bad argument 400 with its reason), produced without xlwings Server's argument
    conversion, which spends about 57 us a cell on the event loop (docs/server-limits.md).
    """
    ok, payload = run_json(call.name, call.args, call.runtime, user)
    text = "text/plain; charset=utf-8"
    if not ok:
        return 400, unechoed(payload, call.args)[:300], text
    if len(payload) > max_result_bytes:
        return 413, f"the result is {len(payload) // 2**20} MiB of JSON; the limit is {max_result_bytes // 2**20} MiB", text
    return 200, payload, "application/json"


def answer(
    body: bytes,
    user: str,
    max_cells: int = MAX_CELLS,
    max_result_cells: int = MAX_RESULT_CELLS,
    max_result_bytes: int = MAX_RESULT_BYTES,
) -> tuple[int, str, str]:
    """In a worker: (status, body, content type) of a whole call made by ``user``, or status
    0 when the call must run in the server process (it makes, reads or lists a handle)."""
    try:
        call = parse(body, max_cells, max_result_cells)
    except Refused as r:
        return r.status, r.message, "text/plain; charset=utf-8"
    if in_process(call):
        return 0, "", "text/plain; charset=utf-8"
    return respond(call, user, max_result_bytes)
