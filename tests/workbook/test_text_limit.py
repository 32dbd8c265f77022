"""Excel's text limit (addin.headless.text_limit): a text past 32,767 characters is #VALUE!.

Outside references: Microsoft, "Excel specifications and limits" (total number of characters
that a cell can contain: 32,767); the CONCAT and TEXTJOIN reference pages ("If the resulting
string exceeds 32767 characters (cell limit), CONCAT returns the #VALUE! error", TEXTJOIN alike);
REPT's ("If the result of the REPT function is longer than 32,767 characters, REPT returns the
#VALUE! error value"). ``&``, CONCATENATE, SUBSTITUTE and REPLACE build their text the same way
and meet the same cell limit (documented Excel behaviour: no text value is longer). Expected
values are read from those pages: past the limit #VALUE! (which LEN and every consumer then
propagate, Microsoft "#VALUE! error"), at the limit the text itself. Lengths are exact (no tolerance).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from addin.headless import ExcelError
from tests.workbook.bookkit import compute

_INPUTS: dict[str, object] = {"A1": "x" * 20000, "A2": "y" * 20000, "A3": "z"}


@pytest.mark.parametrize(
    "formula",
    [
        "=LEN(A1&A2)",
        '=LEN(REPT("a",20000)&REPT("b",20000))',
        "=LEN(CONCAT(A1,A2))",
        "=LEN(_xlfn.CONCAT(A1:A3))",
        "=LEN(CONCATENATE(A1,A2))",
        '=LEN(_xlfn.TEXTJOIN(",",TRUE,A1:A3))',
        '=LEN(SUBSTITUTE(A1,"x","xx"))',
        "=LEN(REPLACE(A1,1,1,A2))",
        '=LEN(_xlfn.LET(_xlpm.a,REPT("x",20000),_xlpm.a&_xlpm.a))',
        '=IF(LEN(A1&A2)>0,"long","short")',
        '=A1&A2&"tail"',
    ],
    ids=["amp", "amp-rept", "concat", "concat-range", "concatenate", "textjoin", "substitute", "replace", "let", "if", "cell"],
)
def test_a_text_past_excels_limit_is_value_error(tmp_path: Path, formula: str) -> None:
    (got,) = compute(tmp_path, [formula], _INPUTS, column=3)
    assert isinstance(got, ExcelError) and got.code == "#VALUE!", got


def test_a_text_at_the_limit_is_kept(tmp_path: Path) -> None:
    got = compute(
        tmp_path,
        [
            '=LEN(REPT("a",32766)&"b")',
            '=LEN(CONCAT(REPT("a",32766),"b"))',
            '=LEN(SUBSTITUTE(REPT("a",16383)&"b","a","aa"))',
            '=A3&"-"&A3',
            '=LEN(A1&"!")',
        ],
        _INPUTS,
        column=3,
    )
    # 32,767 is the limit itself (a cell holds that many); the last two stay below it
    assert got == [32767.0, 32767.0, 32767.0, "z-z", 20001.0]


def test_a_doubling_chain_stops_at_its_first_step_past_the_limit(tmp_path: Path) -> None:
    # forty doublings of 20,000 characters would be 2.2e16 characters: Excel's #VALUE! at the
    # first step past 32,767 (v1) propagates, so no step builds more than twice the limit
    names = [f"_xlpm.step_{k}" for k in range(41)]
    parts = [f'{names[0]},REPT("x",20000)'] + [f"{names[k]},{names[k - 1]}&{names[k - 1]}" for k in range(1, 41)]
    doubling = "=_xlfn.LET(" + ",".join(parts) + f",LEN({names[40]}))"
    got = compute(
        tmp_path, [doubling, '=_xlfn.LET(_xlpm.a,REPT("x",8000),_xlpm.b,_xlpm.a&_xlpm.a,_xlpm.c,_xlpm.b&_xlpm.b,LEN(_xlpm.c))']
    )
    assert isinstance(got[0], ExcelError) and got[0].code == "#VALUE!"
    assert got[1] == 32000.0  # two doublings of 8,000: within the limit


def test_a_column_filled_down_is_bounded_on_every_row(tmp_path: Path) -> None:
    # the engine fills a rewrite down a column by template: each row meets the limit on its own
    inputs: dict[str, object] = {"A1": "a", "A2": "b" * 20000, "A3": "c", "B1": "d", "B2": "e" * 20000, "B3": "f"}
    got = compute(tmp_path, ["=A1&B1", "=A2&B2", "=A3&B3"], inputs, column=3)
    assert got[0] == "ad" and got[2] == "cf"
    assert isinstance(got[1], ExcelError) and got[1].code == "#VALUE!"
