"""``clearquote bench ARGS...``: the developer benchmarks of the source checkout, from the command line.

The benchmarks (``bench/``: kernels beside QuantLib, recalc beside IronCalc, FIX, live, ...) are a
tool of the source checkout, outside the wheel: they need the ``test`` extra's peers and the
checkout's data. So this command finds the checkout's ``bench`` package by import spec (without
importing it: a host never imports the benchmarks, ``tests/architecture``), and runs
``python -m bench ARGS...`` in a child process with the checkout first on ``PYTHONPATH``; the
child's exit code is this command's. Where it is looked for, in order: the checkout this
``clearquote`` runs from (an editable install, ``pip install -e .``), then the current folder.
Installed from a wheel and run outside a checkout, it exits 2 and says what is missing and what
to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.machinery import PathFinder
from pathlib import Path

from addin.cli.output import Exit

PACKAGE = "bench"
"""The checkout's benchmark package (a folder beside ``pricing/``)."""
MISSING = (
    "clearquote bench: error: the benchmarks are not installed with clearquote: they are the source "
    "checkout's bench/ package (not in the wheel), and none was found in {places}. In a checkout of the "
    "project, run `pip install -e '.[test]'` (the peers: QuantLib, formulas) and then `clearquote bench "
    "kernels --json` there (or `python -m bench kernels --json`)."
)


def roots() -> list[Path]:
    """Folders that may hold the checkout: this installation's parent of ``addin``, then the current folder."""
    here = Path(__file__).resolve().parents[2]
    cwd = Path.cwd().resolve()
    return [here] if here == cwd else [here, cwd]


def locate(candidates: list[Path] | None = None) -> Path | None:
    """The first candidate folder holding the checkout's ``bench`` package beside ``pricing``, or None.

    Parameters
    ----------
    candidates : list of Path, optional
        Folders to look in (default :func:`roots`).

    Returns
    -------
    Path or None
        The folder to put first on ``PYTHONPATH`` for ``python -m bench``.
    """
    for root in roots() if candidates is None else candidates:
        spec = PathFinder.find_spec(PACKAGE, [str(root)])
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations)))
        if (folder / "__main__.py").is_file() and (folder / "kernels.py").is_file() and (root / "pricing").is_dir():
            return root
    return None


def cmd_bench(argv: list[str], candidates: list[Path] | None = None) -> int:
    """Run the checkout's ``python -m bench ARGV`` (exit code passed through), or exit 2 if there is none.

    Parameters
    ----------
    argv : list of str
        The arguments after ``clearquote bench`` (``kernels --json``, ``--help``, ...).
    candidates : list of Path, optional
        Folders to look in (default :func:`roots`).

    Returns
    -------
    int
        The benchmark's exit code, or :attr:`Exit.BAD_INPUT` when no checkout was found.
    """
    places = roots() if candidates is None else candidates
    root = locate(places)
    if root is None:
        print(MISSING.format(places=", ".join(str(p) for p in places) or "no folder"), file=sys.stderr)
        return int(Exit.BAD_INPUT)
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    try:
        return subprocess.call([sys.executable, "-m", PACKAGE, *argv], env={**os.environ, "PYTHONPATH": path})
    except KeyboardInterrupt:  # the child got the same Ctrl-C and stopped
        return int(Exit.INTERRUPTED)
