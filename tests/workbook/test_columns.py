"""Columns of identical formulas evaluated as one unit give exactly what one call a cell gives.

The guarantee (addin/headless/engine.py, ``_Column``): a host call filled down a column is
read once, evaluated in one batched call and written once per column, and every cell's value
is the value the per-cell path (``recalculate(..., columns=False)``, the path before columns)
gives: the same float bit for bit, the same error code with the same reason. The oracle is
that per-cell path; the catalogue's batched functions are one code path for both, so the test
checks the scheduling (which rows, which arguments, which order), not the pricing.

Books are random: rows of inputs of every kind (numbers, blanks, text where a number is
expected, booleans, error values, a formula), and formula columns filled down with
interruptions (another formula, a blank), host calls reading inputs, other host columns
(dependencies between columns), ordinary formulas (which the formula engine computes: the
column then waits for it), the row above, their own column (a chain), fixed cells, literals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import ExcelError, HostFunction, recalculate
from tests.workbook.bookkit import same

#: Input kinds, each a cell value (a string starting with "=" is a formula).
NUMBERS = st.sampled_from([0.25, 1.0, 2.5, 60000.0, 65000.0, -1.0, 0.0, 1e-9])
INPUT = st.one_of(
    NUMBERS,
    NUMBERS,
    st.just(None),
    st.sampled_from(["abc", "7", "", "C", "P", "call"]),
    st.booleans(),
    st.sampled_from(["#N/A", "#DIV/0!"]),
)
#: An input that is a formula (its readers wait for the formula engine): in half the books only.
FORMULA_INPUT = st.sampled_from(["=1/0", "=2*3", "=60000+1"])

#: Formula templates filled down; {r} is the row, {p} the row above. Columns F-K hold these.
TEMPLATES = [
    "=CQ_BLACK(A{r},B{r},C{r},D{r},E{r})",
    "=CQ_BLACK(A{r},60000,C{r},0.5,E{r})",
    "=CQ_BLACK(A{r},F{r},C{r},D{r},E{r})",  # reads another host column: a dependency
    "=CQ_BLACK(A{r},G{r},C{r},$D$2,E{r})",  # reads column G (host or ordinary, as drawn) and a fixed cell
    "=CQ_BLACK(A{p},B{p},C{r},D{r},E{p})",  # the row above
    "=CQ_BLACK(A{r},B{r},H{p},D{r},E{r})",  # column H's row above (its own column when in H: a chain)
    "=CQ_BLACK(A{r},B{r},C{r},Market!$B$1,E{r})",  # another sheet, fixed
    "=CQ_BLACK(A{r},B{r},C{r},D{r})",  # an argument missing
    "=CQ_BLACK(TRUE,B{r},C{r},D{r},E{r})",  # a literal of the wrong kind
    "=F{r}*2+B{r}",  # ordinary formulas, computed by the formula engine
    '=IF(A{r}="C",C{r},B{r})',
    "=CQ_BLACK(A{r},B{r}+1,C{r},D{r},E{r})",  # an expression argument: never a column
    "=B$2:B$25*2",  # a legacy formula over a range: rewritten (implicit intersection) in each row
    "=B{r}+NOW()*0",  # volatile
]
FORMULA_COLUMNS = "FGHIJK"


@st.composite
def books(draw: st.DrawFn) -> dict[str, Any]:
    rows = draw(st.integers(2, 24))
    kinds = st.one_of(INPUT, FORMULA_INPUT) if draw(st.booleans()) else INPUT
    inputs = [[draw(kinds) for _ in range(5)] for _ in range(rows)]
    columns: dict[str, list[str | None]] = {}
    for col in FORMULA_COLUMNS[: draw(st.integers(1, len(FORMULA_COLUMNS)))]:
        main = draw(st.sampled_from(TEMPLATES + TEMPLATES[2:6]))  # reading other columns: twice as likely
        cells: list[str | None] = []
        for r in range(2, rows + 2):
            kind = draw(st.sampled_from(["main"] * 6 + ["other", "blank"]))
            t = main if kind == "main" else draw(st.sampled_from(TEMPLATES)) if kind == "other" else None
            cells.append(None if t is None else t.format(r=r, p=max(r - 1, 1)))
        columns[col] = cells
    return {"inputs": inputs, "columns": columns, "market": draw(NUMBERS)}


def write(path: Path, spec: dict[str, Any]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["cp", "F", "K", "T", "vol", *FORMULA_COLUMNS])
    for i, row in enumerate(spec["inputs"]):
        r = i + 2
        for j, v in enumerate(row):
            ws.cell(r, j + 1, v)
        for col, cells in spec["columns"].items():
            if cells[i] is not None:
                ws[f"{col}{r}"] = cells[i]
    wb.create_sheet("Market")["B1"] = spec["market"]
    wb.save(path)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(books())
def test_columns_give_exactly_the_per_cell_values(tmp_path_factory: Any, spec: dict[str, Any]) -> None:
    path = write(tmp_path_factory.mktemp("col") / "b.xlsx", spec)
    fast = recalculate(path, CATALOGUE_FUNCTIONS)
    slow = recalculate(path, CATALOGUE_FUNCTIONS, columns=False)
    assert fast.values.keys() == slow.values.keys()
    bad = {k: (fast.values[k], slow.values[k]) for k in fast.values if not same(fast.values[k], slow.values[k])}
    assert not bad
    assert fast.host_cells == slow.host_cells
    assert fast.stats.host_calls == slow.stats.host_calls and fast.stats.formulas == slow.stats.formulas


def test_a_column_reading_a_column_with_a_gap(tmp_path: Path) -> None:
    """F reads G; G is a host column but for one row, an ordinary formula the formula engine
    computes later: F is then evaluated a row at a time, after it (found by a mutation that
    let F wait for G's first column only: F4 read G4 before it was computed)."""
    rows = 6
    g = [f"=CQ_BLACK(A{r},B{r},C{r},D{r},E{r})" for r in range(2, rows + 2)]
    g[2] = '=IF(A4="C",C4,B4)'
    f = [f"=CQ_BLACK(A{r},G{r},C{r},$D$2,E{r})" for r in range(2, rows + 2)]
    for columns in ({"F": f, "G": g}, {"G": g, "H": [t.replace("G", "H") for t in g], "F": f}):
        spec = {"inputs": [["C", 60000.0, 65000.0, 0.5, 0.5]] * rows, "columns": columns, "market": 1.0}
        path = write(tmp_path / "gap.xlsx", spec)
        fast, slow = recalculate(path, CATALOGUE_FUNCTIONS), recalculate(path, CATALOGUE_FUNCTIONS, columns=False)
        assert all(same(fast.values[k], v) for k, v in slow.values.items())
        assert isinstance(fast.values[("S", 4, 6)], float)


def test_columns_reading_each_other_a_row_apart(tmp_path: Path) -> None:
    """F reads H's row above and H reads F's own row: no cell is circular, but neither column
    can run before the other. Both go back to one call a row, ordered row by row as the
    per-cell path orders them (found while testing: they were left to the passes, one formula
    engine evaluation a row)."""
    rows = 8
    f = [f"=CQ_BLACK(A{r},B{r},H{r - 1},D{r},E{r})" for r in range(3, rows + 3)]
    h = [f"=CQ_BLACK(A{r},B{r},F{r},D{r},E{r})" for r in range(3, rows + 3)]
    spec = {"inputs": [["C", 60000.0, 65000.0, 0.5, 0.5]] + [["P", 60000.0, 1.0, 0.5, 0.5]] * rows, "market": 1.0}
    spec["columns"] = {"F": [None, *f], "H": [65000.0, *h]}  # H2 an input: F3 reads it
    path = write(tmp_path / "chain.xlsx", spec)
    fast, slow = recalculate(path, CATALOGUE_FUNCTIONS), recalculate(path, CATALOGUE_FUNCTIONS, columns=False)
    assert all(same(fast.values[k], v) for k, v in slow.values.items())
    # ordered row by row before the formula engine runs, as the per-cell path orders them (not
    # left to one pass of the formula engine a row)
    assert fast.stats.exact_calls == slow.stats.exact_calls == 2 * rows and fast.stats.passes == 1


def _spy(calls: list[int]) -> dict[str, HostFunction]:
    """The catalogue's CQ_BLACK, counting the calls it is handed per batch."""
    black = CATALOGUE_FUNCTIONS["CQ_BLACK"]

    def evaluate(batch: list[list[Any]]) -> list[Any]:
        calls.append(len(batch))
        return black.evaluate(batch)

    return {"CQ_BLACK": HostFunction(black.name, evaluate)}


def test_a_column_is_one_batch_and_a_bad_row_stays_in_its_cell(tmp_path: Path) -> None:
    """2,000 rows of two host columns (the second reads the first) and an ordinary one: one
    batch a level, in dependency order, a text strike in one row and a negative vol in
    another are errors in their own cells only, with the catalogue's reason."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r in range(2, 2002):
        ws[f"A{r}"] = "C" if r % 2 else "P"
        ws[f"B{r}"] = 60000.0
        ws[f"C{r}"] = "sixty" if r == 700 else 50000.0 + 10 * r
        ws[f"D{r}"] = 0.5
        ws[f"E{r}"] = -0.3 if r == 1500 else 0.5 + r * 1e-5
        ws[f"F{r}"] = f"=CQ_BLACK(A{r},B{r},C{r},D{r},E{r})"
        ws[f"G{r}"] = f"=CQ_BLACK(A{r},F{r}+0,C{r},D{r},E{r})" if r == 10 else f"=CQ_BLACK(A{r},B{r},F{r},D{r},E{r})"
        ws[f"H{r}"] = f"=ROUND(F{r},2)"
    wb.save(tmp_path / "b.xlsx")
    sizes: list[int] = []
    res = recalculate(tmp_path / "b.xlsx", _spy(sizes))
    slow = recalculate(tmp_path / "b.xlsx", CATALOGUE_FUNCTIONS, columns=False)
    # F whole; then G2:G9 and G11:G2001 (both columns of one level, one batch); G10 (an
    # expression argument) in the passes
    assert sizes == [2000, 1999, 1]
    for key, v in slow.values.items():
        assert same(res.values[key], v), key
    bad_k, bad_vol = res.values[("S", 700, 6)], res.values[("S", 1500, 6)]
    assert isinstance(bad_k, ExcelError) and bad_k.reason and isinstance(bad_vol, ExcelError) and "vol" in bad_vol.reason
    assert isinstance(res.values[("S", 700, 8)], ExcelError)
    errors = {k for k, v in res.values.items() if isinstance(v, ExcelError)}
    assert {k[1] for k in errors} == {700, 1500}  # per-row errors stay in their rows


_REWRITTEN = [
    "=IF(A{r}>B{r},A{r}-B{r},0)",  # comparisons to 15 significant digits
    '=IF(A{r}=B{r},"same",A{r}&"<>"&B{r})',
    "=DATE(1900,1,MOD(A{r},50))+(A{r}<=B{r})",  # Excel's DATE before March 1900, a comparison
    '=LEFT("abcdef",A{r}>0)&DATEVALUE("1 Mar 2024")',  # text counts, date text
    "=SUM(A{r}:A{r})*(A$1>=B{r})",  # a one-cell range, an absolute row
]


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.sampled_from([0.1, 0.3, 0.1 + 0.2, 1.0, 3.0, -2.0, 1e15, 1e15 + 1]), min_size=8, max_size=30),
    st.lists(st.sampled_from([0.1, 0.3, 0.1 + 0.2, 1.0, 3.0, -2.0, 1e15, 1e15 + 1]), min_size=8, max_size=30),
)
def test_a_rewritten_formula_filled_down_is_each_rows_rewrite(tmp_path_factory: Any, a: list[float], b: list[float]) -> None:
    """A formula the engine rewrites from its text alone (engine ``_rewrites_above``: the
    first row's rewrite filled down by string substitution, no tokenizer) gives exactly the
    values of each row rewritten on its own (``columns=False``), whatever the data; a row
    that breaks the run (a different formula) starts a new one."""
    n = min(len(a), len(b))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r in range(1, n + 1):
        ws.cell(r, 1).value, ws.cell(r, 2).value = a[r - 1], b[r - 1]
        for k, f in enumerate(_REWRITTEN):
            ws.cell(r, 3 + k).value = f.format(r=r) if r != n // 2 else "=A1+1"
    path = tmp_path_factory.mktemp("rw") / "rw.xlsx"
    wb.save(path)
    fast, slow = recalculate(path).values, recalculate(path, columns=False).values
    assert fast == slow
