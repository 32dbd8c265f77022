"""``python -m bench kernels``: time the pricing kernels beside named peers in the same run.

Peers: QuantLib's ``blackFormula`` in a Python loop and QuantLib's binomial engine (scalar C++
behind SWIG), and a plain numpy + ``scipy.special.ndtr`` one-shot Black-76 (no chunking).
Per unit (option, vol, American option), on the same random inputs for every implementation.

Each kernel's three paths (numba, numpy, the default ``auto``) are timed in rounds, one call of
each path per round in a rotating order, so a burst of load falls on all three alike; every path
gets a minimum and a median over the rounds. The headline figure of every key is the **minimum**
(timeit's argument: other processes only ever add time, so the least time is the best estimate
of what the code itself costs; the median says how much the machine added) and ``*_median_*``
keys carry the medians. The default path's figure stands next to the path it resolves to at that
size (``*_default_path*``), their ratio (``*_default_over_resolved*``) and the default over the
faster of numba and numpy (``*_default_over_best*``: the claim "the default is never the slower
path" as a number).

The kernels are timed twice: on a quiet machine, then with one CPU-bound process beside the
bench (started and stopped by the bench itself: a Python busy loop), the case where threaded
kernels used to wait for a busy core (issue 33). The header names the CPU, the SIMD level the
kernels compile for, and the path ``CLEARQUOTE_KERNELS=auto`` takes per kernel on this CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from scipy.special import ndtr

from pricing import accel
from pricing.binomial import binomial_price
from pricing.black import black76_greeks, black76_price
from pricing.daycount import DAYS_PER_YEAR
from pricing.implied_vol import implied_vol


def _min_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The least of ``repeats`` timed calls: the peers' figure, comparable with the kernels' minima."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _load_average() -> float | None:
    """The 1-minute load average (None where the OS has none, e.g. Windows)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _inputs(n: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    f = rng.uniform(20_000, 120_000, n)
    k = f * np.exp(rng.uniform(-0.5, 0.5, n))
    t = rng.uniform(1 / DAYS_PER_YEAR, 2.0, n)
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
    return [
        ql.blackFormula(call if c > 0 else put, ki, fi, si, 1.0)
        for c, fi, ki, si in zip(cp.tolist(), f.tolist(), k.tolist(), sd.tolist())
    ]


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


def _per_unit(fn: Callable[[], object], n: int, repeats: int, scale: float) -> float:
    fn()  # warm: compile or load the kernels
    return _min_seconds(fn, repeats) / n * scale


@contextmanager
def _busy_neighbour() -> Iterator[None]:
    """One CPU-bound process beside the bench for the duration of the block (then stopped)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it get scheduled and the free-core estimate see it
        yield
    finally:
        proc.kill()
        proc.wait()


ROUNDS = 9
"""Rounds per kernel (3 paths a round) in a full run; 5 with ``--quick``."""


def _rounds(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each path, ``rounds`` times, interleaved (the order rotates per round)."""
    names = list(calls)
    for name in names:  # warm: compile or load the kernels, fill caches
        with accel.using(name):
            calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            with accel.using(name):
                start = time.perf_counter()
                calls[name]()
                times[name].append(time.perf_counter() - start)
    return times


def _kernel_rows(n: int, rounds: int, suffix: str) -> dict[str, float | str | None]:
    """Price, greeks, implied vol and the American tree on the three paths; keys end in ``suffix``."""
    cp, f, k, t, v = _inputs(n)
    with accel.using("numpy"):
        price = black76_price(cp, f, k, t, v)
    n_am = 2_000 if n <= 100_000 else 10_000
    strikes = np.random.default_rng(3).uniform(80, 120, n_am)
    crr = lambda: binomial_price(-1, 100.0, strikes, 180 / DAYS_PER_YEAR, 0.5, 0.05, steps=200)  # noqa: E731
    rows = (
        ("black76_price", "_ns", lambda: black76_price(cp, f, k, t, v), n, rounds, 1e9),
        ("black76_greeks", "_ns", lambda: black76_greeks(cp, f, k, t, v), n, rounds, 1e9),
        ("implied_vol", "_ns", lambda: implied_vol(price, cp, f, k, t), n, max(3, rounds - 2), 1e9),
        ("american_crr200", "_us", crr, n_am, max(3, rounds - 4), 1e6),
    )
    res: dict[str, float | str | None] = {}
    for name, unit, fn, size, reps, scale in rows:
        paths = ("numba", "numpy", "auto") if accel.numba_installed() else ("numpy",)
        times = _rounds(dict.fromkeys(paths, fn), reps)
        fig = {p: (min(ts) / size * scale, float(np.median(ts)) / size * scale) for p, ts in times.items()}
        # Without numba the headline figure is the numpy path's (the path in use).
        head = fig.get("numba", fig["numpy"])
        res[f"{name}{suffix}{unit}"], res[f"{name}_median{suffix}{unit}"] = head
        res[f"{name}_numpy{suffix}{unit}"], res[f"{name}_numpy_median{suffix}{unit}"] = fig["numpy"]
        default = fig.get("auto", fig["numpy"])
        res[f"{name}_default{suffix}{unit}"], res[f"{name}_default_median{suffix}{unit}"] = default
        with accel.using("auto"):
            resolved = "numba" if accel.enabled(_GROUP_OF[name], size) else "numpy"
        res[f"{name}_default_path{suffix}"] = resolved
        res[f"{name}_default_over_resolved{suffix}"] = default[0] / fig.get(resolved, fig["numpy"])[0]
        # The claim "the default is never the slower path", as a number: above 1 by more than the
        # noise (the same path's min over max of its rounds) means the recorded choice is wrong here.
        res[f"{name}_default_over_best{suffix}"] = default[0] / min(fig[p][0] for p in fig if p != "auto")
        res[f"{name}_rounds{suffix}"] = float(reps)
    return res


def _quote_books(quick: bool, repeats: int) -> dict[str, float | None]:
    """Seconds to recalculate generated quote books end to end (read, evaluate, write), in this process."""
    import tempfile
    from pathlib import Path

    from bench.recalc import generate, time_recalc

    out: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sizes = ((1_000, "quote_book_1k_s"), (10_000, "quote_book_10k_s"))
        if not quick:
            sizes += ((100_000, "quote_book_100k_s"),)
        for rows, key in sizes:
            path = generate(Path(tmp) / f"book{rows}.xlsx", rows)
            time_recalc("clearquote", path)
            runs = 1 if (quick or rows >= 100_000) else repeats  # a 100k-row book takes about a minute a run
            out[key] = float(np.median([time_recalc("clearquote", path) for _ in range(runs)]))
        out["quote_book_1k_formulas_s"] = time_recalc("formulas", Path(tmp) / "book1000.xlsx")
    return out


def _profile() -> str:
    """``"avx2-emulated"`` when this process runs under :func:`pricing.accel.emulation.avx2_environment`, else ``"native"``."""
    from pricing.accel.emulation import avx2_environment

    emulated = all(os.environ.get(k) == v for k, v in avx2_environment({}).items())
    return "avx2-emulated" if emulated else "native"


def run_profile(profile: str, argv: list[str]) -> int:
    """Run ``python -m bench kernels ARGV`` in a child with AVX-512 switched off (``profile="avx2"``).

    The child's environment is :func:`pricing.accel.emulation.avx2_environment` (numpy's dispatch
    targets above AVX2 disabled, numba compiling for Haswell, OpenBLAS' Haswell kernels): the same
    emulation ``tests/workbook/test_cross_cpu.py`` checks is real.
    """
    from pricing.accel.emulation import avx2_environment

    if profile != "avx2":
        raise ValueError(f"--profile: {profile!r} is not one of native, avx2")
    return subprocess.call([sys.executable, "-m", "bench", "kernels", *argv], env=avx2_environment(os.environ))


def run_bench(quick: bool = False, as_json: bool = False, kernels_only: bool = False) -> dict[str, float | str | None]:
    """Time every kernel on its paths and beside the peers; print a table (or one JSON object)."""
    n = 100_000 if quick else 1_000_000
    repeats = 3 if quick else 7
    rounds = 5 if quick else ROUNDS
    from bench.rfq import rfq_bench
    from pricing.accel import dispatch

    facts = dispatch.cpu_facts()
    load_start = _load_average()
    res: dict[str, float | str | None] = {
        "profile": _profile(),
        "kernels": accel.backend(),
        "simd": f"{dispatch.simd_level(facts)} ({facts.get('llvm_cpu', '-')})",
        "cpu": str(facts["model"]),
        "simd_level": dispatch.simd_level(facts),
        "numpy_simd": ",".join(facts["numpy_simd"]),
    }
    if accel.numba_installed():
        # The path auto takes per group at its largest class, and at every measured size.
        res.update({f"auto_{g}": dispatch.chosen(g) for g in dispatch.GROUPS})
        res.update({f"auto_{g}@{m}": dispatch.chosen(g, m) for g in dispatch.GROUPS for m in dispatch.SIZES[g]})
    cp, f, k, t, v = _inputs(n)
    res.update(_kernel_rows(n, rounds, ""))
    with _busy_neighbour():
        res.update(_kernel_rows(n, rounds, "_loaded"))
    res["black76_price_plain_numpy_ns"] = _per_unit(lambda: _numpy_baseline(cp, f, k, t, v), n, repeats, 1e9)
    n_ql = 20_000
    try:
        sub = [a[:n_ql] for a in (cp, f, k, t, v)]
        res["black76_price_quantlib_ns"] = _per_unit(lambda: _quantlib_black_loop(*sub), n_ql, 3, 1e9)
    except ImportError:
        res["black76_price_quantlib_ns"] = None
    ql_am = _quantlib_american(200)
    res["american_crr200_quantlib_us"] = None if ql_am is None else ql_am * 1e6
    if not kernels_only:
        from bench.margin import margin_bench

        res.update(margin_bench(quick))
        res.update(rfq_bench(quick))
        res.update(_quote_books(quick, 3))
    for name, unit in _KERNELS:
        for suffix in ("", "_loaded"):
            fast, slow = res.get(f"{name}{suffix}{unit}"), res.get(f"{name}_numpy{suffix}{unit}")
            if isinstance(fast, float) and isinstance(slow, float) and fast > 0:
                res[f"{name}_numpy_over_numba{suffix}"] = slow / fast
    # The peers measured in this run over ours (above 1: ours is faster), quiet figures.
    for name, unit in (("black76_price", "_ns"), ("american_crr200", "_us")):
        ours, peer = res.get(f"{name}{unit}"), res.get(f"{name}_quantlib{unit}")
        if isinstance(ours, float) and isinstance(peer, float) and ours > 0:
            res[f"{name}_quantlib_over_ours"] = peer / ours
    # The machine may be shared: the 1-minute load average at the start and the end of the run.
    res["load_average_start"], res["load_average_end"] = load_start, _load_average()
    res["cores"] = float(os.cpu_count() or 0)
    if as_json:
        print(json.dumps(res, indent=2))
        return res
    _print_table(res)
    return res


_KERNELS = (("black76_price", "_ns"), ("black76_greeks", "_ns"), ("implied_vol", "_ns"), ("american_crr200", "_us"))
_GROUP_OF = {
    "black76_price": "black76.price",
    "black76_greeks": "black76.greeks",
    "implied_vol": "ivol.solve",
    "american_crr200": "tree.backward",
}

_TABLE = (
    (
        "Black-76 price, per option",
        "black76_price_ns",
        "black76_price_numpy_ns",
        "black76_price_quantlib_ns",
        "QuantLib blackFormula loop",
        8.0,
    ),
    ("Black-76 price + 7 greeks", "black76_greeks_ns", "black76_greeks_numpy_ns", None, "", 30.0),
    ("implied vol (1e-10)", "implied_vol_ns", "implied_vol_numpy_ns", None, "", 150.0),
    (
        "American CRR 200 steps",
        "american_crr200_us",
        "american_crr200_numpy_us",
        "american_crr200_quantlib_us",
        "QuantLib BinomialVanillaEngine",
        4.0,
    ),
    ("portfolio IM, 1,000 positions x 1,824 scen.", "portfolio_im_ms", "portfolio_im_numpy_ms", None, "", 8.0),
    (
        "marginal IM, 10,000 candidates x 2 sides",
        "marginal_im_10k_ms",
        "marginal_im_10k_numpy_ms",
        "marginal_im_10k_naive_ms",
        "naive numpy (C x S matrix)",
        70.0,
    ),
    (
        "  portfolio IM per position-scenario, ns",
        "portfolio_im_ns_per_revaluation",
        "portfolio_im_numpy_ns_per_revaluation",
        None,
        "",
        None,
    ),
    (
        "  marginal IM per candidate-scenario, ns",
        "marginal_im_10k_ns_per_revaluation",
        "marginal_im_10k_numpy_ns_per_revaluation",
        None,
        "",
        None,
    ),
    (
        "  peak memory of it, MB",
        "marginal_im_10k_peak_mb",
        "marginal_im_10k_numpy_peak_mb",
        "marginal_im_10k_naive_peak_mb",
        "naive numpy",
        50.0,
    ),
    ("quote book 1,000 rows, end to end, s", "quote_book_1k_s", None, "quote_book_1k_formulas_s", "formulas ExcelModel", 0.15),
    ("quote book 10,000 rows, end to end, s", "quote_book_10k_s", None, None, "", 1.0),
    ("quote book 100,000 rows, end to end, s", "quote_book_100k_s", None, None, "", 10.0),
    (
        "500 per-row CQ_RFQ, 1,000-pos. book, warm, s",
        "rfq_per_row_500_s",
        None,
        "rfq_batch_500_s",
        "one CQ_RFQ over the 500",
        1.0,
    ),
    ("  one per-row call, median, ms", "rfq_per_row_median_ms", None, None, "", 2.0),
    ("  one per-row call, 90th percentile, ms", "rfq_per_row_p90_ms", None, None, "", None),
    ("  the first call (builds the book's basis), s", "rfq_first_call_s", None, None, "", None),
    ("10,000 RFQs in one CQ_RFQ, 1,000-pos. book, s", "rfq_batch_10k_s", None, None, "", None),
)


def _fmt(value: float | None) -> str:
    return f"{value:12.2f}" if value is not None else f"{'-':>12s}"


def _print_kernels(res: dict[str, float | str | None]) -> None:
    """Per kernel, quiet and loaded: min / median of numba, numpy and the default path, the path the
    default resolves to and default / that path (mins), numpy / numba (mins)."""
    print(
        f"\n{'kernel, per unit':22s} {'load':>6s} {'numba min/med':>17s} {'numpy min/med':>17s} {'default min/med':>17s}"
        f" {'resolves':>8s} {'def/res':>7s} {'def/best':>8s} {'numpy/numba':>11s}"
    )

    def pair(key: str, median: str) -> str:
        lo, mid = res.get(key), res.get(median)
        return f"{lo:8.2f}/{mid:<8.2f}" if isinstance(lo, float) and isinstance(mid, float) else f"{'-':>17s}"

    for name, unit in _KERNELS:
        for suffix, load in (("", "quiet"), ("_loaded", "+1 job")):
            cells = [
                pair(f"{name}{suffix}{unit}", f"{name}_median{suffix}{unit}"),
                pair(f"{name}_numpy{suffix}{unit}", f"{name}_numpy_median{suffix}{unit}"),
                pair(f"{name}_default{suffix}{unit}", f"{name}_default_median{suffix}{unit}"),
            ]
            over, ratio = res.get(f"{name}_default_over_resolved{suffix}"), res.get(f"{name}_numpy_over_numba{suffix}")
            otext = f"{over:7.2f}" if isinstance(over, float) else f"{'-':>7s}"
            best = res.get(f"{name}_default_over_best{suffix}")
            otext += f" {best:8.2f}" if isinstance(best, float) else f" {'-':>8s}"
            rtext = f"{ratio:11.2f}" if isinstance(ratio, float) else f"{'-':>11s}"
            label = f"{name} ({unit[1:]})" if not suffix else ""
            resolved = str(res.get(f"{name}_default_path{suffix}", "-"))
            print(f"{label:22s} {load:>6s} {' '.join(cells)} {resolved:>8s} {otext} {rtext}")


def _print_table(res: dict[str, float | str | None]) -> None:
    unit = {"_ns": "ns", "_us": "us", "_ms": "ms", "_mb": "MB", "_s": "s", "_revaluation": "ns"}
    print(f"CPU: {res['cpu']}   SIMD (numba kernels): {res['simd']}   numpy dispatch: {res['numpy_simd'] or '-'}")
    print(
        f"profile: {res['profile']}   kernels in use: {res['kernels']}   (same inputs for every column; kernels: min and "
        "median of interleaved rounds, the min is the headline; other rows: medians of repeats)"
    )
    print(
        f"load average (1 min) at start / end: {res.get('load_average_start')} / {res.get('load_average_end')} on {res.get('cores'):g} cores"
    )
    _print_kernels(res)
    print()
    print(
        f"{'measure':46s} {'unit':>4s} {'clearquote':>12s} {'numpy path':>12s} {'peer':>12s} {'peer/ours':>9s} {'target':>7s}  peer"
    )
    for label, ours, numpy_key, peer, peer_name, target in _TABLE:
        u = next(v for k, v in unit.items() if ours.endswith(k))
        value, base, other = res.get(ours), res.get(numpy_key) if numpy_key else None, res.get(peer) if peer else None
        ratio = f"{other / value:9.{2 if other / value < 10 else 1}f}" if (value and other) else f"{'':9s}"
        tgt = f"{target:7g}" if target is not None else f"{'':7s}"
        print(f"{label:46s} {u:>4s} {_fmt(value)} {_fmt(base)} {_fmt(other)} {ratio} {tgt}  {peer_name}")
