"""Statistical functions' arguments as Excel reads them (addin/headless/dispersion.py, regression.py).

Three classes found on formulas' test book (sheet STATISTICAL), each against Microsoft's rule
written independently here (Python's ``statistics`` module and numpy as the arithmetic) and
Excel's cached values:

* STDEV/VAR and their variants, AVEDEV, DEVSQ count "text representations of numbers that you
  type directly into the list of arguments" and typed logicals; typed text that is no number is
  #VALUE! (Microsoft, "STDEV.S function"); the ``A`` variants count text cells as 0 and logical
  cells as 1/0 (Microsoft, "STDEVA function": "Arguments that contain TRUE evaluate as 1;
  arguments that contain text or FALSE evaluate as 0");
* FORECAST/FORECAST.LINEAR's x takes one value: an array of x gives the line at each element, a
  logical x its number (Microsoft, "FORECAST function"; Excel's cached AH37:AW37);
* CORREL, PEARSON, RSQ, STEYX, COVAR, COVARIANCE.P/.S pair two arrays cell by cell whatever their
  shapes, leaving out pairs with a blank, text or logical; #N/A for different counts (Microsoft,
  "PEARSON function", "COVARIANCE.P function").
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from tests.workbook.bookkit import compute

_NUM = st.sampled_from([0.0, 1.0, -2.0, 2.5, 10.0, -0.5, 3.25])


def _close(got: Any, want: Any, rel: float = 1e-12) -> bool:
    """Sums of a few values: agreement to 1e-12 relative (a few ulps of rounding order), else equal."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=rel, abs_tol=1e-12)
    return bool(got == want)


def _stat(name: str, xs: list[float]) -> Any:
    """Microsoft's definitions through Python's ``statistics`` (n-1 for the samples)."""
    try:
        return {
            "STDEV": statistics.stdev,
            "VAR": statistics.variance,
            "STDEVP": statistics.pstdev,
            "VARP": statistics.pvariance,
            "AVEDEV": lambda v: statistics.fmean([abs(x - statistics.fmean(v)) for x in v]),
            "DEVSQ": lambda v: math.fsum((x - statistics.fmean(v)) ** 2 for x in v),
        }[name](xs)
    except statistics.StatisticsError:
        return ExcelError("#DIV/0!")


@settings(max_examples=10, deadline=None)
@given(
    st.lists(_NUM, min_size=2, max_size=5),
    st.lists(st.one_of(_NUM.map(lambda v: ("text", v)), st.booleans().map(lambda b: ("logical", b))), min_size=1, max_size=3),
)
def test_typed_text_and_logicals_are_counted(
    tmp_path_factory: pytest.TempPathFactory, cells: list[float], typed: list[Any]
) -> None:
    """``F(A1:A<n>,"2.5",TRUE,...)``: the cells' numbers and each typed value's number."""
    tmp = tmp_path_factory.mktemp("typed")
    inputs = {f"A{i}": v for i, v in enumerate(cells, 1)}
    literals = [(f'"{v!r}"' if kind == "text" else ("TRUE" if v else "FALSE")) for kind, v in typed]
    values = cells + [float(v) for _, v in typed]
    names = ["STDEV", "_xlfn.STDEV.S", "VAR", "_xlfn.VAR.P", "STDEVP", "VARP", "AVEDEV", "DEVSQ", "STDEVA", "VARPA"]
    formulas = [f"={n}(A1:A{len(cells)},{','.join(literals)})" for n in names]
    got = compute(tmp, formulas, inputs, column=3)
    plain = {"_xlfn.STDEV.S": "STDEV", "_xlfn.VAR.P": "VARP", "STDEVA": "STDEV", "VARPA": "VARP"}
    for n, g in zip(names, got, strict=True):
        assert _close(g, _stat(plain.get(n, n), values)), (n, cells, typed, g)


def test_typed_text_that_is_no_number_is_value(tmp_path: Path) -> None:
    """``STDEV(A1:A3,"")`` and ``VAR(A1:A3,"abc")``: #VALUE! (Excel's cached S99, S118)."""
    got = compute(tmp_path, ['=STDEV(A1:A3,"")', '=VAR(A1:A3,"abc")', '=STDEVA(A1:A3,"")'], {"A1": 1, "A2": 2, "A3": 4})
    assert [g.code if isinstance(g, ExcelError) else g for g in got] == ["#VALUE!"] * 3


