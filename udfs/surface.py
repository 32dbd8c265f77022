"""Market objects and the volatility surface: CQ_MARKET, CQ_VOL, CQ_FORWARD, smile parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from pricing.daycount import elapsed_option_times
from pricing.sabr import hagan_lognormal_vol
from pricing.surface import fit_table
from pricing.svi import SviSmile
from udfs.catalogue import excel_function
from udfs.excel import Field, XlError, broadcast, dates, numbers, output, scalar, scalar_number, titled, to_serial
from udfs.market import make_market, market_arg
from udfs.store import STORE

MARKET = "clearquote market"
MARKET_DOC = (
    "a CQ_MARKET handle, the text bundled (or bundled:2025-12-31), a live market (deribit, deribit-test, "
    "deribit:ws://..., replay:FILE), or a chain range with a header row"
)


#: The columns of CQ_MARKET_INFO's fit table (the quote book's Market sheet lays its header out from it).
FIT_COLUMNS = (
    "underlying",
    "as_of",
    "spot",
    "expiry",
    "t_years",
    "forward",
    "quotes",
    "rmse_vol_pts",
    "max_vol_pts",
    "butterfly_free",
)


@excel_function(
    "MARKET",
    category=MARKET,
    args={
        "chain": "option chain range, Deribit layout with a header row (timestamp, instrument_name, mark_iv, mark_price, underlying_price, index_price [, bid_price, ask_price, open_interest]); or bundled / bundled:2025-12-31; or a live market: deribit, deribit-test, deribit:ws://HOST:PORT/PATH, replay:FILE (its current snapshot; recalculate for a newer one)",
        "history": "optional daily history range: date, one close column per underlying (BTC, ETH; USD), optional DVOL_BTC/DVOL_ETH (%); default: the bundled 5-year history",
        "smile": "smile model per expiry: svi (default) or sabr",
    },
    returns="a market handle text (CQ.MARKET#<id> <underlyings> <as-of> ...; a live market's names its snapshot and the marks' age) for the market argument of the other functions; the surface is fitted once per chain content",
    example='=CQ_MARKET(Chain!A1:I1200) or =CQ_MARKET("bundled") -> CQ.MARKET#... BTC,ETH 2026-08-21 08:00Z bundled svi',
    heavy=True,
)
def market(chain: Any, history: Any = None, smile: Any = "svi") -> list[list[Any]]:
    """Build a market (chains, fitted vol surfaces, optional history) and return its handle.

    Notes: per expiry, raw SVI (Gatheral 2004) with a butterfly penalty (Gatheral and
    Jacquier 2014) or SABR (Hagan et al. 2002); total variance linear in T at fixed
    log-moneyness between expiries.
    """
    bundle = make_market(chain, history, smile)
    return [[STORE.handle("MARKET", bundle.key)]]


@excel_function(
    "MARKET_INFO",
    category=MARKET,
    args={"market": MARKET_DOC, "headers": "TRUE (default) adds a header row"},
    returns="one row per underlying and expiry: underlying, as-of (Excel serial, UTC), spot, expiry (serial), t_years, forward, quotes fitted, RMSE (vol points), max error (vol points), butterfly-free",
    example='=CQ_MARKET_INFO("bundled")',
    heavy=True,
)
def market_info(market: Any, headers: Any = True) -> list[list[Any]]:
    """The market's contents and the quality of the surface fit per expiry."""
    b = market_arg(market)
    rows: list[list[Any]] = []
    for u, s in b.market.surfaces.items():
        for fit, expiry in zip(fit_table(s), s.expiries):
            stamp = expiry.astype("datetime64[s]").astype(object).replace(tzinfo=b.market.as_of.tzinfo)
            rows.append(
                [
                    u,
                    to_serial(b.market.as_of),
                    s.spot,
                    to_serial(stamp),
                    fit["t_years"],
                    fit["forward"],
                    fit["quotes"],
                    fit["rmse_vol_pts"],
                    fit["max_vol_pts"],
                    bool(fit["butterfly_free"]),
                ]
            )
    return titled(headers, FIT_COLUMNS, rows, default=True)


