"""FIXED (addin/headless/fixed.py) against Microsoft's rule and Excel's cached values.

Microsoft, "FIXED function": the number rounded to ``decimals`` (default 2, negative rounds left
of the point, at most 127), written with a period and commas (none with ``no_commas``); "Numbers
in Microsoft Excel can never have more than 15 significant digits". The property writes that
rule plainly with exact fractions: the number's 15-significant-digit decimal, times
10^decimals, rounded half away from zero to an integer, its digits split at the point and
grouped in threes. Text is compared exactly. Excel's cached values from formulas' test book are
in :data:`CACHED` (cells named).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.fixed import fixed

VALUE = ExcelError("#VALUE!")
BIG = '"123456789076754345682.2121234567832131341"'

#: (formula, Excel's cached value, cell of formulas' test book).
CACHED = [
    (f"=FIXED({BIG},0)", "123,456,789,076,754,000,000", "TEXT!R18"),
    (f"=FIXED({BIG},-128000)", "0", "TEXT!S18"),
    (f"=FIXED({BIG},128)", VALUE, "TEXT!T18"),
    (f"=FIXED({BIG},127)", "123,456,789,076,754,000,000." + "0" * 127, "TEXT!U18"),
    (f"=FIXED({BIG},-3)", "123,456,789,076,754,000,000", "TEXT!V18"),
    (f"=FIXED({BIG},A1)", "123,456,789,076,754,000,000", "TEXT!W18 (a blank cell)"),
    (f'=FIXED({BIG},"ciao")', VALUE, "TEXT!X18"),
    (f'=FIXED({BIG},"3",0)', "123,456,789,076,754,000,000.000", "EXTRA!N4"),
    (f'=FIXED({BIG},"3","0")', VALUE, "EXTRA!O4"),
    (f'=FIXED({BIG},"3",2)', "123456789076754000000.000", "EXTRA!P4"),
    (f'=FIXED({BIG},"3","TRuE")', "123456789076754000000.000", "EXTRA!Q4"),
    (f'=FIXED({BIG},"3","FALSE")', "123,456,789,076,754,000,000.000", "EXTRA!R4"),
    (f'=FIXED({BIG},"3","1")', VALUE, "EXTRA!Q3"),
    ('=FIXED(10001,"36","FALSe")', "10,001." + "0" * 36, "EXTRA!Q5"),
    ("=FIXED(TRUE)", "1.00", "TEXT!AO18 (an element of FIXED(C18:Q18))"),
    ("=FIXED(A1)", "0.00", "TEXT!AM18 (a blank element)"),
]


def rule(x: float, decimals: int, no_commas: bool) -> str:
    """Microsoft's rule with exact fractions (module docstring)."""
    scaled = Fraction(f"{x:.15g}") * Fraction(10) ** decimals
    n = int(abs(scaled) + Fraction(1, 2))  # half away from zero
    places = max(decimals, 0)
    digits = str(n).rjust(places + 1, "0")
    whole, frac = (digits[:-places], digits[-places:]) if places else (digits, "")
    if decimals < 0:
        whole = str(n * 10**-decimals)
    if not no_commas:
        whole = f"{int(whole):,}"
    sign = "-" if scaled < 0 and n else ""
    return sign + whole + ("." + frac if places else "")


@settings(max_examples=500, deadline=None)
@given(
    x=st.one_of(st.floats(-1e22, 1e22, allow_nan=False), st.integers(-(10**6), 10**6).map(lambda n: n / 1000)),
    decimals=st.integers(-25, 30),
    no_commas=st.booleans(),
)
def test_fixed_is_microsofts_rule(x: float, decimals: int, no_commas: bool) -> None:
    assert fixed([[x, float(decimals), no_commas]]) == [rule(x, decimals, no_commas)]


def test_excels_cached_values_through_a_book(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for k, (f, _, _) in enumerate(CACHED, 1):
        ws.cell(k, 3, f)
    wb.save(tmp_path / "f.xlsx")
    res = recalculate(tmp_path / "f.xlsx")
    got: list[Any] = [res.cell("S", k, 3) for k in range(1, len(CACHED) + 1)]
    assert [(f, g) for (f, _, _), g in zip(CACHED, got, strict=True)] == [(f, w) for f, w, _ in CACHED]


def test_an_openpyxl_book_through_recalc_and_validate(tmp_path: Path) -> None:
    """``clearquote recalc`` of an openpyxl book stores FIXED's text, openpyxl reads it back, and
    ``clearquote validate`` of the output agrees on every formula cell."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = 1.2345e20
    ws["B1"] = "=FIXED(A1,1)"
    ws["B2"] = "=FIXED(-1234.5,-2,TRUE)"
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert (back["B1"].value, back["B2"].value) == ("123,450,000,000,000,000,000.0", "-1200")
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
