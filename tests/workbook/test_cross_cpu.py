"""The committed desk books validate on a CPU without AVX-512: the same check run with this CPU's
AVX-512 paths switched off, in a fresh process.

What picks code by CPU, and how each is switched off here:

- OpenBLAS (numpy/scipy's BLAS) chooses its kernels at load time: ``OPENBLAS_CORETYPE=Haswell``
  (AVX2 + FMA), or ``Sandybridge`` (AVX, no FMA). This was the amplified difference: the old SVI
  fit ran through ``scipy.optimize.least_squares`` (BLAS inside), and Haswell vs SkylakeX kernels
  moved fitted parameters by up to 2e-4 (docs/reproducibility.md).
- numpy's own SIMD loops (exp, log, ...): ``NPY_DISABLE_CPU_FEATURES`` with every AVX-512 feature.
- numba/LLVM: ``NUMBA_CPU_NAME=haswell`` with a fresh ``NUMBA_CACHE_DIR`` (a cached AVX-512
  build would otherwise be reused).

Skipped, with the reason, only where the CPU has no AVX-512 to switch off (an AVX2 x86 or an ARM
machine): there ``test_committed_book_validates`` in ``test_desk_books.py`` is this same check on
that CPU, run directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_features__

ROOT = Path(__file__).resolve().parents[2]
BOOKS = sorted(str(p) for p in (ROOT / "workbooks").glob("*.xlsx"))
AVX512 = sorted(name for name, on in __cpu_features__.items() if name.startswith("AVX512") and on)


def _validate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "addin.cli", "validate", *BOOKS],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.skipif(not AVX512, reason="this CPU has no AVX-512: test_desk_books' plain validate is the AVX2/ARM check here")
@pytest.mark.parametrize(
    "kernels, blas",
    [("auto", "Haswell"), ("numpy", "Sandybridge")],
    ids=["numba-haswell-avx2", "numpy-sandybridge-avx"],
)
def test_committed_books_validate_with_avx512_switched_off(kernels: str, blas: str, tmp_path: Path) -> None:
    env = {
        "NPY_DISABLE_CPU_FEATURES": " ".join(AVX512),
        "OPENBLAS_CORETYPE": blas,
        "NUMBA_CPU_NAME": "haswell",
        "NUMBA_CACHE_DIR": str(tmp_path),
        "CLEARQUOTE_KERNELS": kernels,
    }
    done = _validate(env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.count("formula cells match") == len(BOOKS), done.stdout
