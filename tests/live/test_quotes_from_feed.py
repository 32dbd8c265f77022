"""Must show (issue 31): quotes from a live Deribit API v2 endpoint equal quotes from the same chain as a file;
a dead endpoint is exit 2 within 10 s naming it.

The endpoint is tests/live/deribit_server.py serving the bundled 2025-12-31 BTC and ETH chains; the
file is the same two CSVs concatenated. Both go through the desk service (``open_market``): the file
by ``build_snapshot``, the feed by its own chain and refit keeper, whose first fit is
``build_surface`` itself (tests/live/test_refit.py). The server sends no mark updates here, so the
quote is on the venue's book summary: its per-option forwards and index are the file's, where a
futures ticker would move every option of that expiry to one forward. Tolerance 1e-9 relative and
absolute: the chains are equal, so what is left is float order, far below it.
"""

from __future__ import annotations

import csv
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from addin.cli import main
from tests.live.deribit_server import DATA, DeribitTestServer

RFQS = (
    "rfq_id,instrument,side,quantity\n"
    "R1,BTC-27MAR26-90000-C,two-way,10\n"
    "R2,BTC-27MAR26-80000-P,sell,5\n"
    "R3,ETH-27MAR26-1400-P,buy,50\n"
)


def _file_market(tmp_path: Path) -> Path:
    lines = (DATA / "deribit_btc_chain_20251231.csv").read_text().splitlines()
    lines += (DATA / "deribit_eth_chain_20251231.csv").read_text().splitlines()[1:]
    path = tmp_path / "both_20251231.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _numbers(path: Path) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(path.open(encoding="utf-8")))
    header = rows[0]
    cols = [i for i, h in enumerate(header) if h not in ("rfq_id", "instrument", "side")]
    return [header[i] for i in cols], np.array([[float(r[i]) if r[i] else np.nan for i in cols] for r in rows[1:]])


def test_quotes_from_the_feed_equal_quotes_from_the_file(tmp_path: Path, server: DeribitTestServer, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script.send_marks = False
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text(RFQS)
    assert main(["quote", str(rfqs), "--market", str(_file_market(tmp_path)), "-o", str(tmp_path / "file.csv")]) == 0
    assert main(["quote", str(rfqs), "--market", f"deribit:{server.url}", "-o", str(tmp_path / "feed.csv")]) == 0
    printed = capsys.readouterr().out
    assert f"market deribit:{server.url} #" in printed and "snapshot " in printed
    names_f, file_q = _numbers(tmp_path / "file.csv")
    names_l, live_q = _numbers(tmp_path / "feed.csv")
    assert names_f == names_l and file_q.shape == live_q.shape == (3, len(names_f))
    assert np.isfinite(file_q).sum() > 20
    np.testing.assert_allclose(live_q, file_q, rtol=1e-9, atol=1e-9)


def _cli(*args: str) -> tuple[int, str, float]:
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "addin.cli", *args], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2]
    )
    return out.returncode, out.stderr, time.monotonic() - t0


def test_a_refused_endpoint_is_exit_2_within_10_s_naming_it(tmp_path: Path) -> None:
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text(RFQS)
    with socket.socket() as s:  # a port nobody listens on any more
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/ws/api/v2"
    code, err, seconds = _cli("quote", str(rfqs), "--market", f"deribit:{url}")
    assert code == 2 and seconds < 10, (code, seconds, err)
    assert url in err and "connection refused" in err and "Traceback" not in err


def test_an_endpoint_that_never_answers_is_exit_2_within_10_s_naming_it(tmp_path: Path) -> None:
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text(RFQS)
    with socket.socket() as s:  # accepts TCP connections (the kernel's backlog) but never speaks
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        url = f"ws://127.0.0.1:{s.getsockname()[1]}/ws/api/v2"
        code, err, seconds = _cli("quote", str(rfqs), "--market", f"deribit:{url}")
    assert code == 2 and seconds < 10, (code, seconds, err)
    assert url in err and "Traceback" not in err


def test_a_server_that_is_not_deribit_is_exit_2(tmp_path: Path) -> None:
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text(RFQS)
    with DeribitTestServer() as srv:
        bad = srv.url.replace("/ws/api/v2", "/elsewhere")
        assert main(["quote", str(rfqs), "--market", f"deribit:{bad}"]) == 2


def test_a_server_that_stops_sending_marks_makes_the_desk_refuse_as_stale_naming_the_age(server: DeribitTestServer) -> None:
    """The desk service on a live source: quotes while marks flow; refusals naming the age once they stop."""
    from pricing.desk import Book, Desk, DeskConfig, Leg, RefusalCode, RfqRequest
    from pricing.desk.live import open_live_source
    from tests.live.conftest import FAST

    desk = Desk(
        open_live_source(f"deribit:{server.url}", limits=FAST), Book.empty(), DeskConfig.from_mapping({"model": "deribit"})
    )
    try:
        request = RfqRequest((Leg("BTC-27MAR26-90000-C"),), "buy", 10.0)
        end = time.monotonic() + 10
        while desk.snapshot().age_s() > 0.5:  # the first cold fit of every expiry takes seconds; then it keeps up
            assert time.monotonic() < end
            time.sleep(0.05)
        fresh = desk.quote([request])
        assert fresh.refusals == (None,) and fresh.table.base.size == 1
        server.script.send_marks = False
        time.sleep(FAST.max_age_s + 0.5)
        stale = desk.quote([request])
        (refusal,) = [r for r in stale.refusals if r is not None]
        assert refusal.code is RefusalCode.STALE_MARKET
        assert re.search(r"market stale: no marks received for 1\.\d s \(limit 1 s\)", refusal.text), refusal.text
    finally:
        desk.close()
