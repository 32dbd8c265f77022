"""Large calls of the Office.js server run in a pool of worker processes.

One 200,000-cell ``CQ.BLACK`` spends seconds in Python parsing its cells while holding the
GIL; in the server's own process every other user's one-cell call waited behind it (light
p99 28.9 s under ``python -m bench server``). Calls whose arguments hold more than
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


def _clean(value: Any) -> Any:
    """An Office.js argument cell as xlwings Server's ``ndim=2, err_to_str`` conversion gives it."""
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if value == "":
        return None
    if isinstance(value, dict):
        return value.get("basicValue")
    return value


def _office(value: Any, runtime: float) -> Any:
    if isinstance(value, list):
        return [_office(v, runtime) for v in value]
    if runtime >= 1.4 and isinstance(value, str) and value in ERROR_TYPES:
        return {"type": "Error", "errorType": ERROR_TYPES[value]}
    return value


def run_json(name: str, args: tuple[Any, ...], runtime: str) -> tuple[bool, str]:
    """In a worker: the whole answer of a large call, (True, the JSON body) or (False, the reason)."""
    import json

    ok, value = run(name, tuple(_clean(list(args))))
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
    return True, json.dumps({"result": _office(value, version)}, allow_nan=False)


def check_call(data: Any, max_cells: int) -> tuple[int, str] | None:
    """(HTTP status, short message) if the call is not one to run: unknown function (404),
    wrong arity (400), an argument over ``max_cells`` (413); None if it is."""
    from udfs import CATALOGUE

    if not isinstance(data, dict):
        return 400, "the request body is not a JSON object"
    name = str(data.get("func_name", ""))[:64]
    spec = CATALOGUE.get(name.upper())
    if spec is None:
        return 404, f"no catalogue function {name!r}"
    args = data.get("args")
    if not isinstance(args, list):
        return 400, "'args' must be a JSON array"
    lo, hi = sum(not a.optional for a in spec.args), len(spec.args)
    if not lo <= len(args) <= hi:
        span = f"{lo}" if lo == hi else f"{lo} to {hi}"
        return 400, f"CQ.{name.upper()} takes {span} arguments, got {len(args)}"
    for i, a in enumerate(args, 1):
        if cells(a) > max_cells:
            return 413, f"argument {i} has more than {max_cells:,} cells"
    return None


def answer(body: bytes, max_cells: int) -> tuple[int, str, str]:
    """In a worker: (status, body, content type) of a whole call, or status 0 when the call
    must take xlwings Server's path (it makes or reads a handle)."""
    import json

    text = "text/plain; charset=utf-8"
    try:
        data = json.loads(body)
    except ValueError:
        return 400, "the request body is not JSON", text
    problem = check_call(data, max_cells)
    if problem is not None:
        return problem[0], problem[1], text
    name, args = str(data["func_name"]).upper(), tuple(data["args"])
    if name in HANDLE_MAKERS or _mentions_handle(list(args)):
        return 0, "", text
    ok, payload = run_json(name, args, str(data.get("runtime") or "1.4"))
    return (200, payload, "application/json") if ok else (400, payload[:300], text)
