"""The environment that runs a process as on an AVX2 CPU (no AVX-512) on a machine that has AVX-512.

Why one home: three libraries pick their code by CPU, each with its own switch, and the switch
for numpy depends on numpy's version. numpy 2.4 groups its dispatch targets as ``X86_V3 X86_V4
AVX512_ICL AVX512_SPR``; there ``NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX ..."``
names no target (numpy warns and ignores them) and its AVX-512 loops stay on: exp, log, expm1,
log10 gave the native bits (issue 33's audit). So the names to disable are read from numpy's own
dispatch targets, never written down: every target above AVX2 (``X86_V4`` and up, every
``AVX512*`` and ``AVX10*``), which on older numpy are ``AVX512F``, ``AVX512CD``, ``AVX512_SKX``, ...

The switches (:func:`avx2_environment`):

* numpy's SIMD loops: ``NPY_DISABLE_CPU_FEATURES`` = the targets above AVX2 (:func:`above_avx2`);
* numba/LLVM: ``NUMBA_CPU_NAME=haswell`` (AVX2 + FMA) **and** ``NUMBA_CPU_FEATURES=""`` (empty),
  so LLVM takes Haswell's own features. ``NUMBA_CPU_NAME`` alone is not enough: numba then passes
  the *host's* features (``+avx512f``, ...) with the name, and the code still used ``zmm``
  registers (seen on this znver5; the earlier emulation had that hole too). numba's disk cache
  keys machine code by CPU name and features, so an AVX-512 build in the cache is not reused;
* OpenBLAS (numpy's and scipy's BLAS): ``OPENBLAS_CORETYPE=Haswell``.

Used by ``tests/workbook/test_cross_cpu.py``, by ``python -m bench kernels --profile avx2`` and,
for a shell, by ``python -m pricing.accel.emulation`` (prints the ``export`` lines).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

_ABOVE_AVX2 = re.compile(r"^(AVX512.*|AVX10.*|X86_V([4-9]|\d\d+))$")
"""numpy dispatch-target names above AVX2: the x86-64-v4 level and up, every AVX-512/AVX10 group."""


def dispatch_targets() -> tuple[str, ...]:
    """numpy's dispatch targets in this build (``__cpu_dispatch__``), in numpy's order.

    Returns
    -------
    tuple of str
        E.g. ``("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR")`` on numpy 2.4; empty when the
        build does not say (the private module moved).
    """
    try:
        import numpy._core._multiarray_umath as umath
    except ImportError:  # numpy 1.x kept it under numpy.core
        try:
            import numpy.core._multiarray_umath as umath
        except ImportError:
            return ()
    return tuple(str(t) for t in getattr(umath, "__cpu_dispatch__", ()))


def above_avx2(targets: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The dispatch targets a CPU without AVX-512 does not have.

    Parameters
    ----------
    targets : tuple of str, optional
        Dispatch-target names (default: this numpy's, :func:`dispatch_targets`).

    Returns
    -------
    tuple of str
        Those above AVX2, in the given order.

    Examples
    --------
    >>> above_avx2(("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"))
    ('X86_V4', 'AVX512_ICL', 'AVX512_SPR')
    >>> above_avx2(("AVX", "F16C", "FMA3", "AVX2", "AVX512F", "AVX512CD", "AVX512_SKX"))
    ('AVX512F', 'AVX512CD', 'AVX512_SKX')
    """
    names = dispatch_targets() if targets is None else targets
    return tuple(n for n in names if _ABOVE_AVX2.match(n))


def avx2_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` (e.g. ``os.environ``) with AVX-512 switched off in numpy, numba and OpenBLAS.

    Parameters
    ----------
    base : mapping of str to str
        The environment to start from (not modified).

    Returns
    -------
    dict of str to str
        A new environment for a child process: ``NPY_DISABLE_CPU_FEATURES``, ``NUMBA_CPU_NAME``,
        ``NUMBA_CPU_FEATURES`` (empty: the named CPU's own), ``OPENBLAS_CORETYPE`` set as in the
        module docstring.
    """
    env = dict(base)
    env["NUMBA_CPU_FEATURES"] = ""
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(above_avx2())
    env["NUMBA_CPU_NAME"] = "haswell"
    env["OPENBLAS_CORETYPE"] = "Haswell"
    return env


def _main() -> int:
    """Print the emulation's settings as POSIX shell lines (``eval "$(python -m pricing.accel.emulation)"``)."""
    env = avx2_environment({})
    for name in ("NPY_DISABLE_CPU_FEATURES", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "OPENBLAS_CORETYPE"):
        print(f"export {name}='{env[name]}'")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
