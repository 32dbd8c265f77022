"""T.TEST and TTEST as Excel computes them (addin/headless/ttest.py).

Oracle: Microsoft, "T.TEST function" (support.microsoft.com): tails 1 or 2, type 1 paired, 2
equal variance, 3 unequal variance; #N/A for a paired test of arrays of different sizes;
tails and type truncated, #VALUE! when not numbers, #NUM! outside 1-2 and 1-3; its example
``T.TEST(A2:A10,B2:B10,2,1)`` = 0.196016 (shown to 6 digits: compared to 5e-7). The statistic
of each type is compared with SciPy's own tests (``scipy.stats.ttest_rel``, ``ttest_ind`` with
``equal_var`` True/False, two-sided p halved for one tail), which compute it independently of
the engine's code (the engine uses SciPy only for the t distribution's tail); relative
tolerance 1e-9, both being double-precision evaluations of the same closed form. Coercion and
errors where Microsoft is silent: the cached values of formulas' ``test.xlsx``
(``../shared/corpus/excel``, sheet "STATISTICAL", R107:AW112), copied here as literals.
"""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula
from scipy import stats

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.ttest import t_test

_SAMPLE = st.lists(st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3)), min_size=2, max_size=30)


def _scipy(x: list[float], y: list[float], tails: int, kind: int) -> float:
    if kind == 1:
        p = stats.ttest_rel(x, y).pvalue
    else:
        p = stats.ttest_ind(x, y, equal_var=kind == 2).pvalue
    return float(p) / (2 if tails == 1 else 1)


@settings(max_examples=600, deadline=None)
@given(_SAMPLE, _SAMPLE, st.sampled_from([1, 2]), st.sampled_from([1, 2, 3]))
def test_each_type_and_tail_is_the_textbook_test(x: list[float], y: list[float], tails: int, kind: int) -> None:
    if kind == 1:
        y = (y * len(x))[: len(x)]
        d = [a - b for a, b in zip(x, y, strict=True)]
        # a spread of at least 0.01 on 3-decimal data: far from the cancellation where both
        # evaluations lose digits (SciPy warns there), so 1e-9 is the rounding of the formula
        assume(max(d) - min(d) >= 0.01)
    else:
        assume(max(x) - min(x) >= 0.01 or max(y) - min(y) >= 0.01)
    (got,) = t_test([[[[v] for v in x], [[v] for v in y], float(tails), float(kind)]])
    want = _scipy(x, y, tails, kind)
    assert isinstance(got, float)
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-300), (got, want)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-10, 10), st.text(max_size=2), st.booleans(), st.none()), min_size=1, max_size=6),
    st.lists(st.one_of(st.floats(-10, 10), st.text(max_size=2), st.booleans(), st.none()), min_size=1, max_size=6),
    st.one_of(st.floats(allow_nan=True), st.text(max_size=2), st.booleans(), st.none()),
    st.one_of(st.floats(allow_nan=True), st.text(max_size=2), st.booleans(), st.none()),
)
def test_hostile_arguments_are_probabilities_or_excel_errors(
    a: list[object], b: list[object], tails: object, kind: object
) -> None:
    (got,) = t_test([[[a], [b], tails, kind]])
    assert isinstance(got, ExcelError) or (isinstance(got, float) and 0.0 <= got <= 1.0)


@pytest.mark.parametrize(
    ("tails", "kind", "code"),
    [
        (0.0, 1.0, "#NUM!"),
        (3.0, 1.0, "#NUM!"),
        (1.0, 4.0, "#NUM!"),
        (1.0, 0.0, "#NUM!"),
        ("x", 1.0, "#VALUE!"),
        (1.0, True, "#VALUE!"),
    ],
)
def test_bad_tails_or_type(tails: object, kind: object, code: str) -> None:
    (got,) = t_test([[[[1.0, 2.0, 4.0]], [[2.0, 2.5, 7.0]], tails, kind]])
    assert isinstance(got, ExcelError) and got.code == code


def test_a_paired_test_of_arrays_of_different_sizes_is_na() -> None:
    (got,) = t_test([[[[1.0, 2.0, 4.0]], [[2.0, 2.5]], 2.0, 1.0]])
    assert isinstance(got, ExcelError) and got.code == "#N/A"


