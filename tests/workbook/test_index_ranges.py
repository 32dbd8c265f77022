"""INDEX as an end of the range operator (addin.headless.index_refs).

Excel's values are reasoned from Microsoft's "INDEX function" (reference form: "returns the
reference of the cell at the intersection of a particular row and column"; indexes that "point
outside the reference" are #REF!) and "Calculation operators and precedence in Excel" (``:``
makes "one reference to all the cells between two references"). With A1:A5 = 1, 2, "x", 4, 5:
A1:INDEX(A1:A9,4) is A1:A4, whose numbers sum to 1+2+4 = 7 (SUM ignores text in a reference,
"SUM function"). Exact values: every sum is of small integers, so no tolerance.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError
from tests.workbook.bookkit import compute

_COLUMN = {"A1": 1, "A2": 2, "A3": "x", "A4": 4, "A5": 5, "C1": 3, "C2": "y"}


def test_index_with_literal_indexes_ends_a_range(tmp_path: Path) -> None:
    """A1:INDEX(A1:A9,4) is A1:A4 (7); A1:INDEX(A1:A9,3) holds the numbers 1 and 2 (COUNT 2, it
    was a silent 0); INDEX(A1:A9,2):A4 is A2:A4 (6); A1:INDEX(A:A,4) is four rows (ROWS 4); one
    row with one index reads it as the column (Microsoft: the other index "is optional"), A1:C1."""
    got = compute(
        tmp_path,
        [
            "=SUM(A1:INDEX(A1:A9,4))",
            "=COUNT(A1:INDEX(A1:A9,3))",
            "=SUM(INDEX(A1:A9,2):A4)",
            "=ROWS(A1:INDEX(A:A,4))",
            "=COLUMNS(A1:INDEX(A1:E1,3))",
            "=SUM(S!A1:INDEX(S!A1:A9,4))",
        ],
        _COLUMN,
        column=5,
    )
    assert got == [7.0, 2.0, 6.0, 4.0, 3.0, 7.0]


def test_index_with_computed_indexes_ends_a_range(tmp_path: Path) -> None:
    """An index from a cell or an expression: A1:INDEX(A1:A9,C1+1) is A1:A4 (7);
    ROWS(A1:INDEX(A:A,C1)) is 3 (a whole column is never materialised)."""
    got = compute(tmp_path, ["=SUM(A1:INDEX(A1:A9,C1+1))", "=ROWS(A1:INDEX(A:A,C1))"], _COLUMN, column=5)
    assert got == [7.0, 3.0]


def test_index_past_its_reference_or_not_a_number(tmp_path: Path) -> None:
    """Row 10 of A1:A9 points outside the reference: #REF! (Microsoft, "INDEX function"); the
    text "y" as an index is #VALUE! (an argument of the wrong type, "#VALUE! error")."""
    got = compute(tmp_path, ["=SUM(A1:INDEX(A1:A9,10))", "=SUM(A1:INDEX(A1:A9,C2))"], _COLUMN, column=5)
    assert [g.code if isinstance(g, ExcelError) else g for g in got] == ["#REF!", "#VALUE!"]


@settings(max_examples=8, deadline=None)
@given(k=st.integers(2, 8), data=st.data())
def test_a_prefix_ends_at_index(tmp_path_factory, k: int, data) -> None:  # type: ignore[no-untyped-def]
    """For n in 1..k, SUM(A1:INDEX(A1:Ak,n)) is the sum of the first n cells and
    ROWS(A1:INDEX(A:A,n)) is n (the reference form: A1:An)."""
    n = data.draw(st.integers(1, k))
    cells = {f"A{i}": float(i * i) for i in range(1, k + 1)}
    got = compute(
        tmp_path_factory.mktemp("p"), [f"=SUM(A1:INDEX(A1:A{k},{n}))", "=ROWS(A1:INDEX(A:A,B3))"], {**cells, "B3": n}, column=3
    )
    assert got == [float(sum(i * i for i in range(1, n + 1))), float(n)]


def test_if_and_xlookup_returning_references_end_a_range(tmp_path: Path) -> None:
    """IF returns the branch it takes, here a reference (Microsoft, "IF function"), so with C1 = 3
    A1:IF(C1>2,A4,A2) is A1:A4 (7) and IF(C1<2,A1,A2):A4 is A2:A4 (6). XLOOKUP "returns a range"
    (Microsoft, "XLOOKUP function", whose example sums XLOOKUP(...):XLOOKUP(...)): the match of 4
    in A1:A5 is A4, so A1:XLOOKUP(4,A1:A5,A1:A5) is A1:A4 (7) and the range from the match of 2
    to that of 5 is A2:A5 (2+4+5 = 11)."""
    got = compute(
        tmp_path,
        [
            "=SUM(A1:IF(C1>2,A4,A2))",
            "=SUM(IF(C1<2,A1,A2):A4)",
            "=SUM(A1:_xlfn.XLOOKUP(4,A1:A5,A1:A5))",
            "=SUM(_xlfn.XLOOKUP(2,A1:A5,A1:A5):_xlfn.XLOOKUP(5,A1:A5,A1:A5))",
        ],
        _COLUMN,
        column=5,
    )
    assert got == [7.0, 6.0, 7.0, 11.0]