@settings(max_examples=10, deadline=None)
@given(st.lists(st.one_of(_NUM, st.sampled_from(["word", "1/01/1900"]), st.booleans(), st.none()), min_size=2, max_size=6))
def test_a_variants_count_text_and_logical_cells(tmp_path_factory: pytest.TempPathFactory, cells: list[Any]) -> None:
    """STDEVA, STDEVPA, VARA, VARPA of cells one by one and as a range: text 0, TRUE 1, FALSE 0,
    blanks left out."""
    tmp = tmp_path_factory.mktemp("avar")
    inputs = {f"A{i}": v for i, v in enumerate(cells, 1)}
    values = [(1.0 if v else 0.0) if isinstance(v, bool) else 0.0 if isinstance(v, str) else v for v in cells if v is not None]
    refs = ",".join(f"A{i}" for i in range(1, len(cells) + 1))
    forms = {"STDEVA": "STDEV", "STDEVPA": "STDEVP", "VARA": "VAR", "VARPA": "VARP"}
    formulas = [f"={n}({a})" for n in forms for a in (refs, f"A1:A{len(cells)}")]
    got = compute(tmp, formulas, inputs, column=3)
    want = [_stat(p, values) for p in forms.values() for _ in range(2)]
    assert all(_close(g, w) for g, w in zip(got, want, strict=True)), (cells, got, want)


def test_excels_cached_dispersion_cells(tmp_path: Path) -> None:
    """STATISTICAL row 99 (C..J: 0, -10, 0.9, 2.2, -0.1, blank, "1/01/1900", TRUE): R99, X99, Y99."""
    row = {"C1": 0, "D1": -10, "E1": 0.9, "F1": 2.2, "G1": -0.1, "I1": "1/01/1900", "J1": True}
    got = compute(tmp_path, ['=STDEVA(C1:D1,D1:E1,E1:F1,"2")', "=STDEVA(I1,G1,E1)", "=STDEVA(J1,G1)"], row, column=12)
    assert all(_close(g, w) for g, w in zip(got, [5.514526271584894, 0.5507570547286103, 0.7778174593052023], strict=True)), got


def test_avedev_and_devsq_of_no_number_are_num_and_stdev_var_div0(tmp_path: Path) -> None:
    """Over a blank, a date text and TRUE in cells (no number: "in an array or reference only
    numbers count", Microsoft, "AVEDEV function", "DEVSQ function"), Excel's cached values are
    #NUM! for AVEDEV and DEVSQ and #DIV/0! for STDEV.P/STDEV/VAR (formulas' test book, STATISTICAL
    AG3, AG28, U97: the same kinds of cells, rewritten here). An error among the cells is that
    error, a typed text that is no number #VALUE!, typed numbers and logicals counted
    (``AVEDEV(TRUE,FALSE)`` is 0.5: the mean absolute deviation of 1 and 0); with numbers the
    value is the definition's (1 and 3: AVEDEV 1, DEVSQ 2). IronCalc 0.9.1 alone: #DIV/0! for
    every empty call."""
    row = {"A1": "1/01/1900", "A2": True, "A4": "=NA()", "B1": 1, "B2": 3}
    formulas = ["=AVEDEV(A1:A3)", "=DEVSQ(A1:A3)", "=AVEDEV(A1,A2,A3)", "=AVEDEV(A5:A6)", "=SUM(DEVSQ(A1:A3),1)",
                "=_xlfn.STDEV.P(A1:A3)", "=STDEV(A1:A3)", "=VAR(A1:A3)",
                "=AVEDEV(A1:A4)", '=AVEDEV("x",A1:A3)', "=AVEDEV(TRUE,FALSE)", "=AVEDEV(B1:B2,A1)", "=DEVSQ(B1:B2)"]  # fmt: skip
    got = compute(tmp_path, formulas, row, column=3)
    codes = [g.code if isinstance(g, ExcelError) else g for g in got]
    assert codes == ["#NUM!"] * 5 + ["#DIV/0!"] * 3 + ["#N/A", "#VALUE!", 0.5, 1.0, 2.0]


def _line(ys: list[float], xs: list[float]) -> tuple[float, float]:
    b, a = np.polyfit(np.array(xs), np.array(ys), 1)
    return float(a), float(b)


