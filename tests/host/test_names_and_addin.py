"""One catalogue under every name, and the desktop add-in file built by xlwings' own quickstart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

import udfs
from addin.excel.build_xlam import CONFIG_SHEET, build
from addin.excel.ribbon import ADDIN_FILE, UDF_MODULE
from udfs import CATALOGUE
from udfs.names import resolve

ROOT = Path(__file__).resolve().parents[2]
NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "ui": "http://schemas.microsoft.com/office/2006/01/customui",
}


def test_every_function_is_reachable_under_every_name():
    for spec in CATALOGUE.values():
        for name in (
            f"CQ_{spec.name}",
            f"CQ.{spec.name}",
            f"cq.{spec.name.lower()}",
            f"CQ_DEV.{spec.name}",
            f"_xludf.CQ_{spec.name}",
            f"_xludf.CQ.{spec.name}",
            f"_xll.CQ_{spec.name}",
            f"_xll.CQ.{spec.name}",
        ):
            assert resolve(name) is spec, name
        assert getattr(udfs, spec.desktop_name).__xlspec__ is spec
    assert resolve("SUM") is None and resolve("CQ_NOPE") is None and resolve("_xludf.VLOOKUP") is None


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("xlam") / ADDIN_FILE)


def test_committed_addin_equals_a_fresh_build(built):
    with zipfile.ZipFile(built) as fresh, zipfile.ZipFile(ROOT / "addin" / "excel" / ADDIN_FILE) as committed:
        assert sorted(fresh.namelist()) == sorted(committed.namelist())
        for name in fresh.namelist():
            assert fresh.read(name) == committed.read(name), name


def test_config_sheet_points_at_the_catalogue(built):
    with zipfile.ZipFile(built) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
        strings = [si.findtext("m:t", namespaces=NS) for si in ET.fromstring(z.read("xl/sharedStrings.xml"))]
    assert [s.get("name") for s in wb.find("m:sheets", NS)] == [CONFIG_SHEET]
    config = {}
    for row in sheet.iter(f"{{{NS['m']}}}row"):
        cells = {c.get("r")[0]: c for c in row}
        if cells["A"].findtext("m:v", namespaces=NS) is None:
            continue
        key = strings[int(cells["A"].findtext("m:v", namespaces=NS))]
        b = cells.get("B")
        config[key] = None if b is None else (b.findtext("m:is/m:t", namespaces=NS) or b.findtext("m:v", namespaces=NS))
    assert config["UDF Modules"] == UDF_MODULE and config["Use UDF Server"] == "1"


def test_ribbon_calls_a_callback_the_vba_defines(built):
    olevba = pytest.importorskip("oletools.olevba")
    with zipfile.ZipFile(built) as z:
        ui = ET.fromstring(z.read("customUI/customUI.xml"))
    actions = {b.get("onAction") for b in ui.iter(f"{{{NS['ui']}}}button")}
    assert actions == {"RibbonMyAddin.RunMain"}
    builtin = {c.get("idMso") for c in ui.iter(f"{{{NS['ui']}}}control")}
    assert builtin == {"CalculateNow", "CalculateSheet"}
    code = {f: c for _, _, f, c in olevba.VBA_Parser(str(built)).extract_macros()}
    ribbon = code["RibbonMyAddin.bas"]
    assert "Sub RunMain(control As IRibbonControl)" in ribbon
    # RunMain imports the module named like the file without ".xlam": addin.clearquote, which has main().
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in ribbon
    import addin.clearquote

    assert ADDIN_FILE[: -len(".xlam")] == addin.clearquote.__name__ and callable(addin.clearquote.main)
