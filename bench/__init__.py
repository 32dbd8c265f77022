"""Benchmarks (``clearquote bench``, ``bench-recalc``): the project beside named peers in one run.

Not part of the product's runtime: they import the peers (QuantLib, formulas' ExcelModel),
which only the ``test`` extra installs. ``addin.cli`` imports this package lazily.
"""
