"""The warm-start stopping rule of the SVI fit (pricing.svi.WARM_TOL).

A warm-started fit (the live desk's refit from the last slice) stops when an accepted step
lowers the cost by no more than ``WARM_TOL`` (1e-12) of it, or moves no parameter by more than
1e-12 relative; a cold fit keeps ``COLD_TOL`` (1e-15). Invariants, for any move of the marks:

- the early stop lies on the same iteration as the full polish (the solver is deterministic and
  only the stopping test differs), so it never takes more iterations;
- it changes the fitted smile by at most 1e-7 in vol on the quoted range against the same
  warm start polished to 1e-15. The bound is a tenth of the 1e-6 within which a warm refit must
  reach the cold fit (``tests/live/test_refit.py``); measured worst 7e-9 on the bundled
  2026-08-21 and 2025-12-31 chains shifted by -1 to +0.5 vol points;
- a cold fit is unchanged: the default tolerance of ``fit_svi`` without a start is 1e-15, so
  every file's surface (and every committed workbook) is the same bits as before.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pricing.svi as svi
from pricing.chain import OptionChain, load_bundled_chain
from pricing.daycount import DAYS_PER_YEAR
from pricing.lsq import LsqResult
from pricing.surface import SmileQuotes, otm_quotes
from pricing.svi import COLD_TOL, WARM_TOL, SviSmile, fit_svi


@functools.cache
def _chain(ccy: str) -> OptionChain:
    return load_bundled_chain(ccy, "2026-08-21")


@functools.cache
def _expiries(ccy: str) -> tuple[np.datetime64, ...]:
    chain = _chain(ccy)
    uniq, t_all, _ = chain.expiries()
    return tuple(e for e, t in zip(uniq, t_all) if t >= 1 / DAYS_PER_YEAR and otm_quotes(chain, e).k.size >= 5)


@functools.cache
def _start(ccy: str, i: int) -> SviSmile:
    q = otm_quotes(_chain(ccy), _expiries(ccy)[i])
    return fit_svi(q.k, q.vols, q.t_years, weights=q.vegas)


def _moved(ccy: str, i: int, shift_pts: float, tilt: float, seed: int) -> SmileQuotes:
    chain = _chain(ccy)
    rng = np.random.default_rng(seed)
    rows = chain.expiry == _expiries(ccy)[i]
    iv = chain.mark_iv.copy()
    k = np.log(chain.strike / chain.forward)
    iv[rows] = np.maximum(iv[rows] + shift_pts / 100 + tilt * k[rows] + rng.normal(0.0, 0.0003, int(rows.sum())), 0.01)
    return otm_quotes(dataclasses.replace(chain, mark_iv=iv), _expiries(ccy)[i])


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[LsqResult]:
    seen: list[LsqResult] = []
    solve = svi.levenberg_marquardt

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(solve(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(svi, "levenberg_marquardt", counted)
    return seen


@given(
    st.sampled_from(["BTC", "ETH"]),
    st.integers(min_value=0, max_value=40),
    st.floats(min_value=-2.0, max_value=2.0),
    st.floats(min_value=-0.05, max_value=0.05),
    st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=40)
def test_the_warm_stop_is_an_earlier_iterate_within_1e_7_in_vol(
    ccy: str, pick: int, shift: float, tilt: float, seed: int
) -> None:
    i = pick % len(_expiries(ccy))
    q, start = _moved(ccy, i, shift, tilt, seed), _start(ccy, i)
    with pytest.MonkeyPatch.context() as mp:
        seen = _counting(mp)
        early = fit_svi(q.k, q.vols, q.t_years, weights=q.vegas, start=start)
        full = fit_svi(q.k, q.vols, q.t_years, weights=q.vegas, start=start, tol=COLD_TOL)
    assert seen[0].iterations <= seen[1].iterations
    assert seen[0].cost >= seen[1].cost  # the full polish only ever lowers the cost further
    k = np.linspace(q.k.min(), q.k.max(), 41)
    va, vb = np.sqrt(early.total_variance(k) / q.t_years), np.sqrt(full.total_variance(k) / q.t_years)
    np.testing.assert_allclose(va, vb, rtol=0, atol=1e-7)


def test_the_default_tolerances_are_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold fit polishes to 1e-15 (the files' fit, unchanged); a warm one stops at 1e-12."""
    assert (COLD_TOL, WARM_TOL) == (1e-15, 1e-12)
    asked: list[tuple[float, float]] = []
    solve = svi.levenberg_marquardt

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append((kwargs["xtol"], kwargs["ftol"]))
        return solve(*args, **kwargs)

    monkeypatch.setattr(svi, "levenberg_marquardt", spy)
    q = otm_quotes(_chain("BTC"), _expiries("BTC")[3])
    cold = fit_svi(q.k, q.vols, q.t_years, weights=q.vegas)
    assert asked == [(COLD_TOL, COLD_TOL)] * 3  # three cold starts
    asked.clear()
    fit_svi(q.k, q.vols, q.t_years, weights=q.vegas, start=cold)
    assert asked == [(WARM_TOL, WARM_TOL)]
