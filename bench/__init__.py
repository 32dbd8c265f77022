"""Benchmarks (``python -m bench NAME``): the project beside named peers in one run.

Not part of the product's runtime: they import the peers (QuantLib, formulas' ExcelModel),
which only the ``test`` extra installs. Not in the wheel; nothing in the product imports it.
"""
