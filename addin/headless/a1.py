"""A1 references: column letters to numbers and back (Excel's bijective base 26) and one cell's (row, column).

One home for the arithmetic every headless module needs when it reads or writes an A1 reference.
"""

from __future__ import annotations

import re

_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


def column_number(letters: str) -> int:
    """1-based column of upper-case letters without ``$``: "A" is 1, "Z" 26, "AA" 27, "XFD" 16,384.

    Called once per cell when a sheet is scanned, so it takes the letters as the caller has
    them (upper case, no ``$``) and does nothing else.
    """
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(col: int) -> str:
    """The letters of a 1-based column (the inverse of :func:`column_number`; "" for 0)."""
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def cell(text: str | None) -> tuple[int, int] | None:
    """(row, column) of one A1 cell reference ("$B$3" is (3, 2)); None if absent or not one cell."""
    m = _CELL.fullmatch((text or "").strip())
    if m is None:
        return None
    return int(m.group(2)), column_number(m.group(1).upper())


def top_left(text: str) -> tuple[int, int] | None:
    """(row, column) of the cell an A1 reference starts with ("B3:C9" is (3, 2)); None if it does not start with one."""
    m = _CELL.match(text)
    if m is None:
        return None
    return int(m.group(2)), column_number(m.group(1).upper())
