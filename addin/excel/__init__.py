"""The two Excel hosts of the catalogue.

- :mod:`addin.excel.classic`: the classic xlwings add-in (desktop Excel on Windows/macOS), with
  ``addin.clearquote.xlam`` beside it (built by :mod:`addin.excel.build_xlam`).
- :mod:`addin.excel.office_js`: the xlwings Server custom functions (Excel via Office.js); the
  xlwings Server project folder is ``server/`` beside it.
"""
