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


_VALUE = st.one_of(
    st.text(alphabet='ab "x,;{}', max_size=5),
    st.integers(-(10**9), 10**9).map(float),
    st.booleans(),
    st.sampled_from([ExcelError("#N/A"), ExcelError("#DIV/0!")]),
)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 3).flatmap(lambda w: st.lists(st.lists(_VALUE, min_size=w, max_size=w), min_size=1, max_size=3)))
def test_arraytotext_strict_is_an_array_constant_that_parses_back_to_the_array(grid: list[list[object]]) -> None:
    """Microsoft: strict format "can be parsed when entered into the formula bar": the text read
    back as an array constant (the engine's own reader of ``{...}``, built on openpyxl's formula
    tokenizer) is the same grid of values; concise is VALUETOTEXT of each value, row by row,
    joined by ", "."""
    from addin.headless.formula import array_literal
    from addin.headless.valuetext import arraytotext

    strict, concise = arraytotext([[grid, 1.0], [grid, 0.0]])
    assert isinstance(strict, str) and array_literal(strict) == grid
    assert concise == ", ".join(str(v) for v in valuetotext([[v, 0.0] for row in grid for v in row]))


def test_arraytotext_corpus_cells_through_a_book(tmp_path: Path) -> None:
    """Formulas' test book, sheet "TEXT", rows 3-4 (inputs and cached values copied)."""
    inputs: dict[str, object] = {
        "C1": 0,
        "D1": 1.9,
        "E1": 2.3,
        "F1": 10,
        "G1": -1,
        "I1": "1987-08-26",
        "J1": True,
        "K1": "=#VALUE!",
    }
    inputs.update({"C2": 0, "D2": 1.9, "E2": 2.3, "F2": 10, "G2": -1, "J2": True, "K2": "=#VALUE!"})
    cases: dict[str, object] = {
        "=_xlfn.ARRAYTOTEXT(C1:D2,0)": "0, 1.9, 0, 1.9",  # R3
        "=_xlfn.ARRAYTOTEXT(H1:H2,0)": ", ",  # V3
        "=_xlfn.ARRAYTOTEXT(I1:J1,0)": "1987-08-26, TRUE",  # X3
        "=_xlfn.ARRAYTOTEXT(J1:K1,0)": "TRUE, #VALUE!",  # Y3
        "=_xlfn.ARRAYTOTEXT(C2:D2,2)": "#VALUE!",  # R4
        "=_xlfn.ARRAYTOTEXT(D1:E2,1)": "{1.9,2.3;1.9,2.3}",  # S4
        "=_xlfn.ARRAYTOTEXT(F2:G2,1)": "{10,-1}",  # U4
        "=_xlfn.ARRAYTOTEXT(H2,1)": "#VALUE!",  # V4: one blank cell, strict
        "=_xlfn.ARRAYTOTEXT(J2:K2,1)": "{TRUE,#VALUE!}",  # Y4
        "=_xlfn.ARRAYTOTEXT(G2:J2,0.9)": "-1, , , TRUE",  # Z4's rule (format truncated)
        "=_xlfn.ARRAYTOTEXT(G1:I1,1)": '{-1,,"1987-08-26"}',
    }
    got = compute(tmp_path, list(cases), inputs, column=30)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert (value.code if isinstance(value, ExcelError) else value) == want, formula
