"""LOGEST and GROWTH as Excel computes them, and the error rule LINEST and TREND share
(addin/headless/regression.py).

Oracles: Microsoft, "LOGEST function" (the curve y = b·m^x, the array {mn,…,m1,b}, b forced to 1
when const is FALSE) and "Excel statistical functions: LOGEST" (learn.microsoft.com: "LOGEST is
evaluated by calling the related function, LINEST" on ln y); scipy.stats.linregress on ln y, an
independent least squares; Excel's cached values in formulas' test book (sheet STATISTICAL,
rows 51, 58, 59, 113), copied here as literals with their cells.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from openpyxl.worksheet.formula import ArrayFormula
from scipy import stats as sps

from addin.headless import ExcelError, recalculate
from addin.headless.regression import growth, logest


def _col(v: np.ndarray) -> list[list[float]]:
    return [[float(t)] for t in v]


@settings(max_examples=80, deadline=None)
@given(
    arrays(float, st.integers(4, 30), elements=st.floats(-10, 10)),
    st.floats(0.2, 5),
    st.floats(0.01, 100),
    st.integers(0, 2**31),
)
def test_logest_is_linest_of_the_logarithms(x: np.ndarray, m: float, b: float, seed: int) -> None:
    """LOGEST(y, x, TRUE, TRUE) against scipy.stats.linregress of ln y: m = exp(slope),
    b = exp(intercept), the statistics rows those of ln y (standard errors, r²); two least-squares
    codes differ by rounding only (the LINEST property's 1e-9, 1e-8 for the errors)."""
    if np.ptp(x) < 1e-3:
        return
    noise = np.random.default_rng(seed).normal(0, 0.1, x.size)
    y = b * m**x * np.exp(noise)
    top, se, fit, _, _ = logest([[_col(y), _col(x), True, True]])[0]
    ref = sps.linregress(x, np.log(y))
    np.testing.assert_allclose(top, [math.exp(ref.slope), math.exp(ref.intercept)], rtol=1e-9)
    np.testing.assert_allclose(se, [ref.stderr, ref.intercept_stderr], rtol=1e-8)
    assert fit[0] == pytest.approx(ref.rvalue**2, rel=1e-9, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(
    arrays(float, st.integers(3, 20), elements=st.floats(-10, 10), unique=True),
    st.floats(0.2, 5),
    st.floats(0.01, 100),
    st.lists(st.floats(-10, 10), min_size=1, max_size=5),
)
def test_an_exact_curve_is_found_and_growth_follows_it(x: np.ndarray, m: float, b: float, new: list[float]) -> None:
    """Data on y = b·m^x exactly: LOGEST gives (m, b), GROWTH at new x gives b·m^x, and with const
    FALSE b is 1 (y = m^x); to 1e-9 relative (the rounding of exp, ln and the fit)."""
    y = b * m**x
    (m_got, b_got), *_ = logest([[_col(y), _col(x)]])[0]
    assert m_got == pytest.approx(m, rel=1e-9) and b_got == pytest.approx(b, rel=1e-9)
    got = np.ravel(growth([[_col(y), _col(x), _col(np.array(new))]])[0])
    np.testing.assert_allclose(got, b * m ** np.array(new), rtol=1e-9)
    (m_one, b_one), *_ = logest([[_col(m**x), _col(x), False]])[0]
    assert m_one == pytest.approx(m, rel=1e-9) and b_one == 1.0


def test_a_y_that_is_not_positive_is_num() -> None:
    """ln y is needed: a y of 0 or below is #NUM! for LOGEST and GROWTH."""
    for fn in (logest, growth):
        got = fn([[[[1.0], [0.0], [2.0]], [[1.0], [2.0], [3.0]]]])[0]
        assert isinstance(got, ExcelError) and got.code == "#NUM!"


def test_the_corpus_cached_values(tmp_path: Path) -> None:
    """Formulas' test book, STATISTICAL row 59 (C59:G59 = 4, 0.1, 0.2, 0.3, 5; I59 text, L59 #N/A):
    R59:S59 ``{=LOGEST(C59:E59,E59:G59,0,0)}`` 0.7141390943648429, 1; AG59
    ``{=LOGEST(E59:G59,C59:E59,0,0)}`` 0.678037889157633; U59 over text #VALUE!; Z59 with const
    #N/A #VALUE!; AB59 over #N/A #VALUE! (LINEST!AB58 and TREND!AA113 the same rule); T59 sizes
    3 and 2 #REF!; GROWTH!S51 with new x of 3 columns for 2 variables #REF!."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for col, v in zip("CDEFG", (4, 0.1, 0.2, 0.3, 5), strict=True):
        ws[f"{col}1"] = v
    ws["I1"], ws["L1"], ws["M1"], ws["N1"] = "29/02/1900", "=NA()", "=1/0", 1
    formulas = {
        "A3": ("A3:B3", "=LOGEST(C1:E1,E1:G1,0,0)"),
        "A4": ("A4", "=LOGEST(E1:G1,C1:E1,0,0)"),
        "A5": ("A5", "=LOGEST(E1:G1,G1:I1,0,0)"),
        "A6": ("A6", "=LOGEST(C1:E1,E1:G1,L1,0)"),
        "A7": ("A7", "=LOGEST(L1:N1,C1:E1,0,0)"),
        "A8": ("A8", "=LOGEST(D1:F1,F1:G1,0,0)"),
        "A9": ("A9", "=LINEST(L1:N1,C1:E1,0,0)"),
        "A10": ("A10", "=TREND(C1:E1,E1:G1,L1:M1)"),
        "A11": ("A11", "=GROWTH({2;3;4;21;2},{2,1;2,2;5,3;2,4;4,1},C1:E1)"),
    }
    for anchor, (ref, text) in formulas.items():
        ws[anchor] = ArrayFormula(ref, text)
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert got[("S", 3, 1)] == pytest.approx(0.7141390943648429, rel=1e-12)
    assert got[("S", 3, 2)] == 1.0
    assert got[("S", 4, 1)] == pytest.approx(0.678037889157633, rel=1e-12)
    codes = [got[("S", r, 1)] for r in range(5, 12)]
    assert [c.code if isinstance(c, ExcelError) else c for c in codes] == [
        "#VALUE!",
        "#VALUE!",
        "#VALUE!",
        "#REF!",
        "#VALUE!",
        "#VALUE!",
        "#REF!",
    ]
