"""The desktop add-in on a live market: ``CQ_MARKET("deribit...")`` names its snapshot and age,
and the ribbon's recalculation refreshes it (the Python side: the classic UDF module and
:func:`addin.clearquote.main` with Excel's application object replaced by a recorder).

The market is the local Deribit API v2 server (tests/live/deribit_server.py) with marks the test
moves; the add-in's UDF module is imported as on a desktop (no allow-list: the user's machine).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import udfs.live
from tests.live.conftest import FAST
from tests.live.deribit_server import DeribitTestServer

AGE = re.compile(r"snapshot ([0-9a-f]{12}) as of \S+ \S+Z, marks (\d+\.\d) s old at \S+Z")


@pytest.fixture
def desktop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(udfs.live.ENV, raising=False)
    monkeypatch.setattr(udfs.live, "LIMITS", FAST)
    yield
    udfs.live.close_all()
    from udfs.store import STORE

    STORE.clear()


def _fresh(spec: str, timeout: float = 30.0) -> None:
    """Open the source and wait for a snapshot with fresh marks: the first one carries the marks
    from before its cold fit (seconds), older than FAST's 1 s limit."""
    deadline = time.monotonic() + timeout
    while udfs.live.source(spec).current().age_s() > FAST.max_age_s / 2:
        assert time.monotonic() < deadline, "no fresh snapshot"
        time.sleep(0.05)


def _new_snapshot(spec: str, old: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while udfs.live.source(spec).current().snapshot_id == old:
        assert time.monotonic() < deadline, "no new snapshot after the marks moved"
        time.sleep(0.05)


def test_a_live_handle_names_its_snapshot_and_age_and_a_recalculation_takes_the_newest(
    server: DeribitTestServer, desktop: None
) -> None:
    from addin.excel import classic

    spec = f"deribit:{server.url}"
    _fresh(spec)
    h1 = classic.CQ_MARKET([[spec]])[0][0]
    m = AGE.search(h1)
    assert h1.startswith("CQ.MARKET#") and spec in h1 and m, h1
    assert 0.0 <= float(m.group(2)) <= FAST.max_age_s
    vol = [[["BTC"]], [[90000]], [["2026-03-27"]]]
    v1 = classic.CQ_VOL([[h1]], *vol)[0][0]
    server.move_marks("BTC", 3.0)
    # A recalculation until the vol moves: the moved marks are published at once on the slices
    # there are, and the refit of the expiry read follows behind (one expiry at a time, seconds on
    # a loaded machine), so the first new snapshot may still carry the old smile (seen: v2 == v1).
    deadline = time.monotonic() + 30
    while True:
        h2 = classic.CQ_MARKET([[spec]])[0][0]
        v2 = classic.CQ_VOL([[h2]], *vol)[0][0]
        if isinstance(v2, float) and v2 > v1:  # three vol points up
            break
        assert time.monotonic() < deadline, f"no snapshot carries BTC's move: {v2!r}, before {v1!r}"
        time.sleep(0.05)
    assert isinstance(v1, float) and h2 != h1 and AGE.search(h2).group(1) != m.group(1)
    # one snapshot per live spec per user in the store (issue 31: a stream stored one a second):
    # the old handle asks for a recalculation, never prices on the new snapshot under the old name
    old = classic.CQ_VOL([[h1]], *vol)[0][0]
    assert isinstance(old, str) and old.startswith("#VALUE!") and "recalculate" in old, old


def test_a_live_market_whose_marks_stop_is_refused_naming_the_age(server: DeribitTestServer, desktop: None) -> None:
    from addin.excel import classic

    spec = f"deribit:{server.url}"
    _fresh(spec)
    assert classic.CQ_MARKET([[spec]])[0][0].startswith("CQ.MARKET#")
    server.script.send_marks = False
    time.sleep(FAST.max_age_s + 0.5)
    out = classic.CQ_MARKET([[spec]])[0][0]
    assert re.fullmatch(rf"#VALUE! market: {re.escape(spec)} is stale: no marks received for \d+\.\d s \(limit 1 s\)", out), out


class _Excel:
    """Excel's application object as main() uses it; CalculateFull re-evaluates one cell."""

    def __init__(self, formula: Any) -> None:
        self.formula, self.value, self.status_bar = formula, None, ""
        self.imported: list[str] = []
        self.api = SimpleNamespace(Workbooks=lambda name: name, CalculateFull=self.calculate)

    def calculate(self) -> None:
        self.value = self.formula()


def test_the_ribbon_button_refreshes_live_handles_and_shows_their_age(
    server: DeribitTestServer, desktop: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xlwings as xw

    import addin.clearquote
    import addin.excel.ribbon
    from addin.excel import classic

    spec = f"deribit:{server.url}"
    _fresh(spec)
    excel = _Excel(lambda: classic.CQ_MARKET([[spec]])[0][0])
    monkeypatch.setattr(xw, "apps", SimpleNamespace(active=excel), raising=False)
    monkeypatch.setattr(xw, "import_udfs", lambda module, book: excel.imported.append(module), raising=False)
    addin.clearquote.main()
    first = excel.value
    assert excel.imported == [addin.excel.ribbon.UDF_MODULE] and AGE.search(first)
    assert f"live markets refreshed: {spec}: snapshot {AGE.search(first).group(1)}" in excel.status_bar
    server.move_marks("BTC", 1.0)
    _new_snapshot(spec, udfs.live.source(spec).current().snapshot_id)
    addin.clearquote.main()
    assert excel.value != first and AGE.search(excel.value).group(1) != AGE.search(first).group(1)
    assert re.search(r"marks \d+\.\d s old", excel.status_bar) and "STALE" not in excel.status_bar


def test_a_live_market_that_cannot_be_opened_is_not_tried_again_for_a_while(
    desktop: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead endpoint named by a cell (or a streaming cell looking every second) is refused with
    the first attempt's reason for ``RETRY_S`` seconds, not dialled again each time."""
    import pricing.desk.live
    from addin.excel import classic

    attempts: list[str] = []
    real = pricing.desk.live.open_live_source

    def counted(spec: str, **kw: Any) -> Any:
        attempts.append(spec)
        return real(spec, **kw)

    monkeypatch.setattr(pricing.desk.live, "open_live_source", counted)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"deribit:ws://127.0.0.1:{s.getsockname()[1]}/ws/api/v2"
    first = classic.CQ_MARKET([[dead]])[0][0]
    assert first.startswith("#VALUE! market: --market " + dead) and "connection refused" in first, first
    assert classic.CQ_MARKET([[dead]])[0][0] == first and len(attempts) == 1
    monkeypatch.setattr(udfs.live, "RETRY_S", 0.0)
    assert classic.CQ_MARKET([[dead]])[0][0].startswith("#VALUE! market: --market " + dead) and len(attempts) == 2
