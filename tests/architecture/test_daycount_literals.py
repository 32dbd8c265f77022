"""One home for the year: no literal 365 or 360 used as a number in any package of the product
(``pricing``, ``udfs``, ``addin``, ``bench``, ``workbooks``) outside ``pricing/daycount.py``
(``DAYS_PER_YEAR``, ``FUNDING_DAYS_PER_YEAR``, ``ACT360_PER_ACT365``).

One exception: ``addin/headless/``, the workbook engine, implements Excel's own YEARFRAC and
DAYS360 (30/360 US and European, ACT/360, ACT/365, actual/actual), whose 360s and 365s are the
definitions of Excel's bases, not the desk's day count; and the headless engine may not import
``pricing`` at all (tests/architecture/test_import_direction.py).

Read from the syntax tree, not the text: docstrings, doctests and comments may say 365 (they are
strings), while ``t * 365.0`` or ``1 / 365`` in code fails here. A day-count written out beside
its home drifts from it (the ACT/360 factor was once written three ways).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOME = Path("pricing/daycount.py")
#: Day counts of a year in any spelling: ACT/365 and ACT/360.
YEAR_DAYS = (365, 360)
#: Files another engineer owns that still hold a literal (the live desk's refit, branch `live`):
#: listed so that any other file fails, and so that this entry fails once the file is clean.
PENDING: set[Path] = set()


def year_literals(source: str) -> list[int]:
    """Line numbers of every int or float constant equal to a year's day count in ``source``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value in YEAR_DAYS
    ]


def test_the_check_finds_a_year_in_code_and_not_in_text() -> None:
    source = '"""ACT/365: 365 days."""\n# 360 in a comment\nx = 2.0 * 365.0\ny = 1 / 360\nz = "365"\n'
    assert year_literals(source) == [3, 4]


#: Every package scanned.
PACKAGES = ("pricing", "udfs", "addin", "bench", "workbooks")
#: Excel's own day-count bases (YEARFRAC, DAYS360) in the headless workbook engine: see the docstring.
EXCEL_DAYCOUNT = Path("addin/headless")


def test_no_literal_year_outside_daycount() -> None:
    found = {}
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(paths) > 100, "the scan must see the product's modules"
    for path in paths:
        rel = path.relative_to(ROOT)
        if rel == HOME or rel.is_relative_to(EXCEL_DAYCOUNT):
            continue
        lines = year_literals(path.read_text(encoding="utf-8"))
        if lines:
            found[rel] = lines
    assert set(found) - PENDING == set(), {str(k): v for k, v in found.items() if k not in PENDING}
    assert PENDING <= set(found), f"clean now, drop from PENDING: {sorted(map(str, PENDING - set(found)))}"
