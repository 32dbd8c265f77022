"""The surface that follows the market (pricing/desk/live/refit.py): refits when and only when due,
warm fits equal cold fits, a refit that would add arbitrage is rejected and the last good slice kept.

Oracles: the first fit is :func:`pricing.surface.build_surface` itself (the file route), so it
must be identical; a warm-started refit must reach the cold fit's optimum (the SVI fit is polished
to machine tolerance with a ridge that makes the optimum unique, pricing/svi.py), within 1e-6 in
vol — measured worst 1.2e-7 on the bundled 2026-08-21 BTC chain moved by 0.5 vol points.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from pricing.chain import OptionChain, load_bundled_chain
from pricing.desk.live import open_live_source
from pricing.desk.live.refit import RefitPolicy, SurfaceKeeper
from pricing.surface import build_surface
from tests.live.conftest import FAST
from tests.live.deribit_server import DeribitTestServer


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    return load_bundled_chain("BTC", "2025-12-31")


def _moved(chain: OptionChain, expiry: np.datetime64 | None, vol_pts: float, scale: float = 1.0) -> OptionChain:
    rows = np.ones(len(chain), dtype=bool) if expiry is None else chain.expiry == expiry
    iv = chain.mark_iv.copy()
    iv[rows] = iv[rows] * scale + vol_pts / 100.0
    return dataclasses.replace(chain, mark_iv=iv)


def test_the_first_fit_is_the_files_fit(chain: OptionChain) -> None:
    keeper = SurfaceKeeper("BTC", RefitPolicy())
    live, cold = keeper.update(chain, now=0.0), build_surface(chain)
    np.testing.assert_array_equal(live.expiries, cold.expiries)
    assert [s.params() for s in live.smiles] == [s.params() for s in cold.smiles]
    np.testing.assert_array_equal(live.forwards, cold.forwards)
    assert not keeper.flags()


def test_only_the_expiry_that_moved_beyond_the_threshold_is_refitted_and_the_timer_refits_all(chain: OptionChain) -> None:
    policy = RefitPolicy(move_vol_pts=0.25, every_s=60.0)
    keeper = SurfaceKeeper("BTC", policy)
    keeper.update(chain, now=0.0)
    first = keeper.fit_times()
    target = sorted(keeper.slices)[5]
    keeper.update(_moved(chain, target, 0.2), now=1.0)  # below the threshold: nothing refits
    assert keeper.fit_times() == first
    keeper.update(_moved(chain, target, 0.3), now=2.0)  # beyond it: that expiry only
    second = keeper.fit_times()
    changed = [e for e in first if first[e] != second[e]]
    assert changed == [str(target)[:10]]
    keeper.update(_moved(chain, target, 0.3), now=62.0)  # the timer (60 s after each fit): every expiry
    assert all(keeper.fit_times()[e] != second[e] for e in second)


def test_a_warm_refit_reaches_the_cold_fit(chain: OptionChain) -> None:
    keeper = SurfaceKeeper("BTC", RefitPolicy())
    keeper.update(chain, now=0.0)
    moved = _moved(chain, None, 0.5)
    warm = keeper.update(moved, now=1.0)
    cold = build_surface(moved)
    for f, a, b in zip(warm.fits, warm.smiles, cold.smiles):
        k = np.linspace(f.k_min, f.k_max, 41)
        va, vb = np.sqrt(a.total_variance(k) / f.t_years), np.sqrt(b.total_variance(k) / f.t_years)
        np.testing.assert_allclose(va, vb, rtol=0, atol=1e-6)
    assert len(keeper.cold_durations_s) == len(keeper.durations_s) == len(warm.smiles)


def test_a_refit_that_adds_calendar_arbitrage_keeps_the_last_good_slice_flagged(chain: OptionChain) -> None:
    keeper = SurfaceKeeper("BTC", RefitPolicy())
    keeper.update(chain, now=0.0)
    target = sorted(keeper.slices)[7]
    good = keeper.slices[target].smile
    broken = _moved(chain, target, 0.0, scale=0.4)  # total variance far below the earlier expiry's
    surface = keeper.update(broken, now=1.0)
    assert keeper.slices[target].smile == good
    assert surface.smiles[sorted(keeper.slices).index(target)] == good
    assert keeper.rejected == 1
    (flag,) = keeper.flags()
    assert flag.startswith(f"BTC {str(target)[:10]}: refit rejected (calendar arbitrage") and "last good slice" in flag
    keeper.update(chain, now=2.0)  # the marks come back: the refit passes and the flag clears
    assert not keeper.flags()


def test_the_source_publishes_fitted_snapshots_with_fit_times_that_follow_the_marks() -> None:
    with DeribitTestServer() as server, open_live_source(f"deribit:{server.url}", limits=FAST) as src:
        first = src.current().feed
        assert first.market is not None and set(first.market.surfaces) == {"BTC", "ETH"}
        assert set(first.fit_times) == {"BTC", "ETH"} and len(first.fit_times["BTC"]) == len(first.market.surfaces["BTC"].smiles)
        server.move_marks("BTC", 1.0)
        end = time.monotonic() + 30
        moved_before_refit = False
        while True:
            now = src.current().feed
            refitted = [now.fit_times["BTC"][e] > first.fit_times["BTC"][e] for e in now.fit_times["BTC"]]
            if now.chains["BTC"].mark_iv[0] > first.chains["BTC"].mark_iv[0] + 0.009 and not all(refitted):
                moved_before_refit = True  # the marks are in the snapshot before every slice is refitted
            if all(refitted):
                break
            assert time.monotonic() < end
            time.sleep(0.01)
        assert moved_before_refit
        assert now.fit_times["ETH"] == first.fit_times["ETH"]  # ETH did not move: not refitted


def test_a_keeper_with_the_fit_process_keeps_the_same_bits_as_one_fitting_here(chain: OptionChain) -> None:
    """Refits (fit and checks) moved to the fit process give the same slices, flags and rejections."""
    from pricing.desk.live.slicefit import shared_fit_process

    here = SurfaceKeeper("BTC", RefitPolicy())
    there = SurfaceKeeper("BTC", RefitPolicy(), process=shared_fit_process())
    target = sorted(here.update(chain, now=0.0).expiries)[7]
    there.update(chain, now=0.0)
    up = _moved(chain, None, 0.5)
    for now, moved in ((1.0, up), (2.0, _moved(up, target, 0.0, scale=0.4))):
        a, b = here.update(moved, now=now), there.update(moved, now=now)
        assert a.smiles == b.smiles and a.fits == b.fits
        # the flags name the wall-clock time of the kept slice's fit: compare what was rejected and why
        assert [f.split("; last good")[0] for f in here.flags()] == [f.split("; last good")[0] for f in there.flags()]
        assert here.rejected == there.rejected
    assert here.rejected == 1  # the second move added calendar arbitrage: rejected in both


def test_a_cold_retry_that_failed_is_not_repeated_before_the_timer(chain: OptionChain) -> None:
    """A warm refit that fails validation is retried cold; when that fails too, the next refits of
    the expiry are warm only until ``every_s`` has passed since, then cold is tried again."""
    from pricing.svi import SviSmile, fit_svi

    calls: list[bool] = []
    broken = {"on": False}

    def fit(k, vol, t_years, weights=None, *, start=None):  # type: ignore[no-untyped-def]
        calls.append(start is None)
        smile = fit_svi(k, vol, t_years, weights, start=start)
        # a fit 10 vol points off everywhere: above max_rmse_vol_pts, rejected whatever the start
        return SviSmile(smile.a + 0.2 * t_years, smile.b, smile.rho, smile.m, smile.sigma, t_years) if broken["on"] else smile

    keeper = SurfaceKeeper("BTC", RefitPolicy(every_s=60.0), fit)
    keeper.update(chain, now=0.0)
    target = sorted(keeper.slices)[5]
    broken["on"] = True
    calls.clear()
    keeper.refit(_moved(chain, target, 0.5), target, now=1.0)
    assert calls == [False, True] and keeper.fallbacks == 1 and keeper.rejected == 1  # warm, then cold: both rejected
    calls.clear()
    keeper.refit(_moved(chain, target, 1.0), target, now=30.0)
    assert calls == [False] and keeper.cold_skipped == 1  # warm only: the cold one failed 29 s ago
    calls.clear()
    keeper.refit(_moved(chain, target, 1.5), target, now=61.5)
    assert calls == [False, True]  # the timer: cold again
    broken["on"] = False
    calls.clear()
    keeper.refit(_moved(chain, target, 2.0), target, now=70.0)
    assert calls == [False] and not keeper.slices[target].flag  # a good warm fit clears the slice's state
    assert keeper.slices[target].cold_failed_mono is None


def test_a_warm_refit_that_fails_queues_its_cold_retry_for_later(chain: OptionChain) -> None:
    """On the source's refit thread (mode warm) a failed warm fit does not run the 0.4 s cold fit
    at once: it queues it; the queued retry (mode cold) is one cold fit, and its failure is
    remembered as in the synchronous path."""
    from pricing.svi import SviSmile, fit_svi

    calls: list[bool] = []

    def fit(k, vol, t_years, weights=None, *, start=None):  # type: ignore[no-untyped-def]
        calls.append(start is None)
        smile = fit_svi(k, vol, t_years, weights, start=start)
        return SviSmile(smile.a + 0.2 * t_years, smile.b, smile.rho, smile.m, smile.sigma, t_years)

    keeper = SurfaceKeeper("BTC", RefitPolicy(every_s=60.0))
    keeper.update(chain, now=0.0)
    target = sorted(keeper.slices)[5]
    keeper.fit = fit
    keeper.refit(_moved(chain, target, 0.5), target, now=1.0, mode="warm")
    assert calls == [False] and keeper.cold_due == {target} and keeper.slices[target].flag
    calls.clear()
    keeper.refit(_moved(chain, target, 0.5), target, now=1.5, mode="cold")
    assert calls == [True] and keeper.cold_due == set() and len(keeper.cold_retry_durations_s) == 1
    assert keeper.slices[target].cold_failed_mono == 1.5
    calls.clear()
    keeper.refit(_moved(chain, target, 1.0), target, now=20.0, mode="warm")
    assert calls == [False] and keeper.cold_due == set() and keeper.cold_skipped == 1  # failed 18.5 s ago: not queued
