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


_ASCII_DIGITS = frozenset("0123456789")
#: Exponent digits read at most: any exponent beyond 10**6 is out of a double's range whatever
#: the mantissa's digits (a text cell holds at most 32,767 characters), so more digits than
#: this only decide between #NUM! and 0 and are not worth an unbounded int().
MAX_EXPONENT_DIGITS = 7


def _mantissa(s: str, dec: str, grp: str) -> tuple[str, int] | None:
    """The mantissa's digits and the count of them after the decimal separator; None where
    the separators are misplaced or a character is not an ASCII digit 0-9."""
    digits: list[str] = []
    decimals, seen_decimal = 0, False
    for ch in s:
        if ch in _ASCII_DIGITS:
            digits.append(ch)
            decimals += seen_decimal
        elif ch == dec and not seen_decimal:
            seen_decimal = True
        elif grp and ch == grp and not seen_decimal:
            continue  # a group separator before the decimal separator is ignored
        else:
            return None  # a second decimal separator, a group separator after it, anything else
    if not digits:
        return None
    return "".join(digits), decimals


def _exact(digits: str, power: int) -> float | ExcelError:
    """``int(digits) * 10**power`` as the nearest double, computed exactly; #NUM! beyond
    a double's range.

    One ``float()`` of a rebuilt decimal string is correctly rounded (Python reads decimal
    strings with David Gay's algorithm), so ``"100000000000000000000E-320"`` is 1e-300.
    A nonzero value below the smallest subnormal (about 4.9e-324) rounds to 0, IEEE 754's
    default for an underflow (the text names a real number near 0, not one too large; Excel's
    behaviour there is not documented).
    """
    body = digits.lstrip("0")
    if not body:
        return 0.0
    magnitude = len(body) + power  # the value is below 10**magnitude and at least 10**(magnitude-1)
    if magnitude > 309:
        return ExcelError("#NUM!", "NUMBERVALUE: the number is beyond the largest double (1.8E+308)")
    if magnitude < -330:
        return 0.0  # underflow: below the smallest subnormal whatever the digits
    value = float(f"{body}e{power}")
    if not math.isfinite(value):
        return ExcelError("#NUM!", "NUMBERVALUE: the number is beyond the largest double (1.8E+308)")
    return value


def parse(text: str, dec: str, grp: str) -> float | ExcelError:
    """The number ``text`` stands for with these one-character separators (module docstring).

    Never raises: digits are ASCII 0-9 only (Microsoft's page names no other digits; a
    superscript or Arabic-Indic digit is #VALUE!), an exponent has at most
    :data:`MAX_EXPONENT_DIGITS` digits after its leading zeros, and the value is computed
    exactly (:func:`_exact`).
    """
    s = "".join(text.split())
    if not s:
        return 0.0
    invalid = ExcelError(_VALUE, f"NUMBERVALUE: {text[:50]!r} is not a number with {dec!r} and {grp!r} as separators")
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
        if not tail or not set(tail) <= _ASCII_DIGITS:
            return invalid
        tail = tail.lstrip("0") or "0"
        # a longer exponent is past any text's digits either way: 0 below, #NUM! above (_exact)
        exponent = sign * (10**MAX_EXPONENT_DIGITS if len(tail) > MAX_EXPONENT_DIGITS else int(tail))
        s = s[:cut]
    m = _mantissa(s, dec, grp)
    if m is None:
        return invalid
    digits, decimals = m
    value = _exact(digits, exponent - decimals - 2 * percents)
    if isinstance(value, ExcelError):
        return value
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
        return float(text) if math.isfinite(text) else ExcelError("#NUM!", "NUMBERVALUE: the number is not finite")
    return parse(str(text), dec, grp)


def numbervalue(calls: list[list[Any]]) -> list[Any]:
    """NUMBERVALUE over every call of a pass, element by element over arrays (Excel's broadcast)."""
    return elementwise(_one)(calls)


__all__ = ["numbervalue", "parse"]
