"""PIVOTBY and GROUPBY's other forms (addin/headless/groupby.py on the one core
addin/headless/grouping.py; IronCalc 0.9.1 has neither).

Oracles:
* Microsoft, "PIVOTBY function" and "GROUPBY function" (support.microsoft.com, Excel functions):
  groups of the distinct key rows, each cell the function over the values its row and column
  share, totals by ``row_total_depth``/``col_total_depth``, ``sort_order`` over the key columns
  then the value columns, ``filter_array``, ``relative_to`` for two-argument functions
  (0 column totals, 1 row totals, 2 grand total, 3 parent column total, 4 parent row total).
  The properties below write that rule plainly in Python (no code of the engine).
* Excel's cached values in formulas' test book (``../shared/corpus/excel``, sheets LOOKUP and
  EXTRA: 27 GROUPBY/PIVOTBY formulas, 860 cells) for what Microsoft leaves open; the book is
  rebuilt small (its input cells and those formulas) so the test reads Excel's own numbers.
Numbers are compared to 1e-12 relative: sums of at most 19 small integers and their ratios,
exact in binary but for the last bit of a division.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils import range_boundaries
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import ExcelError, recalculate

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "excel" / "formulas__test_test_files_test.xlsx"


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return got == pytest.approx(want, rel=1e-12, abs=1e-300)
    if isinstance(got, ExcelError):
        return want == got.code
    return bool(want == got)


@pytest.mark.skipif(not CORPUS.exists(), reason="the corpus is beside the project, not in it")
def test_the_corpus_books_groupby_and_pivotby_cells_are_excels(tmp_path: Path) -> None:
    """Every cell of every GROUPBY and PIVOTBY formula in formulas' test book equals Excel's
    cached value (subtotals with "Grand Total", PERCENTOF by relative_to 0-4, sorts by values,
    field_headers 1/3, a two-column filter_array, an error filter, depth beyond the fields,
    an eta-reduced IF, a function given as a cell holding #N/A)."""
    formulas = openpyxl.load_workbook(CORPUS)
    cached = openpyxl.load_workbook(CORPUS, data_only=True)
    out = openpyxl.Workbook()
    out.remove(out.active)
    for title in ("LOOKUP", "EXTRA"):
        out.create_sheet(title)
    src, dst = formulas["LOOKUP"], out["LOOKUP"]
    for rng in ("C24:K44", "C91:L112"):  # the two tables the formulas read
        for row in src[rng]:
            for c in row:
                dst[c.coordinate] = c.value
    anchors: list[tuple[str, str]] = []
    for title in ("LOOKUP", "EXTRA"):
        for row in formulas[title].iter_rows():
            for c in row:
                text = getattr(c.value, "text", c.value)
                if isinstance(text, str) and text.startswith("=") and ("GROUPBY(" in text or "PIVOTBY(" in text):
                    ref = getattr(c.value, "ref", None) or c.coordinate
                    out[title][c.coordinate] = ArrayFormula(ref, text)
                    anchors.append((title, ref))
    assert len(anchors) == 27
    out.save(tmp_path / "pivots.xlsx")
    got = recalculate(tmp_path / "pivots.xlsx").values
    wrong, cells = [], 0
    for title, ref in anchors:
        c1, r1, c2, r2 = range_boundaries(ref)
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                cells += 1
                want, have = cached[title].cell(r, c).value, got.get((title, r, c))
                if not _same(want, have):
                    wrong.append((title, r, c, want, have))
    assert cells == 860
    assert wrong == []


# ----------------------------------------------------------------------------- the rule, plainly


def _order(v: Any) -> tuple[int, Any]:
    """Excel's ascending order for the keys used here: numbers, then text ignoring case."""
    return (0, v) if isinstance(v, (int, float)) else (1, str(v).lower())


def _fn(name: str, xs: list[int], of: list[int]) -> Any:
    if name == "SUM":
        return float(sum(xs))
    if name == "COUNT":
        return float(len(xs))
    if name == "MAX":
        return float(max(xs))
    if name == "AVERAGE":
        return statistics.fmean(xs)
    total = sum(of)  # PERCENTOF(subset, all) = SUM(subset) / SUM(all)
    return sum(xs) / total if total else ExcelError("#DIV/0!")


def _ordered(groups: dict[Any, list[int]], sort: int | None, value: Any) -> list[Any]:
    """Group keys ascending, or by the sort: 1 the key, 2 the group's value (ties by key)."""
    keys = sorted(groups, key=_order)
    if sort in (1, -1):
        return sorted(keys, key=_order, reverse=sort < 0)
    if sort in (2, -2):
        by = sorted(keys, key=lambda k: _order(value(groups[k])))  # stable: ties keep key order
        if sort < 0:
            by = sorted(keys, key=lambda k: _order(value(groups[k])), reverse=True)
        return by
    return keys


def _pivot_reference(
    rows: list[tuple[str, int, int]], fn: str, rd: int, rs: int | None, cd: int, cs: int | None, rel: int
) -> list[list[Any]]:
    everything = list(range(len(rows)))
    rg: dict[Any, list[int]] = {}
    cg: dict[Any, list[int]] = {}
    for i, (r, c, _) in enumerate(rows):
        rg.setdefault(r, []).append(i)
        cg.setdefault(c, []).append(i)
    value = [v for _, _, v in rows]

    def cell(ri: list[int], ci: list[int]) -> Any:
        shared = [i for i in ri if i in ci]
        if not shared:
            return None
        of = {0: ci, 1: ri, 2: everything, 3: ri, 4: ci}[rel]  # one level: the parent is the total
        return _fn(fn, [value[i] for i in shared], [value[i] for i in of])

    rkeys = _ordered(rg, rs, lambda g: cell(g, everything))
    ckeys = _ordered(cg, cs, lambda g: cell(everything, g))
    rlines = [(k, rg[k]) for k in rkeys]
    clines = [(k, cg[k]) for k in ckeys]
    if rd:
        rlines = [("Total", everything), *rlines] if rd < 0 else [*rlines, ("Total", everything)]
    if cd:
        clines = [("Total", everything), *clines] if cd < 0 else [*clines, ("Total", everything)]
    out = [[None, *(float(k) if isinstance(k, int) else k for k, _ in clines)]]
    for k, ri in rlines:
        out.append([k, *(cell(ri, ci) for _, ci in clines)])
    return out


def _book(tmp: Path, rows: list[tuple[Any, ...]], formula: str, shape: tuple[int, int]) -> list[list[Any]]:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row, 1):
            ws.cell(r, c, v)
    h, w = shape
    ws["H1"] = ArrayFormula(f"H1:{openpyxl.utils.get_column_letter(7 + w)}{h}", formula.format(n=len(rows)))
    wb.save(tmp / "p.xlsx")
    got = recalculate(tmp / "p.xlsx").values
    return [[got.get(("S", r, c)) for c in range(8, 8 + w)] for r in range(1, h + 1)]


