"""A formula's string literals hold ST_Xstring escapes, decoded as Excel reads them
(``addin.headless.package.formula_strings``).

Oracle: ECMA-376 Part 1, 22.9.2.19 (ST_Xstring): a character XML cannot hold is written
``_xHHHH_`` (its UTF-16 code in hex), and text that would read as such an escape has its
underscore written ``_x005F_``; a cell's formula (18.3.1.40, ST_Formula) is such a string.
Excel writes ``="_x0001_"`` typed in a cell as ``"_x005F_x0001_"`` in the file and shows
``_x0001_``. The expected value of each formula is the text before it was escaped by that rule,
written in Python below; none comes from this engine. Before the fix the escapes were kept
as written (``_x005F_x0001_``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workbook.bookkit import compute


def _escaped(text: str) -> str:
    """``text`` as an Excel file holds it (ST_Xstring): an underscore that starts an escape-like
    ``_xHHHH_`` written ``_x005F_``, then control characters as ``_xHHHH_``."""
    text = re.sub(r"_(?=x[0-9A-Fa-f]{4}_)", "_x005F_", text)
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"_x{ord(m.group(0)):04X}_", text)


def _formula(text: str) -> str:
    return '="' + _escaped(text).replace('"', '""') + '"'


def test_excels_written_forms_read_as_the_text(tmp_path: Path) -> None:
    """The file forms Excel writes: ``"_x005F_x0001__x005F_x00ff_"`` is ``_x0001__x00ff_``,
    ``_x000D_`` a carriage return, a quote written ``_x0022_`` one quote; an escape-like text
    with no hex digits (``_xZ_``) is left alone."""
    got = compute(
        tmp_path,
        ['="_x005F_x0001__x005F_x00ff_"', '="a_xZ_x005F_x0010_b"&CHAR(65)', '=LEN("a_x000D_b")', '="q_x0022_q"', '="_x0041_"'],
    )
    assert got == ["_x0001__x00ff_", "a_xZ_x0010_bA", 3.0, 'q"q', "A"]


_PIECES = st.sampled_from(["_x0010_", "_x005F_", "_x00e9_", "_", "x", "0", "A", '"', "\x0f", "\x01", "\r", "\n", "a b", "é"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_PIECES, min_size=1, max_size=8).map("".join), min_size=1, max_size=6))
def test_any_text_escaped_as_excel_writes_it_reads_back(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    """Any text of underscores, escape-like runs, quotes and control characters, written into a
    formula's string as Excel escapes it, is that text again (and its length is its length)."""
    tmp = tmp_path_factory.mktemp("x")
    got = compute(tmp, [_formula(t) for t in texts] + [f"=LEN({_formula(t)[1:]})" for t in texts])
    assert got == texts + [float(len(t)) for t in texts]
