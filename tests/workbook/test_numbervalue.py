"""NUMBERVALUE (addin/headless/numbervalue.py) against Microsoft's rules and Excel's cached values.

Microsoft, "NUMBERVALUE function": the first character of each separator is used; an empty text
is 0; spaces are ignored anywhere; a decimal separator used twice, or a group separator after
it, is #VALUE!; group separators before it are ignored; trailing percent signs divide by 100
each. Where Microsoft is silent, Excel's cached values in formulas' test book (sheet TEXT rows
27-28, listed in :data:`CACHED`) show parentheses as a minus sign, percent signs inside and
after them, and exponents. The property builds text from its parts (sign, digits grouped in
threes, a fraction, an exponent, percent signs, spaces) and checks the value the parts define,
(int + frac) · 10^exp / 100^percents, negative in parentheses or after a minus: the rule
written plainly. Tolerance 1e-12 relative: the engine parses the digits once and scales by one
power of ten, two roundings of a double.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.numbervalue import numbervalue

VALUE = ExcelError("#VALUE!")

#: (formula, Excel's cached value, cell of formulas' test book); H27 is a blank cell there, A1 here.
CACHED = [
    ('=_xlfn.NUMBERVALUE("(2.500,27)",",",".")', -2500.27, "TEXT!R27"),
    ('=_xlfn.NUMBERVALUE("(2,500.27)",",",".")', VALUE, "TEXT!S27"),
    ('=_xlfn.NUMBERVALUE("(2500.27)",".",".,")', VALUE, "TEXT!T27"),
    ('=_xlfn.NUMBERVALUE("(2,500.27%)%",".",",.,")', -0.250027, "TEXT!U27"),
    ('=_xlfn.NUMBERVALUE("(,25,,0,0.27E + 6%)%",".",",.,")', -250027.0, "TEXT!V27"),
    ('=_xlfn.NUMBERVALUE(A1,".",",.,")', 0.0, "TEXT!W27"),
    ("=_xlfn.NUMBERVALUE(A1)", 0.0, "TEXT!AA27"),
    ('=_xlfn.NUMBERVALUE("ciao")', VALUE, "TEXT!AB27"),
    ("=_xlfn.NUMBERVALUE(TRUE)", VALUE, "TEXT!AC27"),
    ('=_xlfn.NUMBERVALUE("(-2500.27E+2%)%",".",",.,")', VALUE, "TEXT!R28"),
    ('=_xlfn.NUMBERVALUE("- 2500.27%E+2%%",".",",.,")', VALUE, "TEXT!S28"),
    ('=_xlfn.NUMBERVALUE("- -2500.27E+2%%",".",",.,")', VALUE, "TEXT!T28"),
    ('=_xlfn.NUMBERVALUE("250)027",")")', 250.027, "TEXT!U28"),
    ('=_xlfn.NUMBERVALUE("(2,500.27%)%",",")', VALUE, "TEXT!V28"),
    ('=_xlfn.NUMBERVALUE("(2500,27E+6%)%",",")', -250027.0, "TEXT!W28"),
    ('=_xlfn.NUMBERVALUE("1",A1)', VALUE, "TEXT!AB28"),
    ('=_xlfn.NUMBERVALUE("1","2",A1)', VALUE, "TEXT!AC28"),
    ('=_xlfn.NUMBERVALUE("9%%")', 0.0009, "Microsoft's example"),
    ('=_xlfn.NUMBERVALUE(" 3 000 ")', 3000.0, "Microsoft's example"),
    ('=_xlfn.NUMBERVALUE("2.500,27",",",".")', 2500.27, "Microsoft's example"),
]


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, ExcelError):
        return got == want
    return isinstance(got, float) and got == pytest.approx(want, rel=1e-12)


def test_excels_cached_values_through_a_book(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for k, (f, _, _) in enumerate(CACHED, 1):
        ws.cell(k, 3, f)
    wb.save(tmp_path / "n.xlsx")
    res = recalculate(tmp_path / "n.xlsx")
    got = [res.cell("S", k, 3) for k in range(1, len(CACHED) + 1)]
    bad = [(f, g, w, cell) for (f, w, cell), g in zip(CACHED, got, strict=True) if not _same(g, w)]
    assert bad == []


_SEPARATORS = st.sampled_from([".", ",", ";", "'", ")", "_"])


def _grouped(digits: str, grp: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return grp.join(parts)


@settings(max_examples=400, deadline=None)
@given(
    whole=st.integers(0, 10**12),
    frac=st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=6)),
    exp=st.one_of(st.none(), st.integers(-20, 20)),
    percents=st.integers(0, 3),
    sign=st.sampled_from(["", "-", "+", "()"]),
    dec=_SEPARATORS,
    grp=_SEPARATORS,
    grouped=st.booleans(),
    spaces=st.lists(st.integers(0, 40), max_size=3),
)
def test_text_built_from_its_parts_is_the_value_of_the_parts(
    whole: int, frac: str | None, exp: int | None, percents: int, sign: str, dec: str, grp: str, grouped: bool, spaces: list[int]
) -> None:
    """Any number written with any two separators, grouped in threes or not, with a fraction,
    an exponent, percent signs and spaces anywhere: NUMBERVALUE is the value of its parts; the
    same separator for both, a second decimal separator or a group after it are #VALUE!."""
    digits = str(whole)
    body = (_grouped(digits, grp) if grouped else digits) + (dec + frac if frac is not None else "")
    body += f"E{exp:+d}" if exp is not None else ""
    text = f"({body}{'%' * percents})" if sign == "()" else f"{sign}{body}{'%' * percents}"
    for at in spaces:
        text = text[: at % (len(text) + 1)] + " " + text[at % (len(text) + 1) :]
    [got] = numbervalue([[text, dec, grp]])
    if dec == grp:
        assert got == VALUE
        return
    value = float(f"{whole}.{frac or 0}") * 10.0 ** (exp or 0) / 100.0**percents
    want = -value if sign in ("-", "()") else value
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300), text
    # a second decimal separator, or a group separator after it: #VALUE!
    assert numbervalue([[f"1{dec}2{dec}3", dec, grp]]) == [VALUE]
    assert numbervalue([[f"1{dec}2{grp}3", dec, grp]]) == [VALUE]


def test_an_openpyxl_book_through_recalc_and_validate(tmp_path: Path) -> None:
    """A book written by openpyxl: ``clearquote recalc`` stores NUMBERVALUE's values (a range
    of texts in an array formula, element by element, a blank element 0), openpyxl reads them
    back, and ``clearquote validate`` of the output agrees on every formula cell."""
    from openpyxl.worksheet.formula import ArrayFormula

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    texts = ["(1.234,5)", None, "7%%", "x"]
    for c, t in enumerate(texts, 1):
        if t is not None:
            ws.cell(1, c, t)
    ws["A3"] = ArrayFormula("A3:D3", '=_xlfn.NUMBERVALUE(A1:D1,",",".")')
    ws["A4"] = '=_xlfn.NUMBERVALUE("(2,500.27%)%",".",",")'
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [back.cell(3, c).value for c in range(1, 5)] == [-1234.5, 0, pytest.approx(0.0007), "#VALUE!"]
    assert back["A4"].value == pytest.approx(-0.250027)
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
