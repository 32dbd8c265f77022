"""Record and replay: a recording of the local Deribit API v2 server replays through the same client
code (a loopback server fed from the file), to the same chains and the same quotes; a cut file
(a crash while recording) still replays up to its last whole line; a file that is not a recording
is refused naming it."""

from __future__ import annotations

import csv
import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from addin.cli import main
from pricing.desk.live import FeedError, open_live_source
from pricing.desk.live.record import read_recording
from pricing.errors import DataError, PricingInputError
from tests.live.conftest import FAST
from tests.live.deribit_server import DeribitTestServer
from tests.live.test_quotes_from_feed import RFQS


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.2 s of the server recorded by the command."""
    path = tmp_path_factory.mktemp("rec") / "feed.jsonl.gz"
    with DeribitTestServer() as server:
        server.script.marks_every_s = 0.1
        assert main(["feed", "record", "--market", f"deribit:{server.url}", "--to", str(path), "--seconds", "1.2"]) == 0
        # a second recording run is refused: recordings are never overwritten
        assert main(["feed", "record", "--market", f"deribit:{server.url}", "--to", str(path), "--seconds", "1"]) == 2
    return path


def test_a_recording_holds_every_frame_with_its_time(recording: Path) -> None:
    rec = read_recording(recording)
    assert rec.meta["currencies"] == ["BTC", "ETH"] and not rec.truncated
    ins = [f for f in rec.frames if f.direction == "in"]
    outs = [f for f in rec.frames if f.direction == "out"]
    assert len(outs) >= 6 and len(ins) > 20
    assert all(b.t >= a.t for a, b in zip(rec.frames, rec.frames[1:]))


def test_a_replay_gives_the_same_quotes_as_the_live_endpoint(tmp_path: Path) -> None:
    """No mark updates (as in test_quotes_from_feed): both quote on the venue's book summary."""
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text(RFQS)
    path = tmp_path / "quiet.jsonl.gz"
    with DeribitTestServer() as server:
        server.script.send_marks = False
        assert main(["feed", "record", "--market", f"deribit:{server.url}", "--to", str(path), "--seconds", "0.5"]) == 0
        assert main(["quote", str(rfqs), "--market", f"deribit:{server.url}", "-o", str(tmp_path / "live.csv")]) == 0
    assert main(["quote", str(rfqs), "--market", f"replay:{path}@max", "-o", str(tmp_path / "replay.csv")]) == 0
    live = list(csv.reader((tmp_path / "live.csv").open()))
    replay = list(csv.reader((tmp_path / "replay.csv").open()))
    assert live == replay and len(live) == 4  # the same snapshot content, the same text


def test_a_replay_plays_the_recorded_marks_through_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "moved.jsonl.gz"
    with DeribitTestServer() as server:
        server.script.marks_every_s = 0.05
        from pricing.desk.live.record import Recorder

        rec = Recorder(path, "test", ("BTC", "ETH"))
        with open_live_source(f"deribit:{server.url}", limits=FAST, recorder=rec, fit=False) as src:
            base = src.current().chains["BTC"].mark_iv.copy()
            server.move_marks("BTC", 2.0)
            end = time.monotonic() + 5
            while not np.allclose(src.current().chains["BTC"].mark_iv, base + 0.02, atol=1e-12):
                assert time.monotonic() < end
                time.sleep(0.02)
            time.sleep(0.2)
        rec.close()
    with open_live_source(f"replay:{path}@max", limits=FAST, fit=False) as replay:
        first = replay.current()
        np.testing.assert_array_equal(first.chains["BTC"].mark_iv, base)  # snapshot 1 is the recorded book summary
        end = time.monotonic() + 10
        while not np.allclose(replay.current().chains["BTC"].mark_iv, base + 0.02, atol=1e-12):
            assert time.monotonic() < end, "the replay did not reach the recorded marks"
            time.sleep(0.02)
        assert replay.current().snapshot_id > first.snapshot_id and "replay:moved.jsonl.gz@max" == replay.current().source


def test_a_cut_recording_replays_up_to_its_last_whole_line(tmp_path: Path, recording: Path) -> None:
    raw = gzip.decompress(recording.read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(raw)[: int(len(gzip.compress(raw)) * 0.8)])  # a crash mid-write
    rec = read_recording(cut)
    assert rec.truncated and 0 < len(rec.frames) < len(read_recording(recording).frames)
    with open_live_source(f"replay:{cut}@max", limits=FAST, fit=False) as replay:
        assert set(replay.current().chains) == {"BTC", "ETH"}


def test_what_is_not_a_recording_is_refused_naming_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text("hello")
    with pytest.raises(FeedError, match=r"plain\.jsonl\.gz: not a gzip-compressed recording"):
        open_live_source(f"replay:{plain}", limits=FAST, fit=False)
    other = tmp_path / "other.jsonl.gz"
    other.write_bytes(gzip.compress(b'{"t": 1, "dir": "in", "frame": "{}"}\n'))
    with pytest.raises(FeedError, match="no header line"):
        open_live_source(f"replay:{other}", limits=FAST, fit=False)
    with pytest.raises(PricingInputError, match="speed"):
        open_live_source(f"replay:{other}@fast")
    assert issubclass(FeedError, DataError)


def test_feed_record_refuses_a_replay_or_a_file(tmp_path: Path) -> None:
    assert main(["feed", "record", "--market", "bundled", "--to", str(tmp_path / "x.gz")]) == 2
    assert main(["feed", "record", "--market", "deribit:ws://127.0.0.1:1/ws/api/v2", "--to", str(tmp_path / "no" / "x.gz")]) == 2
