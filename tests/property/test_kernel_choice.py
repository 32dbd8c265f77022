"""The measured kernel choice (issue 33): recorded per CPU, per batch size and per copy of the kernel
code, read back and honoured; a bad record never breaks or hangs the engine (it falls back to the
numba path, the behaviour before any record); concurrent saves keep every entry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import accel
from pricing.accel import dispatch

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "choice.json"
    monkeypatch.setenv("CLEARQUOTE_KERNEL_CHOICE", str(path))
    dispatch.forget()
    yield path
    dispatch.forget()


ROOT = Path(__file__).resolve().parents[2]


def _all(path: str) -> dict[str, list[tuple[int, str]]]:
    return {g: [(n, path) for n in dispatch.SIZES[g]] for g in dispatch.GROUPS}


def _price(small: str, large: str, below: int = 1_000) -> dict[str, list[tuple[int, str]]]:
    """All numba, but the price: ``small`` at measured sizes below ``below``, ``large`` above."""
    sizes = dispatch.SIZES["black76.price"]
    return {**_all("numba"), "black76.price": [(n, small if n < below else large) for n in sizes]}


def test_choice_is_read_back_and_honoured(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pricing.accel import black76
    from pricing.black import black76_price

    calls = []
    real = black76.price_kernel
    monkeypatch.setattr(black76, "price_kernel", lambda *a: calls.append(1) or real(*a))
    with accel.using("auto"):
        assert dispatch.save(_price("numpy", "numpy"), {}) is None
        assert {p for _, p in dispatch.choices()["black76.price"]} == {"numpy"}
        assert not accel.enabled("black76.price") and accel.enabled("black76.greeks")
        black76_price("c", 100.0, [90.0, 110.0], 1.0, 0.2)
        assert calls == []  # numpy path taken
        assert dispatch.save(_all("numba"), {}) is None
        black76_price("c", 100.0, [90.0, 110.0], 1.0, 0.2)
        assert calls == [1]  # kernel taken
        # Small and large batches follow the choice measured at their own size.
        assert dispatch.save(_price("numpy", "numba"), {}) is None
        assert not accel.enabled("black76.price", 1) and accel.enabled("black76.price", 10**6)
        black76_price("c", 100.0, [90.0, 110.0], 1.0, 0.2)
        assert calls == [1]  # 2 options: the choice measured at 1 (nearest), numpy
        black76_price("c", 100.0, np.linspace(50, 150, 1_000), 1.0, 0.2)
        assert calls == [1, 1]  # 1,000 options: the choice measured at 1,024, numba
    # A forced path ignores the record.
    dispatch.save(_all("numpy"), {})
    with accel.using("numba"):
        assert all(accel.enabled(g) for g in dispatch.GROUPS)
    with accel.using("numpy"):
        dispatch.save(_all("numba"), {})
        assert not any(accel.enabled(g) for g in dispatch.GROUPS)


def test_other_cpus_entries_are_kept_and_not_used(record: Path) -> None:
    record.write_text(json.dumps({"format": dispatch.FORMAT, "entries": {"another-cpu": {"choices": _all("numpy")}}}))
    dispatch.forget()
    assert dispatch.choices() == {}
    assert dispatch.save(_all("numba"), {"x": 1}) is None
    entries = json.loads(record.read_text())["entries"]
    assert set(entries) == {"another-cpu", dispatch.cpu_key()}


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from([*dispatch.GROUPS, "other"]),
            st.lists(
                st.tuples(
                    st.integers(-2, 10**6) | st.integers(1, 10**400) | st.text(max_size=3),
                    st.sampled_from([*dispatch.PATHS, "gpu"]),
                )
            )
            | st.text(max_size=8)
            | st.integers(),
            max_size=6,
        ).map(lambda ch: json.dumps({"format": dispatch.FORMAT, "entries": {dispatch.cpu_key(): {"choices": ch}}}).encode()),
    )
)
def test_any_record_content_falls_back_safely(record: Path, content: bytes) -> None:
    """Whatever the file holds, reading it gives only valid choices, and never raises."""
    record.write_bytes(content)
    dispatch.forget()
    got = dispatch.choices()
    assert set(got) <= set(dispatch.GROUPS)
    for classes in got.values():
        assert {p for _, p in classes} <= set(dispatch.PATHS) and [n for n, _ in classes] == sorted({n for n, _ in classes})
    for group in dispatch.GROUPS:
        for n in (None, 0, 1, 7, 10**9):
            assert dispatch.chosen(group, n) in dispatch.PATHS
    with accel.using("auto"):
        assert accel.enabled("black76.price") in (True, False)


def test_a_directory_or_unreadable_record_falls_back(record: Path) -> None:
    record.mkdir()
    dispatch.forget()
    assert dispatch.choices() == {} and dispatch.chosen("scenario") == "numba"


def test_unwritable_record_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("CLEARQUOTE_KERNEL_CHOICE", str(blocker / "sub" / "choice.json"))  # parent is a file
    dispatch.forget()
    problem = dispatch.save(_all("numpy"), {})
    assert problem is not None and "could not write" in problem
    assert dispatch.choices() == {}
    if os.name == "posix" and os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        monkeypatch.setenv("CLEARQUOTE_KERNEL_CHOICE", str(ro / "choice.json"))
        assert dispatch.save(_all("numpy"), {}) is not None
        ro.chmod(0o700)
    dispatch.forget()


def test_unknown_choice_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown group or path"):
        dispatch.save({"black76.price": [(16, "gpu")]}, {})
    with pytest.raises(ValueError, match="unknown group or path"):
        dispatch.save({"black76.price": [(256, "numba"), (16, "numpy")]}, {})  # sizes must ascend


def test_warmup_measures_records_and_the_engine_follows(record: Path) -> None:
    """``clearquote warmup``'s measurement writes one valid choice per group for this CPU, and
    both paths give the same prices whichever it picked (tolerance of tests/cross/test_kernel_paths)."""
    from addin.cli.warmup import choose
    from pricing.black import black76_price

    with accel.using("auto"):
        lines, problem = choose()
        assert problem is None and len(lines) == sum(len(v) for v in dispatch.SIZES.values())
        saved = json.loads(record.read_text())["entries"][dispatch.cpu_key()]
        assert set(saved["choices"]) == set(dispatch.GROUPS)
        assert {g: [list(x) for x in c] for g, c in dispatch.choices().items()} == saved["choices"]
        assert all([n for n, _ in saved["choices"][g]] == list(dispatch.SIZES[g]) for g in dispatch.GROUPS)
        f = np.linspace(50.0, 150.0, 101)
        auto = black76_price("c", f, 100.0, 1.0, 0.3)
    with accel.using("numpy"):
        assert np.all(np.abs(black76_price("c", f, 100.0, 1.0, 0.3) - auto) <= 1e-13 * (f + 100.0))


def test_simd_level_follows_the_emulation_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The level comes from the features LLVM compiles for: the host's unless NUMBA_CPU_FEATURES is
    set (a name alone keeps the host's AVX-512), the named CPU's own when it is set empty (the
    emulation of pricing.accel.emulation); each setting gives another key."""
    assert dispatch.simd_level({"llvm_features": "+avx,+avx2,-avx512f"}) == "AVX2"
    assert dispatch.simd_level({"llvm_features": "+avx2,+avx512f", "llvm_cpu": "haswell"}) == "AVX-512"
    assert dispatch.simd_level({"llvm_features": "", "llvm_cpu": "haswell"}) == "AVX2"
    assert dispatch.simd_level({"llvm_features": "", "llvm_cpu": "skylake-avx512"}) == "AVX-512"
    assert dispatch.simd_level({"llvm_features": "", "llvm_cpu": "pentium"}) == "unknown"
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.setenv("NUMBA_CPU_NAME", "haswell")
    named_only = dispatch.cpu_facts()
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "")
    emulated = dispatch.cpu_facts()
    assert named_only["llvm_cpu"] == emulated["llvm_cpu"] == "haswell"
    assert named_only["llvm_features"] != "" and emulated["llvm_features"] == ""
    assert dispatch.simd_level(emulated) == "AVX2"