def _cells_equal(got: list[list[Any]], want: list[list[Any]]) -> bool:
    return len(got) == len(want) and all(
        len(g) == len(w) and all(_same(b, a) if not isinstance(b, ExcelError) else a == b for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["p", "Q", "r"]), st.sampled_from([1, 2, 3]), st.integers(1, 9)), min_size=1, max_size=10),
    st.sampled_from(["SUM", "COUNT", "MAX", "AVERAGE", "PERCENTOF"]),
    st.sampled_from([0, 1, -1]),
    st.sampled_from([None, 1, -1, 2, -2]),
    st.sampled_from([0, 1, -1]),
    st.sampled_from([None, 1, -1, 2, -2]),
    st.integers(0, 4),
)
def test_pivotby_is_the_documented_rule(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, int, int]],
    fn: str,
    rd: int,
    rs: int | None,
    cd: int,
    cs: int | None,
    rel: int,
) -> None:
    """Any small table, function, totals at the end, the start or none on either axis, sorts by
    key or by the other axis's total, up or down, and every relative_to: Microsoft's rule."""
    want = _pivot_reference(rows, fn, rd, rs, cd, cs, rel)
    opt = lambda v: "" if v is None else str(v)  # noqa: E731
    formula = f"=_xlfn.PIVOTBY(A1:A{{n}},B1:B{{n}},C1:C{{n}},_xleta.{fn},0,{rd},{opt(rs)},{cd},{opt(cs)},,{rel})"
    got = _book(tmp_path_factory.mktemp("p"), list(rows), formula, (len(want), len(want[0])))
    assert _cells_equal(got, want), (got, want)


