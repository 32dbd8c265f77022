"""Margin backtesting as a CCP's model validation does it (EMIR RTS 153/2013 Art. 47-49).

The book is held *relative*: at each backtest date t every position keeps its time to expiry
and its moneyness K/S of the market date, its implied vol moves with the underlying's vol index
(DVOL, or realised vol scaled to it before DVOL exists: :func:`pricing.scenarios.vol_change_scenarios`),
and its USD size scales with spot. So a book dated 2026 is tested on every market since 2017.
At each date the model's core IM of that book (scenarios ending at t, no look-ahead) is set
against the book's realised P&L over the margin period (t, t + h]; a realised loss above the IM
is an exception. Dates are non-overlapping (every h days) by default, so exceptions are
independent under the null and the tests below hold as stated.

Tests, per model (``p = 1 - alpha`` the exception probability under the null):

* Kupiec (1995) proportion of failures:
  :math:`LR_{POF} = -2\\ln\\frac{(1-p)^{n-x}p^x}{(1-\\hat p)^{n-x}\\hat p^x} \\sim \\chi^2_1`, :math:`\\hat p = x/n`;
* Christoffersen (1998) independence, from the transition counts :math:`n_{ij}` of consecutive
  exception indicators: :math:`LR_{ind} = -2\\ln\\frac{(1-\\pi)^{n_{00}+n_{10}}\\pi^{n_{01}+n_{11}}}
  {(1-\\pi_0)^{n_{00}}\\pi_0^{n_{01}}(1-\\pi_1)^{n_{10}}\\pi_1^{n_{11}}} \\sim \\chi^2_1`, and
  conditional coverage :math:`LR_{cc} = LR_{POF} + LR_{ind} \\sim \\chi^2_2`;
* Basel traffic light (BCBS, *Supervisory framework for the use of backtesting*, 1996, Table 2):
  green while the binomial probability of at most x exceptions is below 95%, yellow below
  99.99%, red beyond; at 250 observations and 99% that is green 0-4, yellow 5-9, red 10+.

The VaR models (hvar, fhs) are backtested on their own scenario engine, vectorised over blocks
of dates: one revaluation of the book over (dates x scenarios) per block; the hybrid too, its
per-commodity VaRs then put through SPAN's assembly at each date. The venue replicas
(span, deribit) have fixed scenario moves, so their IM is recomputed per date on the rescaled
book. The model-risk, liquidity and concentration add-ons and the APC floor are not part of
the tested measure (they are not a forecast of the P&L): it is the core IM.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from pricing._typing import BoolArray, FloatArray
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import PricingInputError
from pricing.margin.engine import MarginModel, margin
from pricing.margin.hybrid import HybridModel, kth_worst_measure
from pricing.margin.quantile import check_alpha, var_es
from pricing.margin.span import assemble_commodities, commodity_layout, spread_columns
from pricing.margin.var import ScenarioVarModel
from pricing.market import Market
from pricing.marketdata import DailySeries
from pricing.portfolio import PERPETUAL, Portfolio
from pricing.positions import PositionState, expand, position_state
from pricing.revaluation import reprice
from pricing.scenarios import (
    McParams,
    ScenarioParams,
    _build,
    _daily_log_changes,
    _ewma_forecasts,
    _inputs,
    _vol_daily,
    expanding_vol_scale,
    floored_vol,
    realised_vol_series,
)
from pricing.surface import VolSurface

#: Traffic-light zone boundaries on the cumulative binomial probability of the exception count.
GREEN_BELOW, YELLOW_BELOW = 0.95, 0.9999
#: Dates revalued at once on the VaR path (memory ~ positions x block x scenarios doubles).
DATE_BLOCK = 32
#: Size of the Kupiec and Christoffersen tests: a model fails when either rejects at 5% (the
#: conventional level, and the traffic light's green boundary is the same 95%).
TEST_SIZE = 0.05


def _position_levels(level: FloatArray, codes: tuple[str, ...], book: Portfolio) -> FloatArray:
    """Each position's vol level: its underlying's vol-index level. Every tenor of the relative book
    moves in parallel with the index (no term-structure history is bundled); the VaR models' own
    scenarios are tenor-weighted."""
    return expand(np.asarray(level, dtype=np.float64).reshape(len(codes), -1), codes, book)


@dataclass(frozen=True)
class BacktestResult:
    """One model's backtest on one book; money in USD.

    ``dates[i]`` is the start of margin period i; ``im[i]`` the core IM there; ``pnl[i]`` the
    realised P&L over (dates[i], dates[i] + h]; ``exception[i]`` = ``-pnl[i] > im[i]``.

    Attributes
    ----------
    model : str
        The model's name.
    alpha : float
        The coverage tested.
    horizon_days : int
        h, the margin period of risk.
    dates : ndarray of datetime64[D]
        Start of each margin period.
    im, pnl : ndarray
        Core IM at each date and the realised P&L over its period, USD.
    exception : ndarray of bool
        ``-pnl > im``.
    kupiec_lr, kupiec_p : float
        Kupiec's unconditional coverage statistic and p-value.
    christoffersen_ind_lr, christoffersen_ind_p : float
        Christoffersen's independence statistic and p-value.
    conditional_coverage_lr, conditional_coverage_p : float
        Their sum (χ² with 2 degrees of freedom) and its p-value.
    traffic_light : str
        Basel zone: ``green``, ``yellow`` or ``red``.
    overlapping : bool
        Daily periods (autocorrelated exceptions: the tests are indicative only).
    """

    model: str
    alpha: float
    horizon_days: int
    dates: np.ndarray
    im: FloatArray
    pnl: FloatArray
    exception: BoolArray
    kupiec_lr: float
    kupiec_p: float
    christoffersen_ind_lr: float
    christoffersen_ind_p: float
    conditional_coverage_lr: float
    conditional_coverage_p: float
    traffic_light: str
    overlapping: bool = False

    @property
    def observations(self) -> int:
        return int(self.dates.size)

    @property
    def exceptions(self) -> int:
        return int(self.exception.sum())

    @property
    def failures(self) -> tuple[str, ...]:
        """Why the model fails its backtest (empty: it passes): coverage rejected by Kupiec,
        independence rejected by Christoffersen (tested only on non-overlapping dates, where it is
        valid), or the traffic light red."""
        out = []
        if self.kupiec_p < TEST_SIZE:
            expected = self.observations * (1.0 - self.alpha)
            way = "too many exceptions" if self.exceptions > expected else "too few exceptions: over-conservative"
            out.append(f"coverage (Kupiec p {self.kupiec_p:.2g} < {TEST_SIZE:g}, {way})")
        if not self.overlapping and self.christoffersen_ind_p < TEST_SIZE:
            out.append(f"independence (Christoffersen p {self.christoffersen_ind_p:.2g} < {TEST_SIZE:g})")
        if self.traffic_light == "red":
            out.append("traffic light red")
        return tuple(out)

    def summary(self) -> dict[str, float | int | str | bool]:
        """The statistics as one flat mapping (the CLI's JSON object, the catalogue's table).

        Returns
        -------
        dict of str to (float, int, str or bool)
            Statistic name to value: the model, observations, exceptions, alpha, the test statistics and p-values, the
            traffic light and the dates covered.
        """
        return {
            "model": self.model,
            "observations": self.observations,
            "exceptions": self.exceptions,
            "alpha": float(self.alpha),
            "expected_exceptions": float(self.observations * (1.0 - self.alpha)),
            "horizon_days": self.horizon_days,
            "first_date": str(self.dates[0]),
            "last_date": str(self.dates[-1]),
            "overlapping": self.overlapping,
            "kupiec_lr": float(self.kupiec_lr),
            "kupiec_p": float(self.kupiec_p),
            "christoffersen_ind_lr": float(self.christoffersen_ind_lr),
            "christoffersen_ind_p": float(self.christoffersen_ind_p),
            "conditional_coverage_lr": float(self.conditional_coverage_lr),
            "conditional_coverage_p": float(self.conditional_coverage_p),
            "traffic_light": self.traffic_light,
            "verdict": "fail: " + "; ".join(self.failures) if self.failures else "pass",
        }


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def kupiec_pof(exceptions: int, observations: int, alpha: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures LR and its chi-squared(1) p-value.

    Parameters
    ----------
    exceptions, observations : int
        Days the loss exceeded the margin, and days tested (0 <= exceptions <= observations).
    alpha : float
        Confidence level of the measure (exception probability 1 - alpha under the null).

    Returns
    -------
    (float, float)
        LR statistic and p-value.

    Notes
    -----
    Kupiec, P. (1995), "Techniques for verifying the accuracy of risk measurement models",
    *Journal of Derivatives* 3(2), 73-84.

    Examples
    --------
    >>> lr, p = kupiec_pof(2, 250, 0.99)   # 2.5 expected
    >>> round(lr, 4), round(p, 4)
    (0.1084, 0.7419)
    """
    n, x, p = int(observations), int(exceptions), 1.0 - check_alpha(alpha)
    if n <= 0 or not 0 <= x <= n:
        raise PricingInputError(f"backtest: {x} exceptions in {n} observations is not a count")
    phat = x / n
    lr = max(float(-2.0 * (_xlogy(n - x, 1 - p) + _xlogy(x, p) - _xlogy(n - x, 1 - phat) - _xlogy(x, phat))), 0.0)
    return lr, float(stats.chi2.sf(lr, 1))


