"""The headless workbook engine: recalculate, write cached values, validate, without Excel.

Generic: it knows no catalogue. A caller passes the functions the formula engine does not know
as a :data:`FunctionTable` (``addin.excel.catalogue.function_table()`` for clearquote's).
"""

from addin.headless.engine import FunctionTable, HostFunction, Result, recalculate
from addin.headless.package import Limits
from addin.headless.recalc import CACHE_MODES, recalc
from addin.headless.validate import Mismatch, Validation, validate
from addin.headless.values import BookError, ExcelError, show

__all__ = [
    "CACHE_MODES",
    "BookError",
    "ExcelError",
    "FunctionTable",
    "HostFunction",
    "Limits",
    "Mismatch",
    "Result",
    "Validation",
    "recalc",
    "recalculate",
    "show",
    "validate",
]
