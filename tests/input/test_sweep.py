"""The sweep: every catalogue function, every argument set to each hostile value of every kind,
never answers "internal error" (that text is reserved for real bugs), never reprints more
than 300 characters of its input, and never raises.

Kinds: ±0, ±1e300, inf, NaN, a 401-digit integer, TRUE, empty text, a unicode look-alike
("ｃ", fullwidth c), an ISO date beyond 9999, a ragged range, an error value, a 100,000-cell
column and a 100,000-character text. The first argument is swept with the rest taken from a valid call where
one is known (so the checks after the first argument are reached too).
"""

from __future__ import annotations

import math

import pytest

import udfs
from udfs.catalogue import CATALOGUE, safe
from udfs.excel import XlError

HOSTILE = [
    0.0,
    -0.0,
    1e300,
    -1e300,
    math.inf,
    math.nan,
    10**400,
    True,
    "",
    "\uff43",
    "9999-12-31T00:00Z",
    [[1.0, 2.0], [3.0]],
    XlError("#N/A"),
    [[1.0]] * 100_000,
    "x" * 100_000,
]


def _internal(value: object) -> list[str]:
    """Reasons that are "internal error", or that reprint more than ~300 characters of input."""
    if isinstance(value, list):
        return [r for v in value for r in _internal(v)]
    if isinstance(value, XlError) and ("internal error" in value.reason or len(value.reason) > 300):
        return [value.reason[:200]]
    return []


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_no_hostile_value_gives_an_internal_error(name: str) -> None:
    spec = CATALOGUE[name]
    call = safe(spec)
    bad = []
    for i, _ in enumerate(spec.args):
        for value in HOSTILE:
            args = [value if j == i else (None if a.optional else 1.0) for j, a in enumerate(spec.args)]
            found = _internal(call(*args))
            if found:
                bad.append(f"{spec.args[i].name}={str(value)[:30]}: {found[0][:160]}")
    assert not bad, bad[:5]


def test_the_sweep_reaches_past_the_first_argument() -> None:
    """A valid call with one hostile argument at a time (CQ_BLACK): each gives that cell an error."""
    base = ["C", 60000.0, 55000.0, 0.25, 0.55]
    for i in range(5):
        for value in (math.inf, 10**400, True, "\uff43"):
            args = [*base]
            args[i] = value
            out = udfs.CQ_BLACK(*args)[0][0]
            assert isinstance(out, XlError) and "internal" not in out.reason, (i, value, out)


def test_a_million_cells_in_the_first_argument_of_every_function() -> None:
    """The 1e6-element kind on every function's first argument (~3 minutes: parsing a million
    cells costs the catalogue 2-20 s a function; every argument would take ~30 minutes, so the
    100,000-cell column above covers the others)."""
    column = [[1.0]] * 1_000_000
    bad = []
    for name, spec in sorted(CATALOGUE.items()):
        if not spec.args:
            continue
        args = [column, *(None if a.optional else 1.0 for a in spec.args[1:])]
        found = _internal(safe(spec)(*args))
        if found:
            bad.append(f"{name}: {found[0]}")
    assert not bad, bad[:5]
