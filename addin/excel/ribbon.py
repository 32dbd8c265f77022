"""The desktop add-in's ribbon action (Windows/macOS Excel; runs inside Excel's xlwings session).

The add-in file is ``addin.clearquote.xlam``: the ``RunMain`` ribbon callback that
``xlwings quickstart --ribbon`` generates runs ``import <file base name>; <base>.main()``, so
the VBA names the module ``addin.clearquote``. That module is only an entry point re-exporting
:func:`main` from here (the action belongs to the desktop host; ``addin.clearquote`` is its own
part of the layout, importing ``addin.excel`` and imported by nothing, so no loop).
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
    import xlwings as xw

    from addin.excel import classic  # the functions' module holds the live sources

    app = xw.apps.active
    addin_book = app.api.Workbooks(ADDIN_FILE)
    start = time.perf_counter()
    xw.import_udfs(UDF_MODULE, addin_book)
    app.api.CalculateFull()
    live = classic.live_summary()
    app.status_bar = f"clearquote: functions imported and workbook recalculated in {time.perf_counter() - start:.1f} s" + (
        f"; live markets refreshed: {live}" if live else ""
    )
