"""Z.TEST's arguments as Excel reads them (addin/headless/semantics.py, ``_z_test``).

Microsoft, "Z.TEST function": Z.TEST(array,x,sigma) = 1 - NORM.S.DIST((AVERAGE(array) - x) /
(sigma / SQRT(n)), TRUE), sigma the sample standard deviation when omitted; "If array is empty,
Z.TEST returns the #N/A error value". Excel's cached values in formulas' test book (STATISTICAL
row 121) show the rest: an error in ``x``, then in ``sigma``, before the array's errors; a logical
``x`` is its number; one number is #DIV/0! even with a sigma. Tolerance 1e-9 relative: IronCalc
0.9.1's normal CDF is an approximation (3e-11 relative, measured in test_lifting.py), the corpus
rule.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError, recalculate

NA, DIV0 = ExcelError("#N/A"), ExcelError("#DIV/0!")
_ERRORS = {"=NA()": NA, "=1/0": DIV0}


def rule(data: list[Any], x: Any, sigma: Any) -> Any:
    for v in (x, sigma):
        if isinstance(v, ExcelError):
            return v
    errors = [v for v in data if isinstance(v, ExcelError)]
    if errors:
        return errors[0]
    xs = [float(v) for v in data if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not xs:
        return NA
    if len(xs) == 1:
        return DIV0
    s = statistics.stdev(xs) if sigma is None else float(sigma)
    if s <= 0:
        return DIV0 if s == 0 else ExcelError("#NUM!")
    z = (statistics.fmean(xs) - float(x)) / (s / math.sqrt(len(xs)))
    return 1 - 0.5 * math.erfc(-z / math.sqrt(2))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cases=st.lists(
        st.tuples(
            st.lists(st.one_of(st.integers(-5, 5).map(float), st.sampled_from(["t", True, "=NA()"])), min_size=1, max_size=5),
            st.one_of(st.integers(-3, 3).map(float), st.sampled_from([True, False, "=1/0"])),
            st.one_of(st.none(), st.sampled_from([1.0, 2.5, "=NA()"])),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_z_test_reads_its_arguments_as_excel(tmp_path: Path, cases: list[tuple[list[Any], Any, Any]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (data, x, sigma) in enumerate(cases, 1):
        for c, v in enumerate(data, 3):
            ws.cell(r, c, v)
        ws.cell(r, 1, x)
        if sigma is not None:
            ws.cell(r, 2, sigma)
        end = openpyxl.utils.get_column_letter(2 + len(data))
        ws.cell(r, 20, f"=_xlfn.Z.TEST(C{r}:{end}{r},A{r}{'' if sigma is None else f',B{r}'})")
    wb.save(tmp_path / "z.xlsx")
    res = recalculate(tmp_path / "z.xlsx")

    def value(v: Any) -> Any:
        return _ERRORS.get(v, v) if isinstance(v, str) and v.startswith("=") else v

    for r, (data, x, sigma) in enumerate(cases, 1):
        want = rule([value(v) for v in data], value(x), value(sigma))
        got = res.cell("S", r, 20)
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (data, x, sigma)
        else:
            assert got == want, (data, x, sigma)


def test_the_cached_row_through_recalc_and_validate(tmp_path: Path) -> None:
    """STATISTICAL!V121:AB121 rebuilt: 2, 4, a blank, date text, TRUE, #VALUE!, #N/A, #DIV/0!."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for c, v in enumerate([2, 4, None, "13/01/1900", True, "=#VALUE!", "=NA()", "=1/0"], 6):
        if v is not None:
            ws.cell(1, c, v)
    ws["V1"], ws["W1"] = "=_xlfn.Z.TEST(G1:I1,H1,2)", "=_xlfn.Z.TEST(F1:I1,J1)"
    ws["Y1"], ws["Z1"] = "=_xlfn.Z.TEST(J1:K1,L1)", "=_xlfn.Z.TEST(K1:L1,M1)"
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert back["V1"].value == "#DIV/0!"
    assert back["W1"].value == pytest.approx(0.02275013194817919, rel=1e-9)  # Excel's cached W121
    assert (back["Y1"].value, back["Z1"].value) == ("#N/A", "#DIV/0!")
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