def _groupby_reference(
    rows: list[tuple[str, int, int, bool]], fn: str, depth: int, sort: int | None, table: bool
) -> list[list[Any]]:
    """Two key columns, one value column, rows whose filter is FALSE dropped. Hierarchy: the
    first key's groups, each followed (depth 2) or preceded (-2) by its subtotal; a sort on key
    column 1 or 2 orders that level, on the value column (3) the second level within the first.
    Table: the distinct key pairs sorted as flat rows by the sort, then by both keys."""
    kept = [i for i, r in enumerate(rows) if r[3]]
    val = [r[2] for r in rows]
    agg = lambda ix: _fn(fn, [val[i] for i in ix], [val[i] for i in kept])  # noqa: E731
    pairs: dict[tuple[Any, Any], list[int]] = {}
    for i in kept:
        pairs.setdefault((rows[i][0], rows[i][1]), []).append(i)
    lines: list[list[Any]] = []
    if table:
        order = sorted(pairs, key=lambda p: (_order(p[0]), _order(p[1])))
        if sort is not None:
            pick = {1: lambda p: _order(p[0]), 2: lambda p: _order(p[1]), 3: lambda p: _order(agg(pairs[p]))}[abs(sort)]
            order = sorted(order, key=pick, reverse=sort < 0)
        lines = [[a, float(b), agg(pairs[(a, b)])] for a, b in order]
    else:
        firsts: dict[Any, list[int]] = {}
        for i in kept:
            firsts.setdefault(rows[i][0], []).append(i)
        for a in _ordered(firsts, sort if sort in (1, -1) else None, agg):
            seconds = {b: ix for (x, b), ix in pairs.items() if x == a}
            inner = {2: 1, -2: -1, 3: 2, -3: -2}.get(sort) if sort is not None else None
            block = [[a, float(b), agg(seconds[b])] for b in _ordered(seconds, inner, agg)]
            sub = [[a, None, agg(firsts[a])]]
            lines += (sub if depth == -2 else []) + block + (sub if depth == 2 else [])
    grand = [["Grand Total" if abs(depth) == 2 else "Total", None, agg(kept)]]
    return (grand if depth < 0 else []) + lines + (grand if depth > 0 else [])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["x", "Y", "z"]), st.sampled_from([1, 2, 3]), st.integers(-9, 9), st.booleans()),
        min_size=1,
        max_size=10,
    ).filter(lambda rs: any(r[3] for r in rs)),
    st.sampled_from(["SUM", "COUNT", "MAX", "PERCENTOF"]),
    st.sampled_from([0, 1, -1, 2, -2]),
    st.sampled_from([None, 1, -1, 2, -2, 3, -3]),
    st.booleans(),
)
def test_groupby_subtotals_sorts_filter_and_relationship_are_the_documented_rule(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, int, int, bool]],
    fn: str,
    depth: int,
    sort: int | None,
    table: bool,
) -> None:
    """GROUPBY over two key columns: subtotals at the end or start of each first-level group,
    the grand total ("Grand Total" beside subtotals), a filter_array, each sort, and the table
    relationship (no subtotals: Microsoft, "not supported")."""
    if table and abs(depth) == 2:
        depth = depth // 2
    want = _groupby_reference(rows, fn, depth, sort, table)
    opt = "" if sort is None else str(sort)
    formula = f"=_xlfn.GROUPBY(A1:B{{n}},C1:C{{n}},_xleta.{fn},0,{depth},{opt},D1:D{{n}},{int(table)})"
    got = _book(tmp_path_factory.mktemp("g"), list(rows), formula, (len(want), 3))
    assert _cells_equal(got, want), (got, want)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("formula", "code", "reason"),
    [
        ("=_xlfn.PIVOTBY(A1:A4,B1:B3,C1:C4,_xleta.SUM)", "#VALUE!", "different numbers of rows"),
        ("=_xlfn.PIVOTBY(A1:A4,B1:B4,C1:C4,_xleta.SUM,0,1,3)", "#VALUE!", "sort order 3"),
        ("=_xlfn.PIVOTBY(A1:A4,B1:B4,C1:C4,_xleta.SUM,0,3)", "#VALUE!", "total depth of 3"),
        ("=_xlfn.PIVOTBY(A1:A4,B1:B4,C1:C4,_xleta.PERCENTOF,0,1,1,1,1,,7)", "#VALUE!", "relative_to 7"),
        ("=_xlfn.PIVOTBY(A1:A4,B1:B4,C1:C4,5)", "#VALUE!", "LAMBDA or an eta-reduced"),
        ("=_xlfn.PIVOTBY(A1:A4,B1:B4,C1:C4,_xleta.SUM,0,1,1,1,1,D1:D4)", "#DIV/0!", ""),
        ("=_xlfn.GROUPBY(A1:A4,C1:C4,_xleta.SUM,5)", "#VALUE!", "field_headers 5"),
        ("=_xlfn.GROUPBY(A1:A4,C1:C4,_xleta.SUM,0,1,{1,2})", "#VALUE!", "several sort columns"),
        ("=_xlfn.GROUPBY(A1:A4,C1:C4,_xleta.SUM,0,1,1,A1:A4)", "#VALUE!", "filter_array holds the text"),
        ("=_xlfn.GROUPBY(A1:A4,C1:C4,_xleta.SUM,0,1,1,{0;0;0;0})", "#CALC!", "no data rows"),
        ("=_xlfn.GROUPBY(A1:A4,C1:C4,_xlfn.HSTACK(_xleta.SUM,_xleta.MAX))", "#NAME?", "vector of functions"),
        ("=_xlfn.GROUPBY(A1:B4,C1:C4,_xleta.SUM,0,2,,,1)", "#VALUE!", "subtotals need the hierarchy"),
    ],
)
def test_arguments_excel_refuses_are_errors_with_the_reason(tmp_path: Path, formula: str, code: str, reason: str) -> None:
    """Microsoft: the fields' lengths must match; sort numbers name a result column (a vector of
    them only over key columns); a depth beyond 2 needs as many fields (Excel's cached #VALUE!,
    EXTRA!AX3); the function is a LAMBDA or an eta-reduced function; an error in filter_array is
    that error (Excel's cached LOOKUP!N105); nothing kept is #CALC!; field_relationship 1 takes
    no subtotals."""
    rows = [("a", "x", 1, "=1/0"), ("b", "y", 2, 1), ("a", "y", 3, 1), ("b", "x", 4, 0)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row, 1):
            ws.cell(r, c, v)
    ws["H1"] = ArrayFormula("H1", formula)
    wb.save(tmp_path / "e.xlsx")
    res = recalculate(tmp_path / "e.xlsx")
    got = res.values[("S", 1, 8)]
    assert isinstance(got, ExcelError) and got.code == code
    assert reason in got.reason


