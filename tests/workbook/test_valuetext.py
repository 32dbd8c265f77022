"""VALUETOTEXT as Excel computes it (addin/headless/valuetext.py).

Oracle: Microsoft, "VALUETOTEXT function" (support.microsoft.com): text passes unchanged in
format 0; format 1 "Encapsulates returned strings in quotes except for Booleans, Numbers and
Errors" and "can be parsed when entered into the formula bar" (so a quotation mark inside is
doubled, as a formula writes it); any other format is #VALUE!. Where Microsoft is silent (an
error value becomes its text, format truncated): the cached values of formulas' ``test.xlsx``
(``../shared/corpus/excel``, sheet "TEXT", R54:AH55), copied here as literals with their cells.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError
from addin.headless.valuetext import valuetotext
from tests.workbook.bookkit import compute


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=12))
def test_text_is_unchanged_concise_and_a_formula_string_strict(text: str) -> None:
    concise, strict = valuetotext([[text, 0.0], [text, 1.0]])
    assert concise == text
    assert isinstance(strict, str) and strict[0] == strict[-1] == '"'
    assert strict[1:-1].replace('""', '"') == text and '"' not in strict[1:-1].replace('""', "")


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(st.integers(-(10**14), 10**14).map(float), st.floats(-1e14, 1e14).map(lambda v: float(f"{v:.12g}"))),
    st.sampled_from([0.0, 1.0]),
)
def test_a_number_is_its_own_text_in_either_format(x: float, fmt: float) -> None:
    (got,) = valuetotext([[x, fmt]])
    assert isinstance(got, str) and float(got) == x


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.booleans(), st.none()))
def test_format_is_0_or_1_after_truncation_else_value(fmt: object) -> None:
    (got,) = valuetotext([["x", fmt]])
    assert got in ("x", '"x"') or (isinstance(got, ExcelError) and got.code == "#VALUE!")


def test_the_corpus_cells_through_a_book(tmp_path: Path) -> None:
    inputs: dict[str, object] = {"C1": 0, "D1": 1.9, "G1": -1, "I1": "1987-08-26", "J1": True, "K1": "=#VALUE!", "L1": "=NA()"}
    cases: dict[str, object] = {
        "=_xlfn.VALUETOTEXT(C1,0)": "0",  # R54
        '=_xlfn.VALUETOTEXT(D1,"0")': "1.9",  # S54
        "=_xlfn.VALUETOTEXT(G1,FALSE)": "-1",  # V54
        '=_xlfn.VALUETOTEXT("ciao3",H1)': "ciao3",  # W54
        "=_xlfn.VALUETOTEXT(J1,0)": "TRUE",  # Y54
        '=_xlfn.VALUETOTEXT(K1,0)="#VALUE!"': True,  # Z54: the error's text
        "=_xlfn.VALUETOTEXT(L1,1)": "#N/A",  # AA55
        "=_xlfn.VALUETOTEXT(C1,0.9)": "0",  # R55
        "=_xlfn.VALUETOTEXT(D1,-1)": "#VALUE!",  # S55 (an error)
        '=_xlfn.VALUETOTEXT(D1,"a")': "#VALUE!",  # T55
        "=_xlfn.VALUETOTEXT(D1,2)": "#VALUE!",  # U55
        "=ISTEXT(_xlfn.VALUETOTEXT(H1,1))": True,  # V55
        '=_xlfn.VALUETOTEXT(I1,"1.99")': '"1987-08-26"',  # X55
    }
    got = compute(tmp_path, list(cases), inputs)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert (value.code if isinstance(value, ExcelError) else value) == want, formula
    assert not isinstance(got[6], ExcelError) and not isinstance(got[5], ExcelError)


def test_recalc_writes_the_text_a_reader_sees(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A2"] = 'say "hi"', 0.25
    ws["B1"] = "=VALUETOTEXT(A1,1)"
    ws["B2"] = "=VALUETOTEXT(A2)"
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["B1"].value, out["B2"].value] == ['"say ""hi"""', "0.25"]
