"""Excel desktop host: the catalogue as xlwings classic (COM/VBA) user-defined functions.

``xlwings.conf`` of the add-in sets ``UDF Modules = addin.excel.classic``; the ribbon's
"Import functions" (or ``ImportPythonUDFsToAddin``) runs xlwings' own VBA generator over
this module, which declares one VBA function per catalogue entry, named ``CQ_<NAME>``.

Excel desktop cannot receive real error values from xlwings (xlwings issue 776), so a
per-cell error is written as text that starts with the Excel code and gives the reason
(``#NUM! vol: 55 must be <= 10``); a bad argument gives one such cell. No Python traceback
ever reaches a cell: every failure is caught here.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import xlwings as xw

from udfs import CATALOGUE
from udfs.catalogue import Spec, failure
from udfs.excel import XlError
from udfs.live import summary as live_summary  # noqa: F401 - the ribbon's status line (addin.excel.ribbon.main)


def render(value: Any) -> Any:
    """Catalogue output as COM values: errors as ``#CODE reason`` text, NaN as a blank."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, XlError):
        return value.text()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def wizard_text(spec: Spec) -> str:
    """Function wizard description (Excel keeps 255 characters)."""
    return f"{spec.summary} Returns {spec.returns}"


def build(spec: Spec) -> Any:
    """One xlwings UDF for ``spec``: same parameters, help text from the catalogue."""

    @functools.wraps(spec.fn)
    def udf(*args: Any) -> Any:
        try:
            return render(spec.fn(*args))
        except Exception as exc:
            return [[failure(exc).text()]]

    udf.__name__ = udf.__qualname__ = spec.desktop_name
    udf.__doc__ = wizard_text(spec)
    udf.__annotations__ = {}  # xlwings reads annotations as converters; the catalogue converts itself
    for a in reversed(spec.args):
        # ndim=2: a cell, a row and a column all arrive as rows of cells, as the catalogue reads them;
        # err_to_str: an error cell arrives as "#N/A", so the catalogue can name it.
        udf = xw.arg(a.name, ndim=2, err_to_str=True, doc=a.doc)(udf)
    # call_in_wizard=False for heavy functions: no margin run while the user types arguments.
    return xw.func(category=spec.category, call_in_wizard=not spec.heavy)(udf)


for _spec in CATALOGUE.values():
    globals()[_spec.desktop_name] = build(_spec)
