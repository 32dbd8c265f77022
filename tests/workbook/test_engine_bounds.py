"""Bounds on the formulas the engine itself writes (issue 30: "no crash reaches the user"): a
rewrite IronCalc would not survive is an error in its cell with the reason, never a crash.

Outside reference: Microsoft, "Excel specifications and limits" (a formula a user types holds at
most 8,192 characters and 64 nested functions) and "Define and use names in formulas" (a name
used in a formula stands for its definition). A file's formula within those limits can still be
rewritten past them by the engine (each name written out in place), so the bound is on what the
formula engine survives (addin.headless.engine_bounds), measured, not Excel's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName

from addin.headless import recalculate
from addin.headless.engine_bounds import STACK_BYTES, BeyondEngine, BoundedModel, stack_need


def _chained_names(path: Path, terms: int, levels: int) -> Path:
    """S!A1 = ``ChainN+1+...+1``, ChainK = ``ChainK-1+1+...+1``, Chain1 = ``1+1+...+1``: every text
    within Excel's limits, the names written out one chain inside the next (S!A2 = 1+1)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    prev = "1"
    for k in range(1, levels + 1):
        wb.defined_names[f"Chain{k}"] = DefinedName(f"Chain{k}", attr_text=prev + "+" + "+".join(["1"] * terms))
        prev = f"Chain{k}"
    ws["A1"] = "=" + prev + "+" + "+".join(["1"] * terms)
    ws["A2"] = "=1+1"
    assert len(ws["A1"].value) <= 8192
    wb.save(path)
    return path


def test_a_rewrite_the_formula_engine_would_not_survive_is_an_error_in_its_cell_in_process(tmp_path: Path) -> None:
    # nine chains of 3,000 '+' written out one inside the next: 27,000 levels of IronCalc's tree,
    # which ended the process with SIGSEGV (18,491 was the most it survived). Run in a fresh
    # interpreter, in-process there (recalculate, no child), so a crash fails this test, not the run.
    book = _chained_names(tmp_path / "chain.xlsx", 3000, 8)
    code = (
        "import sys; from addin.headless import recalculate; "
        f"v = recalculate({str(book)!r}).values; "
        "a1 = v[('S', 1, 1)]; print(getattr(a1, 'code', a1)); print(getattr(a1, 'reason', '')); print(v[('S', 2, 1)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (out.returncode, out.stderr[-500:])
    code_, reason, a2 = out.stdout.splitlines()[-3:]
    assert code_ == "#CALC!"
    assert "nests too deep for the formula engine" in reason and "STACK_BYTES" in reason
    assert a2 == "2.0"  # the rest of the book is computed


def test_a_rewrite_past_excels_length_within_the_engines_bounds_is_computed(tmp_path: Path) -> None:
    # =Chain1+Chain1 with Chain1 = 1+...+1 (2,500 ones) is 10,000+ characters written out: beyond
    # the 8,192 a user may type, which limits the formula as written, not the engine's rewrite.
    # Excel: each name stands for its definition, so the cell is 2 x 2,500 (exact in binary).
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    wb.defined_names["Chain1"] = DefinedName("Chain1", attr_text="+".join(["1"] * 2500))
    ws["A1"] = "=Chain1+Chain1"
    wb.save(tmp_path / "b.xlsx")
    got = recalculate(tmp_path / "b.xlsx").values
    assert got[("S", 1, 1)] == 5000.0


@pytest.mark.parametrize(
    "formula",
    [
        # the shapes measured to crash IronCalc 0.9.1 on an 8 MiB stack (engine_bounds' docstring):
        # each must be estimated at twice the bound at least, the stated margin
        "=" + "^".join(["1"] * 5398),
        "=" + "&".join(["1"] * 6031),
        "=" + "<>".join(["1"] * 6178),
        "=1" + "%" * 11476,
        "=" + "-" * 11250 + "1",
        "=" + "*".join(["1"] * 18803),
        "=" + "ABS(" * 2187 + "1" + ")" * 2187,
        "=" + "IF(TRUE," * 2167 + "1" + ")" * 2167,
        "=" + "(" * 2468 + "1" + ")" * 2468,
        "=" + "ABS(" * 103 + "&".join(['"a"'] * 6000) + ")" * 103,
    ],
    ids=["pow", "amp", "ne", "pct", "neg", "mul", "fn", "if", "paren", "mixed"],
)
def test_every_shape_measured_to_crash_is_estimated_past_twice_the_bound(formula: str) -> None:
    assert stack_need(formula) >= 2 * STACK_BYTES


def test_strings_and_arguments_do_not_count_as_depth() -> None:
    # a long argument list is wide, not deep; operators inside a string are text
    assert stack_need("=SUM(" + ",".join(["1+1"] * 10000) + ")") < 10_000
    assert stack_need('="' + "&" * 100000 + '"') == 0


def test_the_engine_holds_its_model_only_through_the_bounds(tmp_path: Path) -> None:
    # the one home: every formula entry point of the model the engine computes with is checked
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+1"
    wb.save(tmp_path / "b.xlsx")
    model = recalculate(tmp_path / "b.xlsx").run.model
    assert isinstance(model, BoundedModel)
    with pytest.raises(BeyondEngine):
        model.update_cell_with_formula(0, 2, 1, "=" + "ABS(" * 2000 + "1" + ")" * 2000)
    with pytest.raises(BeyondEngine):
        model.set_user_input(0, 2, 1, "=" + "+".join(["1"] * 130_000))
    model.set_user_input(0, 2, 1, "+".join(["1"] * 130_000))  # a text, not a formula: the model's own


def test_a_chain_of_numbers_within_excels_length_is_computed(tmp_path: Path) -> None:
    """``=LEN(A1&A2&…&A350)`` over the numbers 1..350 is 1,647 characters, well within Excel's
    8,192 (Microsoft, "Excel specifications and limits"), and Excel's value is the digits of
    1..350 written out: 9 + 90x2 + 251x3 = 942 (Microsoft, "Concatenate": numbers joined as
    text). The engine's number-to-text rewrite grows each operand (~720 characters), so the
    rewrite was 252,403 characters and a first length bound of 250,000 refused it (#CALC!, found
    by this round's outside audit); the length bound is now what costs memory (4,000,000
    characters), never what a legitimate formula's rewrite reaches."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for i in range(1, 351):
        ws.cell(i, 1, i)
    ws["C1"] = "=LEN(" + "&".join(f"A{i}" for i in range(1, 351)) + ")"
    wb.save(tmp_path / "b.xlsx")
    assert recalculate(tmp_path / "b.xlsx").values[("S", 1, 3)] == 942.0
