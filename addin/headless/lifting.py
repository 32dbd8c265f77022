"""Functions of one value given arrays: evaluated element by element, as Excel does.

In an array formula (Ctrl+Shift+Enter, or a dynamic array) and under an argument Excel reads as
an array (:data:`~addin.headless.formula.LIFTING`), a function whose parameter takes one value
and is given an array is evaluated once per element, and the results form an array of the
arguments' broadcast shape (Microsoft, "Guidelines and examples of array formulas" and "Dynamic
array formulas and spilled array behavior": ``=FISHER(C1:Q1)`` entered over a row is FISHER
of each cell). Where the arrays differ in size, an array of one row or column is repeated along
it, and the positions beyond a smaller array are ``#N/A`` (the same rule as the array range
itself, :func:`~addin.headless.formula.broadcast`).

IronCalc 0.9.1 lifts some such functions (ABS, SQRT, LEN, arithmetic) but evaluates most of
them once, with one element or ``#VALUE!``, for the whole array: ``{=FISHER(C35:Q35)}`` and
``{=NORM.DIST(C73:Q73,3,4,TRUE)}`` were 15 ``#VALUE!`` in formulas' function test book (about
2,000 of its 4,834 differing cells were this one class). Each such call is rewritten:

* one argument an array: ``MAP(arr, LAMBDA(x, F(..., x, ...)))``;
* several: ``LET(a, arr1, b, arr2, MAKEARRAY(rows, cols, LAMBDA(r, c, F(pick(a), pick(b)))))``,
  ``rows``/``cols`` the largest of the arrays', ``pick`` the element of the broadcast rule
  (``#N/A`` beyond a smaller array).

An argument is an array when it holds, outside nested calls, a multi-cell range or an array
constant, or a nested call that is itself lifted here, or one of the calls that return arrays
(:data:`_ARRAY_RESULTS`) given one. Only the parameters :data:`SCALAR_PARAMS` names for the
function are looked at: ``LARGE(C1:J1,E1:F1)`` lifts ``k``, never ``array``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_number
from addin.headless.conditionals import CONDITIONALS, criteria_positions
from addin.headless.formula import LIFTING, Call, constant_shape, formula, lifts, parse, render, split_ref
from addin.headless.letnames import LetNames
from addin.headless.toolpak_arrays import ENGINE_TOOLPAK

_ALL = None
#: Functions and their parameters (0-based; None: every one) that take one value, per
#: Microsoft's function reference ("Excel functions (by category)": each parameter described as
#: "the value", "a number", "the text"...), and that IronCalc 0.9.1 does not lift itself over an
#: array (found on formulas' function test book; lifting one it does lift gives the same values).
SCALAR_PARAMS: dict[str, frozenset[int] | None] = {
    **dict.fromkeys(
        # statistical distributions and their inverses (every parameter a number or logical)
        """NORMDIST NORM.DIST NORMSDIST NORM.S.DIST NORMINV NORM.INV NORMSINV NORM.S.INV BETA.DIST BETADIST
        BETA.INV BETAINV BINOM.DIST BINOMDIST BINOM.DIST.RANGE BINOM.INV CRITBINOM CHISQ.DIST CHISQ.DIST.RT
        CHIDIST CHISQ.INV CHISQ.INV.RT CHIINV CONFIDENCE CONFIDENCE.NORM CONFIDENCE.T EXPON.DIST EXPONDIST
        F.DIST F.DIST.RT FDIST F.INV F.INV.RT FINV GAMMA GAMMA.DIST GAMMADIST GAMMA.INV GAMMAINV GAMMALN
        GAMMALN.PRECISE GAUSS HYPGEOM.DIST HYPGEOMDIST LOGNORM.DIST LOGNORMDIST LOGNORM.INV LOGINV
        NEGBINOM.DIST NEGBINOMDIST POISSON.DIST POISSON STANDARDIZE T.DIST T.DIST.2T T.DIST.RT TDIST T.INV
        T.INV.2T TINV WEIBULL.DIST WEIBULL FISHER FISHERINV PHI PERMUT PERMUTATIONA"""
        # time value of money (rate, nper, pmt, pv, fv, type, guess: numbers) and depreciation
        # (cost, salvage, life, period, factor: numbers; these five found by the probe of
        # _ARRAY_RESULTS, #VALUE! given A1:A3)
        """ FV PV PMT IPMT PPMT RATE NPER SLN SYD DDB DB"""
        # days between dates, combinations, number bases and the currency format (probe, as above)
        """ DAYS DAYS360 COMBIN BASE DOLLAR"""
        # date and time parts
        """ HOUR MINUTE SECOND TIME TIMEVALUE ISOWEEKNUM WEEKDAY YEAR MONTH DAY"""
        # numbers: rounding, bases, bits
        """ DECIMAL ARABIC ROMAN MOD CEILING FLOOR CEILING.MATH FLOOR.MATH ATAN2 LOG ROUND ROUNDDOWN ROUNDUP
        TRUNC BITAND BITOR BITXOR BITLSHIFT BITRSHIFT"""
        # text
        """ CODE CHAR UNICHAR UNICODE FIXED VALUE NUMBERVALUE ASC REGEXTEST REGEXEXTRACT REGEXREPLACE
        CONCATENATE NOT ADDRESS"""
        # the IS functions and ERROR.TYPE: one value each (IronCalc's of a range is one FALSE)
        """ ISNUMBER ISTEXT ISNONTEXT ISBLANK ISERROR ISERR ISNA ISLOGICAL ERROR.TYPE""".split(),
        _ALL,
    ),
    # the criteria of the conditional aggregates: one value each (Microsoft, "COUNTIFS function":
    # "criteria ... that define which cells will be counted"); IronCalc 0.9.1 reads an array of
    # criteria once (COUNTIF(H1:H3,">"&A1:A2) one count). A call the host function
    # (addin.headless.conditionals) takes is left to it; one it declines (a whole-column range,
    # a criterion computed by an expression) is lifted here.
    **{name: criteria_positions(name) for name in CONDITIONALS},
    # ``k`` / ``quart`` / ``percent`` / ``number`` and ``order`` / ``x``, ``sigma``: the rest is the data array
    **dict.fromkeys(("LARGE", "SMALL", "TRIMMEAN"), frozenset({1})),
    **dict.fromkeys(
        ("PERCENTILE", "PERCENTILE.INC", "PERCENTILE.EXC", "QUARTILE", "QUARTILE.INC", "QUARTILE.EXC"), frozenset({1})
    ),
    **dict.fromkeys(("RANK", "RANK.EQ", "RANK.AVG"), frozenset({0, 2})),
    **dict.fromkeys(("Z.TEST", "ZTEST"), frozenset({1, 2})),
    "PROB": frozenset({2, 3}),
    "NPV": frozenset({0}),
    "IRR": frozenset({1}),  # the guess
    # the lookup value (and XLOOKUP's match and search modes)
    "LOOKUP": frozenset({0}),
    "XLOOKUP": frozenset({0, 4, 5}),
    # INDEX's row_num and column_num (the array and area_num are not lifted)
    "INDEX": frozenset({1, 2}),
    # functions returning an array, lifted over their one-value parameters (:data:`ARRAY_VALUED`)
    **dict.fromkeys(("TOCOL", "TOROW"), frozenset({1, 2})),  # ignore, scan_by
    "TEXTSPLIT": frozenset({0}),  # the text (the delimiters may be arrays: a set of delimiters)
    "MAKEARRAY": frozenset({0, 1}),  # rows, columns
    "MUNIT": frozenset({0}),  # the dimension
    **dict.fromkeys(("TAKE", "DROP"), frozenset({1, 2})),  # rows, columns
    **dict.fromkeys(("WRAPROWS", "WRAPCOLS"), frozenset({1, 2})),  # wrap_count, pad_with
    # the Analysis ToolPak's functions the engine evaluates (IronCalc 0.9.1 reads an array there
    # once: {=GESTEP({1;4},3)} "not implemented"); a multi-cell range there is refused instead
    # (:func:`_refuses_range`)
    **ENGINE_TOOLPAK,
}
#: Functions of :data:`SCALAR_PARAMS` lifted in array formulas only, not under SUMPRODUCT-like
#: arguments: INDEX's element-by-element reading is what Excel's cached values show for CSE
#: formulas; under SUMPRODUCT legacy Excel is known to read an array of row numbers otherwise
#: (the ``N(IF(1,…))`` idiom exists for it), which no cached value here shows.
_ARRAY_FORMULAS_ONLY = frozenset(("INDEX",))
#: Functions of :data:`SCALAR_PARAMS` whose result is itself an array: lifted over an array, each
#: element is the first value of its result (Excel's cached values in formulas' test book:
#: ``{=TOCOL($C$127:$D$128,C126:Q126)}`` is C127, the first value, for each ``ignore`` of 0-3,
#: LOOKUP!AI126; ``{=TEXTSPLIT(C47:Q47,1)}`` the first piece of each text, TEXT!AH47;
#: ``{=MAKEARRAY(C14:Q14,1,…)}`` the value at (1,1) for each row count, LOGICAL!R14;
#: ``{=MUNIT(C47:Q47)}`` 1 for each dimension of 1 or more, MATH & TRIG!AH47; ``{=TAKE(…,I123,{1;2;1})}``,
#: ``{=DROP(…,I16,{1;2;1})}`` and ``{=WRAPROWS(…,C148:N148,6)}``, LOOKUP!AE123, AE16, O156).
ARRAY_VALUED = frozenset(("TOCOL", "TOROW", "TEXTSPLIT", "MAKEARRAY", "MUNIT", "TAKE", "DROP", "WRAPROWS", "WRAPCOLS"))
#: Calls that return an array when given one (so an argument holding them is an array).
#: Beside ROW, COLUMN and TRANSPOSE, the functions IronCalc 0.9.1 itself evaluates element by
#: element given a range at a one-value parameter: found by a probe (``=ROWS(F(A1:A3))`` is 3 for
#: these, 1 or an error for every other function of the generative test's table), so
#: ``ISNUMBER(COS(A1:A3))`` is ISNUMBER of an array.
_ARRAY_RESULTS = frozenset(
    """IF IFERROR IFNA IFS SWITCH CHOOSE ROW COLUMN TRANSPOSE ABS SQRT SQRTPI EXP LN LOG10 INT SIGN EVEN ODD
    FACT POWER SIN COS DEGREES RADIANS DATE YEAR MONTH DAY WEEKDAY ISOWEEKNUM LEN LEFT RIGHT MID UPPER
    LOWER PROPER TRIM CLEAN EXACT FIND SEARCH REPLACE REPT SUBSTITUTE TEXT SUMIF ISNUMBER ISTEXT ISBLANK
    ISERROR ISNA""".split()
)
_AREA = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+):\$?([A-Za-z]{1,3})\$?(\d+)")
_MULTI = re.compile(r"[A-Za-z]{1,3}\$?\d*:\$?[A-Za-z]{0,3}\$?\d*$|\d+:\$?\d+$")
_NAMES = re.compile(
    r"(?<![\w.])(?:_xlfn\.)?(" + "|".join(re.escape(k) for k in sorted(SCALAR_PARAMS, key=len, reverse=True)) + r")\s*\(", re.I
)


def needs_lifting(text: str, array_formula: bool) -> bool:
    """Cheap test before tokenising: a function of :data:`SCALAR_PARAMS`, a range or array
    constant, and (outside array formulas) a function that reads its arguments as arrays."""
    if not (":" in text or "{" in text) or _NAMES.search(text) is None:
        return False
    return array_formula or "{" in text or any(re.search(rf"\b{k}\s*\(", text, re.I) for k in LIFTING)


def _is_constant_token(node: Any) -> bool:
    """Whether ``node`` opens an array constant (``{1,2}``)."""
    return isinstance(node, Token) and node.type == Token.ARRAY and node.subtype == Token.OPEN


def _is_array_token(node: Any) -> bool:
    if not isinstance(node, Token):
        return False
    if node.type == Token.ARRAY and node.subtype == Token.OPEN:
        return True
    if node.type == Token.OPERAND and node.subtype == Token.RANGE and not node.value.startswith("@"):
        ref = node.value.rsplit("!", 1)[-1]
        return _MULTI.match(ref.replace("$", "")) is not None
    return False


def _names_one_of(node: Any, names: set[str]) -> bool:
    """Whether ``node`` is a name (an operand of no ``:``, ``!`` or ``$``) among ``names``."""
    if not names or not isinstance(node, Token) or node.type != Token.OPERAND or node.subtype != Token.RANGE:
        return False
    return node.value.upper().removeprefix("_XLPM.") in names


def _multi_cell(node: Any) -> bool:
    """Whether ``node`` is a range of several cells as written (``A1:A3``, ``C:C``; not ``A2:A2``)."""
    if not _is_array_token(node) or node.type != Token.OPERAND:
        return False
    m = _AREA.fullmatch(node.value.rsplit("!", 1)[-1])
    return m is None or (m.group(1).upper(), m.group(2)) != (m.group(3).upper(), m.group(4))


def _refuses_range(call: Call, params: frozenset[int] | None, range_names: set[str]) -> bool:
    """Whether ``call``, of an Analysis ToolPak function the engine evaluates, is given a
    multi-cell range (as written, or a LET name bound to one) at a one-value parameter: #VALUE!
    in an array context (:mod:`addin.headless.toolpak_arrays`)."""
    if call.key not in ENGINE_TOOLPAK:
        return False
    for k, arg in enumerate(call.args):
        nodes = [n for n in arg if not (isinstance(n, Token) and n.type == Token.WSPACE)]
        if (
            (params is None or k in params)
            and len(nodes) == 1
            and (_multi_cell(nodes[0]) or _names_one_of(nodes[0], range_names))
        ):
            return True
    return False


def lift(
    text: str,
    array_formula: bool,
    hosts: Container[str] = (),
    reads_arrays: Callable[[str, list[str]], bool] | None = None,
    host_lifts: Callable[[str, list[bool]], bool] | None = None,
) -> str:
    """``text`` with each call of :data:`SCALAR_PARAMS` given an array at one of its one-value
    parameters evaluated element by element (module docstring). ``array_formula``: the formula
    is an array formula, so every call is evaluated as an array; else only under the arguments
    of :data:`~addin.headless.formula.LIFTING`. ``hosts``: functions evaluated by this project
    (host functions: their calls are cut out of the formula into cells of their own, where a
    LAMBDA's parameter means nothing), left as written; so is a call ``reads_arrays(key,
    argument texts)`` says its host function evaluates element by element itself.
    ``host_lifts(key, which arguments are arrays)``: whether such a host call's result is then
    an array (it is evaluated once per element: :mod:`addin.headless.host_arguments`), so a call
    around it is lifted too (``{=INDEX(B1:B3,MATCH(A1:A3,A1:A3,0))}``,
    ``ISNUMBER(MAXIFS(C1:C5,D1:D5,A8:A10))``)."""
    nodes = parse(text)
    fresh = LetNames(text)
    changed = [False]
    # LET names bound, where they are read, to an array (``LET(x, C1:C5, ISNUMBER(EXP(x)))``:
    # x stands for its value, Microsoft, "LET function"), upper case
    array_names: set[str] = set()
    # those bound to a multi-cell range as written (the name holds the reference: an Analysis
    # ToolPak function refuses it as it refuses the range, _refuses_range)
    range_names: set[str] = set()

    def arrayish(seq: list[Any], lifted: bool, outer: str) -> bool:
        """Whether ``seq`` evaluates to an array (rewriting the calls inside it on the way)."""
        found = False
        for i, node in enumerate(seq):
            if isinstance(node, Call):
                replaced, is_array = visit(node, lifted, outer)
                if replaced is not None:
                    seq[i] = Token(replaced, Token.OPERAND, Token.RANGE)
                found |= is_array
            elif _is_array_token(node) or _names_one_of(node, array_names):
                found = True
        return found

    def let_arrays(call: Call, lifted: bool) -> list[bool]:
        """LET's arguments visited in order, each name whose value is an array marked so for the
        arguments after it, and unmarked after the call (its scope ends there)."""
        before, ranges_before = set(array_names), set(range_names)
        arrays = []
        for k, a in enumerate(call.args):
            is_array = arrayish(a, lifted, call.key)
            arrays.append(is_array)
            name = render(call.args[k - 1]).strip().upper() if k % 2 else ""
            if name and k < len(call.args) - 1:
                name = name.removeprefix("_XLPM.")
                (array_names.add if is_array else array_names.discard)(name)
                nodes = [n for n in a if not (isinstance(n, Token) and n.type == Token.WSPACE)]
                bound = len(nodes) == 1 and (_multi_cell(nodes[0]) or _names_one_of(nodes[0], range_names))
                (range_names.add if bound else range_names.discard)(name)
        array_names.clear()
        array_names.update(before)
        range_names.clear()
        range_names.update(ranges_before)
        return arrays

    def visit(call: Call, lifted: bool, outer: str) -> tuple[str | None, bool]:
        key = call.key
        inner_lifted = lifted if array_formula else lifts(outer, key, lifted)
        if key == "LET":
            return None, let_arrays(call, inner_lifted)[-1] if call.args else False
        arrays = [arrayish(a, inner_lifted, key) for a in call.args]
        params = SCALAR_PARAMS.get(key, frozenset())
        kept = key in hosts or (reads_arrays is not None and reads_arrays(key, [render(a).strip() for a in call.args]))
        if host_lifts is not None and (kept or key not in SCALAR_PARAMS) and _host_array(call, arrays, inner_lifted, host_lifts):
            return None, True
        if key not in SCALAR_PARAMS or kept or (key in _ARRAY_FORMULAS_ONLY and not array_formula):
            return None, key in _ARRAY_RESULTS and any(arrays)
        if not inner_lifted:
            # outside array evaluation only a range is cut to one cell (implicit intersection);
            # an array constant is an array in any formula (``=SUM(LARGE(A1:B3,{1,2}))`` adds the
            # two largest without Ctrl+Shift+Enter: Microsoft, "Use array constants in array
            # formulas"), so a one-value parameter given one is lifted there too
            arrays = [any(_is_constant_token(t) for t in a) for a in call.args]
        lifted_args = [k for k, is_array in enumerate(arrays) if is_array and (params is None or k in params)]
        if not lifted_args:
            return None, False
        changed[0] = True
        # a multi-cell range there is #VALUE! for the whole call to the ToolPak's functions
        refused = inner_lifted and _refuses_range(call, params, range_names)
        return ("#VALUE!", False) if refused else (_element_wise(call, lifted_args, fresh), True)

    arrayish(nodes, array_formula, "")
    return formula(nodes) if changed[0] else text


def _host_array(call: Call, arrays: list[bool], inner_lifted: bool, host_lifts: Callable[[str, list[bool]], bool]) -> bool:
    """Whether a host call is evaluated element by element, so its result is an array: a one-value
    parameter is given an array (outside array evaluation only an array constant is one there)."""
    given = arrays if inner_lifted else [any(_is_constant_token(t) for t in a) for a in call.args]
    return host_lifts(call.key, given)


def _written_array(text: str) -> bool:
    """Whether ``text`` is a multi-cell range or an array constant as written (never one error)."""
    nodes = [n for n in parse("=" + text.strip()) if not (isinstance(n, Token) and n.type == Token.WSPACE)]
    if len(nodes) == 1 and _is_array_token(nodes[0]):
        return True
    return text.strip().startswith("{") and constant_shape(text.strip()) is not None


def _two_dimensional(text: str) -> bool:
    """Whether an array constant or an A1 range written in ``text`` has several rows and columns."""
    t = text.strip()
    shape = constant_shape(t) if t.startswith("{") else None
    if shape is None:
        ref = split_ref(t)
        m = _AREA.fullmatch(ref[1]) if ref is not None else None
        if m is None:
            return False
        shape = (
            abs(int(m.group(4)) - int(m.group(2))) + 1,
            abs(column_number(m.group(3).upper()) - column_number(m.group(1).upper())) + 1,
        )
    return shape[0] > 1 and shape[1] > 1


def _element_wise(call: Call, positions: list[int], fresh: LetNames) -> str:
    args = [render(a) for a in call.args]
    if call.key == "INDEX" and len(args) == 2 and _two_dimensional(args[0]):
        # INDEX(table, row) of a table of several columns is the whole row; as an element of an
        # array, its first value (the rule of ARRAY_VALUED): Excel's cached ``{=INDEX({2,3;4,5},{1,2})}``
        # is 2 and 4, formulas' test book LOOKUP!AO52:AP53
        args.append("1")

    def one(body: str) -> str:  # an array-valued function's element: its result's first value
        return f"INDEX({call.name}({body}),1,1)" if call.key in ARRAY_VALUED else f"{call.name}({body})"

    if len(positions) == 1:
        (p,) = positions
        x = fresh("lx")
        body = ",".join(x if i == p else a for i, a in enumerate(args))
        mapped = f"MAP({args[p]},LAMBDA({x},{one(body)}))"
        if _written_array(args[p]):
            return mapped
        # an argument made an array by a call may be one error instead (CHOOSE(NA(),…), IF(#VALUE!,…)):
        # MAP of an error is that error, Excel's F of it is F(error) (ISNUMBER's FALSE); IronCalc's
        # ISERROR of an array is one FALSE, so the test tells the two apart
        v = fresh("lv")
        whole = ",".join(v if i == p else a for i, a in enumerate(args))
        return f"LET({v},{args[p]},IF(ISERROR({v}),{one(whole)},MAP({v},LAMBDA({x},{one(body)}))))"
    r, c = fresh("lr"), fresh("lc")
    names = {p: fresh("la") for p in positions}

    def pick(a: str) -> str:
        # the element at (r, c) under Excel's broadcast: one row or column repeats, #N/A beyond;
        # a one-cell array is itself (IronCalc's LET makes it one value, and its INDEX of one
        # value is #VALUE!, Excel's the value)
        return (
            f"IF(AND(ROWS({a})=1,COLUMNS({a})=1),{a},"
            f"IF(OR(AND(ROWS({a})>1,{r}>ROWS({a})),AND(COLUMNS({a})>1,{c}>COLUMNS({a}))),NA(),"
            f"INDEX({a},IF(ROWS({a})=1,1,{r}),IF(COLUMNS({a})=1,1,{c}))))"
        )

    body = ",".join(pick(names[i]) if i in names else a for i, a in enumerate(args))
    lets = ",".join(f"{names[p]},{args[p]}" for p in positions)
    rows = ",".join(f"ROWS({n})" for n in names.values())
    cols = ",".join(f"COLUMNS({n})" for n in names.values())
    return f"LET({lets},MAKEARRAY(MAX({rows}),MAX({cols}),LAMBDA({r},{c},{one(body)})))"
