"""How many arguments each Excel worksheet function takes, and the calls of a formula outside that.

Excel refuses to enter a formula whose call has too few or too many arguments ("You've entered
too few arguments for this function", Microsoft, "Excel functions (alphabetical)" and each
function's reference page, whose Syntax section lists the required and optional arguments).
A file written by another program can still hold one. IronCalc 0.9.1 answers most of them with
its parse error (the cell is ``#NAME?`` here, :data:`addin.headless.engine.UNPARSED`), but a few
(SLOPE, CORREL, RSQ, STEYX, INTERCEPT, FORECAST with three ranges...) panic its loader and the
whole book would be lost: :func:`addin.headless.engine._load` then screens every formula with
:func:`fault` and loads again without the cells it names.

The table covers the worksheet functions IronCalc 0.9.1 knows and their Excel relatives; a name
not in it (a host function, a ``udfs`` function, an unknown name) is not checked here: host
functions check their own arguments, an unknown name is ``#NAME?`` anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

#: Excel's limit on the arguments of one call (Microsoft, "Excel specifications and limits").
MANY = 255

# name min max, from each function's Syntax section on Microsoft's reference page; "n" = up
# to 255 (a repeated "number2, ..." argument)
_TABLE = """
ABS 1 1; ACOS 1 1; ACOSH 1 1; ACOT 1 1; ACOTH 1 1; ADDRESS 2 5; AND 1 n; ARABIC 1 1; AREAS 1 1;
ASIN 1 1; ASINH 1 1; ATAN 1 1; ATAN2 2 2; ATANH 1 1; AVEDEV 1 n; AVERAGE 1 n; AVERAGEA 1 n;
AVERAGEIF 2 3; AVERAGEIFS 3 n; BASE 2 3; BESSELI 2 2; BESSELJ 2 2; BESSELK 2 2; BESSELY 2 2;
BETA.DIST 4 6; BETA.INV 3 5; BIN2DEC 1 1; BIN2HEX 1 2; BIN2OCT 1 2; BINOM.DIST 4 4; BINOM.DIST.RANGE 3 4;
BINOM.INV 3 3; BITAND 2 2; BITLSHIFT 2 2; BITOR 2 2; BITRSHIFT 2 2; BITXOR 2 2; CEILING 2 2;
CEILING.MATH 1 3; CEILING.PRECISE 1 2; CELL 1 2; CHAR 1 1; CHISQ.DIST 3 3; CHISQ.DIST.RT 2 2;
CHISQ.INV 2 2; CHISQ.INV.RT 2 2; CHISQ.TEST 2 2; CHOOSE 2 n; CHOOSECOLS 2 n; CHOOSEROWS 2 n;
CLEAN 1 1; CODE 1 1; COLUMN 0 1; COLUMNS 1 1; COMBIN 2 2; COMBINA 2 2; COMPLEX 2 3; CONCAT 1 n;
CONCATENATE 1 n; CONFIDENCE.NORM 3 3; CONFIDENCE.T 3 3; CONVERT 3 3; CORREL 2 2; COS 1 1; COSH 1 1;
COT 1 1; COTH 1 1; COUNT 1 n; COUNTA 1 n; COUNTBLANK 1 1; COUNTIF 2 2; COUNTIFS 2 n; COVARIANCE.P 2 2;
COVARIANCE.S 2 2; CSC 1 1; CSCH 1 1; CUMIPMT 6 6; CUMPRINC 6 6; DATE 3 3; DATEDIF 3 3; DATEVALUE 1 1;
DAVERAGE 3 3; DAY 1 1; DAYS 2 2; DAYS360 2 3; DB 4 5; DCOUNT 3 3; DCOUNTA 3 3; DDB 4 5; DEC2BIN 1 2;
DEC2HEX 1 2; DEC2OCT 1 2; DECIMAL 2 2; DEGREES 1 1; DELTA 1 2; DEVSQ 1 n; DGET 3 3; DMAX 3 3; DMIN 3 3;
DOLLAR 1 2; DOLLARDE 2 2; DOLLARFR 2 2; DPRODUCT 3 3; DROP 2 3; DSTDEV 3 3; DSTDEVP 3 3; DSUM 3 3;
DVAR 3 3; DVARP 3 3; EDATE 2 2; EFFECT 2 2; EOMONTH 2 2; ERF 1 2; ERF.PRECISE 1 1; ERFC 1 1;
ERFC.PRECISE 1 1; ERROR.TYPE 1 1; EVEN 1 1; EXACT 2 2; EXP 1 1; EXPAND 2 4; EXPON.DIST 3 3;
F.DIST 4 4; F.DIST.RT 3 3; F.INV 3 3; F.INV.RT 3 3; F.TEST 2 2; FACT 1 1; FACTDOUBLE 1 1; FALSE 0 0;
FILTER 2 3; FIND 2 3; FISHER 1 1; FISHERINV 1 1; FIXED 1 3; FLOOR 2 2; FLOOR.MATH 1 3;
FLOOR.PRECISE 1 2; FORECAST 3 3; FORECAST.LINEAR 3 3; FORMULATEXT 1 1; FREQUENCY 2 2; FV 3 5;
FVSCHEDULE 2 2; GAMMA 1 1; GAMMA.DIST 4 4; GAMMA.INV 3 3; GAMMALN 1 1; GAMMALN.PRECISE 1 1; GAUSS 1 1;
GCD 1 n; GEOMEAN 1 n; GESTEP 1 2; GROWTH 1 4; HARMEAN 1 n; HEX2BIN 1 2; HEX2DEC 1 1; HEX2OCT 1 2;
HLOOKUP 3 4; HOUR 1 1; HSTACK 1 n; HYPERLINK 1 2; HYPGEOM.DIST 5 5; IF 2 3; IFERROR 2 2; IFNA 2 2;
IFS 2 n; IMABS 1 1; IMAGINARY 1 1; IMARGUMENT 1 1; IMCONJUGATE 1 1; IMCOS 1 1; IMCOSH 1 1; IMCOT 1 1;
IMCSC 1 1; IMCSCH 1 1; IMDIV 2 2; IMEXP 1 1; IMLN 1 1; IMLOG10 1 1; IMLOG2 1 1; IMPOWER 2 2;
IMPRODUCT 1 n; IMREAL 1 1; IMSEC 1 1; IMSECH 1 1; IMSIN 1 1; IMSINH 1 1; IMSQRT 1 1; IMSUB 2 2;
IMSUM 1 n; IMTAN 1 1; INDEX 2 4; INDIRECT 1 2; INT 1 1; INTERCEPT 2 2; IPMT 4 6; IRR 1 2; ISBLANK 1 1;
ISERR 1 1; ISERROR 1 1; ISEVEN 1 1; ISFORMULA 1 1; ISLOGICAL 1 1; ISNA 1 1; ISNONTEXT 1 1;
ISNUMBER 1 1; ISODD 1 1; ISOWEEKNUM 1 1; ISPMT 4 4; ISREF 1 1; ISTEXT 1 1; KURT 1 n; LARGE 2 2;
LCM 1 n; LEFT 1 2; LEN 1 1; LINEST 1 4; LN 1 1; LOG 1 2; LOG10 1 1; LOGEST 1 4; LOGNORM.DIST 4 4;
LOGNORM.INV 3 3; LOOKUP 2 3; LOWER 1 1; MATCH 2 3; MAX 1 n; MAXA 1 n; MAXIFS 3 n; MEDIAN 1 n; MID 3 3;
MIN 1 n; MINA 1 n; MINIFS 3 n; MINUTE 1 1; MIRR 3 3; MOD 2 2; MONTH 1 1; MROUND 2 2; MULTINOMIAL 1 n;
N 1 1; NA 0 0; NEGBINOM.DIST 4 4; NETWORKDAYS 2 3; NETWORKDAYS.INTL 2 4; NOMINAL 2 2; NORM.DIST 4 4;
NORM.INV 3 3; NORM.S.DIST 2 2; NORM.S.INV 1 1; NOT 1 1; NOW 0 0; NPER 3 5; NPV 2 n; OCT2BIN 1 2;
OCT2DEC 1 1; OCT2HEX 1 2; ODD 1 1; OFFSET 3 5; OR 1 n; PDURATION 3 3; PEARSON 2 2; PERCENTILE.EXC 2 2;
PERCENTILE.INC 2 2; PERCENTRANK.EXC 2 3; PERCENTRANK.INC 2 3; PERMUT 2 2; PERMUTATIONA 2 2; PHI 1 1;
PI 0 0; PMT 3 5; POISSON.DIST 3 3; POWER 2 2; PPMT 4 6; PRODUCT 1 n; PROPER 1 1; PV 3 5;
QUARTILE.EXC 2 2; QUARTILE.INC 2 2; QUOTIENT 2 2; RADIANS 1 1; RAND 0 0; RANDARRAY 0 5;
RANDBETWEEN 2 2; RANK.AVG 2 3; RANK.EQ 2 3; RATE 3 6; REPLACE 4 4; REPT 2 2; RIGHT 1 2; ROMAN 1 2;
ROUND 2 2; ROUNDDOWN 2 2; ROUNDUP 2 2; ROW 0 1; ROWS 1 1; RRI 3 3; RSQ 2 2; SEARCH 2 3; SEC 1 1;
SECH 1 1; SECOND 1 1; SEQUENCE 1 4; SERIESSUM 4 4; SHEET 0 1; SHEETS 0 1; SIGN 1 1; SIN 1 1; SINH 1 1;
SKEW 1 n; SKEW.P 1 n; SLN 3 3; SLOPE 2 2; SMALL 2 2; SORT 1 4; SORTBY 2 n; SQRT 1 1; SQRTPI 1 1;
STANDARDIZE 3 3; STDEV 1 n; STDEV.P 1 n; STDEV.S 1 n; STDEVA 1 n; STDEVP 1 n; STDEVPA 1 n; STEYX 2 2;
SUBSTITUTE 3 4; SUBTOTAL 2 n; SUM 1 n; SUMIF 2 3; SUMIFS 3 n; SUMPRODUCT 1 n; SUMSQ 1 n; SUMX2MY2 2 2;
SUMX2PY2 2 2; SUMXMY2 2 2; SWITCH 3 n; SYD 4 4; T 1 1; T.DIST 3 3; T.DIST.2T 2 2; T.DIST.RT 2 2;
T.INV 2 2; T.INV.2T 2 2; T.TEST 4 4; TAKE 2 3; TAN 1 1; TANH 1 1; TBILLEQ 3 3; TBILLPRICE 3 3;
TBILLYIELD 3 3; TEXT 2 2; TEXTAFTER 2 6; TEXTBEFORE 2 6; TEXTJOIN 3 n; TEXTSPLIT 2 6; TIME 3 3;
TIMEVALUE 1 1; TOCOL 1 3; TODAY 0 0; TOROW 1 3; TRANSPOSE 1 1; TREND 1 4; TRIM 1 1; TRIMMEAN 2 2;
TRUE 0 0; TRUNC 1 2; TYPE 1 1; UNICHAR 1 1; UNICODE 1 1; UNIQUE 1 3; UPPER 1 1; VALUE 1 1;
VALUETOTEXT 1 2; VAR 1 n; VAR.P 1 n; VAR.S 1 n; VARA 1 n; VARP 1 n; VARPA 1 n; VLOOKUP 3 4;
VSTACK 1 n; WEEKDAY 1 2; WEEKNUM 1 2; WEIBULL.DIST 4 4; WORKDAY 2 3; WORKDAY.INTL 2 4; WRAPCOLS 2 3;
WRAPROWS 2 3; XIRR 2 3; XLOOKUP 3 6; XMATCH 2 4; XNPV 3 3; XOR 1 n; YEAR 1 1; YEARFRAC 2 3;
ZTEST 2 3; Z.TEST 2 3
"""


@cache
def table() -> dict[str, tuple[int, int]]:
    """By upper-case name (without ``_xlfn.``), the (fewest, most) arguments Excel accepts."""
    out: dict[str, tuple[int, int]] = {}
    for entry in _TABLE.replace("\n", " ").split(";"):
        name, low, high = entry.split()
        out[name] = (int(low), MANY if high == "n" else int(high))
    return out


#: The parts of a formula the argument count needs: a string (skipped whole), a quoted sheet
#: name (skipped whole), a function name with its "(", a bracketed structured reference
#: (skipped), a parenthesis, an array constant's braces, a comma.
_TOKENS = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|([A-Za-z_][\w.]*)\(|\[(?:[^\[\]]|\[[^\]]*\])*\]|[(){},]')
_PREFIX = re.compile(r"^(?:_xlfn\.|_xlws\.)+", re.I)


def fault(text: str, known: Mapping[str, tuple[int, int]] | None = None) -> str | None:
    """Why ``text`` (a formula, with or without ``=``) cannot be entered in Excel for the number
    of arguments of a call it makes (the first such call), or None.

    An empty argument counts (``ROUND(1,)`` has two); ``F()`` has none. A comma inside an array
    constant (``{1,2}``) or inside nested parentheses belongs to them, not to the call.
    ``known``: the arities by name (:func:`table` when None).
    """
    known = table() if known is None else known
    # each open "(": its function's name (None for grouping parentheses), the commas so far,
    # where its current argument starts, and whether an earlier argument was written
    stack: list[tuple[str | None, int, int]] = []
    braces = 0
    for m in _TOKENS.finditer(text):
        first = m.group(0)[0]
        if m.group(1) is not None:
            stack.append((_PREFIX.sub("", m.group(1)).upper(), 0, m.end()))
        elif first == "(":
            stack.append((None, 0, m.end()))
        elif first == ")":
            if not stack:
                return None  # unbalanced: the engine's parser decides
            name, commas, start = stack.pop()
            if name is None or name not in known:
                continue
            count = commas + 1 if commas or text[start : m.start()].strip() else 0
            low, high = known[name]
            if not low <= count <= high:
                return _why(name, count, low, high)
        elif first == "{":
            braces += 1
        elif first == "}":
            braces = max(braces - 1, 0)
        elif first == "," and stack and not braces:
            name, commas, _ = stack[-1]
            stack[-1] = (name, commas + 1, m.end())
    return None


def _why(name: str, count: int, low: int, high: int) -> str:
    need = f"{low}" if low == high else f"at least {low}" if high == MANY else f"{low} to {high}"
    few = "few" if count < low else "many"
    return f"{name} called with {count} argument{'' if count == 1 else 's'}; Excel takes {need} (too {few})"


__all__ = ["MANY", "fault", "table"]
