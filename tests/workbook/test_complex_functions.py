"""The one-argument IM functions and the IM functions' logical arguments (addin/headless/complex_functions.py).

Oracle: Microsoft's definitions ("IMTAN function", "IMCOT function", "IMSEC function", "IMCSC
function", "IMSECH function", "IMCSCH function", "IMEXP function", "IMLN function", ...: the
principal complex functions), evaluated with Python's ``cmath``; the text form as Excel's cached
values in formulas' test book show (sheet ENGINEERING: a part below 1E-05 in scientific form with
15 significant digits, from 1E-05 in full; a logical cell #VALUE!; a blank 0).
"""

from __future__ import annotations

import cmath
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError
from addin.headless.complex_text import parse
from tests.workbook.bookkit import compute

_FUNCS = {
    "IMTAN": cmath.tan,
    "IMCOT": lambda z: 1 / cmath.tan(z),
    "IMSEC": lambda z: 1 / cmath.cos(z),
    "IMCSC": lambda z: 1 / cmath.sin(z),
    "IMSECH": lambda z: 1 / cmath.cosh(z),
    "IMCSCH": lambda z: 1 / cmath.sinh(z),
    "IMEXP": cmath.exp,
    "IMLN": cmath.log,
    "IMCOS": cmath.cos,
}
_PART = re.compile(r"[+-]?(?:\d+(?:\.\d+)?(?:E[+-]\d\d+)?)")


def _parts_follow_the_rule(text: str) -> bool:
    """Each written part: scientific exactly when its magnitude is below 1E-05 (or from 1E+15)."""
    for p in _PART.findall(text):
        x = abs(float(p))
        if x and ("E" in p) != (x < 1e-5 or x >= 1e15):
            return False
    return True


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-30, 30), st.integers(-30, 30)).filter(lambda t: t != (0, 0)),
        min_size=1,
        max_size=3,
    )
)
def test_values_are_the_principal_functions_written_by_the_rule(
    tmp_path_factory: pytest.TempPathFactory, zs: list[tuple[int, int]]
) -> None:
    """``x+yj`` in A<i>: each function's text parses back to cmath's value (1e-13 relative: the
    15 written digits) and writes each part by the rule."""
    tmp = tmp_path_factory.mktemp("im")
    inputs = {f"A{i}": f"{x}{'+' if y >= 0 else '-'}{abs(y)}j" for i, (x, y) in enumerate(zs, 1)}
    formulas = [f"=_xlfn.{f}(A{i})" for i in range(1, len(zs) + 1) for f in _FUNCS]
    got = compute(tmp, formulas, inputs, column=3)
    k = 0
    for x, y in zs:
        for f in _FUNCS.values():
            text = got[k]
            k += 1
            want = f(complex(x, y))
            assert isinstance(text, str), (x, y, text)
            back = parse(text)
            assert back is not None, text
            assert cmath.isclose(back[0], want, rel_tol=1e-13, abs_tol=1e-300), (x, y, text, want)
            assert _parts_follow_the_rule(text), text


def test_excels_cached_values(tmp_path: Path) -> None:
    """ENGINEERING rows 53, 37, 35, 33, 29, 38: tiny and small parts, a logical, a blank, text."""
    inputs: dict[str, object] = {"A1": "7+25j", "A2": "13+5j", "A3": "-13+25j", "A4": True, "A6": "yvj", "A7": "#VALUE!"}
    formulas = [
        "=_xlfn.IMTAN(A1)",
        "=_xlfn.IMTAN(A2)",
        "=_xlfn.IMCOT(A3)",
        "=_xlfn.IMCSCH(A2)",
        "=_xlfn.IMTAN(A4)",
        "=IMCOS(A5)",
        "=IMLN(A5)",
        "=IMABS(A4)",
        "=IMDIV(A4,A7)",
        "=IMDIV(A6,A4)",
        "=IMABS(A2)",
    ]
    got = compute(tmp_path, formulas, inputs, column=3)
    v, n = ExcelError("#VALUE!"), ExcelError("#NUM!")
    want: list[Any] = [
        "3.82126757337684E-22+j",
        "0.0000692361330972509+0.999941259144671j",
        "-2.94156899085227E-22-j",
        "1.28233995888454E-06+4.33496947416312E-06j",
        v,
        "1",
        n,
        v,
        v,
        n,
        math.hypot(13, 5),
    ]
    assert got[:-1] == want[:-1]
    assert math.isclose(got[-1], want[-1], rel_tol=1e-15)  # type: ignore[arg-type]
