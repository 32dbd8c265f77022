"""XMATCH (and XLOOKUP over array constants, which is XMATCH's position) as Excel searches.

Sources: Microsoft, "XMATCH function" (match_mode 0 exact, -1 exact or next smaller, 1 exact or
next larger, 2 wildcards; search_mode 1 first to last, -1 last to first, 2 and -2 binary
searches over an array sorted ascending or descending, "if not sorted, invalid results will be
returned"); Microsoft, "Sort data in a range or table" (the order Excel sorts values in:
numbers, text, logical values FALSE before TRUE, errors, blanks last); and, where Microsoft is
silent, the values Excel cached in formulas' test book (``../shared/corpus/excel``, sheets
LOOKUP rows 162-197 and EXTRA rows 72-94), listed in :data:`CACHED` with their cells.

The rule is written plainly below (:func:`rule`), independently of ``addin/headless/xmatch.py``:
one order over every value (kind first, then the value, text case-folded), the linear search
taking the first exact item or else the nearest item on the asked side, first in search order;
the binary search Microsoft names, bisecting 1-based bounds at ``(lo + hi) // 2``. Positions are
whole numbers: compared exactly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.xmatch import takes

NA = ExcelError("#N/A")
VALUE = ExcelError("#VALUE!")


def _key(v: Any) -> tuple[Any, ...]:
    """Excel's sort order (Microsoft, "Sort data in a range or table"), text case-folded."""
    if v is None:
        return (4,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, float(v))
    return (1, v.casefold())


def _wild(pattern: str, v: Any) -> bool:
    """Excel's wildcards: ``*`` any run, ``?`` one character, ``~`` makes the next literal; case-insensitive, no folding."""
    if not isinstance(v, str):
        return False
    out = ""
    i = 0
    while i < len(pattern):
        if pattern[i] == "~" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += {"*": ".*", "?": "."}.get(pattern[i], re.escape(pattern[i]))
        i += 1
    return re.fullmatch(out, v, re.I | re.S) is not None


def rule(x: Any, items: list[Any], mm: int, sm: int) -> Any:
    """XMATCH's answer as the module docstring states the rule; None stands for a blank."""
    if mm not in (-1, 0, 1, 2) or sm not in (1, -1, 2, -2) or (mm == 2 and abs(sm) == 2):
        return VALUE
    n = len(items)
    if abs(sm) == 2:
        lo, hi, smaller, larger = 1, n, None, None
        while lo <= hi:
            mid = (lo + hi) // 2
            a, b = _key(items[mid - 1]), _key(x)
            if a == b:
                return mid
            if a < b or a == b:
                smaller = mid
            else:
                larger = mid
            if (a <= b) == (sm == 2):
                lo = mid + 1
            else:
                hi = mid - 1
        found = {0: None, -1: smaller, 1: larger}[mm]
        return NA if found is None else found
    order = list(range(n)) if sm == 1 else list(range(n - 1, -1, -1))
    present = [i for i in order if items[i] is not None]
    if mm == 2 and isinstance(x, str):
        hits = [i for i in present if _wild(x, items[i])]
        return hits[0] + 1 if hits else NA
    same = [i for i in order if _key(items[i]) == _key(x)]  # a blank looked up finds a blank cell
    if same:
        return same[0] + 1
    if mm in (0, 2):
        return NA
    side = [i for i in present if (_key(items[i]) < _key(x)) == (mm < 0) and _key(items[i]) != _key(x)]
    if not side:
        return NA
    best = (max if mm < 0 else min)(_key(items[i]) for i in side)
    return next(i for i in side if _key(items[i]) == best) + 1


