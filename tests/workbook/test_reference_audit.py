"""An outside audit's findings on references and names (issue 30), kept as the rules they broke.

* Reference operators over whole columns and rows (``A:A A2:C3``, ``1:1 A:A``, ``A:A:B:B``).
  Oracle: Microsoft, "Calculation operators and precedence in Excel" (range ``:``, union ``,``,
  intersection: a space, "one reference to cells common to the two references"); a whole column
  is rows 1 to 1,048,576 and a whole row columns 1 to 16,384 (Microsoft, "Excel specifications
  and limits"); an empty intersection is #NULL! (Microsoft, "#NULL! error"). The property test
  writes that rule plainly over sets of cells in Python.
* A defined name whose definition holds a deleted reference (``S!#REF!``, ``S!$A$1,S!#REF!``,
  ``S!$A$1:#REF!``, ``S!#REF!+1``): the error propagates where the name is used (Microsoft,
  "How to correct a #REF! error"). A "name" that has the form of a cell reference (``bn3``) is no
  name: ECMA-376 Part 4, "Limits": "A producer or consumer shall consider a defined name of the
  form used by cells in the range A1-XFD1048576 to be invalid"; ``=bn3`` is the cell BN3.
* Inline strings' ``_xHHHH_`` escapes decoded as shared strings' are (ECMA-376 Part 1, 22.9.2.19
  ST_Xstring).

The expected numbers of the audit's own formulas follow from these definitions on the data
A1:A3 = 1, 2, 3 and B1:B3 = 10, 12, 14 (the auditor's Excel values, which they match).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.workbook.defined_name import DefinedName

from addin.headless import ExcelError, recalculate
from addin.headless.a1 import column_letters
from tests.workbook.bookkit import compute

_ROWS, _COLS = 1_048_576, 16_384
_N = 5  # the data block is A1:E5
Rect = tuple[int, int, int, int]  # row1, col1, row2, col2 (1-based, inclusive)


def _plain(value: object) -> object:
    return value.code if isinstance(value, ExcelError) else value


# ----------------------------------------------------------------------------- whole columns and rows


def _text(r: Rect) -> str:
    """A1 text of a rectangle, as a whole column or row where it is one."""
    if r[0] == 1 and r[2] == _ROWS:
        return f"{column_letters(r[1])}:{column_letters(r[3])}"
    if r[1] == 1 and r[3] == _COLS:
        return f"{r[0]}:{r[2]}"
    return f"{column_letters(r[1])}{r[0]}:{column_letters(r[3])}{r[2]}"


# a rectangle in or beside the data block (up to row/column 7, so some miss it), a whole column
# range or a whole row range
_BOX = st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7), st.integers(1, 7)).map(
    lambda t: (min(t[0], t[2]), min(t[1], t[3]), max(t[0], t[2]), max(t[1], t[3]))
)
_COLUMNS = st.tuples(st.integers(1, 7), st.integers(1, 7)).map(lambda t: (1, min(t), _ROWS, max(t)))
_WHOLE_ROWS = st.tuples(st.integers(1, 7), st.integers(1, 7)).map(lambda t: (min(t), 1, max(t), _COLS))
_ANY = st.one_of(_BOX, _COLUMNS, _WHOLE_ROWS)


def _value(r: int, c: int) -> float:
    return float(10 * r + c)


def _meet(x: Rect, y: Rect) -> Rect | None:
    r1, c1, r2, c2 = max(x[0], y[0]), max(x[1], y[1]), min(x[2], y[2]), min(x[3], y[3])
    return (r1, c1, r2, c2) if r1 <= r2 and c1 <= c2 else None


def _total(r: Rect | None) -> float:
    """The sum of the data block's cells inside ``r`` (every other cell is empty)."""
    if r is None:
        return 0.0
    cells = {(i, j) for i in range(1, _N + 1) for j in range(1, _N + 1)}
    return sum(_value(i, j) for i, j in cells if r[0] <= i <= r[2] and r[1] <= j <= r[3])


def _below(tmp: Path, formulas: list[str], inputs: dict[str, object]) -> list[object]:
    """The values of ``formulas`` written in L20, L21, ...: outside every rectangle generated (a
    whole row through the formula's own cell would be a circular reference)."""
    return compute(tmp, formulas, inputs, column=12, first_row=20)


