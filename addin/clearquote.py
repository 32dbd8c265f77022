"""The add-in's ribbon action (Windows/macOS Excel; runs inside Excel's xlwings session).

The add-in file is ``addin.clearquote.xlam``: the ``RunMain`` ribbon callback that
``xlwings quickstart --ribbon`` generates runs ``import <file base name>; <base>.main()``,
so the dotted base name reaches this module without a top-level package of its own.
"""

from __future__ import annotations

import time

ADDIN_FILE = "addin.clearquote.xlam"
UDF_MODULE = "addin.excel.classic"


def main() -> None:
    """Ribbon "Import functions & recalculate": (re)declare the CQ_* functions in the add-in,
    then fully recalculate the active workbook (the quote book) and report in the status bar.

    Recalculating is what refreshes a live market: ``CQ_MARKET("deribit")`` (any live spec)
    takes the source's newest snapshot each time it is evaluated (a new handle naming the
    snapshot and its age), and everything priced on the handle follows. The status bar then
    names each live market's snapshot and the age of its marks.
    """
    import importlib

    import xlwings as xw

    app = xw.apps.active
    addin_book = app.api.Workbooks(ADDIN_FILE)
    start = time.perf_counter()
    xw.import_udfs(UDF_MODULE, addin_book)
    app.api.CalculateFull()
    live = importlib.import_module(UDF_MODULE).live_summary()  # the functions' module holds the live sources
    app.status_bar = f"clearquote: functions imported and workbook recalculated in {time.perf_counter() - start:.1f} s" + (
        f"; live markets refreshed: {live}" if live else ""
    )
