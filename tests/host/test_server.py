"""The Office.js host: xlwings Server custom functions, in-process and over HTTP.

xlwings Server is PolyForm Noncommercial; these tests use the ``noncommercial`` key (a desk
needs its own xlwings PRO key). Request bodies are exactly what the Office.js client sends
(xlwings_server/static/js/custom-functions/custom-functions-code.js, xlwings 0.37.8).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # read when xlwings.server is imported

import xlwings as xw
import xlwings.server as xlwings_server_api
from xlwings import XlwingsError

import udfs
from addin.excel import office_js as xl_server
from udfs import CATALOGUE

PROJECT = Path(__file__).resolve().parents[2] / "addin" / "excel" / "server"


def body(func_name: str, args: list) -> dict:
    return {
        "client": "Office.js",
        "func_name": func_name,
        "args": args,
        "caller_address": "[Book1.xlsx]Sheet1!A1",
        "session_id": "t",
        "culture_info_name": "en-US",
        "date_format": "m/d/yyyy",
        "version": xw.__version__,
        "runtime": "1.4",
    }


def call(func_name: str, args: list):
    return asyncio.run(xlwings_server_api.custom_functions_call(body(func_name, args), xl_server))


def test_every_function_is_exported_with_its_arguments():
    meta = {f["name"]: f for f in xlwings_server_api.custom_functions_meta(xl_server)["functions"]}
    assert set(meta) == set(CATALOGUE)
    for spec in CATALOGUE.values():
        params = meta[spec.name]["parameters"]
        assert [p["name"] for p in params] == [a.name for a in spec.args]
        assert [bool(p.get("optional")) for p in params] == [a.optional for a in spec.args]
        assert [p["description"] for p in params] == [a.doc for a in spec.args]
        assert inspect.iscoroutinefunction(getattr(xl_server, spec.name.lower())) is spec.heavy


def test_array_with_one_bad_row_gives_real_error_values():
    out = call("black", [[["C"]], [[60000]], [[55000], ["abc"], [-1]], [[0.25]], [[0.55]]])
    # The host passes the catalogue's own number through (a cross-check of the host, not a reference).
    assert out[0][0] == udfs.CQ_BLACK("C", 60000, 55000, 0.25, 0.55)[0][0]
    assert out[1][0] == {"type": "Error", "errorType": "Value"} and out[2][0] == {"type": "Error", "errorType": "Num"}


def test_bad_argument_raises_xlwings_error_with_the_reason():
    with pytest.raises(XlwingsError, match="settle: 'bogus' is not one of linear, usd, inverse, coin"):
        call("black", [[["C"]], [[60000]], [[55000]], [[0.25]], [[0.55]], [[0]], [["bogus"]]])


def test_heavy_function_through_the_worker_thread_equals_the_catalogue():
    import udfs

    book = [["instrument", "quantity"], ["BTC-PERPETUAL", 1]]
    out = call("im", [book, [["bundled"]], [["span"]]])
    assert out == udfs.CQ_IM(book, "bundled", "span") and out[0][0] > 0


@pytest.fixture(scope="module")
def client():
    env = {
        "XLWINGS_PROJECT_DIR": str(PROJECT),
        "XLWINGS_FUNCTIONS_NAMESPACE": "CQ",
        "XLWINGS_ENVIRONMENT": "prod",
        "XLWINGS_SECRET_KEY": "test-only",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import xlwings_server.main
    from fastapi.testclient import TestClient

    with TestClient(xlwings_server.main.main_app) as c:
        yield c
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_http_meta_and_manifest_namespace(client):
    meta = client.get("/xlwings/custom-functions-meta")
    assert meta.status_code == 200 and {f["name"] for f in meta.json()["functions"]} == set(CATALOGUE)
    manifest = client.get("/manifest")
    assert manifest.status_code == 200
    assert re.search(r'<bt:String id="Functions.Namespace" DefaultValue="CQ"\s*/>', manifest.text)


def test_http_call_with_one_bad_row_and_a_bad_input(client):
    ok = client.post(
        "/xlwings/custom-functions-call", json=body("black", [[["C"]], [[60000]], [[55000], [-1]], [[0.25]], [[0.55]]])
    )
    assert ok.status_code == 200
    assert ok.json()["result"][1][0] == {"type": "Error", "errorType": "Num"}
    bad = client.post("/xlwings/custom-functions-call", json=body("fva", [[[950000]], [[5.263]], [[0]], [[90]], [["x"]]]))
    assert bad.status_code == 400 and "basis" in bad.text


def test_error_cell_in_an_input_propagates_to_its_own_cell():
    out = call("black", [[["C"]], [[60000]], [[55000], ["#N/A"]], [[0.25]], [[0.55]]])
    assert isinstance(out[0][0], float) and out[1][0] == {"type": "Error", "errorType": "NotAvailable"}