@settings(max_examples=10, deadline=None)
@given(_ANY, _ANY, st.sampled_from(["", "S!", "'S'!"]))
def test_an_intersection_and_a_range_of_any_two_rectangles_is_the_set_rule(
    tmp_path_factory: pytest.TempPathFactory, x: Rect, y: Rect, sheet: str
) -> None:
    """``SUM(x y)`` is the sum over the cells common to x and y (#NULL! when there are none, even
    outside the data); ``SUM(x:y)`` the sum over the smallest rectangle holding both;
    ``SUM((x,y))`` each area's sum (a union keeps its areas apart); whole columns and rows
    included, with or without the sheet's name."""
    inputs: dict[str, object] = {f"{column_letters(c)}{r}": _value(r, c) for r in range(1, _N + 1) for c in range(1, _N + 1)}
    X, Y = sheet + _text(x), sheet + _text(y)
    formulas = [f"=SUM({X} {Y})", f"=SUM({X}:{Y})" if not sheet else f"=SUM({X}:{_text(y)})", f"=SUM(({X},{Y}))"]
    got = _below(tmp_path_factory.mktemp("whole"), formulas, inputs)
    both = _meet(x, y)
    assert _plain(got[0]) == ("#NULL!" if both is None else _total(both)), (X, Y)
    box = (min(x[0], y[0]), min(x[1], y[1]), max(x[2], y[2]), max(x[3], y[3]))
    if not (box[0] <= 21 and box[2] >= 20 and box[1] <= 12 <= box[3]):  # the whole sheet holds the formula: circular
        assert got[1] == _total(box), (X, Y)
    assert got[2] == _total(x) + _total(y), (X, Y)


_DATA: dict[str, object] = {"A1": 1, "A2": 2, "A3": 3, "B1": 10, "B2": 12, "B3": 14}


def test_the_audits_whole_column_and_row_formulas(tmp_path: Path) -> None:
    cases: dict[str, object] = {
        "=SUM(A:A A2:C3)": 5.0,  # A2:A3
        "=SUM(A1:C3 B:B)": 36.0,  # B1:B3
        "=SUM(1:1 A:A)": 1.0,  # A1
        "=SUM(A:B 2:2)": 14.0,  # A2:B2
        "=SUM(A1:C3 2:2)": 14.0,  # A2:C2
        "=SUM(A:A B2:C3)": "#NULL!",  # nothing in common
        "=SUM(A:A:B:B)": 42.0,  # the range of ranges A:B
        "=SUM($A:$A $A$2:$C$3)": 5.0,
        "=SUM(S!A:A S!A2:C3)": 5.0,
        "=ROWS(A:A A2:C3)": 2.0,
    }
    got = compute(tmp_path, list(cases), dict(_DATA), column=10)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert _plain(value) == want, formula


# ----------------------------------------------------------------------------- deleted references in names