# ----------------------------------------------------------------------------- the command line


def test_an_openpyxl_book_through_recalc_and_validate_shows_every_value(tmp_path: Path) -> None:
    """A book written by openpyxl (no cached values) with GROUPBY (subtotals, headers shown) and
    PIVOTBY (PERCENTOF of row totals): ``clearquote recalc`` stores every cell's value, which
    openpyxl reads back as Microsoft's rule gives them, and ``clearquote validate`` of the
    output finds every formula cell agreeing."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Desk"
    data = [("desk", "book", "expiry", "vega"), ("A", "x", 1, 10), ("A", "y", 2, 30), ("B", "x", 1, 20), ("A", "x", 2, 40)]
    for r, row in enumerate(data, 1):
        for c, v in enumerate(row, 1):
            ws.cell(r, c, v)
    ws["G1"] = ArrayFormula("G1:I7", "=_xlfn.GROUPBY(A1:B5,D1:D5,_xleta.SUM,3,2)")
    ws["G10"] = ArrayFormula("G10:J13", "=_xlfn.PIVOTBY(A2:A5,C2:C5,D2:D5,_xleta.PERCENTOF,0,1,,1,,,1)")
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["Desk"]
    grid = [[back.cell(r, c).value for c in range(7, 10)] for r in range(1, 8)]
    assert grid == [
        ["desk", "book", "vega"],
        ["A", "x", 50],
        ["A", "y", 30],
        ["A", None, 80],
        ["B", "x", 20],
        ["B", None, 20],
        ["Grand Total", None, 100],
    ]
    pivot = [[back.cell(r, c).value for c in range(7, 11)] for r in range(10, 14)]
    assert pivot[0] == [None, 1, 2, "Total"]
    assert pivot[1] == ["A", pytest.approx(10 / 80), pytest.approx(70 / 80), 1]
    assert pivot[2] == ["B", 1, None, 1]
    assert pivot[3] == ["Total", pytest.approx(30 / 100), pytest.approx(70 / 100), 1]
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0


_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3).map(float),
    st.sampled_from(["a", "B", "", "Total"]),
    st.sampled_from([ExcelError("#N/A"), ExcelError("#VALUE!")]),
)


def _grids(rows: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        _VALUE,
        st.integers(1, 3).flatmap(lambda w: st.lists(st.lists(_VALUE, min_size=w, max_size=w), min_size=rows, max_size=rows)),
    )


_FUNCTION = st.one_of(
    st.sampled_from(
        ["\u2063eta:SUM", "\u2063eta:PERCENTOF", "\u2063eta:COUNTA", "\u2063eta:MEDIAN", "\u2063vector:HSTACK(SUM,MAX)"]
    ),
    _VALUE,
)
_OPTION = st.one_of(st.none(), st.integers(-4, 5).map(float), st.sampled_from(["x", ExcelError("#REF!"), True]))


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(_grids(n), _grids(n), _grids(n), _FUNCTION, st.lists(_OPTION, max_size=7), _grids(n))
    )
)
def test_any_arguments_give_a_rectangle_or_an_error_with_a_reason(case: tuple[Any, ...]) -> None:
    """Hostile arguments (errors, blanks, logicals, text where numbers go, wrong shapes, any
    option value): GROUPBY and PIVOTBY never raise; each gives a rectangular array or an error
    value (an error the arguments hold passed on, else one with its reason)."""
    from addin.headless.groupby import groupby, pivotby

    rows, cols, vals, fn, opts, filt = case
    held = {
        v.code
        for a in (rows, cols, vals, fn, filt, *opts)
        for v in ([a] if not isinstance(a, list) else [x for r in a for x in r])
        if isinstance(v, ExcelError)
    }
    options = [*opts[:5], filt] if len(opts) > 5 else opts
    for result in (groupby([[rows, vals, fn, *options[:5]]]), pivotby([[rows, cols, vals, fn, *options]])):
        (got,) = result
        if isinstance(got, ExcelError):
            assert got.reason or got.code in held, got
            continue
        assert isinstance(got, list) and got and all(isinstance(r, list) for r in got)
        assert len({len(r) for r in got}) == 1


def test_a_groupby_or_pivotby_inside_a_formula_is_its_whole_array(tmp_path: Path) -> None:
    """Nested in a formula, the call's array is whole, whatever its shape (Microsoft: GROUPBY and
    PIVOTBY return arrays, which ROWS, INDEX and SUM read as any array): never its first value."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (k, v) in enumerate([("a", 1), ("b", 2), ("a", 3)], 1):
        ws.cell(r, 1, k)
        ws.cell(r, 2, v)
    ws["D1"] = "=ROWS(_xlfn.GROUPBY(A1:A3,B1:B3,_xleta.SUM))"
    ws["D2"] = "=INDEX(_xlfn.GROUPBY(A1:A3,B1:B3,_xleta.SUM),3,2)"
    ws["D3"] = ArrayFormula("D3", "=SUM(_xlfn.PIVOTBY(A1:A3,A1:A3,B1:B3,_xleta.SUM,0,0,,0))")
    ws["D4"] = "=COLUMNS(_xlfn.PIVOTBY(A1:A3,A1:A3,B1:B3,_xleta.SUM))+ROWS(_xlfn.GROUPBY(A1:A3,B1:B3,_xleta.SUM,0,0))"
    wb.save(tmp_path / "nest.xlsx")
    got = recalculate(tmp_path / "nest.xlsx").values
    assert [got.get(("S", r, 4)) for r in (1, 2, 3, 4)] == [3.0, 6.0, 6.0, 6.0]
