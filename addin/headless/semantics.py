"""Excel's semantics where IronCalc 0.9.1 departs from them, restored by rewriting the formula.

Each class was found by the generative differential test (tests/workbook/test_generative.py) or
on the holdout of unseen books, and is fixed for every formula, never per file:

* **DATE before March 1900.** Excel counts a 29 February 1900 that never was (serial 60), so
  its serials before 1 March 1900 are one less than the calendar's: ``DATE(1900,1,1)`` is 1,
  IronCalc says 2 (Microsoft, "Excel incorrectly assumes that the year 1900 is a leap year").
  Excel's DATE adds the days to the first of the month, so its serial is IronCalc's less one
  wherever the month starts before March 1900; below 0 it is #NUM!.
* **Text numbers in LEFT, RIGHT, MID.** Excel converts a text argument that is a number
  (``LEFT("a string","6")`` is ``"a stri"``; Microsoft, "LEFT, LEFTB functions": num_chars
  is a number, and Excel converts text to numbers where a number is expected); IronCalc
  gives #VALUE!. The count arguments are given as ``--(x)``, which is Excel's own conversion
  (a blank is 0, TRUE is 1, other text #VALUE!).
* **Implicit intersection where Excel takes the whole range.** IronCalc's xlsx reader writes
  ``@`` into legacy formulas, also before arguments Excel reads whole: ``WORKDAY(A2,3,H1:H3)``
  became ``WORKDAY(A2,3,@H1:H3)``, one holiday instead of three. The ``@`` is removed from
  every argument :data:`~addin.headless.formula.ARRAY_ARGS` lists (Excel's array and
  reference parameters); elsewhere IronCalc's intersections stand (they agree with Excel's on
  the corpus).
* **USDOLLAR** ("converts a number to text format and applies a currency symbol ... the same as
  DOLLAR", U.S. format: Microsoft, "USDOLLAR function") is missing; it is written as DOLLAR,
  which the engine computes in its en-US locale.
* **PHONETIC** ("extracts the phonetic (furigana) characters from a text string"; of a range,
  its upper-left cell: Microsoft, "PHONETIC function") is not implemented; a book written
  outside East-Asian input methods holds no furigana, so the reading is the cell's own text:
  ``T(INDEX(ref,1,1))``, ``T(cell)`` for one cell (a number or blank gives "", as there is no
  text to read).
* **Parenthesised comparisons next to ``&``.** IronCalc renders ``"its "&(2<3)&" blue"``
  without the parentheses and re-reads formulas from that text (on load, and whenever a sheet
  is added), so it computes ``("its "&2)<(3&" blue")``, FALSE; Excel: "its TRUE blue" (``&``
  binds tighter than ``<``: Microsoft, "Calculation operators and precedence"). The package
  scan keeps such formulas' text as the file has it (:func:`needs_own_text`), and each
  parenthesised comparison becomes ``IF(a<b,TRUE,FALSE)``, the same value in a form whose
  rendering keeps the grouping.
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.address import address
from addin.headless.dispersion import NUM_WHEN_EMPTY, TYPED, no_number_is_num, typed_literals
from addin.headless.early_serials import DATE_PARTS, early_serials
from addin.headless.formula import (
    ARRAY_ARGS,
    Call,
    constant_shape,
    formula,
    lifts,
    parse,
    render,
    rewrite_calls,
    significant,
    split_ref,
)
from addin.headless.grouping import ETA, LAMBDA, VECTOR
from addin.headless.letnames import LetNames, is_book_name

#: Count arguments (0-based) of the text functions that IronCalc does not convert from text.
_COUNTS = {"LEFT": (1,), "RIGHT": (1,), "MID": (1, 2), "LEFTB": (1,), "RIGHTB": (1,), "MIDB": (1, 2)}
_NAMES = re.compile(
    r"\b(DATE|LEFTB?|RIGHTB?|MIDB?|USDOLLAR|PHONETIC|GROUPBY|PIVOTBY|IRR|XLOOKUP|N|LARGE|SMALL|PERCENTILE(?:\.INC|\.EXC)?"
    r"|QUARTILE(?:\.INC|\.EXC)?|TEXTSPLIT|Z\.?TEST|HOUR|MINUTE|SECOND|SUMSQ|OFFSET|CHOOSE|MDETERM|MINVERSE|ADDRESS)\s*\(",
    re.I,
)
_TYPED_NAMES = re.compile(r"\b(?:STDEV|VAR|AVEDEV|DEVSQ|ISOWEEKNUM|WEEKNUM)[A-Z.]*\s*\(", re.I)
#: The functions whose second argument picks from the first: ``k``, ``percent`` or ``quart``.
_RANKS = frozenset(
    ("LARGE", "SMALL", "PERCENTILE", "PERCENTILE.INC", "PERCENTILE.EXC", "QUARTILE", "QUARTILE.INC", "QUARTILE.EXC")
)
_COMPARE = frozenset(("=", "<", ">", "<=", ">=", "<>"))
_STRING = re.compile(r'"(?:[^"]|"")*"')


def needs_own_text(text: str) -> bool:
    """Whether the formula (as the file has it) must be given to the engine as written, not as
    the engine's reader renders it (a parenthesised comparison beside ``&``)."""
    if not ("&" in text and "(" in text):
        return False
    outside = _STRING.sub("", text.lstrip("="))
    return "&" in outside and "(" in outside and any(op in outside for op in "<>=")


def _vector_constant(text: str) -> tuple[bool, int] | None:
    """An array constant of one row or one column (``{1,2,3}``, ``{"a";"b"}``) as (whether it is
    one column, its length); None for anything else (a 2-D constant, not a constant). One element
    is both a row and a column: its orientation is read as a row."""
    shape = constant_shape(text)
    if shape is None or (shape[0] > 1 and shape[1] > 1):
        return None
    return shape[0] > 1, shape[0] * shape[1]


