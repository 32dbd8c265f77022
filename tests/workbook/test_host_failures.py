"""An outside audit's cases of the headless host functions, each kept as a test of its mechanism.

F1 (a) NUMBERVALUE never raises: only ASCII digits 0-9 are digits (Microsoft, "NUMBERVALUE
function", names no other digits; Excel's behaviour with other scripts' digits is not
documented, so they are #VALUE!), an exponent's digits are bounded.
F1 (b) THE MECHANISM: a host function whose batch raises is evaluated call by call, so only the
calls that raise are #VALUE! with the reason (:func:`addin.headless.engine._evaluate`). Property:
for any host function's results and any positions that raise, the other calls' results are
exactly those of the batch without the raising calls.
F2 NUMBERVALUE's value is the correctly rounded double of the decimal (reference: Python's
``float()`` of the decimal string, correctly rounded by David Gay's algorithm, and
``fractions.Fraction`` for the exact value); #NUM! only above a double's range; below the
smallest subnormal it is 0 (IEEE 754's underflow; Excel's is not documented).
F3 FIXED reads text as Excel coerces it (:mod:`addin.headless.numeric_text`): the audit's
``ROUND`` of the same texts through the formula engine gave 1000, 0.1 and 36527.
F4/F5 are in tests/property/test_wildcards.py and below (regex bound).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError, recalculate
from addin.headless.engine import _evaluate
from addin.headless.fixed import fixed, render
from addin.headless.host import HostFunction
from addin.headless.numbervalue import numbervalue, parse
from addin.headless.numeric_text import text_number
from addin.headless.xmatch import xmatch

VALUE = ExcelError("#VALUE!")
NUM = ExcelError("#NUM!")


def _code(v: Any) -> Any:
    return v.code if isinstance(v, ExcelError) else v


# ------------------------------------------------------------------ F1 (b): the mechanism


class _Boom(Exception):
    pass


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-1000, 1000), min_size=1, max_size=12), data=st.data())
def test_a_raising_call_fails_only_itself(values: list[int], data: st.DataObject) -> None:
    raising = data.draw(st.sets(st.integers(0, len(values) - 1)))

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        if any(args[0] == "boom" for args in calls):
            raise _Boom("hostile input")
        return [float(args[0]) * 2 for args in calls]

    fn = HostFunction("DOUBLE", evaluate)
    calls = [["boom"] if k in raising else [v] for k, v in enumerate(values)]
    got = _evaluate(fn, calls)
    alone = _evaluate(fn, [c for k, c in enumerate(calls) if k not in raising])
    assert [g for k, g in enumerate(got) if k not in raising] == alone
    for k in raising:
        assert got[k] == VALUE and "_Boom: hostile input" in (got[k].reason or "")


def test_one_bad_cell_no_longer_poisons_the_book(tmp_path: Path) -> None:
    # the audit's book (mk2.py): "²" beside two good NUMBERVALUE calls
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = "²"
    ws["B1"] = "=NUMBERVALUE(A1)"
    ws["B2"] = '=NUMBERVALUE("12.5")'
    ws["B3"] = '=NUMBERVALUE("3%")'
    wb.save(tmp_path / "nv2.xlsx")
    res = recalculate(tmp_path / "nv2.xlsx")
    assert _code(res.cell("S", 1, 2)) == "#VALUE!"
    assert res.cell("S", 2, 2) == 12.5
    assert res.cell("S", 3, 2) == 0.03


# ------------------------------------------------------------------ F1 (a), F2: NUMBERVALUE


def test_non_ascii_digits_are_value_errors_not_exceptions() -> None:
    for text in ["²", "1E²", "①", "٣٤", "\uff11\uff12", "nan", "inf", "1_000"]:
        assert numbervalue([[text]]) == [VALUE], text


def test_long_exponents_are_bounded() -> None:
    assert numbervalue([["1E" + "9" * 5000]]) == [NUM]
    assert numbervalue([["1E-" + "9" * 5000]]) == [0.0]
    assert numbervalue([["0E" + "9" * 5000]]) == [0.0]
    assert numbervalue([["1E-" + "0" * 5000 + "1"]]) == [0.1]


@settings(max_examples=500, deadline=None)
@given(
    digits=st.text("0123456789", min_size=1, max_size=40),
    exp=st.integers(-400, 400),
    percents=st.integers(0, 160),
)
def test_the_value_is_the_correctly_rounded_decimal(digits: str, exp: int, percents: int) -> None:
    text = f"{digits}E{exp}" + "%" * percents
    got = parse(text, ".", ",")
    exact = Fraction(int(digits)) * Fraction(10) ** (exp - 2 * percents)
    if exact > Fraction(1.7976931348623157e308) * (1 + Fraction(1, 2**53)):
        assert got == NUM  # beyond the largest double (with its rounding half-ulp)
        return
    assert isinstance(got, float)
    assert got == float(f"{int(digits)}e{exp - 2 * percents}")  # one correctly rounded conversion


def test_the_audits_values() -> None:
    assert parse("100000000000000000000E-320", ".", ",") == 1e-300
    assert parse("5" + "%" * 155, ".", ",") == 5e-310  # a subnormal, not #NUM!
    assert parse("1" * 5000, ".", ",") == NUM


# ------------------------------------------------------------------ F3: FIXED's text


def test_fixed_reads_text_as_excels_coercion() -> None:
    # the engine's ROUND of the same text (audit h5.xlsx): 1000, 0.1, 36527
    assert fixed([["$1,000", 0], ["10%", 1], ["1/2/2000", 0], ["(1,000.5)", 1], [" 1e5 ", 0]]) == [
        "1,000",
        "0.1",
        "36,527",
        "-1,000.5",
        "100,000",
    ]
    for text in ["1_000", "nan", "inf", "١٢", "1,00", "(-5)"]:
        assert _code(fixed([[text]])[0]) == "#VALUE!", text
        assert text_number(text) is None, text


def test_fixed_non_finite_never_raises() -> None:
    for args in [[1, float("nan")], [1, float("inf")], [float("inf")], [float("nan")], [1, -1e300]]:
        (got,) = fixed([args])
        assert isinstance(got, (str, ExcelError)), args
    assert render(float("inf"), 2, False) == "#NUM!"
    assert _code(fixed([[1, 1e300]])[0]) == "#VALUE!"


# ------------------------------------------------------------------ F4, F5: XMATCH bounds


def test_wildcard_mode_is_linear_on_the_audit_pattern() -> None:
    # 161 s through re.fullmatch before; the answer checked, no time asserted
    assert xmatch([["*a*a*a*b", [["a" * 1000]], 2]]) == [ExcelError("#N/A")]
    assert xmatch([["*a*a*a*b", [["x"], ["a" * 1000 + "b"]], 2]]) == [2.0]


def test_a_runaway_regular_expression_is_that_calls_error() -> None:
    # (a+)+$ over 31 "a" and a "b": 2**31 backtracking paths (58 s in the audit). The bound is
    # REGEX_LIMIT_S (2 s); the other calls of the batch keep their answers.
    got = xmatch([["(a+)+$", [["x"], ["a" * 31 + "b"]], 3], ["b$", [["x"], ["a" * 31 + "b"]], 3], ["zz", [["x"]], 3]])
    assert _code(got[0]) == "#VALUE!" and "limit" in (got[0].reason or "")
    assert got[1:] == [2.0, ExcelError("#N/A")]


def test_a_runaway_regular_expression_costs_its_cell_not_the_book(tmp_path: Path) -> None:
    # the audit's xr.xlsx: the book used to hit its CPU limit; now B1 is #VALUE! and B4 computes
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = "a" * 30 + "b"
    ws["B1"] = '=XMATCH("(a+)+$",A1:A2,3)'
    ws["B2"] = '=XMATCH("b$",A1:A2,3)'
    ws["B4"] = "=1+1"
    wb.save(tmp_path / "xr.xlsx")
    res = recalculate(tmp_path / "xr.xlsx")
    assert _code(res.cell("S", 1, 2)) == "#VALUE!"
    assert res.cell("S", 2, 2) == 1.0
    assert res.cell("S", 4, 2) == 2.0


_POOL = st.sampled_from([None, 0.0, 1.5, -2.0, 1e300, True, "", "1,000", "$5", "10%", "a", "²", "1/2/2000", ExcelError("#N/A")])


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(["NUMBERVALUE", "FIXED", "VDB", "YEARFRAC", "DEC2BIN", "BIN2DEC"]), data=st.data())
def test_every_real_host_function_keeps_the_other_calls_when_one_raises(name: str, data: st.DataObject) -> None:
    # the mechanism over the catalogue's own functions: a raising call injected at random
    # positions leaves every other call's value as the batch without it gives
    from addin.headless.excel_functions import excel_functions

    real = excel_functions()[name]
    calls = data.draw(st.lists(st.lists(_POOL, min_size=1, max_size=3), min_size=1, max_size=6))
    raising = data.draw(st.sets(st.integers(0, len(calls) - 1), max_size=len(calls)))

    def evaluate(batch: list[list[Any]]) -> list[Any]:
        if any(args and args[0] == "raise!" for args in batch):
            raise _Boom("injected")
        return real.evaluate(batch)

    fn = HostFunction(name, evaluate)
    mixed = [["raise!"] if k in raising else c for k, c in enumerate(calls)]
    got = _evaluate(fn, mixed)
    alone = _evaluate(fn, [c for k, c in enumerate(mixed) if k not in raising])
    assert [g for k, g in enumerate(got) if k not in raising] == alone
    assert all(_code(got[k]) == "#VALUE!" for k in raising)


_DIGITS = st.integers(0, 10**12)


@settings(max_examples=500, deadline=None)
@given(
    whole=_DIGITS,
    frac=st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=6)),
    exp=st.one_of(st.none(), st.integers(-20, 20)),
    percent=st.booleans(),
    sign=st.sampled_from(["", "-", "+", "()"]),
    dollar=st.booleans(),
    grouped=st.booleans(),
)
def test_text_number_is_the_value_of_its_parts(
    whole: int, frac: str | None, exp: int | None, percent: bool, sign: str, dollar: bool, grouped: bool
) -> None:
    # the rule written plainly: (whole + frac) * 10**exp / 100**percent, negative after "-" or in
    # parentheses; tolerance 1e-12 relative: one float() of the digits, one division by 100
    digits = f"{whole:,}" if grouped else str(whole)
    body = ("$" if dollar else "") + digits + (f".{frac}" if frac else "") + (f"E{exp:+d}" if exp is not None else "")
    body += "%" if percent else ""
    text = f"({body})" if sign == "()" else sign + body
    want = (Fraction(whole) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)) * Fraction(10) ** (exp or 0)
    want /= 100 if percent else 1
    want = -want if sign in ("-", "()") else want
    got = text_number(f"  {text} ")
    assert got is not None
    assert abs(Fraction(got) - want) <= abs(want) * Fraction(1, 10**12)
