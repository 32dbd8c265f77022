"""IMSUM and IMPRODUCT as Excel computes them (IronCalc 0.9.1 takes two plain values only).

Microsoft, "IMSUM function" and "IMPRODUCT function": "Inumber1, [inumber2], ... Inumber1 is
required, subsequent numbers are not. 1 to 255 complex numbers to add (multiply)", each "a
complex number in the form x + yi or x + yj". IronCalc 0.9.1 cannot parse a call with a third
argument (``IMPRODUCT(C44,D44,E44)``, ``#NAME?``), gives #VALUE! for a range
(``IMSUM(C52:D52,E52)``), and reads a real number beside a ``j`` number as a suffix clash.

The rules, as Excel's cached values in formulas' test book show them (sheet ENGINEERING, rows
44 and 52: ``"7+25j"``, ``"13+5j"``, ``"3.1+2j"``, ``"-3+2i"``, ``"-13+25j"``, a blank, the text
``"yvj"``, TRUE, the error values):

* every argument may be a range (its cells row by row) or a value; they are read in order, and
  the first that is not a complex number decides: an error value is itself, a logical is
  #VALUE! (``IMPRODUCT(J44,I44)`` with J44 TRUE), a text that is not ``x+yi``/``x+yj`` is #NUM!
  (``IMSUM(H52:I52,J52)`` reaches "yvj" before TRUE: #NUM!), a ``j`` after an ``i`` (or the
  reverse) is #VALUE!;
* a blank cell is 0 (``IMPRODUCT(H44,G44)`` is "0"); a number is a real complex number;
* the result is written as COMPLEX writes it, with the suffix of the arguments (``i`` when none
  has one): real and imaginary parts with 15 significant digits (:func:`~addin.headless.textparts.as_text`),
  an imaginary part of 1 or -1 without its digit (``"i"``, ``"1-i"``), a zero part left out,
  zero itself ``"0"``.

Empty text (``""``) is read as 0, as a blank (not in the corpus; Excel's choice not documented).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from addin.headless.textparts import as_text
from addin.headless.values import ExcelError

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
#: ``x``, ``x+yi``, ``x-j``; and ``yi``, ``-i`` (an imaginary part alone).
_BOTH = re.compile(rf"(?P<re>[+-]?{_NUMBER})(?:(?P<sign>[+-])(?P<im>{_NUMBER})?(?P<sfx>[ij]))?")
_IMAGINARY = re.compile(rf"(?P<sign>[+-]?)(?P<im>{_NUMBER})?(?P<sfx>[ij])")


def parse(text: str) -> tuple[complex, str | None] | None:
    """``x+yi`` text as (the number, its suffix or None for a real); None if it is no complex number."""
    m = _BOTH.fullmatch(text)
    if m is not None:
        im = 0.0
        if m.group("sfx"):
            im = float(m.group("im") or 1.0) * (-1 if m.group("sign") == "-" else 1)
        return complex(float(m.group("re")), im), m.group("sfx")
    m = _IMAGINARY.fullmatch(text)
    if m is not None:
        im = float(m.group("im") or 1.0) * (-1 if m.group("sign") == "-" else 1)
        return complex(0.0, im), m.group("sfx")
    return None


def write(z: complex, suffix: str) -> str | ExcelError:
    """``z`` as COMPLEX writes it (module docstring); #NUM! beyond the floating-point range."""
    if not (math.isfinite(z.real) and math.isfinite(z.imag)):
        return ExcelError("#NUM!", "the result is beyond the largest number")
    re_text = str(as_text(z.real)) if z.real else ""
    if not z.imag:
        return re_text or "0"
    magnitude = abs(z.imag)
    digits = "" if magnitude == 1 else str(as_text(magnitude))
    sign = "-" if z.imag < 0 else ("+" if z.real else "")
    return f"{re_text}{sign}{digits}{suffix}"


def _elements(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(v for row in a for v in (row if isinstance(row, list) else [row]))
        else:
            out.append(a)
    return out


def _numbers(args: list[Any], name: str) -> tuple[list[complex], str] | ExcelError:
    """The arguments as complex numbers and the suffix of the result, or the first problem."""
    values: list[complex] = []
    suffix: str | None = None
    for v in _elements(args):
        if isinstance(v, ExcelError):
            return v
        if isinstance(v, bool):
            return ExcelError("#VALUE!", f"{name}: a logical is not a complex number")
        if v is None or v == "":
            values.append(0j)
            continue
        if isinstance(v, int | float):
            values.append(complex(float(v), 0.0))
            continue
        parsed = parse(str(v))
        if parsed is None:
            return ExcelError("#NUM!", f"{name}: {str(v)!r} is not a complex number x+yi or x+yj")
        z, sfx = parsed
        if sfx is not None:
            if suffix is not None and sfx != suffix:
                return ExcelError("#VALUE!", f"{name}: the arguments mix the suffixes i and j")
            suffix = sfx
        values.append(z)
    return values, suffix or "i"


def _fold(name: str, combine: str) -> Callable[[list[list[Any]]], list[Any]]:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            if not 1 <= len(args) <= 255:
                out.append(ExcelError("#VALUE!", f"{name} takes 1 to 255 complex numbers"))
                continue
            got = _numbers(args, name)
            if isinstance(got, ExcelError):
                out.append(got)
                continue
            values, suffix = got
            total = 0j if combine == "sum" else 1 + 0j
            for z in values:
                total = total + z if combine == "sum" else total * z
            out.append(write(total, suffix))
        return out

    evaluate.__doc__ = f"""{name}(inumber1, [inumber2], ...) (Microsoft, "{name} function"; module docstring)."""
    return evaluate


imsum = _fold("IMSUM", "sum")
improduct = _fold("IMPRODUCT", "product")
