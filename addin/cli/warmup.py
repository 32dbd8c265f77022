"""Compile every numba kernel ahead of use, through the public engine calls that use them.

``clearquote warmup`` runs :func:`warm`; afterwards every command loads its kernels from
numba's on-disk cache in milliseconds. The calls below are small (a handful of options, a
two-leg book) but take the same argument types as real work: scalars broadcast against arrays
and whole arrays, linear and inverse settlement, every margin model, single- and multi-leg
marginal IM, so that each signature a command compiles is compiled here.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from pricing import accel


def warm() -> list[str]:
    """Run one small call of each accelerated path; returns the kernels compiled or loaded.

    Does nothing (returns []) on the numpy path.
    """
    if not accel.enabled():
        return []
    from pricing.accel import black76, ivol, scenario, tree

    # Every kernel compiles, whatever the measured choice says: the choice can be re-measured.
    with accel.using("numba"):
        _exercise()
    kernels = (
        black76.price_kernel,
        black76.greeks_kernel,
        ivol.solve_kernel,
        tree.backward_kernel,
        scenario.pnl_matrix,
        scenario.pnl_sum,
        scenario.marginal_tail,
        scenario.marginal_tail_rows,
    )
    return [k.name for k in kernels if k.signatures()]


def choose() -> tuple[list[str], str | None]:
    """Time each kernel group on both paths and record the faster (``auto`` only).

    Returns one line per group and why the record could not be written (None when it was).
    Under ``CLEARQUOTE_KERNELS=numba`` or ``numpy`` nothing is measured: the setting decides.
    """
    if accel.forced() or not accel.numba_installed():
        return [], None
    from pricing.kernel_timing import measure_and_record

    timings, problem = measure_and_record()
    lines = [
        f"{g.group:15s} {g.batch:30s} numba {g.numba_s * 1e3:9.4f} ms  numpy {g.numpy_s * 1e3:9.4f} ms  -> {g.choice}"
        for g in timings
    ]
    return lines, problem


def _exercise() -> None:
    """One small call of each accelerated path, with every argument type a command uses."""
    from pricing.binomial import binomial_price
    from pricing.black import black76_greeks, black76_price
    from pricing.daycount import utc
    from pricing.implied_vol import implied_vol
    from pricing.instruments import OptionContract
    from pricing.margin.deribit import DeribitModel
    from pricing.margin.engine import margin, marginal_im
    from pricing.margin.span import SpanModel
    from pricing.margin.var import hvar_model
    from pricing.market import Market
    from pricing.portfolio import from_contracts
    from pricing.surface import flat_surface

    strikes = np.array([90.0, 100.0, 110.0])
    for settle in ("linear", "inverse"):
        black76_price("c", 100.0, 100.0, 1.0, 0.2, settle=settle)
        black76_price(["c", "p", "c"], 100.0, strikes, 0.5, 0.2, rate=0.01, settle=settle)
        black76_greeks("c", 100.0, 100.0, 1.0, 0.2, settle=settle)
        black76_greeks(["c", "p", "c"], 100.0, strikes, 0.5, 0.2, rate=0.01, settle=settle)
    implied_vol(8.0, "c", 100.0, 100.0, 1.0)
    implied_vol([8.0, 4.0], ["c", "p"], 100.0, [100.0, 95.0], 1.0)
    binomial_price("p", 100.0, 100.0, 1.0, 0.2, 0.05, steps=20)

    now = utc(2026, 8, 21, 8)
    market = Market(now, {"BTC": flat_surface("BTC", 52_000.0, 0.65), "ETH": flat_surface("ETH", 2_600.0, 0.75)})
    expiry = now + timedelta(days=30)
    book = from_contracts(
        [OptionContract("BTC", expiry, 50_000.0, 1, "linear"), OptionContract("BTC", expiry, 55_000.0, 1, "inverse")], [10, -15]
    )
    trades = from_contracts(
        [OptionContract("BTC", expiry, 52_000.0, -1, "inverse"), OptionContract("BTC", expiry, 56_000.0, 1, "linear")], [5, 5]
    )
    for model in (hvar_model(), SpanModel(), DeribitModel()):
        margin(book, market, model)
        marginal_im(book, trades, market, model)
    marginal_im(book, trades, market, hvar_model(), groups=np.array([0, 0]))
    # Candidates that share an instrument: the unit-row tail kernel (pricing.fused, classes).
    marginal_im(book, trades.select(np.array([0, 0, 0, 0, 1])), market, hvar_model())
