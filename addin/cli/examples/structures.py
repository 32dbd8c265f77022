"""The README's main job until the quote book exists: price the bundled BTC chain.

It fits the surface to the bundled Deribit snapshot, reports the fit error per expiry, the
variance-swap term structure against DVOL, and prices a small book of structures quoted by the
desk, with greeks, from the surface.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from addin.cli.output import records_text
from pricing.chain import load_bundled_chain
from pricing.daycount import days_to_years, option_time
from pricing.marketdata import load_dvol
from pricing.structures import butterfly, calendar_spread, risk_reversal, straddle, strangle, structure_value, vertical_spread
from pricing.surface import build_surface, fit_table
from pricing.varswap import chain_variance_strikes, constant_maturity_variance, vol_of_vol_from_dvol, vol_swap_strike


def run_demo(underlying: str = "BTC", as_of: str = "2025-12-31", model: str = "svi") -> str:
    chain = load_bundled_chain(underlying, as_of)
    surface = build_surface(chain, model=model)
    out = [
        f"clearquote demo: {underlying} Deribit chain {chain.as_of:%Y-%m-%d %H:%M} UTC, {len(chain)} options, spot {chain.spot:,.2f}"
    ]
    out.append(f"\n{model.upper()} fit per expiry (errors in vol points on the fitted quotes):")
    out.append(records_text(fit_table(surface), decimals=4))
    cal = surface.calendar_violations()
    out.append("calendar check on total variance: " + ("no violation" if not cal else f"violations {cal}"))

    strikes = chain_variance_strikes(chain)
    var30 = constant_maturity_variance(strikes)
    dvol = load_dvol(underlying)
    try:
        dvol_close = f"{100 * dvol.value_on(as_of):.2f}"
    except ValueError:
        dvol_close = "n/a (after the bundled DVOL history)"
    vov = vol_of_vol_from_dvol(dvol.values)
    vol_swap, method = vol_swap_strike(var30, float(days_to_years(30)), vov)
    out.append(
        f"\n30-day variance-swap vol {100 * np.sqrt(var30):.2f} (DVOL close that day: {dvol_close}); "
        f"30-day vol-swap strike {100 * vol_swap:.2f} ({method}, vol-of-vol {100 * vov:.0f}% from DVOL)"
    )

    now = chain.as_of
    exp = [e.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC) for e in surface.expiries]
    near, far = exp[min(3, len(exp) - 1)], exp[min(6, len(exp) - 1)]
    fwd = float(surface.forward(np.array([option_time(now, near)]))[0])
    # Strike grid in the underlying's own units (BTC: 1,000; ETH: 100), so the structures are
    # listed-like strikes around the forward for any underlying.
    unit = 10.0 ** (np.floor(np.log10(fwd)) - 1)
    atm = round(fwd / unit) * unit
    wide, narrow = 10 * unit, 5 * unit
    book = [
        vertical_spread(underlying, near, atm, atm + wide, 1, qty=10),
        vertical_spread(underlying, near, atm - wide, atm, -1, qty=10),
        straddle(underlying, near, atm, qty=5),
        strangle(underlying, near, atm - wide, atm + wide, qty=5),
        butterfly(underlying, near, atm - narrow, atm, atm + narrow, qty=10),
        risk_reversal(underlying, near, atm - wide, atm + wide, qty=10),
        calendar_spread(underlying, near, far, atm, qty=5),
    ]
    rows = []
    for s in book:
        g = structure_value(s, surface, now, settle="inverse")
        rows.append(
            {
                "structure": s.name,
                "legs": " / ".join(f"{leg.quantity:+g} {leg.contract.name}" for leg in s.legs),
                "price_coin": float(g.price),
                "price_usd": float(g.price) * fwd,
                "delta_coin": float(g.delta),
                "vega_usd_1pt": float(g.vega) * fwd / 100,
            }
        )
    out.append(f"\nStructures priced from the surface (inverse, coin-settled; USD at the forward {fwd:,.0f}):")
    out.append(records_text(rows, decimals=4))
    return "\n".join(out)