def needs_rewrite(text: str) -> bool:
    """Cheap test before tokenising: the formula calls DATE, LEFT, RIGHT or MID."""
    return _NAMES.search(text) is not None or _TYPED_NAMES.search(text) is not None


def grouped_comparisons(text: str) -> str:
    """Each parenthesised comparison ``(a<b)`` as ``IF(a<b,TRUE,FALSE)`` (module docstring)."""
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any]) -> None:
        opens: list[tuple[int, bool]] = []  # position of each open parenthesis, and whether it holds a comparison
        for i, node in enumerate(seq):
            if isinstance(node, Call):
                for a in node.args:
                    walk(a)
            elif isinstance(node, Token) and node.type == Token.PAREN and node.subtype == Token.OPEN:
                opens.append((i, False))
            elif isinstance(node, Token) and node.type == Token.PAREN and node.subtype == Token.CLOSE and opens:
                start, compares = opens.pop()
                if compares:
                    seq[start] = Token("IF(", Token.PAREN, Token.OPEN)
                    seq[i] = Token(",TRUE,FALSE)", Token.PAREN, Token.CLOSE)
                    changed[0] = True
            elif isinstance(node, Token) and node.type == Token.OP_IN and node.value in _COMPARE and opens:
                opens[-1] = (opens[-1][0], True)

    walk(nodes)
    return formula(nodes) if changed[0] else text


def rewrite(text: str, date1904: bool) -> str:
    """The formula with DATE and the text functions' counts as Excel computes them (module
    docstring); in the 1904 system DATE is left to :mod:`addin.headless.dates1904`."""
    nodes = parse(text)
    fresh = LetNames(text)
    renamed = False
    # serials 0-60 on Excel's calendar, in 1900 books only (addin.headless.early_serials)
    specials = _SPECIAL if date1904 else {**_SPECIAL, **dict.fromkeys(DATE_PARTS, early_serials)}

    def as_excel(node: Call) -> str | None:
        nonlocal renamed
        key = node.key
        if key == "USDOLLAR":
            node.name = "DOLLAR"  # USDOLLAR is DOLLAR in U.S. format (Microsoft, "USDOLLAR function")
            renamed = True
        if key == "PHONETIC" and len(node.args) == 1 and render(node.args[0]).strip():
            # the furigana of the range's top-left cell; text without furigana (every
            # non-East-Asian text) is its own reading, a cell without text gives ""
            arg = render(node.args[0])
            return f"T(INDEX({arg},1,1))" if ":" in arg else f"T({arg})"  # IronCalc's INDEX(A1,1,1) is #VALUE!
        at = {"GROUPBY": 2, "PIVOTBY": 3}.get(key)
        if at is not None and len(node.args) > at:
            fn = _function_argument(node.args[at])
            if fn is not None:
                node.args[at] = [Token(fn, Token.OPERAND, Token.TEXT)]
                return render([node])
        if key == "N" and len(node.args) == 1:
            sig = significant(node.args[0])
            if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.RANGE:
                ref = str(sig[0].value)
                if not ref.startswith("@") and ":" in ref and split_ref(ref) is not None:
                    # N of a range is N of its first cell, also in an array formula (Excel's
                    # cached values in formulas' test book: {=N(C19:Q19)} is N(C19) in every
                    # cell); IronCalc 0.9.1 says "not implemented"
                    return f"{node.name}(INDEX({ref},1,1))"
        if key == "XLOOKUP" and 3 <= len(node.args) <= 6:
            done = _xlookup_over_constants(node, fresh("xl"))
            if done is not None:
                return done
        special = specials.get(key)
        if special is not None:
            done = special(node, fresh)
            if done is not None:
                return done
        if key in _COUNTS:
            args = [f"--({render(a)})" if k in _COUNTS[key] and render(a).strip() else render(a) for k, a in enumerate(node.args)]
            return f"{node.name}({','.join(args)})"
        if key == "DATE" and not date1904 and len(node.args) == 3 and all(render(a).strip() for a in node.args):
            v, e = fresh("ds"), fresh("de")
            y, m, d = (render(a) for a in node.args)
            # IronCalc's serials are days like Excel's, one more before March 1900 (the day
            # Excel counts that never was): one less where the month starts before it.
            # A comparison, not OR or MAX: element by element over arrays; nor IF, whose ranges a
            # plain formula intersects under SUMPRODUCT (formula.NOT_LIFTED: a legacy IF there
            # reads one cell), which would make DATE(1999,C1:C5,0) there #VALUE! off rows 1-5.
            return f"LET({v},{node.name}({y},{m},{d}),{e},{v}-({node.name}({y},{m},1)<61),IF({e}<0,#NUM!,{e}))"
        return None

    replaced = rewrite_calls(nodes, as_excel)
    return formula(nodes) if replaced or renamed else text


def _irr(node: Call, fresh: LetNames) -> str | None:
    """IRR whose values hold an error: #VALUE! in Excel (its cached values in formulas' test
    book: IRR({-7,2;7,#N/A}) and IRR over a range holding #N/A), IronCalc passes the error on;
    SUM carries any error of the values (text and logicals it ignores, as IRR)."""
    if not node.args or not render(node.args[0]).strip():
        return None
    values = render(node.args[0])
    return f"IF(ISERROR(SUM({values})),#VALUE!,{render([node])})"


