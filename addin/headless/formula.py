"""Formula text as a tree of calls, for the two rewrites the engine makes before evaluating.

openpyxl's tokenizer (which follows Excel's grammar and round-trips the text exactly) gives
the tokens; :func:`parse` nests them into :class:`Call` nodes. Two uses:

* **host calls** (:func:`host_calls`): calls of functions this project evaluates itself (the
  catalogue) are cut out of the formula; each is replaced by a reference to a scratch cell
  that will hold its result, unless the call is the whole formula;
* **implicit intersection** (:func:`intersect`): a legacy formula (neither a CSE array nor an
  Excel 365 dynamic array, ``cm`` absent) that puts a multi-cell range where one value is
  expected gets the value in the formula's own row or column: Excel 365 shows such a formula
  with ``@`` ("Implicit intersection operator: @", Microsoft support). IronCalc evaluates
  every formula as a dynamic array, so the engine writes the ``@`` Excel implies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from openpyxl.formula.tokenizer import Token, Tokenizer

from addin.headless.letnames import LetNames

#: Arguments that take arrays as they come (no implicit intersection there): function -> argument
#: positions (0-based), or None for every argument. From Excel's function reference: the
#: ``array``/``reference``/``lookup_array`` parameters.
ARRAY_ARGS: dict[str, frozenset[int] | None] = {
    **dict.fromkeys(
        """SUMPRODUCT MMULT TRANSPOSE FREQUENCY LINEST LOGEST TREND GROWTH ROWS COLUMNS ROW COLUMN AREAS
        MDETERM MINVERSE FILTER SORT SORTBY UNIQUE TOCOL TOROW VSTACK HSTACK TEXTJOIN CONCAT""".split(),
        None,
    ),
    "INDEX": frozenset({0}),
    "OFFSET": frozenset({0}),
    "MATCH": frozenset({1}),
    "XMATCH": frozenset({1}),
    "VLOOKUP": frozenset({1}),
    "HLOOKUP": frozenset({1}),
    "LOOKUP": frozenset({1, 2}),
    "XLOOKUP": frozenset({1, 2}),
    "CHOOSE": frozenset(range(1, 255)),
    # the holidays (Microsoft, "WORKDAY function": "an array constant of the serial numbers")
    "WORKDAY": frozenset({2}),
    "WORKDAY.INTL": frozenset({3}),
    "NETWORKDAYS": frozenset({2}),
    "NETWORKDAYS.INTL": frozenset({3}),
}
#: Functions every argument of which is one value: a range there is intersected (Excel 365 shows ``@``).
SCALAR_ARGS = frozenset(
    """ABS SIGN INT TRUNC ROUND ROUNDUP ROUNDDOWN MROUND CEILING FLOOR SQRT EXP LN LOG LOG10 POWER MOD
    SIN COS TAN ASIN ACOS ATAN ATAN2 SINH COSH TANH DEGREES RADIANS EVEN ODD FACT
    DATE TIME YEAR MONTH DAY HOUR MINUTE SECOND WEEKDAY EDATE EOMONTH DATEVALUE TIMEVALUE
    LEN LEFT RIGHT MID UPPER LOWER PROPER TRIM CLEAN VALUE TEXT FIXED DOLLAR CHAR CODE REPT EXACT FIND SEARCH
    SUBSTITUTE REPLACE IF IFERROR IFNA NOT ISNUMBER ISTEXT ISNONTEXT ISBLANK ISLOGICAL ISERROR ISERR ISNA
    ISEVEN ISODD N T""".split()
)
_CELL = r"\$?[A-Za-z]{1,3}\$?\d+"
_SPAN = re.compile(rf"(?:{_CELL}:{_CELL}|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}|\$?\d+:\$?\d+)$")
_REF = re.compile(
    rf"^(?:(?:'(?P<q>(?:[^']|'')+)'|(?P<s>[^'!:]+))!)?(?P<a>{_CELL}(?::{_CELL})?|\$?[A-Za-z]{{1,3}}:\$?[A-Za-z]{{1,3}}|\$?\d+:\$?\d+)$"
)


@dataclass
class Call:
    """A function call: its name as written (without the ``(``) and its arguments' nodes."""

    name: str
    args: list[list[Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        # IronCalc's reader writes Excel's implicit ``@`` before a call (``=@INDEX(A1,1,1)``)
        return bare_name(self.name.lstrip("@"))


def bare_name(name: str) -> str:
    """``_xlfn._xlws.SORT`` / ``_xludf.cq_black`` -> ``SORT`` / ``CQ_BLACK``."""
    up = name.upper()
    if not up.startswith("_X"):
        return up
    for prefix in ("_XLFN._XLWS.", "_XLFN.", "_XLWS.", "_XLUDF.", "_XLL."):
        if up.startswith(prefix):
            return up[len(prefix) :]
    return up


_SPILL = re.compile(r"((?:(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?\$?[A-Za-z]{1,3}\$?\d+)#")
_STRING = re.compile(r'("(?:[^"]|"")*")')


def spill_refs(text: str) -> str:
    """``A3#`` (a dynamic array's spill range) as ``_xlfn.ANCHORARRAY(A3)``, the form the file
    format stores and the tokenizer reads; the formula engine reads both."""
    if "#" not in text:
        return text
    parts = _STRING.split(text)
    return "".join(p if i % 2 else _SPILL.sub(r"_xlfn.ANCHORARRAY(\1)", p) for i, p in enumerate(parts))


#: The characters a structured reference escapes with ``'`` (Microsoft, "Using structured
#: references with Excel tables": ``[``, ``]``, ``#`` and ``'`` in a column name), and the
#: private-use characters they stand as while the tokenizer reads the formula.
_ESCAPED = {ch: chr(0xE000 + ord(ch)) for ch in "[]#'"}
_UNESCAPE = {ord(v): k for k, v in _ESCAPED.items()}


def _hide_escapes(text: str) -> str:
    """``[Column'[]`` with the escaped ``[`` hidden from openpyxl's tokenizer, which counts
    brackets without reading ``'`` escapes and raised "unmatched '['" (``[Column'[]`` is the
    column ``Column[``); the escape itself is kept. Text in string literals is left alone."""
    out: list[str] = []
    depth, i, n, quoted = 0, 0, len(text), False
    while i < n:
        ch = text[i]
        if quoted:
            if ch == '"' and i + 1 < n and text[i + 1] == '"':
                out.append('""')  # a doubled quote inside the literal
                i += 2
                continue
            quoted = ch != '"'
        elif ch == '"' and depth == 0:
            quoted = True
        elif ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        elif ch == "'" and depth and i + 1 < n and text[i + 1] in _ESCAPED:
            out.append(ch + _ESCAPED[text[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse(text: str) -> list[Any]:
    """The formula (with its ``=``) as nested nodes: tokens and :class:`Call` s."""
    if "'" in text and "[" in text:
        tokens = Tokenizer(spill_refs(_hide_escapes(text))).items
        for tok in tokens:
            tok.value = tok.value.translate(_UNESCAPE)
    else:
        tokens = Tokenizer(spill_refs(text)).items
    stack: list[tuple[list[Any], Call | None]] = [([], None)]
    for tok in tokens:
        seq, call = stack[-1]
        if tok.type == Token.FUNC and tok.subtype == Token.OPEN:
            new = Call(tok.value[:-1], [[]])
            seq.append(new)
            stack.append((new.args[0], new))
        elif tok.type == Token.FUNC and tok.subtype == Token.CLOSE and call is not None:
            stack.pop()
        elif tok.type == Token.SEP and tok.subtype == Token.ARG and call is not None and not _in_array(seq):
            call.args.append([])
            stack[-1] = (call.args[-1], call)
        else:
            seq.append(tok)
    return stack[0][0]


def _in_array(seq: list[Any]) -> bool:
    depth = 0
    for node in seq:
        if isinstance(node, Token) and node.type == Token.ARRAY:
            depth += 1 if node.subtype == Token.OPEN else -1
    return depth > 0


def render(nodes: list[Any]) -> str:
    out = []
    for node in nodes:
        if isinstance(node, Call):
            out.append(node.name + "(" + ",".join(render(a) for a in node.args) + ")")
        else:
            out.append(node.value)
    return "".join(out)


def formula(nodes: list[Any]) -> str:
    return "=" + render(nodes)


def significant(seq: list[Any]) -> list[Any]:
    return [n for n in seq if not (isinstance(n, Token) and n.type == Token.WSPACE)]


#: A single-cell reference without a sheet, B2 or $B$2 (the common argument).
PLAIN_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


def has_3d(text: str) -> bool:
    """Whether ``text`` holds a 3-D reference: ``Sheet1:Sheet3!`` unquoted, or ``'Jan:My Sheet'!``
    with the colon inside the quotes."""
    return re.search(r"[\w.]+:[\w.]+!|'(?:[^']|'')*:(?:[^']|'')*'!", text) is not None


def split_ref(text: str) -> tuple[str | None, str] | None:
    """``'My sheet'!$A$1:B2`` -> ("My sheet", "$A$1:B2"); None if not an A1 reference."""
    m = _REF.match(text.strip())
    if m is None:
        return None
    sheet = m.group("q").replace("''", "'") if m.group("q") is not None else m.group("s")
    return sheet, m.group("a")


# ----------------------------------------------------------------------------- reference operators

#: A cheap test: a group opened by an operator, not a function, that starts with a reference
#: followed by a comma or space (a union), ``((``, a space after a reference (an intersection),
#: a range of ranges, AREAS. ``=(A2-B2)/B2`` does not match.
_OPS_REF = r"(?:'[^']*'!|[\w.]+!)?\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)*"
_OPS_WHOLE = r"(?<![\w.$])(?:\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\$?\d+:\$?\d+)(?![\w$])"
_OPS_HINT = re.compile(
    rf"(?:^|[=(,\s+\-*/^&<>])\(\s*(?:\(|{_OPS_REF}\s*[,\s(])|\d\s+\(?'?\$?[A-Za-z]|\d:\$?[A-Za-z]{{1,3}}\$?\d+:|AREAS\("
    # a whole column or row (``A:B``, ``2:2``) beside a space or another ``:``
    rf"|{_OPS_WHOLE}\s+[$'\w(]|{_OPS_WHOLE}:|[\s:]{_OPS_WHOLE}\b|\(\s*(?:'[^']*'!|[\w.]+!)?{_OPS_WHOLE}\s*,"
    # a deleted reference in a union or an intersection
    r"|\(\s*#REF!\s*[,\s]|[\w)$]\s+#REF!",
    re.I,
)


def needs_reference_operators(text: str) -> bool:
    """Cheap test before tokenising for Excel's reference operators (union, intersection, a
    range of ranges, AREAS: :mod:`addin.headless.refops`); a false positive only costs the parse."""
    return _OPS_HINT.search(text) is not None


#: Two operands side by side at a formula's top level (a space between a reference's end and the
#: next one's start): an intersection. ``SPACED_WORDS`` is its cheap test on a formula's bytes.
_SIDE_BY_SIDE = re.compile(r"[\w$] +[$'\w]")
SPACED_WORDS = re.compile(rb"[\w$] +[$'\w]")
#: A group in parentheses holding no other (removed from the inside out).
_INNERMOST = re.compile(r"\([^()]*\)")


def top_level_intersection(text: str) -> bool:
    """Whether the formula has an intersection outside every parenthesis and call (``=E:E 11:11``,
    ``=1+A1:C3 B2``). IronCalc 0.9.1's xlsx reader keeps only what comes before such a space
    (``=@E:E``, ``=1+@A1:C3``; the same inside parentheses or a call is read whole), so the
    formula is taken as the file writes it (:mod:`addin.headless.package`)."""
    if " " not in text:
        return False
    bare = _STRING.sub('""', text)
    while True:
        inner = _INNERMOST.sub("", bare)
        if inner == bare:
            break
        bare = inner
    return _SIDE_BY_SIDE.search(bare) is not None


# ----------------------------------------------------------------------------- implicit intersection


def needs_intersection(text: str, range_names: frozenset[str]) -> bool:
    """Cheap test before tokenising: a ``:`` outside strings, or a multi-cell name in the text."""
    outside = re.sub(r'"(?:[^"]|"")*"', "", text)
    if ":" in outside:
        return True
    if range_names:
        words = set(re.findall(r"[A-Za-z_\\][\w.]*", outside))
        return any(w.upper() in range_names for w in words)
    return False


def intersect(text: str, range_names: frozenset[str]) -> str:
    """The legacy formula with ``@`` where Excel intersects a range implicitly (module docstring)."""
    nodes = parse(text)
    changed = _intersect_seq(nodes, None, range_names)
    return formula(nodes) if changed else text


def intersected_arguments(key: str, args: list[str], range_names: frozenset[str]) -> list[str]:
    """A call's argument texts as a legacy formula reads them: with the ``@`` of :func:`intersect`
    (``COUNT(A1:A3*2)``: ``@A1:A3*2``), so a host function's ``takes`` sees one value where
    Excel sees one."""
    text = f"={key}({','.join(args)})"
    if not needs_intersection(text, range_names):
        return args
    nodes = parse(text)
    if not _intersect_seq(nodes, None, range_names):
        return args
    sig = significant(nodes)
    if len(sig) != 1 or not isinstance(sig[0], Call) or len(sig[0].args) != len(args):
        return args
    return [render(a).strip() for a in sig[0].args]


def _is_range(tok: Any, range_names: frozenset[str]) -> bool:
    if not (isinstance(tok, Token) and tok.type == Token.OPERAND and tok.subtype == Token.RANGE):
        return False
    value = tok.value
    if value.startswith("@") or "[" in value:
        return False
    ref = split_ref(value)
    if ref is not None:
        return bool(_SPAN.search(ref[1]))
    return value.upper() in range_names


#: Functions whose arguments Excel evaluates as arrays also through nested calls in a legacy
#: formula (Microsoft's reference types them ``array``: "SUMPRODUCT function", "MMULT
#: function", "FREQUENCY function", "LINEST function"...): ``SUMPRODUCT(LEN(A1:A3))`` is the sum
#: of three lengths without Ctrl+Shift+Enter. Lookups and CHOOSE pass references and are left
#: out (a legacy ``MATCH(1,(A1:A3="x")*1,0)`` needs Ctrl+Shift+Enter or the INDEX wrapper).
LIFTING = frozenset("SUMPRODUCT MMULT MDETERM MINVERSE FREQUENCY LINEST LOGEST TREND GROWTH".split())
#: Functions whose arguments are not evaluated as arrays even inside an array argument: a
#: legacy ``SUMPRODUCT(IF(A1:A3>0,1,0))`` needs Ctrl+Shift+Enter in Excel, IF intersects.
NOT_LIFTED = frozenset(("IF",))


def lifts(outer: str, inner: str, lifted: bool) -> bool:
    """Whether the arguments of a call of ``inner``, inside an argument of ``outer`` (itself
    lifted or not), are evaluated as arrays."""
    return (lifted or outer in LIFTING) and inner not in NOT_LIFTED


def _intersect_seq(seq: list[Any], func: str | None, range_names: frozenset[str], arg: int = 0, lifted: bool = False) -> bool:
    """``lifted``: ``seq`` lies under an argument Excel evaluates as an array (:data:`LIFTING`):
    the calls there get arrays element by element (``SUMPRODUCT(LEN(A1:A3))`` is the sum of
    three lengths), so nothing under it is intersected."""
    changed = False
    sig = significant(seq)
    native_args = ARRAY_ARGS.get(func or "", frozenset())
    native = lifted or (func is not None and (native_args is None or arg in native_args))
    for i, node in enumerate(sig):
        if isinstance(node, Call):
            inner = node.key
            for k, a in enumerate(node.args):
                changed |= _intersect_seq(a, inner, range_names, k, lifts(func or "", inner, lifted))
            continue
        if native or not _is_range(node, range_names):
            continue
        alone = len(sig) == 1 or (all(_is_prefix(n) for n in sig[:i]) and i == len(sig) - 1)
        operand = any(_is_operator(n) for n in sig[max(i - 1, 0) : i + 2] if n is not node)
        if (func is None and (alone or operand)) or (func is not None and (operand or (alone and func in SCALAR_ARGS))):
            node.value = "@" + node.value
            changed = True
    return changed


def _is_operator(node: Any) -> bool:
    return isinstance(node, Token) and node.type in (Token.OP_IN, Token.OP_PRE, Token.OP_POST) and node.value not in (":", " ")


def _is_prefix(node: Any) -> bool:
    return isinstance(node, Token) and (node.type == Token.OP_PRE or (node.type == Token.PAREN))


# ----------------------------------------------------------------------------- host calls


@dataclass
class HostCall:
    """A call this project evaluates: its function key, argument texts, and where its result goes."""

    key: str
    args: list[str]
    whole: bool  # the call is the whole formula: results go into the formula's own cell(s)


_WHOLE = re.compile(r"^=\s*([A-Za-z_][\w.]*)\((.*)\)\s*$", re.S)


_NESTING = re.compile(r"[\"'({\[)}\]]")


def _split_args(inner: str) -> list[str] | None:
    """Top-level arguments of a call without nested calls (None if there is any parenthesis)."""
    if not _NESTING.search(inner):
        parts = [a.strip() for a in inner.split(",")]
        return parts if parts != [""] else []
    args, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(inner):
        if quote:
            if ch == quote:
                quote = ""  # a doubled quote closes and reopens: same result
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "({[":
            if ch == "(":
                return None
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    if quote or depth:
        return None
    args.append(inner[start:].strip())
    return args if args != [""] else []


def host_calls(text: str, is_host: Any, scratch_ref: Any) -> tuple[str, list[HostCall]]:
    """The formula with each host call (``is_host(key, argument texts)``) replaced by ``scratch_ref(k)`` for the
    k-th call found (innermost first), and the calls. A formula that is one host call keeps its
    text and yields one call with ``whole=True``.

    The common form, one call with plain arguments (``=CQ_BLACK(D2,G2,C2,H2,I2)``), is split
    without the tokenizer (it is 20x faster; a 10,000-row book has 40,000 such formulas).
    """
    m = _WHOLE.match(text)
    if m is not None:
        args = _split_args(m.group(2))
        if args is not None and is_host(bare_name(m.group(1)), args):
            return text, [HostCall(bare_name(m.group(1)), args, True)]
    nodes = parse(text)
    sig = significant(nodes)
    calls: list[HostCall] = []
    if len(sig) == 1 and isinstance(sig[0], Call):
        for arg in sig[0].args:
            _hoist(arg, is_host, scratch_ref, calls)
        args = [render(a).strip() for a in sig[0].args]
        if is_host(sig[0].key, args):
            calls.append(HostCall(sig[0].key, args, True))
            return text, calls
        if not calls:
            return text, calls
        return formula(nodes), calls
    _hoist(nodes, is_host, scratch_ref, calls)
    return formula(nodes), calls


def _hoist(seq: list[Any], is_host: Any, scratch_ref: Any, calls: list[HostCall]) -> None:
    for i, node in enumerate(seq):
        if not isinstance(node, Call):
            continue
        for arg in node.args:
            _hoist(arg, is_host, scratch_ref, calls)
        args = [render(a).strip() for a in node.args]
        if is_host(node.key, args):
            calls.append(HostCall(node.key, args, False))
            seq[i] = Token(scratch_ref(len(calls) - 1), Token.OPERAND, Token.RANGE)


def function_keys(text: str) -> set[str]:
    """The bare names of the functions a formula calls (cheap: a regex outside strings)."""
    if "(" not in text:
        return set()
    outside = re.sub(r'"(?:[^"]|"")*"', "", text) if '"' in text else text
    return {bare_name(m) for m in re.findall(r"([A-Za-z_][\w.]*)\(", outside)}


def _range_tokens(seq: list[Any]) -> Iterator[Token]:
    """Every reference or name operand token of parsed nodes, calls' arguments included."""
    for node in seq:
        if isinstance(node, Call):
            for a in node.args:
                yield from _range_tokens(a)
        elif isinstance(node, Token) and node.type == Token.OPERAND and node.subtype == Token.RANGE:
            yield node


def map_ranges(text: str, change: Any) -> str:
    """The formula with each reference or name operand replaced by ``change(operand)``, where
    that is not None (the text as it was when nothing changed)."""
    nodes = parse(text)
    changed = False
    for tok in _range_tokens(nodes):
        new = change(tok.value)
        if new is not None:
            tok.value = new
            changed = True
    return formula(nodes) if changed else text


def references(text: str) -> list[str]:
    """Every reference or name operand of a formula, as written (for dependency closures)."""
    return [tok.value.lstrip("@") for tok in _range_tokens(parse(text))]


# ----------------------------------------------------------------------------- the 1900 date system

#: Serial numbers below 61 are where Excel's 1900 system departs from the calendar: it counts
#: a 29 February 1900 (serial 60) that never was, kept for Lotus 1-2-3 compatibility, and
#: serial 0 is "January 0, 1900" (Microsoft, "Excel incorrectly assumes that the year 1900 is a
#: leap year"). IronCalc follows the real calendar there; the engine writes Excel's answers.
_DATE_PARTS = {
    "YEAR": "IF({n}<61,1900,YEAR({n}{rest}))",
    "MONTH": "IF({n}<61,IF(INT({n})<=31,1,2),MONTH({n}{rest}))",
    "DAY": "IF({n}<61,IF(INT({n})<=31,INT({n}),INT({n})-31),DAY({n}{rest}))",
    "WEEKDAY": "WEEKDAY(IF({n}<61,{n}+70,{n}){rest})",
    # Excel reads a time to the nearest second (03:23:53.6 is second 54); IronCalc truncates.
    "HOUR": "HOUR(ROUND({n}*86400,0)/86400)",
    "MINUTE": "MINUTE(ROUND({n}*86400,0)/86400)",
    "SECOND": "SECOND(ROUND({n}*86400,0)/86400)",
}
_DATE_RE = re.compile(r"\b(YEAR|MONTH|DAY|WEEKDAY|HOUR|MINUTE|SECOND)\s*\(", re.I)


def needs_dates(text: str) -> bool:
    return _DATE_RE.search(text) is not None


def rewrite_calls(nodes: list[Any], change: Callable[[Call], str | None]) -> int:
    """Rewrite a parsed formula's function calls in place, innermost first.

    Every call's arguments are visited before the call itself; where ``change`` returns formula
    text for a call, that text replaces the call. Returns how many calls were replaced (the
    one traversal the formula rewrites share).
    """
    replaced = 0

    def walk(seq: list[Any]) -> None:
        nonlocal replaced
        for i, node in enumerate(seq):
            if not isinstance(node, Call):
                continue
            for a in node.args:
                walk(a)
            text = change(node)
            if text is not None:
                seq[i] = Token(text, Token.OPERAND, Token.RANGE)
                replaced += 1

    walk(nodes)
    return replaced


def excel_dates(text: str) -> str:
    """YEAR, MONTH, DAY, WEEKDAY, HOUR, MINUTE and SECOND of a serial as Excel computes them.

    ``DAY(x)`` becomes ``LET(v,x,n,<v as Excel reads it: blank 0, TRUE 1>,IF(AND(ISNUMBER(n),n>=0),<Excel's day>,DAY(n)))``.
    Serials below 61 follow Excel's calendar (``_DATE_PARTS``); the weekday cycle of Excel's
    serials is unbroken (it counts the extra day), so a serial below 61 has the weekday of the
    same serial plus ten weeks, where both calendars agree. Text dates and negative serials go
    to the engine's own function unchanged.
    """
    nodes = parse(text)
    fresh = LetNames(text)

    def date_part(node: Call) -> str | None:
        key = node.key
        if key not in _DATE_PARTS or not node.args or not render(node.args[0]).strip():
            return None
        v, n = fresh("v"), fresh("n")
        rest = "".join("," + render(a) for a in node.args[1:])
        excel = _DATE_PARTS[key].format(n=n, rest=rest)
        own = f"{node.name}({n}{rest})"
        # Excel reads TRUE as 1, a blank as 0, and text as a date only from 1900 on (else #VALUE!)
        as_text = f"IFERROR(IF(--{v}<0,#VALUE!,--{v}),#VALUE!)"
        as_number = f"IF(ISLOGICAL({v}),--{v},IF(ISBLANK({v}),0,IF(ISTEXT({v}),{as_text},{v})))"
        return f"LET({v},{render(node.args[0])},{n},{as_number},IF(ISNUMBER({n}),IF({n}>=0,{excel},{own}),{own}))"

    return formula(nodes) if rewrite_calls(nodes, date_part) else text


_MONTHS_RE = re.compile(r"\b(EDATE|EOMONTH)\s*\(", re.I)


def needs_day_zero(text: str) -> bool:
    return _MONTHS_RE.search(text) is not None


def day_zero(text: str) -> str:
    """EDATE and EOMONTH of a start date in Excel's first 61 serials (a blank cell, 0, up to
    1 March 1900) as Excel computes them, on Excel's 1900 calendar.

    Excel's serial 0 is day 0 of January 1900 (``TEXT(0,"yyyy-mm-dd")`` is ``1900-01-00``) and
    serial 60 its 29 February 1900; EDATE and EOMONTH take both as dates: Excel's cached values
    give ``EDATE(blank,1)`` 31, ``EDATE(blank,blank)`` 0 and ``EDATE(blank,"abc")`` #VALUE!
    (months not a number, Microsoft, "EDATE function"). IronCalc 0.9.1 gives #NUM! for a start
    below 1 and counts serials below 61 a day off (``EOMONTH(15,0)`` 32, Excel 31). On Excel's
    calendar, with the start's month and day as Excel reads them (MONTH and DAY, rewritten by
    :func:`excel_dates`) and ``k = TRUNC(months)``: EDATE is the same day ``k`` months on, cut
    to that month's last day (Microsoft: "the same day of the month"); EOMONTH is day 0 of the
    month after (``DATE(1900,month+k+1,0)``); a month before January 1900 is #NUM!. The start is
    read as Excel reads it (blank 0, date text its serial); any other start is the
    engine's own call, unchanged; a logical start is #VALUE!.
    """
    nodes = parse(text)
    fresh = LetNames(text)

    def month_call(node: Call) -> str | None:
        if node.key not in ("EDATE", "EOMONTH") or len(node.args) != 2:
            return None
        start, months = render(node.args[0]), render(node.args[1])
        if not start.strip() or not months.strip():
            return None
        v, n, m, k = fresh("v"), fresh("n"), fresh("m"), fresh("k")
        as_text = f"IFERROR(IF(--{v}<0,#VALUE!,--{v}),#VALUE!)"
        # a logical start is #VALUE! here, not 1 (Excel's cached values, pycel's date-time book:
        # EDATE(FALSE,blank), EOMONTH(TRUE,blank))
        as_number = f"IF(ISLOGICAL({v}),#VALUE!,IF(ISBLANK({v}),0,IF(ISTEXT({v}),{as_text},{v})))"
        if node.key == "EDATE":
            day = f"MIN(DAY({n}),DAY(DATE(1900,MONTH({n})+{k}+1,0)))"
            early = f"DATE(1900,MONTH({n})+{k},{day})"
        else:
            early = f"DATE(1900,MONTH({n})+{k}+1,0)"
        own = f"{node.name}({n},{m})"
        return (
            f"LET({v},{start},{n},{as_number},{m},{months},IF(AND(ISNUMBER({n}),{n}>=0,{n}<61),"
            f"LET({k},TRUNC({m}),IF(MONTH({n})+{k}<1,#NUM!,{early})),{own}))"
        )

    return formula(nodes) if rewrite_calls(nodes, month_call) else text


# ----------------------------------------------------------------------------- INDEX(...):INDEX(...)

_INDEX_RANGE = re.compile(r"\)\s*:\s*(?:_xlfn\.)?INDEX\(", re.I)


def array_literal(text: str) -> list[list[Any]] | None:
    """An array constant (``{1,2;"a",TRUE}``) as rows of values, None if ``text`` is not one."""
    from addin.headless.values import ExcelError

    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        items = Tokenizer("=" + text).items
    except Exception:
        return None
    rows: list[list[Any]] = [[]]
    sign = 1.0
    for tok in items[1:-1]:
        if tok.type == Token.SEP:
            if tok.subtype == Token.ROW:
                rows.append([])
            continue
        if tok.type == Token.OP_PRE and tok.value in "+-":
            sign = -sign if tok.value == "-" else sign
            continue
        if tok.type != Token.OPERAND:
            return None
        if tok.subtype == Token.NUMBER:
            rows[-1].append(sign * float(tok.value))
        elif tok.subtype == Token.TEXT:
            rows[-1].append(tok.value[1:-1].replace('""', '"'))
        elif tok.subtype == Token.LOGICAL:
            rows[-1].append(tok.value.upper() == "TRUE")
        elif tok.subtype == Token.ERROR:
            rows[-1].append(ExcelError(tok.value.upper()))
        else:
            return None
        sign = 1.0
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        return None
    return rows


def structured(text: str, resolve: Any) -> str:
    """The formula with every structured reference (``Table1[#Totals]``, ``[col3]``) replaced by
    ``resolve(reference)``, the A1 range it stands for (left as written where that is None)."""
    return map_ranges(text, resolve)


def broadcast(text: str, rows: int, cols: int) -> str:
    """A legacy array formula filling ``rows`` × ``cols`` cells, written so its result fills them
    as Excel fills an array range ("Guidelines and examples of array formulas"): a result of one
    row or one column is repeated across the range, cells beyond a larger result are #N/A.

    IronCalc leaves the extra cells #VALUE!; ``IF`` over a ``SEQUENCE`` of the range's size
    broadcasts the result to that size (the condition is never 0), keeping its values' types.
    """
    return f"=IF(SEQUENCE({rows},{cols}),{text.lstrip('=')})"


def needs_index_ranges(text: str) -> bool:
    return _INDEX_RANGE.search(text) is not None


def index_ranges(text: str) -> str:
    """``INDEX(a,r1,c1):INDEX(a,r2,c2)`` (a range between two cells of ``a``, Excel's reference
    form of INDEX) as ``OFFSET(a,r1-1,c1-1,r2-r1+1,c2-c1+1)``, the same cells: IronCalc's INDEX
    returns values, not references, so it cannot take the range operator."""
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any]) -> None:
        for node in seq:
            if isinstance(node, Call):
                for a in node.args:
                    walk(a)
        i = 0
        while i < len(seq) - 1:
            a, b = seq[i], seq[i + 1]
            if (
                isinstance(a, Call)
                and isinstance(b, Call)
                and a.key == "INDEX"
                and b.name.lstrip().startswith(":")
                and bare_name(b.name.lstrip()[1:].strip()) == "INDEX"
                and len(a.args) == len(b.args) == 3
                and render(a.args[0]).strip() == render(b.args[0]).strip()
            ):
                ref = render(a.args[0]).strip()
                r1, c1, r2, c2 = (f"({render(x).strip()})" for x in (a.args[1], a.args[2], b.args[1], b.args[2]))
                seq[i : i + 2] = [Token(f"OFFSET({ref},{r1}-1,{c1}-1,{r2}-{r1}+1,{c2}-{c1}+1)", Token.OPERAND, Token.RANGE)]
                changed[0] = True
            i += 1

    walk(nodes)
    return formula(nodes) if changed[0] else text


def constant_shape(text: str) -> tuple[int, int] | None:
    """The (rows, columns) of an array constant (``{1,2;3,4}`` is (2, 2); ``,`` separates columns
    and ``;`` rows, strings may hold either); None for anything else (not a constant, a nested
    brace). The first row gives the column count, as Excel requires every row to have it."""
    t = text.strip()
    if not (t.startswith("{") and t.endswith("}")):
        return None
    inner = _STRING.sub('""', t[1:-1])
    if "{" in inner or "}" in inner:
        return None
    rows = inner.split(";")
    return len(rows), rows[0].count(",") + 1
