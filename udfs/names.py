"""One catalogue, several spellings: the table every host and the headless engine resolve names with.

- desktop (xlwings COM/VBA): ``CQ_BLACK`` (VBA identifiers cannot contain a dot);
- Office.js (xlwings Server, manifest namespace ``CQ``): ``CQ.BLACK`` (``CQ_DEV.BLACK`` in dev);
- what Excel writes into a file for an add-in function it could not resolve at save time:
  ``_xludf.CQ_BLACK`` and, for XLL/registered functions, ``_xll.CQ_BLACK`` (also with dots).

Matching is case-insensitive, as Excel's.
"""

from __future__ import annotations

from udfs.catalogue import CATALOGUE, PREFIX, Spec

FILE_PREFIXES = ("_xludf.", "_xll.")


def spellings(spec: Spec) -> tuple[str, ...]:
    """Every name under which ``spec`` is reachable (upper case)."""
    base = (spec.desktop_name, spec.officejs_name, f"{PREFIX}_DEV.{spec.name}")
    return base + tuple(p.upper() + n for p in FILE_PREFIXES for n in base[:2])


NAME_TABLE: dict[str, str] = {s: spec.name for spec in CATALOGUE.values() for s in spellings(spec)}


def resolve(name: str) -> Spec | None:
    """The catalogue spec for any spelling of a function name, or None if it is not ours."""
    key = name.strip().upper()
    found = NAME_TABLE.get(key)
    return CATALOGUE[found] if found else None
