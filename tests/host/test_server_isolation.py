"""Isolation as a property of the server: two users through every path never see each other's
handles or data (issue 28: a body padded over 256 KB once listed another user's handle and
read its market through the worker path).

Paths driven: in process (xlwings Server's own), the large-body path (parsed in a worker),
the costly path (heavy functions run in a worker), handle makers, and a handle hidden in an
Office.js cell object. And the worker's own checks, called directly in a worker process.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from tests.host.serverkit import body, environment, make_tokens

CALL = "/xlwings/custom-functions-call"
PAD = "x" * 300_000  # pushes a body over the large-body threshold (256 KB)
HANDLE = re.compile(r"CQ\.MARKET#[0-9a-f]+", re.I)
BOOK = [["instrument", "quantity"], ["BTC-25SEP26-80000-C", 10], ["BTC-PERPETUAL", -2]]


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    from fastapi.testclient import TestClient

    from addin.excel.serve import app

    path = tmp_path_factory.mktemp("auth") / "tokens"
    tokens = make_tokens(path, "alice", "bob")
    with environment(path), TestClient(app(str(path))) as client:

        def post(user: str, name: str, args: list, pad: bool = False):
            extra = {"pad": PAD} if pad else {}
            return client.post(CALL, json=body(name, args, **extra), headers={"Authorization": tokens[user]})

        yield post


def handles_seen(text: str) -> set[str]:
    return {h.lower() for h in HANDLE.findall(text)}


@pytest.mark.parametrize("pad", [False, True], ids=["in-process", "large-body"])
def test_two_users_never_see_each_others_handles_or_data(users, pad):
    post = users
    # alice makes a market on her own chain date; bob never makes that one
    made = post("alice", "market", [[["bundled:2025-12-31"]]], pad)
    assert made.status_code == 200, made.text
    handle = made.json()["result"][0][0].split(" ")[0]
    info = post("alice", "market_info", [[[handle]]], pad)
    assert info.status_code == 200 and len(info.json()["result"]) > 2
    # alice's costly (worker) call builds objects in the worker process in her scope
    assert post("alice", "im", [BOOK, [["bundled"]], [["span"]]], pad).status_code == 200

    listing = post("bob", "handles", [], pad)
    assert listing.status_code == 200 and not handles_seen(listing.text)
    for cell in (handle, handle.lower(), f"  {handle} BTC", {"type": "Entity", "text": "m", "basicValue": handle}):
        r = post("bob", "market_info", [[[cell]]], pad)
        assert r.status_code == 400 and "not in this Python session" in r.text, r.text
        r = post("bob", "vol", [[[cell]], [["BTC"]], [[100000]], [[46381]]], pad)
        assert r.status_code == 400 and "forward" not in r.text.lower()
    # and alice still has hers: bob's calls evicted nothing of hers
    mine = post("alice", "handles", [], pad)
    assert handle.lower() in handles_seen(mine.text)
    assert post("alice", "vol", [[[handle]], [["BTC"]], [[100000]], [[46300]]], pad).status_code == 200


def test_the_worker_checks_every_handle_operation_as_its_user():
    """Worker processes have their own store, scoped as in process: run make, read and list
    there directly (one worker, so both users share its store)."""
    from addin.excel import pool

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as worker:
        ok, made = worker.submit(pool.run, "MARKET", ("bundled:2025-12-31",), "alice").result()
        assert ok
        handle = made[0][0].split(" ")[0]
        ok, theirs = worker.submit(pool.run, "HANDLES", (), "bob").result()
        assert ok and not handles_seen(json.dumps(theirs))
        ok, why = worker.submit(pool.run, "MARKET_INFO", (handle,), "bob").result()
        assert not ok and "not in this Python session" in why
        ok, info = worker.submit(pool.run, "MARKET_INFO", (handle,), "alice").result()
        assert ok and len(info) > 2
        ok, mine = worker.submit(pool.run, "HANDLES", (), "alice").result()
        assert ok and handle.lower() in handles_seen(json.dumps(mine))


def test_the_worker_answers_a_handle_call_never_itself():
    """A call that makes, reads or lists a handle is sent back to the server process (status 0),
    even with the handle inside an Office.js cell object."""
    from addin.excel import pool
    from tests.host.serverkit import raw

    for name, args in (
        ("market", [[["bundled"]]]),
        ("HANDLES", []),
        ("market_info", [[[{"type": "Entity", "basicValue": "cq.market#00ff"}]]]),
        ("vol", [[["  CQ.MARKET#00ff x"]], [["BTC"]], [[1.0]], [[46381]]]),
    ):
        assert pool.answer(raw(name, args), "bob")[0] == 0
