"""Excel's data tables (What-If Analysis > Data Table; ``{=TABLE(row_input,col_input)}``) computed
by substituting their input cells, as Excel does.

A data table is stored as ``<f t="dataTable" ref="E2:G4" dt2D="1" dtr="0" r1="B1" r2="B2"/>`` on
its first result cell (ECMA-376 Part 1, 18.3.1.40 ``f``: ``dt2D`` two-variable, ``dtr`` a
one-variable table whose input values run along a row, ``r1``/``r2`` the input cells). IronCalc
refuses a whole book holding one ("Not Implemented Error: data table formulas"); the package
scan leaves the ``<f>`` out of the engine's copy and this module fills the results
(Microsoft, "Calculate multiple results by using a data table"):

* one variable, values down a column (``dtr="0"``): result (i, j) is the formula in the row
  above the table, column j, with ``r1`` set to the value left of row i;
* one variable, values along a row (``dtr="1"``): result (i, j) is the formula left of the
  table, row i, with ``r1`` set to the value above column j;
* two variables: result (i, j) is the formula at the table's top-left corner with ``r1`` (the
  row input cell) set to the value above column j and ``r2`` to the value left of row i.

Each result costs one evaluation of the book, so a book's data tables are computed up to
:data:`MAX_RESULTS` results; beyond that, or where the book calls host (catalogue) functions,
whose results the substitution would not recompute, the results are errors with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from addin.headless.a1 import cell
from addin.headless.values import ExcelError

#: Results of all data tables of a book computed at most (one evaluation of the book each).
MAX_RESULTS = 2_000


@dataclass(frozen=True)
class DataTable:
    """One data table: its result area (row1, col1, row2, col2), and its inputs as (row, col)."""

    area: tuple[int, int, int, int]
    two_d: bool
    along_row: bool  # dtr: a one-variable table whose input values run along the row above
    input1: tuple[int, int] | None
    input2: tuple[int, int] | None


def _flag(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true")


def parse(ref: str | None, attrs: dict[str, str], row: int, col: int) -> DataTable | None:
    """The data table an ``<f t="dataTable">`` at (row, col) describes, None if its ``ref`` is unreadable."""
    from openpyxl.utils import range_boundaries

    try:
        c1, r1, c2, r2 = range_boundaries(ref or "")
    except (TypeError, ValueError):
        return None
    r1, c1 = r1 or row, c1 or col
    return DataTable(
        (r1, c1, r2 or r1, c2 or c1),
        _flag(attrs.get("dt2D")),
        _flag(attrs.get("dtr")),
        cell(attrs.get("r1")),
        cell(attrs.get("r2")),
    )


def compute(run: Any) -> None:
    """Fill every data table of ``run`` (the engine's run) with Excel's results (module docstring)."""
    tables = [(run.index[s.name], t) for s in run.pkg.sheets if s.name in run.index for t in s.data_tables]
    if not tables:
        return
    total = sum((t.area[2] - t.area[0] + 1) * (t.area[3] - t.area[1] + 1) for _, t in tables)
    why = None
    if run.calls:
        why = "a data table in a book that calls catalogue functions is not computed offline (their results are not substituted)"
    elif total > MAX_RESULTS:
        why = f"the book's data tables hold {total:,} results; the engine computes at most {MAX_RESULTS:,} (one evaluation each)"
    for si, t in tables:
        if why is None:
            _fill(run, si, t)
        else:
            for r in range(t.area[0], t.area[2] + 1):
                for c in range(t.area[1], t.area[3] + 1):
                    run._put(si, r, c, ExcelError("#N/A", why))
    run.model.evaluate()


def _fill(run: Any, si: int, t: DataTable) -> None:
    r1, c1, r2, c2 = t.area
    if t.input1 is None or (t.two_d and t.input2 is None):
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                run._put(si, r, c, ExcelError("#REF!", "the data table's input cell is not a cell reference"))
        return
    model = run.model
    inputs = [t.input1] + ([t.input2] if t.two_d and t.input2 is not None else [])
    saved = [model.get_cell_content(si, r, c) for r, c in inputs]
    results: dict[tuple[int, int], Any] = {}
    for r in range(r1, r2 + 1):
        for c in range(c1, c2 + 1):
            if t.two_d:
                formula_at = (r1 - 1, c1 - 1)
                values = [run._value(si, r1 - 1, c), run._value(si, r, c1 - 1)]
            elif t.along_row:
                formula_at, values = (r, c1 - 1), [run._value(si, r1 - 1, c)]
            else:
                formula_at, values = (r1 - 1, c), [run._value(si, r, c1 - 1)]
            for (ir, ic), v in zip(inputs, values, strict=True):
                run._put(si, ir, ic, v)
            model.evaluate()
            results[(r, c)] = run._value(si, *formula_at)
    for (ir, ic), content in zip(inputs, saved, strict=True):
        model.set_user_input(si, ir, ic, content)
    for (r, c), v in results.items():
        run._put(si, r, c, v)
