"""``clearquote bench ARGS...`` (issue 33): runs the checkout's ``python -m bench`` with its exit code,
never imports the benchmarks into the command line's process, and without a checkout exits 2
naming what is missing and what to run (the host's contract: exit codes of addin.cli.output.Exit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from addin.cli.bench import cmd_bench, locate

ROOT = Path(__file__).resolve().parents[2]


def test_the_checkout_is_found_and_its_bench_runs_with_its_exit_code() -> None:
    assert locate() == ROOT
    ok = subprocess.run(
        [sys.executable, "-m", "addin.cli", "bench", "kernels", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ok.returncode == 0 and "--profile" in ok.stdout and "--json" in ok.stdout, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "addin.cli", "bench", "no-such-bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 2 and "invalid choice: 'no-such-bench'" in bad.stderr


def test_found_from_another_folder_through_the_installation(tmp_path: Path) -> None:
    """Run from an unrelated folder, the checkout of the running clearquote is used."""
    done = subprocess.run(
        [sys.executable, "-m", "addin.cli", "bench", "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 and "kernels" in done.stdout, done.stderr


def test_without_a_checkout_it_exits_2_naming_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An installation without the checkout (a folder with no bench package beside pricing, or a
    bench folder that is not ours): exit 2 and a message naming the package and the command to run."""
    (tmp_path / "elsewhere" / "bench").mkdir(parents=True)  # a 'bench' that is not the checkout's
    (tmp_path / "elsewhere" / "bench" / "__init__.py").write_text("")
    assert locate([tmp_path, tmp_path / "elsewhere"]) is None
    assert cmd_bench(["kernels", "--json"], [tmp_path, tmp_path / "elsewhere"]) == 2
    err = capsys.readouterr().err
    assert "bench/ package" in err and "pip install -e '.[test]'" in err and "clearquote bench kernels --json" in err
    assert str(tmp_path) in err and "Traceback" not in err


def test_the_command_line_never_imports_the_benchmarks() -> None:
    """The benchmarks run in a child: the host's process has no ``bench`` module afterwards (a fresh
    interpreter, so no other test's import can hide one)."""
    code = "import sys; from addin.cli import main; rc = main(['bench', '--help']); print(rc, 'bench' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 False"
