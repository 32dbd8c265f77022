"""Option pricing functions: Black-76 (linear and inverse), greeks, implied vol, binomial trees."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pricing.binomial import binomial_price, binomial_reasons
from pricing.black import black76_greeks, black76_price, black76_reasons
from pricing.daycount import elapsed_option_times
from pricing.errors import PricingInputError, reason_texts
from pricing.implied_vol import implied_vol
from pricing.instruments import parse_instrument_name
from udfs.args import CP, RATE_UNIT, SETTLE, VOL_UNIT
from udfs.catalogue import excel_function
from udfs.excel import (
    Field,
    XlError,
    _CellProblem,
    broadcast,
    choices,
    dates,
    grid,
    is_error,
    numbers,
    output,
    scalar_choice,
    scalar_int,
    titled,
    to_serial,
)

PRICING = "clearquote pricing"
STYLE = {"american": "american", "european": "european"}
METHOD = {"crr": "crr", "lr": "lr"}
GREEK_HEADERS = ("delta", "gamma", "vega", "theta", "rho")


def _cp(value: Any) -> Field:
    return choices(value, "cp", CP)


def _market_fields(
    cp: Any, forward: Any, strike: Any, t_years: Any, vol: Any, rate: Any, forward_name: str = "forward"
) -> list[Field]:
    return [
        _cp(cp),
        numbers(forward, forward_name, lo=0, lo_open=True, unit="USD"),
        numbers(strike, "strike", lo=0, lo_open=True, unit="USD"),
        numbers(t_years, "t_years", lo=0, hi=100, unit="years, ACT/365"),
        numbers(vol, "vol", lo=0, hi=10, unit=VOL_UNIT),
        numbers(rate, "rate", default=0.0, lo=-1, hi=1, unit=RATE_UNIT),
    ]


def _filled(values: list[np.ndarray], errors: np.ndarray, fills: tuple[float, ...]) -> list[np.ndarray]:
    """Inputs as float arrays with failed cells set to harmless values (their result is discarded)."""
    ok = errors == None  # noqa: E711
    return [np.where(ok, v, f).astype(float) for v, f in zip(values, fills)]


NEUTRAL = (1.0, 100.0, 100.0, 1.0, 0.5, 0.0)


def _engine_reasons(errors: np.ndarray, codes: np.ndarray) -> np.ndarray:
    texts = np.array(reason_texts(codes), dtype=object).reshape(codes.shape)
    return np.where(errors == None, texts, None)  # noqa: E711


@excel_function(
    "BLACK",
    rows=("cp", "forward", "strike", "t_years", "vol", "rate"),
    category=PRICING,
    args={
        "cp": "C/call or P/put (a cell or a range)",
        "forward": "forward price F, USD per coin",
        "strike": "strike K, USD per coin",
        "t_years": "time to expiry, years ACT/365 (see CQ_OPTION_TIME)",
        "vol": "implied vol, decimal (0.55 = 55%)",
        "rate": "discount rate, decimal continuous (default 0)",
        "settle": "linear (USD premium, default) or inverse (coin premium, Deribit)",
    },
    returns="discounted Black-76 price per 1 coin of underlying: USD if linear, coin if inverse (= USD price / forward); same shape as the inputs",
    example='=CQ_BLACK("C", 60000, {55000;60000;65000}, 0.25, 0.55) -> 9098.4; 6561.9; 4620.8',
)
def black(cp: Any, forward: Any, strike: Any, t_years: Any, vol: Any, rate: Any = 0.0, settle: Any = "linear") -> list[list[Any]]:
    """Black-76 option price on a forward, linear (USD) or inverse (coin-settled, Deribit).

    Notes: c = e^{-rT} [F N(d1) - K N(d2)], d1,2 = (ln F/K ± σ²T/2) / σ√T (Black 1976; Hull,
    Options, Futures and Other Derivatives, 9th ed., eq. 18.9-18.10). T = 0 gives intrinsic value.
    """
    mode = scalar_choice(settle, "settle", SETTLE, default="linear")
    _, values, errors = broadcast(*_market_fields(cp, forward, strike, t_years, vol, rate))
    w, f, k, t, v, r = _filled(values, errors, NEUTRAL)
    price = black76_price(w, f, k, t, v, rate=r, settle=mode)
    return output(price, errors, _engine_reasons(errors, black76_reasons(w, f, k, t, v, rate=r)))


@excel_function(
    "BLACK_GREEKS",
    columns=5,
    rows=("cp", "forward", "strike", "t_years", "vol", "rate"),
    category=PRICING,
    args={
        "cp": "C/call or P/put",
        "forward": "forward price F, USD per coin",
        "strike": "strike K, USD per coin",
        "t_years": "time to expiry, years ACT/365",
        "vol": "implied vol, decimal",
        "rate": "discount rate, decimal (default 0)",
        "settle": "linear (default) or inverse; inverse greeks are of the coin price, delta premium-adjusted",
        "headers": "TRUE adds a header row (default FALSE)",
    },
    returns="one row per option (inputs read row by row): delta, gamma, vega (per 1.00 vol), theta (per year), rho (per 1.00 rate)",
    example='=CQ_BLACK_GREEKS("C", 60000, 65000, 0.25, 0.55) -> 0.43898, 2.3895e-5, 11828, -13011, -1155.2',
)
def black_greeks(
    cp: Any, forward: Any, strike: Any, t_years: Any, vol: Any, rate: Any = 0.0, settle: Any = "linear", headers: Any = False
) -> list[list[Any]]:
    """Black-76 greeks, one row per option.

    Notes: analytic derivatives of the Black-76 price (Hull, OFOD 9th ed., ch. 19); for inverse
    options the delta is premium-adjusted, dV/dF - V/F (the coin premium moves with F).
    """
    mode = scalar_choice(settle, "settle", SETTLE, default="linear")
    _, values, errors = broadcast(*_market_fields(cp, forward, strike, t_years, vol, rate), columns=len(GREEK_HEADERS))
    w, f, k, t, v, r = (a.ravel() for a in _filled(values, errors, NEUTRAL))
    g = black76_greeks(w, f, k, t, v, rate=r, settle=mode)
    table = np.column_stack([g.delta, g.gamma, g.vega, g.theta, g.rho])
    errs = np.repeat(errors.reshape(-1, 1), len(GREEK_HEADERS), axis=1)
    why = np.repeat(
        _engine_reasons(errors.reshape(-1, 1), black76_reasons(w, f, k, t, v, rate=r).reshape(-1, 1)), len(GREEK_HEADERS), axis=1
    )
    return titled(headers, GREEK_HEADERS, output(table, errs, why), default=False)


@excel_function(
    "IMPLIED_VOL",
    rows=("price", "cp", "forward", "strike", "t_years", "rate"),
    category=PRICING,
    args={
        "price": "option price: USD per coin if linear, coin per coin if inverse",
        "cp": "C/call or P/put",
        "forward": "forward price F, USD per coin",
        "strike": "strike K, USD per coin",
        "t_years": "time to expiry, years ACT/365 (> 0)",
        "rate": "discount rate, decimal (default 0)",
        "settle": "linear (default) or inverse",
    },
    returns="Black-76 implied vol, decimal; #NUM! with the reason (below intrinsic, above the maximum, ...) where none exists",
    example='=CQ_IMPLIED_VOL(0.077013, "C", 60000, 65000, 0.25, 0, "inverse") -> 0.55',
)
def implied_vol_(
    price: Any, cp: Any, forward: Any, strike: Any, t_years: Any, rate: Any = 0.0, settle: Any = "linear"
) -> list[list[Any]]:
    """Implied volatility from a Black-76 price (linear or inverse).

    Notes: Halley iterations on ln of the normalised out-of-the-money price, from a blended
    initial guess (Jäckel, "Let's be rational", 2015, for the normalisation); accuracy ~1e-12.
    """
    mode = scalar_choice(settle, "settle", SETTLE, default="linear")
    fields = [
        numbers(price, "price", lo=0, unit="same units as the settle"),
        *_market_fields(cp, forward, strike, t_years, 1.0, rate),
    ]
    del fields[5]  # vol is what is solved for
    _, values, errors = broadcast(*fields)
    p, w, f, k, t, r = _filled(values, errors, (0.1, 1.0, 100.0, 100.0, 1.0, 0.0))
    res = implied_vol(p, w, f, k, t, rate=r, settle=mode)
    return output(res.vol, errors, _engine_reasons(errors, res.reason))


def tree_work(steps: Any) -> int:
    """Cost units of one CQ_BINOMIAL option before any work: its tree's steps^2 / 2 nodes at
    about a tenth of a cell each (numpy across options), read from the raw ``steps`` cell (the
    default 200 when it is not a usable number; the function itself refuses bad values)."""
    n = steps[0][0] if isinstance(steps, list) and steps and isinstance(steps[0], list) and steps[0] else steps
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n):
        n = 200
    n = min(max(int(n), 1), 5000)
    return max(1, n * n // 20)


@excel_function(
    "BINOMIAL",
    work=lambda *args: tree_work(args[7] if len(args) > 7 else None),
    rows=("cp", "spot", "strike", "t_years", "vol", "rate", "carry"),
    category=PRICING,
    args={
        "cp": "C/call or P/put",
        "spot": "spot price S, USD per coin",
        "strike": "strike K, USD",
        "t_years": "time to expiry, years ACT/365",
        "vol": "vol, decimal",
        "rate": "risk-free rate r, decimal continuous",
        "carry": "cost of carry b, decimal (default = rate; 0 prices options on futures)",
        "steps": "tree steps, 1..5000 (default 200)",
        "style": "american (default) or european",
        "method": "crr (Cox-Ross-Rubinstein, default) or lr (Leisen-Reimer, odd steps)",
    },
    returns="option price, USD per coin, same shape as the inputs",
    example='=CQ_BINOMIAL("P", 50, 50, 5/12, 0.4, 0.1, , 5) -> 4.4885 (Hull, OFOD 9th ed., Ex. 21.1: 4.49)',
)
def binomial(
    cp: Any,
    spot: Any,
    strike: Any,
    t_years: Any,
    vol: Any,
    rate: Any,
    carry: Any = None,
    steps: Any = 200,
    style: Any = "american",
    method: Any = "crr",
) -> list[list[Any]]:
    """Binomial-tree price of American or European options (CRR or Leisen-Reimer).

    Notes: Cox, Ross and Rubinstein (1979); Leisen and Reimer (1996); Hull, OFOD 9th ed., ch. 21.
    Vectorised across options; the loop is over time steps.
    """
    n = scalar_int(steps, "steps", default=200, lo=1, hi=5000)
    kind = scalar_choice(style, "style", STYLE, default="american")
    tree = scalar_choice(method, "method", METHOD, default="crr")
    fields = _market_fields(cp, spot, strike, t_years, vol, rate, forward_name="spot")
    fields[5] = numbers(rate, "rate", lo=-1, hi=1, unit=RATE_UNIT)
    fields.append(numbers(carry, "carry", default=np.nan, lo=-1, hi=1, unit=RATE_UNIT))
    _, values, errors = broadcast(*fields)
    w, s, k, t, v, r, b = _filled(values, errors, (*NEUTRAL, 0.0))
    b = np.where(np.isnan(b), r, b)
    price = binomial_price(w, s, k, t, v, r, carry=b, steps=n, style=kind, method=tree)
    codes = binomial_reasons(w, s, k, t, v, r, carry=b, steps=n, method=tree)
    return output(price, errors, _engine_reasons(errors, codes))


@excel_function(
    "OPTION_TIME",
    rows=("as_of", "expiry"),
    category=PRICING,
    args={
        "as_of": "valuation time: an Excel date/time (UTC) or ISO text",
        "expiry": "expiry: an Excel date (a whole date means 08:00 UTC, Deribit's expiry time) or date/time",
    },
    returns="years to expiry, ACT/365 on calendar time (crypto trades 24/7); negative if expired",
    example="=CQ_OPTION_TIME(DATE(2026,8,21)+8/24, DATE(2026,10,30)) -> 0.19178 (70 days)",
)
def option_time_(as_of: Any, expiry: Any) -> list[list[Any]]:
    """Time to expiry in years, ACT/365 calendar time, from timezone-aware UTC instants."""
    _, (now, exp), errors = broadcast(dates(as_of, "as_of"), dates(expiry, "expiry", default_hour=8))
    years = np.full(now.shape, np.nan)
    ok = errors == None  # noqa: E711 - element-wise on an object array
    years[ok] = elapsed_option_times(now[ok], exp[ok])  # option_time, each distinct date once
    return output(years, errors)


@excel_function(
    "INSTRUMENT",
    columns=5,
    rows=("name",),
    category=PRICING,
    args={
        "name": "Deribit instrument names (BTC-30OCT26-82000-C, BTC-25DEC26, BTC-PERPETUAL), a cell or a column",
        "headers": "TRUE adds a header row (default FALSE)",
    },
    returns="one row per name: underlying, kind (option/future/perpetual), expiry (Excel date serial, 08:00 UTC; blank for a perpetual), strike, cp (C/P)",
    example='=CQ_INSTRUMENT("BTC-30OCT26-82000-C") -> BTC, option, 46325.333, 82000, C',
)
def instrument(name: Any, headers: Any = False) -> list[list[Any]]:
    """Split Deribit instrument names into their terms (one row per name)."""
    cells = [c for row in grid(name) for c in row]
    rows: list[list[Any]] = []
    # A column repeats its names: each distinct cell is parsed once (keyed by type, value and a
    # float's sign, since 0.0 == -0.0 but their texts differ).
    seen: dict[tuple[type, Any, float], list[Any]] = {}
    for cell in cells:
        plain = isinstance(cell, (str, float, int, type(None))) and not isinstance(cell, XlError)
        key = (type(cell), cell, math.copysign(1.0, cell) if isinstance(cell, float) else 1.0) if plain else None
        if key is not None and key in seen:
            rows.append(list(seen[key]))
            continue
        rows.append(_instrument_row(cell))
        if key is not None:
            seen[key] = rows[-1]
    return titled(headers, ("underlying", "kind", "expiry", "strike", "cp"), rows, default=False)


def _instrument_row(cell: Any) -> list[Any]:
    """underlying, kind, expiry serial, strike, cp of one name (or five errors saying why)."""
    try:
        if is_error(cell):
            raise _CellProblem(f"the input cell is {cell}")
        c = parse_instrument_name(str(cell) if cell is not None else "")
    except (PricingInputError, _CellProblem) as exc:
        return [XlError("#VALUE!", f"name: {exc}")] * 5
    strike = getattr(c, "strike", None)
    kind = "option" if strike is not None else ("perpetual" if c.expiry is None else "future")
    return [
        c.underlying,
        kind,
        "" if c.expiry is None else to_serial(c.expiry),
        "" if strike is None else strike,
        "" if strike is None else ("C" if c.cp > 0 else "P"),
    ]
