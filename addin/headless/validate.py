"""``validate``: recompute every formula and compare with the values Excel cached in the file.

The comparison rule (also the corpus benchmark's), by kind of value:

- numbers (prices, IM, XVA, vols, fit parameters, P&L): equal within ``atol + rtol·|computed|``,
  by default rtol = atol = 1e-9. The measured spread behind it (docs/reproducibility.md): the
  desk books recomputed on other CPUs (AVX2 and AVX-512 numpy, OpenBLAS Haswell, SkylakeX,
  Sandybridge kernels, numba for haswell) agree with their stored values to 2.1e-14 relative on
  one kernel path, and the numpy and numba paths to 1.1e-10 (scenario P&L near zero);
- whole numbers on both sides (counts, ranks, day numbers; below 2^53): exactly, whatever the
  tolerance, so that a loosened ``--rtol`` never hides a count that changed;
- error values by their code, booleans and text exactly, blank equal to empty text.

Cells that call a volatile function, or whose value moves with one (found by the engine), are
skipped and counted, never reported as mismatches: Excel's cached value is of another moment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from addin.headless.engine import FunctionTable, Result, recalculate
from addin.headless.isolation import Budget, check_sendable, run
from addin.headless.package import Limits
from addin.headless.recalc import DEFAULT_BUDGET, child_plan, child_progress, detached
from addin.headless.values import BookError, ExcelError, address


@dataclass(frozen=True)
class Mismatch:
    cell: str
    stored: Any
    computed: Any
    why: str


@dataclass(frozen=True)
class Validation:
    result: Result
    mismatches: list[Mismatch]
    compared: int
    skipped_volatile: int
    #: Cells skipped because no offline engine can compute them, by reason (cell counts).
    skipped_offline: dict[str, int] = field(default_factory=dict)


def same(stored: Any, computed: Any, rtol: float, atol: float) -> str | None:
    """None when equal under Excel's types and the tolerance; else why not."""
    blank_s = stored is None or stored == ""
    blank_c = computed is None or computed == ""
    if blank_s and blank_c:
        return None
    if blank_s:
        return "no cached value in the file (recalculate it first)"
    if isinstance(stored, ExcelError) or isinstance(computed, ExcelError):
        return None if stored == computed else "different value"
    if isinstance(stored, bool) or isinstance(computed, bool):
        return None if type(stored) is type(computed) and stored == computed else "different value"
    if isinstance(stored, (int, float)) and isinstance(computed, (int, float)):
        if _whole(stored) and _whole(computed):
            return None if float(stored) == float(computed) else "different whole number (compared exactly)"
        diff = abs(float(stored) - float(computed))
        if diff <= atol + rtol * abs(float(computed)):
            return None
        rel = diff / abs(float(computed)) if computed else math.inf
        return f"differs by {diff:.3g} (relative {rel:.3g} > rtol {rtol:g})"
    return None if str(stored) == str(computed) else "different value"


_EXACT_LIMIT = 2.0**53  # from here on every float is whole: a float's own rounding, not a count


def _whole(x: int | float) -> bool:
    return abs(x) < _EXACT_LIMIT and float(x).is_integer()


def validate(
    path: Path | str,
    functions: FunctionTable | None = None,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    limits: Limits | None = None,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    budget: Budget | None = DEFAULT_BUDGET,
) -> Validation:
    """Recompute ``path`` and compare every formula cell with its cached value.

    ``atol`` (1e-9 by default) keeps values that should be zero from failing on rounding
    noise, where a relative test means nothing. By default the book is evaluated in a child
    process within ``budget``, as :func:`~addin.headless.recalc.recalc` (whose docstring says
    what that means for the result); ``budget=None`` runs in this process, uncapped.
    """
    if not (0 <= rtol < 1) or not (atol >= 0):
        raise BookError(f"--rtol must be in [0, 1) and --atol >= 0 (got {rtol}, {atol})")
    if budget is not None:
        check_sendable(functions)
        got: Validation = run(
            "addin.headless.validate:_validate_in_child",
            (str(path), functions, rtol, atol, limits),
            str(path),
            budget,
            on_plan=on_plan,
            progress=progress,
        )
        return got
    result = recalculate(path, functions, limits=limits, cached=True, progress=progress, on_plan=on_plan)
    stored = {(s.name, r, c): v for s in result.package.sheets for (r, c), v in s.cached.items()}
    mismatches: list[Mismatch] = []
    compared = skipped = 0
    offline: dict[str, int] = {}
    for key in sorted(result.values):
        if key in result.volatile:
            skipped += 1
            continue
        why_offline = result.offline.get(key)
        if why_offline is not None:
            offline[why_offline] = offline.get(why_offline, 0) + 1
            continue
        compared += 1
        computed = result.values[key]
        why = same(stored.get(key), computed, rtol, atol)
        if why is not None:
            mismatches.append(Mismatch(address(*key), stored.get(key), computed, why))
    return Validation(result, mismatches, compared, skipped, offline)


def _validate_in_child(path: str, functions: FunctionTable | None, rtol: float, atol: float, limits: Limits | None) -> Validation:
    """:func:`validate` in a book's child: the result without its live model (it cannot cross)."""
    v = validate(path, functions, rtol=rtol, atol=atol, limits=limits, progress=child_progress, on_plan=child_plan, budget=None)
    return dataclasses.replace(v, result=detached(v.result))