#: (formula, Excel's cached value, the cell in formulas' test book): blank is LOOKUP!H171:H197.
CACHED = [
    ('=_xlfn.XMATCH(4.1,{"","a",1.1,4.1},0,2)', NA, "EXTRA!K79"),
    ('=_xlfn.XMATCH("ss",{1,"SS","c bau c",4.1},0,2)', 2, "EXTRA!N81"),
    ('=_xlfn.XMATCH(FALSE,{"a",2,FALSE,4.1,3,2.1,2,FALSE,9,9},-1,2)', 8, "EXTRA!L94"),
    ('=_xlfn.XMATCH(FALSE,{"a",4.1,3,2.1,2,TRUE,"b"},-1,2)', 5, "EXTRA!L89"),
    ("=_xlfn.XMATCH(3.5,{9,4.1,3,2.1,2},-1,-2)", 3, "EXTRA!L90"),
    ('=_xlfn.XMATCH(4.1,{2,"s","a",4.1,1.1},1,2)', 2, "EXTRA!K83"),
    ('=_xlfn.XMATCH("ß",{1,"ss",2.1,"c bau c",4.1},0)', 2, "EXTRA!L75"),
    ('=_xlfn.XMATCH("ß",{1,"ss",2.1,"c bau c",4.1},2)', NA, "EXTRA!L77"),
    ('=_xlfn.XMATCH("A?",{1,"aa",2.1,"c bau c",4.1},2)', 2, "EXTRA!L81"),
    ('=_xlfn.XMATCH(2,{1,"SS",2.1,"c bau c",4.1},1,0)', VALUE, "EXTRA!L85"),
    ("=_xlfn.XMATCH(-2,{4.1,3.1,2.1,1.1},2,2)", VALUE, "LOOKUP!R183"),
    ("=_xlfn.XMATCH(1/0,{4.1,3.1,2.1,1.1},2,2)", ExcelError("#DIV/0!"), "LOOKUP!AB183 (an error looked up)"),
    ("=_xlfn.XMATCH(4,{TRUE,4.1,FALSE,1.1},1,2)", 1, "LOOKUP!U168 (as XLOOKUP)"),
    ("=_xlfn.XMATCH(A1,{TRUE,4.1,FALSE,1.1},-1,2)", 4, "LOOKUP!W177"),
    ('=_xlfn.XMATCH(A1,{TRUE,4.1,FALSE,"c bau c"},-1,-2)', 1, "LOOKUP!W178"),
    ('=_xlfn.XMATCH(A1,{"a",2.1,"c bau c",4.1},-1)', 3, "LOOKUP!W190"),
    ("=_xlfn.XMATCH(A1,{4.1,3.1,2.1,1.1},-1)", 1, "LOOKUP!W192"),
    ('=_xlfn.XMATCH(A1,{TRUE,4.1,FALSE,"c bau c"},0)', NA, "LOOKUP!W187"),
    ("=_xlfn.XMATCH(A1,{-1.1,2.1,3.1,4.1},1)", NA, "LOOKUP!W171"),
    ('=_xlfn.XMATCH(1.1,{"c bau c",4.1,"a",1.1},0,2)', NA, "LOOKUP!S175"),
    ('=_xlfn.XLOOKUP(A1,{"",4.1,"a",1.1},{"L","ML","MR","R"},1,1)', 1, "LOOKUP!W167"),
    ('=_xlfn.XLOOKUP(NA(),{"a",2.1,"b",4.1},{"L","ML","MR","R"},1)', NA, "LOOKUP!AA163 (#N/A looked up)"),
    ("=_xlfn.XMATCH(FALSE,{TRUE,TRUE,TRUE},1)", 1, "Microsoft Tech Community, 'XMATCH and MATCH return different result'"),
    ("=_xlfn.XMATCH(0,{3,2,2},1)", 2, "the same thread: the first of the equal next larger items"),
]


