"""CHAR and CODE in the character set of the platform that saved the book (addin/headless/charset.py).

Oracle: Microsoft, "CHAR function" (support.microsoft.com/office/char-function-bbd249c8-b36e-4a91-8017-1c133f9b837a)
and "CODE function" (support.microsoft.com/excel/code-function): the character set is the
operating environment's, "Macintosh character set" on a Macintosh, "ANSI" on Windows. The tables
are Python's codecs written plainly here (``bytes([n]).decode("mac_roman")``, ``"cp1252"``), not
the module's: the Mac table agrees with every cached CHAR cell of formulas' test book, saved by
"Microsoft Macintosh Excel" (``CHAR(128)`` "Ä", ``UNICODE(CHAR(128))`` 196; CORE!B32:E286).
Windows-1252's five undefined bytes are the C1 controls of their numbers (Windows' own
conversion; no Excel-cached value found: a documented choice), and CODE of a character outside
the code page is 63 ("?": forum reports of Excel on Windows, not Microsoft's wording).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import ExcelError, recalculate, validate
from addin.headless.charset import code_page
from addin.headless.package import scan

PAGES = {"mac": "mac_roman", "windows": "cp1252"}
APPLICATIONS = {"mac": "Microsoft Macintosh Excel", "windows": "Microsoft Excel"}


def char(n: int, platform: str) -> str:
    """Excel's CHAR(n) on ``platform``: the codec's character; Windows' five undefined bytes
    are the C1 controls of their numbers."""
    try:
        return bytes([n]).decode(PAGES[platform])
    except UnicodeDecodeError:
        return chr(n)


def code(text: str, platform: str) -> int:
    """Excel's CODE(text) on ``platform``: the first character's byte, 63 outside the code page."""
    ch = text[0]
    if platform == "windows" and 0x80 <= ord(ch) <= 0x9F and char(ord(ch), platform) == ch:
        return ord(ch)
    try:
        return bytes(ch.encode(PAGES[platform]))[0]
    except UnicodeEncodeError:
        return 63


def _book(path: Path, formulas: list[str], platform: str | None, inputs: Mapping[str, object] | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in (inputs or {}).items():
        ws[ref] = v
    for i, f in enumerate(formulas, 1):
        ws.cell(i, 2).value = f
    wb.save(path)
    return saved_by(path, platform)


def saved_by(path: Path, platform: str | None) -> Path:
    """``path`` with docProps/app.xml naming the platform's Excel (None: the part left out)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zi, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zo:
        for item in zi.infolist():
            data = zi.read(item.filename)
            if item.filename == "docProps/app.xml":
                if platform is None:
                    continue
                data = re.sub(
                    rb"<Application>[^<]*</Application>", f"<Application>{APPLICATIONS[platform]}</Application>".encode(), data
                )
            zo.writestr(item, data)
    tmp.replace(path)
    return path


def _values(path: Path, count: int) -> list[object]:
    got = recalculate(path).values
    return [got[("S", i, 2)] for i in range(1, count + 1)]


@settings(max_examples=8, deadline=None)
@given(
    st.sampled_from(["mac", "windows"]),
    st.lists(st.integers(1, 255), min_size=1, max_size=24),
    st.floats(0, 0.999),
)
def test_char_is_the_saving_platforms_character(
    tmp_path_factory: pytest.TempPathFactory, platform: str, numbers: list[int], frac: float
) -> None:
    """CHAR(n) and CHAR(n + a fraction) (truncated) typed in (answered when the formula is
    prepared), CHAR of n as text and of a cell holding n (computed through the table), and CODE
    and UNICODE of the results: the platform's character, its byte back, its own code point."""
    tmp = tmp_path_factory.mktemp("char")
    formulas = []
    for k, n in enumerate(numbers, 1):
        formulas += [f"=CHAR({n})", f"=CHAR({n + frac!r})", f'=CHAR("{n}")', f"=CHAR(A{k})"]
        formulas += [f"=CODE(CHAR({n}))", f"=UNICODE(CHAR({n}))", f"=CODE(CHAR(A{k}))", f"=UNICODE(CHAR(A{k}))"]
    inputs = {f"A{k}": n for k, n in enumerate(numbers, 1)}
    got = _values(_book(tmp / "b.xlsx", formulas, platform, inputs), len(formulas))
    for k, n in enumerate(numbers):
        ch = char(n, platform)
        want = [ch, ch, ch, ch, float(n), float(ord(ch)), float(n), float(ord(ch))]
        assert got[8 * k : 8 * k + 8] == want, (platform, n)


@settings(max_examples=8, deadline=None)
@given(
    st.sampled_from(["mac", "windows"]),
    st.lists(
        # a text starting "=" would be written by openpyxl as a formula, not as text
        st.text(
            st.characters(codec="utf-8", exclude_characters='"', exclude_categories=("Cs", "Cc")), min_size=1, max_size=3
        ).filter(lambda t: not t.startswith("=")),
        min_size=1,
        max_size=24,
    ),
)
def test_code_is_the_first_characters_byte_in_the_platforms_code_page(
    tmp_path_factory: pytest.TempPathFactory, platform: str, texts: list[str]
) -> None:
    """CODE of any text in a cell (through the table) and typed into the formula (answered when
    the formula is prepared): the byte of its first character in the platform's code page; 63
    for a character outside it (an emoji, a CJK character, the C1 controls on a Mac)."""
    tmp = tmp_path_factory.mktemp("code")
    inputs = {f"A{i}": t for i, t in enumerate(texts, 1)}
    formulas = [f"=CODE(A{i})" for i in range(1, len(texts) + 1)] + [f'=CODE("{t}")' for t in texts]
    got = _values(_book(tmp / "b.xlsx", formulas, platform, inputs), len(formulas))
    assert got == [float(code(t, platform)) for t in texts] * 2


