"""Exact lookups of zero skip blank cells, as Excel's do.

An exact match looks for a value equal to the lookup value, and a blank cell holds no value
(Microsoft, "XMATCH function": match_mode 0 "exact match"; "VLOOKUP function": FALSE "an exact
match"), so ``XMATCH(0,A1:A5)`` with A1 blank and A5 holding 1 is #N/A in Excel. IronCalc 0.9.1
reads the blank as 0 in XMATCH, XLOOKUP, VLOOKUP and HLOOKUP (1, 0, 0) while its MATCH(…,0)
skips blanks, as Excel. So where the lookup value is 0 at run time the search is MATCH's:

* ``XMATCH(v,arr)`` (match_mode 0 or omitted, search_mode 1 or omitted) →
  ``LET(x,v,IF(zero,MATCH(x,arr,0),XMATCH(x,arr,…)))``;
* ``VLOOKUP(v,tbl,k,FALSE)`` → ``…IF(zero,INDEX(tbl,MATCH(x,OFFSET(tbl,0,0,ROWS(tbl),1),0),k),…)``
  (HLOOKUP: the first row, ``OFFSET(tbl,0,0,1,COLUMNS(tbl))``, and ``INDEX(tbl,k,m)``);
* ``XLOOKUP(v,look,ret[,if_not_found[,0[,1]]])`` with ``look`` and ``ret`` one column or one
  row of a sheet → ``…IF(zero,LET(m,MATCH(x,look,0),IF(ISNA(m),if_not_found,INDEX(ret,m))),…)``.

``zero``: ``AND(ISNUMBER(x),x=0)`` (a blank lookup value is not a number: left to the engine,
whose empty-value lookups :mod:`addin.headless.extent` handles). A lookup value written as a
number other than 0, as text or as a logical is never rewritten; neither are approximate,
wildcard, binary or last-to-first searches, nor tables that are not sheet ranges.
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, render, rewrite_calls, significant, split_ref

_NAMES = re.compile(r"\b(XMATCH|XLOOKUP|VLOOKUP|HLOOKUP)\s*\(", re.I)
_NONZERO_LITERAL = re.compile(r'^\s*(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|"(?:[^"]|"")*"|TRUE|FALSE)\s*$', re.I)
_ZERO = re.compile(r"^\s*[-+]?0*\.?0*(?:[eE][-+]?\d+)?\s*$")
_EXACT = re.compile(r"^\s*(?:FALSE|0)\s*$", re.I)
_DEFAULT = re.compile(r"^\s*(?:0)?\s*$")
_FORWARD = re.compile(r"^\s*(?:1)?\s*$")


def needs_zero_lookups(text: str) -> bool:
    """Cheap test before tokenising: an exact-capable lookup is called."""
    return _NAMES.search(text) is not None


def _may_be_zero(arg: str) -> bool:
    """Whether the lookup value can be the number 0 at run time (not a literal other than 0)."""
    if not arg.strip():
        return False  # omitted: left as written
    return not _NONZERO_LITERAL.match(arg) or bool(_ZERO.match(arg) and any(ch.isdigit() for ch in arg))


def _sheet_range(arg: list[Any]) -> str | None:
    sig = significant(arg)
    if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.RANGE:
        value = str(sig[0].value)
        if not value.startswith("@") and split_ref(value) is not None:
            return value
    return None


def _line(ref: str) -> bool:
    """One column or one row (``A1:A9``, ``B:B``, ``3:3``, ``A1:Z1``)."""
    parsed = split_ref(ref)
    if parsed is None:
        return False
    ends = parsed[1].replace("$", "").split(":")
    if len(ends) == 1:
        return True
    (a, b) = ends
    col = re.compile(r"([A-Za-z]*)(\d*)")
    ma, mb = col.fullmatch(a), col.fullmatch(b)
    if ma is None or mb is None:
        return False
    return ma.group(1).upper() == mb.group(1).upper() or (ma.group(2) == mb.group(2) and ma.group(2) != "")


def zero_lookups(text: str) -> str:
    """``text`` with each exact lookup whose value may be 0 searching as MATCH does when it is 0
    (module docstring)."""
    nodes = parse(text)
    counter = [0]

    def change(call: Call) -> str | None:
        key = call.key
        args = [render(a) for a in call.args]
        if len(args) < 2 or not _may_be_zero(args[0]):
            return None
        counter[0] += 1
        x = f"_cqz{counter[0]}"
        zero = f"AND(ISNUMBER({x}),{x}=0)"
        if key == "XMATCH":
            if (
                len(args) > 4
                or not _DEFAULT.match(args[2] if len(args) > 2 else "")
                or not _FORWARD.match(args[3] if len(args) > 3 else "")
            ):
                return None
            search = f"MATCH({x},{args[1]},0)"
        elif key in ("VLOOKUP", "HLOOKUP"):
            table = _sheet_range(call.args[1])
            if len(args) != 4 or table is None or not _EXACT.match(args[3]):
                return None
            if key == "VLOOKUP":
                search = f"INDEX({table},MATCH({x},OFFSET({table},0,0,ROWS({table}),1),0),{args[2]})"
            else:
                search = f"INDEX({table},{args[2]},MATCH({x},OFFSET({table},0,0,1,COLUMNS({table})),0))"
        elif key == "XLOOKUP":
            look, ret = _sheet_range(call.args[1]), (_sheet_range(call.args[2]) if len(args) > 2 else None)
            if look is None or ret is None or not (_line(look) and _line(ret)) or len(args) > 6:
                return None
            if not _DEFAULT.match(args[4] if len(args) > 4 else "") or not _FORWARD.match(args[5] if len(args) > 5 else ""):
                return None
            missing = args[3] if len(args) > 3 and args[3].strip() else "NA()"
            m = f"_cqzm{counter[0]}"
            search = f"LET({m},MATCH({x},{look},0),IF(ISNA({m}),{missing},INDEX({ret},{m})))"
        else:
            return None
        call.args[0] = [Token(x, Token.OPERAND, Token.RANGE)]
        return f"LET({x},{args[0]},IF({zero},{search},{render([call])}))"

    return formula(nodes) if rewrite_calls(nodes, change) else text
