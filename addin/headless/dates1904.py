"""The 1904 date system, computed by the 1900-system formula engine through a rewrite.

A book saved with File > Options > Advanced > "Use 1904 date system" stores dates as days since
1 January 1904 (serial 0); the 1900 system's serial of the same day is 1,462 more (Microsoft,
"Date systems in Excel"). IronCalc computes in the 1900 system only, so every function that
reads a serial as a date gets its argument moved into the 1900 system (+1462), and every
function that makes a date serial gets its result moved back (-1462); a result before
1 January 1904 is #NUM!, as in Excel. Differences of dates are unchanged by the shift, so
only the calendar functions are rewritten. Within the shifted range (serial 1462 onwards) the
1900 system has no leap-year bug, so none of its special cases applies.

Text arguments (``YEAR("2024-03-01")``) are left as they are: the engine reads the text as the
day it names. A blank or a logical moves like the number it stands for (a blank is serial 0,
1 January 1904).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, render, rewrite_calls
from addin.headless.host import FunctionTable, HostFunction
from addin.headless.letnames import LetNames

#: Days from the 1900 system's serial 0 to the 1904 system's serial 0.
OFFSET = 1462

#: Functions reading a date serial: name -> positions (0-based) of the date arguments.
READS: dict[str, tuple[int, ...]] = {
    "YEAR": (0,),
    "MONTH": (0,),
    "DAY": (0,),
    "WEEKDAY": (0,),
    "WEEKNUM": (0,),
    "ISOWEEKNUM": (0,),
    "DAYS": (0, 1),
    "DAYS360": (0, 1),
    "DATEDIF": (0, 1),
    "YEARFRAC": (0, 1),
    "NETWORKDAYS": (0, 1, 2),
    "NETWORKDAYS.INTL": (0, 1, 3),
    "EDATE": (0,),
    "EOMONTH": (0,),
    "WORKDAY": (0, 2),
    "WORKDAY.INTL": (0, 3),
    **dict.fromkeys(
        """COUPDAYBS COUPDAYS COUPDAYSNC COUPNCD COUPNUM COUPPCD PRICE PRICEDISC PRICEMAT YIELD YIELDDISC
        YIELDMAT DISC INTRATE RECEIVED DURATION MDURATION ACCRINTM TBILLPRICE TBILLYIELD TBILLEQ""".split(),
        (0, 1),
    ),
}
#: Functions whose result is a date serial.
MAKES = frozenset("DATE DATEVALUE TODAY NOW EDATE EOMONTH WORKDAY WORKDAY.INTL COUPNCD COUPPCD".split())
_NAMES = re.compile(
    r"\b(" + "|".join(re.escape(n) for n in sorted({*READS, *MAKES, "TEXT"}, key=len, reverse=True)) + r")\s*\(", re.I
)


def needs_1904(text: str) -> bool:
    """Cheap test before tokenising: the formula calls a calendar function."""
    return _NAMES.search(text) is not None


def _date_format(node: list[Any]) -> bool:
    """Whether a TEXT format argument is a string literal that shows a date part."""
    sig = [n for n in node if not (isinstance(n, Token) and n.type == Token.WSPACE)]
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.TEXT:
        return False
    return shows_date(sig[0].value[1:-1].replace('""', '"'))


_FORMAT_CODES = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[hHmMsS]+\]|\[[^\]]*\]|AM/PM|A/P|[dDyY]+|[mM]+|[hH]+|[sS]+|.', re.I)


def shows_date(fmt: str) -> bool:
    """Whether a number format shows a part of the date (day, month or year), so its value must be
    moved into the 1900 system first. Elapsed time (``[h]:mm``, ``[mm]:ss``) and times of day do
    not: an ``m`` right after an hour code or right before a seconds code is minutes (Microsoft,
    "Review guidelines for customizing a number format": "If you use m immediately after the h
    or hh code or immediately before the ss code, Excel displays minutes instead of the month"),
    and after a seconds code as Excel's cached values show (:mod:`addin.headless.numfmt`);
    quoted text, escapes, [colour]/[condition] sections and AM/PM are no codes."""
    codes = []
    for m in _FORMAT_CODES.finditer(fmt):
        t = m.group(0)
        low = t.lower()
        if low[:1] in "dy" and t[:1].isalpha():
            return True
        if low.startswith("[") and low[1:2] in "hms" and low.endswith("]"):
            codes.append(low[1].upper())  # elapsed hours, minutes or seconds: never a month
        elif low[:1] == "m" and len(t) >= 3 and t.isalpha():
            return True  # mmm, mmmm, mmmmm: always the month
        elif low[:1] in "hms" and t.isalpha():
            codes.append(low[0])
    return any(
        # an m after a second is minutes too (ElapsedFormatTests' cached values: the m of s:m is the minutes)
        c == "m" and (k == 0 or codes[k - 1].lower() not in "hs") and (k + 1 == len(codes) or codes[k + 1].lower() != "s")
        for k, c in enumerate(codes)
    )


def rewrite_1904(text: str) -> str:
    """The formula computing in the 1904 system on a 1900-system engine (module docstring)."""
    nodes = parse(text)
    fresh = LetNames(text)

    def moved(arg: list[Any]) -> str:
        v = fresh("4v")
        return f"LET({v},{render(arg)},IF(ISTEXT({v}),{v},{v}+{OFFSET}))"

    def in_1904(node: Call) -> str | None:
        key = node.key
        positions = READS.get(key, ())
        if key == "TEXT" and len(node.args) == 2 and _date_format(node.args[1]):
            positions = (0,)
        args = [moved(a) if k in positions and render(a).strip() else render(a) for k, a in enumerate(node.args)]
        call = f"{node.name}({','.join(args)})"
        if key in MAKES:
            d = fresh("4d")
            call = f"LET({d},{call}-{OFFSET},IF({d}<0,#NUM!,{d}))"
        return call if call != render([node]) else None

    return formula(nodes) if rewrite_calls(nodes, in_1904) else text


# ----------------------------------------------------------------------------- host functions


def _to_1900(value: Any) -> Any:
    """A date argument's value in the 1900 system: numbers (also in a range's rows) +1462;
    text (ISO dates name their day), blanks, logicals and errors as they are."""
    if isinstance(value, list):
        return [_to_1900(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value + OFFSET
    return value


def _shifted(fn: HostFunction) -> HostFunction:
    positions = fn.dates

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        moved = [[_to_1900(a) if k in positions else a for k, a in enumerate(args)] for args in calls]
        return fn.evaluate(moved)

    return dataclasses.replace(fn, evaluate=evaluate)


class _In1904(Mapping[str, HostFunction]):
    """A function table whose functions read their date arguments as 1904 serials."""

    def __init__(self, table: FunctionTable) -> None:
        self._table = table
        self._done: dict[str, HostFunction] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._table

    def __getitem__(self, key: str) -> HostFunction:
        fn = self._done.get(key)
        if fn is None:
            fn = self._table[key]
            fn = self._done[key] = _shifted(fn) if fn.dates else fn
        return fn

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def in_1904(table: FunctionTable) -> FunctionTable:
    """``table`` for a 1904 book: each host function with date arguments (``HostFunction.dates``:
    the catalogue's as-of times and expiries) gets them moved into the 1900 system it reads,
    +1,462 days (Microsoft, "Date systems in Excel"), so the date cell of a 1904 book means the
    same day it shows. Functions without date arguments are the table's own."""
    return _In1904(table)


def text_in_1904(fn: HostFunction) -> HostFunction:
    """TEXT for a 1904 book when the format is a cell's value (``TEXT(A1,A2)``, which
    :func:`rewrite_1904` cannot read when it rewrites the formula): a number shown with a format
    that shows a date part (:func:`shows_date`) is moved +1,462 days into the 1900 system the
    renderer reads; elapsed time, times of day and other formats are not moved."""

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        moved = []
        for args in calls:
            fmt = args[1] if len(args) == 2 else None
            while isinstance(fmt, list) and len(fmt) == 1:
                fmt = fmt[0]
            if isinstance(fmt, str) and shows_date(fmt):
                args = [_to_1900(_one(args[0])), args[1]]
            moved.append(args)
        return fn.evaluate(moved)

    return dataclasses.replace(fn, evaluate=evaluate)


def _one(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value
