"""The dispersion functions' arguments as Excel reads them: typed values counted, ``A`` variants' cells.

Microsoft's reference for STDEV, STDEV.S, STDEVP, STDEV.P, VAR, VAR.S, VARP, VAR.P, AVEDEV and
DEVSQ (e.g. "STDEV.S function"): "Logical values and text representations of numbers that you
type directly into the list of arguments are counted"; "Arguments that are error values or text
that cannot be translated into numbers cause errors"; in an array or reference only numbers
count. IronCalc 0.9.1 ignores a typed text (``STDEV(C1:D1,"2")`` leaves the 2 out, and
``STDEV(C1:D1,"")`` is a number where Excel gives #VALUE!). Each argument that is one text or
logical literal is therefore given as ``--(literal)``: Excel's own conversion of typed text
(a number, or #VALUE!).

The ``A`` variants (STDEVA, STDEVPA, VARA, VARPA; Microsoft, "STDEVA function": "Arguments
that contain TRUE evaluate as 1; arguments that contain text or FALSE evaluate as 0 (zero)")
count the text and logical cells of their references, which IronCalc ignores (Excel's cached
``STDEVA(I99,G99,E99)`` with I99 a text is the deviation of 0, -0.1, 0.9). Calls whose arguments
are all cells or ranges, or references and array values (:mod:`addin.headless.array_aggregates`:
IronCalc ignores the logicals of an array value as well), are evaluated here
(:func:`dispersion_a`): a blank cell is left out, a number is itself, TRUE 1, FALSE and text 0,
an error the result. Calls with another argument (a value typed in) stay with the formula engine.

AVEDEV and DEVSQ of no number at all are #NUM! in Excel, where the STDEV and VAR families give
#DIV/0! (Excel's cached values: ``AVEDEV`` and ``DEVSQ`` of a blank, a date text and TRUE in
cells #NUM!, ``STDEV.P`` of a blank cell #DIV/0!, in formulas' test book of the corpus; LibreOffice
alike); IronCalc 0.9.1 gives #DIV/0! for all (:func:`no_number_is_num`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.array_aggregates import a_values, takes
from addin.headless.formula import Call, render, significant
from addin.headless.host import HostFunction
from addin.headless.letnames import LetNames
from addin.headless.values import ExcelError

#: Functions whose typed text and logical arguments Excel counts as numbers.
TYPED = frozenset("STDEV STDEV.S STDEVP STDEV.P VAR VAR.S VARP VAR.P STDEVA STDEVPA VARA VARPA AVEDEV DEVSQ".split())


def typed_literals(node: Call, fresh: LetNames) -> str | None:
    """The call with each argument that is a lone text or logical literal as ``--(literal)``
    (module docstring); None when it has none."""
    del fresh  # the rewrite binds no name
    changed = False
    args: list[str] = []
    for a in node.args:
        sig = significant(a)
        lone = len(sig) == 1 and isinstance(sig[0], Token) and sig[0].type == Token.OPERAND
        if lone and (sig[0].subtype == Token.TEXT or (sig[0].subtype == Token.LOGICAL)):
            args.append(f"--({render(a).strip()})")
            changed = True
        else:
            args.append(render(a))
    return f"{node.name}({','.join(args)})" if changed else None


#: Functions whose call over no number at all is #NUM! (module docstring).
NUM_WHEN_EMPTY = frozenset(("AVEDEV", "DEVSQ"))


def no_number_is_num(node: Call, fresh: LetNames) -> str:
    """AVEDEV or DEVSQ (typed literals counted, :func:`typed_literals`) with IronCalc's #DIV/0!
    for no number made #NUM!: ``LET(v, call, IF(ISNUMBER(v), v, IF(ISERROR(SUM(args)), v,
    IF(COUNT(args)=0, #NUM!, v))))``. An error among the values (SUM passes it on, as the
    call does) or a typed text that is no number stays the call's own error."""
    call = typed_literals(node, fresh) or render([node])
    args = call[len(node.name) + 1 : -1]
    v = fresh("nv")
    return f"LET({v},{call},IF(ISNUMBER({v}),{v},IF(ISERROR(SUM({args})),{v},IF(COUNT({args})=0,#NUM!,{v}))))"


def _spread(population: bool, root: bool) -> Callable[[list[Any]], Any]:
    def one(args: list[Any]) -> Any:
        xs = a_values(args)
        if isinstance(xs, ExcelError):
            return xs
        n = len(xs)
        if n - (0 if population else 1) <= 0:
            return ExcelError("#DIV/0!")
        mean = math.fsum(xs) / n
        var = math.fsum((x - mean) ** 2 for x in xs) / (n if population else n - 1)
        return math.sqrt(var) if root else var

    return one


def _cells_or_arrays(args: list[tuple[str, str]]) -> bool:
    """Calls of cells and ranges, or of references and array values (IronCalc 0.9.1 ignores the
    logicals of an array value too: ``STDEVA({TRUE,FALSE})`` was #DIV/0!, Excel's 0.707...)."""
    return bool(args) and (all(k in ("cell", "range") for k, _ in args) or takes(args))


def dispersion_a() -> dict[str, HostFunction]:
    """STDEVA, STDEVPA, VARA and VARPA over cells and ranges (module docstring)."""
    forms = {"STDEVA": (False, True), "STDEVPA": (True, True), "VARA": (False, False), "VARPA": (True, False)}
    out: dict[str, HostFunction] = {}
    for name, (population, root) in forms.items():
        one = _spread(population, root)

        def evaluate(calls: list[list[Any]], one: Callable[[list[Any]], Any] = one) -> list[Any]:
            return [one(args) for args in calls]

        out[name] = HostFunction(name, evaluate, _cells_or_arrays)
    return out


__all__ = ["TYPED", "a_values", "dispersion_a", "typed_literals"]
