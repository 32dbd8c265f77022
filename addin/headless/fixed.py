"""FIXED as Excel formats: the number to 15 significant digits, rounded, with or without commas.

Microsoft, "FIXED function": ``FIXED(number, [decimals], [no_commas])`` "rounds a number to the
specified number of decimals, formats the number in decimal format using a period and commas,
and returns the result as text"; decimals default to 2, may be negative (rounded left of the
decimal point) and go up to 127; ``no_commas`` TRUE leaves the commas out. "Numbers in
Microsoft Excel can never have more than 15 significant digits". Excel's cached values in
formulas' test book (TEXT!R18:AW18, EXTRA!N4:R5, EXTRA!Q3:R3) show the rest:

* the number keeps 15 significant digits and shows zeros beyond them
  (``FIXED("123456789076754345682.21…",0)`` is ``123,456,789,076,754,000,000``; IronCalc 0.9.1
  converted it through a 64-bit integer, 18,446,744,073,709,551,615);
* decimals above 127 are #VALUE!; a decimals so negative that nothing is left is ``0``; a blank
  cell as decimals is 0 decimals; text that is a number is that number;
* ``no_commas``: a number (0 is FALSE), a logical, or the text ``"TRUE"``/``"FALSE"`` in any case;
  other text (``"1"``, ``"0"``, ``"d"``) is #VALUE!;
* the number: a blank is 0, a logical 1 or 0, numeric text its number, other text #VALUE!.

The rounding is half away from zero on the 15-digit decimal (Excel's ROUND), so 1.005 is 1.01.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from addin.headless.host import elementwise
from addin.headless.numeric_text import text_number
from addin.headless.values import ExcelError

_VALUE = "#VALUE!"
#: Digits enough for a double's 309 integer digits and 127 decimals.
_CONTEXT = Context(prec=500)
#: Excel's largest number of decimals (Microsoft, "FIXED function": "up to 127 digits").
MAX_DECIMALS = 127


def _number(v: Any, what: str) -> float | ExcelError:
    if isinstance(v, ExcelError):
        return v
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        x = text_number(v)
        return ExcelError(_VALUE, f"FIXED: {what} {v[:50]!r} is not a number") if x is None else x
    x = float(v)
    return x if math.isfinite(x) else ExcelError("#NUM!", f"FIXED: {what} is not a finite number")


def _no_commas(v: Any) -> bool | ExcelError:
    if isinstance(v, ExcelError):
        return v
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        word = v.strip().upper()
        if word in ("TRUE", "FALSE"):
            return word == "TRUE"
        return ExcelError(_VALUE, f"FIXED: no_commas {v!r} is not a logical")
    return float(v) != 0


def render(x: float, decimals: int, no_commas: bool) -> str:
    """``x`` to 15 significant digits, rounded half away from zero to ``decimals`` places
    (negative: left of the point), with commas between thousands unless ``no_commas``;
    ``#NUM!`` for an infinite or NaN ``x`` (never raises)."""
    if not math.isfinite(x):
        return "#NUM!"
    if x == 0:
        d = Decimal(0)
    else:
        d = Decimal(f"{x:.15g}")
        if decimals < 0 and -decimals > d.adjusted() + 1:
            d = Decimal(0)  # nothing is left of a number rounded beyond its first digit
        else:
            d = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=_CONTEXT)
    if d == 0:
        d = abs(d)  # no "-0.00"
    places = max(decimals, 0)
    return f"{d:.{places}f}" if no_commas else f"{d:,.{places}f}"


def _one(args: list[Any]) -> Any:
    if not 1 <= len(args) <= 3:
        return ExcelError(_VALUE, "FIXED takes number, [decimals], [no_commas]")
    x = _number(args[0], "number")
    if isinstance(x, ExcelError):
        return x
    places = _number(args[1], "decimals") if len(args) > 1 else 2.0
    if isinstance(places, ExcelError):
        return places
    decimals = math.trunc(places)
    if decimals > MAX_DECIMALS:
        return ExcelError(_VALUE, f"FIXED: decimals {places:g} is above Excel's {MAX_DECIMALS}")
    plain = _no_commas(args[2]) if len(args) > 2 else False
    if isinstance(plain, ExcelError):
        return plain
    return render(x, decimals, plain)


def fixed(calls: list[list[Any]]) -> list[Any]:
    """FIXED over every call of a pass, element by element over arrays (Excel's broadcast)."""
    return elementwise(_one)(calls)


__all__ = ["MAX_DECIMALS", "fixed", "render"]