def _choices_under(monkeypatch: pytest.MonkeyPatch, digest: str) -> dict[str, tuple[tuple[int, str], ...]]:
    monkeypatch.setattr(dispatch, "kernel_digest", lambda root=None: digest)
    dispatch.cpu_key.cache_clear()
    dispatch.forget()
    return dispatch.choices()


def test_a_record_of_other_kernel_code_is_not_honoured(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key carries the digest of the measured code: a record made by other kernel code (the
    audit: an older clearquote "0.1.0" record honoured after the kernels changed) is ignored."""
    try:
        assert _choices_under(monkeypatch, "code-a") == {}
        assert dispatch.save(_all("numpy"), {}) is None
        assert _choices_under(monkeypatch, "code-a") != {}
        assert _choices_under(monkeypatch, "code-b") == {}  # the kernels changed: no record applies
        assert dispatch.chosen("black76.price", 10) == "numba"
        assert _choices_under(monkeypatch, "code-a") != {}  # its entry is kept for that code
    finally:
        monkeypatch.undo()
        dispatch.cpu_key.cache_clear()
        dispatch.forget()


def test_the_digest_covers_every_kernel_source(tmp_path: Path) -> None:
    """An edit of any file the measured code comes from (one byte) changes the digest; another file does not."""
    root = tmp_path / "pricing"
    for name in dispatch.KERNEL_SOURCES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "pricing" / name, root / name)
    base = dispatch.kernel_digest(root)
    assert base == dispatch.kernel_digest(ROOT / "pricing") == dispatch.kernel_digest()
    for name in dispatch.KERNEL_SOURCES:
        data = (root / name).read_bytes()
        (root / name).write_bytes(data + b"\n")
        assert dispatch.kernel_digest(root) != base, name
        (root / name).write_bytes(data)
    (root / "unrelated.py").write_text("x = 1\n")
    assert dispatch.kernel_digest(root) == base


def test_an_older_format_is_not_honoured(record: Path) -> None:
    old = {"black76.price": "numpy", "black76.price@small": "numpy"}
    record.write_text(json.dumps({"format": 1, "entries": {dispatch.cpu_key(): {"choices": old}}}))
    dispatch.forget()
    assert dispatch.choices() == {} and dispatch.chosen("black76.price", 10) == "numba"


_READ_IN_CHILD = "from pricing.accel import dispatch; print(dispatch.choices(), dispatch.chosen('black76.price', 3))"
_SAVE_IN_CHILD_ONCE = "from pricing.accel import dispatch; print(dispatch.save({'black76.price': [(1, 'numpy')]}, {}))"


def _child(code: str, path: Path) -> str:
    env = {**os.environ, "CLEARQUOTE_KERNEL_CHOICE": str(path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "directory"])
def test_a_record_path_that_is_not_a_small_regular_file_is_no_record(tmp_path: Path, kind: str) -> None:
    """A FIFO (no writer), /dev/zero, a file over MAX_BYTES or a directory at the record's path:
    the engine reads no record and goes on (the audit: a FIFO or /dev/zero hung every pricing
    call); a save refuses to write over a FIFO or a directory (never over a device: not even tried
    here, a run as root would replace the node). In a child with a timeout, so a hang fails the
    test instead of hanging the suite."""
    path = tmp_path / "choice.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        path.write_bytes(b" " * (dispatch.MAX_BYTES + 1))
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")
        if not path.is_char_device():
            pytest.skip("no /dev/zero")
    assert _child(_READ_IN_CHILD, path) == "{} numba"
    if kind in ("fifo", "directory"):
        said = _child(_SAVE_IN_CHILD_ONCE, path)
        assert "not a regular file" in said, said
        assert path.is_fifo() if kind == "fifo" else path.is_dir()
        assert not list(tmp_path.glob("*.lock")) and not list(tmp_path.glob(".kernel-choice.*"))


_SAVE_IN_CHILD = """
import sys
from pathlib import Path
from pricing.accel import dispatch
path, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # all children start saving together
for i in range(n):
    problem = dispatch.merge_entry(path, f"{who}-{i}", {"choices": {}, "i": i})
    assert problem is None, problem
"""


def test_concurrent_saves_for_different_cpus_keep_every_entry(tmp_path: Path) -> None:
    """Six processes save 25 entries each into one record at the same moment: all 150 are there
    (the audit lost one of two concurrent saves in 2 of 15 tries without the lock). Released
    together through their stdin; each waits for the lock as long as it needs (no timing)."""
    path = tmp_path / "choice.json"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVE_IN_CHILD, str(path), f"cpu{w}", "25"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        for w in range(6)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    entries = dispatch._read(path)
    assert set(entries) == {f"cpu{w}-{i}" for w in range(6) for i in range(25)}
    assert not list(tmp_path.glob(".kernel-choice.*.tmp"))  # no temporary file left behind


@settings(max_examples=300)
@given(
    group=st.sampled_from(dispatch.GROUPS),
    data=st.data(),
)
def test_each_call_follows_the_path_measured_faster_at_its_class_sizes(group: str, data: st.DataObject) -> None:
    """Injected timings (no clock): at every measured size the recorded path is the one measured
    faster there (numba on a tie within MARGIN), and a call of any size n follows the measured size
    nearest to n on a log scale (a tie to the larger), so a path measured at 16 options is never applied at 4,000."""
    from pricing.kernel_timing import MARGIN, GroupTiming, decide

    sizes = dispatch.SIZES[group]
    secs = st.floats(1e-7, 1.0, allow_nan=False)
    timings = [GroupTiming(group, n, f"{n}", data.draw(secs), data.draw(secs)) for n in sizes]
    decided = decide(timings)
    assert [n for n, _ in decided[group]] == list(sizes)
    for t, (_, path) in zip(timings, decided[group], strict=True):
        assert path == ("numpy" if t.numpy_s < (1 - MARGIN) * t.numba_s else "numba")
    classes = dispatch._Classes(decided[group])
    calls = data.draw(st.lists(st.integers(1, 10**7), min_size=1, max_size=30)) + list(sizes)
    for n in calls:
        # Nearest on a log scale, a tie (n = sqrt(a b)) to the larger: in integers, the last class
        # whose lower bound a b <= n^2.
        nearest = max(i for i in range(len(sizes)) if i == 0 or sizes[i - 1] * sizes[i] <= n * n)
        assert classes.path(n) == decided[group][nearest][1], (n, sizes[nearest])
    assert classes.path(None) == decided[group][-1][1]


def test_measure_takes_a_second_round_before_switching_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Injected timings: a numpy win in one round only (a burst of load on the numba repeats)
    keeps numba; a win in both rounds records numpy, at that size only."""
    from pricing import kernel_timing

    rounds: dict[tuple[str, int], int] = {}

    def fake_calls(group: str, sizes: tuple[int, ...]) -> dict[int, tuple[str, object]]:
        return {n: (f"{n}", (group, n)) for n in sizes}

    def fake_min(fn: tuple[str, int], repeats: int) -> tuple[float, float]:
        group, n = fn
        rounds[fn] = rounds.get(fn, 0) + 1
        if group == "black76.price" and n == 16:
            return (2.0, 1.0)  # numpy faster in every round
        if group == "black76.price" and n == 1_024 and rounds[fn] == 1:
            return (2.0, 1.0)  # numpy faster once: noise
        return (1.0, 2.0)

    monkeypatch.setattr(kernel_timing, "_calls", fake_calls)
    monkeypatch.setattr(kernel_timing, "_min_interleaved", fake_min)
    decided = kernel_timing.decide(kernel_timing.measure())
    assert dict(decided["black76.price"]) == {n: "numpy" if n == 16 else "numba" for n in dispatch.SIZES["black76.price"]}
    assert all(p == "numba" for g in dispatch.GROUPS if g != "black76.price" for _, p in decided[g])


def test_huge_sizes_in_a_record_are_no_record(record: Path) -> None:
    """Two ascending JSON integers beyond a float (sqrt of their product would overflow): not a record."""
    huge = {"black76.price": [[10**400, "numba"], [10**401, "numpy"]]}
    record.write_text(json.dumps({"format": dispatch.FORMAT, "entries": {dispatch.cpu_key(): {"choices": huge}}}))
    dispatch.forget()
    assert dispatch.choices() == {} and dispatch.chosen("black76.price", 5) == "numba"
