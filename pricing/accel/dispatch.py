"""The measured choice between the numba kernels and the numpy path, per kernel and per CPU.

Why: on one CPU the fused kernels win by 3x; on another (AVX2, no AVX-512) a kernel may barely
beat numpy or lose to it (issue 33). So under ``CLEARQUOTE_KERNELS=auto`` the path of each
kernel is the one *measured* faster on this machine: ``clearquote warmup`` times both paths
(:mod:`pricing.kernel_timing`) and records the winner here; every later process reads the record.
``CLEARQUOTE_KERNELS=numba`` or ``numpy`` still forces one path for every kernel.

The record is one small JSON file (default ``~/.cache/clearquote/kernel-choice.json``, or
``$XDG_CACHE_HOME``/``%LOCALAPPDATA%``; ``CLEARQUOTE_KERNEL_CHOICE`` names another file). Its
entries are keyed by :func:`cpu_key`: the CPU model, the instruction-set features LLVM and numpy
use (so ``NUMBA_CPU_NAME``/``NPY_DISABLE_CPU_FEATURES`` give another key), and the numpy, numba
and clearquote versions. Without an entry for this key the kernels are used (the behaviour before
any measurement). A missing, corrupt, foreign or unreadable record is treated as no record, and a
record that cannot be written is reported by :func:`save` returning the reason: never an exception.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

GROUPS = ("black76.price", "black76.greeks", "ivol.solve", "tree.backward", "scenario")
"""The kernels decided one by one (``scenario``: the three revaluation kernels, one engine path)."""
SMALL_BELOW = {"black76.price": 4_096, "black76.greeks": 4_096, "ivol.solve": 256, "tree.backward": 8, "scenario": 50}
"""Per group, the batch size (options, vols, options, positions) below which a call follows the
choice measured on a small batch (key ``GROUP@small``), at and above it the one measured on a
large batch (key ``GROUP``): fixed overheads decide small calls, per-element cost large ones."""
KEYS = GROUPS + tuple(f"{g}@small" for g in GROUPS)
PATHS = ("numba", "numpy")
FORMAT = 1


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


def cpu_facts() -> dict[str, Any]:
    """What a measurement depends on: CPU model, ISA features seen by LLVM and numpy, versions.

    Returns
    -------
    dict of str to Any
        JSON-ready.
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
        named = os.environ.get("NUMBA_CPU_NAME")
        facts["llvm_features"] = os.environ.get("NUMBA_CPU_FEATURES") or ("" if named else llvm.get_host_cpu_features().flatten())
    except (ImportError, AttributeError, RuntimeError):
        facts["numba"] = None
    try:
        from importlib.metadata import PackageNotFoundError, version

        facts["clearquote"] = version("clearquote")
    except (ImportError, PackageNotFoundError):
        facts["clearquote"] = None
    return facts


_AVX512_CPUS: tuple[str, ...] = ("icelake", "cascadelake", "cooperlake", "tigerlake", "rocketlake", "sapphirerapids")
_AVX512_CPUS += ("emeraldrapids", "graniterapids", "cannonlake", "znver4", "znver5", "x86-64-v4")
_AVX2_CPUS: tuple[str, ...] = ("haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake", "arrowlake")
_AVX2_CPUS += ("lunarlake", "znver1", "znver2", "znver3", "x86-64-v3", "bdver4", "gracemont")


def simd_level(facts: dict[str, Any]) -> str:
    """The widest vector ISA the numba kernels compile for (from :func:`cpu_facts`).

    With ``NUMBA_CPU_NAME`` and no ``NUMBA_CPU_FEATURES`` (the AVX2 emulation), LLVM takes the
    named CPU's own features, read here from a short table of names (unknown names: "unknown").

    Parameters
    ----------
    facts : dict of str to Any
        :func:`cpu_facts`.

    Returns
    -------
    str
        ``"AVX-512"``, ``"AVX2"``, ``"AVX"``, ``"SSE4.2"``, ``"scalar"`` or ``"unknown"``.
    """
    features = str(facts.get("llvm_features") or "")
    if os.environ.get("NUMBA_CPU_NAME") and not os.environ.get("NUMBA_CPU_FEATURES"):
        name = os.environ["NUMBA_CPU_NAME"].lower()
        if "avx512" in name or any(name.startswith(c) for c in _AVX512_CPUS):
            return "AVX-512"
        if any(name.startswith(c) for c in _AVX2_CPUS):
            return "AVX2"
        return "unknown"
    flags = {f[1:] for f in features.split(",") if f.startswith("+")}
    for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4.2", "SSE4.2")):
        if flag in flags:
            return label
    return "scalar" if flags else "unknown"