def test_char_and_code_keep_excels_argument_rules(tmp_path: Path) -> None:
    """Microsoft: CHAR takes "a number between 1 and 255" (else #VALUE!, Excel's and the formula
    engine's), errors pass on; CODE of empty text is #VALUE!, of a number its text's first digit."""
    formulas = ["=CHAR(0)", "=CHAR(256)", "=CHAR(1/0)", '=CODE("")', "=CODE(A20)", "=CODE(5)", "=CODE(TRUE)", "=CODE(1/0)"]
    for platform in ("mac", "windows"):
        got = _values(_book(tmp_path / f"{platform}.xlsx", formulas, platform), len(formulas))
        want = [
            ExcelError("#VALUE!"),
            ExcelError("#VALUE!"),
            ExcelError("#DIV/0!"),
            ExcelError("#VALUE!"),
            ExcelError("#VALUE!"),
            53.0,
            84.0,
        ]
        assert got[:7] == want, platform
        assert got[7] == ExcelError("#DIV/0!")


def test_char_over_a_range_in_an_array_formula_is_each_cells_character(tmp_path: Path) -> None:
    """``{=CHAR(E1:E3)}`` is CHAR of each cell (the lifting first, then the code page)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["D1"] = ArrayFormula("D1:D3", "=CHAR(E1:E3)")
    ws["E1"], ws["E2"], ws["E3"] = 128, 219, 65
    wb.save(tmp_path / "b.xlsx")
    for platform in ("mac", "windows"):
        got = recalculate(saved_by(tmp_path / "b.xlsx", platform)).values
        assert [got[("S", r, 4)] for r in (1, 2, 3)] == [char(n, platform) for n in (128, 219, 65)]


def test_the_saving_application_is_read_from_the_package(tmp_path: Path) -> None:
    """docProps/app.xml's <Application>: Excel for Mac is Mac Roman; Windows, Excel Online, a
    missing part, a damaged part and one declaring entities are Windows-1252 (metadata never
    refuses the book; a DTD is never read)."""
    path = _book(tmp_path / "b.xlsx", ["=CHAR(128)"], "mac")
    assert scan(path).application == "Microsoft Macintosh Excel"
    assert code_page(scan(path).application) == "mac_roman"
    for app in ("Microsoft Excel", "Microsoft Excel Online", "Excel Android", None):
        assert code_page(app) == "cp1252"
    assert scan(_book(tmp_path / "none.xlsx", ["=CHAR(128)"], None)).application is None
    assert _values(tmp_path / "none.xlsx", 1) == ["€"]
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(tmp_path / "none.xlsx") as zi, zipfile.ZipFile(damaged, "w") as zo:
        for item in zi.infolist():
            zo.writestr(item, zi.read(item.filename))
        zo.writestr("docProps/app.xml", b"<Properties><Application>Microsoft Macintosh")
    assert scan(damaged).application is None
    assert _values(damaged, 1) == ["€"]
    hostile = tmp_path / "hostile.xlsx"  # entities in the metadata: never expanded, never a refusal
    with zipfile.ZipFile(tmp_path / "none.xlsx") as zi, zipfile.ZipFile(hostile, "w") as zo:
        for item in zi.infolist():
            zo.writestr(item, zi.read(item.filename))
        zo.writestr(
            "docProps/app.xml",
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY m "Microsoft Macintosh Excel">]><Properties><Application>&m;</Application></Properties>',
        )
    assert scan(hostile).application is None


def test_recalc_and_validate_of_a_mac_book_through_the_cli(tmp_path: Path) -> None:
    """An openpyxl-written book with a Mac app.xml: ``clearquote recalc`` writes the Mac
    characters; ``validate`` of that output agrees (exit 0), and the same cached values in a
    book that says Windows differ exactly in the bytes whose characters differ (exit 1)."""
    numbers = [65, 128, 129, 160, 219, 240, 255]
    src = _book(tmp_path / "in.xlsx", [f"=CHAR({n})" for n in numbers] + ['=CODE("Ä")'], "mac")
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(src), "-o", str(out)]) == 0
    ws = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [ws.cell(i, 2).value for i in range(1, len(numbers) + 1)] == [char(n, "mac") for n in numbers]
    assert ws.cell(len(numbers) + 1, 2).value == 128
    assert main(["validate", "-q", str(out)]) == 0
    saved_by(out, "windows")
    assert main(["validate", "-q", str(out)]) == 1
    differing = {m.cell for m in validate(out, budget=None).mismatches}
    want = {f"S!B{i}" for i, n in enumerate(numbers, 1) if char(n, "mac") != char(n, "windows")} | {f"S!B{len(numbers) + 1}"}
    assert differing == want