def _underlying_times(bundle: Any, underlying: Any, expiry: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The underlying's surface, option time to each expiry (NaN where the cell is an error),
    the per-cell errors (an expiry not after the market time is #NUM!) and the expiries."""
    surf = bundle.surface(scalar(underlying, "underlying"))
    f = dates(expiry, "expiry", default_hour=8)
    t = np.full(f.shape, np.nan)
    errs = f.errors.copy()
    ok = errs == None  # noqa: E711 - element-wise on an object array
    t[ok] = elapsed_option_times(bundle.market.as_of, f.values[ok])  # each distinct expiry once
    expired = ok & ~(t > 0)
    if expired.any():
        as_of = bundle.market.as_of
        late = f.values[expired].tolist()
        why = {
            e: XlError("#NUM!", f"expiry: {e:%Y-%m-%d %H:%M} is not after the market time {as_of:%Y-%m-%d %H:%M} UTC")
            for e in dict.fromkeys(late)
        }
        errs[expired] = np.fromiter(map(why.__getitem__, late), dtype=object, count=len(late))
    return surf, t, errs, f.values


@excel_function(
    "VOL",
    rows=("strike", "expiry"),
    category=MARKET,
    args={
        "market": MARKET_DOC,
        "underlying": "BTC or ETH",
        "strike": "strikes, USD (a cell, column or row)",
        "expiry": "expiries: Excel dates (a whole date = 08:00 UTC) or date/times",
    },
    returns="implied vol from the fitted surface, decimal; strikes x expiries broadcast like Excel arrays (a column of strikes and a row of expiries give a grid)",
    example='=CQ_VOL("bundled", "BTC", {90000;110000;130000}, DATE(2026,12,25)) -> 0.4280; 0.4576; 0.5049',
    heavy=True,
)
def vol(market: Any, underlying: Any, strike: Any, expiry: Any) -> list[list[Any]]:
    """Implied vol at strike/expiry from the market's fitted surface.

    Notes: between listed expiries total variance is interpolated linearly in T at fixed
    k = ln(K/F(T)); beyond them the documented extrapolation of pricing.surface applies.
    """
    b = market_arg(market)
    surf, t, terr, _ = _underlying_times(b, underlying, expiry)
    k = numbers(strike, "strike", lo=0, lo_open=True, unit="USD")
    _shape, (kk, tt), errors = broadcast(k, Field("expiry", t, terr))
    ok = errors == None  # noqa: E711
    return output(surf.vol(np.where(ok, kk, surf.spot), np.where(ok, tt, 0.25)), errors)


@excel_function(
    "FORWARD",
    rows=("expiry",),
    category=MARKET,
    args={"market": MARKET_DOC, "underlying": "BTC or ETH", "expiry": "expiries: Excel dates (08:00 UTC) or date/times"},
    returns="forward price, USD per coin (log-linear between the listed expiries' forwards)",
    example='=CQ_FORWARD("bundled", "BTC", DATE(2026,12,25))',
    heavy=True,
)
def forward(market: Any, underlying: Any, expiry: Any) -> list[list[Any]]:
    """Forward price of the underlying at an expiry, from the chain's forwards."""
    b = market_arg(market)
    surf, t, errs, _ = _underlying_times(b, underlying, expiry)
    ok = errs == None  # noqa: E711
    return output(surf.forward(np.where(ok, t, 0.25)), errs)


@excel_function(
    "SMILE_PARAMS",
    category=MARKET,
    args={"market": MARKET_DOC, "underlying": "BTC or ETH", "headers": "TRUE (default) adds a header row"},
    returns="one row per fitted expiry: expiry (Excel serial), t_years, forward, then the smile's parameters (SVI: a, b, rho, m, sigma; SABR: alpha, beta, rho, nu)",
    example='=CQ_SMILE_PARAMS(CQ_MARKET("bundled"), "ETH")',
    heavy=True,
)
def smile_params(market: Any, underlying: Any, headers: Any = True) -> list[list[Any]]:
    """Fitted smile parameters per expiry (SVI raw or SABR, as the market was built)."""
    b = market_arg(market)
    surf = b.surface(scalar(underlying, "underlying"))
    params = [s.params() for s in surf.smiles]
    names = [k for k in params[0] if k != "t_years"] if params else []
    rows: list[list[Any]] = []
    for e, t, f, p in zip(surf.expiries, surf.t_years, surf.forwards, params):
        stamp = e.astype("datetime64[s]").astype(object).replace(tzinfo=b.market.as_of.tzinfo)
        rows.append([to_serial(stamp), float(t), float(f), *(float(p[n]) for n in names)])
    return titled(headers, ("expiry", "t_years", "forward", *names), rows, default=True)


@excel_function(
    "SVI_VOL",
    rows=("forward", "strike", "t_years"),
    category=MARKET,
    args={
        "forward": "forward F, USD",
        "strike": "strikes K, USD",
        "t_years": "time to expiry, years ACT/365 (> 0)",
        "a": "SVI a (total variance level)",
        "b": "SVI b >= 0 (wing slope)",
        "rho": "SVI rho in (-1, 1) (skew)",
        "m": "SVI m (shift in log-moneyness)",
        "sigma": "SVI sigma > 0 (ATM curvature)",
    },
    returns="implied vol, decimal, from raw SVI total variance w(k) = a + b(rho(k-m) + sqrt((k-m)^2 + sigma^2)), k = ln(K/F)",
    example="=CQ_SVI_VOL(100, {80;100;120}, 0.5, 0.02, 0.1, -0.3, 0, 0.2) -> 0.3366; 0.2828; 0.2884",
)
def svi_vol(forward: Any, strike: Any, t_years: Any, a: Any, b: Any, rho: Any, m: Any, sigma: Any) -> list[list[Any]]:
    """Raw SVI implied vol (Gatheral 2004) at the given strikes."""
    smile = SviSmile(
        scalar_number(a, "a"),
        scalar_number(b, "b", lo=0),
        scalar_number(rho, "rho", lo=-1, lo_open=True, hi=0.999999),
        scalar_number(m, "m"),
        scalar_number(sigma, "sigma", lo=0, lo_open=True),
        1.0,
    )
    _, (f, k, t), errors = broadcast(
        numbers(forward, "forward", lo=0, lo_open=True),
        numbers(strike, "strike", lo=0, lo_open=True),
        numbers(t_years, "t_years", lo=0, lo_open=True, hi=100),
    )
    ok = errors == None  # noqa: E711
    w = smile.total_variance(np.log(np.where(ok, k, 1.0) / np.where(ok, f, 1.0)))
    t_ok = np.where(ok, t, 1.0)
    vol_ = np.where(w >= 0, np.sqrt(np.maximum(w, 0.0) / t_ok), np.nan)
    return output(vol_, errors, np.where(w < 0, "negative total variance: the SVI parameters are not admissible here", None))


@excel_function(
    "SABR_VOL",
    rows=("forward", "strike", "t_years"),
    category=MARKET,
    args={
        "forward": "forward F, USD",
        "strike": "strikes K, USD",
        "t_years": "time to expiry, years ACT/365",
        "alpha": "SABR alpha > 0",
        "beta": "SABR beta in [0, 1]",
        "rho": "SABR rho in (-1, 1)",
        "nu": "SABR vol of vol >= 0",
    },
    returns="Black implied vol, decimal (Hagan et al. 2002 lognormal expansion)",
    example="=CQ_SABR_VOL(100, {80;100;120}, 1, 0.5, 1, -0.3, 0.8) -> 0.5432; 0.5081; 0.4927",
)
def sabr_vol(forward: Any, strike: Any, t_years: Any, alpha: Any, beta: Any, rho: Any, nu: Any) -> list[list[Any]]:
    """SABR implied vol by Hagan's formula (Hagan, Kumar, Lesniewski, Woodward 2002, eq. 2.17a)."""
    al = scalar_number(alpha, "alpha", lo=0, lo_open=True)
    be = scalar_number(beta, "beta", lo=0, hi=1)
    rh = scalar_number(rho, "rho", lo=-0.999999, hi=0.999999)
    nv = scalar_number(nu, "nu", lo=0)
    _, (f, k, t), errors = broadcast(
        numbers(forward, "forward", lo=0, lo_open=True),
        numbers(strike, "strike", lo=0, lo_open=True),
        numbers(t_years, "t_years", lo=0, hi=100),
    )
    ok = errors == None  # noqa: E711
    vols = hagan_lognormal_vol(np.where(ok, f, 1.0), np.where(ok, k, 1.0), np.where(ok, t, 1.0), al, be, rh, nv)
    # Hagan's expansion is asymptotic in nu^2 T: far strikes and long tenors give vols <= 0.
    return output(
        vols, errors, positive="Hagan's SABR expansion gives a vol <= 0 here (outside its domain: long tenor or far strike)"
    )
