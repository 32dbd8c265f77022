"""``clearquote bench``: time the pricing kernels beside named peers in the same run.

Peers: QuantLib's ``blackFormula`` in a Python loop and QuantLib's binomial engine (scalar C++
behind SWIG), and a plain numpy + ``scipy.special.ndtr`` one-shot Black-76 (no chunking).
Figures are medians of repeats, per option, on the same random inputs for every implementation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
from scipy.special import ndtr

from pricing.binomial import binomial_price
from pricing.black import black76_greeks, black76_price
from pricing.implied_vol import implied_vol


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _inputs(n: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    f = rng.uniform(20_000, 120_000, n)
    k = f * np.exp(rng.uniform(-0.5, 0.5, n))
    t = rng.uniform(1 / 365, 2.0, n)
    v = rng.uniform(0.2, 1.2, n)
    cp = np.where(k > f, 1.0, -1.0)
    return cp, f, k, t, v


def _numpy_baseline(cp: np.ndarray, f: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    sd = v * np.sqrt(t)
    d1 = np.log(f / k) / sd + 0.5 * sd
    return cp * (f * ndtr(cp * d1) - k * ndtr(cp * (d1 - sd)))


def _quantlib_black_loop(cp: np.ndarray, f: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray) -> list[float]:
    import QuantLib as ql

    call, put = ql.Option.Call, ql.Option.Put
    sd = v * np.sqrt(t)
    return [ql.blackFormula(call if c > 0 else put, ki, fi, si, 1.0) for c, fi, ki, si in zip(cp.tolist(), f.tolist(), k.tolist(), sd.tolist())]


def _quantlib_american(n: int) -> float | None:
    """Seconds per option for QuantLib's CRR engine at 200 steps, or None without QuantLib."""
    try:
        import QuantLib as ql
    except ImportError:
        return None
    today = ql.Date(15, 6, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot = ql.SimpleQuote(100.0)
    vol = ql.SimpleQuote(0.5)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.05, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)),
    )
    engine = ql.BinomialVanillaEngine(process, "crr", 200)
    rng = np.random.default_rng(2)
    options = []
    for strike in rng.uniform(80, 120, n):
        opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Put, float(strike)), ql.AmericanExercise(today, today + 180))
        opt.setPricingEngine(engine)
        options.append(opt)
    start = time.perf_counter()
    for opt in options:
        opt.NPV()
    return (time.perf_counter() - start) / n


def run_bench(quick: bool = False, as_json: bool = False) -> dict[str, float | None]:
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    repeats = 3 if quick else 5
    rows: list[tuple[str, int, float, str]] = []
    results: dict[str, float | None] = {}
    for n in sizes:
        cp, f, k, t, v = _inputs(n)
        price = black76_price(cp, f, k, t, v)
        ours = _median_seconds(lambda: black76_price(cp, f, k, t, v), repeats) / n * 1e9
        base = _median_seconds(lambda: _numpy_baseline(cp, f, k, t, v), repeats) / n * 1e9
        greeks = _median_seconds(lambda: black76_greeks(cp, f, k, t, v), repeats) / n * 1e9
        iv = _median_seconds(lambda: implied_vol(price, cp, f, k, t), max(1, repeats - 2)) / n * 1e9
        rows += [
            ("black76 price (clearquote, chunked numpy)", n, ours, "ns"),
            ("black76 price (plain numpy + ndtr)", n, base, "ns"),
            ("black76 price + 7 greeks", n, greeks, "ns"),
            ("implied vol (1e-10)", n, iv, "ns"),
        ]
        results[f"black76_price_ns_{n}"] = ours
        results[f"black76_price_numpy_ns_{n}"] = base
        results[f"black76_greeks_ns_{n}"] = greeks
        results[f"implied_vol_ns_{n}"] = iv
    n_ql = 10_000
    cp, f, k, t, v = _inputs(n_ql)
    try:
        ql_ns = _median_seconds(lambda: _quantlib_black_loop(cp, f, k, t, v), repeats) / n_ql * 1e9
        rows.append(("black76 price (QuantLib blackFormula loop)", n_ql, ql_ns, "ns"))
    except ImportError:
        ql_ns = None
    results["black76_price_quantlib_ns"] = ql_ns
    n_am = 2_000 if quick else 10_000
    rng = np.random.default_rng(3)
    strikes = rng.uniform(80, 120, n_am)
    am = _median_seconds(lambda: binomial_price(-1, 100.0, strikes, 180 / 365, 0.5, 0.05, steps=200), max(1, repeats - 2)) / n_am * 1e6
    rows.append(("american CRR 200 steps (clearquote)", n_am, am, "us"))
    ql_am = _quantlib_american(200)
    if ql_am is not None:
        rows.append(("american CRR 200 steps (QuantLib engine)", 200, ql_am * 1e6, "us"))
    results["american_crr200_us"] = am
    results["american_crr200_quantlib_us"] = None if ql_am is None else ql_am * 1e6
    from addin.bench_margin import margin_bench

    margin_rows, margin_results = margin_bench(quick)
    rows += [(name, n, value, unit) for name, n, value, unit in margin_rows]
    results.update(margin_results)
    largest = sizes[-1]
    results["black76_price_ns"] = results[f"black76_price_ns_{largest}"]
    results["black76_price_numpy_ns"] = results[f"black76_price_numpy_ns_{largest}"]
    results["black76_greeks_ns"] = results[f"black76_greeks_ns_{largest}"]
    results["implied_vol_ns"] = results[f"implied_vol_ns_{largest}"]
    if as_json:
        print(json.dumps(results, indent=2))
        return results
    print(f"{'kernel':75s} {'size':>9s} {'figure':>12s}")
    for name, n, value, unit in rows:
        print(f"{name:75s} {n:9,d} {value:10.1f} {unit}")
    price_ns = results["black76_price_ns"]
    print("\nratios (peer / clearquote, same inputs, same run):")
    print(f"  plain numpy / clearquote price   {results['black76_price_numpy_ns'] / price_ns:6.2f}x")
    if ql_ns:
        print(f"  QuantLib loop / clearquote price {ql_ns / price_ns:6.1f}x")
    if ql_am is not None:
        print(f"  QuantLib tree / clearquote tree  {ql_am * 1e6 / am:6.2f}x")
    print(f"  naive numpy / clearquote marginal IM (10k) {results['marginal_im_10k_naive_ms'] / results['marginal_im_10k_ms']:6.2f}x time, "
          f"{results['marginal_im_10k_naive_peak_mb'] / max(results['marginal_im_10k_peak_mb'], 1e-9):6.1f}x peak memory")
    return results
