"""IMSUM and IMPRODUCT as Excel computes them (addin/headless/complex_text.py).

Oracles: Microsoft, "IMSUM function" and "IMPRODUCT function" (1 to 255 complex numbers "in the
form x + yi or x + yj"), "COMPLEX function" (the written form: suffix i or j); Python's complex
arithmetic, written plainly here, for the property; Excel's cached values in formulas' test book
(sheet ENGINEERING, rows 44 and 52), copied here as literals with their cells.
"""

from __future__ import annotations

import math
import re as re_module
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from addin.headless.complex_text import improduct, imsum, parse

#: Row 44/52's inputs: C..J.
ROW = {"C": "7+25j", "D": "13+5j", "E": "3.1+2j", "F": "-3+2i", "G": "-13+25j", "I": "yvj", "J": True}
_PARTS = st.integers(-(10**6), 10**6).map(lambda n: n / 100)


def text(re: float, im: float, suffix: str) -> str:
    """A complex number as a person types it: ``re+imi`` in Python's shortest decimals."""
    if im == 0:
        return repr(re)
    return f"{re!r}{'+' if im > 0 else '-'}{abs(im)!r}{suffix}"


def close(got: complex, want: complex) -> bool:
    """Equal to 15 significant digits of the larger part (what the written result keeps)."""
    scale = max(abs(want.real), abs(want.imag), 1e-300)
    return abs(got - want) <= 2e-14 * scale


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_PARTS, _PARTS), min_size=1, max_size=6), st.sampled_from("ij"))
def test_the_sum_and_product_are_pythons_complex_arithmetic(parts: list[tuple[float, float]], suffix: str) -> None:
    """IMSUM/IMPRODUCT of typed complex numbers, read back, are their sum and product; the
    result keeps the arguments' suffix."""
    args = [text(re, im, suffix) for re, im in parts]
    want_sum = sum((complex(re, im) for re, im in parts), 0j)
    want_product = math.prod((complex(re, im) for re, im in parts), start=1 + 0j)
    for fn, want in ((imsum, want_sum), (improduct, want_product)):
        (got,) = fn([args])
        assert isinstance(got, str)
        back = parse(got)
        assert back is not None, got
        assert close(back[0], want), (fn, args, got, want)
        assert back[1] in (suffix, None)


@settings(max_examples=300, deadline=None)
@given(_PARTS, _PARTS, st.sampled_from("ij"))
def test_a_written_number_parses_back(re: float, im: float, suffix: str) -> None:
    """COMPLEX's form: a zero part left out, 1 and -1 as ``i`` and ``-i``, and it reads back."""
    (got,) = imsum([[text(re, im, suffix)]])
    assert isinstance(got, str)
    assert (got == "0") == (re == 0 and im == 0)
    assert not got.startswith("0+") and re_module.search(r"(?<![\d.])1[ij]$", got) is None  # "i", never "1i"
    back = parse(got)
    assert back is not None and close(back[0], complex(re, im))


def test_excels_rules_for_what_is_not_a_complex_number() -> None:
    """The first problem in order decides: an error is itself, a logical #VALUE!, other text
    #NUM!, mixed suffixes #VALUE!; a blank is 0."""
    err = ExcelError("#DIV/0!")
    cases: list[tuple[Callable[[list[list[Any]]], list[Any]], list[Any], str]] = [
        (imsum, ["1+i", err, True], "#DIV/0!"),
        (imsum, [True, "yvj"], "#VALUE!"),
        (imsum, ["yvj", True], "#NUM!"),
        (imsum, ["1+2I"], "#NUM!"),
        (improduct, ["3+2j", "-3+2i"], "#VALUE!"),
    ]
    for fn, args, code in cases:
        (got,) = fn([args])
        assert isinstance(got, ExcelError) and got.code == code, (args, got)
    assert improduct([[None, "-13+25j"]]) == ["0"]
    assert imsum([["1.5+0.1j", 2.0]]) == ["3.5+0.1j"]


def test_the_corpus_cached_values(tmp_path: Path) -> None:
    """ENGINEERING!R44 ``IMPRODUCT(C44, D44,E44)`` "-825.4+1048j" (three arguments: IronCalc
    cannot parse it), V44 with a blank "0", X44 TRUE before "yvj" #VALUE!, W44 "yvj" #NUM!;
    R52 ``IMSUM(C52:D52,E52)`` "23.1+32j" (a range: IronCalc #VALUE!), V52 #NUM!, AH52
    ``{=IMSUM(C52:E52)}`` the same sum in every cell of the array formula."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for col, v in ROW.items():
        ws[f"{col}1"] = v
    formulas = [
        "=IMPRODUCT(C1, D1,E1)",
        "=IMPRODUCT( H1,G1)",
        "=IMPRODUCT( J1,I1)",
        "=IMPRODUCT( I1,H1)",
        "=IMSUM(C1:D1,E1)",
        "=IMSUM(G1:H1,I1)",
        "=IMPRODUCT( C1:E1)",
    ]
    for i, f in enumerate(formulas, 3):
        ws[f"A{i}"] = f
    ws["B12"] = ArrayFormula("B12:D12", "=IMSUM(C1:E1)")
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    values = [got[("S", i, 1)] for i in range(3, 3 + len(formulas))]
    plain = [v.code if isinstance(v, ExcelError) else v for v in values]
    assert plain == ["-825.4+1048j", "0", "#VALUE!", "#NUM!", "23.1+32j", "#NUM!", "-825.4+1048j"]
    assert [got[("S", 12, c)] for c in (2, 3, 4)] == ["23.1+32j"] * 3
