"""A kernel gives bit-identical numbers on one thread and on two.

Issue 33: a kernel call now runs on the calling thread alone (small batch, busy cores) or on
the free cores only. One machine code runs either way and no kernel reduces a float across
threads, so the guarantee is exact equality (NaN where NaN), not a tolerance. The oracle is
the other route through the same kernel (a cross test): ``jit.FORCE_THREADS`` pins the route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import accel

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


@contextmanager
def _threads(n: int) -> Iterator[None]:
    from pricing.accel import jit

    before = jit.FORCE_THREADS
    jit.FORCE_THREADS = n
    try:
        yield
    finally:
        jit.FORCE_THREADS = before


def _routes(fn: Callable[[], object]) -> list[object]:
    """fn() on one thread, then on 2 threads (1 again if numba's pool has only 1)."""
    from numba import config

    out = []
    with accel.using("numba"):
        for n in (1, min(2, config.NUMBA_NUM_THREADS)):
            with _threads(n):
                out.append(fn())
    return out


def _same(a: object, b: object) -> None:
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    if hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            _same(getattr(a, name), getattr(b, name))
        return
    if isinstance(a, np.ndarray | float | np.floating):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
        return
    assert a == b


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40_000), inverse=st.booleans())
def test_black76_price_and_greeks_identical_on_both_routes(seed: int, n: int, inverse: bool) -> None:
    from pricing.black import black76_greeks, black76_price

    rng = np.random.default_rng(seed)
    f = rng.uniform(1_000, 150_000, n)
    k = f * np.exp(rng.uniform(-1.5, 1.5, n))
    t = rng.uniform(-0.1, 3.0, n)
    v = rng.uniform(-0.1, 2.5, n)
    v[rng.random(n) < 0.01] = np.nan
    r = rng.uniform(-0.02, 0.08, n)
    cp = rng.choice([-1.0, 1.0], n)
    settle = "inverse" if inverse else "linear"
    a, b = _routes(lambda: black76_price(cp, f, k, t, v, rate=r, settle=settle))
    _same(a, b)
    a, b = _routes(lambda: black76_greeks(cp, f, k, t, v, rate=r, settle=settle))
    _same(a, b)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3_000))
def test_implied_vol_identical_on_both_routes(seed: int, n: int) -> None:
    from pricing.black import black76_price
    from pricing.implied_vol import implied_vol

    rng = np.random.default_rng(seed)
    f = rng.uniform(1_000, 150_000, n)
    k = f * np.exp(rng.uniform(-1.0, 1.0, n))
    t = rng.uniform(0.01, 2.0, n)
    v = rng.uniform(0.05, 2.0, n)
    cp = rng.choice([-1.0, 1.0], n)
    with accel.using("numpy"):
        price = black76_price(cp, f, k, t, v)
    a, b = _routes(lambda: implied_vol(price, cp, f, k, t))
    _same(a, b)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), steps=st.integers(1, 250))
def test_binomial_identical_on_both_routes(seed: int, n: int, steps: int) -> None:
    from pricing.binomial import binomial_price

    strikes = np.random.default_rng(seed).uniform(60, 140, n)
    a, b = _routes(lambda: binomial_price(-1, 100.0, strikes, 0.5, 0.5, 0.05, steps=steps))
    _same(a, b)


def test_margin_and_marginal_im_identical_on_both_routes() -> None:
    from pricing.chain import load_bundled_chain
    from pricing.margin.engine import margin, marginal_im
    from pricing.margin.span import SpanModel
    from pricing.margin.var import hvar_model
    from pricing.market import Market
    from pricing.portfolio import from_contracts
    from pricing.surface import build_surface

    chain = load_bundled_chain("BTC", "2026-08-21")
    market = Market(chain.as_of, {"BTC": build_surface(chain)}, {"BTC": chain})
    live = [c for c in chain.contracts() if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    rng = np.random.default_rng(7)
    book = from_contracts([live[i] for i in rng.integers(0, len(live), 120)], rng.choice([-1.0, 1.0], 120) * 3.0)
    cands = from_contracts([live[i] for i in rng.integers(0, len(live), 60)], rng.uniform(1, 25, 60).round())
    for model in (hvar_model(), SpanModel()):
        a, b = _routes(lambda: (margin(book, market, model).as_rows(), marginal_im(book, cands, market, model)))  # noqa: B023
        _same(a, b)
