"""The writer's block step (a quote book's cached values set by one split and one join per
block of rows) writes exactly the bytes the cell-by-cell substitution writes, for any sheet,
any values and any block boundaries; and the written book reads back.

Oracle: the cell-by-cell substitution of :func:`addin.headless.writer._in_place` (the only
path before the block step) and, for the round trip, openpyxl reading the cached values.
"""

from __future__ import annotations

import functools
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import writer
from addin.headless.values import ExcelError

#: Formula cells as Excel and openpyxl write them, and variants the block step must leave to
#: the substitution (a type attribute, attributes before r, no <v>, <v/>).
_CELL_FORMS = [
    b'<c r="{a}"><f>A1*2</f><v></v></c>',
    b'<c r="{a}" s="3"><f>CQ_BLACK(D2,G2,C2,H2,I2)</f><v>1.5</v></c>',
    b'<c r="{a}" t="str"><f>"x"&amp;A1</f><v>x</v></c>',
    b'<c s="1" r="{a}"><f>ROUND(L2,2)</f></c>',
    b'<c r="{a}"><f t="shared" si="0"/><v/></c>',
    b'<c r="{a}" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
]
_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-310, 1.7976931348623157e308, 227.38581132652035, 0.1]),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.sampled_from([ExcelError("#N/A", "why"), ExcelError("#NUM!"), writer.Frozen(2.5), writer.STRIP]),
)


def _sheet(cells: list[list[bytes]]) -> tuple[bytes, list[tuple[int, int]]]:
    rows, where = [], []
    for r, row in enumerate(cells, start=1):
        out = []
        for c, form in enumerate(row, start=1):
            out.append(form.replace(b"{a}", f"{chr(64 + c)}{r}".encode()))
            where.append((r, c))
        rows.append(b'<row r="%d">' % r + b"".join(out) + b"</row>")
    xml = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    return xml + b"".join(rows) + b"</sheetData></worksheet>", where


def _rewrite(xml: bytes, ups: dict[int, dict[int, Any]], formulas: set[tuple[int, int]], block: int, splice: bool) -> Any:
    saved = writer._chunks, writer._splice
    writer._chunks = functools.partial(saved[0], size=block)  # type: ignore[assignment]
    if not splice:
        writer._splice = lambda *a: None  # type: ignore[assignment]
    try:
        return b"".join(writer.rewrite_sheet(xml, ups, formulas))
    except Exception as exc:  # the same refusal either way
        return (type(exc).__name__, str(exc))
    finally:
        writer._chunks, writer._splice = saved  # type: ignore[assignment]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_CELL_FORMS[:2]), min_size=1, max_size=6), min_size=1, max_size=25),
    st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_CELL_FORMS)), max_size=3),
    st.data(),
    st.integers(1, 400),
)
def test_the_block_step_writes_the_substitutions_bytes(
    cells: list[list[bytes]], odd: list[tuple[int, bytes]], data: st.DataObject, block: int
) -> None:
    """Mostly openpyxl's and Excel's plain formula cells with float values (the quote book),
    with a few cells of other forms and values of every kind (non-finite, text, errors,
    booleans, blanks, frozen, stripped; a cell left out of the updates), cut into blocks of
    any size: the output is the substitution's, byte for byte (or the same refusal)."""
    for at, form in odd:
        row = cells[at % len(cells)]
        row[at % len(row)] = form
    xml, where = _sheet(cells)
    ups: dict[int, dict[int, Any]] = {}
    # mostly finite floats, as a quote book: one value in ~16 of another kind
    kinds = data.draw(st.lists(st.integers(0, 15).map(bool), min_size=len(where), max_size=len(where)))
    for (r, c), plain in zip(where, kinds, strict=True):
        value = data.draw(st.floats(-1e12, 1e12) if plain else _VALUES)
        ups.setdefault(r, {})[c] = value
    if data.draw(st.booleans()) and len(where) > 1:  # a formula cell the updates leave out
        r, c = where[data.draw(st.integers(0, len(where) - 1))]
        del ups[r][c]
    formulas = {(r, c) for r, cols in ups.items() for c in cols}
    assert _rewrite(xml, ups, formulas, block, True) == _rewrite(xml, ups, formulas, block, False)


