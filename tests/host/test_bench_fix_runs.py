"""``python -m bench fix`` runs both of its halves end to end on a few requests (a smoke run, not a
timing: its figures are not checked). Its desk-alone half called a ``Desk.quote`` the gateway's desk
no longer has, and nothing ran it until a benchmark was wanted; this keeps the benchmark's code on
the current desk API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_fix_runs_its_fix_and_desk_alone_halves() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "fix", "--requests", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "FIX request to Quote" in run.stdout and "desk alone (no FIX/journal)" in run.stdout, run.stdout
