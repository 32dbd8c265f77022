"""The measured choice between the numba kernels and the numpy path, per kernel, batch size and CPU.

Why: on one CPU the fused kernels win by 3x; on another (AVX2, no AVX-512) a kernel may barely
beat numpy or lose to it (issue 33), and which path wins moves with the batch size (fixed costs
decide small calls, per-element cost large ones). So under ``CLEARQUOTE_KERNELS=auto`` the path
of each kernel is the one *measured* faster on this machine at the call's size: ``clearquote
warmup`` times both paths at every size of :data:`SIZES` (:mod:`pricing.kernel_timing`) and
records the winner per size here; a call of ``n`` follows the winner at the measured size
nearest to ``n`` on a log scale (:func:`chosen`). ``CLEARQUOTE_KERNELS=numba`` or ``numpy``
still forces one path for every kernel.

The record is one small JSON file (default ``~/.cache/clearquote/kernel-choice.json``, or
``$XDG_CACHE_HOME``/``%LOCALAPPDATA%``; ``CLEARQUOTE_KERNEL_CHOICE`` names another file). Its
entries are keyed by :func:`cpu_key`: the CPU model, the instruction-set features LLVM and numpy
use (so the AVX2 emulation of :mod:`pricing.accel.emulation` gives another key), the Python,
numpy, numba and clearquote versions, and a digest of the source of the measured code
(:func:`kernel_digest`: a change to a kernel, its numpy twin or the measurement makes an older
record not apply). Without an entry for this key the kernels are used (the behaviour before any
measurement). Only a regular file of at most :data:`MAX_BYTES` is read (a FIFO or a device at
that path is no record, never a hang); a missing, corrupt, foreign or unreadable record is
treated as no record. A save merges its entry under an exclusive lock (a ``.lock`` file beside
the record), so concurrent saves for different CPUs keep every entry; a record that cannot be
written is reported by :func:`save` returning the reason: never an exception.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import os
import platform
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

GROUPS = ("black76.price", "black76.greeks", "ivol.solve", "tree.backward", "scenario")
"""The kernels decided one by one (``scenario``: the three revaluation kernels, one engine path)."""
SIZES: dict[str, tuple[int, ...]] = {
    "black76.price": (1, 16, 256, 1_024, 4_096, 16_384, 100_000),
    "black76.greeks": (1, 16, 256, 1_024, 4_096, 16_384, 100_000),
    "ivol.solve": (1, 16, 256, 1_024, 5_000, 50_000),
    "tree.backward": (1, 4, 16, 50),
    "scenario": (1, 5, 50, 300),
}
"""Per group, the batch sizes (options, vols, American options at 200 steps, positions) warmup
measures. A call of ``n`` follows the choice at the measured size nearest to ``n`` in log scale:
the class of size ``s_i`` runs from ``sqrt(s_(i-1) s_i)`` (included) to ``sqrt(s_i s_(i+1))``
(excluded), the first from 0, the last to infinity. Spaced by at most 16x, so a class spans at most 4x either way of
the size it was measured at (the audit found one 16-option measurement applied up to 4,095)."""
PATHS = ("numba", "numpy")
FORMAT = 2
"""2: choices per measured size, the key includes :func:`kernel_digest` (1: two size classes)."""
MAX_BYTES = 1 << 20
"""The largest record read (ours are a few kB a CPU; anything larger is not ours)."""
LOCK_WAIT_S = 30.0
"""How long a save waits for another save's lock before giving up (and saying so)."""
KERNEL_SOURCES = (
    "accel/__init__.py",
    "accel/_ncdf_series.py",
    "accel/black76.py",
    "accel/dispatch.py",
    "accel/ivol.py",
    "accel/jit.py",
    "accel/mathfn.py",
    "accel/scenario.py",
    "accel/threads.py",
    "accel/tree.py",
    "black.py",
    "implied_vol.py",
    "binomial.py",
    "fused.py",
    "revaluation.py",
    "kernel_timing.py",
)
"""The files (relative to the ``pricing`` package) the measured code comes from: the numba kernels
and what runs them, their numpy twins, and the measurement itself."""


