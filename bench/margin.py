"""Margin benchmark: portfolio IM and 10,000-candidate marginal IM beside a naive numpy peer.

Inputs (same for every implementation): the bundled Deribit BTC chain of 2026-08-21 with its
SVI surface, 1,000 random positions on its listed options (more than 3 days to expiry), and
the 1,824 two-day historical scenarios ending on 2026-08-21. The naive peer builds the whole
(candidates x scenarios) P&L matrix at once with plain numpy Black-76 and takes
``np.quantile``; the engine reprices candidates in blocks and uses ``np.partition``.
Peak memory is measured with ``tracemalloc`` (numpy reports its buffers to it).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from scipy.special import ndtr

from pricing.chain import load_bundled_chain
from pricing.daycount import DAYS_PER_YEAR
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import margin, marginal_im
from pricing.margin.var import model_from_scenarios
from pricing.market import Market
from pricing.portfolio import Portfolio, from_contracts
from pricing.positions import expand, position_state
from pricing.scenarios import ScenarioParams, ScenarioSet, historical_scenarios


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def _peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def _setup(n_positions: int, n_candidates: int) -> tuple[Market, Portfolio, Portfolio, ScenarioSet]:
    chain = load_bundled_chain("BTC", "2026-08-21")
    market = Market.from_chains([chain])
    live = [c for c in chain.contracts() if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    rng = np.random.default_rng(11)
    sizes = rng.choice([-1.0, 1.0], n_positions) * np.round(rng.uniform(0.1, 20.0, n_positions), 1)
    book = from_contracts([live[i] for i in rng.integers(0, len(live), n_positions)], sizes)
    cands = from_contracts(
        [live[i] for i in rng.integers(0, len(live), n_candidates)], np.round(rng.uniform(1, 25, n_candidates))
    )
    scenarios = historical_scenarios(["BTC"], ScenarioParams())
    return market, book, cands, scenarios


def naive_marginal_var(
    book: Portfolio, cands: Portfolio, market: Market, scen: ScenarioSet, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """The peer: one (C x S) matrix, plain numpy Black-76, np.quantile. Returns (ΔVaR buy, ΔVaR sell)."""
    surf = market.surface("BTC")

    def pnl_matrix(p: Portfolio) -> np.ndarray:
        st = position_state(p, market)
        r = expand(scen.returns, scen.underlyings, p)
        t1 = np.maximum(st.t_years - scen.horizon_days / DAYS_PER_YEAR, 1e-9)[:, None]
        f1 = surf.forward(t1) * np.exp(r)
        k = p.strike[:, None]
        vol = np.sqrt(surf.total_variance(np.log(k / f1), np.broadcast_to(t1, f1.shape)) / t1) * np.exp(
            expand(scen.vol_changes, scen.underlyings, p)
        )
        sd = vol * np.sqrt(t1)
        d1 = np.log(f1 / k) / sd + 0.5 * sd
        w = p.cp[:, None]
        price = w * (f1 * ndtr(w * d1) - k * ndtr(w * (d1 - sd)))
        base = st.value_usd / p.units
        usd = np.where(
            p.inverse[:, None],
            price / f1 * st.spot[:, None] * np.exp(r) - (base / st.forward * st.spot)[:, None],
            price - base[:, None],
        )
        return p.units[:, None] * usd

    base = pnl_matrix(book).sum(axis=0)
    cand = pnl_matrix(cands)
    var0 = np.quantile(-base, alpha)
    buy = np.quantile(-(base + cand), alpha, axis=1) - var0
    sell = np.quantile(-(base - cand), alpha, axis=1) - var0
    return buy, sell


def margin_bench(quick: bool = False) -> dict[str, float]:
    """Portfolio IM and 10,000-candidate marginal IM on both kernel paths, and the naive peer.

    ``*_ns_per_revaluation`` divides the time by positions (or candidates) x scenarios: the
    cost of one revaluation as the caller sees it. The engine revalues each distinct instrument
    once (``*_instruments`` of them), so the kernel's own cost per revaluation is higher by
    positions / instruments.
    """
    from pricing import accel

    n_pos, n_cand = (1_000, 2_000) if quick else (1_000, 10_000)
    repeats = 3 if quick else 5
    market, book, cands, scen = _setup(n_pos, n_cand)
    model = model_from_scenarios(scen, 0.995)
    addons = AddOnParams()
    scale = 10_000 / n_cand
    out: dict[str, float] = {}
    paths = [("", "numba"), ("_numpy", "numpy")] if accel.numba_installed() else [("_numpy", "numpy")]
    for suffix, kind in paths:
        with accel.using(kind):
            margin(book, market, model, addons)  # warm caches (volume file, smiles, kernels)
            marginal_im(book, cands.select(np.arange(10)), market, model, addons)
            pf_s, _ = _timed(lambda: margin(book, market, model, addons), repeats + 2)
            mi_s, _ = _timed(lambda: marginal_im(book, cands, market, model, addons), repeats)
            peak = _peak_mb(lambda: marginal_im(book, cands, market, model, addons))
        out[f"portfolio_im{suffix}_ms"] = pf_s * 1e3
        out[f"marginal_im_10k{suffix}_ms"] = mi_s * 1e3 * scale
        out[f"marginal_im_10k{suffix}_peak_mb"] = peak
    if not accel.numba_installed():
        for key in ("portfolio_im_ms", "marginal_im_10k_ms", "marginal_im_10k_peak_mb"):
            out[key] = out[key.replace("_ms", "_numpy_ms").replace("_peak_mb", "_numpy_peak_mb")]
    # What the figures are per revaluation (one position or candidate in one scenario), and how
    # many distinct instruments the engine actually revalues (pricing.fused.revaluation_classes).
    n_scen = int(scen.returns.shape[1])
    out["portfolio_im_positions"] = float(n_pos)
    out["portfolio_im_instruments"] = float(len(set(book.names)))
    out["margin_scenarios"] = float(n_scen)
    out["marginal_im_candidates"] = float(n_cand)
    out["marginal_im_instruments"] = float(len(set(cands.names)))
    for suffix, _ in paths:
        out[f"portfolio_im{suffix}_ns_per_revaluation"] = out[f"portfolio_im{suffix}_ms"] * 1e6 / (n_pos * n_scen)
        out[f"marginal_im_10k{suffix}_ns_per_revaluation"] = out[f"marginal_im_10k{suffix}_ms"] * 1e6 / (10_000 * n_scen)
    naive_s, _ = _timed(lambda: naive_marginal_var(book, cands, market, scen, 0.995), 1)
    out["marginal_im_10k_naive_ms"] = naive_s * 1e3 * scale
    out["marginal_im_10k_naive_peak_mb"] = _peak_mb(lambda: naive_marginal_var(book, cands, market, scen, 0.995))
    return out
