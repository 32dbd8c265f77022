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
    from addin.excel.stream import STREAMS

    assert set(meta) == set(CATALOGUE) | set(STREAMS)
    for name, target in STREAMS.items():  # a streaming function takes the arguments of the function it streams
        assert meta[name]["options"]["stream"] is True
        assert [p["name"] for p in meta[name]["parameters"]] == [a.name for a in CATALOGUE[target].args]
        assert inspect.isasyncgenfunction(getattr(xl_server, name.lower()))
    for spec in CATALOGUE.values():
        params = meta[spec.name]["parameters"]
        assert [p["name"] for p in params] == [a.name for a in spec.args]
        assert [bool(p.get("optional")) for p in params] == [a.optional for a in spec.args]
        assert [p["description"] for p in params] == [a.doc for a in spec.args]
        assert inspect.iscoroutinefunction(getattr(xl_server, spec.name.lower()))  # every call off the event loop


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


TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The app ``clearquote serve`` runs (the Guard in front of xlwings Server), token auth on."""
    from addin.excel.serve import app
    from addin.excel.tokens import new_token

    tokens = tmp_path_factory.mktemp("auth") / "tokens"
    TOKENS.update(alice=new_token("alice", tokens), bob=new_token("bob", tokens))
    env = {"XLWINGS_SECRET_KEY": "test-only", "XLWINGS_AUTH_PROVIDERS": '["custom"]'}
    old = {k: os.environ.get(k) for k in [*env, "XLWINGS_PROJECT_DIR", "XLWINGS_FUNCTIONS_NAMESPACE", "CLEARQUOTE_TOKENS_FILE"]}
    os.environ.update(env)
    from fastapi.testclient import TestClient

    with TestClient(app(str(tokens))) as c:
        c.headers["Authorization"] = TOKENS["alice"]
        yield c
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_http_meta_and_manifest_namespace(client):
    meta = client.get("/xlwings/custom-functions-meta")
    from addin.excel.stream import STREAMS

    assert meta.status_code == 200 and {f["name"] for f in meta.json()["functions"]} == set(CATALOGUE) | set(STREAMS)
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


def test_anonymous_and_wrong_tokens_get_401(client):
    call_body = body("black", [[["C"]], [[60000]], [[55000]], [[0.25]], [[0.55]]])
    for headers in ({"Authorization": ""}, {"Authorization": "not-a-token"}, {"Authorization": TOKENS["alice"] + "x"}):
        r = client.post("/xlwings/custom-functions-call", json=call_body, headers=headers)
        assert r.status_code == 401, headers
    ok = client.post("/xlwings/custom-functions-call", json=call_body, headers={"Authorization": "Bearer " + TOKENS["bob"]})
    assert ok.status_code == 200


def test_unknown_function_wrong_arity_and_huge_arguments_are_4xx_without_echo(client):
    r = client.post("/xlwings/custom-functions-call", json=body("nope", []))
    assert r.status_code == 404 and "nope" in r.text
    r = client.post("/xlwings/custom-functions-call", json=body("black", [[["C"]]] * 9))
    assert r.status_code == 400 and r.text == "CQ.BLACK takes 5 to 7 arguments, got 9"
    big = [[["x" * 40]] * 10] * 0 + [[[1.0]] * 1_100_000]
    r = client.post("/xlwings/custom-functions-call", json=body("black", [[["C"]], *big, [[55000]], [[0.25]], [[0.55]]]))
    assert r.status_code == 413 and len(r.text) < 100
    secret = "S" * 200_000
    r = client.post("/xlwings/custom-functions-call", json=body("fva", [[[950000]], [[0.05]], [[0]], [[90]], [[secret]]]))
    assert r.status_code == 400 and len(r.text) <= 300 and secret not in r.text


def test_a_users_handles_are_invisible_to_another_user(client):
    made = client.post("/xlwings/custom-functions-call", json=body("market", [[["bundled"]]]))
    handle = made.json()["result"][0][0]
    assert handle.startswith("CQ.MARKET#")
    vol = body("vol", [[[handle]], [["BTC"]], [[100000]], [[46381]]])
    assert isinstance(client.post("/xlwings/custom-functions-call", json=vol).json()["result"][0][0], float)
    other = client.post("/xlwings/custom-functions-call", json=vol, headers={"Authorization": TOKENS["bob"]})
    assert other.status_code == 400 and "is not in this Python session" in other.text  # shown on bob's cell, not retried
    listing = client.post("/xlwings/custom-functions-call", json=body("handles", []), headers={"Authorization": TOKENS["bob"]})
    assert handle.split(" ")[0] not in str(listing.json())


def test_costly_calls_go_to_a_worker_process_and_handle_calls_stay_in_the_server():
    import json

    from addin.excel import pool
    from addin.excel.calls import parse

    strikes = [[40_000.0 + i] for i in range(25_000)]
    args = [[["C"]], [[60000]], strikes, [[0.25]], [[0.55]]]

    def admitted(name: str, a: list) -> object:
        return parse(json.dumps(body(name, a)).encode())

    assert pool.offload(admitted("black", args)) == "bulk"
    book = [["instrument", "quantity"], ["BTC-PERPETUAL", 1]]
    assert pool.offload(admitted("im", [book, [["bundled"]]])) == "heavy"  # its own lane: never behind a column
    assert not pool.offload(admitted("black", [[["C"]], [[60000]], strikes[:10], [[0.25]], [[0.55]]]))  # light
    assert not pool.offload(admitted("VOL", [[["CQ.MARKET#0123"]], *args[1:4]]))  # a handle lives in this process
    assert not pool.offload(admitted("vol", [[[{"type": "Entity", "basicValue": "cq.market#0123"}]], *args[1:4]]))
    assert not pool.offload(admitted("Market", [strikes]))  # a handle maker
    assert not pool.offload(admitted("handles", []))  # lists this process's handles
    out = call("black", args)
    assert len(out) == 25_000 and out[100][0] == pytest.approx(udfs.CQ_BLACK("C", 60000, 40_100.0, 0.25, 0.55)[0][0], rel=1e-12)


def test_a_large_call_is_answered_off_xlwings_servers_loop_as_xlwings_server_would(client):
    """Over 20,000 cells: authenticated, run in a worker process and answered by the guard; the
    answer is the one xlwings Server gives for the same call (error cells as Office.js errors)."""
    strikes = [[40_000.0 + i] for i in range(25_000)]
    strikes[7] = ["abc"]
    strikes[9] = [-1.0]
    big = body("black", [[["C"]], [[60000]], strikes, [[0.25]], [[0.55]]])
    r = client.post("/xlwings/custom-functions-call", json=big)
    assert r.status_code == 200
    got = r.json()["result"]
    assert len(got) == 25_000 and got[100][0] == pytest.approx(udfs.CQ_BLACK("C", 60000, 40_100.0, 0.25, 0.55)[0][0], rel=1e-12)
    assert got[7][0] == {"type": "Error", "errorType": "Value"} and got[9][0] == {"type": "Error", "errorType": "Num"}
    small = client.post(
        "/xlwings/custom-functions-call", json=body("black", [[["C"]], [[60000]], strikes[:20], [[0.25]], [[0.55]]])
    )
    assert small.json()["result"] == got[:20]  # the same answer as xlwings Server's own path
    assert client.post("/xlwings/custom-functions-call", json=big, headers={"Authorization": "nope"}).status_code == 401
    bad = body("black", [[["C"]], [[60000]], strikes, [[0.25]], [[0.55]], [[0]], [["bogus"]]])
    r = client.post("/xlwings/custom-functions-call", json=bad)
    assert r.status_code == 400 and "settle" in r.text and len(r.text) <= 300


@pytest.mark.parametrize(
    "func_name,args",
    [
        ("black", [[["C"], ["P"], ["x"]], [[60000]], [[55000], [""], ["#N/A"]], [[0.25]], [[0.55]]]),
        ("black_greeks", [[["C"]], [[60000]], [[55000]], [[0.25]], [[0.55]]]),
        ("instrument", [[["BTC-25SEP26-80000-C"], ["nonsense"], [""]]]),
        ("version", []),
        ("fva", [[[950000]], [[0.05]], [[0]], [[90]]]),
        ("implied_vol", [[[5000.0], [True]], [["C"]], [[60000]], [[55000]], [[0.25]]]),
    ],
)
def test_the_guard_answers_every_call_as_xlwings_server_would(client, func_name, args):
    """The guard answers calls itself (xlwings Server's conversion costs ~57 us a cell on the
    event loop); its answer must equal xlwings Server's own for the same body."""
    theirs = call(func_name, args)
    ours = client.post("/xlwings/custom-functions-call", json=body(func_name, args))
    assert ours.status_code == 200 and ours.json()["result"] == theirs
