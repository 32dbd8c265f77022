"""Excel tables and their structured references (``Table1[#All]``, ``[col3]``, ``Table1[@Qty]``).

The formula engine resolves only some forms of structured reference; this module turns every
form into the absolute A1 range it stands for, from the table definitions in the package
(``xl/tables/tableN.xml``: name, range, header and totals row counts, column names), as
Microsoft's "Using structured references with Excel tables" defines them:

* ``Table1`` and ``Table1[]`` are the data rows, all columns;
* ``[#All]``, ``[#Data]``, ``[#Headers]``, ``[#Totals]`` and ``[#This Row]`` (``@``) select rows,
  several of them combined when adjacent (``[[#Headers],[#Data]]``);
* ``[col]`` and ``[[col1]:[col2]]`` select columns (names are case-insensitive; ``'`` escapes
  ``[``, ``]``, ``#`` and ``'`` in a name);
* a reference without a table name (``[col3]``, ``[@col3]``) means the table the formula is in.

A reference that names no known table or column, or rows the table does not have, is left as
written, so the engine answers it as it would (#REF!/#NAME?).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from openpyxl.utils import get_column_letter

from addin.headless.values import quote_sheet

_HEAD = re.compile(r"^([A-Za-z_\\][\w.\\]*)?\[(.*)\]$", re.S)


@dataclass(frozen=True)
class Table:
    """One table: its name, sheet, range (1-based, inclusive) and layout."""

    name: str
    sheet: str
    row1: int
    col1: int
    row2: int
    col2: int
    header_rows: int
    totals_rows: int
    columns: tuple[str, ...]

    def rows(self, special: str, at_row: int) -> tuple[int, int] | None:
        """First and last row of one row specifier, None when the table has no such rows."""
        data = (self.row1 + self.header_rows, self.row2 - self.totals_rows)
        key = special.upper().replace(" ", "")
        if key == "#ALL":
            return self.row1, self.row2
        if key == "#DATA":
            return data
        if key == "#HEADERS":
            return (self.row1, self.row1 + self.header_rows - 1) if self.header_rows else None
        if key == "#TOTALS":
            return (self.row2 - self.totals_rows + 1, self.row2) if self.totals_rows else None
        if key == "#THISROW":
            return (at_row, at_row) if data[0] <= at_row <= data[1] else None
        return None

    def column(self, name: str) -> int | None:
        # a header's line break may be written "\n", "\r\n" or the file's escape _x000a_
        up = _plain(name)
        return next((self.col1 + i for i, c in enumerate(self.columns) if _plain(c) == up), None)

    def contains(self, sheet: str, row: int, col: int) -> bool:
        return sheet.upper() == self.sheet.upper() and self.row1 <= row <= self.row2 and self.col1 <= col <= self.col2


def _groups(inner: str) -> list[str] | None:
    """The bracketed items and ``:``/``,``/``@`` separators of a specifier, names unescaped."""
    out: list[str] = []
    i, n = 0, len(inner)
    while i < n:
        ch = inner[i]
        if ch.isspace():
            i += 1
        elif ch in ":,@":
            out.append(ch)
            i += 1
        elif ch == "[":
            j, name = i + 1, []
            while j < n and inner[j] != "]":
                if inner[j] == "'" and j + 1 < n:
                    j += 1
                name.append(inner[j])
                j += 1
            if j >= n:
                return None
            out.append("[" + "".join(name))
            i = j + 1
        else:
            return None
    return out


def _specifier(inner: str) -> tuple[list[str], tuple[str, str] | None] | None:
    """(row specifiers, (first column, last column) or None for all) of a reference's brackets."""
    inner = inner.strip()
    if not inner:
        return [], None
    if not inner.startswith("["):
        # a single item without inner brackets: Table1[#All], Table1[col], Table1[@col], [@]
        if inner.startswith("@"):
            rest = inner[1:].strip()
            if rest.startswith("["):
                spec = _specifier(rest)
                return None if spec is None else (["#This Row"], spec[1])
            return ["#This Row"], ((_unescape(rest), _unescape(rest)) if rest else None)
        if inner.startswith("#"):
            return [inner], None
        name = _unescape(inner)
        return [], (name, name)
    items = _groups(inner)
    if items is None:
        return None
    rows: list[str] = []
    cols: list[str] = []
    k = 0
    while k < len(items):
        item = items[k]
        if item == "@":
            rows.append("#This Row")
        elif item.startswith("[#"):
            rows.append(item[1:])
        elif item.startswith("["):
            if k + 2 < len(items) and items[k + 1] == ":" and items[k + 2].startswith("["):
                cols += [item[1:], items[k + 2][1:]]
                k += 2
            else:
                cols += [item[1:], item[1:]]
        k += 1
    if len(cols) > 2:
        return None
    return rows, ((cols[0], cols[1]) if cols else None)


def _plain(name: str) -> str:
    """A column name as compared: case-insensitive, line breaks as one ``\n``, no outer blanks."""
    name = re.sub(r"_x000[aAdD]_", "\n", name).replace("\r\n", "\n").replace("\r", "\n")
    return name.strip().upper()


def _unescape(name: str) -> str:
    return re.sub(r"'(.)", r"\1", name)


def resolve(ref: str, tables: list[Table], sheet: str, row: int, col: int) -> str | None:
    """The A1 range a structured reference written in ``sheet`` at (row, col) stands for."""
    m = _HEAD.match(ref.strip())
    if m is None:
        if any(t.name.upper() == ref.strip().upper() for t in tables):
            return resolve(ref.strip() + "[]", tables, sheet, row, col)  # the table's name alone: its data
        return None
    name, inner = m.group(1), m.group(2)
    if name is not None:
        table = next((t for t in tables if t.name.upper() == name.upper()), None)
    else:
        table = next((t for t in tables if t.contains(sheet, row, col)), None)
    if table is None:
        return None
    spec = _specifier(inner)
    if spec is None:
        return None
    specials, cols = spec
    spans = [table.rows(s, row) for s in (specials or ["#Data"])]
    if any(s is None for s in spans):
        return None
    rows = sorted(s for s in spans if s is not None)
    for (_, last), (first, _) in itertools.pairwise(rows):
        if first > last + 1:
            return None  # Excel accepts only adjacent row areas
    r1, r2 = rows[0][0], max(s[1] for s in rows)
    if cols is None:
        c1, c2 = table.col1, table.col2
    else:
        a, b = table.column(cols[0]), table.column(cols[1])
        if a is None or b is None:
            return None
        c1, c2 = min(a, b), max(a, b)
    if r1 > r2:
        return None
    start = f"${get_column_letter(c1)}${r1}"
    end = f"${get_column_letter(c2)}${r2}"
    return f"{quote_sheet(table.sheet)}!{start}" + ("" if (r1, c1) == (r2, c2) else f":{end}")


def mention(tables: list[Table]) -> re.Pattern[str]:
    """A pattern finding a formula that may hold a structured reference: brackets, or a table's
    name alone (``SUM(Table1)``, which means ``Table1[]``)."""
    names = "|".join(re.escape(t.name) for t in tables if t.name)
    return re.compile(r"\[" + (rf"|\b(?:{names})\b" if names else ""), re.I)


__all__ = ["Table", "mention", "resolve"]