def test_a_name_holding_a_deleted_reference_is_ref_where_used(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in _DATA.items():
        ws[ref] = v
    formulas = [
        "=gone", "=gone+0", "=SUM(gone)", "=ISERROR(gone)", "=plus", "=SUM(part)", "=ROWS(part)",
        "=SUM(corner)", "=twice", "=IFERROR(SUM(part),7)", "=bn3", "=SUM(bn3)", "=ISERROR(bn3)",
        "=SUM((A1,#REF!))", "=SUM(A1:A3 #REF!)", "=COUNT(gone)",
    ]  # fmt: skip
    for i, f in enumerate(formulas, 1):
        ws.cell(i, 10).value = f
    wb.defined_names["gone"] = DefinedName("gone", attr_text="S!#REF!")
    wb.defined_names["plus"] = DefinedName("plus", attr_text="S!#REF!+1")
    wb.defined_names["part"] = DefinedName("part", attr_text="S!$A$1,S!#REF!")
    wb.defined_names["corner"] = DefinedName("corner", attr_text="S!$A$1:#REF!")
    wb.defined_names["twice"] = DefinedName("twice", attr_text="'S'!#REF!*2")
    # the form of a cell reference: no name (ECMA-376 Part 4, "Limits"); BN3 is empty
    wb.defined_names["bn3"] = DefinedName("bn3", attr_text="S!#REF!")
    wb.save(tmp_path / "b.xlsx")
    values = recalculate(tmp_path / "b.xlsx").values
    got = {f: _plain(values[("S", i, 10)]) for i, f in enumerate(formulas, 1)}
    ref = "#REF!"
    assert got == {
        "=gone": ref, "=gone+0": ref, "=SUM(gone)": ref, "=ISERROR(gone)": True, "=plus": ref,
        "=SUM(part)": ref, "=ROWS(part)": ref, "=SUM(corner)": ref, "=twice": ref,
        "=IFERROR(SUM(part),7)": 7.0, "=bn3": 0.0, "=SUM(bn3)": 0.0, "=ISERROR(bn3)": False,
        "=SUM((A1,#REF!))": ref, "=SUM(A1:A3 #REF!)": ref,
        # Microsoft, "COUNT function": "Arguments that are error values ... are not counted"
        "=COUNT(gone)": 0.0,
    }  # fmt: skip


# ----------------------------------------------------------------------------- inline strings' escapes


def _with_inline_strings(path: Path, cells: dict[str, str]) -> None:
    """The book at ``path`` with ``cells`` (A1 -> the raw ``<t>`` text) as inline strings in row 1
    of its first sheet (openpyxl writes shared strings only)."""
    data = {i.filename: zipfile.ZipFile(path).read(i.filename) for i in zipfile.ZipFile(path).infolist()}
    sheet = data["xl/worksheets/sheet1.xml"].decode()
    inline = "".join(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>' for ref, text in cells.items())
    sheet = re.sub(r'(<row r="1"[^>]*>)', lambda m: m.group(1) + inline, sheet, count=1)
    data["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in data.items():
            z.writestr(name, body)


def test_inline_strings_escapes_are_decoded_as_shared_strings_are(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["F1"] = "x_x0041_y"  # a shared string, decoded already: "xAy"
    formulas = ["=LEN(A1)", "=A1=F1", "=LEN(B1)", "=CODE(MID(B1,2,1))", "=LEN(C1)", "=D1"]
    for i, f in enumerate(formulas, 2):
        ws.cell(i, 1).value = f
    wb.save(tmp_path / "b.xlsx")
    _with_inline_strings(
        tmp_path / "b.xlsx",
        {
            "A1": "x_x0041_y",  # "xAy"
            "B1": "a_x0026_b",  # "a&b": the character XML escapes
            "C1": "x_x005F_x0041_y",  # an escaped underscore: the text x_x0041_y, 9 characters
            "D1": "plain",
        },
    )
    values = recalculate(tmp_path / "b.xlsx").values
    got = [_plain(values[("S", i, 1)]) for i in range(2, 2 + len(formulas))]
    assert got == [3.0, True, 3.0, 38.0, 9.0, "plain"]


# ----------------------------------------------------------------------------- a union read for its numbers


def test_a_union_as_the_reference_of_rank_large_and_percentile(tmp_path: Path) -> None:
    """A union where a function reads a reference's numbers (RANK.EQ's ``ref``, LARGE's and
    PERCENTILE's ``array``): every area's numbers, text, logical values and blanks ignored
    (Microsoft, "RANK.EQ function": "Nonnumeric values in ref are ignored"; "LARGE function";
    "PERCENTILE.INC function"). Numbers in the union: 1, 2, 3, 10, 12, 14, -1."""
    data: dict[str, object] = {**_DATA, "C1": "x", "C2": True, "D1": -1}
    cases: dict[str, object] = {
        "=RANK.EQ(2,(A1:A3,B1:B3))": 5.0,  # the audit's case: 14, 12, 10, 3, 2
        "=RANK.EQ(3,(A1:A5,B1:D3),1)": 4.0,  # ascending: -1, 1, 2, 3
        "=RANK.AVG(10,(A1:A3,B1:B3))": 3.0,
        "=LARGE((A:A,B1:B3),2)": 12.0,
        "=SMALL((A1:A5,C1:C4),1)": 1.0,
        "=SMALL((A1:A5,C1:C4),4)": "#NUM!",  # three numbers only
        "=PERCENTILE((A1:A3,B1:B3),0.5)": 6.5,  # (3 + 10) / 2
        "=QUARTILE.INC((A1:A3,B1:B3),1)": 2.25,  # position 1.25 of 1, 2, 3, 10, 12, 14
        "=RANK.EQ(99,(A1:A3,B1:B3))": "#N/A",
    }
    got = compute(tmp_path, list(cases), data, column=10)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert _plain(value) == want, formula