def _rank_argument(node: Call, fresh: LetNames) -> str | None:
    """LARGE/SMALL/PERCENTILE/QUARTILE (and .INC/.EXC) whose ``k`` is one cell or a name (a
    LAMBDA's parameter, as :mod:`addin.headless.lifting` writes an element), as Excel reads it
    (its cached values in formulas' test book, COMPATIBILITY rows 29, 32 and STATISTICAL rows 57,
    78-95): an error in ``k``, or text in it that is not a number, comes before any error of the array (``LARGE(C57:K57,L57)`` over a
    #VALUE! with L57 #N/A is #N/A; IronCalc gave the array's #VALUE!); date text in ``k`` is its
    day (``"1/01/1900"`` is 1, through VALUE, :mod:`addin.headless.datetext`; IronCalc read 2);
    for LARGE and SMALL a ``k`` below 1 is #NUM!, a fraction above it counts from the smallest
    (SMALL's ``k`` truncated, LARGE's rounded up: LARGE is SMALL of n + 1 - k) and a logical is
    its number (``LARGE(…,2.2)`` is the third largest, ``SMALL(…,2.2)`` the second smallest,
    ``LARGE(…,0.9)`` #NUM!, ``LARGE(…,TRUE)`` the largest; IronCalc: the second, the second,
    the largest, #VALUE!). None for a
    ``k`` of another form (a literal or expression, which IronCalc reads as Excel)."""
    if len(node.args) != 2:
        return None
    sig = significant(node.args[1])
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
        return None
    k = str(sig[0].value)
    if ":" in k or k.startswith("@"):
        return None
    read, n = f"IF(ISTEXT({k}),VALUE({k}),{k})", fresh("rk")
    whole = {"LARGE": f"IF({n}<1,#NUM!,-INT(-{n}))", "SMALL": f"IF({n}<1,#NUM!,INT({n}))"}.get(node.key, n)
    return f"LET({n},{read},IF(ISERROR({n}),{n},{node.name}({render(node.args[0])},{whole})))"


def _one_operand(arg: list[Any]) -> str | None:
    """The text of an argument that is one cell or a name (a LAMBDA's parameter); None else."""
    sig = significant(arg)
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.RANGE:
        return None
    ref = str(sig[0].value)
    return None if ":" in ref or ref.startswith("@") else ref


_LOGICAL_ELEMENT = re.compile(r'("(?:[^"]|"")*")|(?<![\w.])(TRUE|FALSE)(?![\w.(])', re.I)


def _textsplit(node: Call, fresh: LetNames) -> str | None:
    """TEXTSPLIT as Excel's cached values in formulas' test book show it (EXTRA!J28:L30, TEXT!Y47,
    TEXT!AM47): a logical among the delimiters is its text (``TEXTSPLIT(t,{"/","|",TRUE})`` splits
    at "TRUE", a delimiter cell holding TRUE likewise; IronCalc: #VALUE!), and a blank (or empty)
    text is #VALUE! (IronCalc: ""). None when neither applies."""
    args = [render(a) for a in node.args]
    changed = False
    for k in (1, 2):
        if k >= len(args) or not args[k].strip():
            continue
        text = args[k].strip()
        if text.startswith("{"):
            new = _LOGICAL_ELEMENT.sub(lambda m: m.group(1) or f'"{m.group(2).upper()}"', text)
        else:
            d = _one_operand(node.args[k])
            new = text if d is None else f'IF(ISLOGICAL({d}),IF({d},"TRUE","FALSE"),{d})'
        changed |= new != text
        args[k] = new
    call = f"{node.name}({','.join(args)})"
    t = _one_operand(node.args[0]) if node.args else None
    if t is not None:
        return f'IF({t}="",#VALUE!,{call})'
    return call if changed else None


def _z_test(node: Call, fresh: LetNames) -> str | None:
    """Z.TEST(array, x, [sigma]) as Excel's cached values in formulas' test book show it
    (STATISTICAL!V121:AD121): an error in ``x``, then in ``sigma``, comes before the array's
    (``Z.TEST(J121:K121,L121)`` over TRUE and #VALUE! with L121 #N/A is #N/A; IronCalc: #VALUE!);
    a logical ``x`` is its number (``Z.TEST(F121:I121,TRUE)`` 0.02275; IronCalc #VALUE!); fewer than
    two numbers in the array are #DIV/0! (one, also with a sigma) or #N/A (none; Microsoft, "Z.TEST
    function": "If array is empty, Z.TEST returns the #N/A error value"), after the array's own
    errors. ``x`` and ``sigma`` are read this way where they are one cell or a name (a lifted
    element); None for a call of other arguments."""
    if not 2 <= len(node.args) <= 3 or not render(node.args[0]).strip():
        return None
    arr = render(node.args[0])
    lets: list[str] = []
    checks: list[str] = []
    args = [arr]
    for k, arg in enumerate(node.args[1:], 1):
        one = _one_operand(arg)
        if one is None:
            args.append(render(arg))
            continue
        n = fresh("zt")
        lets.append(f"{n},{one}")
        checks.append(n)
        args.append(f"IF(ISLOGICAL({n}),--{n},{n})" if k == 1 else n)
    call = f"{node.name}({','.join(args)})"
    body = f"IF(ISERROR(SUM({arr})),{call},IF(COUNT({arr})=0,#N/A,IF(COUNT({arr})=1,#DIV/0!,{call})))"
    for n in reversed(checks):
        body = f"IF(ISERROR({n}),{n},{body})"
    return f"LET({','.join(lets)},{body})" if lets else body


#: HOUR, MINUTE, SECOND: (seconds a unit, units in the next) of the part each returns.
_TIME_PARTS = {"HOUR": (3600, 24), "MINUTE": (60, 60), "SECOND": (1, 60)}


