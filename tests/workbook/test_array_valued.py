"""Array-valued functions lifted over a one-value parameter: each element is the first value of
its result (addin/headless/lifting.py, ``ARRAY_VALUED``).

Oracle: Microsoft, "TEXTSPLIT function" and "TOCOL function" (what one call returns), and the
rule for a function given an array where it takes one value in an array formula (Microsoft,
"Guidelines and examples of array formulas": evaluated for each element); an element whose
result is itself an array shows that array's first value, as Excel's cached values in formulas'
test book show (TEXT!AH47 ``{=TEXTSPLIT(C47:Q47,1)}``, LOOKUP!AI126
``{=TOCOL($C$127:$D$128,C126:Q126)}``). The rule is written plainly in Python below.
"""

from __future__ import annotations

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import recalculate

_TEXT = st.text(alphabet="ab,", min_size=1, max_size=6).filter(lambda t: not t.startswith("="))


@settings(max_examples=15, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=5), st.lists(st.sampled_from([0, 1]), min_size=1, max_size=4))
def test_each_element_is_the_first_value_of_its_result(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], ignores: list[int]
) -> None:
    """``{=TEXTSPLIT(A1:An,",")}``: the text before the first comma of each (Python's
    ``split(",")[0]``, "" read as a blank); ``{=TOCOL(D1:E2,F1:Fm)}`` with D1 blank: for ignore 0
    the blank (0 in an array formula's cell), for 1 (ignore blanks) E1."""
    tmp = tmp_path_factory.mktemp("valued")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, t in enumerate(texts, 1):
        ws.cell(r, 1).value = t
    ws["E1"], ws["D2"], ws["E2"] = 7, 8, 9
    for r, v in enumerate(ignores, 1):
        ws.cell(r, 6).value = v
    n, m = len(texts), len(ignores)
    ws["B1"] = ArrayFormula(f"B1:B{n}", f'=_xlfn.TEXTSPLIT(A1:A{n},",")')
    ws["H1"] = ArrayFormula(f"H1:H{m}", f"=_xlfn.TOCOL(D1:E2,F1:F{m})")
    wb.save(tmp / "b.xlsx")
    got = recalculate(tmp / "b.xlsx").values
    assert [got[("S", r, 2)] or "" for r in range(1, n + 1)] == [t.split(",")[0] for t in texts]
    assert [got[("S", r, 8)] for r in range(1, m + 1)] == [7.0 if v == 1 else 0.0 for v in ignores]
