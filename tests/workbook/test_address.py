"""ADDRESS writes its ``sheet_text`` as Excel writes a reference to that sheet (addin/headless/address.py).

Oracle: Microsoft, "ADDRESS function" (``ADDRESS(2,3,1,FALSE,"EXCEL SHEET")`` is
``'EXCEL SHEET'!R2C3``, ``ADDRESS(1,1,,,"Sheet2")`` ``Sheet2!$A$1``) and "Create an external
reference (link) to a cell range in another workbook" (``[Budget.xlsx]Annual!C10:C25`` bare; a
name with spaces or nonalphabetical characters in single quotes); Excel's cached values of the
same class: a workbook in brackets is not quoted for its brackets (Excel 2013, POI's function
test book), ``'*b?u*'!R[3]C[4]`` and ``!C1`` for an empty text (formulas' test book, corpus). The
rule is written plainly in this test; no expected value comes from the engine. Before the fix a
workbook prefix was always quoted (``'[Book1]Sheet1'!G5``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workbook.bookkit import compute


def _bare(name: str, book: bool = False) -> bool:
    """Excel's rule for a name written unquoted: letters, digits, ``_`` and ``.`` only; a sheet
    name also not starting with a digit and not reading as a cell (A1 within XFD1048576, R1C1)."""
    if not re.fullmatch(r"[\w.]*", name):
        return False
    if book or not name:
        return True
    if name[0].isdigit() or re.fullmatch(r"[Rr]\d+[Cc]\d+", name):
        return False
    m = re.fullmatch(r"([A-Za-z]{1,3})(\d+)", name)
    if m is None:
        return True
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return not (col <= 16384 and 1 <= int(m.group(2)) <= 1048576)


def _expected(text: str) -> str:
    m = re.fullmatch(r"\[([^\[\]]*)\](.*)", text, re.S)
    bare = _bare(m.group(1), book=True) and _bare(m.group(2)) if m else _bare(text)
    return (text if bare else "'" + text.replace("'", "''") + "'") + "!G5"


def _literal(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def test_microsofts_examples_and_excels_cached_forms(tmp_path: Path) -> None:
    names = ["[Book1]Sheet1", "EXCEL SHEET", "Sheet2", "*b?u*", "", "[Budget.xlsx]Annual", "[My Book]Sheet1", "O'Brien"]
    got = compute(tmp_path, [f"=ADDRESS(5,7,4,TRUE,{_literal(n)})" for n in names] + ['=ADDRESS(2,3,1,FALSE,"[Book1]Sheet1")'])
    assert got == [
        "[Book1]Sheet1!G5",
        "'EXCEL SHEET'!G5",
        "Sheet2!G5",
        "'*b?u*'!G5",
        "!G5",
        "[Budget.xlsx]Annual!G5",
        "'[My Book]Sheet1'!G5",
        "'O''Brien'!G5",
        "[Book1]Sheet1!R2C3",
    ]


_PARTS = st.sampled_from(["Sheet", "a", "R1", "C2", "A1", "XFD", "1048577", "1", "_", ".", " ", "-", "'", "é", "Z9", "x"])
_NAMES = st.lists(_PARTS, min_size=1, max_size=4).map("".join)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.one_of(st.none(), _NAMES), _NAMES), min_size=1, max_size=8))
def test_any_sheet_text_is_quoted_by_excels_rule_and_reads_back(
    tmp_path_factory: pytest.TempPathFactory, names: list[tuple[str | None, str]]
) -> None:
    """Any sheet name, with or without a workbook in brackets: quoted exactly when the rule says
    so, and the text before the ``!`` unquoted is the ``sheet_text`` given."""
    texts = [(f"[{b}]" if b is not None else "") + s for b, s in names]
    got = compute(tmp_path_factory.mktemp("a"), [f"=ADDRESS(5,7,4,TRUE,{_literal(t)})" for t in texts])
    assert got == [_expected(t) for t in texts]
    for t, g in zip(texts, got, strict=True):
        head = str(g)[: -len("!G5")]
        assert (head[1:-1].replace("''", "'") if head.startswith("'") else head) == t