def _time_part(node: Call, fresh: LetNames) -> str | None:
    """HOUR, MINUTE and SECOND of the serial rounded to the nearest second, as Excel reads a time
    (``SECOND(0.6565)`` is 22: 56,721.6 seconds; Microsoft, "SECOND function": "Times may be
    entered as text strings ..., as decimal numbers ..."). IronCalc 0.9.1 takes the part from the
    fraction of a day unrounded, and a date's fraction loses the hour: ``HOUR(45352.0416666667)``
    (1 March 2024 01:00:00) is 0 there. Found by the generative test. Negative serials stay #NUM!;
    text is read by the multiplication as Excel reads a time or date text; element by element
    over arrays (ROUND, INT, MOD, IF)."""
    if len(node.args) != 1 or not render(node.args[0]).strip():
        return None
    unit, count = _TIME_PARTS[node.key]
    s = fresh("tp")
    part = f"INT({s}/{unit})" if unit > 1 else s
    return f"LET({s},ROUND(({render(node.args[0])})*86400,0),IF({s}<0,#NUM!,MOD({part},{count})))"


def _typed_numbers(node: Call, fresh: LetNames) -> str | None:
    """SUMSQ's arguments that are values, not references or arrays, read as numbers: "Numbers,
    logical values, and text representations of numbers that you type directly into the list of
    arguments are counted"; text that is no number is #VALUE! (Microsoft, "SUMSQ function"), as
    SUM. IronCalc 0.9.1 skips such text (``SUMSQ(DEC2BIN(13))`` 0, ``SUMSQ("Hello")`` 0). Found by
    the generative test. Text in a referenced cell stays skipped."""
    args: list[str] = []
    changed = False
    for arg in node.args:
        text = render(arg)
        sig = significant(arg)
        reference = len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.RANGE
        if text.strip() and not reference and not arrayish(arg):
            text, changed = f"--({text})", True
        args.append(text)
    return f"{node.name}({','.join(args)})" if changed else None


#: Functions that read one value from their argument (not a reference: ISREF, ROW, CELL are not here).
_VALUE_READERS = frozenset(
    "N T VALUE ISTEXT ISNUMBER ISBLANK ISLOGICAL ISERROR ISERR ISNA ISNONTEXT ISEVEN ISODD ERROR.TYPE".split()
)


def _offset_cell(node: Call, fresh: LetNames) -> str | None:
    """A one-cell OFFSET (or a CHOOSE among cells) given to N, T, VALUE or an IS function read
    through ``INDEX(...,1,1)``.
    IronCalc 0.9.1 hands these functions the reference, not the cell's value: N(OFFSET($C$1,2,0))
    is "not implemented", T(...) of a text cell "", ISTEXT(...) FALSE, VALUE(...) of a blank
    #VALUE! (Excel: the cell's value, as for the cell itself; Microsoft, "OFFSET function": "returns
    a reference to a range"). Found by the generative test; INDEX of the one cell is that cell."""
    if len(node.args) != 1:
        return None
    sig = significant(node.args[0])
    if len(sig) != 1 or not isinstance(sig[0], Call):
        return None
    inner = sig[0]
    one_cell = inner.key == "OFFSET" and len(inner.args) == 3
    # CHOOSE among single cells returns one of them by reference alike (T(CHOOSE(1,A5,A6)) was "");
    # a literal among the choices is a value, which INDEX would not take
    one_cell = one_cell or (inner.key == "CHOOSE" and len(inner.args) > 1 and all(_one_cell(a) for a in inner.args[1:]))
    return f"{node.name}(INDEX({render(node.args[0]).strip()},1,1))" if one_cell else None


def _one_cell(arg: list[Any]) -> bool:
    sig = significant(arg)
    return (
        len(sig) == 1
        and isinstance(sig[0], Token)
        and sig[0].subtype == Token.RANGE
        and _ONE_CELL.match(str(sig[0].value)) is not None
    )


#: Calls rewritten by a function of the call and the formula's fresh LET names (None: as written).
_NUMBER = re.compile(r"\s*([+-]?\d+(?:\.\d*)?)\s*")
_ONE_CELL = re.compile(r"\s*(?:(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?\$?[A-Za-z]{1,3}\$?\d+\s*")


def _offset(node: Call, fresh: LetNames) -> str | None:
    """OFFSET with a negative height or width: the range runs up (left) from the offset cell.

    Excel's cached values (an unseen book, issue 30): ``SUM(OFFSET(B4,0,0,-4))`` over 1, 1, 1 in
    B1:B3 is 3 and ``SUM(OFFSET(D9,0,0,1,-4))`` likewise; IronCalc 0.9.1 gives #VALUE!. A height
    ``h`` below 0 is the same range as rows ``rows + h + 1`` and height ``-h``; a width alike.
    Taken where the height or width is a number written in the formula (moved here) or one
    cell (moved by IF at run time); any other argument is left to the engine.
    """
    if len(node.args) not in (4, 5):
        return None
    args = [render(a) for a in node.args]
    changed = False
    for size, shift in ((3, 1), (4, 2)):
        if size >= len(args) or not args[size].strip():
            continue
        lit = _NUMBER.fullmatch(args[size])
        if lit is not None:
            value = int(float(lit.group(1)))  # Excel truncates a height or width
            if value < 0:
                args[shift] = f"({args[shift]})+({value + 1})"
                args[size] = str(-value)
                changed = True
        elif _ONE_CELL.fullmatch(args[size]):
            h = args[size].strip()
            args[shift] = f"({args[shift]})+IF(TRUNC({h})<0,TRUNC({h})+1,0)"
            args[size] = f"ABS(TRUNC({h}))"
            changed = True
    return f"{node.name}({','.join(args)})" if changed else None


_RANGE = re.compile(r"\s*(?:(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?\$?[A-Za-z]{1,3}\$?\d+:\$?[A-Za-z]{1,3}\$?\d+\s*")


