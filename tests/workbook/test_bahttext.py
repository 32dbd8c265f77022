"""BAHTTEXT as Excel computes it (addin/headless/bahttext.py).

Oracle: Microsoft, "BAHTTEXT function" (support.microsoft.com/excel/bahttext-function: "Converts
a number to Thai text and adds a suffix of 'Baht'", example BAHTTEXT(1234)
หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน); Excel's cached values in formulas' test book
(``../shared/corpus/excel``, sheet TEXT, row 6), copied here as literals with their cells; and
an independent reading of the Thai words back into a number, written here (a left-to-right
parser of digit and place words, not the module's construction), for the property.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from addin.headless.bahttext import baht_text
from tests.workbook.bookkit import compute

DIGIT = {"ศูนย์": 0, "หนึ่ง": 1, "สอง": 2, "สาม": 3, "สี่": 4, "ห้า": 5, "หก": 6, "เจ็ด": 7, "แปด": 8, "เก้า": 9}
PLACE = {"แสน": 100_000, "หมื่น": 10_000, "พัน": 1_000, "ร้อย": 100}
WORDS = sorted([*DIGIT, *PLACE, "สิบ", "ยี่", "เอ็ด", "ล้าน"], key=len, reverse=True)

#: Excel's cached values, formulas' test book, sheet TEXT: (cell, argument, cached text).
CACHED = [
    ("R6", 0, "ศูนย์บาทถ้วน"),
    ("S6", 157, "หนึ่งร้อยห้าสิบเจ็ดบาทถ้วน"),
    ("T6", 65, "หกสิบห้าบาทถ้วน"),
    ("U6", 65.8, "หกสิบห้าบาทแปดสิบสตางค์"),
    ("V6", -1, "ลบหนึ่งบาทถ้วน"),
    ("W6", None, "ศูนย์บาทถ้วน"),
    ("Y6", True, "หนึ่งบาทถ้วน"),
]


def read_thai(words: str) -> int:
    """The whole number Thai ``words`` say (digit words, place words, สิบ, ยี่ 2 before สิบ,
    เอ็ด 1, ล้าน a factor of a million on everything before it)."""
    total = block = 0
    pending: int | None = None
    i = 0
    while i < len(words):
        word = next((w for w in WORDS if words.startswith(w, i)), None)
        assert word is not None, f"not a Thai number word at {words[i:]!r}"
        i += len(word)
        if word in DIGIT:
            assert pending is None, f"two digits in a row in {words!r}"
            pending = DIGIT[word]
        elif word == "ยี่":
            pending = 2
        elif word in PLACE:
            assert pending, f"a place word without its digit in {words!r}"
            block, pending = block + pending * PLACE[word], None
        elif word == "สิบ":
            block, pending = block + (1 if pending is None else pending) * 10, None
        elif word == "เอ็ด":
            block += 1
        else:  # ล้าน
            total, block, pending = (total + block + (pending or 0)) * 1_000_000, 0, None
    return total + block + (pending or 0)


def read_baht(text: str) -> tuple[bool, int, int]:
    """(negative, baht, satang) read back from BAHTTEXT's text."""
    negative = text.startswith("ลบ")
    text = text.removeprefix("ลบ")
    baht_words, _, rest = text.partition("บาท")
    if not _:  # satang alone
        baht_words, rest = "", text
    if rest == "ถ้วน":
        return negative, read_thai(baht_words), 0
    assert rest.endswith("สตางค์"), text
    return negative, read_thai(baht_words), read_thai(rest.removesuffix("สตางค์"))


def test_microsofts_example_and_the_corpus_cached_values() -> None:
    assert baht_text(1234) == "หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน"
    for _, x, want in CACHED:
        assert baht_text(float(x or 0)) == want


@settings(max_examples=2000, deadline=None)
@given(st.integers(-(10**13), 10**13), st.integers(0, 99))
def test_the_words_read_back_as_the_number(baht: int, satang: int) -> None:
    """Read back by an independent parser, the text says the number to the satang: the sign,
    the baht and the satang, for amounts up to 10^13 baht (15 significant digits with the
    satang: Excel's precision)."""
    x = (abs(baht) * 100 + satang) / 100 * (-1 if baht < 0 else 1)
    negative, b, s = read_baht(baht_text(x))
    assert (b, s) == (abs(baht), satang)
    assert negative == (x < 0)


