"""Excel via Office.js host: the catalogue as xlwings Server custom functions (``=CQ.BLACK(...)``).

Imported by the xlwings Server project in ``addin/excel/server`` (``custom_functions/__init__.py``
re-exports this module) with ``XLWINGS_FUNCTIONS_NAMESPACE=CQ``. Needs ``xlwings.server``,
whose licence is PolyForm Noncommercial: commercial use needs the user's own xlwings PRO key
in ``XLWINGS_LICENSE_KEY`` (the tests use the ``noncommercial`` key).

- Per-cell errors are returned as Excel error texts (``"#NUM!"``), which xlwings Server turns
  into real error values (Office.js runtime >= 1.4).
- A bad argument raises ``XlwingsError``: HTTP 400, the message shown on the cell, no retry.
  Unexpected failures are also reported that way (a deterministic bug must not be retried 3x).
- Heavy functions (margin, RFQs, surface fits) run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import math
from typing import Any

from xlwings import XlwingsError
from xlwings.server import arg, func

from udfs import CATALOGUE
from udfs.catalogue import Spec, failure
from udfs.excel import XlError

__all__: list[str] = []


def render(value: Any) -> Any:
    """Catalogue output for Office.js: error cells as their Excel code, NaN as #NUM!."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, XlError):
        return str.__str__(value)
    if isinstance(value, float) and math.isnan(value):
        return "#NUM!"
    return value


def _call(spec: Spec, args: tuple[Any, ...]) -> Any:
    try:
        return render(spec.fn(*args))
    except Exception as exc:
        raise XlwingsError(failure(exc).reason) from None


def build(spec: Spec) -> Any:
    """One xlwings Server custom function for ``spec`` (Python name = lower-case name)."""
    if spec.heavy:

        @functools.wraps(spec.fn)
        async def udf(*args: Any) -> Any:
            return await asyncio.to_thread(_call, spec, args)

    else:

        @functools.wraps(spec.fn)
        def udf(*args: Any) -> Any:  # type: ignore[misc]
            return _call(spec, args)

    udf.__name__ = udf.__qualname__ = spec.name.lower()
    udf.__doc__ = f"{spec.summary} Returns {spec.returns}"
    udf.__annotations__ = {}  # xlwings reads annotations as converters; the catalogue converts itself
    for a in reversed(spec.args):
        # ndim=2: a column stays a column (the default makes it 1-D); err_to_str: "#N/A" reaches the catalogue.
        udf = arg(a.name, ndim=2, err_to_str=True, doc=a.doc)(udf)
    return func(name=spec.name)(udf)


for _spec in CATALOGUE.values():
    globals()[_spec.name.lower()] = build(_spec)
    __all__.append(_spec.name.lower())
