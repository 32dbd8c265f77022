"""``clearquote xva-example``: the article's $568,800 quote, then the same RFQ by the full models."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from pricing.chain import load_bundled_chain
from pricing.margin.var import hvar_model
from pricing.revaluation import Market
from pricing.xva.quote import QuoteParams, article_quote, quote_book


def full_model_rfq(notional_usd: float = 10_000_000.0, target_premium: float = 0.055) -> tuple[str, list[dict]]:
    """The $10M 3-month BTC call on the bundled 2026-08-21 Deribit market, quoted end to end.

    The listed expiry nearest 90 days is used and the strike whose model premium is nearest
    5.5% of notional (METHODOLOGY F1's premium sanity check); ΔIM from HS VaR against an
    empty book (the article's $25.2M book is not given).
    """
    chain = load_bundled_chain("BTC", "2026-08-21")
    market = Market.from_chains([chain])
    surface = market.surface("BTC")
    target = chain.as_of + timedelta(days=90)
    expiries = np.unique(chain.expiry)
    best = expiries[np.argmin(np.abs((expiries - np.datetime64(target.replace(tzinfo=None))).astype(np.int64)))]
    calls = (chain.expiry == best) & (chain.cp > 0)
    t = chain.t_years[calls][0]
    prem = surface.price(1, chain.strike[calls], t, settle="linear") / chain.spot
    pick = int(np.argmin(np.abs(prem - target_premium)))
    name = [n for n, keep in zip(chain.names, calls) if keep][pick]
    rows = quote_book(
        [{"instrument": name, "side": "buy", "notional_usd": notional_usd}], None, market, hvar_model(), QuoteParams(tick=1.0)
    )
    return name, rows


def run_xva_example() -> str:
    a = article_quote()
    lines = ["The source article's worked example (every line from its stated inputs):"]
    for key in (
        "base",
        "im_before",
        "im_after",
        "delta_im",
        "FVA",
        "KVA",
        "MVA",
        "CCVA",
        "total_adjustments",
        "profit_margin",
        "quote",
    ):
        lines.append(f"  {key:18s} {a[key]:16,.2f}")
    name, rows = full_model_rfq()
    r = rows[0]
    lines += ["", f"The same RFQ by the full models: client buys $10M notional of {name} (Deribit, 2026-08-21):"]
    for key in ("base", "delta_im_ask", "ask_FVA", "ask_MVA", "ask_KVA", "ask_CCVA", "ask_spread", "ask_price"):
        lines.append(f"  {key:18s} {r[key]:16,.2f}")
    lines.append(
        "  KVA: SA-CCR trade exposure to a QCCP at RW 2% is tens of dollars; the article's $3,200 needs a $20M exposure at"
    )
    lines.append("  tau = 1 (or a bilateral 100% RW): METHODOLOGY F1.")
    return "\n".join(lines)
