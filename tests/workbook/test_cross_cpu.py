"""The committed desk books validate on a CPU without AVX-512: the same check run with this CPU's
AVX-512 paths switched off, in a fresh process; and a probe that the switch is real.

What picks code by CPU, and how each is switched off here (one home:
:func:`pricing.accel.emulation.avx2_environment`, also the bench's AVX2 profile):

- OpenBLAS (numpy/scipy's BLAS) chooses its kernels at load time: ``OPENBLAS_CORETYPE=Haswell``
  (AVX2 + FMA), or ``Sandybridge`` (AVX, no FMA). This was the amplified difference: the old SVI
  fit ran through ``scipy.optimize.least_squares`` (BLAS inside), and Haswell vs SkylakeX kernels
  moved fitted parameters by up to 2e-4 (docs/reproducibility.md).
- numpy's own SIMD loops (exp, log, ...): ``NPY_DISABLE_CPU_FEATURES`` naming numpy's *own*
  dispatch targets above AVX2 (``X86_V4 AVX512_ICL AVX512_SPR`` on numpy 2.4). Naming the
  features instead (``AVX512F AVX512CD ...``) was a no-op on numpy 2.4: numpy warned, kept
  X86_V4, and exp/log gave the native bits (issue 33's audit).
- numba/LLVM: ``NUMBA_CPU_NAME=haswell`` and ``NUMBA_CPU_FEATURES=""`` (the name alone kept the
  host's AVX-512 features: its code used zmm registers), with a fresh ``NUMBA_CACHE_DIR`` (numba's cache keys
  machine code by CPU name too; the fresh folder makes the test compile for Haswell for sure).

Skipped, with the reason, only where the CPU has no AVX-512 to switch off (an AVX2 x86 or an ARM
machine): there ``test_committed_book_validates`` in ``test_desk_books.py`` is this same check on
that CPU, run directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pricing.accel import numba_installed
from pricing.accel.emulation import above_avx2, avx2_environment, dispatch_targets

ROOT = Path(__file__).resolve().parents[2]
BOOKS = sorted(str(p) for p in (ROOT / "workbooks").glob("*.xlsx"))


def _features() -> dict[str, bool]:
    from numpy._core._multiarray_umath import __cpu_features__

    return dict(__cpu_features__)


#: numpy's dispatch targets above AVX2 that this CPU has: what the emulation must switch off.
ON_HERE = [t for t in above_avx2() if _features().get(t)]
NO_AVX512 = pytest.mark.skipif(
    not ON_HERE, reason="this CPU has no AVX-512: test_desk_books' plain validate is the AVX2/ARM check here"
)

#: Run in the child: what numpy dispatches to, numba's target and the AVX width of its code, OpenBLAS'
#: kernel set, and exp/log/expm1/log10 of fixed inputs (their bits, to compare with this process's).
PROBE = r"""
import ctypes, glob, json, os
import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
out = {"found": [t for t in __cpu_dispatch__ if __cpu_features__[t]]}
import hashlib
x = np.random.default_rng(33).uniform(-700.0, 700.0, 1_000_000)  # finite results: exp(700) < max double
args = {"exp": x, "log": np.abs(x) + 1e-3, "expm1": x / 700.0, "log10": np.abs(x) + 1e-3}
out["fn"] = {f: hashlib.sha256(getattr(np, f)(a).tobytes()).hexdigest() for f, a in args.items()}
try:
    import numba
    from numba import njit
    @njit(cache=False)
    def axpy(a, x, y):
        for i in range(x.size):
            y[i] += a * x[i]
    axpy(2.0, np.ones(64), np.ones(64))
    asm = "".join(axpy.inspect_asm().values())
    out["numba_cpu"] = numba.config.CPU_NAME
    out["zmm"], out["ymm"] = asm.count("zmm"), asm.count("ymm")
except ImportError:
    pass
libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
try:
    get = ctypes.CDLL(libs[0]).scipy_openblas_get_corename64_
    get.restype = ctypes.c_char_p
    out["openblas"] = get().decode()
