"""Without numba the numpy path runs alone, and the CLI says so in one line (issue 7)."""

from __future__ import annotations

import subprocess
import sys

from scipy.special import ndtr

from pricing import accel

_BLOCK_NUMBA = "import sys; sys.modules['numba'] = None; "


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCK_NUMBA + code], capture_output=True, text=True, timeout=300)


def test_engine_runs_without_numba() -> None:
    proc = _run(
        "from pricing import accel; from pricing.black import black76_price; "
        "print(accel.backend(), float(black76_price(1, 100.0, 100.0, 1.0, 0.2)))"
    )
    assert proc.returncode == 0, proc.stderr
    backend, price = proc.stdout.split()
    assert backend == "numpy"
    # At the money with s = vol sqrt(T) = 0.2: d1 = 0.1 = -d2, so V = 100 (2 N(0.1) - 1).
    assert abs(float(price) - 100.0 * (2.0 * ndtr(0.1) - 1.0)) < 1e-12


def test_cli_prints_one_line_notice_without_numba(tmp_path) -> None:
    proc = _run("from addin.cli import main; raise SystemExit(main(['xva-example']))")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "numba" in line]
    assert lines == [accel.NOTICE]


def test_numba_forced_without_numba_is_a_named_error() -> None:
    proc = _run(
        "import os; os.environ['CLEARQUOTE_KERNELS'] = 'numba'; from pricing.black import black76_price; black76_price(1, 1.0, 1.0, 1.0, 0.2)"
    )
    assert proc.returncode != 0
    assert "CLEARQUOTE_KERNELS: 'numba' asked for, but numba is not installed" in proc.stderr


def test_using_restores_the_previous_choice() -> None:
    before = accel.backend()
    with accel.using("numpy"):
        assert accel.backend() == "numpy"
    assert accel.backend() == before
