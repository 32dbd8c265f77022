"""The measured kernel choice (issue 33): recorded per CPU, read back and honoured, and a bad
record never breaks the engine (it falls back to the numba path, the behaviour before any record)."""

from __future__ import annotations

import json
import os
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


def _all(path: str) -> dict[str, str]:
    return dict.fromkeys(dispatch.KEYS, path)


def test_choice_is_read_back_and_honoured(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pricing.accel import black76
    from pricing.black import black76_price

    calls = []
    real = black76.price_kernel
    monkeypatch.setattr(black76, "price_kernel", lambda *a: calls.append(1) or real(*a))
    with accel.using("auto"):
        assert dispatch.save({**_all("numba"), "black76.price": "numpy", "black76.price@small": "numpy"}, {}) is None
        assert dispatch.choices()["black76.price"] == "numpy"
        assert not accel.enabled("black76.price") and accel.enabled("black76.greeks")
        black76_price("c", 100.0, [90.0, 110.0], 1.0, 0.2)
        assert calls == []  # numpy path taken
        assert dispatch.save(_all("numba"), {}) is None
        black76_price("c", 100.0, [90.0, 110.0], 1.0, 0.2)
        assert calls == [1]  # kernel taken
        # Small and large batches follow their own measured choice.
        assert dispatch.save({**_all("numba"), "black76.price@small": "numpy"}, {}) is None
        assert not accel.enabled("black76.price", 1) and accel.enabled("black76.price", 10**6)
        black76_price("c", 100.0, [90.0, 110.0], 1.0, 0.2)
        assert calls == [1]  # 2 options: the small-batch choice, numpy
        black76_price("c", 100.0, np.linspace(50, 150, dispatch.SMALL_BELOW["black76.price"]), 1.0, 0.2)
        assert calls == [1, 1]
    # A forced path ignores the record.
    dispatch.save(_all("numpy"), {})
    with accel.using("numba"):
        assert all(accel.enabled(g) for g in dispatch.GROUPS)
    with accel.using("numpy"):
        dispatch.save(_all("numba"), {})
        assert not any(accel.enabled(g) for g in dispatch.GROUPS)


def test_other_cpus_entries_are_kept_and_not_used(record: Path) -> None:
    record.write_text(json.dumps({"format": 1, "entries": {"another-cpu": {"choices": _all("numpy")}}}))
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
        st.dictionaries(st.sampled_from([*dispatch.KEYS, "other"]), st.text(max_size=8) | st.integers(), max_size=6).map(
            lambda ch: json.dumps({"format": 1, "entries": {dispatch.cpu_key(): {"choices": ch}}}).encode()
        ),
    )
)
def test_any_record_content_falls_back_safely(record: Path, content: bytes) -> None:
    """Whatever the file holds, reading it gives only valid choices, and never raises."""
    record.write_bytes(content)
    dispatch.forget()
    got = dispatch.choices()
    assert set(got) <= set(dispatch.KEYS) and set(got.values()) <= set(dispatch.PATHS)
    for group in dispatch.GROUPS:
        assert dispatch.chosen(group) in dispatch.PATHS and dispatch.chosen(group, 1) in dispatch.PATHS
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
        dispatch.save({"black76.price": "gpu"}, {})


def test_warmup_measures_records_and_the_engine_follows(record: Path) -> None:
    """``clearquote warmup``'s measurement writes one valid choice per group for this CPU, and
    both paths give the same prices whichever it picked (tolerance of tests/cross/test_kernel_paths)."""
    from addin.cli.warmup import choose
    from pricing.black import black76_price

    with accel.using("auto"):
        lines, problem = choose()
        assert problem is None and len(lines) == len(dispatch.KEYS)
        saved = json.loads(record.read_text())["entries"][dispatch.cpu_key()]
        assert set(saved["choices"]) == set(dispatch.KEYS)
        assert dispatch.choices() == saved["choices"]
        f = np.linspace(50.0, 150.0, 101)
        auto = black76_price("c", f, 100.0, 1.0, 0.3)
    with accel.using("numpy"):
        assert np.all(np.abs(black76_price("c", f, 100.0, 1.0, 0.3) - auto) <= 1e-13 * (f + 100.0))


def test_simd_level_follows_the_emulation_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """NUMBA_CPU_NAME=haswell (the AVX2 emulation of docs/speed.md) gives another level and another key."""
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.delenv("NUMBA_CPU_NAME", raising=False)
    assert dispatch.simd_level({"llvm_features": "+avx,+avx2,-avx512f"}) == "AVX2"
    assert dispatch.simd_level({"llvm_features": "+avx2,+avx512f"}) == "AVX-512"
    assert dispatch.simd_level({"llvm_features": ""}) == "unknown"
    monkeypatch.setenv("NUMBA_CPU_NAME", "haswell")
    assert dispatch.simd_level({"llvm_features": "+avx512f"}) == "AVX2"
    assert dispatch.cpu_facts()["llvm_cpu"] == "haswell"
    monkeypatch.setenv("NUMBA_CPU_NAME", "skylake-avx512")
    assert dispatch.simd_level({}) == "AVX-512"
