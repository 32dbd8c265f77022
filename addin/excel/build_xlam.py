"""Build ``addin/excel/addin.clearquote.xlam`` with xlwings' own tooling (runs on Linux).

``xlwings quickstart clearquote --addin --ribbon`` writes the add-in (the xlwings VBA module,
the ``RunMain`` ribbon callback, a config sheet); this script then sets, without touching
the VBA project:

- the config sheet: renamed ``xlwings.conf`` (active), ``UDF Modules = addin.excel.classic``,
  ``Use UDF Server = TRUE`` (one Python process, so the content caches live across calls);
- the ribbon (``customUI/customUI.xml``): a clearquote tab whose button runs ``RunMain``
  (→ ``addin.clearquote.main``, :func:`addin.excel.ribbon.main`: import the functions, recalculate the quote book) and
  Excel's own Calculate Now / Calculate Sheet commands.

Usage: ``python -m addin.excel.build_xlam [OUT]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from addin.excel.ribbon import ADDIN_FILE, UDF_MODULE

HERE = Path(__file__).resolve().parent
CONFIG_SHEET = "xlwings.conf"
RIBBON = """<customUI xmlns="http://schemas.microsoft.com/office/2006/01/customui">
  <ribbon>
    <tabs>
      <tab id="clearquoteTab" label="clearquote">
        <group id="cqFunctions" label="Functions">
          <button id="cqImport" label="Import functions &amp; recalculate" size="large" imageMso="ImportExcel"
                  screentip="Declare the CQ_* functions and recalculate the active workbook"
                  onAction="RibbonMyAddin.RunMain" />
        </group>
        <group id="cqQuoteBook" label="Quote book">
          <control idMso="CalculateNow" size="large" label="Recalculate" />
          <control idMso="CalculateSheet" />
        </group>
      </tab>
    </tabs>
  </ribbon>
</customUI>
"""
# Rows of the quickstart config sheet (A = key): the values this add-in sets in column B.
CONFIG_VALUES = {6: ("str", UDF_MODULE), 8: ("bool", "1")}


def quickstart(workdir: Path) -> Path:
    """Run xlwings' quickstart (its own CLI, in a subprocess) and return the .xlam it wrote."""
    cmd = [sys.executable, "-c", "from xlwings.cli import main; main()", "quickstart", "clearquote", "--addin", "--ribbon"]
    subprocess.run(cmd, cwd=workdir, check=True, capture_output=True, text=True)
    return workdir / "clearquote" / "clearquote.xlam"


def _cell(ref: str, kind: str, value: str) -> str:
    if kind == "bool":
        return f'<c r="{ref}" s="1" t="b"><v>{value}</v></c>'
    return f'<c r="{ref}" s="1" t="inlineStr"><is><t>{value}</t></is></c>'


def configure_sheet(xml: str) -> str:
    """Put the add-in's values into column B of the config sheet."""
    for row, (kind, value) in CONFIG_VALUES.items():
        start = xml.index(f'<row r="{row}"')
        end = xml.index("</row>", start)
        body = xml[start:end]
        if f'r="B{row}"' in body:
            b0 = body.index(f'<c r="B{row}"')
            b1 = body.index("</c>", b0) + len("</c>")
            body = body[:b0] + _cell(f"B{row}", kind, value) + body[b1:]
        else:
            body = body + _cell(f"B{row}", kind, value)
        body = body.replace('spans="1:1"', 'spans="1:2"')
        xml = xml[:start] + body + xml[end:]
    return xml


def build(out: Path) -> Path:
    """Write the configured add-in to ``out`` atomically."""
    with tempfile.TemporaryDirectory() as tmp:
        src = quickstart(Path(tmp))
        with zipfile.ZipFile(src) as zin:
            members = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    wb = members["xl/workbook.xml"].decode()
    old = wb.split('<sheet name="', 1)[1].split('"', 1)[0]
    members["xl/workbook.xml"] = wb.replace(f'<sheet name="{old}"', f'<sheet name="{CONFIG_SHEET}"').encode()
    members["xl/worksheets/sheet1.xml"] = configure_sheet(members["xl/worksheets/sheet1.xml"].decode()).encode()
    members["customUI/customUI.xml"] = RIBBON.encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, suffix=".xlam.tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", zipfile.ZIP_DEFLATED) as zout:
            for name, data in members.items():
                zout.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
        os.replace(tmp_name, out)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ADDIN_FILE))