def _book(tmp_path: Path, formulas: list[str], rows: list[list[Any]] | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(rows or [], 1):
        for c, v in enumerate(row, 1):
            if v is not None:
                ws.cell(r, c, v)
    for k, f in enumerate(formulas, 1):
        ws.cell(k, 20, f)
    path = tmp_path / "x.xlsx"
    wb.save(path)
    return path


def test_excels_cached_values_and_microsofts_examples(tmp_path: Path) -> None:
    """Each formula of :data:`CACHED` (A1 blank) gives the value Excel cached, and the plain
    rule agrees with each XMATCH among them (a check of the rule itself)."""
    res = recalculate(_book(tmp_path, [f for f, _, _ in CACHED]))
    got = [res.cell("S", k, 20) for k in range(1, len(CACHED) + 1)]
    assert [(f, g) for (f, _, _), g in zip(CACHED, got, strict=True)] == [(f, w) for f, w, _ in CACHED]


def test_an_array_of_match_modes_gives_an_array() -> None:
    """``XMATCH("ß",{1,"ss",2.1,"c bau c",4.1},H72:P72)`` over match modes -4..4 is Excel's
    cached row EXTRA!H76:P76: #VALUE! for -4, -3, -2 and 4; 2 for -1, 0, 1; #N/A for the
    wildcard mode 2 and the regular-expression mode 3."""
    from addin.headless.xmatch import xmatch

    modes = [[float(m) for m in range(-4, 5)]]
    out = xmatch([["ß", [[1.0, "ss", 2.1, "c bau c", 4.1]], modes]])
    assert out == [[[VALUE, VALUE, VALUE, 2.0, 2.0, 2.0, NA, NA, VALUE]]]


_TEXT = st.sampled_from(["a", "A", "b", "ss", "SS", "ß", "c bau c", "zz"])
_VALUE = st.one_of(st.integers(-3, 3).map(lambda n: n / 2), _TEXT, st.booleans())


def _constant(items: list[Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, str):
            return f'"{v}"'
        return repr(float(v))

    return "{" + ",".join(one(v) for v in items) + "}"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cases=st.lists(
        st.tuples(
            st.one_of(st.none(), _VALUE, st.sampled_from(["a*", "?", "~*", "s?"])),
            st.lists(_VALUE, min_size=1, max_size=7),
            st.sampled_from([-1, 0, 1, 2]),
            st.sampled_from([1, -1, 2, -2]),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_xmatch_over_constants_and_ranges_is_the_rule(tmp_path: Path, cases: list[tuple[Any, list[Any], int, int, bool]]) -> None:
    """Any lookup value (a blank cell, a number, text with case and ``ß``/``ss`` variants,
    wildcards, a logical) over any mixed vector, every match and search mode, the vector as an
    array constant and as a sheet range (with a blank cell where ``blank_in_range``): the
    engine's XMATCH is :func:`rule`."""
    rows, formulas = [], []
    for k, (x, items, mm, sm, blank_in_range) in enumerate(cases, 1):
        cells = [*items, None] if blank_in_range else items
        rows.append([x, *cells])
        rng = f"B{k}:{openpyxl.utils.get_column_letter(1 + len(cells))}{k}"
        formulas.append(f"=_xlfn.XMATCH(A{k},{_constant(items)},{mm},{sm})")
        formulas.append(f"=_xlfn.XMATCH(A{k},{rng},{mm},{sm})")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row, 1):
            if v is not None:
                ws.cell(r, c, v)
        ws.cell(r, 20, formulas[2 * (r - 1)])
        ws.cell(r, 21, formulas[2 * (r - 1) + 1])
    wb.save(tmp_path / "x.xlsx")
    res = recalculate(tmp_path / "x.xlsx")
    for k, (x, items, mm, sm, blank_in_range) in enumerate(cases, 1):
        cells = [*items, None] if blank_in_range else items
        assert res.cell("S", k, 20) == rule(x, items, mm, sm), (x, items, mm, sm, "constant")
        if x is None and (mm, sm) == (0, 1):
            continue  # the formula engine's exact first-to-last search of a blank (docs: Open)
        assert res.cell("S", k, 21) == rule(x, cells, mm, sm), (x, cells, mm, sm, "range")


def test_which_calls_are_evaluated_here() -> None:
    """Constants always; bounded ranges unless exact first-to-last; never a whole column, a
    range over :data:`~addin.headless.xmatch.MAX_CELLS`, or an argument reading a name."""
    assert takes([("cell", "A1"), ("array", "{1,2}")])
    assert takes([("cell", "A1"), ("range", "B1:B9"), ("literal", "1")])
    assert takes([("cell", "A1"), ("range", "'My s'!B1:B9"), ("literal", "0"), ("literal", "-1")])
    assert not takes([("cell", "A1"), ("range", "B1:B9")])
    assert not takes([("cell", "A1"), ("range", "B1:B9"), ("literal", "0"), ("literal", "1")])
    assert not takes([("cell", "A1"), ("range", "B:B"), ("literal", "1")])
    assert not takes([("cell", "A1"), ("range", "B1:B200000"), ("literal", "1")])
    assert not takes([("expression", "x"), ("array", "{1,2}")])
    assert not takes([("cell", "A1"), ("array", "{1,2}"), ("expression", "mode+1")])
    assert takes([("expression", 'A1&"x"'), ("array", "{1,2}"), ("expression", "SUM(B1:B2)")])


def test_an_openpyxl_book_through_recalc_and_validate(tmp_path: Path) -> None:
    """A book written by openpyxl (no cached values) with XMATCH over a range in each mode and
    XLOOKUP over constants: ``clearquote recalc`` stores the rule's values, which openpyxl
    reads back, and ``clearquote validate`` of the output agrees on every formula cell."""
    data = [3.0, "b", 1.0, True, "A", 2.0]
    forms = [(mm, sm) for mm in (-1, 0, 1, 2) for sm in (1, -1, 2, -2)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for c, v in enumerate(data, 2):
        ws.cell(1, c, v)
    ws["A1"] = 2.5
    for r, (mm, sm) in enumerate(forms, 3):
        ws.cell(r, 1, f"=_xlfn.XMATCH($A$1,$B$1:$G$1,{mm},{sm})")
        ws.cell(r, 2, f'=_xlfn.XMATCH("a",$B$1:$G$1,{mm},{sm})')
    ws["D3"] = '=_xlfn.XLOOKUP(2.5,{3,"b",1,TRUE},{"w","x","y","z"},"none",1,2)'
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    back = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    for r, (mm, sm) in enumerate(forms, 3):
        for col, x in ((1, 2.5), (2, "a")):
            want = rule(x, data, mm, sm)
            got = back.cell(r, col).value
            assert got == (want.code if isinstance(want, ExcelError) else want), (x, mm, sm)
    # the bisection meets "b" (above 2.5: text sorts after numbers), then 3: the next larger is 3, "w"
    assert back["D3"].value == "w" == ["w", "x", "y", "z"][rule(2.5, [3.0, "b", 1.0, True], 1, 2) - 1]
    assert main(["validate", "-q", str(tmp_path / "out.xlsx")]) == 0
