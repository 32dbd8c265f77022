"""The formulas the formula engine must not be given: calls outside their function's arity.

IronCalc 0.9.1 panics while reading some formulas Excel itself would never save (a call outside
its function's argument count: :mod:`addin.headless.arity`), and a panic loses every cell of
the book. :func:`screen` names those formulas, so that the engine's copy is written again
without them (:attr:`~addin.headless.package.SheetInfo.refused`): each is an error in its own
cell, with the reason, and every other cell keeps its value.

Done on every book before its first load: the package reader records a common formula without
its text (a block of rows in one step, no Python loop per cell), so the screen reads the sheets'
formulas again, in C, and checks each distinct shape once (its digits as 0: a quote book of
100,000 filled-down rows has a few dozen; 0.4 s for 300,000 formulas).
"""

from __future__ import annotations

import re
import zipfile
from functools import cache

from addin.headless.a1 import column_number
from addin.headless.arity import fault, table
from addin.headless.package import CELL_F, R_ATTR, Package, SheetInfo

#: A formula's text (any namespace prefix).
_TEXT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f\b[^>]*>([^<]*)<")
_SHARED = re.compile(rb'(?:^|\s)t\s*=\s*"shared"')
_SI = re.compile(rb'(?:^|\s)si\s*=\s*"(\d+)"')
_ENTITY = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}


def screen(pkg: Package) -> int:
    """Mark refused every formula of ``pkg`` whose call is outside its function's argument
    count (with every cell of its shared-formula group: they are written as its text), the
    reason kept; how many cells were newly refused."""
    added = 0
    with zipfile.ZipFile(pkg.path) as z:
        names = set(z.namelist())
        for s in pkg.sheets:
            if s.part in names and s.formulas:
                added += _screen_sheet(s, z.read(s.part))
    return added


#: Every digit as 0: what differs between the rows of a filled-down formula (its references'
#: rows) never changes an argument count, and ``bytes.translate`` runs in C.
_ZERO = bytes.maketrans(b"123456789", b"000000000")


@cache
def _zeroed() -> dict[str, tuple[int, int]]:
    """:func:`~addin.headless.arity.table` by name with its digits as 0 (LOG10 as LOG00), to check shapes."""
    return {name.translate(str.maketrans("123456789", "000000000")): v for name, v in table().items()}


def _screen_sheet(s: SheetInfo, data: bytes) -> int:
    # each shape once (the texts with their references and numbers blanked, joined and split
    # in C): a sheet of filled-down rows has a few shapes, however many rows
    shapes = set(b"\x00".join(_TEXT.findall(data)).translate(_ZERO).split(b"\x00"))
    if all(fault(_unescape(shape.decode("utf-8", "replace")), _zeroed()) is None for shape in shapes):
        return 0
    found = CELL_F.findall(data)
    bad: dict[tuple[int, int], str] = {}
    groups: dict[bytes, list[tuple[int, int]]] = {}
    faulty: dict[bytes, str] = {}
    for cell_attrs, attrs, raw in found:
        ref = R_ATTR.search(cell_attrs)
        if ref is None:
            continue
        cell = (int(ref.group(2)), column_number(ref.group(1).decode().upper()))
        si = _SI.search(attrs) if _SHARED.search(attrs) else None
        if si is not None:
            groups.setdefault(si.group(1), []).append(cell)
        if not raw:
            continue
        why = fault(_unescape(raw.decode("utf-8", "replace")))
        if why is not None:
            bad[cell] = why
            if si is not None:
                faulty[si.group(1)] = why
    for key, why in faulty.items():
        for cell in groups[key]:
            bad.setdefault(cell, why)
    added = 0
    for cell, why in bad.items():
        if cell in s.formulas and cell not in s.refused:
            s.refused[cell] = why
            added += 1
    return added


def _unescape(text: str) -> str:
    return re.sub(r"&(?:lt|gt|quot|apos|amp);", lambda m: _ENTITY[m.group(0)], text)


__all__ = ["screen"]
