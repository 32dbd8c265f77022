"""LINEST, LOGEST, TREND, GROWTH, SLOPE, INTERCEPT and FORECAST as Excel computes them.

Least squares ``y = m1·x1 + … + mk·xk + b`` (Microsoft, "LINEST function"): the coefficients are
returned right to left (mk … m1, b); with ``stats`` four more rows follow — standard errors,
r² and the standard error of y, the F statistic and the degrees of freedom, the regression and
residual sums of squares — and the cells of those rows beyond column 2 are #N/A. Since Excel
2003, LINEST removes an x column that is collinear with the columns before it (the constant
first, when there is one): its coefficient and standard error are 0 and the degrees of
freedom count only the columns kept ("LINEST function", Remarks). Without a constant the
sums of squares are uncentred. Where every x column is removed, Excel's cached values (pycel's
stats.xlsx) show r² 1, zero errors, df 0 and F #NUM!; that is reproduced as it is.

LOGEST and GROWTH fit ``ln y`` the same way and exponentiate (Microsoft, "Excel statistical
functions: LOGEST": "LOGEST is evaluated by calling the related function, LINEST" on the
logarithms; "LOGEST function": the curve ``y = b·m1^x1·…``, the array {mn,…,m1,b}): the first
row is ``exp`` of LINEST's coefficients of ``ln y`` (b is 1 when const is FALSE), the rows of
``stats`` are LINEST's of ``ln y`` as they are (in the logarithms); GROWTH is ``exp`` of TREND
of ``ln y``. A y that is 0 or negative has no logarithm: #NUM!.

Errors: y and x of different sizes #REF!; a value in them that is not a number #VALUE!, an
error value among them included (Excel's cached values in formulas' test book: LINEST, LOGEST
and TREND over ranges holding #N/A, #DIV/0!, #NAME?, #NULL!, #NUM! are #VALUE!, STATISTICAL!Z58:AF59,
AA113:AF113); SLOPE/INTERCEPT/FORECAST on ranges of different sizes #N/A and on x without
variance #DIV/0! (those ignore pairs with text, logical values or blanks, and pass an error on).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from addin.headless.numeric_text import number_argument
from addin.headless.values import ExcelError, logical

_NA = ExcelError("#N/A")
#: A column whose part not explained by the columns before it is below this share of its norm
#: is collinear (the constant column, a copy, a sum of others); values in the corpus are exact.
_COLLINEAR = 1e-10


def _grid(v: Any) -> list[list[Any]]:
    return v if isinstance(v, list) else [[v]]


def _numbers(v: Any) -> np.ndarray | ExcelError:
    """A range of numbers as a 2-D array; #VALUE! for anything else, an error value included
    (module docstring)."""
    rows = _grid(v)
    out = np.empty((len(rows), len(rows[0])))
    for i, row in enumerate(rows):
        for j, x in enumerate(row):
            if isinstance(x, ExcelError):
                return ExcelError("#VALUE!", f"LINEST, LOGEST, TREND and GROWTH need numbers; the range holds {x.code}")
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                return ExcelError("#VALUE!", "LINEST and TREND need numbers in every cell of known_y's and known_x's")
            out[i, j] = x
    return out


class _Fit:
    """One least-squares fit: y (n,), X (n, k), with or without a constant."""

    def __init__(self, y: np.ndarray, x: np.ndarray, const: bool) -> None:
        n, k = x.shape
        design = np.column_stack([np.ones(n), x]) if const else x
        kept: list[int] = []
        basis: list[np.ndarray] = []
        for j in range(design.shape[1]):
            col = design[:, j].astype(float)
            resid = col.copy()
            for q in basis:
                resid -= (q @ resid) * q
            norm = np.linalg.norm(col)
            if norm > 0 and np.linalg.norm(resid) > _COLLINEAR * norm:
                kept.append(j)
                basis.append(resid / np.linalg.norm(resid))
        self.n, self.k, self.const = n, k, const
        coef = np.zeros(design.shape[1])
        if kept:
            sol, *_ = np.linalg.lstsq(design[:, kept], y, rcond=None)
            coef[kept] = sol
        self.b = coef[0] if const else 0.0
        self.m = coef[1:] if const else coef
        self.kept = kept
        self.design = design
        self.y = y

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.m + self.b

    def table(self, stats: bool) -> list[list[Any]]:
        top: list[Any] = [*self.m[::-1].tolist(), self.b]
        if not stats:
            return [top]
        width = self.k + 1
        fitted = self.design @ np.concatenate([[self.b], self.m]) if self.const else self.design @ self.m
        resid = self.y - fitted
        centre = self.y.mean() if self.const else 0.0
        ss_resid = float(resid @ resid)
        ss_reg = float(((fitted - centre) ** 2).sum())
        kept_x = [j for j in self.kept if not (self.const and j == 0)]
        if not kept_x:  # every x column collinear: what Excel's cached values show
            ses = [0.0] * self.k + ([0.0] if self.const else [_NA])
            rows = [ses, [1.0, 0.0], [ExcelError("#NUM!"), 0.0], [ss_reg + ss_resid, 0.0]]
            return [top, *[r + [_NA] * (width - len(r)) for r in rows]]
        if ss_resid <= 1e-24 * max(ss_reg + ss_resid, 1e-300):
            ss_resid = 0.0  # an exact fit: rounding noise is not a residual
        df = self.n - len(self.kept)
        se_y = (ss_resid / df) ** 0.5 if df > 0 else ExcelError("#NUM!")
        r2 = ss_reg / (ss_reg + ss_resid) if ss_reg + ss_resid > 0 else ExcelError("#NUM!")
        f: Any = (ss_reg / len(kept_x)) / (ss_resid / df) if df > 0 and ss_resid > 0 else ExcelError("#NUM!")
        se = np.zeros(self.design.shape[1])
        if df > 0:
            sub = self.design[:, self.kept]
            cov = np.linalg.inv(sub.T @ sub) * (ss_resid / df)
            se[self.kept] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        se_b: Any = se[0] if self.const else _NA
        se_m = se[1:] if self.const else se
        rows = [[*se_m[::-1].tolist(), se_b], [r2, se_y], [f, float(df)], [ss_reg, ss_resid]]
        return [top, *[r + [_NA] * (width - len(r)) for r in rows]]


def _prepare(y_arg: Any, x_arg: Any) -> tuple[np.ndarray, np.ndarray, bool] | ExcelError:
    """(y, X with one column per variable, whether y was a row) or the error Excel gives: the
    sizes are checked (#REF!) before the values (#VALUE!)."""
    yg = _grid(y_arg)
    h, w = len(yg), len(yg[0])
    if h > 1 and w > 1:
        return ExcelError("#REF!", "known_y's must be one row or one column")
    as_row = h == 1 and w > 1
    n = h * w
    if x_arg is not None:
        xg = _grid(x_arg)
        if (len(xg[0]) if as_row else len(xg)) != n:
            return ExcelError("#REF!", "known_x's must have as many observations as known_y's")
    y = _numbers(y_arg)
    if isinstance(y, ExcelError):
        return y
    if x_arg is None:
        return y.ravel(), np.arange(1.0, n + 1.0)[:, None], as_row
    x = _numbers(x_arg)
    if isinstance(x, ExcelError):
        return x
    return y.ravel(), (x.T if as_row else x), as_row


def _as_value_error(flag: ExcelError, name: str) -> ExcelError:
    """const or stats given an error: #VALUE! (LINEST!Z58, LOGEST!Z59 with const #N/A cached as
    #VALUE!; TREND's and GROWTH's const by the same rule)."""
    if flag.code == "#VALUE!":
        return flag
    return ExcelError("#VALUE!", f"{name}: const and stats must be logical values, not {flag.code}")


def _logarithms(y: np.ndarray, name: str) -> np.ndarray | ExcelError:
    """``ln y`` for LOGEST and GROWTH; #NUM! where a y is 0 or negative."""
    if (y <= 0).any():
        return ExcelError("#NUM!", f"{name}: known_y's must all be positive (it fits ln y)")
    logs: np.ndarray = np.log(y)
    return logs


def _linest(args: list[Any], name: str = "LINEST") -> Any:
    if not 1 <= len(args) <= 4:
        return ExcelError("#VALUE!", f"{name} takes known_y's, [known_x's], [const], [stats]")
    prep = _prepare(args[0], args[1] if len(args) > 1 else None)
    if isinstance(prep, ExcelError):
        return prep
    const = logical(args[2], True) if len(args) > 2 else True
    stats = logical(args[3], False) if len(args) > 3 else False
    if isinstance(const, ExcelError):
        return _as_value_error(const, name)
    if isinstance(stats, ExcelError):
        return _as_value_error(stats, name)
    y, x, _ = prep
    if name == "LOGEST":
        logs = _logarithms(y, name)
        if isinstance(logs, ExcelError):
            return logs
        table = _Fit(logs, x, const).table(stats)
        table[0] = [float(np.exp(v)) for v in table[0]]
        return table
    return _Fit(y, x, const).table(stats)


def linest(calls: list[list[Any]]) -> list[Any]:
    """LINEST(known_y's, [known_x's], [const], [stats]) (Microsoft, "LINEST function")."""
    return [_linest(args) for args in calls]


def logest(calls: list[list[Any]]) -> list[Any]:
    """LOGEST(known_y's, [known_x's], [const], [stats]) (Microsoft, "LOGEST function"): LINEST
    of ``ln y``, its coefficients exponentiated (module docstring)."""
    return [_linest(args, "LOGEST") for args in calls]


def _trend(args: list[Any], name: str = "TREND") -> Any:
    if not 1 <= len(args) <= 4:
        return ExcelError("#VALUE!", f"{name} takes known_y's, [known_x's], [new_x's], [const]")
    prep = _prepare(args[0], args[1] if len(args) > 1 else None)
    if isinstance(prep, ExcelError):
        return prep
    const = logical(args[3], True) if len(args) > 3 else True
    if isinstance(const, ExcelError):
        return _as_value_error(const, name)
    y, x, as_row = prep
    if name == "GROWTH":
        logs = _logarithms(y, name)
        if isinstance(logs, ExcelError):
            return logs
        y = logs
    fit = _Fit(y, x, const)
    if len(args) < 3 or args[2] is None:
        out = fit.predict(x)
        return [out.tolist()] if as_row else [[v] for v in out]
    new = _numbers(args[2])
    if isinstance(new, ExcelError):
        return new
    k = x.shape[1]
    if k == 1:  # one variable: every new x is a point, the result has new_x's shape
        return (new * fit.m[0] + fit.b).tolist()
    pts = new.T if as_row else new
    if pts.shape[1] != k:
        return ExcelError("#REF!", "new_x's must have one value per known_x variable")
    out = fit.predict(pts)
    return [out.tolist()] if as_row else [[v] for v in out]


def trend(calls: list[list[Any]]) -> list[Any]:
    """TREND(known_y's, [known_x's], [new_x's], [const]) (Microsoft, "TREND function")."""
    return [_trend(args) for args in calls]


def growth(calls: list[list[Any]]) -> list[Any]:
    """GROWTH(known_y's, [known_x's], [new_x's], [const]) (Microsoft, "GROWTH function"): ``exp``
    of TREND of ``ln y`` (module docstring)."""
    out: list[Any] = []
    for args in calls:
        r = _trend(args, "GROWTH")
        out.append(r if isinstance(r, ExcelError) else np.exp(np.asarray(r, dtype=float)).tolist())
    return out


def _pairs(y_arg: Any, x_arg: Any) -> tuple[np.ndarray, np.ndarray] | ExcelError:
    ys = [v for row in _grid(y_arg) for v in row]
    xs = [v for row in _grid(x_arg) for v in row]
    if len(ys) != len(xs):
        return ExcelError("#N/A", "known_y's and known_x's have different numbers of cells")
    err = next((v for v in (*ys, *xs) if isinstance(v, ExcelError)), None)
    if err is not None:
        return err

    def num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    keep = [(float(a), float(b)) for a, b in zip(ys, xs, strict=True) if num(a) and num(b)]
    if not keep:
        return ExcelError("#DIV/0!")
    arr = np.array(keep)
    return arr[:, 0], arr[:, 1]


def _slope_intercept(y_arg: Any, x_arg: Any) -> tuple[float, float] | ExcelError:
    p = _pairs(y_arg, x_arg)
    if isinstance(p, ExcelError):
        return p
    y, x = p
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0:
        return ExcelError("#DIV/0!")
    m = float(dx @ (y - y.mean())) / sxx
    return m, float(y.mean() - m * x.mean())


def _line_part(part: int, name: str) -> Any:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            r = _slope_intercept(*args) if len(args) == 2 else ExcelError("#VALUE!", f"{name} takes known_y's, known_x's")
            out.append(r if isinstance(r, ExcelError) else r[part])
        return out

    evaluate.__doc__ = f"""{name}(known_y's, known_x's) (Microsoft, "{name} function")."""
    return evaluate


slope = _line_part(0, "SLOPE")
intercept = _line_part(1, "INTERCEPT")


def _moments(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float, int]:
    """(Σ dx·dy, Σ dx², Σ dy², n) about the means."""
    dx, dy = x - x.mean(), y - y.mean()
    return float(dx @ dy), float(dx @ dx), float(dy @ dy), len(x)


def _correl(sxy: float, sxx: float, syy: float, n: int) -> float | ExcelError:
    return ExcelError("#DIV/0!") if sxx == 0 or syy == 0 else sxy / float(np.sqrt(sxx * syy))


def _rsq(sxy: float, sxx: float, syy: float, n: int) -> float | ExcelError:
    r = _correl(sxy, sxx, syy, n)
    return r if isinstance(r, ExcelError) else r * r


def _steyx(sxy: float, sxx: float, syy: float, n: int) -> float | ExcelError:
    if n < 3 or sxx == 0:
        return ExcelError("#DIV/0!")
    return float(np.sqrt(max(syy - sxy * sxy / sxx, 0.0) / (n - 2)))


def _cov_p(sxy: float, sxx: float, syy: float, n: int) -> float | ExcelError:
    return sxy / n


def _cov_s(sxy: float, sxx: float, syy: float, n: int) -> float | ExcelError:
    return ExcelError("#DIV/0!") if n < 2 else sxy / (n - 1)


_PAIRWISE = {"PEARSON": _correl, "CORREL": _correl, "RSQ": _rsq, "STEYX": _steyx}
_PAIRWISE |= {"COVAR": _cov_p, "COVARIANCE.P": _cov_p, "COVARIANCE.S": _cov_s}


def pairwise(name: str) -> Any:
    """CORREL, PEARSON, RSQ, STEYX, COVAR, COVARIANCE.P and COVARIANCE.S of two arrays paired
    cell by cell in reading order, whatever their shapes (Microsoft, e.g. "PEARSON function":
    "If array1 and array2 are empty or have a different number of data points, PEARSON returns
    the #N/A error value"; "If an array or reference argument contains text, logical values, or
    empty cells, those values are ignored" — the pair is left out; Excel's cached
    ``RSQ(C90:D91,E88:E91)`` pairs a 2 × 2 range with a column of four). IronCalc 0.9.1 gives
    #VALUE! for ranges of different shapes and #N/A where a blank leaves the counts unequal.
    The formulas: CORREL = Σdxdy / √(Σdx²Σdy²) (#DIV/0! for a zero spread), RSQ its square,
    STEYX = √((Σdy² − (Σdxdy)²/Σdx²)/(n−2)), COVARIANCE.P Σdxdy/n, COVARIANCE.S Σdxdy/(n−1)."""
    f = _PAIRWISE[name]

    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            if len(args) != 2:
                out.append(ExcelError("#VALUE!", f"{name} takes two arrays"))
                continue
            p = _pairs(*args)
            out.append(p if isinstance(p, ExcelError) else f(*_moments(*p)))
        return out

    return evaluate


def _x_value(x: Any) -> float | ExcelError:
    """FORECAST's x as Excel reads one value (:func:`~addin.headless.numeric_text.number_argument`:
    Excel's cached ``FORECAST(J37,...)`` with J37 TRUE is the line at 1)."""
    return number_argument(x, "x")


def forecast(calls: list[list[Any]]) -> list[Any]:
    """FORECAST(x, known_y's, known_x's) and FORECAST.LINEAR (Microsoft, "FORECAST function"):
    ``a + b·x`` of the least-squares line; x is one value (:func:`_x_value`), and an array of x
    (an array formula, a constant) gives the line at each element (Excel's cached values:
    ``{=FORECAST(C37:Q37,{1,7,3,0},{7,2,9,4})}`` in formulas' test book)."""
    out: list[Any] = []
    for args in calls:
        if len(args) != 3:
            out.append(ExcelError("#VALUE!", "FORECAST takes x, known_y's, known_x's"))
            continue
        r = _slope_intercept(args[1], args[2])

        def at(x: Any, r: tuple[float, float] | ExcelError = r) -> Any:
            v = _x_value(x)
            if isinstance(v, ExcelError):
                return v
            return r if isinstance(r, ExcelError) else r[1] + r[0] * v

        if isinstance(args[0], list):
            out.append([[at(x) for x in (row if isinstance(row, list) else [row])] for row in args[0]])
        else:
            out.append(at(args[0]))
    return out


__all__ = ["forecast", "growth", "intercept", "linest", "logest", "pairwise", "slope", "trend"]
