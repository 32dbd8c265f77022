"""T.TEST and TTEST as Excel computes them (IronCalc 0.9.1: "not implemented").

Microsoft, "T.TEST function": ``T.TEST(array1, array2, tails, type)`` "Returns the probability
associated with a Student's t-Test"; tails 1 (one-tailed) or 2; type 1 paired, 2 two-sample
equal variance (homoscedastic), 3 two-sample unequal variance (heteroscedastic); "If array1
and array2 have a different number of data points, and type = 1 (paired), T.TEST returns the
#N/A error value"; "The tails and type arguments are truncated to integers"; "If tails or type
is nonnumeric, T.TEST returns the #VALUE! error value"; "If tails is any value other than 1 or
2, T.TEST returns the #NUM! error value"; TTEST is the same function (Microsoft, "TTEST
function", kept for compatibility).

The statistic (the textbook Student and Welch tests, e.g. NIST/SEMATECH e-Handbook of
Statistical Methods, 1.3.5.3 "Two-Sample t-Test for Equal Means"):

* paired: the differences d of the pairs, t = mean(d) / (s_d / sqrt(n)), n − 1 degrees of freedom;
* equal variance: t = (x̄₁ − x̄₂) / (s_p · sqrt(1/n₁ + 1/n₂)), s_p² the pooled variance,
  n₁ + n₂ − 2 degrees of freedom;
* unequal variance (Welch): t = (x̄₁ − x̄₂) / sqrt(s₁²/n₁ + s₂²/n₂), the Welch–Satterthwaite
  degrees of freedom (not rounded);

and the result is P(T > |t|) for one tail, twice that for two (Student's t distribution,
``scipy.stats.t.sf``). As the corpus book's cached values show (formulas' ``test.xlsx``, sheet
"STATISTICAL", R107:AW112): only numbers count (text, logicals and blanks in the arrays are
left out, a paired test leaving out the pair), the first error is the result (for a paired
test the first of each pair in turn, else array1's before array2's), and too few numbers (a
sample of fewer than 2, or no spread at all) is #DIV/0!. Over arrays of tails or types (in an
array formula) the function is lifted element by element; the two data arrays are not lifted.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats

from addin.headless.host import elementwise
from addin.headless.numeric_text import whole_argument
from addin.headless.values import ExcelError

_DIV0 = "#DIV/0!"


def _cells(value: Any) -> list[Any]:
    """An array argument's values in row-major order (a single value: itself)."""
    if isinstance(value, list):
        return [v for row in value for v in (row if isinstance(row, list) else [row])]
    return [value]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _whole(value: Any) -> int | ExcelError:
    """tails or type: truncated; a logical or text that is not a number is #VALUE!."""
    return whole_argument(value, logicals=False, name="T.TEST")


def p_value(x: list[float], y: list[float], tails: int, kind: int) -> float | ExcelError:
    """The probability of Student's (kind 1, 2) or Welch's (kind 3) t-test (module docstring)."""
    if kind == 1:
        d = [a - b for a, b in zip(x, y, strict=True)]
        n = len(d)
        if n < 2:
            return ExcelError(_DIV0, "T.TEST: fewer than 2 pairs of numbers")
        mean = math.fsum(d) / n
        var = math.fsum((v - mean) ** 2 for v in d) / (n - 1)
        if var == 0:
            return ExcelError(_DIV0, "T.TEST: the differences do not vary")
        t, df = mean / math.sqrt(var / n), float(n - 1)
    else:
        n1, n2 = len(x), len(y)
        if n1 < 2 or n2 < 2:
            return ExcelError(_DIV0, "T.TEST: fewer than 2 numbers in an array")
        m1, m2 = math.fsum(x) / n1, math.fsum(y) / n2
        v1 = math.fsum((v - m1) ** 2 for v in x) / (n1 - 1)
        v2 = math.fsum((v - m2) ** 2 for v in y) / (n2 - 1)
        if kind == 2:
            pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
            se2, df = pooled * (1 / n1 + 1 / n2), float(n1 + n2 - 2)
        else:
            se2 = v1 / n1 + v2 / n2
            df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1)) if se2 > 0 else 0.0
        if se2 == 0:
            return ExcelError(_DIV0, "T.TEST: the samples do not vary")
        t = (m1 - m2) / math.sqrt(se2)
    return float(stats.t.sf(abs(t), df)) * tails


def _samples(a: Any, b: Any, paired: bool) -> tuple[list[float], list[float]] | ExcelError:
    xs, ys = _cells(a), _cells(b)
    if paired:
        if len(xs) != len(ys):
            return ExcelError("#N/A", "T.TEST: a paired test needs arrays of one size")
        for u, v in zip(xs, ys, strict=True):
            for w in (u, v):
                if isinstance(w, ExcelError):
                    return w
        kept = [(float(u), float(v)) for u, v in zip(xs, ys, strict=True) if _is_number(u) and _is_number(v)]
        return [u for u, _ in kept], [v for _, v in kept]
    for w in xs + ys:
        if isinstance(w, ExcelError):
            return w
    return [float(u) for u in xs if _is_number(u)], [float(v) for v in ys if _is_number(v)]


def _one(a: Any, b: Any, args: list[Any]) -> Any:
    tails, kind = _whole(args[0]), _whole(args[1])
    for w in (tails, kind):
        if isinstance(w, ExcelError):
            return w
    if tails not in (1, 2):
        return ExcelError("#NUM!", f"T.TEST: tails is 1 or 2, not {tails}")
    if kind not in (1, 2, 3):
        return ExcelError("#NUM!", f"T.TEST: type is 1, 2 or 3, not {kind}")
    got = _samples(a, b, kind == 1)
    if isinstance(got, ExcelError):
        return got
    return p_value(got[0], got[1], int(tails), int(kind))


def t_test(calls: list[list[Any]]) -> list[Any]:
    """T.TEST(array1, array2, tails, type) of every call, lifted over tails and type."""
    out: list[Any] = []
    for args in calls:
        if len(args) != 4:
            out.append(ExcelError("#VALUE!", "T.TEST takes array1, array2, tails, type"))
            continue
        a, b = args[0], args[1]
        out.extend(elementwise(lambda rest, a=a, b=b: _one(a, b, rest))([[args[2], args[3]]]))
    return out
