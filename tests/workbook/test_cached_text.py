"""Cached text values are read as Excel reads them (addin/headless/package.py).

A cell's text value is an ST_Xstring (ECMA-376 Part 1, §22.9.2.19): a character XML cannot hold
is stored as ``_xHHHH_`` and a literal ``_x`` followed by four hex digits has its underscore
escaped as ``_x005f_``. Excel stores ``=CHAR(1)``'s value as ``_x0001_`` and shows the
character, so ``validate`` compares the decoded text (formulas' function test book: 33 CHAR
and UNICHAR cells were reported as different before).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl

from addin.headless import validate


def _with_cached_text(src: Path, dst: Path, cached: dict[str, str]) -> None:
    """``src`` with each formula cell named in ``cached`` given that stored text (``t="str"``)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for ref, value in cached.items():
                    text = re.sub(
                        rf'<c r="{ref}"([^>]*)><f>(.*?)</f>(?:<v\s*/>|<v>.*?</v>)?</c>',
                        lambda m, v=value, r=ref: f'<c r="{r}"{m.group(1)} t="str"><f>{m.group(2)}</f><v>{v}</v></c>',
                        text,
                    )
                data = text.encode()
            zout.writestr(item, data)


def test_escaped_characters_in_cached_text_are_the_characters(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "=CHAR(1)"
    # the literal text _x0001_: Excel escapes its underscore in the formula as in the value (the
    # formula is an ST_Xstring too: an unescaped "_x0001_" in it is the character)
    ws["A2"] = '="_x005F_x0001_"'
    ws["A3"] = '="a"&CHAR(31)&"b"'
    wb.save(tmp_path / "plain.xlsx")
    book = tmp_path / "cached.xlsx"
    _with_cached_text(tmp_path / "plain.xlsx", book, {"A1": "_x0001_", "A2": "_x005f_x0001_", "A3": "a_x001f_b"})
    assert zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").count(b't="str"') == 3
    v = validate(book, budget=None)
    assert v.compared == 3
    assert v.mismatches == [], v.mismatches
    # the oracle: a wrong stored text is still reported
    _with_cached_text(tmp_path / "plain.xlsx", tmp_path / "wrong.xlsx", {"A1": "_x0002_", "A2": "_x0001_", "A3": "ab"})
    assert len(validate(tmp_path / "wrong.xlsx", budget=None).mismatches) == 3
