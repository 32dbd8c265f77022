"""The rewrites' LET/LAMBDA names never collide with the book's names (addin/headless/letnames.py).

The auditor's finding 5: a workbook defined name ``_cqz1`` = 2 or ``_cqlx1`` = 10 broke other
formulas, because the rewrites bound fixed names (``_cqz1``, ``_cqlx1``…) that shadowed the
book's name in the same formula and that IronCalc 0.9.1 refuses (#VALUE!) as LET names when the
book defines them. Invariant: whatever names the book defines, a formula's value is the value
it has in a book without them (the names are constants the expected value reads).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from addin.headless import ExcelError, recalculate
from addin.headless.letnames import LetNames, book_names

#: The stems the rewrites draw from (zero lookups, lifting, XLOOKUP constants, comparisons,
#: 1904 dates, DATE, fifteen digits, huge INDEX, cut lookups, date parts).
_STEMS = [
    "z",
    "zm",
    "zk",
    "zv",
    "lx",
    "la",
    "lr",
    "lc",
    "xl",
    "ca",
    "cb",
    "cd",
    "4v",
    "4d",
    "ds",
    "de",
    "tv",
    "ir",
    "ic",
    "lk",
    "v",
    "n",
]
_NAME = st.builds(
    lambda stem, k, upper: (f"_cq{stem}{k}").upper() if upper else f"_cq{stem}{k}",
    st.sampled_from(_STEMS),
    st.integers(1, 4),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(text=st.lists(_NAME, max_size=6).map(lambda ns: "=" + "+".join(ns or ["1"])), book=st.lists(_NAME, max_size=6))
def test_drawn_names_are_fresh_and_distinct(text: str, book: list[str]) -> None:
    """No drawn name is an identifier of the text or a book name (without regard to case), and
    no two draws are alike."""
    taken = {w.upper() for w in re.findall(r"[A-Za-z_\\][\w.]*", text)} | {b.upper() for b in book}
    with book_names(book):
        fresh = LetNames(text)
        drawn = [fresh(stem) for stem in _STEMS for _ in range(3)]
    assert len({d.upper() for d in drawn}) == len(drawn)
    assert not ({d.upper() for d in drawn} & taken)


def _code(v: Any) -> Any:
    return v.code if isinstance(v, ExcelError) else v


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_NAME, min_size=1, max_size=5, unique_by=str.upper))
def test_the_books_names_never_change_a_formulas_value(tmp_path: Path, names: list[str]) -> None:
    """The auditor's book and more: the book defines constants under the rewrites' own names;
    formulas that refer to them and formulas that do not compute as Excel does (A1:A4 = 1,
    blank, 0, 5; B1:B4 = x, y, z, w)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, (a, b) in enumerate(zip([1, None, 0, 5], "xyzw", strict=True), 1):
        ws.cell(r, 1, a)
        ws.cell(r, 2, b)
    values = {n: 2 for n in names}
    for n in names:
        wb.defined_names[n] = DefinedName(n, attr_text="2")
    first = names[0]
    cases: dict[int, tuple[str, Any]] = {
        1: (f"=VLOOKUP(0,A1:B4,{first},FALSE)", "z"),  # the name is the column index, 2
        2: ("=VLOOKUP(0,A1:B4,2,FALSE)", "z"),
        3: ("=XMATCH(0,A1:A4)", 3.0),
        4: (f'=XLOOKUP({first},{{1,2,3}},{{"a","b","c"}})', "b"),
        5: (f"=SUM(ROUND(A1:A4,0)+{first})", 6.0 + 4 * values[first]),  # array formula
        6: (f"=IF({first}=2,1,0)", 1.0),
        7: (f"=DATE(1900,1,{first})", 2.0),
    }
    for r, (f, _) in cases.items():
        if r == 5:
            ws.cell(r, 5).value = ArrayFormula(f"E{r}", f)
        else:
            ws.cell(r, 5, f)
    wb.save(tmp_path / "n.xlsx")
    got = recalculate(tmp_path / "n.xlsx")
    for r, (f, want) in cases.items():
        assert _code(got.cell("S", r, 5)) == want, (f, names)
