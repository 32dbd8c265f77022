"""Peer formula engines for the benchmarks (never the product's path): ``formulas`` with the catalogue.

``formulas`` (vinci1it2000, EUPL) can call Python functions, one call per formula cell; this
registers every catalogue spelling in its function table so that a quote book computes there
too, for ``python -m bench recalc``'s timing beside our engine.
"""

from __future__ import annotations

import math
from typing import Any


def formulas_with_catalogue() -> Any:
    """``formulas``' function table with the catalogue registered (idempotent)."""
    import formulas
    import numpy as np
    import schedula as sh
    from formulas.functions import wrap_func
    from formulas.tokens.operand import Error, XlError

    import udfs  # noqa: F401 - registers the catalogue
    from udfs.catalogue import CATALOGUE, safe
    from udfs.excel import XlError as UdfError
    from udfs.names import NAME_TABLE

    table = formulas.get_functions()
    if "CQ_BLACK" in table:
        return table

    def to_udf(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                return to_udf(value.item())
            rows = value.reshape(value.shape[0], -1) if value.ndim != 2 else value
            return [[to_udf(v) for v in row] for row in rows.tolist()]
        if value is sh.EMPTY or value is None:
            return None
        if isinstance(value, XlError):
            return UdfError(str(value))
        return value.item() if isinstance(value, np.generic) else value

    def from_udf(result: Any) -> Any:
        rows = result if isinstance(result, list) else [[result]]
        rows = [r if isinstance(r, list) else [r] for r in rows]
        out = np.empty((len(rows), max(len(r) for r in rows)), dtype=object)
        out[...] = Error.errors["#N/A"]
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if isinstance(v, UdfError):
                    v = Error.errors[str(v)]
                elif v is None:
                    v = sh.EMPTY
                elif isinstance(v, float) and not math.isfinite(v):
                    v = Error.errors["#NUM!"]
                out[i, j] = v
        return out

    def adapter(spec: Any) -> Any:
        call = safe(spec)
        return wrap_func(lambda *args: from_udf(call(*[to_udf(a) for a in args])))

    adapters = {name: adapter(spec) for name, spec in CATALOGUE.items()}
    for spelling, name in NAME_TABLE.items():
        table[spelling] = adapters[name]
    return table
