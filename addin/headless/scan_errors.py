"""SCAN whose LAMBDA gives an error at some value: each intermediate value kept, as Excel does.

Microsoft, "SCAN function": SCAN "scans an array by applying a LAMBDA to each value and returns
an array that has each intermediate value". An error at one value is that intermediate value;
the values before it are unaffected: ``{=SCAN(0,A1:A5,LAMBDA(a,x,a+ABS(x)))}`` with A5 "abc"
is 3, 5.5, 5.75, 12.75, #VALUE!. IronCalc 0.9.1 gives the whole result that error (#VALUE! in
every cell; its SCAN stops at the first error of the LAMBDA).

The rewrite keeps the LAMBDA from giving an error: the error is carried as a text that no
formula writes (:data:`_MARK` and the error's ERROR.TYPE number), turned back into the error
before the LAMBDA reads the accumulator (so ``IFERROR(a,0)+x`` recovers as in Excel) and in the
result (``MAP`` over SCAN's array)::

    SCAN(i, arr, LAMBDA(a, x, body))
    -> MAP(SCAN(i, arr, LAMBDA(a0, x, LET(a, back(a0), v, body, IF(ISERROR(v), mark(v), v)))),
           LAMBDA(e, back(e)))

Errors beyond ERROR.TYPE's seven (#NULL! to #N/A) come back as #VALUE!. Only a LAMBDA written in
the call with its two parameters is rewritten (an eta-reduced function has no body to wrap).
"""

from __future__ import annotations

import re
from typing import Any

from addin.headless.formula import Call, formula, parse, render, rewrite_calls, significant
from addin.headless.letnames import LetNames

#: What an error is carried as: a control character no typed text holds, then its number.
_MARK = 'CHAR(1)&"#"'
_ERRORS = "#NULL!,#DIV/0!,#VALUE!,#REF!,#NAME?,#NUM!,#N/A"
_SCAN = re.compile(r"(?<![\w.])(?:_xlfn\.)?SCAN\s*\(", re.I)


def needs_scan_errors(text: str) -> bool:
    """Cheap test: the formula calls SCAN."""
    return _SCAN.search(text) is not None


def _back(name: str) -> str:
    """``name``'s value, a carried error turned back into the error."""
    return f"IF(ISTEXT({name}),IF(LEFT({name},2)={_MARK},CHOOSE(VALUE(MID({name},3,2)),{_ERRORS}),{name}),{name})"


def _lambda_parts(arg: list[Any]) -> tuple[str, str, str] | None:
    """(accumulator, value, body) of an argument that is ``LAMBDA(a, x, body)``; else None."""
    sig = significant(arg)
    if len(sig) != 1 or not isinstance(sig[0], Call) or sig[0].key != "LAMBDA" or len(sig[0].args) != 3:
        return None
    a, x, body = (render(p).strip() for p in sig[0].args)
    return a, x, body


def scan_errors(text: str) -> str:
    """``text`` with each SCAN given its LAMBDA in the call rewritten (module docstring); ``text``
    itself, untokenised, when it calls no SCAN."""
    if not needs_scan_errors(text):
        return text
    nodes = parse(text)
    fresh = LetNames(text)

    def change(node: Call) -> str | None:
        if node.key != "SCAN" or len(node.args) != 3:
            return None
        parts = _lambda_parts(node.args[2])
        if parts is None:
            return None
        a, x, body = parts
        a0, v, e = fresh("sa"), fresh("sv"), fresh("se")
        step = f"LAMBDA({a0},{x},LET({a},{_back(a0)},{v},{body},IF(ISERROR({v}),{_MARK}&ERROR.TYPE({v}),{v})))"
        init, array = render(node.args[0]), render(node.args[1])
        return f"MAP({node.name}({init},{array},{step}),LAMBDA({e},{_back(e)}))"

    return formula(nodes) if rewrite_calls(nodes, change) else text


__all__ = ["needs_scan_errors", "scan_errors"]
