"""Each book in a child process of its own, with a memory and a CPU-time limit.

Why a child: the formula engine (IronCalc, Rust) aborts the whole process when an allocation
fails and overflows its stack on deeply nested text; a hostile book must cost its own process,
never the run, the other books of the run, or a Dask worker. The child is a fresh interpreter
(``subprocess``, not ``multiprocessing``: Dask's worker processes are daemons, which
``multiprocessing`` forbids to have children), so it inherits no threads or locks.

Guarantees (tests/workbook/test_isolation.py):

* the child's data segment (heap, anonymous maps, what Rust and Python allocate) is capped
  at ``max_memory_mib`` with ``RLIMIT_DATA``, and the parent also kills a child whose resident
  size passes the cap (file-backed pages are not in ``RLIMIT_DATA``): a book never holds more
  than the cap;
* its CPU time is capped at ``timeout_s`` with ``RLIMIT_CPU`` (SIGXCPU) and its wall time at
  ``timeout_s`` plus the fixed start-up allowance by the parent (SIGKILL): no book hangs;
* whatever the child does (returns, raises, is killed by a signal, exits without a word), the
  parent returns a value or raises :class:`BookError` naming the book and the cause; nothing
  else escapes. A cause is given only where it is known: a SIGKILL the parent did not send
  (the kernel's out-of-memory killer) is reported with the child's measured peak memory and
  CPU time, never as a limit it did not reach.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from addin.headless.values import BookError

#: Default memory cap of one book's child, MiB (the 100,000-row quote book peaks at ~0.9 GB).
MAX_MEMORY_MIB = 2048
#: Default CPU-time cap of one book's child, seconds (the 100,000-row quote book takes ~20 s).
TIMEOUT_S = 300.0
#: Wall-clock seconds allowed beyond ``timeout_s`` for the interpreter to start and import.
STARTUP_S = 30.0
_POLL_S = 0.1
_ENV = "CLEARQUOTE_CHILD_FD"
#: Where the child's formula engine prints (its file descriptors 1 and 2 while it reads a book,
#: :func:`addin.headless.engine._load`): a file the parent reads when the child dies, so Rust's
#: "memory allocation of N bytes failed" before its abort reaches the report.
NATIVE_OUTPUT_ENV = "CLEARQUOTE_CHILD_NATIVE"


@dataclass(frozen=True)
class Budget:
    """What one book's child may use.

    Attributes
    ----------
    max_memory_mib : int
        Memory of the child, MiB (data segment by ``RLIMIT_DATA``, resident size by the parent).
    timeout_s : float
        CPU seconds of the child (``RLIMIT_CPU``); wall seconds are this plus :data:`STARTUP_S`.
    """

    max_memory_mib: int = MAX_MEMORY_MIB
    timeout_s: float = TIMEOUT_S

    def __post_init__(self) -> None:
        if not (64 <= self.max_memory_mib <= 1 << 22):
            raise BookError(f"--max-memory: {self.max_memory_mib} MiB is not allowed; give 64 to 4194304 MiB")
        if not (0 < self.timeout_s <= 86_400) or self.timeout_s != self.timeout_s:
            raise BookError(f"--timeout: {self.timeout_s} s is not allowed; give more than 0 and at most 86400 s")


def report(kind: str, n: int) -> None:
    """In a child: tell the parent ``kind`` ("plan" or "progress") with a count; elsewhere nothing."""
    fd = os.environ.get(_ENV)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(int(fd), f"{kind} {int(n)}\n".encode())


def check_sendable(functions: object) -> None:
    """Refuse, with the reason, a function table that cannot be sent to a book's child process.

    Parameters
    ----------
    functions : object
        The host function table (the catalogue's is picklable).

    Raises
    ------
    BookError
        It cannot be pickled; ``budget=None`` evaluates in the caller's process instead.
    """
    try:
        pickle.dumps(functions)
    except Exception as exc:
        raise BookError(
            f"functions: the function table cannot be sent to the book's child process ({exc}); "
            "pass budget=None to evaluate in this process, uncapped"
        ) from None


def run(
    target: str,
    args: tuple[Any, ...],
    book: str,
    budget: Budget | None = None,
    *,
    on_plan: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """``module:function(*args)`` evaluated in a child within ``budget``; its return value.

    Raises :class:`BookError` naming ``book`` when the child raised one, ran out of memory or
    time, or died (a signal, an exit without a result).
    """
    budget = budget or Budget()
    name = Path(book).name
    with tempfile.TemporaryDirectory(prefix="clearquote-child-") as tmp:
        job, out, err = Path(tmp) / "job", Path(tmp) / "out", Path(tmp) / "stderr"
        native = Path(tmp) / "native"
        job.write_bytes(pickle.dumps((target, args, budget, str(out))))
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, **{_ENV: str(write_fd), NATIVE_OUTPUT_ENV: str(native)})
        with open(err, "wb") as err_fh:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "addin.headless.child", str(job)],
                    stdin=subprocess.DEVNULL,
                    stdout=err_fh,
                    stderr=err_fh,
                    pass_fds=(write_fd,),
                    env=env,
                    cwd=os.getcwd(),
                )
            finally:
                os.close(write_fd)
            killed, usage = _watch(proc, read_fd, budget, on_plan, progress)
        os.close(read_fd)
        said = err.read_text(errors="replace").strip()
        if native.exists():  # what the formula engine printed last (its abort's reason)
            said = "\n".join(filter(None, (said, native.read_text(errors="replace").strip()[-2000:])))
        if killed is not None:
            raise BookError(f"{name}: {killed}")
        if proc.returncode != 0 or not out.exists():
            raise BookError(f"{name}: {_death(proc.returncode, said, budget, usage)}")
        status, value = pickle.loads(out.read_bytes())
    if status == "ok":
        return value
    raise BookError(value if status == "refused" else f"{name}: {value}")


def _watch(
    proc: subprocess.Popen[bytes],
    fd: int,
    budget: Budget,
    on_plan: Callable[[int], None] | None,
    progress: Callable[[int], None] | None,
) -> tuple[str | None, Use | None]:
    """Wait for the child, relaying its messages; kill it past the wall time or the memory cap
    and say why (None: it ended by itself, with what it used, :func:`_reap`)."""
    deadline = time.monotonic() + budget.timeout_s + STARTUP_S
    cap = budget.max_memory_mib * 2**20
    buf = b""
    seen = 0  # the largest resident size sampled, bytes
    while True:
        ready, _, _ = select.select([fd], [], [], _POLL_S)
        if ready:
            chunk = os.read(fd, 65536)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                kind, _, n = line.decode(errors="replace").partition(" ")
                callback = on_plan if kind == "plan" else progress if kind == "progress" else None
                if callback is not None and n.isdigit():
                    callback(int(n))
        usage = _reap(proc)
        if usage is not None:
            # ru_maxrss of a child made by fork and exec counts the parent's image copied before
            # the exec (a 1.6 GB test process made a 300 MiB child "peak" at 1,599 MiB): the peak
            # reported is the largest resident size sampled here after the exec, never that
            return None, _Unmeasured(usage.ru_utime, usage.ru_stime, seen // 1024)
        why = None
        resident = 0
        if time.monotonic() > deadline:
            why = f"took longer than {budget.timeout_s:g} s (limit --timeout); stopped"
        elif (resident := _resident(proc.pid)) > cap:
            why = f"needed more than {budget.max_memory_mib:,} MiB of memory (limit --max-memory); stopped"
        seen = max(seen, resident)
        if why is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            return why, None


def _reap(proc: subprocess.Popen[bytes]) -> Use | None:
    """The child's resource use once it has ended (None while it runs): ``wait4`` instead of
    ``Popen.poll`` because only the reaping call reports the child's own peak resident size
    (``ru_maxrss``) and CPU time, which say why a child killed from outside died."""
    try:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    except ChildProcessError:  # reaped elsewhere already: its code is Popen's, its use unknown
        proc.poll()
        return None if proc.returncode is None else _UNKNOWN_USE
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage


class Use(Protocol):
    """What :func:`_death` reads of a child's resource use (``resource.struct_rusage``'s fields)."""

    @property
    def ru_utime(self) -> float: ...
    @property
    def ru_stime(self) -> float: ...
    @property
    def ru_maxrss(self) -> int: ...


@dataclass(frozen=True)
class _Unmeasured:
    """What a child used when nobody measured it (its resource use is then not reported). Not a
    ``struct_rusage`` built at import: CPython 3.11 reports a SystemError ("bad argument to
    internal function" in ``tp_clear``) when a module-level struct sequence made from Python is
    cleared at interpreter exit, in every process that imported this module."""

    ru_utime: float = 0.0
    ru_stime: float = 0.0
    ru_maxrss: int = 0


_UNKNOWN_USE = _Unmeasured()


def _resident(pid: int) -> int:
    """The child's resident size in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _death(code: int | None, said: str, budget: Budget, usage: Use | None = None) -> str:
    """Why a child ended without a result, for the user: only what is known.

    SIGXCPU is ``RLIMIT_CPU``'s own signal, so it is the CPU-time cap. A SIGKILL that reaches
    here is not the parent's (:func:`_watch` names its own kills): it is the kernel's
    out-of-memory killer or another process, and the report gives what was measured (the
    child's peak resident size against the cap, its CPU time) rather than guess a cause; it
    is the CPU-time cap only when the child's CPU time reached it (``RLIMIT_CPU``'s hard
    limit, where one is set, sends SIGKILL).
    """
    tail = said.splitlines()[-1][:300] if said else ""
    if code is not None and code < 0:
        memory = "memory allocation" in said or "MemoryError" in said  # Rust's and Python's words for it
        cpu = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
        if -code == signal.SIGXCPU or (-code == signal.SIGKILL and cpu >= budget.timeout_s):
            return f"used more than {budget.timeout_s:g} s of CPU time (limit --timeout); stopped"
        if memory:
            return f"needed more than {budget.max_memory_mib:,} MiB of memory (limit --max-memory); stopped"
        if -code == signal.SIGKILL:
            return f"was killed (SIGKILL) from outside the engine{_measured(usage, budget)}; the book is not computed"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the formula engine crashed ({name}){': ' + tail if tail else ''}; the book is not computed"
    return f"the evaluation ended without a result (exit {code}){': ' + tail if tail else ''}"


def _measured(usage: Use | None, budget: Budget) -> str:
    """What the child was seen to use, as a clause (empty when it was not measured)."""
    if usage is None or usage.ru_maxrss <= 0:
        return ""
    peak = usage.ru_maxrss / 1024  # Linux reports ru_maxrss in KiB (getrusage(2))
    cpu = usage.ru_utime + usage.ru_stime
    return (
        f" after {cpu:.1f} s of CPU time, at a peak of {peak:,.0f} MiB of memory of its "
        f"{budget.max_memory_mib:,} MiB (limit --max-memory; the kernel's out-of-memory killer sends "
        "SIGKILL when the machine, not the book's cap, runs short)"
    )


def _limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard))


