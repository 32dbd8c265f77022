"""Columns of identical formulas: a formula filled down, recognised without parsing each cell.

A quote book is thousands of rows of the same formulas: ``=CQ_BLACK(D2,G2,C2,H2,I2)`` in row 2,
``=CQ_BLACK(D3,G3,C3,H3,I3)`` in row 3, and so on. In R1C1 form (Excel's own notion of "the same
formula", which it uses to share formulas in the file) they are one formula. The engine
evaluates such a run of host calls as one unit: its arguments read once per column, one
batched call of the host function, one write per column (:mod:`addin.headless.engine`).

Recognising a run must cost less than the per-cell work it saves, so a cell is not parsed: the
first cell of a run is turned into a :class:`Template` (its text with each relative row number
as a slot, filled with ``row + offset``), and each next cell of the column joins the run when
its text is exactly the template rendered at its row (a string comparison). Two texts that
render from one template at their rows are the same formula in R1C1 form: the template keeps
every character but the relative row numbers, and those shift with the row as R1C1 requires.

Only what cannot be misread is a slot: a cell reference (``B2``, ``$B2``, ``Sheet1!B2``) outside
string literals, quoted sheet names and brackets (structured references), not part of a longer
word or number and not a function's name. A row number with ``$`` is absolute: it stays text.
Text that only looks like a reference inside a string (``="A2"&B2``) is kept verbatim, so
``="A3"&B3`` in the next row does not render from the same template: the run ends there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A cell reference's row part as it may appear in a formula: the column letters, the ``$``
#: of an absolute row, the row digits. Not preceded by a word character, ``.`` or ``$``-less
#: letters (``Sheet1``, ``1E5``, ``LOG10(``), not followed by a word character, ``.``, ``(``
#: (a function) or ``!`` (a sheet named like a cell).
#: The row is ASCII digits only: ``\d`` also matches other scripts' digits (``A\U0001fbf1``, a
#: segmented digit one, which ``int`` reads as 1), which are no row in Excel (found by
#: hypothesis: the template rendered ``A1`` for ``A\U0001fbf1``).
_CELL = re.compile(r"(?<![\w.])(\$?[A-Za-z]{1,3})(\$?)([0-9]+)(?![\w.(!])")
#: What is never scanned for references: string literals, quoted sheet names, brackets.
_OPAQUE = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\[[^\]]*\]')
#: Excel's last row (a larger number is a name or a number, not a row).
MAX_ROW = 1_048_576


@dataclass(frozen=True, slots=True)
class Template:
    """A formula's text at row ``row`` with its relative row numbers as slots.

    ``fmt % tuple(r + o for o in offsets)`` is the text the same R1C1 formula has at row ``r``
    (``fmt`` is a %-format: a literal ``%`` of the formula is ``%%``).
    """

    fmt: str
    offsets: tuple[int, ...]
    row: int
    #: The one offset when every slot has it (a formula reading its own row: the common case),
    #: else None: rendering then repeats one number instead of adding each offset.
    same: int | None = None

    def render(self, r: int) -> str:
        """The text this formula has when filled to row ``r``."""
        if self.same is not None:
            return self.fmt % ((r + self.same,) * len(self.offsets))
        return self.fmt % tuple([r + o for o in self.offsets])


def template(text: str, row: int) -> Template:
    """``text`` (a formula in A1 form, in row ``row``) as a :class:`Template`.

    Notes
    -----
    A relative row ``n`` becomes a slot with offset ``n - row`` (R1C1's ``R[n-row]``). Parts
    :data:`_OPAQUE` matches (strings, quoted sheet names, brackets) are copied verbatim, so
    the rendered text at ``row`` is ``text`` itself (a test checks this for any text).
    """
    parts: list[str] = []
    offsets: list[int] = []
    pos = 0
    for m in _OPAQUE.finditer(text):
        _scan(text[pos : m.start()], row, parts, offsets)
        parts.append(m.group(0).replace("%", "%%"))
        pos = m.end()
    _scan(text[pos:], row, parts, offsets)
    same = offsets[0] if offsets and offsets.count(offsets[0]) == len(offsets) else None
    return Template("".join(parts), tuple(offsets), row, same)


def _scan(chunk: str, row: int, parts: list[str], offsets: list[int]) -> None:
    pos = 0
    for m in _CELL.finditer(chunk):
        n = int(m.group(3))
        if m.group(2) or not 1 <= n <= MAX_ROW or m.group(3)[0] == "0":
            continue  # an absolute row, or not a row at all ("A0", "A01"): verbatim
        parts.append(chunk[pos : m.start(3)].replace("%", "%%"))
        parts.append("%d")
        offsets.append(n - row)
        pos = m.end(3)
    parts.append(chunk[pos:].replace("%", "%%"))


#: A single cell argument, optionally on a sheet named without quotes: ``B2``, ``$B2``, ``Market!B2``.
_ONE_CELL = re.compile(r"(?:[A-Za-z_][\w.]*!)?\$?[A-Za-z]{1,3}\$?[0-9]+")


def relative_cell(arg: str, row: int) -> Template | None:
    """A single-cell argument whose row is relative, as a template (one slot); else None.

    ``Market!B7`` at row 7 gives ``Market!B%d`` with offset 0; ``$B$1`` and ranges give None.
    """
    if _ONE_CELL.fullmatch(arg) is None:
        return None
    t = template(arg, row)
    return t if len(t.offsets) == 1 else None


def varies(arg: str, row: int) -> bool:
    """Whether the argument's text changes when the formula is filled down (a relative row)."""
    return bool(template(arg, row).offsets)