def test_a_quote_book_sheet_is_written_by_the_block_step(tmp_path: Path, monkeypatch: Any) -> None:
    """Plain formula cells with finite values never go cell by cell; the book reads back."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for r in range(1, 3001):
        ws.cell(r, 1, float(r))
        ws.cell(r, 2, f"=A{r}*2")
        ws.cell(r, 3, f"=B{r}+0.1")
    src = tmp_path / "q.xlsx"
    wb.save(src)
    declined = []
    real = writer._splice

    def spy(*a: Any) -> Any:
        got = real(*a)
        declined.append(got is None)
        return got

    monkeypatch.setattr(writer, "_splice", spy)
    ups = {r: {2: 2.0 * r, 3: 2.0 * r + 0.1} for r in range(1, 3001)}
    out = tmp_path / "q-out.xlsx"
    writer.write_cached(src, out, {"S": ups}, {"S": {(r, c) for r in ups for c in (2, 3)}})
    assert declined and not any(declined)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None
    back = openpyxl.load_workbook(out, data_only=True)["S"]
    assert [back.cell(r, 3).value for r in (1, 1500, 3000)] == [2.1, 3000.1, 6000.1]
    assert openpyxl.load_workbook(out)["S"]["C7"].value == "=B7+0.1"  # the formula kept
    assert math.isclose(back.cell(2999, 2).value, 5998.0)


def test_non_finite_and_other_values_among_floats_are_written_as_the_substitution_writes_them() -> None:
    """One odd value in a block of floats (NaN, infinity, text, an error, a boolean, a blank, a
    frozen value) sends that block cell by cell: #NUM! for a non-finite number, t="str"..."""
    xml, where = _sheet([[_CELL_FORMS[0]] * 3] * 4)
    for odd in (math.nan, -math.inf, "x<y", ExcelError("#N/A"), True, None, writer.Frozen(1.0), writer.STRIP, 7):
        ups: dict[int, dict[int, Any]] = {r: {c: float(r * c) for c in (1, 2, 3)} for r in (1, 2, 3, 4)}
        ups[3][2] = odd
        got = _rewrite(xml, ups, set(where), 1 << 20, True)
        assert got == _rewrite(xml, ups, set(where), 1 << 20, False), odd
        assert b"<v>3.0</v>" in got and b"<v>12.0</v>" in got


#: The formula-cell pattern before the lookahead and the possessive group (the oracle).
_FCELL_BEFORE = re.compile(
    rb'<c\b((?:[^>]*?\s)?r="([A-Z]*)(\d+)")([^>]*)>(<f\b[^>]*?(?:/>|>[^<]*</f>))(?:<v>[^<]*</v>|<v\s*/>)?</c>'
)
_FRAGMENTS = st.sampled_from(
    [
        *(b"<c", b" r=", b'"A', b"12", b'"', b" t=", b'"n"', b">", b"<f", b"<f>", b"1+1", b"</f>", b"<v>", b"3"),
        *(b"</v>", b"<v/>", b"</c>", b" ", b"/>", b"<is><t>x</t></is>", b'<c r="B2">', b"<fx>", b's="1"', b"\n", b"<"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=40), st.lists(st.sampled_from(_CELL_FORMS), max_size=4))
def test_the_formula_cell_pattern_matches_as_before(fragments: list[bytes], cells: list[bytes]) -> None:
    """Any bytes (fragments of cells in any order, whole cells of every form): the same cells
    are found, with the same groups."""
    data = b"".join(fragments) + b"".join(c.replace(b"{a}", b"C3") for c in cells) + b"".join(fragments[::-1])
    assert writer._FCELL.split(data) == _FCELL_BEFORE.split(data)