except (IndexError, OSError, AttributeError):
    out["openblas"] = None
print(json.dumps(out))
"""


def _run(code_or_args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code_or_args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )


def _probe(env: dict[str, str]) -> dict[str, object]:
    done = _run(["-W", "error", "-c", PROBE], env)  # a numpy warning about an unknown target name fails the probe
    assert done.returncode == 0, done.stderr[-3000:]
    got: dict[str, object] = json.loads(done.stdout)
    return got


def test_the_switch_names_every_target_above_avx2_on_any_numpy() -> None:
    """numpy 2.4's grouping and the older per-feature names; never AVX2 or below."""
    assert above_avx2(("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR")) == ("X86_V4", "AVX512_ICL", "AVX512_SPR")
    old = ("SSSE3", "SSE41", "POPCNT", "SSE42", "AVX", "F16C", "FMA3", "AVX2", "AVX512F", "AVX512CD", "AVX512_KNL")
    old += ("AVX512_KNM", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR")
    assert above_avx2(old) == old[8:]
    assert above_avx2(("X86_V3", "X86_V4", "X86_V10", "AVX10_1", "AVX2")) == ("X86_V4", "X86_V10", "AVX10_1")
    assert set(above_avx2()) <= set(dispatch_targets())
    env = avx2_environment({"NUMBA_CPU_FEATURES": "+avx512f", "KEEP": "1"})
    assert env["NUMBA_CPU_FEATURES"] == "" and env["KEEP"] == "1" and env["NUMBA_CPU_NAME"] == "haswell"
    assert env["NPY_DISABLE_CPU_FEATURES"].split() == list(above_avx2()) and env["OPENBLAS_CORETYPE"] == "Haswell"


@NO_AVX512
def test_the_emulated_child_runs_without_avx512(tmp_path: Path) -> None:
    """In the child numpy dispatches to nothing above AVX2 (no X86_V4, no AVX512*), numba compiles
    for Haswell (no zmm register in a vectorised loop, ymm ones instead), OpenBLAS runs its Haswell
    kernels, and numpy's exp/log/expm1/log10 give other bits than this process's AVX-512 loops on
    1,000,000 inputs (the audit saw 46k-101k of 1M values differ; before the fix all were equal)."""
    native = _probe({**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "native")})
    child = _probe({**avx2_environment(os.environ), "NUMBA_CACHE_DIR": str(tmp_path / "avx2")})
    assert not set(child["found"]) & set(above_avx2()), child["found"]  # type: ignore[arg-type]
    assert set(ON_HERE) <= set(native["found"])  # type: ignore[arg-type]
    if numba_installed():
        assert child["numba_cpu"] == "haswell" and child["zmm"] == 0 and child["ymm"] > 0, child  # type: ignore[operator]
    if child["openblas"] is not None:
        assert child["openblas"] == "Haswell", child["openblas"]
    # numpy has AVX-512 loops of exp and log for float64 (X86_V4 / AVX512F targets): switched off,
    # another implementation runs and some results differ in the last bits.
    differ = [f for f in ("exp", "log") if native["fn"][f] != child["fn"][f]]  # type: ignore[index]
    assert differ, "numpy's exp and log gave the same bits with AVX-512 switched off: the switch did nothing"


@NO_AVX512
@pytest.mark.parametrize(
    "kernels, blas",
    [("auto", "Haswell"), ("numpy", "Sandybridge")],
    ids=["numba-haswell-avx2", "numpy-sandybridge-avx"],
)
def test_committed_books_validate_with_avx512_switched_off(kernels: str, blas: str, tmp_path: Path) -> None:
    env = {**avx2_environment(os.environ), "OPENBLAS_CORETYPE": blas}
    env.update({"NUMBA_CACHE_DIR": str(tmp_path), "CLEARQUOTE_KERNELS": kernels})
    done = _run(["-m", "addin.cli", "validate", *BOOKS], env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.count("formula cells match") == len(BOOKS), done.stdout
