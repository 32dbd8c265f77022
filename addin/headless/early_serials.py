"""ISOWEEKNUM and WEEKNUM of Excel's day 0 (serials from 0 to below 1) in the 1900 date system.

Excel's 1900 date system shows serial 0 as 1900-01-00, the day before 1 January 1900, a Saturday
(Microsoft, "Date systems in Excel": the 1900 system's first day is serial 1; Excel's cached values
in formulas' test book, sheet DATE & TIME: ``ISOWEEKNUM(0)`` and ``ISOWEEKNUM(0.7)`` 52 (the last
ISO week of 1899), ``WEEKNUM(0,1)`` 0, a blank cell as 0). IronCalc 0.9.1 gives #NUM! below 1
for these two, while its YEAR, MONTH and DAY of day 0 are Excel's (1900, 1, 0).

Each call whose first argument is one value (a cell, a number, an expression without a range or
array constant, or one whose only ranges are read by ``INDEX(range, row, column)``, one cell) is written ``LET(v,x,IF(OR(ISNUMBER(v),ISBLANK(v)),IF(AND(v>=0,v<1),<day 0>,F(v)),F(v)))``.
Text arguments and 1904 books (serial 0 is 1904-01-01 there) are left as they are.
"""

from __future__ import annotations

from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, render, significant
from addin.headless.letnames import LetNames

#: Excel's value of each function for day 0.
_DAY0 = {"ISOWEEKNUM": "52", "WEEKNUM": "0"}
DATE_PARTS = frozenset(_DAY0)


def _may_be_array(arg: list[Any]) -> bool:
    """Whether an argument may be an array: it writes a range or an array constant, outside
    ``INDEX(reference, row, column)`` given both a row and a column of one value each, which is
    one cell (Microsoft, "INDEX function": "If both the row_num and column_num arguments are
    used, INDEX returns the value in the cell at the intersection"; a row or column written 0 is
    the whole column or row, and stays an array)."""
    for node in significant(arg):
        if isinstance(node, Call):
            if node.key == "INDEX" and len(node.args) == 3 and all(_one_index(a) for a in node.args[1:]):
                continue
            if any(_may_be_array(a) for a in node.args):
                return True
        elif isinstance(node, Token) and (node.type == Token.ARRAY or (node.subtype == Token.RANGE and ":" in str(node.value))):
            return True
    return False


def _one_index(arg: list[Any]) -> bool:
    text = render(arg).strip()
    return bool(text) and text.strip("0") != "" and not _may_be_array(arg)


def early_serials(node: Call, fresh: LetNames) -> str | None:
    """The call with Excel's value for day 0 (module docstring); None when its first argument
    may be an array (a range, an array constant) or there is none."""
    if not node.args:
        return None
    x = render(node.args[0]).strip()
    if not x or _may_be_array(node.args[0]):
        return None
    rest = "".join("," + render(a) for a in node.args[1:])
    v = fresh("sv")
    own = f"{node.name}({v}{rest})"
    return f"LET({v},{x},IF(OR(ISNUMBER({v}),ISBLANK({v})),IF(AND({v}+0>=0,{v}+0<1),{_DAY0[node.key]},{own}),{own}))"


__all__ = ["DATE_PARTS", "early_serials"]