#: The stack the evaluation runs on in the child: the formula engine recurses once per level of
#: a recursive LAMBDA (``f(f,n-1)+1``), and the main thread's 8 MiB ended the process at depth
#: 10,000 (SIGSEGV, measured; 64 MiB holds 10,000). At most an eighth of the memory budget
#: (RLIMIT_DATA counts a thread's stack mapping).
STACK_BYTES = 256 * 2**20


def _on_large_stack(fn: Any, args: Any, budget_bytes: int) -> Any:
    """``fn(*args)`` on a thread with a stack of :data:`STACK_BYTES` (at most an eighth of
    ``budget_bytes``); where no such thread can be made, on this one."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # raised again on the calling thread
            box["error"] = exc

    try:
        threading.stack_size(max(32 * 2**20, min(STACK_BYTES, budget_bytes // 8)))
        worker = threading.Thread(target=run, name="evaluate")
        worker.start()
    except (RuntimeError, ValueError, MemoryError):
        return fn(*args)
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def child_main(job: Path) -> int:
    """Run the job at ``job`` in this (child) process under its budget (``addin.headless.child``)."""
    target, args, budget, out = pickle.loads(job.read_bytes())
    _limit(resource.RLIMIT_DATA, budget.max_memory_mib * 2**20)
    _limit(resource.RLIMIT_CPU, max(1, int(budget.timeout_s + 0.999)))
    try:
        module, _, fn = target.partition(":")
        value = _on_large_stack(getattr(importlib.import_module(module), fn), args, budget.max_memory_mib * 2**20)
        result: tuple[str, Any] = ("ok", value)
    except BookError as exc:
        result = ("refused", str(exc))
    except MemoryError:
        result = ("failed", f"needed more than {budget.max_memory_mib:,} MiB of memory (limit --max-memory); stopped")
    except RecursionError:
        result = ("failed", "a formula nests deeper than the engine can follow; the book is not computed")
    except Exception as exc:  # an engine bug: named, never a traceback on the user's screen
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        result = ("failed", f"internal error ({type(exc).__name__}: {str(exc)[:200]} at {where})")
    tmp = out + ".part"
    Path(tmp).write_bytes(pickle.dumps(result))
    os.replace(tmp, out)
    return 0
