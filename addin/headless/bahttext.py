"""BAHTTEXT as Excel computes it (IronCalc 0.9.1: #NAME?, the function is missing).

Microsoft, "BAHTTEXT function": "Converts a number to Thai text and adds a suffix of 'Baht'";
its example ``BAHTTEXT(1234)`` is หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน. The page gives no rules;
the construction below is the Thai reading of numbers as Excel's cached values in formulas'
test book show it (sheet TEXT, row 6: 0, 157, 65, 65.8, -1, a blank, "ciao", TRUE, errors, and
the same over a range in an array formula), and as LibreOffice implements the function
(``ScInterpreter::ScBahtText``):

* the number is rounded to satang (hundredths), half away from zero, as the decimal its
  shortest form writes (2.675 is 2.68);
* baht is read in blocks of six digits from the right, each block followed by ล้าน (million)
  when a higher block follows; within a block the digits are read with their place words
  แสน (10^5), หมื่น (10^4), พัน (10^3), ร้อย (10^2), สิบ (10), digit words ศูนย์ หนึ่ง สอง
  สาม สี่ ห้า หก เจ็ด แปด เก้า; a tens digit 1 is สิบ alone and 2 is ยี่สิบ; a units digit 1
  after other digits of its block is เอ็ด (11 สิบเอ็ด, 21 ยี่สิบเอ็ด, 101 หนึ่งร้อยเอ็ด:
  Excel's reading of 101 as reported by users, where LibreOffice says หนึ่งร้อยหนึ่ง);
* then บาท, and ถ้วน ("exactly") when there are no satang, else the satang read as a block and
  สตางค์; no baht and some satang is the satang alone (0.5: ห้าสิบสตางค์), zero ศูนย์บาทถ้วน;
* a negative number is prefixed with ลบ (-1: ลบหนึ่งบาทถ้วน, the cached value).

The argument: an error passes on; a blank cell is 0; TRUE and FALSE are 1 and 0 (the cached
``BAHTTEXT(J6)`` with J6 TRUE is หนึ่งบาทถ้วน); numeric text is its number; other text is
#VALUE! ("ciao"). Over a range in an array formula it is evaluated element by element
(:attr:`~addin.headless.host.HostFunction.scalars`).
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from addin.headless.host import elementwise
from addin.headless.values import ExcelError

DIGITS = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
#: Place words of a block, by power of ten (2 to 5); 1 (สิบ) has its own rules.
PLACES = {5: "แสน", 4: "หมื่น", 3: "พัน", 2: "ร้อย"}
TEN, TWENTY, ONE_AFTER, MILLION = "สิบ", "ยี่", "เอ็ด", "ล้าน"
BAHT, EXACTLY, SATANG, MINUS = "บาท", "ถ้วน", "สตางค์", "ลบ"
_NUMERIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def block(value: int) -> str:
    """A block of six digits (1 to 999,999) in Thai words (module docstring)."""
    out = []
    rest = value
    for power in (5, 4, 3, 2):
        digit, rest = divmod(rest, 10**power)
        if digit:
            out.append(DIGITS[digit] + PLACES[power])
    tens, ones = divmod(rest, 10)
    if tens:
        out.append((DIGITS[tens] if tens >= 3 else TWENTY if tens == 2 else "") + TEN)
    if ones:
        out.append(ONE_AFTER if ones == 1 and value > 1 else DIGITS[ones])
    return "".join(out)


def baht_text(x: float) -> str:
    """``x`` in Thai words with บาท and สตางค์ (module docstring)."""
    # the decimal the float stands for (its shortest form: 65.8, not 65.799999...), rounded to
    # satang half away from zero; abs(x) * 100 in binary would round twice above 2^45
    satang_total = int(Decimal(repr(abs(x))).quantize(Decimal("0.01"), ROUND_HALF_UP) * 100)
    baht, satang = divmod(satang_total, 100)
    words = ""
    while baht:
        baht, low = divmod(baht, 1_000_000)
        words = (MILLION if baht else "") + (block(low) if low else "") + words
    if words:
        words += BAHT
    elif not satang:
        words = DIGITS[0] + BAHT
    words += block(satang) + SATANG if satang else EXACTLY
    return MINUS + words if x < 0 and satang_total else words


def _number(value: Any) -> float | ExcelError:
    """BAHTTEXT's argument as Excel reads it (module docstring)."""
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not _NUMERIC.fullmatch(text):
            return ExcelError("#VALUE!", f"BAHTTEXT: {value!r} is not a number")
        return float(text)
    x = float(value)
    return x if math.isfinite(x) else ExcelError("#NUM!")


def _one(args: list[Any]) -> Any:
    if len(args) != 1:
        return ExcelError("#VALUE!", "BAHTTEXT takes one number")
    x = _number(args[0])
    return x if isinstance(x, ExcelError) else baht_text(x)


def bahttext(calls: list[list[Any]]) -> list[Any]:
    """BAHTTEXT(number) for every call of a pass (module docstring)."""
    return elementwise(_one)(calls)
