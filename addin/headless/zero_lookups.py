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

``zero``: x is the number 0 or the logical FALSE, which IronCalc matched to a blank cell the same
way (``XMATCH(FALSE,A1:A2)`` over 0 and a blank was 2; a blank lookup value is neither: left to
the engine, whose empty-value lookups :mod:`addin.headless.extent` handles). A lookup value
written as a number other than 0, as text or as TRUE is never rewritten; neither are approximate,
wildcard, binary or last-to-first searches, nor tables that are not sheet ranges.

The rewrite is applied only where the call is known to be valid, so Excel's own errors stay
(the auditor's finding 3; Microsoft's pages of each function):

* the lookup value is one value: no range of several cells, array constant, name or function
  returning an array in it (an array of lookup values is looked up one by one, which
  ``AND(ISNUMBER(x),x=0)`` would collapse to one logical: finding 11); else the call is left
  as written;
* VLOOKUP/HLOOKUP: the column (row) index is checked where the formula runs, before the
  zero branch's INDEX: a number below 1 is #VALUE!, beyond the table's width (height) #REF!
  ("VLOOKUP function": "If col_index_num is less than 1, VLOOKUP returns the #VALUE! error
  value"; greater than the number of columns, #REF!); an index that is not a number goes to
  the engine's own lookup as written;
* XLOOKUP: the lookup and result ranges are one column (row) each, of the same length (else
  #VALUE! in Excel, which the engine's own XLOOKUP gives: left as written);
* XMATCH: the lookup array is a one-column or one-row sheet range (a 2-D lookup array is
  #VALUE!: left as written).

Variable names come from :class:`addin.headless.letnames.LetNames`, never a name the formula
holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_number
from addin.headless.formula import Call, formula, parse, render, rewrite_calls, significant, split_ref
from addin.headless.letnames import LetNames
from addin.headless.package import MAX_COLUMNS, MAX_ROWS

_NAMES = re.compile(r"\b(XMATCH|XLOOKUP|VLOOKUP|HLOOKUP)\s*\(", re.I)
_NONZERO_LITERAL = re.compile(r'^\s*(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|"(?:[^"]|"")*"|TRUE)\s*$', re.I)
_ZERO = re.compile(r"^\s*[-+]?0*\.?0*(?:[eE][-+]?\d+)?\s*$")
_EXACT = re.compile(r"^\s*(?:FALSE|0)\s*$", re.I)
_DEFAULT = re.compile(r"^\s*(?:0)?\s*$")
_FORWARD = re.compile(r"^\s*(?:1)?\s*$")
_LOOKUPS = frozenset(("XMATCH", "VLOOKUP", "HLOOKUP", "XLOOKUP"))


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


#: Functions whose result may be an array even of single-value arguments.
_ARRAY_RESULTS = frozenset(
    """OFFSET INDIRECT INDEX CHOOSE FILTER SORT SORTBY UNIQUE SEQUENCE RANDARRAY TRANSPOSE MMULT MINVERSE
    MUNIT FREQUENCY TOCOL TOROW HSTACK VSTACK TAKE DROP EXPAND WRAPROWS WRAPCOLS CHOOSECOLS CHOOSEROWS
    TEXTSPLIT MAKEARRAY MAP SCAN REDUCE BYROW BYCOL LET LAMBDA XLOOKUP LINEST LOGEST TREND GROWTH
    ANCHORARRAY ROW COLUMN GROUPBY PIVOTBY""".split()
)
_CELL = re.compile(r"\$?[A-Za-z]{1,3}\$?\d+")


def _elements(nodes: list[Any]) -> frozenset[str]:
    """The parameters of each ``MAP(array, LAMBDA(p, …))`` in a parsed formula (upper case):
    MAP gives its LAMBDA one element at a time (Microsoft, "MAP function"), so each is one value
    (the lifting of one-value parameters writes such calls: addin.headless.lifting)."""
    found: set[str] = set()

    def walk(seq: list[Any]) -> None:
        for node in seq:
            if not isinstance(node, Call):
                continue
            if node.key == "MAP" and node.args:
                last = significant(node.args[-1])
                if len(last) == 1 and isinstance(last[0], Call) and last[0].key == "LAMBDA":
                    found.update(render(a).strip().upper() for a in last[0].args[:-1])
            for a in node.args:
                walk(a)

    walk(nodes)
    return frozenset(found)


def _one_value(arg: list[Any], elements: frozenset[str] = frozenset()) -> bool:
    """Whether an argument is one value whatever the cells hold: literals, single cells, MAP's
    elements (:func:`_elements`), operators and calls of such arguments to functions whose
    result is one value."""
    for node in significant(arg):
        if isinstance(node, Call):
            if node.key in _ARRAY_RESULTS or not all(_one_value(a, elements) for a in node.args):
                return False
        elif isinstance(node, Token) and node.type == Token.OPERAND:
            if node.subtype == Token.RANGE:
                if str(node.value).upper() in elements:
                    continue
                ref = split_ref(str(node.value))
                if ref is None or _CELL.fullmatch(ref[1]) is None:
                    return False  # a range, a name, a rewritten call: maybe an array
            elif node.subtype not in (Token.NUMBER, Token.TEXT, Token.LOGICAL):
                return False
        elif isinstance(node, Token) and node.type == Token.ARRAY:
            return False
    return True


def _dims(ref: str) -> tuple[int, int] | None:
    """(rows, columns) of a sheet range (``A1:B4``, ``B:B``, ``3:3``, ``C7``)."""
    parsed = split_ref(ref)
    if parsed is None:
        return None
    ends = parsed[1].replace("$", "").upper().split(":")
    part = re.compile(r"([A-Z]*)(\d*)")
    got = [part.fullmatch(e) for e in ends]
    if any(m is None or not (m.group(1) or m.group(2)) for m in got) or len(got) > 2:
        return None
    (a, b) = (got[0], got[-1])
    assert a is not None and b is not None
    if a.group(1) and a.group(2) and b.group(1) and b.group(2):
        rows = abs(int(b.group(2)) - int(a.group(2))) + 1
        return rows, abs(column_number(b.group(1)) - column_number(a.group(1))) + 1
    if a.group(1) and b.group(1) and not (a.group(2) or b.group(2)):
        return MAX_ROWS, abs(column_number(b.group(1)) - column_number(a.group(1))) + 1
    if a.group(2) and b.group(2) and not (a.group(1) or b.group(1)):
        return abs(int(b.group(2)) - int(a.group(2))) + 1, MAX_COLUMNS
    return None


def _line(ref: str) -> bool:
    """One column or one row (``A1:A9``, ``B:B``, ``3:3``, ``A1:Z1``)."""
    dims = _dims(ref)
    return dims is not None and 1 in dims


def _valid_index(arg: str, size: int) -> bool:
    """Whether a column (row) index is a number written in the formula naming one of the
    table's ``size`` columns (rows), truncated as Excel truncates it."""
    try:
        k = float(arg.strip())
    except ValueError:
        return False
    return math.isfinite(k) and 1 <= math.trunc(k) <= size


def _index_known(call: Call) -> bool:
    """Whether a VLOOKUP/HLOOKUP's index is a valid literal for its table (sheet range)."""
    table = _sheet_range(call.args[1])
    dims = None if table is None else _dims(table)
    if dims is None:
        return True  # not a sheet range: the rewrite does not apply
    return _valid_index(render(call.args[2]), dims[1] if call.key == "VLOOKUP" else dims[0])


def _lifted_value(arg: list[Any]) -> bool:
    """A lookup value that is an array to look up element by element: a range of several
    cells or an array constant, alone."""
    sig = significant(arg)
    if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.RANGE:
        ref = split_ref(str(sig[0].value))
        return ref is not None and ":" in ref[1]
    return bool(sig) and isinstance(sig[0], Token) and sig[0].type == Token.ARRAY and render(arg).strip().startswith("{")


def zero_lookups(text: str, array_formula: bool = False, hosted: Callable[[str, list[str]], bool] | None = None) -> str:
    """``text`` with each exact lookup whose value may be 0 searching as MATCH does when it is 0
    (module docstring). In an array formula (``array_formula``) a lookup value that is a range
    or an array constant is looked up element by element (``MAP(values,LAMBDA(v,…))``), as
    Excel does (IronCalc 0.9.1 is #N/A for each), unless ``hosted(key, argument texts)``: a host
    function takes the call and looks up each element itself (:mod:`addin.headless.lookups`,
    whose exact search never matches a blank); elsewhere such a call is left as written."""
    nodes = parse(text)
    fresh = LetNames(text)
    elements = _elements(nodes)

    def change(call: Call) -> str | None:
        args = [render(a) for a in call.args]
        if call.key not in _LOOKUPS or len(args) < 2:
            return None
        if not _may_be_zero(args[0]) and not (call.key in ("VLOOKUP", "HLOOKUP") and len(args) == 4 and not _index_known(call)):
            return None
        if _one_value(call.args[0], elements):
            return _exact(call, args, fresh)
        if not (array_formula and _lifted_value(call.args[0])):
            return None
        if hosted is not None and hosted(call.key, [a.strip() for a in args]):
            return None
        v = fresh("zv")
        values = call.args[0]
        call.args[0] = [Token(v, Token.OPERAND, Token.RANGE)]
        body = _exact(call, [v, *args[1:]], fresh)
        if body is None:
            call.args[0] = values  # left as written
            return None
        return f"MAP({args[0]},LAMBDA({v},{body}))"

    return formula(nodes) if rewrite_calls(nodes, change) else text


def _exact(call: Call, args: list[str], fresh: LetNames) -> str | None:
    """The call searching as MATCH does where its one lookup value is 0 at run time, when the
    call is known to be valid (module docstring); None to leave it as written."""
    key = call.key
    x = fresh("z")
    zero = f"IF(ISNUMBER({x}),{x}=0,IF(ISLOGICAL({x}),NOT({x}),FALSE))"  # 0 or FALSE: a blank is neither
    lets = f"{x},{args[0]}"
    if key == "XMATCH":
        look = _sheet_range(call.args[1])
        if (
            len(args) > 4
            or look is None
            or not _line(look)
            or not _DEFAULT.match(args[2] if len(args) > 2 else "")
            or not _FORWARD.match(args[3] if len(args) > 3 else "")
        ):
            return None
        search = f"MATCH({x},{look},0)"
    elif key in ("VLOOKUP", "HLOOKUP"):
        table = _sheet_range(call.args[1])
        dims = None if table is None else _dims(table)
        if len(args) != 4 or table is None or dims is None or not _EXACT.match(args[3]):
            return None
        size = dims[1] if key == "VLOOKUP" else dims[0]
        valid = _valid_index(args[2], size)
        k = args[2] if valid else fresh("zk")
        if key == "VLOOKUP":
            search = f"INDEX({table},MATCH({x},OFFSET({table},0,0,ROWS({table}),1),0),{k})"
        else:
            search = f"INDEX({table},{k},MATCH({x},OFFSET({table},0,0,1,COLUMNS({table})),0))"
        if not valid:
            # Excel's index errors before any search (module docstring), in both branches (the
            # engine's own VLOOKUP(1,tbl,0,FALSE) is #REF!); an index that is not a number is
            # left to the engine's lookup; IF, not OR: element by element
            lets += f",{k},{args[2]}"
            call.args[0] = [Token(x, Token.OPERAND, Token.RANGE)]
            call.args[2] = [Token(k, Token.OPERAND, Token.RANGE)]
            own = render([call])
            inner = f"IF({zero},{search},{own})"
            return f"LET({lets},IF(ISNUMBER({k}),IF({k}<1,#VALUE!,IF({k}>={size + 1},#REF!,{inner})),{own}))"
    elif key == "XLOOKUP":
        look, ret = _sheet_range(call.args[1]), (_sheet_range(call.args[2]) if len(args) > 2 else None)
        if look is None or ret is None or len(args) > 6:
            return None
        dl, dr = _dims(look), _dims(ret)
        if dl is None or dl != dr or 1 not in dl:
            return None  # not two lines of one length and orientation: the engine's #VALUE!
        if not _DEFAULT.match(args[4] if len(args) > 4 else "") or not _FORWARD.match(args[5] if len(args) > 5 else ""):
            return None
        missing = args[3] if len(args) > 3 and args[3].strip() else "NA()"
        m = fresh("zm")
        search = f"LET({m},MATCH({x},{look},0),IF(ISNA({m}),{missing},INDEX({ret},{m})))"
    else:
        return None
    call.args[0] = [Token(x, Token.OPERAND, Token.RANGE)]
    return f"LET({lets},IF({zero},{search},{render([call])}))"