@settings(max_examples=2000, deadline=None)
@given(st.floats(-1e12, 1e12, allow_nan=False))
def test_the_construction_rules_hold_for_any_number(x: float) -> None:
    """Thai reading: สิบ alone for a tens 1 (never หนึ่งสิบ), ยี่สิบ for 2 (never สองสิบ);
    เอ็ด only after another word of the number, หนึ่ง never right after สิบ; ถ้วน exactly when
    there are no satang; ลบ first exactly for a negative number that rounds to a satang or more;
    the satang are the number's rounded half away from zero."""
    text = baht_text(x)
    cents = int((Decimal(repr(abs(x))) * 100).to_integral_value(ROUND_HALF_UP))
    assert "หนึ่งสิบ" not in text and "สองสิบ" not in text
    assert "สิบหนึ่ง" not in text
    assert not text.removeprefix("ลบ").startswith("เอ็ด")
    assert text.endswith("ถ้วน") == (cents % 100 == 0)
    assert text.startswith("ลบ") == (x < 0 and cents > 0)
    assert read_baht(text)[1:] == divmod(cents, 100)


def test_blocks_of_a_million() -> None:
    """ล้าน after each block with a lower block after it; a block of 1 after ล้าน is หนึ่ง."""
    assert baht_text(1_000_000) == "หนึ่งล้านบาทถ้วน"
    assert baht_text(21_000_000) == "ยี่สิบเอ็ดล้านบาทถ้วน"
    assert baht_text(1_000_000_000_000) == "หนึ่งล้านล้านบาทถ้วน"
    assert baht_text(101) == "หนึ่งร้อยเอ็ดบาทถ้วน"
    assert baht_text(0.5) == "ห้าสิบสตางค์"


def test_through_a_book_with_excels_argument_rules(tmp_path: Path) -> None:
    """The cached cells' arguments through the engine (blank, TRUE, a negative, a fraction),
    numeric text, other text #VALUE! (TEXT!X6 "ciao"), errors passed on (TEXT!AA6:AF6)."""
    inputs: dict[str, object] = {"A1": 157, "A2": 65.8, "A3": -1, "A5": True, "A6": "ciao", "A7": "12"}
    formulas = [f"=BAHTTEXT(A{i})" for i in range(1, 8)] + ["=BAHTTEXT(1/0)", "=BAHTTEXT(NA())"]
    got = compute(tmp_path, formulas, inputs)
    assert got[:5] == ["หนึ่งร้อยห้าสิบเจ็ดบาทถ้วน", "หกสิบห้าบาทแปดสิบสตางค์", "ลบหนึ่งบาทถ้วน", "ศูนย์บาทถ้วน", "หนึ่งบาทถ้วน"]
    assert isinstance(got[5], ExcelError) and got[5].code == "#VALUE!"
    assert got[6] == "สิบสองบาทถ้วน"
    assert [g.code if isinstance(g, ExcelError) else g for g in got[7:]] == ["#DIV/0!", "#N/A"]


def test_over_a_range_in_an_array_formula_each_cell(tmp_path: Path) -> None:
    """``{=BAHTTEXT(C6:Q6)}`` (TEXT!AH6:AW6): each cell's text, #N/A beyond the range."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"], ws["B1"], ws["C1"] = 0, 157, 65.8
    ws["A3"] = ArrayFormula("A3:D3", "=BAHTTEXT(A1:C1)")
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    row = [got[("S", 3, c)] for c in range(1, 5)]
    assert row[:3] == ["ศูนย์บาทถ้วน", "หนึ่งร้อยห้าสิบเจ็ดบาทถ้วน", "หกสิบห้าบาทแปดสิบสตางค์"]
    assert isinstance(row[3], ExcelError) and row[3].code == "#N/A"
