"""Cell values as the headless engine passes them: float, str, bool, None (blank), ExcelError."""

from __future__ import annotations

from typing import Any

#: Excel's error codes (the ones a file may store; IronCalc adds #CIRC! and #ERROR!).
ERROR_CODES = frozenset(
    "#NULL! #DIV/0! #VALUE! #REF! #NAME? #NUM! #N/A #GETTING_DATA #SPILL! #CALC! #CIRC! #ERROR! #FIELD! #BLOCKED! #CONNECT! #UNKNOWN! #BUSY!".split()
)


class BookError(Exception):
    """A workbook the engine refuses (the message names the file, and the sheet and cell where one applies)."""


class ExcelError:
    """An Excel error value; ``reason`` says why where the engine knows (a catalogue function's message).

    Equal to another error of the same code whatever the reasons.
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: str, reason: str = "") -> None:
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"ExcelError({self.code!r}{', ' + repr(self.reason) if self.reason else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExcelError) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)


def show(value: Any) -> str:
    """A value for a person: blanks, errors with their reason, numbers to 12 digits."""
    if value is None:
        return "(blank)"
    if isinstance(value, ExcelError):
        return value.code + (f" ({value.reason})" if value.reason else "")
    if isinstance(value, float):
        return f"{value:.12g}"
    return repr(value)


def address(sheet: str, row: int, col: int) -> str:
    """``Sheet!A1`` (quoted when Excel would quote the sheet name)."""
    from openpyxl.utils import get_column_letter

    return f"{quote_sheet(sheet)}!{get_column_letter(col)}{row}"


def quote_sheet(sheet: str) -> str:
    """The sheet name as a formula writes it: quoted (with ' doubled) unless it is a plain word."""
    plain = sheet.replace("_", "a").replace(".", "a").isalnum() and not sheet[:1].isdigit()
    return sheet if plain else "'" + sheet.replace("'", "''") + "'"


def logical(value: Any, default: bool) -> bool | ExcelError:
    """A TRUE/FALSE argument as Excel's functions read it: a blank is ``default``, a number is
    TRUE unless 0, the text TRUE/FALSE in any case; other text is #VALUE!, an error stays."""
    if isinstance(value, list):
        value = value[0][0] if value and value[0] else None
    if value is None:
        return default
    if isinstance(value, ExcelError):
        return value
    if isinstance(value, str):
        up = value.strip().upper()
        return up == "TRUE" if up in ("TRUE", "FALSE") else ExcelError("#VALUE!")
    return bool(value)
