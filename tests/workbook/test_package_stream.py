"""What :func:`addin.headless.package.scan` learns from a sheet's bytes does not depend on how
the bytes arrive: block boundaries anywhere (a tag cut in two, a formula cut in two), any
block size.

Oracles: a regular expression over the whole part at once (the ``t="d"`` cells), and the XML
parser path of the same scan (lxml ``iterparse``, which reads cells as elements, not bytes).
"""

from __future__ import annotations

import io
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import package
from addin.headless.a1 import column_number
from addin.headless.package import _DATE_TYPED, _Capped
from addin.headless.values import BookError


class _Blocks(io.RawIOBase):
    """A part delivered in blocks of the given sizes (then the rest at once)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos = data, list(sizes), 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        size = self.sizes.pop(0) if self.sizes else len(self.data)
        size = min(size, n) if n >= 0 else size
        out = self.data[self.pos : self.pos + size]
        self.pos += len(out)
        return out


_CELLS = st.lists(
    st.sampled_from(
        [
            b'<c r="A1" t="n"><v>1</v></c>',
            b'<c r="B1" s="3" t="d"><v>2024-03-01T12:00:00</v></c>',
            b'<c r="C1" t="inlineStr"><is><t>t="d"</t></is></c>',  # the text, not an attribute
            b'<c r="D1" t = "d" ><v>1990-01-01</v></c>',
            b'<x:c r="E1" t="d"><x:v>2024-01-01</x:v></x:c>',
            b'<c r="F1" t="str"><f>"d"</f><v>d</v></c>',
            b'<c r="G1" s="1"' + b" " * 300 + b't="d"><v>2024-01-01</v></c>',  # a long tag
            b'<c r="H1"><f>A1+1</f><v>2</v></c>',
        ]
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_CELLS, st.lists(st.integers(1, 64), max_size=40))
def test_date_typed_cells_are_seen_whatever_the_blocks(cells: list[bytes], sizes: list[int]) -> None:
    """``t="d"`` on a cell is seen by the stream (no second read of the part) exactly when a
    search of the whole part finds it, however the part is cut into blocks."""
    data = b'<worksheet><sheetData><row r="1">' + b"".join(cells) + b"</row></sheetData></worksheet>"
    capped = _Capped(_Blocks(data, sizes), 1 << 20, "t")
    stream = io.BufferedReader(capped, 8)
    while stream.read(7):
        pass
    assert capped.dated == (_DATE_TYPED.search(data) is not None)


_FORMULA_CELLS = st.sampled_from(
    [
        b'<c r="{c}{r}"><f>A{r}*2</f><v></v></c>',
        b'<c r="{c}{r}" s="2"><f>CQ_BLACK(D{r},G{r},C{r},H{r},I{r})</f><v>1.5</v></c>',
        b'<c r="{c}{r}" t="str"><f>IF(F{r}="buy",K{r}*1.002,K{r}*0.998)</f><v>x</v></c>',
        b'<c r="{c}{r}"><f >A{r}&lt;B{r}</f></c>',
        b'<c r="{c}{r}"><f>A{r}&amp;B{r}</f></c>',  # &amp;: decided cell by cell
        b'<c r="{c}{r}"><f>A{r}&amp;"&lt;"</f></c>',  # &amp; with &lt; in a string
        b'<c r="{c}{r}"><f>A{r}&amp;(B{r}&lt;C{r})</f></c>',  # a grouped comparison beside &: own text kept
        b'<c r="{c}{r}" cm="1"><f>SEQUENCE(3)</f></c>',  # dynamic, with a bare <f>
        b'<c r="{c}{r}"><f>SUM(Table1[Qty])</f></c>',  # a structured reference
        b'<c r="{c}{r}" cm="1"><f t="array" ref="{c}{r}">SEQUENCE(3)</f></c>',  # dynamic
        b'<c r="{c}{r}"><f t="shared" ref="{c}{r}:{c}9" si="0">A{r}+1</f></c>',
        b'<c r="{c}{r}"><f t="array" ref="{c}{r}:{c}5">A1:A4*2</f></c>',
        b'<c r="{c}{r}"><f>' + b"(" * 70 + b"1" + b")" * 70 + b"</f></c>",  # 70 parentheses: within the limits
        b'<c r="{c}{r}"><f>' + b"ABS(" * 70 + b"1" + b")" * 70 + b"</f></c>",  # functions nested 70 deep: refused
        b'<c r="{c}1048577"><f>1+1</f></c>',  # beyond Excel's grid: the book is refused
        b'<c r="{c}{r}"><f>' + b"A1+" * 3000 + b"1</f></c>",  # over 8,192 characters
        b'<c r="{c}{r}"><f/></c>',
        b'<c r="${c}${r}"><f>1+1</f></c>',  # a $ in r: not the common form
        b'<c s="1" r="{c}{r}"><f>1+1</f></c>',  # r not first
        b'<c r="{c}{r}" t="n"></c>',  # typed, no value
        b'<c r="{c}{r}" t="n"><v>3</v></c>',
        b'<c r="{c}{r}"><v>3</v><f>1+1</f></c>',  # a formula that is not the first child
    ]
)


def _sheet(rows: list[list[bytes]]) -> bytes:
    out = [b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for i, cells in enumerate(rows, start=2):
        out.append(b'<row r="%d">' % i)
        for j, cell in enumerate(cells):
            letters = b"ABCDEFGHIJ"[j : j + 1]
            out.append(cell.replace(b"{c}", letters).replace(b"{r}", b"%d" % i))
        out.append(b"</row>")
    out.append(b"</sheetData></worksheet>")
    return b"".join(out)


def _read(data: bytes, sizes: list[int], one_by_one: bool, monkeypatch: Any) -> tuple[bool, Any]:
    if one_by_one:  # the per-cell loop alone: the path before the block step
        monkeypatch.setattr(package, "_plain_block", lambda *a: False)
    s = package.SheetInfo("S", "xl/worksheets/sheet1.xml")
    try:
        ok = package._formulas_from_bytes(_Capped(_Blocks(data, sizes), 1 << 26, "t"), s, package.Limits(), "b")
    except BookError as exc:
        return False, str(exc)
    finally:
        monkeypatch.undo()
    return ok, (list(s.formulas.items()), s.valueless, s.refused, s.data_tables)


_COMMON = st.sampled_from(
    [
        b'<c r="{c}{r}"><f>A{r}*2</f><v></v></c>',
        b'<c r="{c}{r}" s="2"><f>CQ_BLACK(D{r},G{r},C{r},H{r},I{r})</f><v>1.5</v></c>',
        b'<c r="{c}{r}" t="inlineStr"><is><t>BTC</t></is></c>',
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_COMMON, min_size=1, max_size=8), min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 10**6), _FORMULA_CELLS), max_size=3),
    st.lists(st.integers(1, 4096), max_size=8),
)
def test_the_block_step_records_what_the_per_cell_loop_records(
    rows: list[list[bytes]], odd: list[tuple[int, bytes]], sizes: list[int]
) -> None:
    """Whole blocks of common formulas are recorded at once; the result (formulas in the same
    order with the same kinds, typed empty cells, refusals, data tables, and whether the XML
    parser must read the sheet instead) is the per-cell loop's, for any mix of cells (a few
    cells of any kind among common ones) and any blocks."""
    from _pytest.monkeypatch import MonkeyPatch

    rows = [list(r) for r in rows]
    for at, cell in odd:  # in its row, in place of a common cell
        row = rows[at % len(rows)]
        row[at % len(row)] = cell
    data = _sheet(rows)
    with MonkeyPatch.context() as mp:
        fast = _read(data, sizes, False, mp)
        slow = _read(data, sizes, True, mp)
    assert fast[0] == slow[0]
    if fast[0] or isinstance(slow[1], str):  # read, or refused with the same reason
        assert fast[1] == slow[1]


def test_a_quote_book_block_is_recorded_at_once(monkeypatch: Any) -> None:
    """The quote book's formulas take the block step (the per-cell loop is never entered)."""
    rows = [
        [b'<c r="{c}{r}"><f>CQ_OPTION_TIME(Market!$B$2,B{r})</f><v></v></c>', b'<c r="{c}{r}"><f>ROUND(L{r},2)</f></c>']
    ] * 500
    data = _sheet(rows)
    monkeypatch.setattr(package, "_block_cells", lambda *a: (_ for _ in ()).throw(AssertionError("per-cell loop entered")))
    s = package.SheetInfo("S", "xl/worksheets/sheet1.xml")
    assert package._formulas_from_bytes(_Capped(_Blocks(data, []), 1 << 26, "t"), s, package.Limits(), "b")
    assert list(s.formulas) == [(r, c) for r in range(2, 502) for c in (1, 2)]
    assert set(s.formulas.values()) == {package.PLAIN}


