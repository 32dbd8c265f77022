"""Batch commands on a Dask cluster equal the local run: a LocalCluster of 2 worker processes on 127.0.0.1.

Each command runs twice, in this process and with ``--scheduler`` on the cluster, on the same
inputs; the outputs must be equal (bit for bit: every partition prices each trade or book on its
own, and the fused kernels are deterministic). A worker killed mid-run costs a retry, not the
result; a task whose worker keeps dying fails the run with the task named; a scheduler address
where nothing listens is refused within seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the 'cluster' extra (dask.distributed) is not installed")

from addin.cli import main  # noqa: E402 - after the skip
from addin.cli.cluster import run_tasks  # noqa: E402
from addin.cli.errors import ClusterError  # noqa: E402

BOOK = "instrument,quantity\nBTC-25SEP26-65000-C,-20\nBTC-25SEP26-60000-P,10\nETH-25SEP26-3000-C,-50\nBTC-25DEC26-80000-C,5\n"


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A scheduler and two nanny-supervised worker processes, started as a user starts them (``dask scheduler``,
    ``dask worker``), not a ``LocalCluster`` object.

    Why not ``LocalCluster``: two tests here kill workers on purpose, and ``SpecCluster``'s worker-status watcher
    can then raise ``KeyError`` on close for a worker it never saw added (dask/distributed#5407) - an error of the
    test harness, not of the product. The product only ever sees a scheduler address (``--scheduler``).
    """
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]  # the interpreter running the tests, whatever its bin folder is called
    root = Path(__file__).resolve().parents[2]  # the workers unpickle this module's task functions by name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
    # each in a process group of its own: the nanny's worker processes (and a worker it restarted
    # after a test killed one) are its children, and must end with it (_end_group)
    common: dict[str, Any] = {
        "cwd": folder,
        "env": env,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": True,
    }
    sched = subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info)], **common
    )
    workers = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = subprocess.Popen(
            [*dask, "worker", "--nworkers", "2", "--nthreads", "1", "--no-dashboard", "--scheduler-file", str(info)],
            **common,
        )
        with distributed.Client(scheduler_file=str(info), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield client.scheduler.address, client
    finally:
        for proc in (workers, sched):
            if proc is not None:
                _end_group(proc)


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc`` and every process of its group (a session leader's group is its pid): SIGTERM
    (a nanny closes its workers), then SIGKILL to what is left after 30 s; waits until none is left.

    Killing the ``dask worker`` process alone left its workers behind, reparented to init (the
    session-end check in tests/conftest.py names such a process)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:  # each goes, reaped by init
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still alive (signal 0 checks without sending)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.csv"
    path.write_text(BOOK)
    return path


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


def test_im_universe_on_the_cluster_equals_the_local_run(scheduler, book: Path, tmp_path: Path, capsys) -> None:
    address, _ = scheduler
    args = ["im-universe", "--portfolio", str(book), "--sizes", "1,7", "--block", "300", "--top", "3"]
    assert _run(capsys, [*args, "-o", str(tmp_path / "local.csv")])[0] == 0
    assert _run(capsys, [*args, "-o", str(tmp_path / "cluster.csv"), "--scheduler", address])[0] == 0
    local = (tmp_path / "local.csv").read_text()
    assert local == (tmp_path / "cluster.csv").read_text() and local.count("\n") > 3_000


def test_quote_of_a_large_rfq_file_on_the_cluster_equals_the_local_run(scheduler, book: Path, tmp_path: Path, capsys) -> None:
    from pricing.chain import load_bundled_chain

    address, _ = scheduler
    names = [n for n in load_bundled_chain("BTC", "2026-08-21").names if "25SEP26" in n or "25DEC26" in n]
    rng = np.random.default_rng(4)
    rows = ["instrument,side,quantity"] + [
        f"{names[int(i)]},{('buy', 'sell', 'two-way')[j % 3]},{1 + j % 9}" for j, i in enumerate(rng.integers(0, len(names), 240))
    ]
    rows.append("BTC-1JAN20-50000-C,buy,1")  # a refused row stays refused, in its place
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text("\n".join(rows) + "\n")
    args = ["quote", str(rfqs), "--portfolio", str(book)]
    c1, out1 = _run(capsys, [*args, "-o", str(tmp_path / "local.csv")])
    c2, out2 = _run(capsys, [*args, "-o", str(tmp_path / "cluster.csv"), "--scheduler", address, "--block", "50"])
    assert c1 == c2 == 1  # the expired row
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "cluster.csv").read_bytes()
    assert out1.replace("cluster.csv", "local.csv") == out2.replace("cluster.csv", "local.csv")


def test_recalc_and_validate_of_many_books_on_the_cluster_equal_the_local_run(scheduler, tmp_path: Path, capsys) -> None:
    import openpyxl

    address, _ = scheduler
    src = Path(__file__).resolve().parents[2] / "workbooks"
    for where in ("local", "cluster"):
        (tmp_path / where).mkdir()
        for name in ("seed_example.xlsx", "margin_lab.xlsx"):
            shutil.copy(src / name, tmp_path / where / name)
    books = lambda where: [str(tmp_path / where / n) for n in ("seed_example.xlsx", "margin_lab.xlsx")]  # noqa: E731
    assert _run(capsys, ["recalc", *books("local"), "-q"])[0] == 0
    assert _run(capsys, ["recalc", *books("cluster"), "-q", "--scheduler", address])[0] == 0
    for name in ("seed_example-recalc.xlsx", "margin_lab-recalc.xlsx"):
        a = openpyxl.load_workbook(tmp_path / "local" / name, data_only=True)
        b = openpyxl.load_workbook(tmp_path / "cluster" / name, data_only=True)
        for ws in a.worksheets:
            assert [[c.value for c in r] for r in ws.iter_rows()] == [[c.value for c in r] for r in b[ws.title].iter_rows()]
    c1, out1 = _run(capsys, ["validate", *books("local"), "-q"])
    c2, out2 = _run(capsys, ["validate", *books("local"), "-q", "--scheduler", address])
    assert c1 == c2 and out1 == out2 and "match" in out1


def test_backtests_on_the_cluster_equal_the_local_run(scheduler, book: Path, capsys) -> None:
    address, _ = scheduler
    args = ["backtest", str(book), "--model", "hvar,span", "--json", "-q"]
    c1, out1 = _run(capsys, args)
    c2, out2 = _run(capsys, [*args, "--scheduler", address])
    assert c1 == c2 == 0 and [json.loads(x) for x in out1.splitlines()] == [json.loads(x) for x in out2.splitlines()]


def _dies_once(x: int, marker_dir: str) -> int:
    marker = Path(marker_dir) / f"died-{x}"
    if x == 3 and not marker.exists():
        marker.write_text("once")
        os._exit(1)  # the worker process dies mid-task
    return x * x


def _always_dies(x: int) -> int:
    os._exit(1)


def test_a_killed_worker_costs_a_retry_not_the_result(scheduler, tmp_path: Path) -> None:
    _, client = scheduler
    assert run_tasks(client, _dies_once, list(range(6)), str(tmp_path), label="square") == [x * x for x in range(6)]
    assert (tmp_path / "died-3").exists()


def test_a_task_that_keeps_killing_its_worker_fails_the_run_naming_it(scheduler) -> None:
    _, client = scheduler
    with pytest.raises(ClusterError, match=r"doomed 0 failed on the cluster: KilledWorker"):
        run_tasks(client, _always_dies, [0], label="doomed")
    client.wait_for_workers(2, timeout=60)  # the nannies bring the workers back for the other tests


def test_a_bad_scheduler_address_is_refused_within_seconds(book: Path, capsys) -> None:
    t0 = time.monotonic()
    code = main(["im-universe", "--portfolio", str(book), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2 and time.monotonic() - t0 < 20
    err = capsys.readouterr().err
    assert "tcp://127.0.0.1:9" in err and "no scheduler answered" in err


def test_a_local_cluster_of_worker_processes(book: Path, tmp_path: Path, capsys) -> None:
    args = ["im-universe", "--portfolio", str(book), "--underlying", "ETH", "--top", "2"]
    assert _run(capsys, [*args, "-o", str(tmp_path / "a.csv")])[0] == 0
    assert _run(capsys, [*args, "-o", str(tmp_path / "b.csv"), "--workers", "2"])[0] == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    with pytest.raises(SystemExit) as stop:  # refused while the arguments are parsed, before any market is built
        main(["im-universe", "--portfolio", str(book), "--workers", "0"])
    assert stop.value.code == 2
