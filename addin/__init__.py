"""Hosts that run the catalogue: the xlwings desktop add-in, xlwings Server, the headless
workbook engine and the ``clearquote`` command line."""