def _matrix(node: Call, fresh: LetNames) -> str | None:
    """MDETERM and MINVERSE of a range holding a blank cell or text: #VALUE! (Microsoft,
    "MDETERM function", "MINVERSE function": "If any cells in array are empty or contain text,
    MDETERM returns the #VALUE! error value"); IronCalc 0.9.1 gave 0 and #NUM!. Taken for a
    range argument (COUNT counts its numbers); an error in it is left to the engine, which
    passes it on; array constants and expressions are left as written.
    """
    if len(node.args) != 1 or not _RANGE.fullmatch(render(node.args[0])):
        return None
    a = render(node.args[0]).strip()
    own = f"{node.name}({a})"
    return f"IF(ISERROR(SUM({a})),{own},IF(COUNT({a})<ROWS({a})*COLUMNS({a}),#VALUE!,{own}))"


_SPECIAL: dict[str, Any] = {
    **dict.fromkeys(_VALUE_READERS, _offset_cell),
    "SUMSQ": _typed_numbers,
    **dict.fromkeys(_TIME_PARTS, _time_part),
    "MDETERM": _matrix,
    "ADDRESS": lambda node, fresh: address(node),  # sheet_text quoted as Excel quotes it (addin.headless.address)
    "MINVERSE": _matrix,
    "OFFSET": _offset,
    "IRR": _irr,
    "TEXTSPLIT": _textsplit,
    "Z.TEST": _z_test,
    "ZTEST": _z_test,
    **dict.fromkeys(_RANKS, _rank_argument),
    **dict.fromkeys(TYPED, typed_literals),  # typed text and logicals counted (addin.headless.dispersion)
    **dict.fromkeys(NUM_WHEN_EMPTY, no_number_is_num),  # and #NUM! of no number (addin.headless.dispersion)
}


def _function_argument(arg: list[Any]) -> str | None:
    """GROUPBY's and PIVOTBY's function argument as the text literal their host functions read
    (:func:`addin.headless.grouping.aggregate`): an eta-reduced function (``_xleta.SUM``, or
    ``SUM`` as typed) by its name, a LAMBDA by its text, a vector of functions (HSTACK, VSTACK,
    an array constant) marked; None (left as written) for a reference or another expression,
    whose value the host function then reads."""
    sig = significant(arg)
    while len(sig) > 2 and all(isinstance(t, Token) and t.type == Token.PAREN for t in (sig[0], sig[-1])):
        sig = significant(sig[1:-1])  # a name written out is parenthesised: (LAMBDA(...))
    if len(sig) != 1:
        return None
    node = sig[0]
    if isinstance(node, Token) and node.subtype == Token.RANGE:
        name = str(node.value)
        eta = name.lower().startswith("_xleta.")
        bare = name[len("_xleta.") :] if eta else name
        cell = re.fullmatch(r"\$?[A-Za-z]{1,3}\$?\d+", bare) is not None
        if cell or "!" in bare or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9._]*", bare):
            return None
        if not eta and is_book_name(bare):
            return None  # Excel writes a function as _xleta.NAME: a bare name is the book's name
        return _text_literal(ETA + bare.upper())
    if isinstance(node, Call) and node.key == "LAMBDA":
        return _text_literal(LAMBDA + render([node]))
    if isinstance(node, Call) and node.key in ("HSTACK", "VSTACK"):
        return _text_literal(VECTOR + render([node]))
    return None


def _text_literal(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def whole_array_arguments(text: str) -> str:
    """The formula without the ``@`` IronCalc's reader put before a range in an argument Excel
    reads whole (module docstring)."""
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any], lifted: bool = False, outer: str = "") -> None:
        for node in seq:
            if (
                lifted
                and isinstance(node, Token)
                and node.subtype == Token.RANGE
                and node.value.startswith("@")
                and ":" in node.value
            ):
                # under an array argument, calls take the range element by element
                # (``SUMPRODUCT(LEN(A1:A3))``: formula.LIFTING)
                node.value = node.value[1:]
                changed[0] = True
            if not isinstance(node, Call):
                continue
            positions = ARRAY_ARGS.get(node.key, frozenset())
            for k, arg in enumerate(node.args):
                whole = positions is None or k in positions
                walk(arg, lifts(outer, node.key, lifted), node.key)
                sig = significant(arg)
                if whole and len(sig) == 1 and isinstance(sig[0], Token) and sig[0].value.startswith("@") and ":" in sig[0].value:
                    sig[0].value = sig[0].value[1:]
                    changed[0] = True

    walk(nodes)
    return formula(nodes) if changed[0] else text


# ----------------------------------------------------------------------------- numbers as text

#: Text functions and the arguments (0-based; None: all) they read as text.
_AS_TEXT: dict[str, frozenset[int] | None] = {
    **dict.fromkeys(
        ("LEN", "LEFT", "RIGHT", "MID", "UPPER", "LOWER", "PROPER", "TRIM", "CODE", "SUBSTITUTE", "REPT"), frozenset({0})
    ),
    **dict.fromkeys(("FIND", "SEARCH", "EXACT"), frozenset({0, 1})),
    "CONCATENATE": None,
    "CONCAT": None,
    # found by the generative test: REPLACE(2^0.5,...) kept 16 digits (old_text, new_text)
    "REPLACE": frozenset({0, 3}),
    "CLEAN": frozenset({0}),
}
#: Functions whose result is always text: nothing to convert when ``&`` joins it.
_TEXT_RESULTS = frozenset(
    "LEFT RIGHT MID UPPER LOWER PROPER TRIM CLEAN CONCATENATE CONCAT TEXTJOIN TEXT SUBSTITUTE REPLACE REPT CHAR T DOLLAR FIXED".split()
)
_TEXT_NAMES = re.compile(r"\b(" + "|".join(sorted(_AS_TEXT, key=len, reverse=True)) + r")\s*\(", re.I)
_LOOSER = frozenset(("&", "=", "<", ">", "<=", ">=", "<>"))


