"""NUMBERVALUE as Microsoft's reference states it, with the forms Excel's cached values show.

Microsoft, "NUMBERVALUE function": ``NUMBERVALUE(text, [decimal_separator], [group_separator])``
converts text to a number in a locale-independent way. Its rules, each applied here:

* only the first character of a separator is used; the defaults are the en-US ``.`` and ``,``;
* an empty text is 0; spaces anywhere in the text are ignored (``" 3 000 "`` is 3000);
* a decimal separator used more than once, or a group separator after the decimal separator, is
  #VALUE!; group separators before it are ignored;
* trailing percent signs divide by 100 each (``"9%%"`` is 0.0009);
* any argument that is not valid is #VALUE!.

Where Microsoft is silent, Excel's cached values in formulas' test book (sheet TEXT, rows 27 and
28) show: text in parentheses is negative, percent signs may close the parentheses' content
and follow them (``"(2,500.27%)%"`` with ``"."`` and ``",.,"`` is -0.250027), an exponent
``E+6`` scales it (``"(,25,,0,0.27E + 6%)%"`` is -250027); a sign inside the parentheses, two
signs, or a percent sign before the exponent is #VALUE!; a blank text cell is 0, a logical
#VALUE!, a number itself; a blank cell or empty text as a separator is #VALUE!, and so is the
same character for both separators; any character may be the decimal separator
(``NUMBERVALUE("250)027",")")`` is 250.027); an omitted group separator that is the decimal
separator given means none (``NUMBERVALUE("(2500,27E+6%)%",",")`` is -250027). IronCalc 0.9.1 gave #VALUE! for the parentheses,
the blank text and the exponents with groups, and 1 for a blank group separator.
"""

from __future__ import annotations

import math
from typing import Any

from addin.headless.host import elementwise
from addin.headless.values import ExcelError

_VALUE = "#VALUE!"


def _separator(v: Any, default: str, what: str) -> str | ExcelError:
    if isinstance(v, ExcelError):
        return v
    if v is _OMITTED:
        return default
    if v is None or v == "":
        return ExcelError(_VALUE, f"NUMBERVALUE: the {what} separator is empty")
    text = ("TRUE" if v else "FALSE") if isinstance(v, bool) else _general(v) if isinstance(v, float) else str(v)
    return text[0]


def _general(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)


def _mantissa(s: str, dec: str, grp: str) -> float | None:
    """The digits with the separators read; None where the separators are misplaced."""
    digits, seen_decimal = [], False
    for ch in s:
        if ch.isdigit():
            digits.append(ch)
        elif ch == dec and not seen_decimal:
            digits.append(".")
            seen_decimal = True
        elif grp and ch == grp and not seen_decimal:
            continue  # a group separator before the decimal separator is ignored
        else:
            return None  # a second decimal separator, a group separator after it, anything else
    body = "".join(digits)
    if not any(c.isdigit() for c in body):
        return None
    return float(body)


def parse(text: str, dec: str, grp: str) -> float | ExcelError:
    """The number ``text`` stands for with these one-character separators (module docstring)."""
    s = "".join(text.split())
    if not s:
        return 0.0
    invalid = ExcelError(_VALUE, f"NUMBERVALUE: {text!r} is not a number with {dec!r} and {grp!r} as separators")
    percents = len(s) - len(s.rstrip("%"))
    s = s.rstrip("%")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative = True
        s = s[1:-1]
        inner = len(s) - len(s.rstrip("%"))
        percents += inner
        s = s.rstrip("%")
    elif s[:1] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    exponent = 0
    cut = max(s.rfind("E"), s.rfind("e"))
    if cut > 0 and dec not in "Ee" and (not grp or grp not in "Ee"):
        tail = s[cut + 1 :]
        sign = -1 if tail[:1] == "-" else 1
        tail = tail[1:] if tail[:1] in "+-" else tail
        if not tail.isdigit():
            return invalid
        exponent = sign * int(tail)
        s = s[:cut]
    m = _mantissa(s, dec, grp)
    if m is None:
        return invalid
    try:
        power = exponent - 2 * percents
        value = m * 10.0**power if power >= 0 else m / 10.0**-power  # 9/10**4 is 0.0009, 9*10**-4 is not
    except OverflowError:
        return ExcelError("#NUM!")
    if not math.isfinite(value):
        return ExcelError("#NUM!")
    return -value if negative else value


class _Omitted:
    def __repr__(self) -> str:
        return "omitted"


_OMITTED = _Omitted()


def _one(args: list[Any]) -> Any:
    if not 1 <= len(args) <= 3:
        return ExcelError(_VALUE, "NUMBERVALUE takes text, [decimal_separator], [group_separator]")
    text = args[0]
    if isinstance(text, ExcelError):
        return text
    dec = _separator(args[1] if len(args) > 1 else _OMITTED, ".", "decimal")
    if isinstance(dec, ExcelError):
        return dec
    grp = _separator(args[2] if len(args) > 2 else _OMITTED, ",", "group")
    if isinstance(grp, ExcelError):
        return grp
    if dec == grp:
        if len(args) < 3:
            grp = ""  # the default group separator is the decimal one given: no group separator
        else:
            return ExcelError(_VALUE, f"NUMBERVALUE: {dec!r} cannot separate both decimals and groups")
    if text is None:
        return 0.0
    if isinstance(text, bool):
        return ExcelError(_VALUE, "NUMBERVALUE: a logical is not text of a number")
    if isinstance(text, (int, float)):
        return float(text)
    return parse(str(text), dec, grp)


def numbervalue(calls: list[list[Any]]) -> list[Any]:
    """NUMBERVALUE over every call of a pass, element by element over arrays (Excel's broadcast)."""
    return elementwise(_one)(calls)


__all__ = ["numbervalue", "parse"]