def test_microsofts_example_and_ttest_through_a_book(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (a, b) in enumerate(zip([3, 4, 5, 8, 9, 1, 2, 4, 5], [6, 19, 3, 2, 14, 4, 5, 17, 1], strict=True), 2):
        ws.cell(r, 1).value, ws.cell(r, 2).value = a, b
    ws["D1"] = "=_xlfn.T.TEST(A2:A10,B2:B10,2,1)"
    ws["D2"] = "=TTEST(A2:A10,B2:B10,2,1)"
    ws["D3"] = "=_xlfn.T.TEST(A2:A10,B2:B9,2,1)"
    ws["D4"] = "=_xlfn.T.TEST(A2:A10,B2:B10,3,1)"
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert abs(out["D1"].value - 0.196016) < 5e-7
    assert out["D2"].value == out["D1"].value
    assert [out["D3"].value, out["D4"].value] == ["#N/A", "#NUM!"]


def test_the_corpus_cells_blanks_text_logicals_and_errors(tmp_path: Path) -> None:
    """Row 107 of the corpus book's "STATISTICAL" sheet, lifted over tails {1;2;1;2;1;2} and type
    {1;2;3;1;2;3}: each column's six cached values (R107:AG112, AD aside: see the docs' Open list)."""
    row: list[object] = [
        10,
        3.2,
        0.7,
        2,
        4,
        None,
        "13/01/1900",
        True,
        "=#VALUE!",
        "=NA()",
        "=1/0",
        "=#NAME?",
        "=#NULL!",
        "=#NUM!",
        "=#REF!",
    ]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for j, v in enumerate(row):
        ws.cell(107, 3 + j).value = v
    ws["C106"], ws["D106"], ws["E104"], ws["E105"], ws["E106"] = 10, 0.1, 0.7, 0.7, 0.7
    ws["F106"], ws["G106"] = 100, 4
    lifted = "{1;2;1;2;1;2},{1;2;3;1;2;3}"
    formulas = {
        "R": "C106:D107,E104:E107", "S": "D107:E107,E107:G107", "T": "E107:F107,G107:H107",
        "U": "D107,F107", "V": "G107:I107,H107:J107", "W": "H107:I107,J107:K107",
        "Y": "J107:K107,L107:M107", "AA": "L107:M107,N107:O107", "AG": "C106:D107,F106:G107",
    }  # fmt: skip
    for col, args in formulas.items():
        ws[f"{col}110"] = ArrayFormula(f"{col}110:{col}115", f"=_xlfn.T.TEST({args},{lifted})")
    wb.save(tmp_path / "t.xlsx")
    got = recalculate(tmp_path / "t.xlsx").values
    cached: dict[str, list[object]] = {
        "R": [
            0.06596981193605113,
            0.08547090523883295,
            0.06596981193605113,
            0.13193962387210226,
            0.04273545261941648,
            0.13193962387210226,
        ],
        "S": ["#N/A", 0.866634072152544, 0.4364188915262061, "#N/A", 0.433317036076272, 0.8728377830524122],
        "T": ["#DIV/0!"] * 6,
        "U": ["#DIV/0!"] * 6,
        "V": ["#DIV/0!"] * 6,
        "W": ["#VALUE!"] * 6,
        "Y": ["#N/A", "#VALUE!", "#VALUE!", "#N/A", "#VALUE!", "#VALUE!"],
        "AA": ["#N/A"] * 6,
        "AG": [
            0.2069853781308648,
            0.40674226895110216,
            0.21843312589632996,
            0.4139707562617296,
            0.20337113447555108,
            0.4368662517926599,
        ],
    }
    from openpyxl.utils import column_index_from_string

    for col, want in cached.items():
        values = [got[("S", r, column_index_from_string(col))] for r in range(110, 116)]
        for v, w in zip(values, want, strict=True):
            if isinstance(w, float):
                assert isinstance(v, float) and math.isclose(v, w, rel_tol=1e-9), (col, v, w)
            else:
                assert isinstance(v, ExcelError) and v.code == w, (col, v, w)