def test_forecast_over_an_array_of_x_is_the_line_at_each_element(tmp_path: Path) -> None:
    """Excel's cached ``{=FORECAST(C37:Q37,{1,7,3,0},{7,2,9,4})}`` (and FORECAST.LINEAR, row 42):
    x = 0, 0.1, 0.2, 0.3, -0.1, blank, TRUE, #VALUE!; the line from numpy's polyfit agrees to 1e-12."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for c, v in enumerate([0, 0.1, 0.2, 0.3, -0.1, None, True, "#VALUE!"], 1):
        ws.cell(1, c).value = v
    ws["A3"] = ArrayFormula("A3:H3", "=FORECAST(A1:H1,{1,7,3,0}, {7,2,9,4})")
    ws["A4"] = ArrayFormula("A4:H4", "=_xlfn.FORECAST.LINEAR(A1:H1,{1,7,3,0}, {7,2,9,4})")
    ws["A5"] = "=FORECAST(G1,{1,7,3,0},{7,2,9,4})"
    ws["A6"] = "=FORECAST(A1:H1,{1,7,3,0},{7,2,9,4})"  # plain formula in column A: the intersection is A1
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    a, b = _line([1, 7, 3, 0], [7, 2, 9, 4])
    cached = [5.120689655172414, 5.077586206896552, 5.0344827586206895, 4.991379310344827, 5.163793103448276]
    want = [*cached, 5.120689655172414, 4.689655172413793, ExcelError("#VALUE!")]
    for r in (3, 4):
        have = [got[("S", r, c)] for c in range(1, 9)]
        assert all(_close(h, w) for h, w in zip(have, want, strict=True)), have
    assert all(_close(a + b * x, w) for x, w in zip([0, 0.1, 0.2, 0.3, -0.1], cached, strict=True))
    assert _close(got[("S", 5, 1)], 4.689655172413793) and _close(got[("S", 6, 1)], cached[0])


_CELL = st.one_of(_NUM, _NUM, _NUM, st.none(), st.just("t"), st.booleans())


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(_CELL, _CELL), min_size=4, max_size=6), st.booleans())
def test_pairwise_statistics_pair_cells_in_reading_order(
    tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[Any, Any]], square: bool
) -> None:
    """y in a column, x in a 2 × k block (reading order) or a row: numpy over the numeric pairs."""
    tmp = tmp_path_factory.mktemp("pairs")
    n = len(pairs)
    inputs: dict[str, object] = {}
    for i, (y, x) in enumerate(pairs):
        inputs[f"A{i + 1}"] = y
        col = "CDEFGH"[i % (n // 2)] if square and n % 2 == 0 else "CDEFGH"[i]
        row = 1 + (i // (n // 2)) if square and n % 2 == 0 else 1
        inputs[f"{col}{row}"] = x
    xref = f"C1:{'CDEFGH'[n // 2 - 1]}2" if square and n % 2 == 0 else f"C1:{'CDEFGH'[n - 1]}1"
    names = ["CORREL", "PEARSON", "RSQ", "STEYX", "COVAR", "_xlfn.COVARIANCE.P", "_xlfn.COVARIANCE.S", "SLOPE", "INTERCEPT"]
    got = compute(tmp, [f"={f}(A1:A{n},{xref})" for f in names], inputs, column=10)

    def num(v: Any) -> bool:
        return isinstance(v, float) and not isinstance(v, bool)

    keep = [(y, x) for y, x in pairs if num(y) and num(x)]
    ys, xs = np.array([p[0] for p in keep]), np.array([p[1] for p in keep])
    m = len(keep)
    sxx = float(((xs - xs.mean()) ** 2).sum()) if m else 0.0
    syy = float(((ys - ys.mean()) ** 2).sum()) if m else 0.0
    div0 = ExcelError("#DIV/0!")
    r = float(np.corrcoef(xs, ys)[0, 1]) if m and sxx > 0 and syy > 0 else div0
    want: list[Any] = [r, r, r * r if isinstance(r, float) else div0]
    if m >= 3 and sxx > 0:
        b, a = np.polyfit(xs, ys, 1)
        want.append(float(np.sqrt(((ys - (a + b * xs)) ** 2).sum() / (m - 2))))
    else:
        want.append(div0)
    cov_p = float(np.cov(xs, ys, bias=True)[0, 1]) if m >= 1 else div0
    want += [cov_p, cov_p, float(np.cov(xs, ys)[0, 1]) if m >= 2 else div0]
    want += [float(np.polyfit(xs, ys, 1)[0]), float(np.polyfit(xs, ys, 1)[1])] if m >= 2 and sxx > 0 else [div0, div0]
    for f, g, w in zip(names, got, want, strict=True):
        assert _close(g, w, 1e-9), (f, pairs, g, w)  # numpy's two-pass sums against ours: 1e-9 covers near-cancelling spreads


def test_excels_cached_pairwise_cells(tmp_path: Path) -> None:
    """RSQ(C90:D91,E88:E91) (a 2 × 2 block against a column of four, STATISTICAL!R91), COVARIANCE.P
    and .S with a blank among the pairs (S26, S27, T27), and different counts #N/A (S91)."""
    inputs: dict[str, object] = {"C3": 0, "D3": -10, "C4": 10, "D4": 3.2, "E1": 0.9, "E2": 0, "E3": 0, "E4": 0.7}
    inputs |= {"A6": 0.1, "B6": 0.2, "C6": 0.3, "D6": -0.1, "A7": 0.2, "B7": 0.3, "C7": -0.1, "E7": "29/02/1900"}
    got = compute(
        tmp_path,
        [
            "=RSQ(C3:D4,E1:E4)",
            "=_xlfn.COVARIANCE.P(A6:C6,C6:E6)",
            "=_xlfn.COVARIANCE.S(A6:C6,C6:E6)",
            "=_xlfn.COVARIANCE.S(A7:C7,C7:E7)",
            "=RSQ(D4:E4,E4:G4)",
        ],
        inputs,
        column=10,
    )
    want = [0.006723630760610738, -0.010000000000000002, -0.020000000000000004, ExcelError("#DIV/0!"), ExcelError("#N/A")]
    assert all(_close(g, w) for g, w in zip(got, want, strict=True)), got