def _criteria_positions(key: str, count: int) -> frozenset[int]:
    """The criteria arguments (0-based) of the conditional aggregates: Excel matches a numeric
    criterion such as ``">="&E2`` against numbers as numbers, so its text must keep the number
    whole (see :func:`fifteen_digits`)."""
    if key in ("COUNTIF", "SUMIF", "AVERAGEIF"):
        return frozenset({1})
    if key == "COUNTIFS":
        return frozenset(range(1, count, 2))
    if key in ("SUMIFS", "AVERAGEIFS", "MAXIFS", "MINIFS"):
        return frozenset(range(2, count, 2))
    return frozenset()


#: LET and LAMBDA: their names may hold arrays, which :func:`arrayish` cannot see in the text.
_NAMING = re.compile(r"(?<![\w.])(?:_xlfn\.)?(?:LET|LAMBDA)\s*\(", re.I)


def names_arrays(text: str) -> bool:
    """Whether the formula has LET or LAMBDA names, which may stand for arrays (outside strings)."""
    return _NAMING.search(_STRING.sub('""', text) if '"' in text else text) is not None


def needs_fifteen_digits(text: str, names_may_hold_arrays: bool = False) -> bool:
    """Cheap test: the formula joins with ``&`` or calls a text function (outside strings). The
    engine applies it to array formulas too (each element's number turned into text as a plain
    formula's is: Excel's ``{=CONCATENATE(A1:A5,2^0.5)}`` is "31.4142135623731" first), except
    where a LET or LAMBDA name as written may stand for an array (``names_may_hold_arrays``,
    :func:`names_arrays` of the formula as written): converting a name holding an array would
    lose its elements, and :func:`arrayish` cannot see what a name holds."""
    if names_may_hold_arrays:
        return False
    outside = _STRING.sub('""', text) if '"' in text else text
    return "&" in outside or _TEXT_NAMES.search(outside) is not None


def fifteen_digits(text: str) -> str:
    """Every value the formula turns into text (``&``'s operands, the text functions' text
    arguments) written as Excel writes a number as text, other values unchanged.

    Excel keeps 15 significant digits (Microsoft, "Floating-point arithmetic may give
    inaccurate results in Excel": "Excel stores and calculates 15 significant digits"):
    ``0.1+0.2&""`` is "0.3", ``1/3&""`` "0.333333333333333"; IronCalc writes the shortest
    round-trip form ("0.30000000000000004"). Numbers whose decimal exponent is 15 or more, or
    below -4, are written in scientific form with a two-digit exponent, as Excel's own text of
    numbers in the IM* functions shows ("1.28233995888454E-06" cached in
    ``formulas__test_test_files_test.xlsx``) and as C's ``%.15G`` writes them
    ("1.23456789012346E+17", "1E-05").

    Criteria arguments of COUNTIF(S)/SUMIF(S)/AVERAGEIF(S)/MAXIFS/MINIFS are left whole:
    Excel compares a numeric criterion with the cells as numbers, and two numbers equal to 15
    significant digits compare equal (Microsoft, same page), so ``">="&E2`` still counts a cell
    holding exactly E2's 17-digit value. IronCalc compares exactly; the 15-digit text there would
    drop that cell (a bin edge equal to the smallest value lost it). The unrounded text keeps
    the number itself, which is what Excel's comparison sees.

    Only scalar operands are converted: an operand holding a range, an array constant or a
    spill reference is left as written, because IronCalc's ISNUMBER over a range is one FALSE,
    not an array (``SUMPRODUCT(ISNUMBER(A1:A3)*1)`` is 0), so the conversion would lose the
    array. In an array formula the scalar operands are converted too (each element joins the
    same 15-digit text), unless LET or LAMBDA names are about (:func:`needs_fifteen_digits`).
    """
    nodes = _grouped(parse(text))
    fresh = LetNames(text)
    changed = [False]

    def wrap(inner: str) -> str:
        changed[0] = True
        v, g, e, m, f, n = (fresh(f"t{x}") for x in "vgemfn")
        # g: the decimal exponent from LOG10, corrected where LOG10 lands just above a power of
        # ten; m: the mantissa to 15 digits, which may round up to 10 (then f, n: one up). The
        # decimal form rounds v itself (a mantissa times a power of ten is not exact: 3*10^-1 is
        # 0.30000000000000004). IF, not OR: element by element over arrays. Zero is found by
        # LOG10's error and magnitudes compared as ratios: IronCalc's comparisons have an
        # absolute tolerance (3E-139=0 is TRUE there). A blank cell is "" (as text reads it): the
        # value a LET gives a formula cell of its own is 0, and a host function's argument is
        # such a cell (CONCAT($B$1,{1}) was "01"; found by the generative test).
        sci = f'{n}&"E"&IF({f}<0,"-","+")&TEXT(ABS({f}),"00")'
        return (
            f'LET({v},{inner},IF(ISBLANK({v}),"",IF(ISNUMBER({v}),IF(ISERROR(LOG10(ABS({v}))),"0",LET({g},INT(LOG10(ABS({v}))),'
            f"{e},{g}-IF(ABS({v})/10^{g}<1,1,0),{m},ROUND({v}/10^{e},14),{f},{e}+IF(ABS({m})>=10,1,0),"
            f"{n},IF(ABS({m})>=10,ROUND({m}/10,14),{m}),"
            f'IF({f}>=15,{sci},IF({f}<-4,{sci},ROUND({v},14-{e})&"")))),{v})))'
        )

    def walk(seq: list[Any], criteria: bool = False) -> None:
        for node in seq:
            if isinstance(node, Call):
                positions = _AS_TEXT.get(node.key, frozenset())
                whole = _criteria_positions(node.key, len(node.args))
                for k, arg in enumerate(node.args):
                    walk(arg, k in whole)
                    if (positions is None or k in positions) and render(arg).strip() and not _is_text(arg) and not arrayish(arg):
                        arg[:] = [Token(wrap(render(arg)), Token.OPERAND, Token.RANGE)]
        if criteria:
            return
        # ``&`` binds looser than arithmetic and tighter than comparisons (Microsoft, "Calculation
        # operators and precedence"): its operands are the runs between it and the next ``&``
        # or comparison, or the ends
        cuts = [i for i, n in enumerate(seq) if isinstance(n, Token) and n.type == Token.OP_IN and n.value in _LOOSER]
        if not any(seq[i].value == "&" for i in cuts):
            return
        bounds = [-1, *cuts, len(seq)]
        runs: set[tuple[int, int]] = set()
        for k in range(1, len(bounds) - 1):
            if seq[bounds[k]].value == "&":
                runs |= {(bounds[k - 1] + 1, bounds[k] - 1), (bounds[k] + 1, bounds[k + 1] - 1)}
        for lo, hi in sorted(runs, reverse=True):  # from the right: a wrapped run shortens the list
            _wrap_run(seq, lo, hi, wrap)

    walk(nodes)
    return formula(nodes) if changed[0] else text


