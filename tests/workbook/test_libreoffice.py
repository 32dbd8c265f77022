"""A real spreadsheet program as a client: LibreOffice opens the engine's books and agrees.

The engine writes each bundled book in the ``libreoffice`` cache mode: catalogue cells keep
their cached values (LibreOffice has no clearquote add-in), every ordinary formula is left
without one so LibreOffice computes it itself. ``soffice --headless --convert-to xlsx`` then
re-saves what LibreOffice shows. CI installs Debian's ``libreoffice-calc`` and sets
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
from formulas.tokens.operand import XlError
from openpyxl.utils.datetime import to_excel

from addin.workbook.book import address
from addin.workbook.engine import recalc, uses_catalogue
from workbooks.build import BUILDERS

HERE = Path(__file__).resolve().parents[2] / "workbooks"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):  # type: ignore[no-untyped-def]
    if SOFFICE is None:
        if os.environ.get("CLEARQUOTE_REQUIRE_SOFFICE") == "1":
            pytest.fail("soffice is not installed but CLEARQUOTE_REQUIRE_SOFFICE=1 (CI installs libreoffice-calc)")
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    tmp = tmp_path_factory.mktemp("lo")
    results = {}
    for name in BUILDERS:
        results[name], _ = recalc(HERE / name, tmp / name, cache="libreoffice")
    out = tmp / "out"
    # one soffice start for all books; a private profile (HOME may be read-only, and the run must not touch the user's)
    proc = subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{tmp / 'profile'}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            *(str(tmp / n) for n in BUILDERS),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return results, out


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
    for sheet, cells in result.positions().items():
        ws = lo[sheet]
        for (r, c), g in cells.items():
            mine, shown = result.value(sheet, r, c), _plain(ws.cell(r, c).value)
            where = f"{name} {address(sheet, r, c)}"
            if not uses_catalogue(g):
                assert not (isinstance(shown, str) and (shown.startswith("#NAME") or shown.startswith("Err:"))), (
                    f"{where}: LibreOffice shows {shown}"
                )
                theirs_checked += 1
            else:
                ours_checked += 1
            if isinstance(mine, XlError):
                assert str(shown) == str(mine), where
            elif isinstance(mine, float):
                # LibreOffice writes doubles with 17 significant digits; its own arithmetic may
                # differ from numpy's in the last bits (SUM order, POWER): 1e-12 relative.
                assert shown == pytest.approx(mine, rel=1e-12, abs=1e-9), where
            elif mine in ("", None) or str(mine) == "":
                assert shown in ("", None), where
            else:
                assert shown == mine, where
    assert ours_checked > 0 and theirs_checked > 0
