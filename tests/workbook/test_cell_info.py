"""CELL's formatting information types (addin/headless/cellinfo.py), which IronCalc 0.9.1 answers
#VALUE!. Oracle: Microsoft, "CELL function" (the table of format codes, the "-" and "()"
suffixes, the label prefixes), each row of its table a case below; none comes from this engine.
Books are written by openpyxl with the number formats and alignments Excel stores."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.styles import Alignment

from addin.headless import recalculate
from addin.headless.cellinfo import format_code

#: Microsoft's table: number format -> CELL("format") (currency written as Excel stores it).
MICROSOFT = [
    ("General", "G"),
    ("0", "F0"),
    ("#,##0", ",0"),
    ("0.00", "F2"),
    ("#,##0.00", ",2"),
    ('"$"#,##0_);\\("$"#,##0\\)', "C0"),
    ('"$"#,##0_);[Red]\\("$"#,##0\\)', "C0-"),
    ('"$"#,##0.00_);\\("$"#,##0.00\\)', "C2"),
    ('"$"#,##0.00_);[Red]\\("$"#,##0.00\\)', "C2-"),
    ("0%", "P0"),
    ("0.00%", "P2"),
    ("0.00E+00", "S2"),
    ("# ?/?", "G"),
    ("# ??/??", "G"),
    ("m/d/yy", "D4"),
    ("m/d/yy h:mm", "D4"),
    ("mm/dd/yy", "D4"),
    ("d-mmm-yy", "D1"),
    ("dd-mmm-yy", "D1"),
    ("d-mmm", "D2"),
    ("dd-mmm", "D2"),
    ("mmm-yy", "D3"),
    ("mm/dd", "D5"),
    ("h:mm AM/PM", "D7"),
    ("h:mm:ss AM/PM", "D6"),
    ("h:mm", "D9"),
    ("h:mm:ss", "D8"),
]


def test_cell_format_color_and_parentheses_follow_microsofts_table(tmp_path: Path) -> None:
    """Each number format of Microsoft's table in A1:A27, CELL("format"), CELL("color") and
    CELL("parentheses") of each; plus a format with parentheses around positive values."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    rows = [*MICROSOFT, ("(0.00);(0.00)", "F2()")]
    for r, (code, _) in enumerate(rows, 1):
        ws.cell(r, 1, 1.5).number_format = code
        ws.cell(r, 2, f'=CELL("format",A{r})')
        ws.cell(r, 3, f'=CELL("color",S!A{r})')
        ws.cell(r, 4, f'=CELL("parentheses",$A${r}:$B${r})')
    wb.save(tmp_path / "c.xlsx")
    got = recalculate(tmp_path / "c.xlsx").values
    for r, (code, want) in enumerate(rows, 1):
        assert got[("S", r, 2)] == want, code
        assert got[("S", r, 3)] == (1.0 if want.endswith("-") else 0.0), code
        assert got[("S", r, 4)] == (1.0 if want.endswith("()") else 0.0), code


def test_cell_prefix_is_the_alignment_of_text_and_empty_for_anything_else(tmp_path: Path) -> None:
    """Microsoft: ' left-aligned text, " right-aligned, ^ centred, \\ fill, "" anything else
    (a number, a blank). Text in a General cell is aligned left."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    cases = [("left", "t", "'"), ("right", "t", '"'), ("center", "t", "^"), ("fill", "t", "\\"), (None, "t", "'")]
    cases += [("center", 5, ""), ("right", None, "")]
    for r, (align, value, _) in enumerate(cases, 1):
        ws.cell(r, 1, value)
        if align is not None:
            ws.cell(r, 1).alignment = Alignment(horizontal=align)
        ws.cell(r, 2, f'=CELL("prefix",A{r})')
    wb.save(tmp_path / "p.xlsx")
    got = recalculate(tmp_path / "p.xlsx").values
    assert [got[("S", r, 2)] for r in range(1, len(cases) + 1)] == [want for _, _, want in cases]


@given(
    st.sampled_from(["0", "#,##0", "0%", "0E+00", '"$"#,##0']),
    st.integers(0, 9),
    st.booleans(),
    st.booleans(),
)
def test_a_format_outside_the_table_is_classified_by_category_and_decimals(
    base: str, decimals: int, red: bool, paren: bool
) -> None:
    """A number format the table does not list: its category's letter (F fixed, "," thousands,
    P percent, S scientific, C currency) and the decimals of its positive section, "-" for a
    colored negative section, "()" for parentheses around positive values."""
    frac = ("." + "0" * decimals) if decimals else ""
    number = base.replace("0%", "0" + frac + "%").replace("0E", "0" + frac + "E")
    if base in ("0", "#,##0", '"$"#,##0'):
        number = base + frac
    positive = f"({number})" if paren else number
    code = positive + (";[Red]-" + number if red else "")
    letter = {"0": "F", "#,##0": ",", "0%": "P", "0E+00": "S", '"$"#,##0': "C"}[base]
    assert format_code(code) == f"{letter}{decimals}" + ("-" if red else "") + ("()" if paren else "")


@pytest.mark.parametrize(("code", "want"), [("@", "G"), ("[$-409]m/d/yy", "D4"), ("[h]:mm:ss", "D8"), ("yyyy-mm-dd", "D4")])
def test_text_locale_and_elapsed_formats(code: str, want: str) -> None:
    """Text format: G; a locale tag is not a currency; elapsed hours are a time (D8)."""
    assert format_code(code) == want