def _grouped(seq: list[Any]) -> list[Any]:
    """``seq`` with each parenthesised group nested as a :class:`Call` of no name (rendered
    ``(…)`` again), its arguments grouped too: the operands of ``&`` are then found at the
    group's own level. Flat, ``("x"&"y")`` read as the operands ``("x"`` and ``"y")`` and the
    conversion cut the parentheses apart (#NAME?)."""
    out: list[Any] = []
    stack: list[list[Any]] = [out]
    for node in seq:
        if isinstance(node, Call):
            stack[-1].append(Call(node.name, [_grouped(a) for a in node.args]))
        elif isinstance(node, Token) and node.type == Token.PAREN and node.subtype == Token.OPEN:
            group = Call("", [[]])
            stack[-1].append(group)
            stack.append(group.args[0])
        elif isinstance(node, Token) and node.type == Token.PAREN and node.subtype == Token.CLOSE and len(stack) > 1:
            stack.pop()
        else:
            stack[-1].append(node)
    return out


def _wrap_run(seq: list[Any], lo: int, hi: int, wrap: Any) -> None:
    """``seq[lo..hi]`` (one operand of ``&``) wrapped in the conversion unless it is text already."""
    while lo <= hi and isinstance(seq[lo], Token) and seq[lo].type == Token.WSPACE:
        lo += 1
    while hi >= lo and isinstance(seq[hi], Token) and seq[hi].type == Token.WSPACE:
        hi -= 1
    if lo > hi or _is_text(seq[lo : hi + 1]) or arrayish(seq[lo : hi + 1]):
        return
    seq[lo : hi + 1] = [Token(wrap(render(seq[lo : hi + 1])), Token.OPERAND, Token.RANGE)]


#: Functions that reduce every argument to one value.
_REDUCING = frozenset(
    """SUM AVERAGE AVERAGEA COUNT COUNTA COUNTBLANK MAX MAXA MIN MINA PRODUCT SUMPRODUCT SUMSQ MEDIAN STDEV STDEV.S
    STDEV.P VAR VAR.S VAR.P AND OR XOR ROWS COLUMNS KURT SKEW SKEW.P GEOMEAN HARMEAN DEVSQ AVEDEV MODE MODE.SNGL
    GCD LCM IRR MIRR DSUM DCOUNT DCOUNTA DAVERAGE DMAX DMIN DGET DPRODUCT DSTDEV DSTDEVP DVAR DVARP""".split()
)
#: Functions that reduce the arguments at these positions (0-based) to one value and return one
#: value per element of the others (``LARGE(A1:A9,{1,2})`` is two values): one value when the
#: others are not arrays. Found by the generative test: ``LEN(LARGE(A1:A5,2))`` kept 17 digits.
_REDUCING_AT: dict[str, frozenset[int]] = {
    **dict.fromkeys(
        """LARGE SMALL PERCENTILE PERCENTILE.INC PERCENTILE.EXC QUARTILE QUARTILE.INC QUARTILE.EXC PERCENTRANK
        PERCENTRANK.INC PERCENTRANK.EXC""".split(),
        frozenset({0}),
    ),
    **dict.fromkeys(("RANK", "RANK.EQ", "RANK.AVG", "MATCH", "VLOOKUP", "HLOOKUP"), frozenset({1})),
    "NPV": frozenset(range(1, 255)),
    "SUBTOTAL": frozenset(range(1, 255)),  # LEN(SUBTOTAL(7,I2:I6)) kept 17 digits
    "AGGREGATE": frozenset(range(2, 255)) - {3},  # its k (position 3) may be an array of k's
    "SERIESSUM": frozenset({3}),
}
#: Conditional aggregates: the parity (argument index % 2) of their criteria arguments.
_CONDITIONAL = {"COUNTIF": 1, "COUNTIFS": 1, "SUMIF": 1, "AVERAGEIF": 1, "SUMIFS": 0, "AVERAGEIFS": 0, "MAXIFS": 0, "MINIFS": 0}


def arrayish(nodes: list[Any]) -> bool:
    """Whether an operand may be an array: it holds a multi-cell range, an array constant or a
    spill reference (inside calls too)."""
    for node in nodes:
        if isinstance(node, Call):
            if node.key in _REDUCING:
                continue  # one number whatever its arguments
            if node.key in _REDUCING_AT:
                if any(arrayish(a) for k, a in enumerate(node.args) if k not in _REDUCING_AT[node.key]):
                    return True
                continue
            if node.key in _CONDITIONAL:  # one number unless a criterion is an array
                if any(arrayish(a) for k, a in enumerate(node.args) if k % 2 == _CONDITIONAL[node.key]):
                    return True
                continue
            if node.key == "ANCHORARRAY" or any(arrayish(a) for a in node.args):
                return True
        elif isinstance(node, Token) and (
            node.type == Token.ARRAY or (node.type == Token.OPERAND and node.subtype == Token.RANGE and ":" in node.value)
        ):
            return True
    return False


