"""The desktop add-in: xlwings' own classic decorators and VBA generator over addin.excel.classic.

xlwings' classic UDF machinery (xlwings/udfs.py) imports pywin32 at module level; on Linux it
runs with pywin32 stubbed (EXCEL.md section 2). The VBA text generated here is what
"Import functions" writes into the add-in on Windows.
"""

from __future__ import annotations

import importlib
import io
import re
import sys
import types
from types import SimpleNamespace

import pytest

from udfs import CATALOGUE


@pytest.fixture()
def classic(monkeypatch):
    for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["pythoncom"].CoInitialize = lambda: None
    sys.modules["pywintypes"].com_error = Exception
    sys.modules["win32com.client"].Dispatch = None
    monkeypatch.delitem(sys.modules, "xlwings.udfs", raising=False)
    xlwings = importlib.import_module("xlwings")
    xu = importlib.import_module("xlwings.udfs")
    monkeypatch.setattr(xlwings, "func", xu.xlfunc)
    monkeypatch.setattr(xlwings, "arg", xu.xlarg)
    import addin.excel.classic as module

    module = importlib.reload(module)
    yield xu, module
    monkeypatch.undo()
    importlib.reload(module)  # back to the no-op decorators for the other tests
    sys.modules.pop("xlwings.udfs", None)


def test_vba_wrapper_declares_every_function_and_argument(classic):
    xu, module = classic
    buf = io.StringIO()
    xu.generate_vba_wrapper("addin.excel.classic", module, buf, SimpleNamespace(Name="addin.clearquote.xlam"))
    vba = buf.getvalue()
    declared = dict(re.findall(r"^Function (CQ_\w+)\((.*)\)$", vba, flags=re.M))
    assert set(declared) == {s.desktop_name for s in CATALOGUE.values()}
    for spec in CATALOGUE.values():
        expected = ", ".join(f"Optional {a.name}" if a.optional else a.name for a in spec.args)
        assert declared[spec.desktop_name] == expected, spec.name
        assert f'XLPy.CallUDF("addin.excel.classic", "{spec.desktop_name}"' in vba


def test_metadata_carries_help_category_and_wizard_policy(classic):
    _, module = classic
    for spec in CATALOGUE.values():
        meta = getattr(module, spec.desktop_name).__xlfunc__
        assert meta["name"] == spec.desktop_name and meta["category"] == spec.category
        assert meta["call_in_wizard"] is (not spec.heavy)
        assert [a["name"] for a in meta["args"]] == [a.name for a in spec.args]
        assert [a["doc"] for a in meta["args"]] == [a.doc for a in spec.args]
        assert all(a["options"] == {"ndim": 2, "err_to_str": True} for a in meta["args"])
        assert meta["ret"]["doc"].startswith(spec.summary)


def test_errors_reach_the_cell_as_text_with_the_reason(classic):
    _, module = classic
    out = module.CQ_BLACK([["C"]], [[60000]], [[55000], ["abc"]], [[0.25]], [[0.55]], [[None]], [[None]])
    assert isinstance(out[0][0], float)
    assert out[1][0] == "#VALUE! strike: the text 'abc' where a number belongs (USD)"
    assert type(out[1][0]) is str  # not the XlError subclass: COM must get plain text
    bad = module.CQ_IM([["instrument"], ["BTC-PERPETUAL"]], [["bundled"]], [[None]], [[None]])
    assert bad[0][0].startswith("#VALUE! portfolio: missing column(s) quantity")
