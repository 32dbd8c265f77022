"""TEXTSPLIT with logicals among its delimiters and of a blank text (addin/headless/semantics.py).

Microsoft, "TEXTSPLIT function": the text is split at each delimiter (col_delimiter an array of
several); Excel converts a logical where text is taken to "TRUE"/"FALSE". Excel's cached values
in formulas' test book: ``TEXTSPLIT("26/08TRUE19|87",{"/","|",TRUE},{6,9},FALSE,1,10)`` splits at
"TRUE" (EXTRA!J28:L30), a delimiter cell holding TRUE likewise (TEXT!Y47), and the text of a
blank cell is #VALUE! (TEXT!AM47). The property compares the engine with the split written
plainly in Python (``re.split`` at any of the delimiters, case-sensitive, the default); pieces are
text, compared exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import ExcelError, recalculate

_PIECE = st.text("abc19", min_size=1, max_size=4)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.lists(st.tuples(_PIECE, st.sampled_from(["/", "TRUE", "|"])), min_size=1, max_size=4), min_size=1, max_size=5
    ),
    logical_cell=st.booleans(),
)
def test_a_logical_delimiter_splits_at_its_text(tmp_path: Path, rows: list[list[tuple[str, str]]], logical_cell: bool) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["Z1"] = True
    delims = "Z1" if logical_cell else '{"/",TRUE,"|"}'  # a constant holds constants: the cell alone
    texts = []
    for r, pieces in enumerate(rows, 1):
        text = "".join(p + d for p, d in pieces) + "end"
        texts.append(text)
        ws.cell(r, 1, text)
        ws.cell(r, 2, ArrayFormula(f"B{r}:{get_column_letter(8)}{r}", f"=_xlfn.TEXTSPLIT(A{r},{delims})"))
    wb.save(tmp_path / "t.xlsx")
    res = recalculate(tmp_path / "t.xlsx")
    for r, text in enumerate(texts, 1):
        pattern = "TRUE" if logical_cell else r"/|TRUE|\|"
        want: list[object] = list(re.split(pattern, text))
        # an array formula's range repeats a one-value result and fills beyond a longer one with #N/A
        want = want * 7 if len(want) == 1 else want + [ExcelError("#N/A")] * (7 - len(want))
        assert [res.cell("S", r, c) for c in range(2, 9)] == want[:7], text


def test_a_blank_text_is_value_and_a_book_through_recalc_and_validate(tmp_path: Path) -> None:
    """TEXTSPLIT of a blank cell is #VALUE! (Excel's cached TEXT!AM47), plainly and element by
    element; ``clearquote recalc`` stores the pieces and ``clearquote validate`` agrees."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A3"] = "x/yTRUEz", "p/q"
    ws["B1"] = ArrayFormula("B1:D1", '=_xlfn.TEXTSPLIT(A1,{"/",TRUE})')
    ws["B2"] = '=_xlfn.TEXTSPLIT(A2,"/")'
    ws["B4"] = ArrayFormula("B4:B6", '=_xlfn.TEXTSPLIT(A1:A3,"/")')
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [back.cell(1, c).value for c in (2, 3, 4)] == ["x", "y", "z"]
    assert back["B2"].value == "#VALUE!"
    assert [back.cell(r, 2).value for r in (4, 5, 6)] == ["x", "#VALUE!", "p"]
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