@lru_cache(maxsize=1)
def cpu_key() -> str:
    """A short hash of :func:`cpu_facts` (one process sees one CPU).

    Returns
    -------
    str
        Hex digits.
    """
    text = json.dumps(cpu_facts(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read(path: Path) -> dict[str, Any]:
    """The record's entries, or {} for anything that is not a record of ours."""
    try:
        if path.stat().st_size > 1 << 20:  # ours are ~1 kB a CPU; a huge file is not ours
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    entries: dict[str, Any] = data["entries"]
    return entries


def _valid_choices(entry: Any) -> dict[str, str]:
    choices = entry.get("choices") if isinstance(entry, dict) else None
    if not isinstance(choices, dict):
        return {}
    return {g: c for g, c in choices.items() if g in KEYS and c in PATHS}


_cache: dict[str, dict[str, str]] = {}


def choices() -> dict[str, str]:
    """This CPU's recorded path per kernel group ({} when none is recorded).

    Read once per process and kept until :func:`forget` (which :func:`save` calls): every
    kernel call asks, and building the record's path each time (``Path.home``, environment
    reads) cost ~8 µs a call, a large part of a one-option price on the per-row Excel path. A
    process that points ``CLEARQUOTE_KERNEL_CHOICE`` elsewhere after its first kernel call
    calls :func:`forget` (the tests do).

    Returns
    -------
    dict of str to str
        Kernel group -> ``"numba"`` or ``"numpy"``.
    """
    got = _cache.get("")
    if got is None:
        got = _cache[""] = _valid_choices(_read(record_path()).get(cpu_key()))
    return got


def chosen(group: str, n: int | None = None) -> str:
    """The recorded path of a kernel group on this CPU for one batch size.

    Parameters
    ----------
    group : str
        One of :data:`GROUPS`.
    n : int or None
        The call's batch (options, vols, options, positions); None counts as large.

    Returns
    -------
    str
        ``"numba"`` or ``"numpy"``: the choice recorded under ``GROUP@small`` when ``n`` is below
        :data:`SMALL_BELOW`, else under ``GROUP``; ``"numba"`` when nothing valid is recorded.
    """
    key = f"{group}@small" if n is not None and n < SMALL_BELOW.get(group, 0) else group
    return choices().get(key, "numba")


def forget() -> None:
    """Drop the in-process copy of the record (the next :func:`choices` reads the file again)."""
    _cache.clear()


def save(decided: dict[str, str], timings: dict[str, Any]) -> str | None:
    """Record this CPU's choices (atomically, beside the other CPUs' entries).

    Parameters
    ----------
    decided : dict of str to str
        Key of :data:`KEYS` -> ``"numba"`` or ``"numpy"``.
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
        A key or path outside :data:`KEYS`/:data:`PATHS` (a programming error, not bad input).
    """
    bad = {g: c for g, c in decided.items() if g not in KEYS or c not in PATHS}
    if bad:
        raise ValueError(f"kernel choice: unknown group or path {bad}; keys {KEYS}, paths {PATHS}")
    path = record_path()
    facts = cpu_facts()
    entries = _read(path)
    entries[cpu_key()] = {"cpu": facts, "simd": simd_level(facts), "choices": dict(decided), "timings": timings}
    text = json.dumps({"format": FORMAT, "entries": entries}, indent=1, sort_keys=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
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
    forget()
    return None
