"""Invariants of the filled-down formula template (addin/headless/columns.py).

The engine treats two cells of one column as one formula when the second's text is the first's
template rendered at its row. That is sound only if (1) a template renders its own text at its
own row, for any text; (2) filling a formula down (each relative row +k, absolute rows and
everything else unchanged: Excel's fill, i.e. the same R1C1 formula) is what rendering at row
+k gives; (3) text that only looks like a reference (in a string, a quoted sheet name, a
structured reference, a function's name, a number) is never shifted.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from addin.headless.columns import MAX_ROW, relative_cell, template, varies


@settings(max_examples=500)
@given(st.text(), st.integers(1, MAX_ROW))
@example("A\U0001fbf1", 1)  # another script's digit: not a row, kept verbatim (found by hypothesis)
@example("B\u0662+C2", 2)  # an Arabic-Indic digit beside a real reference
def test_a_template_renders_its_own_text_at_its_own_row(text: str, row: int) -> None:
    assert template(text, row).render(row) == text


COLUMNS = st.sampled_from(["A", "B", "Z", "AA", "XFD", "$C", "$ab"])
SHEETS = st.sampled_from(["", "Market!", "'My Sheet'!", "S2!"])


@st.composite
def filled(draw: st.DrawFn) -> tuple[list[tuple[str, int | None, bool]], int]:
    """A formula as parts: (text, None, _) verbatim, or (column, row offset, absolute) a reference."""
    row = draw(st.integers(2, 5000))
    parts: list[tuple[str, int | None, bool]] = [("=", None, False)]
    for _ in range(draw(st.integers(1, 6))):
        if len(parts) > 1:  # an operator between operands, as in any formula
            parts.append((draw(st.sampled_from([",", "+", "*", ":", ")", "&", " "])), None, False))
        kind = draw(st.sampled_from(["ref", "string", "number", "func", "op", "table"]))
        if kind == "ref":
            parts.append((draw(SHEETS), None, False))
            parts.append((draw(COLUMNS), draw(st.integers(-row + 1, 50)), draw(st.booleans())))
        elif kind == "string":
            parts.append((draw(st.sampled_from(['"A2"', '"B7&C9"', '""', '"%d 100%"'])), None, False))
        elif kind == "number":
            parts.append((draw(st.sampled_from(["1E5", "2.5", "10%", "0"])), None, False))
        elif kind == "func":
            parts.append((draw(st.sampled_from(["LOG10(", "CQ_BLACK(", "ATAN2(", "SUM("])), None, False))
        elif kind == "table":
            parts.append((draw(st.sampled_from(["Table1[Qty2]", "T[[#This Row],[A1]]"])), None, False))
        else:
            parts.append((draw(st.sampled_from(["-", "(", "@"])), None, False))
    return parts, row


def _text(parts: list[tuple[str, int | None, bool]], row: int, k: int) -> str:
    out = []
    for text, offset, absolute in parts:
        if offset is None:
            out.append(text)
        elif absolute:
            out.append(f"{text}${row + offset}")  # an absolute row: the same in every row
        else:
            out.append(f"{text}{row + offset + k}")
    return "".join(out)


@settings(max_examples=500)
@given(filled(), st.integers(-1, 300))
def test_rendering_at_another_row_is_filling_down(case: tuple[list[tuple[str, int | None, bool]], int], k: int) -> None:
    parts, row = case
    t = template(_text(parts, row, 0), row)
    assert t.render(row + k) == _text(parts, row, k)


@given(st.integers(2, 1000))
def test_look_alikes_are_verbatim(row: int) -> None:
    for text in ['="A2"&"B9"', "=LOG10(5)", "=1E5+2", "='A1'!$B$3", "=Table1[Qty2]", "=Sheet1!$A$1", "=AB1!C$7"]:
        assert template(text, row).offsets == (), text


def test_relative_cells() -> None:
    assert relative_cell("Market!B7", 7) is not None and relative_cell("Market!B7", 7).render(8) == "Market!B8"  # type: ignore[union-attr]
    assert relative_cell("$B7", 5).render(6) == "$B8"  # type: ignore[union-attr]
    for fixed in ("$B$7", "B2:B9", "Rate", "1E5", "'My Sheet'!B2"):
        assert relative_cell(fixed, 7) is None
    assert varies("B2:B9", 2) and not varies("B$2:B$9", 2)


@settings(max_examples=200)
@given(st.integers(2, 10_000), st.integers(-1, 5), st.integers(1, 6), st.integers(0, 500))
def test_slots_sharing_one_offset_render_as_each_slot_would(row: int, offset: int, n: int, k: int) -> None:
    """A formula whose references all read one row (the quote book's ``=CQ_BLACK(D2,G2,...)``)
    renders through the one-offset shortcut; the text is the filled-down formula."""
    cols = "DGCHIJ"[:n]
    text = "=CQ_BLACK(" + ",".join(f"{c}{row + offset}" for c in cols) + ")"
    t = template(text, row)
    assert t.same == offset and t.offsets == (offset,) * n
    assert t.render(row + k) == "=CQ_BLACK(" + ",".join(f"{c}{row + offset + k}" for c in cols) + ")"
    mixed = template(f"=D{row}+D{row + 1}", row)
    assert mixed.same is None and mixed.render(row + k) == f"=D{row + k}+D{row + k + 1}"