def record_path() -> Path:
    """Where the record is read and written (see the module docstring).

    Returns
    -------
    Path
        The file the dispatch record is written to.
    """
    named = os.environ.get("CLEARQUOTE_KERNEL_CHOICE")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "clearquote" / "kernel-choice.json"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def kernel_digest(root: Path | None = None) -> str:
    """A digest of the source of the measured code (:data:`KERNEL_SOURCES`).

    Parameters
    ----------
    root : Path, optional
        The ``pricing`` package's folder (default: this installation's).

    Returns
    -------
    str
        16 hex digits of SHA-256 over each file's name and bytes (a missing file counts as its
        name only), so any edit of a kernel, its numpy twin or the measurement changes it.
    """
    base = Path(__file__).resolve().parents[1] if root is None else root
    h = hashlib.sha256()
    for name in KERNEL_SOURCES:
        h.update(name.encode() + b"\0")
        try:
            h.update((base / name).read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")
    return h.hexdigest()[:16]


def cpu_facts() -> dict[str, Any]:
    """What a measurement depends on: CPU model, ISA features seen by LLVM and numpy, versions, code.

    Returns
    -------
    dict of str to Any
        JSON-ready.

    Notes
    -----
    LLVM's features are ``NUMBA_CPU_FEATURES`` when set (even empty: then the named CPU's own),
    else the host's: numba passes the host's features with ``NUMBA_CPU_NAME`` unless told
    otherwise, so a name alone does not switch AVX-512 off (:mod:`pricing.accel.emulation`).
    """
    import numpy as np

    facts: dict[str, Any] = {"model": _cpu_model(), "numpy": np.__version__, "python": sys.version.split()[0]}
    try:
        import numpy._core._multiarray_umath as umath

        npy_features: dict[str, bool] = dict(getattr(umath, "__cpu_features__", {}))
    except ImportError:  # a numpy without the private module: the key then rests on LLVM's view
        npy_features = {}
    facts["numpy_simd"] = sorted(k for k, on in npy_features.items() if on)
    try:
        import llvmlite.binding as llvm
        import numba

        facts["numba"] = numba.__version__
        facts["llvm_cpu"] = os.environ.get("NUMBA_CPU_NAME") or llvm.get_host_cpu_name()
        named = os.environ.get("NUMBA_CPU_FEATURES")
        facts["llvm_features"] = named if named is not None else llvm.get_host_cpu_features().flatten()
    except (ImportError, AttributeError, RuntimeError):
        facts["numba"] = None
    try:
        from importlib.metadata import PackageNotFoundError, version

        facts["clearquote"] = version("clearquote")
    except (ImportError, PackageNotFoundError):
        facts["clearquote"] = None
    facts["kernel_digest"] = kernel_digest()
    return facts


_AVX512_CPUS: tuple[str, ...] = ("icelake", "cascadelake", "cooperlake", "tigerlake", "rocketlake", "sapphirerapids")
_AVX512_CPUS += ("emeraldrapids", "graniterapids", "cannonlake", "znver4", "znver5", "x86-64-v4", "skylake-avx512")
_AVX2_CPUS: tuple[str, ...] = ("haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake", "arrowlake")
_AVX2_CPUS += ("lunarlake", "znver1", "znver2", "znver3", "x86-64-v3", "bdver4", "gracemont")


def simd_level(facts: Mapping[str, Any]) -> str:
    """The widest vector ISA the numba kernels compile for (from :func:`cpu_facts`).

    With empty features (``NUMBA_CPU_FEATURES=""``, the AVX2 emulation) LLVM takes the named
    CPU's own features, read here from a short table of names (unknown names: "unknown").

    Parameters
    ----------
    facts : mapping of str to Any
        :func:`cpu_facts` (``llvm_features`` and ``llvm_cpu`` are read).

    Returns
    -------
    str
        ``"AVX-512"``, ``"AVX2"``, ``"AVX"``, ``"SSE4.2"``, ``"scalar"`` or ``"unknown"``.
    """
    features = str(facts.get("llvm_features") or "")
    flags = {f[1:] for f in features.split(",") if f.startswith("+")}
    if not features:
        name = str(facts.get("llvm_cpu") or "").lower()
        # Longest names first: "skylake-avx512" before "skylake".
        if "avx512" in name or any(name.startswith(c) for c in _AVX512_CPUS):
            return "AVX-512"
        if any(name.startswith(c) for c in _AVX2_CPUS):
            return "AVX2"
        return "unknown"
    for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4.2", "SSE4.2")):
        if flag in flags:
            return label
    return "scalar" if flags else "unknown"


@lru_cache(maxsize=1)
def cpu_key() -> str:
    """A short hash of :func:`cpu_facts` (one process sees one CPU and one copy of the code).

    Returns
    -------
    str
        Hex digits.
    """
    text = json.dumps(cpu_facts(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes if it is a regular file of at most :data:`MAX_BYTES`, else None.

    Opened without blocking and checked by ``fstat`` on the open descriptor: a FIFO (whose open
    or read would wait for a writer), a device (``/dev/zero``: endless) or a directory is never
    read, and a file that grows between the check and the read is cut at MAX_BYTES + 1.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        chunks, left = [], MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data if len(data) <= MAX_BYTES else None


def _read(path: Path) -> dict[str, Any]:
    """The record's entries, or {} for anything that is not a record of ours."""
    raw = _read_bytes(path)
    if raw is None:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    entries: dict[str, Any] = data["entries"]
    return entries


def _valid_classes(value: Any) -> tuple[tuple[int, str], ...] | None:
    """A group's ``[[size, path], ...]`` (sizes positive, strictly ascending), or None if not that."""
    if not isinstance(value, list) or not value:
        return None
    out: list[tuple[int, str]] = []
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            return None
        size, path = item
        # Bounded: a size is a batch length, and sqrt(a b) of two huge JSON integers would overflow a float.
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1 << 62 or path not in PATHS:
            return None
        if out and size <= out[-1][0]:
            return None
        out.append((size, str(path)))
    return tuple(out)


def _valid_choices(entry: Any) -> dict[str, tuple[tuple[int, str], ...]]:
    choices = entry.get("choices") if isinstance(entry, dict) else None
    if not isinstance(choices, dict):
        return {}
    out = {}
    for group, value in choices.items():
        classes = _valid_classes(value)
        if group in GROUPS and classes is not None:
            out[group] = classes
    return out


class _Classes:
    """One group's choices as class bounds: a call of n takes ``paths[bisect(bounds, n)]``."""

    __slots__ = ("bounds", "paths")

    def __init__(self, classes: Sequence[tuple[int, str]]) -> None:
        sizes = [s for s, _ in classes]
        self.bounds = [math.sqrt(a * b) for a, b in itertools.pairwise(sizes)]
        self.paths = [p for _, p in classes]

    def path(self, n: int | None) -> str:
        return self.paths[-1] if n is None else self.paths[bisect.bisect_right(self.bounds, n)]


_Raw = dict[str, tuple[tuple[int, str], ...]]
_cache: dict[str, tuple[_Raw, dict[str, _Classes]]] = {}


def _load() -> tuple[_Raw, dict[str, _Classes]]:
    """The record for this CPU key, read once per process and kept until :func:`forget` (which
    :func:`save` calls): every kernel call asks, and building the record's path each time
    (``Path.home``, environment reads) cost ~8 µs a call, a large part of a one-option price on
    the per-row Excel path. A process that points ``CLEARQUOTE_KERNEL_CHOICE`` elsewhere after
    its first kernel call calls :func:`forget` (the tests do)."""
    got = _cache.get("")
    if got is None:
        raw = _valid_choices(_read(record_path()).get(cpu_key()))
        got = _cache[""] = (raw, {g: _Classes(c) for g, c in raw.items()})
    return got


def choices() -> dict[str, tuple[tuple[int, str], ...]]:
    """This CPU's recorded path per kernel group and measured size ({} when none is recorded).

    Returns
    -------
    dict of str to tuple
        Kernel group -> ``((size, "numba" or "numpy"), ...)``, sizes ascending.
    """
    return dict(_load()[0])


def chosen(group: str, n: int | None = None) -> str:
    """The recorded path of a kernel group on this CPU for one batch size.

    Parameters
    ----------
    group : str
        One of :data:`GROUPS`.
    n : int or None
        The call's batch (options, vols, options, positions); None counts as the largest class.

    Returns
    -------
    str
        ``"numba"`` or ``"numpy"``: the choice recorded at the measured size nearest to ``n``
        (log scale, see :data:`SIZES`); ``"numba"`` when nothing valid is recorded.
    """
    classes = _load()[1].get(group)
    return "numba" if classes is None else classes.path(n)


def forget() -> None:
    """Drop the in-process copy of the record (the next :func:`choices` reads the file again)."""
    _cache.clear()


@contextmanager
def _locked(path: Path) -> Iterator[str | None]:
    """Hold an exclusive lock on ``path`` + ``.lock`` for the block; yields None, or why not.

    A lock file beside the record, not the record itself: the save replaces the record's inode.
    ``fcntl.flock`` (POSIX) or ``msvcrt.locking`` (Windows), tried without blocking until
    :data:`LOCK_WAIT_S` has passed, so a stuck holder turns into a reported reason, not a hang.
    """
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError as exc:
        yield f"could not open the lock {lock}: {exc.strerror or exc}"
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            yield f"the lock {lock} is not a regular file"
            return
        deadline = time.monotonic() + LOCK_WAIT_S
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                yield f"another save held the lock {lock} for over {LOCK_WAIT_S:g} s"
                return
            time.sleep(0.005)  # a save holds the lock for a few ms: poll, bounded by the deadline
        try:
            yield None
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def save(decided: Mapping[str, Sequence[tuple[int, str]]], timings: dict[str, Any]) -> str | None:
    """Record this CPU's choices (locked, merged with the other CPUs' entries, atomically replaced).

    Parameters
    ----------
    decided : mapping of str to sequence of (int, str)
        Group of :data:`GROUPS` -> ``[(size, "numba" or "numpy"), ...]``, sizes ascending.
    timings : dict
        The measurements behind the choices (kept in the record for people, never read back).

    Returns
    -------
    str or None
        None when written, else why not (a sentence): the caller reports it, the engine keeps its
        previous behaviour.

    Raises
    ------
    ValueError
        A group, size or path that is not one (a programming error, not bad input).
    """
    bad = {g: c for g, c in decided.items() if g not in GROUPS or _valid_classes([list(x) for x in c]) is None}
    if bad:
        raise ValueError(f"kernel choice: unknown group or path {bad}; groups {GROUPS}, paths {PATHS}, sizes ascending")
    facts = cpu_facts()
    entry = {
        "cpu": facts,
        "simd": simd_level(facts),
        "choices": {g: [[int(s), p] for s, p in c] for g, c in decided.items()},
        "timings": timings,
    }
    problem = merge_entry(record_path(), cpu_key(), entry)
    forget()
    return problem


def _not_a_record(path: Path) -> str | None:
    """Why ``path`` must not be replaced by a record (it exists and is not a regular file), or None.

    A FIFO, a device or a directory named by ``CLEARQUOTE_KERNEL_CHOICE`` is someone's, not a
    record: replacing it (``os.replace`` swaps whatever is there, a device node too when run as
    root) would destroy it.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"could not write {path}: {exc.strerror or exc}"
    if stat.S_ISREG(info.st_mode):
        return None
    return f"could not write {path}: it exists and is not a regular file (a record is never written over one)"


def merge_entry(path: Path, key: str, entry: dict[str, Any]) -> str | None:
    """Put ``entry`` under ``key`` in the record at ``path``, keeping every other key.

    Parameters
    ----------
    path : Path
        The record.
    key : str
        The entry's key (:func:`cpu_key` for this process).
    entry : dict
        JSON-ready.

    Returns
    -------
    str or None
        None when written, else why not.

    Notes
    -----
    Read, merge and replace happen under the lock of :func:`_locked`: two processes saving for
    different keys at once both keep their entry (without it, one read-modify-write lost the
    other's entry in 2 of 15 tries in the audit). The replace is atomic (a temporary file in the
    same folder, then ``os.replace``), so a reader sees the old record or the new one.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"could not write {path}: {exc.strerror or exc}"
    if (problem := _not_a_record(path)) is not None:  # before the lock file is made beside it
        return problem
    with _locked(path) as problem:
        if problem is not None:
            return problem
        if (problem := _not_a_record(path)) is not None:
            return problem
        entries = _read(path)
        entries[key] = entry
        text = json.dumps({"format": FORMAT, "entries": entries}, indent=1, sort_keys=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kernel-choice.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            return f"could not write {path}: {exc.strerror or exc}"
    return None
