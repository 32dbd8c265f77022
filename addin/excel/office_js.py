"""Excel via Office.js host: the catalogue as xlwings Server custom functions (``=CQ.BLACK(...)``).

Imported by the xlwings Server project in ``addin/excel/server`` (``custom_functions/__init__.py``
re-exports this module) with ``XLWINGS_FUNCTIONS_NAMESPACE=CQ``. Needs ``xlwings.server``,
whose licence is PolyForm Noncommercial: commercial use needs the user's own xlwings PRO key
in ``XLWINGS_LICENSE_KEY`` (the tests use the ``noncommercial`` key).

- Per-cell errors are returned as Excel error texts (``"#NUM!"``), which xlwings Server turns
  into real error values (Office.js runtime >= 1.4).
- A bad argument raises ``XlwingsError``: HTTP 400, the message shown on the cell, no retry.
  Unexpected failures are also reported that way (a deterministic bug must not be retried 3x).
  Messages are cut to 300 characters: a 50 MB argument is never echoed back or logged.
- Every function runs in a worker thread, off the event loop. The server's guard
  (:mod:`addin.excel.serve`) sends costly calls to a worker process (:mod:`addin.excel.pool`)
  before xlwings Server sees them: a 200,000-strike ``CQ.BLACK`` held every other user's
  one-cell calls behind it.
- Each call sees only its user's handles: the authenticated user id (xlwings Server's
  ``user_id_context``) becomes the object store's scope (:data:`udfs.store.SCOPE`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from typing import Any

from xlwings import XlwingsError
from xlwings.server import arg, func

from addin.excel import pool
from addin.excel.stream import STREAMS
from udfs import CATALOGUE
from udfs.catalogue import Spec

__all__: list[str] = []


MAX_MESSAGE = 300


def _user() -> str:
    """The authenticated user of this request ("" outside xlwings Server). Never imports the
    server: importing it would freeze its settings before ``clearquote serve`` configures them."""
    router = sys.modules.get("xlwings_server.routers.xlwings")
    return str(router.user_id_context.get() or "") if router is not None else ""


def _call(spec: Spec, args: tuple[Any, ...], user: str) -> Any:
    """``spec`` in the caller's handle scope; a failure is shown on the cell, never retried."""
    ok, value = pool.run(spec.name, args, user)
    if not ok:
        raise XlwingsError(str(value)[:MAX_MESSAGE])
    return value


def build(spec: Spec) -> Any:
    """One xlwings Server custom function for ``spec`` (Python name = lower-case name)."""

    @functools.wraps(spec.fn)
    async def udf(*args: Any) -> Any:
        return await asyncio.to_thread(_call, spec, args, _user())

    udf.__name__ = udf.__qualname__ = spec.name.lower()
    udf.__doc__ = f"{spec.summary} Returns {spec.returns}"
    udf.__annotations__ = {}  # xlwings reads annotations as converters; the catalogue converts itself
    for a in reversed(spec.args):
        # ndim=2: a column stays a column (the default makes it 1-D); err_to_str: "#N/A" reaches the catalogue.
        udf = arg(a.name, ndim=2, err_to_str=True, doc=a.doc)(udf)
    return func(name=spec.name)(udf)


async def _in_thread(user: str, fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


def build_stream(name: str, spec: Spec) -> Any:
    """The streaming function ``name`` (``CQ.LIVE_QUOTE``): ``spec``'s arguments, its results as
    the live market moves (:mod:`addin.excel.stream`). ``clearquote serve`` answers these over
    its own socket.io server (auth and isolation per connection); this body is what the same
    stream is for a host that calls the function itself."""
    from addin.excel.calls import Refused
    from addin.excel.stream import INTERVAL_S, admit, results

    async def udf(*args: Any) -> Any:
        try:
            call = admit({"func_name": name, "args": [a if isinstance(a, list) else [[a]] for a in args]})
        except Refused as r:
            raise XlwingsError(r.message[:MAX_MESSAGE]) from None
        async for result in results(call, _user(), _in_thread, INTERVAL_S):
            yield result

    udf.__name__ = udf.__qualname__ = name.lower()
    udf.__doc__ = f"{spec.summary} Streams: updates as the live market moves. Returns {spec.returns}"
    udf.__signature__ = inspect.signature(spec.fn)  # type: ignore[attr-defined]
    udf.__annotations__ = {}
    for a in reversed(spec.args):
        udf = arg(a.name, ndim=2, err_to_str=True, doc=a.doc)(udf)
    return func(name=name)(udf)


for _spec in CATALOGUE.values():
    globals()[_spec.name.lower()] = build(_spec)
    __all__.append(_spec.name.lower())
for _name, _target in STREAMS.items():
    globals()[_name.lower()] = build_stream(_name, CATALOGUE[_target])
    __all__.append(_name.lower())
