"""Shared fixtures: the source article's second example on a flat 65% BTC (and 75% ETH) market."""

import os
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import settings

from pricing.daycount import utc
from pricing.instruments import FutureContract, OptionContract
from pricing.market import Market
from pricing.portfolio import from_contracts
from pricing.surface import flat_surface

# No per-example deadline: a first call may compile a numba kernel (seconds, once per process
# and signature), and CI machines differ in speed. Speed is measured by `clearquote bench`,
# never by a test. Derandomised in CI so a run is repeatable from its seed.
settings.register_profile("clearquote", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("clearquote")
# The suite never reads or writes the developer's own measured kernel choice (issue 33): a
# record left by `clearquote warmup` would route some kernels to numpy for every test.
os.environ.setdefault("CLEARQUOTE_KERNEL_CHOICE", os.path.join(tempfile.mkdtemp(prefix="cq-kernel-choice-"), "choice.json"))

NOW = utc(2026, 8, 21, 8)
EXPIRY = NOW + timedelta(days=30)


@pytest.fixture(scope="session")
def seed_market() -> Market:
    return Market(NOW, {"BTC": flat_surface("BTC", 52_000.0, 0.65), "ETH": flat_surface("ETH", 2_600.0, 0.75)})


@pytest.fixture(scope="session")
def ratio_spread():
    """+10 x C(50k), -15 x C(55k), 30 days, 1 BTC per option (docs/methodology.md §F2)."""
    return from_contracts(
        [OptionContract("BTC", EXPIRY, 50_000.0, 1, "linear"), OptionContract("BTC", EXPIRY, 55_000.0, 1, "linear")], [10, -15]
    )


def perpetual(underlying: str = "BTC", settle: str = "inverse") -> FutureContract:
    return FutureContract(underlying, None, settle)


@pytest.fixture(scope="session", autouse=True)
def _warm_kernels() -> None:
    """Compile (or load from the on-disk cache) every numba kernel once, before any test is timed:
    hypothesis' per-example deadline must not count a one-off compilation, and a subprocess a test
    starts (``clearquote fix-acceptor``, ``serve``, the CLI) must load its kernels from the disk
    cache, not compile them inside a bounded wait: on a clean clone (CI) the restarted FIX acceptor
    compiled the margin kernels of its first non-empty book within the test's 20 s wait for a
    Quote (5-20 s a kernel on 2 cores, more under load). The list is ``clearquote warmup``'s,
    whose calls cover every signature a command compiles."""
    from addin.cli.warmup import warm

    warm()


# ----------------------------------------------------------------------------- no process outlives the run

#: Set in this process, so inherited by every process a test starts (and by theirs): the
#: session-end check below finds the ones still alive by it, wherever they were reparented.
RUN_MARK = "CLEARQUOTE_TEST_RUN"
os.environ[RUN_MARK] = f"{os.getpid()}-{time.time_ns()}"


#: Processes that live as long as the interpreter that started them, by design, and end with it
#: (multiprocessing's resource tracker and fork server, started by the first ``multiprocessing``
#: pool or shared-memory object): not a test's leak.
_INTERPRETER_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _marked_alive() -> list[str]:
    """The processes (other than this one) started by this test run and still running: their
    environment holds this run's mark; zombies (already ended, awaiting their reaper) are not."""
    mark = f"{RUN_MARK}={os.environ[RUN_MARK]}".encode()
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if mark not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                command = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
            if any(helper in command for helper in _INTERPRETER_HELPERS):
                continue
            found.append(f"{entry}: {command[:200]}")
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def _end_process_lifetime_workers() -> Iterator[None]:
    """End, after the last test, the workers that live as long as the process that started them
    (the shared refit worker of live sources, the server's worker pools): they end at exit by
    design, so the check below would see them; ending them here leaves it only real leaks."""
    yield
    from addin.excel import pool
    from pricing.desk.live.slicefit import close_shared_fit_process

    close_shared_fit_process()
    pool.shutdown()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a process a test started is still alive at its end (a stray ``dask
    worker``, a server): each test must end what it starts. A few seconds are allowed for
    processes already told to end."""
    deadline = time.monotonic() + 10
    alive = _marked_alive()
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = _marked_alive()
    if alive:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nprocesses started by this test run are still alive:\n  " + "\n  ".join(alive))
