"""LET names and LAMBDA parameters read by host calls: the second outside audit of bound_names.

Excel's meaning, from Microsoft's reference, "LET function": LET "assigns names to calculation
results" and the names are the formula's own, so ``LET(x, v, F(x))`` is ``F((v))`` whatever
``v`` is (the parentheses: the name is one operand, whatever operators ``v`` holds).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError

from .bookkit import compute, same

_A = {"A1": 1, "A2": 2, "A3": 3}


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        # "LEN function": "xy" has 2 characters; MATCH(2, {1,2}) approximate is position 2
        ('=LET(s,"x"&"y",MATCH(LEN(s),{1,2}))', 2.0),
        # A3&"" is the text "3" (Microsoft, "Calculation operators": & joins as text); exact in {"1","3"}: 2
        ('=LET(s,A3&"",MATCH(s,{"1","3"}))', 2.0),
        # "TEXT function": a text value is returned as it is ("A3")
        ('=LET(s,"A"&"3",TEXT(s,"0"))', "A3"),
        # VLOOKUP approximate of "ab" in {"ab",7} finds "ab": its second column, 7
        ('=LET(s,"a"&"b",VLOOKUP(s,{"ab",7},2))', 7.0),
    ],
)
def test_a_let_value_joined_with_ampersand_is_read_by_host_calls(tmp_path: Path, text: str, excel: Any) -> None:
    """The audit's p14/p12 cases: #NAME? before (the 15-digit conversion of ``&``'s operands read
    ``("x"&"y")`` flat and cut its parentheses apart)."""
    (got,) = compute(tmp_path, [text], _A)
    assert got == excel


_OPERANDS = ["A3", '"x"', "(1+2)"]
_OPERATORS = ["&", "+"]
_CALLS = ["MATCH(LEN(x),{1,2,3,4,5,6})", 'TEXT(x,"0")']


def test_a_let_name_reads_as_its_parenthesised_value(tmp_path: Path) -> None:
    """Property over a generated set (every operand pair under every operator, each host call):
    ``LET(x, v, F(x))`` equals ``F((v))`` (module docstring). Both are computed by the engine: the
    identity, not a value, is checked, so errors (``"x"+2`` is #VALUE!) must agree too."""
    values = [f"{a}{op}{b}" for a, b in itertools.product(_OPERANDS, repeat=2) for op in _OPERATORS]
    pairs = [(f"=LET(x,{v},{call})", "=" + call.replace("x", f"({v})")) for v in values for call in _CALLS]
    got = compute(tmp_path, [f for pair in pairs for f in pair], _A)
    for k, (let, plain) in enumerate(pairs):
        assert same(got[2 * k], got[2 * k + 1]), (let, got[2 * k], plain, got[2 * k + 1])


# ----------------------------------------------------------------------------- growth bound


def _chain(n: int, op: str) -> str:
    """``LET(q_0, v, q_1, q_0 op q_0, …, MATCH(LEN?(q_n), {1,2}))``: each name reads the one
    before twice, so its value written out doubles at each step."""
    first = "1" if op == "+" else '"x"'
    parts = [f"q_0,{first}"] + [f"q_{i},q_{i - 1}{op}q_{i - 1}" for i in range(1, n + 1)]
    last = f"q_{n}" if op == "+" else f"LEN(q_{n})"
    return f"=LET({','.join(parts)},MATCH({last},{{1,2}}))"


def _chain_values(path: str, n_formulas: int) -> list[Any]:
    """In the child: the values of column B (module-level: the child imports it by name)."""
    from addin.headless import recalculate

    got = recalculate(path).values
    return [got[("S", i, 2)] for i in range(1, n_formulas + 1)]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depths=st.lists(st.integers(0, 40), min_size=1, max_size=5), op=st.sampled_from(["+", "&"]))
def test_let_chains_of_any_depth_are_excels_value_or_refused_in_bounded_time(tmp_path: Path, depths: list[int], op: str) -> None:
    """The audit's p16/p13: a doubling chain of 20 took 110 s and 860 MB, then crashed IronCalc.
    Whatever the depth, the book is computed in a child within 120 s and 1 GiB (the budget: a
    generous bound on a loaded machine, the chains themselves take a second), and each cell is
    Excel's value or #CALC! with a reason. Excel's value: q_n is 2^n (or text of 2^n characters); "MATCH function",
    approximate: the largest of {1,2} not above 2^n is at position 1 for n = 0, else 2."""
    from openpyxl import Workbook

    from addin.headless.isolation import Budget, run

    wb = Workbook()
    ws = wb.active
    ws.title = "S"
    # a text chain past 15 doubles Excel's 32,767-character text limit: IronCalc has none and
    # builds the text itself (2^28 characters: over 1 GiB), a class of its own (docs/headless-semantics.md)
    depths = [min(n, 15) if op == "&" else n for n in depths]
    for i, n in enumerate(depths, 1):
        ws.cell(i, 2).value = _chain(n, op)
    path = tmp_path / "chain.xlsx"
    wb.save(path)
    got = run(f"{__name__}:_chain_values", (str(path), len(depths)), str(path), Budget(max_memory_mib=1024, timeout_s=120))
    for n, value in zip(depths, got, strict=True):
        excel = 1.0 if n == 0 else 2.0
        refused = isinstance(value, ExcelError) and value.code == "#CALC!" and bool(value.reason)
        assert refused or same(value, excel), (n, op, value)


# ----------------------------------------------------------------------------- names of the formula's own


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        ("=LET(x,1,x+0)", 1.0),  # the LET's x (1), not the book's x (3)
        ("=LET(x,1,MATCH(x,A1:A3))", 1.0),  # MATCH(1, {1;2;3}) approximate: position 1
        ("=LET(rate,1,MATCH(rate,A1:A3)+rate)", 2.0),  # rate is 1 throughout the LET: 1 + 1
        ("=SUM(MAP(SEQUENCE(3),LAMBDA(x,x*2)))", 12.0),  # the parameter, not the name: 2 + 4 + 6
        ("=x+LET(x,1,x)", 4.0),  # outside the LET the book's x (3) again: 3 + 1
        ("=LET(match,2,MATCH(match,A1:A3))", 2.0),  # a name spelled as the function it is given to
        ("=LET(sum,2,MATCH(sum,A1:A3)+SUM(1,1))", 4.0),  # SUM( ) is still the function: 2 + 2
        ('=LET(s,"sum",LEN(s)&SUM(1))', "31"),  # a string holding the name is left alone
        ("=LET(f,LAMBDA(sum,sum*2),f(2)+SUM(1))", 5.0),  # a LAMBDA's parameter alike; f(2) is 4
    ],
)
def test_let_names_and_lambda_parameters_are_the_formulas_own(tmp_path: Path, text: str, excel: Any) -> None:
    """Microsoft, "LET function": the names are local to the formula, so a LET name or LAMBDA
    parameter spelled as a defined name of the book (here ``x`` = 3, ``rate`` = 2) or as a
    function means the LET's value inside its scope (audit p04: #VALUE! and #NAME?; p03 F7:
    #NAME? with an AssertionError as its reason)."""
    from openpyxl import Workbook
    from openpyxl.workbook.defined_name import DefinedName

    from addin.headless import recalculate

    wb = Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in _A.items():
        ws[ref] = v
    wb.defined_names["x"] = DefinedName("x", attr_text="3")
    wb.defined_names["rate"] = DefinedName("rate", attr_text="S!$A$2")
    ws["B1"] = text
    wb.save(tmp_path / "b.xlsx")
    assert recalculate(tmp_path / "b.xlsx").values[("S", 1, 2)] == excel
