"""Every output carries every value: after ``recalc``, in every ``--cache`` mode, every formula
cell holds its computed value, whoever wrote the book (openpyxl: no value; XlsxWriter: 0 as a
placeholder; LibreOffice: its own values; Excel: its values, here removed first), so that
pandas, openpyxl ``data_only=True``, a viewer, or Excel before it recalculates see numbers.

The oracle is the engine's own result (:func:`recalculate` on the same book) for the openpyxl,
XlsxWriter and LibreOffice cases (the claim is that the file carries what was computed), and
Excel's cached values for the corpus books (``../shared/corpus/excel``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import to_excel

from addin.cli import main
from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import CACHE_MODES, ExcelError, recalculate
from workbooks.build import BUILDERS

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "excel"


def _read(path: Path) -> dict[tuple[str, int, int], object]:
    """openpyxl's ``data_only`` value of every formula cell of ``path``."""
    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    v = values[ws.title].cell(c.row, c.column).value
                    out[(ws.title, c.row, c.column)] = float(to_excel(v)) if hasattr(v, "year") else v
    return out


def _carries(path: Path, computed: dict[tuple[str, int, int], object]) -> None:
    got = _read(path)
    assert got, "no formula cells read back"
    for key, v in got.items():
        assert v is not None, f"{key}: no value in the file"
        want = computed[key]
        if isinstance(want, ExcelError):
            assert v == want.code, key
        elif isinstance(want, float) and not isinstance(want, bool):
            assert v == pytest.approx(want, rel=1e-15, abs=0), key  # the writer stores repr(float): exact
        else:
            assert v == want, key


def test_an_openpyxl_quote_book_reads_as_numbers_after_recalc(tmp_path: Path) -> None:
    """The issue's case: the quote book as openpyxl writes it (no <v> at all), ``recalc`` with its
    default mode, then ``data_only=True``: a number in every formula cell of the RFQ rows."""
    src = tmp_path / "quote.xlsx"
    BUILDERS["quote_book.xlsx"]().save(src)
    assert all(v is None for v in _read(src).values())  # openpyxl wrote no values
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(src), "-o", str(out)]) == 0
    got = _read(out)
    rfq = {k: v for k, v in got.items() if k[0] == "RFQs"}
    assert len(rfq) > 100 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rfq.values()), [
        (k, v) for k, v in rfq.items() if not isinstance(v, (int, float))
    ][:5]
    assert all(v is not None for v in got.values())


@pytest.mark.parametrize("mode", CACHE_MODES)
def test_every_cache_mode_stores_every_value(tmp_path: Path, mode: str) -> None:
    src = tmp_path / "quote.xlsx"
    BUILDERS["quote_book.xlsx"]().save(src)
    out = tmp_path / f"{mode}.xlsx"
    assert main(["recalc", "-q", str(src), "-o", str(out), "--cache", mode]) == 0
    computed = recalculate(src, CATALOGUE_FUNCTIONS).values
    _carries(out, computed)


def _xlsxwriter_shape(src: Path, dst: Path) -> Path:
    """``src`` with every formula cell in the shape XlsxWriter writes (``<f>..</f><v>0</v>``: 0 as
    a placeholder value; XlsxWriter's ``write_formula`` without ``value``). XlsxWriter itself is
    not in the lock; the XML shape is what matters to a reader."""
    import re

    with zipfile.ZipFile(src) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    for name, data in parts.items():
        if name.startswith("xl/worksheets/sheet"):
            data = re.sub(rb"(<f>[^<]*</f>)(?:<v\s*/>|<v>[^<]*</v>)?", rb"\1<v>0</v>", data)
            parts[name] = data
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def test_xlsxwriter_placeholder_zeros_are_replaced(tmp_path: Path) -> None:
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["A2"] = 2.0, "x"
    ws["B1"], ws["B2"], ws["B3"], ws["B4"] = "=A1*3", '=A2&"y"', "=A1>1", "=1/0"
    wb.save(plain)
    src = _xlsxwriter_shape(plain, tmp_path / "xw.xlsx")
    assert set(_read(src).values()) == {0}
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(src), "-o", str(out)]) == 0
    assert _read(out) == {("S", 1, 2): 6, ("S", 2, 2): "xy", ("S", 3, 2): True, ("S", 4, 2): "#DIV/0!"}


def test_a_libreoffice_written_book_carries_our_values(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CLEARQUOTE_REQUIRE_SOFFICE") == "1":
            pytest.fail("soffice is not installed but CLEARQUOTE_REQUIRE_SOFFICE=1")
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    src = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r in range(1, 21):
        ws[f"A{r}"] = float(r)
        ws[f"B{r}"] = f"=A{r}^2/7"
        ws[f"C{r}"] = f'=IF(B{r}>10,"big","small")'
    ws["D1"] = "=SUM(B1:B20)"
    wb.save(src)
    out_dir = tmp_path / "lo"
    cmd = [soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--convert-to", "xlsx"]
    subprocess.run([*cmd, "--outdir", str(out_dir), str(src)], capture_output=True, timeout=300, check=True)
    lo = out_dir / "plain.xlsx"
    with zipfile.ZipFile(lo) as z:
        assert b"<v>" in z.read("xl/worksheets/sheet1.xml")  # LibreOffice stored its own values
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(lo), "-o", str(out)]) == 0
    _carries(out, recalculate(lo).values)


def test_excel_books_carry_values_after_their_own_are_stripped(tmp_path: Path) -> None:
    """Ten corpus books saved by Excel: their cached values removed (the corpus benchmark's strip),
    ``recalc``, and the file again carries a value in every formula cell, equal to what the engine
    computed."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/excel is not beside the project")
    from bench.corpus import reference, strip

    books = sorted(p for p in CORPUS.iterdir() if p.suffix.lower() == ".xlsx")[:: max(1, 155 // 10)][:10]
    done = 0
    for book in books:
        stripped = tmp_path / book.name
        strip(book, stripped, reference(book))
        try:
            computed = recalculate(stripped).values
        except Exception:  # a book the engine refuses is not this test's subject
            continue
        if not computed:
            continue  # a book without formulas
        out = tmp_path / f"out-{book.name}"
        assert main(["recalc", "-q", str(stripped), "-o", str(out)]) in (0, 3), book.name
        for key, v in _read(out).items():
            if key in computed and computed[key] not in (None, ""):
                assert v is not None, f"{book.name} {key}"
        done += 1
    assert done >= 7