#: The typed-empty-cell pattern before the possessive one (the oracle): lazy, looking for t= itself.
_VALUELESS_BEFORE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*?\st\s*=\s*"[^"]*"[^>]*?)(?:/>|>\s*</(?:[A-Za-z_][\w.-]*:)?c>)')
_ANY_CELL = st.sampled_from(
    [
        b'<c r="A1" t="n"/>',
        b'<c r="A1" t="n"></c>',
        b'<c r="A1" t="s" >  </c>',
        b'<c r="A1" s="1"/>',
        b'<c r="A1"></c>',
        b'<c r="A1" t="n"><v>1</v></c>',
        b'<c r="A1" t="inlineStr"><is><t>x</t></is></c>',
        b'<x:c r="A1" t="e"/>',
        b'<x:c r="A1" t="n"></x:c>',
        b"<c r='A1' t=\"b\" s='2'/>",
        b'<c t="n" r="B7" />',
        b'<col min="1" t="n"/>',
        b'<c r="A1"><f>1</f><v></v></c>',
        b'<cell t="n"/>',
        b'<row r="1"/>',
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ANY_CELL, max_size=20))
def test_typed_empty_cells_are_found_as_before(cells: list[bytes]) -> None:
    """Cells with a type and no value (IronCalc reads them as 0, Excel as empty) are the cells
    the earlier pattern found, in the same order."""
    data = b"".join(cells)
    s = package.SheetInfo("S", "p")
    package._valueless(data, s)
    want = []
    for m in _VALUELESS_BEFORE.finditer(data):
        ref = package.R_ATTR.search(m.group(1))
        if ref is not None:
            want.append((int(ref.group(2)), column_number(ref.group(1).decode().upper())))
    assert s.valueless == want
