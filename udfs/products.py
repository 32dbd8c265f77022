"""Multi-leg structures and variance/volatility swaps priced off a market."""

from __future__ import annotations

from typing import Any

import numpy as np

from pricing import structures as st
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError
from pricing.marketdata import load_dvol
from pricing.varswap import chain_variance_strikes, constant_maturity_variance, vol_of_vol_from_dvol, vol_swap_strike
from udfs.args import CP, SETTLE
from udfs.catalogue import excel_function
from udfs.excel import (
    InputError,
    _CellProblem,
    grid,
    is_blank,
    numbers,
    scalar,
    scalar_choice,
    scalar_number,
    titled,
    to_datetime,
)
from udfs.market import market_arg
from udfs.surface import MARKET, MARKET_DOC

KINDS = {
    "call_spread": 2,
    "put_spread": 2,
    "straddle": 1,
    "strangle": 2,
    "butterfly": 3,
    "put_butterfly": 3,
    "risk_reversal": 2,
    "call_calendar": 1,
    "put_calendar": 1,
}


def _date(value: Any, name: str) -> Any:
    try:
        return to_datetime(scalar(value, name), name, default_hour=8)
    except _CellProblem as exc:
        raise InputError(f"{name}: {exc}") from None


def _structure(kind: str, underlying: str, expiry: Any, ks: list[float], qty: float, settle: str, far: Any) -> st.Structure:
    if kind in ("call_calendar", "put_calendar"):
        if far is None:
            raise InputError(f"far_expiry: a {kind} needs the far expiry")
        return st.calendar_spread(underlying, expiry, far, ks[0], CP["C" if kind == "call_calendar" else "P"], qty, settle)
    build = {
        "call_spread": lambda: st.vertical_spread(underlying, expiry, ks[0], ks[1], 1, qty, settle),
        "put_spread": lambda: st.vertical_spread(underlying, expiry, ks[0], ks[1], -1, qty, settle),
        "straddle": lambda: st.straddle(underlying, expiry, ks[0], qty, settle),
        "strangle": lambda: st.strangle(underlying, expiry, ks[0], ks[1], qty, settle),
        "butterfly": lambda: st.butterfly(underlying, expiry, ks[0], ks[1], ks[2], 1, qty, settle),
        "put_butterfly": lambda: st.butterfly(underlying, expiry, ks[0], ks[1], ks[2], -1, qty, settle),
        "risk_reversal": lambda: st.risk_reversal(underlying, expiry, ks[0], ks[1], qty, settle),
    }
    return build[kind]()


@excel_function(
    "STRUCTURE",
    category=MARKET,
    args={
        "market": MARKET_DOC,
        "kind": "call_spread, put_spread, straddle, strangle, butterfly, put_butterfly, risk_reversal, call_calendar, put_calendar",
        "underlying": "BTC or ETH",
        "expiry": "expiry (Excel date = 08:00 UTC); the near expiry of a calendar",
        "strikes": "the strikes, low to high, in one row or column: 1 (straddle, calendar), 2 (spreads, strangle, risk reversal: put then call) or 3 (butterfly)",
        "quantity": "structures, signed (+ long; default 1)",
        "settle": "inverse (coin, Deribit; default) or linear (USD)",
        "far_expiry": "far expiry of a calendar (long far, short near)",
        "headers": "TRUE adds a header row (default FALSE)",
    },
    returns="one row: price, delta, gamma, vega (per 1.00 vol), theta (per year) of the whole structure; coin units if inverse, USD if linear; legs valued on the market's surface",
    example='=CQ_STRUCTURE("bundled", "butterfly", "BTC", DATE(2026,12,25), {100000,110000,120000})',
    heavy=True,
)
def structure(
    market: Any,
    kind: Any,
    underlying: Any,
    expiry: Any,
    strikes: Any,
    quantity: Any = 1.0,
    settle: Any = "inverse",
    far_expiry: Any = None,
    headers: Any = False,
) -> list[list[Any]]:
    """Price and greeks of a listed multi-leg structure on the market's vol surface.

    Notes: quantity-weighted sums of Black-76 leg values at the surface vol of each leg
    (strike and expiry); a risk reversal is long the call and short the put.
    """
    b = market_arg(market)
    name = scalar_choice(kind, "kind", {k: k for k in KINDS}, default=None)
    und = scalar(underlying, "underlying")
    surf = b.surface(und)
    ks = [c for row in grid(strikes) for c in row if c is not None and c != ""]
    f = numbers([ks] if ks else None, "strikes", lo=0, lo_open=True, unit="USD")
    if len(ks) != KINDS[name] or (f.errors != None).any():  # noqa: E711
        bad = next((e.reason for e in f.errors.ravel() if e is not None), "")
        raise InputError(f"strikes: a {name} takes {KINDS[name]} strike(s), got {len(ks)}{'; ' + bad if bad else ''}")
    mode = scalar_choice(settle, "settle", SETTLE, default="inverse")
    qty = scalar_number(quantity, "quantity", default=1.0)
    far = None if is_blank(scalar(far_expiry, "far_expiry")) else _date(far_expiry, "far_expiry")
    s = _structure(name, str(und).strip().upper(), _date(expiry, "expiry"), [float(k) for k in f.values.ravel()], qty, mode, far)
    g = st.structure_value(s, surf, b.market.as_of, settle=mode)
    row = [float(g.price), float(g.delta), float(g.gamma), float(g.vega), float(g.theta)]
    return titled(headers, ("price", "delta", "gamma", "vega", "theta"), [row], default=False)


