"""Host calls left out of the formula engine's copy give exactly what the formula engine's own text gives.

The mechanism (addin/headless/engine.py, ``_evaluated_here`` and ``_cuts``;
addin/headless/package.py, ``call_text``, ``cut_pattern`` and ``engine_copy``): a formula that
is one call of a host function evaluated here, with plain arguments (cells, numbers, booleans,
as Excel writes them), is not given to IronCalc: IronCalc cannot compute it (``#NAME?`` to it),
the engine writes the call's result over it, and parsing it was most of IronCalc's load of a
quote book. The engine takes the formula's text from the file instead of from IronCalc, and
gives a formula back to IronCalc when it is not taken as a host call after all (a function
whose ``takes`` refuses the call, say).

The guarantees:

* every formula cell's value is the value of the path without the cut (``columns=False``,
  which neither cuts nor batches): the same float bit for bit, the same error code and reason;
  the same host cells and counts. Books are random one-call formulas: host functions of the
  catalogue and of the engine's own table (spelled in capitals, in lower case, with
  ``_xludf.``), a host function whose ``takes`` refuses cell arguments (COUNT, PRODUCT: given
  back), fallback functions (never cut), SUBTOTAL, functions IronCalc computes and names it
  does not know, with arguments of every kind (cells on the own sheet and on others, sheet
  names in other case or quoted, lower-case references, numbers in other spellings, booleans,
  strings, ranges, empty arguments, names, references beyond the grid), among ordinary
  formulas that read them, and a whole-column range that reads a cut cell in the sheet's last row;
* the engine's copy leaves out exactly the ``<f>`` of the cells :func:`scan` noted and nothing
  else (the copy scanned again has every other formula, and the cut cells keep their cell);
* a part where the pattern would not cut exactly the noted cells is copied whole and the
  engine reads those formulas from IronCalc, as before.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import ExcelError, recalculate
from addin.headless.engine import _evaluated_here
from addin.headless.package import Limits, engine_copy, scan
from tests.workbook.bookkit import same

#: Function names as a formula may spell them: host functions evaluated here (catalogue and
#: the engine's own), one whose ``takes`` refuses cell arguments, fallback functions, SUBTOTAL,
#: IronCalc's own functions, an unknown name.
NAMES = [
    "CQ_BLACK",
    "cq_black",
    "_xludf.CQ_BLACK",
    "CQ_OPTION_TIME",
    "YEARFRAC",
    "BIN2DEC",
    "COUNT",
    "PRODUCT",
    "VALUE",
    "TEXT",
    "SUBTOTAL",
    "ROUND",
    "MAX",
    "NOSUCHFN",
]
#: Arguments: cells (own sheet, other sheets, absolute, lower case, quoted, other case),
#: numbers in Excel's spelling and others, booleans, strings, ranges, empty, a name, beyond the grid.
ARGS = st.sampled_from(
    [
        "A{r}",
        "B{r}",
        "C{r}",
        "$A$2",
        "$B{r}",
        "Market!$B$1",
        "Market!B{r}",
        "market!B1",
        "'Market'!B1",
        "a{r}",
        "1",
        "0.5",
        "-1",
        "1E-3",
        "1.5E+20",
        "+2",
        ".5",
        "TRUE",
        "FALSE",
        "true",
        '"C"',
        "A2:A4",
        "",
        "Rate",
        "XFD1",
        "A1048576",
        "Market!ZZZ1",
    ]
)
INPUTS = st.sampled_from([0.25, 1.0, 2.5, 60000.0, 46000.5, -1.0, 0.0, None, "C", "P", "abc", True, "#N/A"])


@st.composite
def formulas(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES))
    args = draw(st.lists(ARGS, min_size=0, max_size=5))
    return f"={name}({','.join(args)})"


@st.composite
def books(draw: st.DrawFn) -> dict[str, Any]:
    rows = draw(st.integers(2, 12))
    inputs = [[draw(INPUTS) for _ in range(3)] for _ in range(rows)]
    columns = []
    for _ in range(draw(st.integers(1, 4))):
        fill = draw(st.booleans())  # one formula filled down, or a different formula each row
        first = draw(formulas())
        columns.append([first if fill else draw(formulas()) for _ in range(rows)])
    market = [draw(INPUTS) for _ in range(rows + 1)]
    return {"inputs": inputs, "columns": columns, "market": market, "bare": draw(st.booleans())}


def write(path: Path, spec: dict[str, Any]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["a", "b", "c"])
    for i, row in enumerate(spec["inputs"]):
        r = i + 2
        for j, v in enumerate(row):
            ws.cell(r, j + 1, v)
        for k, cells in enumerate(spec["columns"]):
            ws.cell(r, 4 + k, cells[i].replace("{r}", str(r)))
        ws.cell(r, 9, f"=IFERROR(D{r}*2,-7)")  # an ordinary formula reading the first column
    # a cut call alone in the sheet's last row, and a whole-column range reading it (cut to the
    # sheet's used cells: the cut cell is one of them although the formula engine never saw it)
    ws.cell(len(spec["inputs"]) + 2, 11, "=YEARFRAC(1,400)")
    ws["L2"] = '=SUMIF(K:K,">0")'
    market = wb.create_sheet("Market")
    for i, v in enumerate(spec["market"]):
        market.cell(i + 1, 2, v)
    wb.defined_names["Rate"] = openpyxl.workbook.defined_name.DefinedName("Rate", attr_text="Market!$B$2")
    wb.save(path)
    if spec.get("bare"):  # formula cells without a cached value at all (<c><f>..</f></c>), as some writers save them
        with zipfile.ZipFile(path) as z:
            parts = {i.filename: z.read(i) for i in z.infolist()}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in parts.items():
                z.writestr(name, data.replace(b"<v></v>", b"") if name.startswith("xl/worksheets/") else data)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(books())
def test_cut_calls_give_exactly_the_values_of_the_formula_engines_text(tmp_path_factory: Any, spec: dict[str, Any]) -> None:
    path = write(tmp_path_factory.mktemp("cut") / "b.xlsx", spec)
    cut = recalculate(path, CATALOGUE_FUNCTIONS)
    whole = recalculate(path, CATALOGUE_FUNCTIONS, columns=False)
    assert cut.values.keys() == whole.values.keys()
    bad = {k: (cut.values[k], whole.values[k]) for k in cut.values if not same(cut.values[k], whole.values[k])}
    assert not bad
    assert cut.host_cells == whole.host_cells
    assert (cut.stats.host_calls, cut.stats.formulas) == (whole.stats.host_calls, whole.stats.formulas)


def _sheet_formulas(path: Path) -> dict[str, dict[tuple[int, int], Any]]:
    return {s.name: dict(s.formulas) for s in scan(path).sheets}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(books())
def test_the_copy_leaves_out_exactly_the_noted_calls(tmp_path_factory: Any, spec: dict[str, Any]) -> None:
    folder = tmp_path_factory.mktemp("copy")
    path = write(folder / "b.xlsx", spec)
    pkg = scan(path, calls=_evaluated_here(CATALOGUE_FUNCTIONS))
    noted = {s.name: dict(s.calls or {}) for s in pkg.sheets}
    cut = {s.part: (pkg.cut, len(s.calls)) for s in pkg.sheets if s.calls and pkg.cut is not None}
    done: set[str] = set()
    copy = engine_copy(path, folder / "copy.xlsx", Limits(), pkg.capped, None, False, pkg.dated, cut, done)
    assert done == set(cut)
    before, after = _sheet_formulas(path), _sheet_formulas(copy)
    for name, cells in before.items():
        assert after[name] == {k: v for k, v in cells.items() if k not in noted[name]}
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(copy) as b:
        for part in cut:
            old, new = a.read(part), b.read(part)
            assert new.count(b"<c ") == old.count(b"<c ")  # the cells stay, only their <f> goes
    for name, cells in noted.items():  # each noted text is the file's formula, and a host call
        for (r, c), raw in cells.items():
            assert raw.split(b"(", 1)[0].upper().split(b".")[-1] in {
                b"CQ_BLACK",
                b"CQ_OPTION_TIME",
                b"YEARFRAC",
                b"BIN2DEC",
                b"COUNT",
                b"PRODUCT",
            }, (name, r, c, raw)


def test_a_count_that_does_not_hold_copies_the_part_whole(tmp_path: Path) -> None:
    spec = {"inputs": [[1.0, 2.0, 3.0]] * 3, "columns": [["=CQ_BLACK(A{r},B{r},C{r},1,0.5)"] * 3], "market": [1.0] * 4}
    path = write(tmp_path / "b.xlsx", spec)
    pkg = scan(path, calls=_evaluated_here(CATALOGUE_FUNCTIONS))
    assert pkg.cut is not None and pkg.sheets[0].calls is not None and len(pkg.sheets[0].calls) == 4  # and YEARFRAC
    done: set[str] = set()
    copy = engine_copy(
        path, tmp_path / "c.xlsx", Limits(), pkg.capped, None, False, pkg.dated, {pkg.sheets[0].part: (pkg.cut, 3)}, done
    )
    assert done == set()
    assert _sheet_formulas(copy) == _sheet_formulas(path)


def test_a_quote_book_gives_its_host_calls_to_nobody_else(tmp_path: Path) -> None:
    """The bench's quote book: its four host columns are cut, its ordinary formulas are not."""
    from bench.recalc import generate

    path = generate(tmp_path / "q.xlsx", 50)
    pkg = scan(path, calls=_evaluated_here(CATALOGUE_FUNCTIONS))
    rfqs = next(s for s in pkg.sheets if s.name == "RFQs")
    assert rfqs.calls is not None and {c for _, c in rfqs.calls} == {7, 8, 9, 10} and len(rfqs.calls) == 200
    cut = recalculate(path, CATALOGUE_FUNCTIONS)
    whole = recalculate(path, CATALOGUE_FUNCTIONS, columns=False)
    assert all(same(cut.values[k], whole.values[k]) for k in whole.values)
    assert not any(isinstance(v, ExcelError) for v in cut.values.values())