def _is_text(arg: list[Any]) -> bool:
    """A text literal or a call whose result is always text."""
    sig = significant(arg)
    if len(sig) != 1:
        return False
    one = sig[0]
    return (isinstance(one, Token) and one.subtype == Token.TEXT) or (isinstance(one, Call) and one.key in _TEXT_RESULTS)


# ----------------------------------------------------------------------------- one-cell ranges

#: Arguments (0-based; a callable of the argument count for the paired forms) that Excel
#: defines as a range or array, where a single cell is a one-cell range: Microsoft's function
#: reference names them ``range``, ``criteria_range``, ``sum_range``, ``array``, ``lookup_array``,
#: ``table_array``, ``lookup_vector``, ``result_vector``, ``return_array``.
_RANGE_ARGS: dict[str, Any] = {
    "COUNTIF": lambda n: {0},
    "SUMIF": lambda n: {0, 2},
    "AVERAGEIF": lambda n: {0, 2},
    "COUNTIFS": lambda n: set(range(0, n, 2)),
    "SUMIFS": lambda n: {0, *range(1, n, 2)},
    "AVERAGEIFS": lambda n: {0, *range(1, n, 2)},
    "MAXIFS": lambda n: {0, *range(1, n, 2)},
    "MINIFS": lambda n: {0, *range(1, n, 2)},
    "INDEX": lambda n: {0},
    "MATCH": lambda n: {1},
    "XMATCH": lambda n: {1},
    "VLOOKUP": lambda n: {1},
    "HLOOKUP": lambda n: {1},
    "LOOKUP": lambda n: {1, 2},
    "XLOOKUP": lambda n: {1, 2},
    # RANK's ref and LARGE/SMALL's array: IronCalc 0.9.1 gives #NAME? ("not implemented") and
    # #NUM! for one cell, the right answer for the same cell written as a range
    "RANK": lambda n: {1},
    "RANK.EQ": lambda n: {1},
    "RANK.AVG": lambda n: {1},
    "LARGE": lambda n: {0},
    "SMALL": lambda n: {0},
}
_ONE_CELL = re.compile(r"^((?:'(?:[^']|'')+'|[^'!:@\[\]]+)!)?(\$?[A-Za-z]{1,3}\$?\d+)$")
_RANGE_NAMES = re.compile(r"\b(" + "|".join(map(re.escape, _RANGE_ARGS)) + r")\s*\(", re.I)


def needs_one_cell_ranges(text: str) -> bool:
    """Cheap test: the formula calls a function with a range argument."""
    return _RANGE_NAMES.search(text) is not None


def one_cell_ranges(text: str) -> str:
    """A single cell given where Excel takes a range (``COUNTIF(A11,"")``, ``INDEX(A1,1,1)``,
    ``SUMIFS(B2,A2,">1")``, ``MATCH(x,A2,0)``) written as the one-cell range ``A11:A11``.

    Excel reads a reference of one cell as a range of one cell there (``COUNTIF(A11,"")`` is 1
    when A11 is blank); IronCalc 0.9.1 gives #VALUE! (COUNTIF/SUMIF(S)/AVERAGEIF(S)/MAXIFS/
    MINIFS/INDEX/XMATCH) or #N/A (MATCH, VLOOKUP, HLOOKUP, LOOKUP, XLOOKUP) for a single cell and
    the right answer for the same cell written ``A11:A11``.
    """
    nodes = parse(text)
    changed = [False]

    def walk(seq: list[Any]) -> None:
        for node in seq:
            if not isinstance(node, Call):
                continue
            wanted = _RANGE_ARGS.get(node.key)
            positions = wanted(len(node.args)) if wanted is not None else set()
            for k, arg in enumerate(node.args):
                walk(arg)
                sig = significant(arg)
                if k in positions and len(sig) == 1 and isinstance(sig[0], Token) and sig[0].subtype == Token.RANGE:
                    m = _ONE_CELL.match(sig[0].value)
                    if m is not None:
                        sig[0].value = f"{m.group(1) or ''}{m.group(2)}:{m.group(2)}"
                        changed[0] = True

    walk(nodes)
    return formula(nodes) if changed[0] else text


def _xlookup_over_constants(node: Call, m: str) -> str | None:
    """XLOOKUP whose lookup and result arrays are one-row or one-column array constants, with
    ``m`` the LET name of the position; None to leave the call as written.

    Over array constants IronCalc 0.9.1's XLOOKUP is #N/A whatever it looks up (its XMATCH and
    INDEX over them are right): the position XMATCH finds, with the same match and search modes,
    then the result vector's element there, else if_not_found ("XLOOKUP function": "If a valid
    match is not found, return the [if_not_found] text you supply"; omitted or empty: #N/A). A
    result vector of another length or orientation is #VALUE! whatever is looked up (the
    return array must have the lookup array's size, as for ranges)."""
    args = [render(a) for a in node.args]
    look, ret = _vector_constant(args[1]), _vector_constant(args[2])
    if look is None or ret is None:
        return None
    if look != ret and not (look[1] == ret[1] == 1):
        return "#VALUE!"
    modes = "".join(f",{a}" if a.strip() else ",0" if i == 4 else ",1" for i, a in enumerate(args[4:], 4))
    missing = args[3] if len(args) > 3 and args[3].strip() else "NA()"
    # an #N/A looked up is passed on, not "not found" (Excel's cached values, LOOKUP!AA163:AA170)
    found = f"IF(ISNA({m}),IF(ISNA({args[0]}),{m},{missing}),INDEX({args[2]},{m}))"
    return f"LET({m},XMATCH({args[0]},{args[1]}{modes}),{found})"
