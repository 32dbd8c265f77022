"""A real spreadsheet program as a client: LibreOffice opens the engine's books and agrees.

``recalc`` stores every formula's value (any reader sees numbers), and LibreOffice shows
cached values without recalculating. To make LibreOffice compute, the check here writes each
bundled book in the hybrid form: catalogue cells keep their cached values (LibreOffice has no
clearquote add-in), every ordinary formula is left without one so LibreOffice computes it
itself. ``soffice --headless --convert-to xlsx`` then re-saves what LibreOffice shows. CI installs Debian's ``libreoffice-calc`` and sets
``CLEARQUOTE_REQUIRE_SOFFICE=1``, which turns a missing ``soffice`` into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import to_excel

from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import ExcelError, recalc
from addin.headless.values import address
from workbooks.build import BUILDERS

HERE = Path(__file__).resolve().parents[2] / "workbooks"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _convert(soffice: str, profile: Path, fmt: str, out: Path, books: list[str]) -> None:
    """One soffice start converting ``books`` to ``fmt`` in ``out``, with a private profile (HOME
    may be read-only, and the run must not touch the user's)."""
    cmd = [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt, "--outdir", str(out)]
    proc = subprocess.run([*cmd, *map(str, books)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def converted(tmp_path_factory):  # type: ignore[no-untyped-def]
    if SOFFICE is None:
        if os.environ.get("CLEARQUOTE_REQUIRE_SOFFICE") == "1":
            pytest.fail("soffice is not installed but CLEARQUOTE_REQUIRE_SOFFICE=1 (CI installs libreoffice-calc)")
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    tmp = tmp_path_factory.mktemp("lo")
    results = {}
    for name in BUILDERS:
        results[name] = _hybrid(HERE / name, tmp / name)
    out = tmp / "out"
    # one soffice start for all books; a private profile (HOME may be read-only, and the run must not touch the user's)
    _convert(SOFFICE, tmp / "profile", "xlsx", out, [*(str(tmp / n) for n in BUILDERS)])
    return results, out


def _hybrid(src: Path, dst: Path):  # type: ignore[no-untyped-def]
    """``src`` recalculated, with values stored for catalogue cells only (catalogue CSE arrays as
    plain values) and none for ordinary formulas, which LibreOffice then computes itself."""
    from collections import defaultdict

    from addin.headless import recalculate
    from addin.headless.writer import STRIP, Frozen, write_cached

    result = recalculate(src, CATALOGUE_FUNCTIONS)
    updates: dict = defaultdict(lambda: defaultdict(dict))
    for (sheet, r, c), value in result.values.items():
        host = (sheet, r, c) in result.host_cells
        updates[sheet][r][c] = (Frozen(value) if (sheet, r, c) in result.host_arrays else value) if host else STRIP
    write_cached(result.path, dst, updates, result.anchors)
    return result


def _plain(v):  # type: ignore[no-untyped-def]
    if isinstance(v, datetime):  # a date-formatted cell: LibreOffice and we hold the same serial
        return float(to_excel(v))
    if isinstance(v, bool) or v is None:
        return v
    return float(v) if isinstance(v, int) else v


@pytest.mark.parametrize("name", list(BUILDERS))
def test_libreoffice_opens_shows_our_values_and_computes_the_same(converted, name: str) -> None:  # type: ignore[no-untyped-def]
    results, out = converted
    result = results[name]
    lo = openpyxl.load_workbook(out / name, data_only=True)
    ours_checked = theirs_checked = 0
    for (sheet, r, c), mine in result.values.items():
        ws = lo[sheet]
        shown = _plain(ws.cell(r, c).value)
        where = f"{name} {address(sheet, r, c)}"
        if (sheet, r, c) not in result.host_cells:
            assert not (isinstance(shown, str) and (shown.startswith("#NAME") or shown.startswith("Err:"))), (
                f"{where}: LibreOffice shows {shown}"
            )
            theirs_checked += 1
        else:
            ours_checked += 1
        if isinstance(mine, ExcelError):
            assert str(shown) == mine.code, where
        elif isinstance(mine, float):
            # LibreOffice writes doubles with 17 significant digits; its own arithmetic may
            # differ from numpy's in the last bits (SUM order, POWER): 1e-12 relative.
            assert shown == pytest.approx(mine, rel=1e-12, abs=1e-9), where
        elif mine in ("", None) or str(mine) == "":
            assert shown in ("", None), where
        else:
            assert shown == mine, where
    assert ours_checked > 0 and theirs_checked > 0


ALL_SHEETS_CSV = "csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,false,false,false,-1"


def _soffice_or_skip() -> str:
    if SOFFICE is None:
        if os.environ.get("CLEARQUOTE_REQUIRE_SOFFICE") == "1":
            pytest.fail("soffice is not installed but CLEARQUOTE_REQUIRE_SOFFICE=1 (CI installs libreoffice-calc)")
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    return SOFFICE


def test_every_file_the_cli_writes_shows_numbers_in_libreoffice(tmp_path: Path) -> None:
    """The demo's output and `recalc` (default cache mode) of every committed book, every sheet
    exported by LibreOffice as it displays it: no #NAME? and no Err: anywhere. (With --cache all
    the quote book showed 58 such rows: LibreOffice 7.4 recomputes array formulas on load.)"""
    from addin.cli import main

    soffice = _soffice_or_skip()
    books = [tmp_path / "demo.xlsx"]
    assert main(["demo", "-q", "-o", str(books[0])]) == 0
    for name in BUILDERS:
        books.append(tmp_path / f"recalc-{name}")
        assert main(["recalc", "-q", str(HERE / name), "-o", str(books[-1])]) == 0
    out = tmp_path / "csv"
    _convert(soffice, tmp_path / "profile", ALL_SHEETS_CSV, out, [*map(str, books)])
    sheets = sorted(out.glob("*.csv"))
    assert len(sheets) >= 2 * len(books), [s.name for s in sheets]
    bad = [
        f"{s.name}: {line[:120]}"
        for s in sheets
        for line in s.read_text(encoding="utf-8").splitlines()
        if "#NAME" in line or "Err:" in line
    ]
    assert not bad, bad[:10]


def test_committed_books_print_landscape_one_page_wide(tmp_path: Path) -> None:
    """LibreOffice's PDF of each committed book (as `recalc` writes it): landscape pages, and every
    table sheet's header row (first to last column) on one line of one page, i.e. no column spills
    onto a page of its own (workbooks/build.py sets fit-to-width on every sheet)."""
    soffice = _soffice_or_skip()
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        if os.environ.get("CLEARQUOTE_REQUIRE_SOFFICE") == "1":
            pytest.fail("pdftotext (poppler-utils) is not installed but CLEARQUOTE_REQUIRE_SOFFICE=1")
        pytest.skip("pdftotext (poppler-utils) is not installed; .ci/run installs it")
    books = []
    for name in BUILDERS:
        books.append(tmp_path / name)
        recalc(HERE / name, books[-1], cache="libreoffice")
    out = tmp_path / "pdf"
    _convert(soffice, tmp_path / "profile", "pdf", out, [*map(str, books)])
    checked = 0
    for book in books:
        pdf = out / f"{book.stem}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        width, height = (float(x) for x in info.split("Page size:")[1].split("pts")[0].split(" x "))
        assert width > height, f"{pdf.name}: pages are not landscape ({width} x {height} pt)"
        text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        lines = text.splitlines()
        wb = openpyxl.load_workbook(book, read_only=True, data_only=True)
        for ws in wb.worksheets:
            head = [v for v in next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ()) if isinstance(v, str) and v]
            if len(head) < 4:
                continue  # not a table sheet
            assert any(head[0] in line and head[-1] in line.split(head[0], 1)[-1] for line in lines), (
                f"{book.name} {ws.title}: header {head[0]} .. {head[-1]} is not on one printed line"
            )
            checked += 1
        wb.close()
    assert checked >= 3