def christoffersen_independence(exception: BoolArray) -> tuple[float, float]:
    """Christoffersen's independence LR (first-order Markov alternative) and its chi-squared(1) p-value.

    Parameters
    ----------
    exception : array of bool
        Exception indicators in date order.

    Returns
    -------
    (float, float)
        LR statistic and p-value (0 and 1 when there are no transitions to test).

    Notes
    -----
    Christoffersen, P. (1998), "Evaluating interval forecasts", *International Economic Review*
    39(4), 841-862.

    Examples
    --------
    >>> lr, p = christoffersen_independence(np.array([0, 1, 1, 0, 0, 0, 0, 1, 1, 0], dtype=bool))
    >>> round(lr, 4)
    0.09
    """
    e = np.asarray(exception, dtype=bool)
    if e.size < 2:
        return 0.0, 1.0
    prev, cur = e[:-1], e[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    null = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    alt = _xlogy(n00, 1 - pi0) + _xlogy(n01, pi0) + _xlogy(n10, 1 - pi1) + _xlogy(n11, pi1)
    lr = max(float(-2.0 * (null - alt)), 0.0) + 0.0  # + 0.0: never print -0.0
    return lr, float(stats.chi2.sf(lr, 1))


def traffic_light(exceptions: int, observations: int, alpha: float) -> str:
    """Basel zone of an exception count: ``green``, ``yellow`` or ``red``.

    Parameters
    ----------
    exceptions, observations : int
        Days the loss exceeded the margin, and days tested (0 <= exceptions <= observations).
    alpha : float
        The margin's confidence level, e.g. 0.99.

    Returns
    -------
    str
        ``"green"``, ``"yellow"`` or ``"red"``.

    Notes
    -----
    BCBS (1996), *Supervisory framework for the use of "backtesting" in conjunction with the
    internal models approach to market risk capital requirements*, Table 2: the zones end where
    the cumulative binomial probability reaches 95% (green) and 99.99% (yellow).

    Examples
    --------
    >>> [traffic_light(x, 250, 0.99) for x in (4, 5, 9, 10)]
    ['green', 'yellow', 'yellow', 'red']
    """
    cum = float(stats.binom.cdf(exceptions, observations, 1.0 - check_alpha(alpha)))
    if cum < GREEN_BELOW:
        return "green"
    return "yellow" if cum < YELLOW_BELOW else "red"


def _result(
    name: str, alpha: float, h: int, dates: np.ndarray, im: FloatArray, pnl: FloatArray, overlapping: bool
) -> BacktestResult:
    exc = -pnl > im
    x, n = int(exc.sum()), int(exc.size)
    pof, pof_p = kupiec_pof(x, n, alpha)
    ind, ind_p = christoffersen_independence(exc)
    cc = pof + ind
    return BacktestResult(
        name,
        alpha,
        h,
        dates,
        im,
        pnl,
        exc,
        pof,
        pof_p,
        ind,
        ind_p,
        cc,
        float(stats.chi2.sf(cc, 2)),
        traffic_light(x, n, alpha),
        overlapping,
    )


# ----------------------------------------------------------------------------- the relative book


@dataclass(frozen=True)
class _History:
    """Per underlying and calendar day from ``start`` to ``end``: spot and vol-index level."""

    codes: tuple[str, ...]
    days: np.ndarray  # datetime64[D], contiguous
    spot: FloatArray  # (U, D)
    level: FloatArray  # (U, D): the vol index relative to its value on the market date


def _history(codes: tuple[str, ...], market: Market) -> _History:
    hist, vols = _inputs(codes, None, None)
    start = max(h.dates[0] for h in hist.values())
    end = min(h.dates[-1] for h in hist.values())
    days = np.arange(start, end + np.timedelta64(1, "D"), dtype="datetime64[D]")
    spot, level = np.empty((len(codes), days.size)), np.empty((len(codes), days.size))
    ref_day = min(np.datetime64(market.as_of.date(), "D"), end)
    for i, u in enumerate(codes):
        h = hist[u]
        pos = np.searchsorted(h.dates, days)
        if np.any(h.dates[np.minimum(pos, h.dates.size - 1)] != days):
            raise PricingInputError(f"history {h.name}: a day is missing between {start} and {end}")
        spot[i] = h.values[pos]
        index = _vol_index(h, vols[u], days)
        ref = index[int(np.searchsorted(days, ref_day))]
        level[i] = index / ref
    return _History(codes, days, spot, level)


def _vol_index(history: DailySeries, dvol: DailySeries | None, days: np.ndarray) -> FloatArray:
    """DVOL where it exists; elsewhere realised vol scaled to DVOL by the median ratio DVOL/RV30
    on the overlap *up to that day* (an expanding window: no look-ahead; 1.0 before any overlap,
    i.e. before DVOL starts, where no ratio can be estimated)."""
    rv = realised_vol_series(history)
    out = np.full(days.size, np.nan)
    pos = np.searchsorted(rv.dates, days)
    ok = (pos < rv.dates.size) & (rv.dates[np.minimum(pos, rv.dates.size - 1)] == days)
    out[ok] = rv.values[pos[ok]]
    if dvol is not None:
        dpos = np.searchsorted(dvol.dates, days)
        dok = (dpos < dvol.dates.size) & (dvol.dates[np.minimum(dpos, dvol.dates.size - 1)] == days)
        both = ok & dok
        ratios = dvol.values[dpos[both]] / out[both]  # in date order
        seen = np.cumsum(both)  # overlap days up to and including each day
        ratio = np.ones(days.size)
        need = ~dok & (seen > 0)
        # One median per distinct prefix length: a handful (DVOL's gaps), not one per day.
        for k in np.unique(seen[need]):
            ratio[need & (seen == k)] = float(np.median(ratios[:k]))
        out = out * ratio
        out[dok] = dvol.values[dpos[dok]]
    # The first weeks have no realised vol yet: hold the first level.
    first = int(np.argmax(np.isfinite(out)))
    out[:first] = out[first]
    return np.asarray(out, dtype=np.float64)


def _scaled_market(market: Market, levels: dict[str, float]) -> Market:
    """The market with every smile's vols multiplied by its underlying's level (total variance x level²)."""
    surfaces: dict[str, VolSurface] = {}
    for u, s in market.surfaces.items():
        lam = levels.get(u, 1.0)
        smiles = tuple(_ScaledSmile(sm, lam) for sm in s.smiles)
        surfaces[u] = dataclasses.replace(s, smiles=smiles)
    return Market(market.as_of, surfaces, market.chains)


@dataclass(frozen=True)
class _ScaledSmile:
    smile: object
    level: float

    @property
    def t_years(self) -> float:
        return float(self.smile.t_years)  # type: ignore[attr-defined]

    def total_variance(self, k: object) -> FloatArray:
        tv: FloatArray = np.asarray(self.smile.total_variance(k), dtype=np.float64)  # type: ignore[attr-defined]
        return np.asarray(tv * self.level**2, dtype=np.float64)

    def params(self) -> dict[str, float]:
        return {"level": self.level}


def _check_book(book: Portfolio, market: Market, h: int) -> None:
    if len(book) == 0:
        raise PricingInputError("portfolio: the book is empty; there is nothing to backtest")
    t = position_state(book, market).t_years
    live = (book.kind == PERPETUAL) | (t * DAYS_PER_YEAR > h)
    if not live.any():
        last = np.max(book.expiry).astype("datetime64[D]")
        raise PricingInputError(
            f"portfolio: every instrument expires within the {h}-day margin period after {market.as_of:%Y-%m-%d} "
            f"(the last on {last}); a relative backtest needs a position that lives through it"
        )


def _ref_day(hist: _History, market: Market) -> int:
    """Index of the market's date in the history (its last day if the market is later)."""
    return int(np.searchsorted(hist.days, min(np.datetime64(market.as_of.date(), "D"), hist.days[-1])))


# ----------------------------------------------------------------------------- VaR models


#: The IM at each date of a block from the book's scenario P&L per underlying, (B, U, N) USD,
#: and each underlying's size scale S_t / S_ref, (B, U).
ImOfPnl = Callable[[FloatArray, FloatArray], FloatArray]


def _var_im(model: ScenarioVarModel) -> ImOfPnl:
    def im(pnl_u: FloatArray, scale_u: FloatArray) -> FloatArray:
        var, es = var_es(-pnl_u.sum(axis=1), model.alpha)
        return np.maximum(es if model.measure == "es" else var, 0.0)

    return im


def _hybrid_im(model: HybridModel, book: Portfolio, market: Market, n_scenarios: int) -> ImOfPnl:
    """The hybrid's risk (before the NOV credit, as for SPAN) from per-commodity VaRs at each date.

    The spread columns (tier deltas, NOV, short counts) are the market date's, scaled with each
    underlying's spot like the book (the relative book); the composite deltas are not recomputed
    at each date's vol level (a second-order effect on the intra charge only).
    """
    layout = commodity_layout(book, model.span, n_scenarios)
    codes = layout.underlyings
    zeros = {u: np.zeros((int(np.sum(book.underlying == u)), n_scenarios)) for u in codes}
    lin_ref, ext_ref = spread_columns(model.span, book, position_state(book, market), layout, zeros).aggregate(
        book.quantity, book.names
    )
    col_und = np.concatenate([np.full(layout.width[u], j) for j, u in enumerate(codes)])
    ext_und = np.repeat(np.arange(len(codes)), 2)
    measure = kth_worst_measure(model.var.alpha)

    def im(pnl_u: FloatArray, scale_u: FloatArray) -> FloatArray:
        linear = lin_ref[None, :] * scale_u[:, col_und]
        for j, u in enumerate(codes):
            o = layout.offsets[u]
            linear[:, o : o + n_scenarios] = -pnl_u[:, j, :]
        ext = ext_ref[None, :] * scale_u[:, ext_und]
        return assemble_commodities(model.span, linear, ext, layout, market, measure)["risk"]

    return im


def _scenario_params(model: ScenarioVarModel) -> ScenarioParams:
    if isinstance(model.scenario_params, McParams):
        raise PricingInputError(
            "model: the Monte Carlo model is not backtested (its scenarios are simulated, not dated); use hvar or fhs"
        )
    return model.scenario_params


@dataclass(frozen=True)
class DatedPlan:
    """What every block of dates of a VaR-path backtest shares, computed once: the book and its
    state, the scenario library (or the FHS grid per date), the dates tested, the IM rule.

    :func:`dated_block` prices dates ``at[lo:hi]``; :func:`dated_result` assembles the blocks.
    The plan pickles, so a cluster scatters it once and sends blocks of dates as tasks.

    Attributes
    ----------
    book : Portfolio
        The positions backtested.
    market : Market
        The market the positions are valued on at the start of each window.
    model : ScenarioVarModel
        The scenario engine (the hybrid's VaR part for a hybrid).
    hist : _History
        The bundled daily history of the book's underlyings.
    rets, dv : ndarray
        The scenario library: h-day log returns and log vol changes ending on each day.
    fallback : ndarray
        Where the vol change is the realised-vol fallback (no vol index yet).
    vol_scale : ndarray, shape (U, dates)
        The fallback's scale estimated up to each date.
    filtered : (ndarray, ndarray) or None
        The FHS grid per date (None: plain historical simulation).
    state : PositionState
        The book on ``market``.
    w_model : ndarray
        Each position's vol-change weight (:meth:`ScenarioVarModel.vol_weights`).
    ref : int
        Index of ``market``'s date in the history.
    day_pos : ndarray of int
        Each scenario's end day in the history.
    at : ndarray of int
        The scenarios tested as dates.
    window : int
        Look-back in scenarios.
    h : int
        Margin period of risk, days.
    step : int
        Days between tested dates (h, or 1 overlapping).
    im_of : callable
        Scenario P&L -> IM (the VaR rule, or the hybrid's).
    name : str
        The model's name in the result.
    """

    book: Portfolio
    market: Market
    model: ScenarioVarModel
    hist: _History
    rets: FloatArray
    dv: FloatArray
    fallback: np.ndarray
    vol_scale: FloatArray
    filtered: tuple[FloatArray, FloatArray] | None
    state: PositionState
    w_model: FloatArray
    ref: int
    day_pos: np.ndarray
    at: np.ndarray
    window: int
    h: int
    step: int
    im_of: ImOfPnl
    name: str

    def blocks(self) -> list[tuple[int, int]]:
        """[lo, hi) runs of :data:`DATE_BLOCK` dates: the local run's blocks, so a split run is the same arithmetic.

        Returns
        -------
        list of (int, int)
            Half-open ranges ``(start, stop)`` of the dates, one block each.
        """
        return [(lo, min(lo + DATE_BLOCK, self.at.size)) for lo in range(0, self.at.size, DATE_BLOCK)]


def _var_plan(
    book: Portfolio,
    market: Market,
    model: ScenarioVarModel,
    hist: _History,
    step: int,
    lookback_days: int | None,
    im_of: ImOfPnl | None = None,
    name: str | None = None,
) -> DatedPlan:
    p = _scenario_params(model)
    h = int(p.horizon_days)
    window = int(lookback_days if lookback_days is not None else round(p.lookback_years * DAYS_PER_YEAR))
    codes = hist.codes
    hist_series, vols = _inputs(codes, None, None)
    # Every h-day change ending on each day with a full h-day history (the scenario library).
    ends = hist.days[h + 31 :]  # realised-vol changes need a month of history first
    # Realised-vol fallbacks unscaled here: each date t scales them by the ratio estimated up to t.
    rets, dv, fb = _build(
        codes, hist_series, vols, ends, dataclasses.replace(p, include_stress=False), filtered=False, scale_fallback=False
    )
    first = window  # the first backtest date has a full look-back of `window` scenarios
    last = ends.size - h - 1  # the realised period must end inside the history
    if first > last:
        raise PricingInputError(
            f"backtest: a look-back of {window} days plus the {h}-day margin period needs history from "
            f"{ends[0] - np.timedelta64(h, 'D')} to at least {ends[0] + np.timedelta64(window + h, 'D')}; "
            f"the history of {', '.join(codes)} ends {hist.days[-1]}"
        )
    at = np.arange(first, last + 1, step)
    filtered = _filtered_grid(codes, hist_series, vols, ends, at, window, h, p) if p.filtered else None
    vscale = np.stack([expanding_vol_scale(hist_series[u], vols[u], ends[at], h) for u in codes])  # (U, dates)
    state = position_state(book, market)
    return DatedPlan(
        book,
        market,
        model,
        hist,
        rets,
        dv,
        fb,
        vscale,
        filtered,
        state,
        model.vol_weights(state),
        _ref_day(hist, market),
        np.searchsorted(hist.days, ends),
        at,
        window,
        h,
        step,
        im_of if im_of is not None else _var_im(model),
        name or model.name,
    )


def dated_block(plan: DatedPlan, lo: int, hi: int) -> tuple[FloatArray, FloatArray]:
    """(IM, realised P&L) of the backtest dates ``plan.at[lo:hi]``, USD: the book revalued once
    over (dates x scenarios) of the block.

    Parameters
    ----------
    plan : DatedPlan
        The plan from :func:`dated_plan`.
    lo, hi : int
        The range of tested dates, [lo, hi).

    Returns
    -------
    (im, realised) : ndarrays of shape (hi - lo,)
        USD.
    """
    book, market, model, hist, codes, h = plan.book, plan.market, plan.model, plan.hist, plan.hist.codes, plan.h
    block = plan.at[lo:hi]
    pos_t = plan.day_pos[block]
    level_t = hist.level[:, pos_t]  # (U, B)
    scale = expand(hist.spot[:, pos_t] / hist.spot[:, [plan.ref]], codes, book)  # (P, B): USD size moves with spot
    if plan.filtered is not None:
        r_win, v_win = plan.filtered[0][lo:hi], plan.filtered[1][lo:hi]  # (B, U, N)
    else:
        idx = block[:, None] - plan.window + 1 + np.arange(plan.window)[None, :]  # the window ending on or before t
        r_win = np.moveaxis(plan.rets[:, idx], 0, 1)  # (B, U, N)
        # Realised-vol fallbacks at the ratio estimated up to each date t (no look-ahead).
        fb_win = np.moveaxis(plan.fallback[:, idx], 0, 1)
        v_win = np.moveaxis(plan.dv[:, idx], 0, 1)
        v_win = np.where(fb_win, v_win * plan.vol_scale[:, lo:hi].T[:, :, None], v_win)
    n_sc = r_win.shape[2]
    ret_cols = np.concatenate(list(r_win), axis=1) if block.size else np.zeros((len(codes), 0))  # (U, B*N)
    v_cols = np.concatenate(list(v_win), axis=1) if block.size else np.zeros((len(codes), 0))
    level_p = _position_levels(level_t, codes, book)  # (P, B)
    fac_cols = np.repeat(level_p, n_sc, axis=1) * np.exp(expand(v_cols, codes, book) * plan.w_model[:, None])
    pnl = reprice(
        book,
        market,
        expand(ret_cols, codes, book),
        vol_factor=fac_cols,
        horizon_days=float(h),
        rule=model.rule,
        state=plan.state,
        coin=False,
    ).usd
    level_base = reprice(
        book,
        market,
        np.zeros((len(book), block.size)),
        vol_factor=level_p,
        horizon_days=0.0,
        rule=model.rule,
        state=plan.state,
        coin=False,
    ).usd
    # P&L from the start-of-period value (vols at the level of t), not from the market date's.
    pnl = pnl.reshape(len(book), block.size, n_sc) - level_base[:, :, None]
    pnl = pnl * scale[:, :, None]
    pnl_u = np.stack([pnl[book.underlying == u].sum(axis=0) for u in codes], axis=1)  # (B, U, N)
    scale_u = (hist.spot[:, pos_t] / hist.spot[:, [plan.ref]]).T  # (B, U)
    im = plan.im_of(pnl_u, scale_u)
    # Realised: the spot move and the vol level over (t, t + h].
    pos_e = pos_t + h
    r_real = np.log(hist.spot[:, pos_e] / hist.spot[:, pos_t])
    real = reprice(
        book,
        market,
        expand(r_real, codes, book),
        vol_factor=_position_levels(hist.level[:, pos_e], codes, book),
        horizon_days=float(h),
        rule=model.rule,
        state=plan.state,
        coin=False,
    ).usd
    return np.asarray(im, dtype=np.float64), np.asarray(((real - level_base) * scale).sum(axis=0), dtype=np.float64)


def dated_result(plan: DatedPlan, parts: list[tuple[FloatArray, FloatArray]]) -> BacktestResult:
    """The :class:`BacktestResult` from the blocks' (IM, realised) in date order.

    Parameters
    ----------
    plan : DatedPlan
        The plan from :func:`dated_plan`.
    parts : list of (ndarray, ndarray)
        :func:`dated_block` of each of ``plan.blocks()``, in order.

    Returns
    -------
    BacktestResult
        Exceptions, coverage, Kupiec test and traffic light over every date.
    """
    im = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    realised = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    return _result(plan.name, plan.model.alpha, plan.h, plan.hist.days[plan.day_pos[plan.at]], im, realised, plan.step < plan.h)


def dated_plan(
    book: Portfolio, market: Market, model: MarginModel, *, overlapping: bool = False, lookback_days: int | None = None
) -> DatedPlan | None:
    """The :class:`DatedPlan` of a VaR or hybrid backtest (None for the venue replicas, which run whole);
    arguments as :func:`backtest`.

    Parameters
    ----------
    book : Portfolio
        The positions backtested.
    market : Market
        The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
    model : MarginModel
        The margin model whose IM is tested against realised losses.
    overlapping : bool
        Daily instead of every h days.
    lookback_days : int, optional
        Look-back of the VaR in days (default: the model's ``lookback_years``).

    Returns
    -------
    DatedPlan or None
        None for SPAN and the Deribit risk matrix.
    """
    if not isinstance(model, ScenarioVarModel | HybridModel):
        return None
    codes = tuple(sorted(set(book.underlyings)))
    hist = _history(codes, market)
    var = model if isinstance(model, ScenarioVarModel) else model.var
    check_alpha(var.alpha)
    h = int(var.horizon_days)
    _check_book(book, market, h)
    step = 1 if overlapping else h
    if isinstance(model, ScenarioVarModel):
        return _var_plan(book, market, var, hist, step, lookback_days)
    n = int(lookback_days if lookback_days is not None else round(_scenario_params(var).lookback_years * DAYS_PER_YEAR))
    return _var_plan(book, market, var, hist, step, lookback_days, _hybrid_im(model, book, market, n), model.name)


def _filtered_grid(
    codes: tuple[str, ...],
    hist: dict[str, DailySeries],
    vols: dict[str, DailySeries | None],
    ends: np.ndarray,
    at: np.ndarray,
    window: int,
    h: int,
    p: ScenarioParams,
) -> tuple[FloatArray, FloatArray]:
    """FHS scenarios per backtest date: r_j sigma_now(t) / sigma_start(j), for returns and vol changes,
    with the vol floor of docs/methodology.md §C3.3 per date. Returns ((B, U, N), (B, U, N))."""
    # FHS: the realised-vol fallback unscaled (its standardised changes are scale-free), as the engine's FHS.
    raw_r, raw_v, _ = _build(
        codes, hist, vols, ends, dataclasses.replace(p, include_stress=False), filtered=False, scale_fallback=False
    )
    out_r = np.empty((at.size, len(codes), window))
    out_v = np.empty_like(out_r)
    idx = at[:, None] - window + 1 + np.arange(window)[None, :]
    for i, u in enumerate(codes):
        for raw, out, (dates, daily), lam in (
            (raw_r, out_r, _daily_log_changes(hist[u]), p.ewma_lambda),
            (raw_v, out_v, _vol_daily(hist[u], vols[u]), p.vol_ewma_lambda),
        ):
            sigma = _ewma_forecasts(daily, lam)
            start = sigma[np.searchsorted(dates, ends - np.timedelta64(h - 1, "D"))]  # per scenario j
            csum = np.concatenate([[0.0], np.cumsum(start)])
            window_mean = (csum[at + 1] - csum[at + 1 - window]) / window
            now = floored_vol(sigma, dates, ends[at], window_mean, p.vol_floor_ratio, p.vol_floor_years)  # per date t
            out[:, i, :] = raw[i][idx] / start[idx] * now[:, None]
    return out_r, out_v


# ----------------------------------------------------------------------------- venue replicas


def _replica_backtest(
    book: Portfolio,
    market: Market,
    model: MarginModel,
    hist: _History,
    step: int,
    h: int,
    alpha: float,
    progress: Callable[[int], None] | None,
    on_total: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Venue replicas: IM recomputed per date on the rescaled book (their scenarios are fixed moves).

    The relative book at date t is the book with each quantity scaled by S_t / S_ref: option
    values are homogeneous of degree one in (S, K), so holding s x q of a contract struck at
    K at spot S has the USD risk of q of one struck at s K at spot s S.
    """
    codes = hist.codes
    ref = _ref_day(hist, market)
    at = np.arange(31, hist.days.size - h, step)  # the vol index needs a month of history
    if on_total is not None:
        on_total(int(at.size))
    state = position_state(book, market)
    im = np.empty(at.size)
    realised = np.empty(at.size)
    for i, t in enumerate(at):
        scale = expand((hist.spot[:, t] / hist.spot[:, ref])[:, None], codes, book)[:, 0]
        scaled = _scaled_market(market, {u: float(hist.level[j, t]) for j, u in enumerate(codes)})
        res = margin(book.with_quantity(book.quantity * scale), scaled, model)
        # The loss measure the venue holds against a move: SPAN's risk before the option-value
        # credit (premium already paid or received is not margin), Deribit's risk-matrix margin.
        im[i] = res.components.get("risk", res.core)
        start = reprice(
            book,
            market,
            np.zeros((len(book), 1)),
            vol_factor=_position_levels(hist.level[:, [t]], codes, book),
            state=state,
            coin=False,
        )
        r = expand(np.log(hist.spot[:, [t + h]] / hist.spot[:, [t]]), codes, book)
        end = reprice(
            book,
            market,
            r,
            vol_factor=_position_levels(hist.level[:, [t + h]], codes, book),
            horizon_days=float(h),
            state=state,
            coin=False,
        )
        realised[i] = float(((end.usd[:, 0] - start.usd[:, 0]) * scale).sum())
        if progress is not None:
            progress(1)
    return _result(model.name, alpha, h, hist.days[at], im, realised, step < h)


# ----------------------------------------------------------------------------- entry point


def backtest(
    book: Portfolio,
    market: Market,
    model: MarginModel,
    *,
    overlapping: bool = False,
    lookback_days: int | None = None,
    replica_alpha: float = 0.99,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Backtest ``model``'s core IM of ``book`` on the bundled history (see the module docstring).

    Parameters
    ----------
    book : Portfolio
        Held relative to ``market``'s date: constant time to expiry and moneyness.
    market : Market
        The surfaces the book's vols come from (scaled by the vol index on each date).
    model : MarginModel
        hvar or fhs (scenario VaR/ES), span or deribit (venue replicas).
    overlapping : bool
        Daily instead of every h days. The exceptions are then autocorrelated, the
        Christoffersen test is not valid and the Kupiec test over-rejects; reported as such.
    lookback_days : int, optional
        Look-back of the VaR models in days (default: the model's ``lookback_years``).
    replica_alpha : float
        Coverage the venue replicas are held to (they publish none; 99%, EMIR's floor for
        exchange-traded instruments, docs/methodology.md §C1).
    progress, on_total : callables, optional
        ``on_total(n_dates)`` once, then ``progress(k)`` as k more dates are done.

    Returns
    -------
    BacktestResult
        Exceptions, coverage, Kupiec test and traffic light.

    Notes
    -----
    EMIR RTS 153/2013 Art. 47-49 (backtesting of the margin model); Kupiec (1995),
    Christoffersen (1998), BCBS (1996) for the tests.
    """
    plan = dated_plan(book, market, model, overlapping=overlapping, lookback_days=lookback_days)
    if plan is not None:
        if on_total is not None:
            on_total(int(plan.at.size))
        parts = []
        for lo, hi in plan.blocks():
            parts.append(dated_block(plan, lo, hi))
            if progress is not None:
                progress(hi - lo)
        return dated_result(plan, parts)
    hist = _history(tuple(sorted(set(book.underlyings))), market)
    h = max(round(model.horizon_days), 1)
    _check_book(book, market, h)
    step = 1 if overlapping else h
    return _replica_backtest(book, market, model, hist, step, h, check_alpha(replica_alpha), progress, on_total)


#: The statistics of :meth:`BacktestResult.summary` a table shows, in order (Excel and the CLI).
BACKTEST_COLUMNS = (
    "model",
    "observations",
    "exceptions",
    "expected_exceptions",
    "alpha",
    "horizon_days",
    "first_date",
    "last_date",
    "kupiec_lr",
    "kupiec_p",
    "christoffersen_ind_lr",
    "christoffersen_ind_p",
    "conditional_coverage_p",
    "traffic_light",
    "verdict",
)
