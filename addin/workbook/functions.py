"""The functions a workbook may call: Excel's (from ``formulas``) and the catalogue's.

Every catalogue function is registered in ``formulas``' function table under every spelling
Excel may have written into a file (``CQ_BLACK``, ``CQ.BLACK``, ``_xludf.CQ_BLACK``,
``_xll.CQ_BLACK``...; :mod:`udfs.names`). An adapter turns ``formulas``' arrays, blanks and
error tokens into the catalogue's 2-D lists, ``None`` and :class:`udfs.excel.XlError`, and
back; a catalogue error keeps its reason (:class:`CellError`) so the CLI can say why a cell
failed.

:data:`ELEMENTWISE` is the whitelist of Excel functions that map rows to rows, so one call
over stacked row vectors equals one call per row (``HEADLESS.md`` §3: ``SUM`` or ``MAX`` fed
stacked columns aggregate across rows and are therefore excluded, as are volatile functions,
which must differ per cell).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import formulas
import numpy as np
import schedula as sh
from formulas.functions import wrap_func
from formulas.tokens.operand import Error, XlError

import udfs  # noqa: F401 - registers the catalogue
from addin.workbook.refs import MISSING
from udfs.catalogue import CATALOGUE, Spec, safe
from udfs.excel import XlError as UdfError
from udfs.names import NAME_TABLE, resolve

EMPTY = sh.EMPTY

ELEMENTWISE = frozenset(
    """
    IF IFERROR IFNA _XLFN.IFNA ISERROR ISERR ISNA ISNUMBER ISTEXT ISNONTEXT ISBLANK ISLOGICAL NOT
    ABS SIGN ROUND ROUNDUP ROUNDDOWN INT TRUNC SQRT EXP LN LOG LOG10 POWER MOD
    DATE YEAR MONTH DAY HOUR MINUTE
    UPPER LOWER TRIM LEN LEFT RIGHT MID EXACT VALUE
    NORMSDIST NORM.S.DIST _XLFN.NORM.S.DIST NORMDIST NORM.DIST _XLFN.NORM.DIST
    """.split()
)

_lock = threading.Lock()
_registered = False
# Set by the evaluator around a stacked call (``stacked``); a catalogue function whose
# arguments couple the rows sets ``vetoed`` and the group is evaluated row by row instead.
STATE = threading.local()


class CellError(XlError):
    """An Excel error value with the reason a catalogue function gave for it."""

    reason: str = ""


def error(code: str, reason: str = "") -> XlError:
    """The ``formulas`` error token for ``code``, carrying ``reason`` when there is one."""
    if not reason:
        return Error.errors[code]
    err = CellError(code)
    err.reason = reason
    return err


def reason_of(value: Any) -> str:
    return getattr(value, "reason", "") if isinstance(value, XlError) else ""


def _to_udf(value: Any) -> Any:
    if value is EMPTY or value is None or (isinstance(value, str) and value == MISSING):
        return None
    if isinstance(value, XlError):
        return UdfError(str(value), reason_of(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_udf_arg(value: Any) -> Any:
    """A ``formulas`` argument (array, scalar, blank, error) as the catalogue takes it."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _to_udf(value.item())
        rows = value.reshape(value.shape[0], -1) if value.ndim != 2 else value
        return [[_to_udf(v) for v in row] for row in rows.tolist()]
    return _to_udf(value)


def _from_udf(value: Any) -> Any:
    if isinstance(value, UdfError):
        return error(str(value), value.reason)
    if value is None:
        return EMPTY
    if isinstance(value, float) and not math.isfinite(value):
        return error("#NUM!", "not a finite number")
    return value


def from_udf_result(result: Any) -> np.ndarray:
    """A catalogue result (2-D list or scalar) as a 2-D object array of ``formulas`` values."""
    rows = result if isinstance(result, list) else [[result]]
    rows = [r if isinstance(r, list) else [r] for r in rows]
    width = max((len(r) for r in rows), default=1)
    out = np.empty((len(rows), width), dtype=object)
    out[...] = Error.errors["#N/A"]  # ragged rows: Excel pads an array with #N/A
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            out[i, j] = _from_udf(v)
    return out


def adapter(spec: Spec) -> Callable[..., np.ndarray]:
    """``spec`` as a ``formulas`` function: arrays in, a 2-D object array out, never raising."""
    call = safe(spec)

    def cell_function(*args: Any) -> np.ndarray:
        values = [to_udf_arg(a) for a in args]
        if getattr(STATE, "stacked", False) and not spec.stackable(*values):
            STATE.vetoed = True
            return np.array([[error("#N/A")]], dtype=object)
        return from_udf_result(call(*values))

    cell_function.__name__ = spec.desktop_name
    cell_function.__xlspec__ = spec  # type: ignore[attr-defined]
    return cell_function


def register() -> dict[str, Any]:
    """Add the catalogue to ``formulas``' function table (once per process) and return it."""
    global _registered
    table = formulas.get_functions()
    with _lock:
        if not _registered:
            adapters = {name: wrap_func(adapter(spec)) for name, spec in CATALOGUE.items()}
            for spelling, name in NAME_TABLE.items():
                table[spelling] = adapters[name]
            _registered = True
    return table


catalogue_spec = resolve
"""The catalogue function a (file) spelling names, or None (``udfs.names.resolve``)."""


def is_known(name: str) -> bool:
    """Whether a workbook may call ``name``: an Excel function ``formulas`` has, or ours."""
    return name.upper() in register()