@excel_function(
    "VARSWAP_STRIKE",
    category=MARKET,
    args={"market": MARKET_DOC, "underlying": "BTC or ETH", "days": "tenor in calendar days (default 30, as DVOL)"},
    returns="fair variance-swap strike as a vol, decimal: sqrt of the replicated variance, interpolated to the tenor in total variance",
    example='=CQ_VARSWAP_STRIKE("bundled:2025-12-31", "BTC") -> 0.448 (DVOL that day: 43.0)',
    heavy=True,
)
def varswap_strike(market: Any, underlying: Any, days: Any = 30) -> list[list[Any]]:
    """Fair variance strike by static replication of the chain's OTM options (Cboe VIX method).

    Notes: K_var = (2/T) Σ ΔK/K² e^{rT} Q(K) - (1/T)(F/K0 - 1)² (Cboe VIX white paper;
    Demeterfi, Derman, Kamal, Zou 1999); linear in total variance between expiries.
    """
    b = market_arg(market)
    tenor = scalar_number(days, "days", default=30.0, lo=1, hi=3650, unit="calendar days")
    strikes = chain_variance_strikes(b.chain(underlying))
    if not strikes:
        raise InputError("market: no expiry of this chain can be replicated")
    return [[float(np.sqrt(constant_maturity_variance(strikes, tenor / DAYS_PER_YEAR)))]]


@excel_function(
    "VOLSWAP_STRIKE",
    category=MARKET,
    args={
        "market": MARKET_DOC,
        "underlying": "BTC or ETH",
        "days": "tenor in calendar days (default 30)",
        "vol_of_vol": "annualised vol of log implied vol, decimal; default: from the bundled DVOL history (last 365 days)",
    },
    returns="one row: vol-swap strike (decimal), variance-swap strike as a vol, convexity adjustment (vol points x 0.01), method",
    example='=CQ_VOLSWAP_STRIKE("bundled", "BTC", 30)',
    heavy=True,
)
def volswap_strike(market: Any, underlying: Any, days: Any = 30, vol_of_vol: Any = None) -> list[list[Any]]:
    """Fair volatility-swap strike: the variance strike less a convexity adjustment.

    Notes: E[σ] ≈ sqrt(K_var) (1 - Var/(8 K_var²)) (Brockhaus and Long 2000) with the
    variance of realised variance from a lognormal implied vol; see pricing.varswap.
    """
    b = market_arg(market)
    tenor = scalar_number(days, "days", default=30.0, lo=1, hi=3650) / DAYS_PER_YEAR
    code = str(scalar(underlying, "underlying")).strip().upper()
    strikes = chain_variance_strikes(b.chain(code))
    variance = constant_maturity_variance(strikes, tenor)
    if is_blank(scalar(vol_of_vol, "vol_of_vol")):
        try:
            vov = vol_of_vol_from_dvol(load_dvol(code).values)
        except Exception as exc:
            raise InputError(f"vol_of_vol: no bundled DVOL for {code} ({exc}); give vol_of_vol") from None
    else:
        vov = scalar_number(vol_of_vol, "vol_of_vol", lo=0, hi=20)
    try:
        strike, method = vol_swap_strike(variance, tenor, vov)
    except PricingInputError as exc:
        raise InputError(str(exc)) from None
    return [[strike, float(np.sqrt(variance)), float(np.sqrt(variance)) - strike, method]]
