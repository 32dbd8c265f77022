"""The source article's second example under every margin model (``clearquote margin-example``).

Long 10 x BTC 50,000 calls, short 15 x BTC 55,000 calls, 30 days, spot 52,000, vol 65% (flat),
r = 0, 1 BTC per option, 99.5%, 2-day returns over 5 years of bundled history. The article
quotes a 99.5% VaR of $98,500 (docs/methodology.md §F2 explains why that figure implies ~5 BTC per option).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from pricing.daycount import utc
from pricing.instruments import OptionContract
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import MarginResult, margin
from pricing.margin.hybrid import HybridModel
from pricing.margin.span import SpanModel
from pricing.margin.var import fhs_model, hvar_model, mc_model
from pricing.market import Market
from pricing.portfolio import Portfolio, from_contracts
from pricing.revaluation import reprice
from pricing.surface import flat_surface

ARTICLE_VAR_USD = 98_500.0


def seed_example(contract_size: float = 1.0) -> tuple[Portfolio, Market]:
    now = utc(2026, 8, 21, 8)
    expiry = now + timedelta(days=30)
    market = Market(now, {"BTC": flat_surface("BTC", 52_000.0, 0.65)})
    legs = [OptionContract("BTC", expiry, 50_000.0, 1, "linear"), OptionContract("BTC", expiry, 55_000.0, 1, "linear")]
    return from_contracts(legs, [10, -15], contract_size), market


def run_margin_example() -> str:
    lines = ["The article's ratio call spread (+10 C50k, -15 C55k, 30d, S 52,000, vol 65%), 99.5%, 2-day horizon", ""]
    lines.append(
        f"{'model':10s} {'size':>5s} {'core':>12s} {'APC floor':>12s} {'add-ons':>10s} {'total IM':>12s}  article $98,500"
    )
    for size in (1.0, 5.0):
        book, market = seed_example(size)
        for model in (hvar_model(), fhs_model(), mc_model(), SpanModel(), DeribitModel(), HybridModel()):
            r: MarginResult = margin(book, market, model)
            addons = r.liquidity + r.concentration + r.model_risk
            lines.append(
                f"{r.model:10s} {size:5.0f} {r.core:12,.0f} {r.apc_floor:12,.0f} {addons:10,.0f} {r.total:12,.0f}  {r.core / ARTICLE_VAR_USD:5.2f}x"
            )
    book, market = seed_example(1.0)
    moves = np.array([0.124, 0.59])
    pnl = reprice(book, market, np.log1p(moves), horizon_days=2).usd.sum(axis=0)
    lines += ["", "Full-revaluation P&L of the 1-BTC spread over 2 days (vol flat):"]
    lines += [f"  spot {m:+.1%}: {v:12,.0f} USD" for m, v in zip(moves, pnl)]
    lines.append(
        "A $98,500 loss needs a +59% two-day BTC move with 1-BTC options; with 5-BTC (CME) contracts the VaR is of that order."
    )
    return "\n".join(lines)
