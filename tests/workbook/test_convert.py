"""CONVERT as Excel computes it (addin/headless/convert.py).

Oracle: Microsoft, "CONVERT function" (support.microsoft.com): its unit table, the decimal
prefixes (Y 1E+24 ... y 1E-24, "da" or "e" deka) for metric units, the binary prefixes
(ki 2^10 ... Yi 2^80) for bit and byte, #N/A for units of different groups or unknown units,
#VALUE! for a wrong type of number, and its examples (CONVERT(1,"lbm","kg") 0.4535924 to its
7 decimals, CONVERT(68,"F","C") 20, CONVERT(2.5,"ft","sec") #N/A,
CONVERT(CONVERT(100,"ft","m"),"ft","m") 9.290304). Where Microsoft is silent, Excel's cached
values in formulas' test book (``../shared/corpus/excel``, sheets EXTRA and ENGINEERING), copied
here as literals with their cells. A second, independent transcription of the table (the
``formulas`` 1.3.4 package's ``units.json``, a test dependency) checks every factor the two
share.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError
from addin.headless.convert import UNITS, convert_one, readings
from tests.workbook.bookkit import compute

#: Microsoft's prefix table, written out again here (the rule under test, not the module's).
DECIMAL = {
    "Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3, "h": 2, "da": 1, "e": 1,
    "d": -1, "c": -2, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18, "z": -21, "y": -24,
}  # fmt: skip
BINARY = {"ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60, "Zi": 70, "Yi": 80}
#: Units Microsoft marks as taking prefixes whose reading is unambiguous (the prefixed string is
#: no other unit's name), with the power the prefix is raised to (areas 2, volumes 3).
METRIC = {"g": 1, "m": 1, "sec": 1, "Pa": 1, "N": 1, "J": 1, "W": 1, "T": 1, "l": 1, "m2": 2, "m3": 3, "bit": 1, "uk_pt": 1}
_NUMBERS = st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-6)


def _plain(value: object) -> object:
    return value.code if isinstance(value, ExcelError) else value


@settings(max_examples=400, deadline=None)
@given(_NUMBERS, st.sampled_from(sorted(METRIC)), st.sampled_from(sorted(DECIMAL)))
def test_a_decimal_prefix_scales_by_its_power_of_ten(x: float, unit: str, prefix: str) -> None:
    """CONVERT(x, prefix & unit, unit) is x times 10^(exponent x the unit's power)."""
    prefixed = prefix + unit
    if prefixed in UNITS:  # "mm" is not a prefixed unit's only reading ("m" "m": millimetre)
        return
    got = convert_one([x, prefixed, unit])
    assert isinstance(got, float)
    assert got == pytest.approx(x * 10.0 ** (DECIMAL[prefix] * METRIC[unit]), rel=1e-15, abs=0)


@settings(max_examples=200, deadline=None)
@given(_NUMBERS, st.sampled_from(["bit", "byte"]), st.sampled_from(sorted(BINARY)))
def test_a_binary_prefix_scales_by_its_power_of_two(x: float, unit: str, prefix: str) -> None:
    """Powers of two are exact in binary floating point: the product is exact."""
    assert convert_one([x, prefix + unit, unit]) == x * 2.0 ** BINARY[prefix]


@settings(max_examples=300, deadline=None)
@given(_NUMBERS, st.sampled_from(sorted(UNITS)), st.sampled_from(sorted(UNITS)))
def test_units_of_one_group_convert_and_round_trip_others_are_na(x: float, a: str, b: str) -> None:
    """Between two units of one group CONVERT is linear and converting back gives x again (to
    the rounding of two products: 1e-12 relative); units of different groups are #N/A (a name
    with two readings, "pc" a parsec and a pico-calorie, converts where either reading does)."""
    there = convert_one([x, a, b])
    if not {r[0] for r in readings(a)} & {r[0] for r in readings(b)}:
        assert isinstance(there, ExcelError) and there.code == "#N/A"
        return
    assert isinstance(there, float)
    assert convert_one([there, b, a]) == pytest.approx(x, rel=1e-12, abs=1e-300)
    assert convert_one([2 * x, a, b]) == pytest.approx(2 * there, rel=1e-15, abs=1e-300)


def test_every_factor_agrees_with_an_independent_transcription_of_the_table() -> None:
    """Every unit both tables hold, without a prefix, to 1e-12 relative (the 15 significant
    digits both hold, less the last one); ``formulas``' binary prefixes are not compared: its
    ``kibit`` is 8 where Microsoft's ki is 2^10."""
    theirs = json.loads((resources.files("formulas") / "functions" / "units.json").read_text())
    compared = 0
    for name, (group, factor, _, _) in UNITS.items():
        if name not in theirs or group == "temperature" or len(theirs[name]) != 1:
            continue
        ((their_group, their_factor),) = theirs[name].items()
        assert their_group == group, name
        # the two tables pick different reference units for volume (litre) and speed (m/h)
        # alike; the ratio to one common unit of the group is compared
        anchor = {"volume": "l", "speed": "m/h"}.get(group)
        if anchor is not None:
            their_factor /= next(iter(theirs[anchor].values()))
        assert math.isclose(factor, their_factor, rel_tol=1e-12), name
        compared += 1
    assert compared >= 120


def test_microsofts_examples_and_the_error_rules() -> None:
    assert round(convert_one([1.0, "lbm", "kg"]), 7) == 0.4535924
    assert convert_one([68.0, "F", "C"]) == pytest.approx(20.0, abs=1e-12)
    assert _plain(convert_one([2.5, "ft", "sec"])) == "#N/A"
    assert convert_one([convert_one([100.0, "ft2", "m2"]), "m2", "m2"]) == pytest.approx(9.290304, rel=1e-15)
    assert _plain(convert_one([1.0, "lbs", "kg"])) == "#N/A"  # unknown unit
    assert _plain(convert_one([1.0, "KG", "g"])) == "#N/A"  # units are case-sensitive
    assert _plain(convert_one([True, "m", "ft"])) == "#VALUE!"  # a logical number
    assert _plain(convert_one(["x", "m", "ft"])) == "#VALUE!"
    assert convert_one(["2", "m", "cm"]) == 200.0  # numeric text is its number
    assert convert_one([None, "m", "cm"]) == 0.0  # a blank is 0
    assert _plain(convert_one([ExcelError("#DIV/0!"), "m", "cm"])) == "#DIV/0!"


def test_the_corpus_cells_through_a_book(tmp_path: Path) -> None:
    """Formulas' test book, sheet EXTRA (units in column T, prefixes in row 1) and ENGINEERING."""
    inputs: dict[str, object] = {
        "T1": "hweight",
        "T2": "sec",
        "T3": "c",
        "T4": "m/s",
        "X1": "Y",
        "Y1": "e",
        "Z1": "p",
        "AA1": "T",
    }
    inputs["A1"] = True
    cases: dict[str, object] = {
        '=CONVERT(1,T1,"g")': 50802.34544,  # U12
        '=CONVERT(2,T1,"g")/CONVERT(1,T1,"g")': 2.0,  # V12
        '=CONVERT(CONVERT(1,T1,"g"),"g",T1)': 1.0,  # W12
        '=CONVERT(1,X1&T2,"sec")': 1e24,  # X41
        '=CONVERT(1,Y1&T2,"sec")': 10.0,  # AH41: "e" is deka
        '=CONVERT(1,Z1&T3,"J")': 4.184e-12,  # AN59: pico-calorie, not the parsec "pc"
        '=CONVERT(1,AA1&T4,"m/h")': 3.6e15,  # AB162: exactly (IronCalc 0.9.1: 3599999999999997)
        '=CONVERT(A1,"C","F")': "#VALUE!",  # ENGINEERING!Y16: TRUE is not a number here
    }
    got = compute(tmp_path, list(cases), inputs, column=30)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert _plain(value) == want, formula


def test_recalc_and_validate_an_openpyxl_book(tmp_path: Path) -> None:
    """A units table written by openpyxl: ``clearquote recalc`` stores each conversion, a reader
    sees the numbers, and ``clearquote validate`` of the result agrees (exit 0); an array formula
    over a row of numbers is #VALUE! in each cell, as Excel's cached values show
    (ENGINEERING!AH16:AW16, ``{=CONVERT(C16:Q16,"C","F")}``)."""
    from openpyxl.worksheet.formula import ArrayFormula

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    rows = [("mi", "km", 1609.344 / 1000), ("kibyte", "bit", 8192.0), ("uk_gal", "l", 4.54609), ("hr", "Ms", 3600 / 1e6)]
    for r, (a, b, _) in enumerate(rows, 1):
        ws.cell(r, 1).value, ws.cell(r, 2).value = a, b
        ws.cell(r, 3).value = f"=CONVERT(1,A{r},B{r})"
    ws["E1"], ws["F1"] = 1, 2
    ws["E2"] = ArrayFormula("E2:F2", '=CONVERT(E1:F1,"km","m")')
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    for r, (_, _, want) in enumerate(rows, 1):
        assert out.cell(r, 3).value == pytest.approx(want, rel=1e-15)
    assert [out["E2"].value, out["F2"].value] == ["#VALUE!", "#VALUE!"]
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
