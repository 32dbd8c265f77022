"""The JavaScript Excel runs: the custom-functions code xlwings Server serves, executed in Node
with Microsoft's office-addin-mock for the Office, Excel and CustomFunctions globals, against a
live ``clearquote serve`` app on 127.0.0.1 (token auth on).

Node 20 and the pinned npm lock (``tests/host/js/package-lock.json``) are installed by the
README's test command (``npm ci --prefix tests/host/js``); CI sets ``CI=true``, which turns a
missing Node or ``node_modules`` into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.host.serverkit import live

JS = Path(__file__).resolve().parent / "js"
NODE = shutil.which("node")


def _require_node() -> str:
    if NODE is None or not (JS / "node_modules" / "office-addin-mock").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "node or tests/host/js/node_modules missing: the README's test command runs `npm ci --prefix tests/host/js`"
            )
        pytest.skip("node and `npm ci --prefix tests/host/js` are needed (the README's test command installs them)")
    return NODE


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    node = _require_node()

    from addin.excel.serve import app
    from addin.excel.tokens import new_token

    tokens = tmp_path_factory.mktemp("auth") / "tokens"
    token = new_token("desk", tokens)
    os.environ.setdefault("XLWINGS_SECRET_KEY", "test-only")
    guarded = app(str(tokens))
    with live(guarded, lifespan="auto", keep_alive_s=5) as port:
        yield node, f"http://127.0.0.1:{port}", token


def _run(server, steps):  # type: ignore[no-untyped-def]
    node, url, token = server
    proc = subprocess.run(
        [node, str(JS / "harness.js"), url, token, json.dumps(steps)], capture_output=True, text=True, timeout=180, cwd=JS
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_served_javascript_prices_per_cell_errors_bad_enums_and_refuses_anonymous_calls(server) -> None:  # type: ignore[no-untyped-def]
    import udfs

    black = [[["C"]], [[60000]], [[55000], ["abc"], [-1]], [[0.25]], [[0.55]]]
    steps = [
        {"fn": "BLACK", "args": black},
        {"fn": "BLACK", "args": [*black, [[0]], [["bogus"]]]},
        {"fn": "BLACK", "args": black, "token": ""},
    ]
    out = _run(server, steps)
    from addin.excel.stream import STREAMS

    # every catalogue function and every streaming function registered by the served code
    assert out["associated"] == len(udfs.CATALOGUE) + len(STREAMS)
    ok, bad_enum, anonymous = out["steps"]
    assert ok["requests"] == 1 and ok["result"][0][0] == pytest.approx(
        udfs.CQ_BLACK("C", 60000, 55000, 0.25, 0.55)[0][0], rel=1e-12
    )
    # per-cell errors arrive as Excel error values in their own cells
    assert ok["result"][1][0] == {"type": "Error", "errorType": "Value"}
    assert ok["result"][2][0] == {"type": "Error", "errorType": "Num"}
    # a bad enum is shown on the cell with the reason, and not retried (400 is not a retry code)
    # The reason names the field and the allowed values, never the cell's own text (the server does not echo input).
    assert bad_enum["requests"] == 1 and "settle: (the cell's text) is not one of linear" in bad_enum["error"]
    assert "bogus" not in bad_enum["error"]
    # no token: 401, shown, not retried
    assert anonymous["requests"] == 1 and "valid token" in anonymous["error"]
