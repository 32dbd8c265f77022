"""LARGE, SMALL, PERCENTILE and QUARTILE given ``k`` in a cell (addin/headless/semantics.py).

Microsoft ("LARGE function", "SMALL function", "PERCENTILE function", "QUARTILE function"):
k below 1 (LARGE, SMALL), a percent outside 0..1, a quart outside 0..4 are #NUM!; text, logicals
and blanks in the array are ignored; PERCENTILE interpolates linearly between the sorted values
at rank k·(n-1); QUARTILE is PERCENTILE of quart/4 with quart truncated. Where Microsoft is
silent, Excel's cached values in formulas' test book (COMPATIBILITY rows 29, 32; STATISTICAL
rows 57, 79, 88, 95) show: an error in ``k`` comes before the array's errors; a logical ``k`` is
1 or 0; LARGE's fractional ``k`` is rounded up and SMALL's truncated (``LARGE(…,2.2)`` the third
largest, ``SMALL(…,2.2)`` the second smallest). The property compares the engine with that rule
in Python; whole answers exactly, interpolations to 1e-12 relative (one multiplication and one
addition of doubles).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError, recalculate

NUM, VALUE, NA = ExcelError("#NUM!"), ExcelError("#VALUE!"), ExcelError("#N/A")


def _k(v: Any) -> float | ExcelError:
    if isinstance(v, ExcelError):
        return v
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return VALUE
    return float(v)


def rule(fn: str, data: list[Any], k: Any) -> Any:
    kk = _k(k)
    if isinstance(kk, ExcelError):
        return kk
    errors = [v for v in data if isinstance(v, ExcelError)]
    if errors:
        return errors[0]
    xs = sorted(float(v) for v in data if isinstance(v, (int, float)) and not isinstance(v, bool))
    n = len(xs)
    if fn in ("LARGE", "SMALL"):
        if kk < 1:
            return NUM
        i = math.floor(kk) if fn == "SMALL" else math.ceil(kk)
        if i > n:
            return NUM
        return xs[i - 1] if fn == "SMALL" else xs[n - i]
    p = math.trunc(kk) / 4 if fn == "QUARTILE" else kk
    if not n or not 0 <= p <= 1 or (fn == "QUARTILE" and not 0 <= kk < 5):
        return NUM
    h = p * (n - 1)
    lo = math.floor(h)
    return xs[lo] if lo + 1 >= n else xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


_DATA = st.one_of(st.integers(-5, 5).map(float), st.sampled_from(["t", True]))
_K = st.one_of(
    st.integers(0, 14).map(lambda n: n / 4),
    st.sampled_from([None, True, False, "2", "c", "#N/A", "#DIV/0!"]),
)


def _error_formula(v: Any) -> Any:
    return {"#N/A": "=NA()", "#DIV/0!": "=1/0"}.get(v, v) if isinstance(v, str) else v


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cases=st.lists(
        st.tuples(
            st.sampled_from(["LARGE", "SMALL", "PERCENTILE", "QUARTILE"]),
            st.lists(_DATA, min_size=1, max_size=6),
            _K,
            st.booleans(),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_k_in_a_cell_is_read_as_excel_reads_it(tmp_path: Path, cases: list[tuple[str, list[Any], Any, bool]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (fn, data, k, with_error) in enumerate(cases, 1):
        row = [*data, "#DIV/0!"] if with_error else data
        for c, v in enumerate(row, 2):
            ws.cell(r, c, _error_formula(v))
        if k is not None:
            ws.cell(r, 1, _error_formula(k))
        end = openpyxl.utils.get_column_letter(1 + len(row))
        ws.cell(r, 20, f"={fn}(B{r}:{end}{r},A{r})")
    wb.save(tmp_path / "k.xlsx")
    res = recalculate(tmp_path / "k.xlsx")
    for r, (fn, data, k, with_error) in enumerate(cases, 1):
        kv = {"#N/A": NA, "#DIV/0!": ExcelError("#DIV/0!")}.get(k, k) if isinstance(k, str) else k
        want = rule(fn, [*data, ExcelError("#DIV/0!")] if with_error else data, kv)
        got = res.cell("S", r, 20)
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (fn, data, k, with_error)
        else:
            assert got == want, (fn, data, k, with_error)


def test_excels_cached_cells(tmp_path: Path) -> None:
    """The row of formulas' test book STATISTICAL!C57:Q57 rebuilt: LARGE over 0.1, -10, 0.9, 2.2,
    -0.1, a blank, date text and TRUE, with k from each cell, as Excel cached them (W57:AF57),
    through ``clearquote recalc`` and ``clearquote validate``."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for c, v in enumerate([0.1, -10, 0.9, 2.2, -0.1, None, "01/01/1900", True, "=1/0", "=NA()"], 3):
        if v is not None:
            ws.cell(1, c, v)
    ws["W1"], ws["X1"], ws["Y1"] = "=LARGE($C1:$J1,H1)", "=LARGE($C1:$J1,F1)", "=LARGE($C1:$J1,J1)"
    ws["Z1"], ws["AA1"], ws["AB1"] = "=LARGE($C1:$K1,L1)", "=SMALL($C1:$J1,F1)", "=LARGE($C1:$J1,E1)"
    ws["AC1"] = "=PERCENTILE(D1:E1,I1)"
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    got = [back.cell(1, c).value for c in range(23, 30)]
    assert got == ["#NUM!", 0.1, 2.2, "#N/A", -0.1, "#NUM!", 0.9]
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
