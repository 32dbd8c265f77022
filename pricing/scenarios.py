"""Joint market scenarios for margin: historical (HS), filtered historical (FHS), stressed, Monte Carlo.

A scenario is, per underlying, an h-day log return of the spot and an h-day change of the log
of implied vol, both taken from the **same dates** for every underlying so that the BTC/ETH
correlation and the spot/vol correlation of the history are kept (docs/methodology.md §C3).

Historical scenarios (docs/methodology.md §C3.2): daily closes S_0..S_n in the look-back window give the
overlapping returns r_t = ln(S_t / S_{t-h}), t = h..n, so N = n - h + 1. Five years of 24/7
closes (1,826 prices) at h = 2 give N = 1,824.

Implied-vol changes are relative log-changes of Deribit's DVOL over the same h days. DVOL
starts on 2021-03-24 and the bundled file ends on 2026-04-05; for scenario dates outside it
the change is taken from the 30-day realised vol of the same underlying, Δ ln RV30, scaled by
the ratio of standard deviations sd(Δ ln DVOL) / sd(Δ ln RV30) measured where both exist
(a documented fallback). The ratio is estimated without look-ahead, on an **expanding window**:
a scenario set ending on date t uses the h-day changes ending on overlap dates <= t only (1.0,
no scaling, while fewer than 31 exist — before DVOL starts). Every scenario set reports which
scenarios used the fallback. FHS does not scale the fallback at all: its standardised changes
Δ/σ are scale-free, so RV30 changes enter as they are and no constant is calibrated.

Filtered historical simulation (docs/methodology.md §C3.3, LCH PAIRS): daily EWMA variance
σ²_t = λ σ²_{t-1} + (1 - λ) r²_{t-1}; a scenario over days (t-h, t] is rescaled by
σ_now / σ_{t-h+1}, the ratio of today's forecast to the forecast at the start of the window,
with σ_now floored at ``vol_floor_ratio`` times the window's average forecast (an
anti-procyclicality floor). Vol changes are filtered the same way with their own λ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
from scipy import stats
from scipy.signal import lfilter

from pricing._typing import BoolArray, FloatArray
from pricing.daycount import DAYS_PER_YEAR
from pricing.errors import DataError, PricingInputError
from pricing.marketdata import DailySeries, load_dvol, load_history

#: Crypto stress windows (inclusive end dates of scenarios): COVID crash, May 2021 sell-off,
#: Luna/3AC (May-June 2022), FTX (November 2022).
DEFAULT_STRESS_WINDOWS: tuple[tuple[str, str], ...] = (
    ("2020-03-01", "2020-04-15"),
    ("2021-05-01", "2021-06-30"),
    ("2022-05-01", "2022-07-15"),
    ("2022-11-01", "2022-11-30"),
)
_RV_WINDOW_DAYS = 30


@dataclass(frozen=True)
class ScenarioParams:
    """How historical scenarios are built.

    Attributes
    ----------
    horizon_days : int
        Margin period of risk h in calendar days (EMIR Art. 26: >= 2 business days for
        exchange-traded derivatives; crypto trades 24/7). Default 2.
    lookback_years : float
        Look-back window, 365-day years (default 5).
    as_of : date or None
        Last scenario end date. None: the latest date every needed history covers.
    filtered : bool
        Filtered historical simulation (EWMA rescaling) instead of plain HS.
    ewma_lambda, vol_ewma_lambda : float
        EWMA decay for returns and for log-vol changes (0.97, LCH's published value).
    vol_floor_ratio : float
        FHS floor: today's vol >= this x the average vol (0 disables).
    vol_floor_years : float or None
        Years of daily history the floor's average vol is taken over (None: the look-back
        window). ``vol_floor_ratio=1, vol_floor_years=10`` is EMIR RTS 153/2013 Art. 28(c): margin
        not lower than with volatility estimated over a 10-year look-back (capped at the history
        available; the bundled ETH history is 8.8 years).
    include_stress : bool
        Append the stressed scenarios of ``stress_windows`` (flagged in ``ScenarioSet.stressed``).
    stress_windows : tuple of (start, end) ISO dates
        Stressed periods; scenarios whose end date falls inside are taken unfiltered.
    """

    horizon_days: int = 2
    lookback_years: float = 5.0
    as_of: date | None = None
    filtered: bool = False
    ewma_lambda: float = 0.97
    vol_ewma_lambda: float = 0.97
    vol_floor_ratio: float = 0.75
    vol_floor_years: float | None = None
    include_stress: bool = False
    stress_windows: tuple[tuple[str, str], ...] = DEFAULT_STRESS_WINDOWS

    def __post_init__(self) -> None:
        if not (isinstance(self.horizon_days, (int, np.integer)) and 1 <= self.horizon_days <= 30):
            raise PricingInputError(f"horizon_days: must be a whole number of days in [1, 30], got {self.horizon_days!r}")
        if not (0.0 < float(self.lookback_years) <= 20):
            raise PricingInputError(f"lookback_years: must be in (0, 20], got {self.lookback_years!r}")
        for name in ("ewma_lambda", "vol_ewma_lambda"):
            value = getattr(self, name)
            if not (0.0 < value < 1.0):
                raise PricingInputError(f"{name}: must be in (0, 1), got {value!r}")
        if not (0.0 <= self.vol_floor_ratio <= 1.0):
            raise PricingInputError(f"vol_floor_ratio: must be in [0, 1], got {self.vol_floor_ratio!r}")
        if self.vol_floor_years is not None and not (0.0 < float(self.vol_floor_years) <= 20):
            raise PricingInputError(f"vol_floor_years: must be in (0, 20] years, got {self.vol_floor_years!r}")


@dataclass(frozen=True)
class ScenarioSet:
    """Joint scenarios: ``returns[u, s]`` and ``vol_changes[u, s]`` for underlying ``underlyings[u]``.

    Attributes
    ----------
    underlyings : tuple[str, ...]
        Underlying codes, the order of the rows (``"BTC"``).
    end_dates : ndarray of datetime64[D]
        Last day of each scenario's window (NaT for simulated scenarios).
    returns : ndarray (U, S)
        h-day log return of the spot.
    vol_changes : ndarray (U, S)
        h-day change of ln(implied vol), applied multiplicatively: σ' = σ e^Δ.
    stressed : ndarray of bool (S,)
        True for scenarios of the appended stressed set.
    vol_fallback : ndarray of bool (U, S)
        True where the vol change came from realised vol, not DVOL.
    horizon_days : int
        Margin period of risk h, calendar days, of every scenario.
    kind : str
        ``"hs"``, ``"fhs"`` or ``"mc"``.
    notes : tuple of str
        How the set was built, for the user.
    """

    underlyings: tuple[str, ...]
    end_dates: np.ndarray
    returns: FloatArray
    vol_changes: FloatArray
    stressed: BoolArray
    vol_fallback: BoolArray
    horizon_days: int
    kind: str = "hs"
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.returns.shape[1])

    def index(self, underlying: str) -> int:
        """The row of one underlying in ``returns`` and ``vol_changes`` (case-insensitive).

        Parameters
        ----------
        underlying : str
            Underlying code, e.g. ``"BTC"``.

        Returns
        -------
        int
            The row of the underlying in ``returns`` and ``vol_changes``.

        Raises
        ------
        PricingInputError
            The set has no history for it (the message lists those it has).
        """
        try:
            return self.underlyings.index(str(underlying).upper())
        except ValueError:
            raise PricingInputError(
                f"underlying: no scenario history for {underlying!r}; scenarios cover {', '.join(self.underlyings)}"
            ) from None

    def core(self) -> ScenarioSet:
        """The scenarios of the look-back window only (stressed set removed).

        Returns
        -------
        ScenarioSet
            The scenarios not in the stressed set.
        """
        return self.subset(~self.stressed)

    def stress(self) -> ScenarioSet:
        """The stressed scenarios only.

        Returns
        -------
        ScenarioSet
            The scenarios of the stressed set.
        """
        return self.subset(self.stressed)

    def subset(self, mask: BoolArray) -> ScenarioSet:
        """The scenarios where ``mask`` is true, in order.

        Parameters
        ----------
        mask : ndarray of bool, shape (S,)
            True for the scenarios kept.

        Returns
        -------
        ScenarioSet
            The kept scenarios, in order.
        """
        return replace(
            self,
            end_dates=self.end_dates[mask],
            returns=self.returns[:, mask],
            vol_changes=self.vol_changes[:, mask],
            stressed=self.stressed[mask],
            vol_fallback=self.vol_fallback[:, mask],
        )


def _daily_log_changes(series: DailySeries) -> tuple[np.ndarray, FloatArray]:
    return series.dates[1:], np.diff(np.log(series.values))


def _check_contiguous(series: DailySeries, start: np.datetime64, end: np.datetime64, field_name: str) -> None:
    """Raise if ``series`` does not cover [start, end] day by day."""
    if series.dates[0] > start or series.dates[-1] < end:
        raise PricingInputError(
            f"{field_name}: history {series.name} covers {series.dates[0]} to {series.dates[-1]}; "
            f"the window needs {start} to {end} (shorten lookback_years or move as_of)"
        )
    inside = (series.dates >= start) & (series.dates <= end)
    expected = int((end - start).astype(np.int64)) + 1
    if int(inside.sum()) != expected:
        gaps = np.flatnonzero(np.diff(series.dates[inside]).astype(np.int64) > 1)
        first = series.dates[inside][gaps[0]] if gaps.size else start
        raise DataError(f"{series.name}: gap in daily history after {first}; the window {start} to {end} must have every day")
    if not np.all(series.values[inside] > 0):
        raise DataError(f"{series.name}: non-positive value in the window {start} to {end}")


def _window_changes(series: DailySeries, ends: np.ndarray, h: int) -> tuple[FloatArray, BoolArray]:
    """ln X_t - ln X_{t-h} for each end date t; (values, available)."""
    logs = np.log(series.values)
    pos_end = np.searchsorted(series.dates, ends)
    pos_start = np.searchsorted(series.dates, ends - np.timedelta64(h, "D"))
    n = series.dates.size
    ok = (pos_end < n) & (pos_start < n)
    ok &= series.dates[np.minimum(pos_end, n - 1)] == ends
    ok &= series.dates[np.minimum(pos_start, n - 1)] == ends - np.timedelta64(h, "D")
    out = np.where(ok, logs[np.minimum(pos_end, n - 1)] - logs[np.minimum(pos_start, n - 1)], np.nan)
    return out, ok


def realised_vol_series(history: DailySeries, window_days: int = _RV_WINDOW_DAYS) -> DailySeries:
    """Annualised rolling realised vol of daily log returns (365-day year), from day ``window_days``.

    Parameters
    ----------
    history : DailySeries
        Daily closes, USD.
    window_days : int
        Rolling window, days (30).

    Returns
    -------
    DailySeries
        Decimal vol, from the ``window_days``-th day.

    Notes
    -----
    RV_t = √(365/n Σ_{i=t-n+1..t} r_i²) with r_i = ln(S_i/S_{i-1}), n = ``window_days`` (zero-mean
    estimator, as realised-vol indices compute it).
    """
    _, r = _daily_log_changes(history)
    csum = np.concatenate([[0.0], np.cumsum(r * r)])
    var = (csum[window_days:] - csum[:-window_days]) / window_days
    vols = np.sqrt(np.maximum(var, 1e-12) * DAYS_PER_YEAR)
    return DailySeries(f"{history.name} RV{window_days}", history.dates[window_days:], vols)


def expanding_vol_scale(history: DailySeries, dvol: DailySeries | None, dates: np.ndarray, h: int) -> FloatArray:
    """sd(Δ_h ln DVOL) / sd(Δ_h ln RV30) estimated on data up to each of ``dates`` (expanding window).

    Parameters
    ----------
    history : DailySeries
        Daily closes (RV30 is computed from them).
    dvol : DailySeries or None
        The vol index (decimal); None: no scaling.
    dates : array of datetime64[D]
        The dates t the estimate is wanted on.
    h : int
        Change horizon in days.

    Returns
    -------
    ndarray
        One ratio per date, population standard deviations over the h-day changes ending on the
        dates both series cover up to t; 1.0 while fewer than 31 such changes exist.

    Notes
    -----
    Nothing after t enters the estimate at t, so a backtest at t never sees the future
    (docs/methodology.md §C3.2). Computed from running sums: var = E[x²] − E[x]².
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    if dvol is None:
        return np.ones(d.shape)
    rv = realised_vol_series(history)
    common = dvol.dates[(dvol.dates >= rv.dates[0] + np.timedelta64(h, "D")) & np.isin(dvol.dates, rv.dates)]
    a, _ = _window_changes(dvol, common, h)
    b, _ = _window_changes(rv, common, h)
    both = np.isfinite(a) & np.isfinite(b)
    common, a, b = common[both], a[both], b[both]
    k = np.searchsorted(common, d, side="right")
    n = np.maximum(k, 1)

    def running_var(x: FloatArray) -> FloatArray:
        s1 = np.concatenate([[0.0], np.cumsum(x)])[k]
        s2 = np.concatenate([[0.0], np.cumsum(x * x)])[k]
        return np.asarray(np.maximum(s2 / n - (s1 / n) ** 2, 0.0), dtype=np.float64)

    var_a, var_b = running_var(a), running_var(b)
    ok = (k > 30) & (var_b > 0)
    return np.asarray(np.where(ok, np.sqrt(var_a / np.where(ok, var_b, 1.0)), 1.0), dtype=np.float64)


def vol_change_scenarios(
    history: DailySeries,
    dvol: DailySeries | None,
    ends: np.ndarray,
    h: int,
    *,
    scale_fallback: bool = True,
    scale_as_of: np.datetime64 | None = None,
) -> tuple[FloatArray, BoolArray, float]:
    """Δ ln(implied vol) per end date: DVOL where available, scaled realised-vol change elsewhere.

    Returns (changes, used_fallback, scale) where ``scale`` = sd(Δ ln DVOL) / sd(Δ ln RV30)
    estimated on the h-day windows ending on or before ``scale_as_of`` (default: the last of
    ``ends``) where both exist (:func:`expanding_vol_scale`; 1.0 if they do not overlap by then).
    With ``scale_fallback=False`` the realised-vol changes enter unscaled (scale 1.0).

    Parameters
    ----------
    history : DailySeries
        Daily closes of the underlying, USD.
    dvol : DailySeries or None
        DVOL in percent (None: realised vol everywhere).
    ends : ndarray of datetime64[D]
        The scenarios' end days.
    h : int
        Horizon, days.
    scale_fallback : bool
        Scale the realised-vol changes to DVOL's.
    scale_as_of : numpy.datetime64, optional
        The last day the scale may use.

    Returns
    -------
    (changes, used_fallback, scale) : (ndarray, ndarray of bool, float)
        One change and flag per end date, and the scale applied.
    """
    rv = realised_vol_series(history)
    rv_changes, rv_ok = _window_changes(rv, ends, h)
    scale = 1.0
    if dvol is not None:
        d_changes, d_ok = _window_changes(dvol, ends, h)
        if scale_fallback and ends.size:
            at = np.asarray([np.asarray(ends).max() if scale_as_of is None else scale_as_of], dtype="datetime64[D]")
            scale = float(expanding_vol_scale(history, dvol, at, h)[0])
    else:
        d_changes, d_ok = np.full(ends.shape, np.nan), np.zeros(ends.shape, bool)
    fallback = ~d_ok
    changes = np.where(d_ok, d_changes, scale * rv_changes)
    if np.any(fallback & ~rv_ok):
        bad = ends[fallback & ~rv_ok][0]
        raise PricingInputError(f"scenario dates: no DVOL and no 30-day realised vol for the window ending {bad}")
    return changes, fallback, scale


def _ewma_forecasts(daily: FloatArray, lam: float, seed_days: int = 30) -> FloatArray:
    """One-step-ahead EWMA vol forecasts: out[i] uses daily[:i]; out has len(daily) + 1."""
    var = np.empty(daily.size + 1)
    var[0] = np.mean(daily[: max(seed_days, 1)] ** 2)
    # A recursion is inherently sequential; scipy.signal.lfilter runs it in C.
    b, a = [1.0 - lam], [1.0, -lam]
    filtered, _ = lfilter(b, a, daily**2, zi=[lam * var[0]])
    var[1:] = filtered
    return np.sqrt(np.maximum(var, 1e-16))


def _filter(
    changes: FloatArray,
    daily_dates: np.ndarray,
    daily: FloatArray,
    ends: np.ndarray,
    h: int,
    lam: float,
    floor: float,
    floor_years: float | None = None,
) -> FloatArray:
    """Rescale h-day changes ending on ``ends`` by σ_now / σ_start (docs/methodology.md §C3.3),
    σ_now floored at ``floor`` x the average σ of the window (or of the last ``floor_years``)."""
    sigma = _ewma_forecasts(daily, lam)  # sigma[i]: forecast for daily[i], using daily[:i]
    window = sigma[np.searchsorted(daily_dates, ends - np.timedelta64(h - 1, "D"))]
    now = floored_vol(sigma, daily_dates, ends[-1:], np.array([np.mean(window)]), floor, floor_years)[0]
    return np.asarray(changes * now / window, dtype=np.float64)


def floored_vol(
    sigma: FloatArray,
    daily_dates: np.ndarray,
    now_dates: np.ndarray,
    window_mean: FloatArray,
    floor: float,
    floor_years: float | None,
) -> FloatArray:
    """FHS scaling vol on each of ``now_dates``: today's EWMA σ, floored at ``floor`` x an average σ.

    The average is ``window_mean`` (the mean σ at the start of the window's scenarios), or, with
    ``floor_years``, the mean σ of that many years of daily history before the date (EMIR RTS
    153/2013 Art. 28(c) with ``floor`` = 1 and 10 years; docs/methodology.md §C3.3).

    Parameters
    ----------
    sigma : ndarray
        Daily EWMA σ.
    daily_dates : ndarray of datetime64[D]
        Its days.
    now_dates : ndarray of datetime64[D]
        The dates to scale to.
    window_mean : ndarray
        The mean σ at the start of the window's scenarios.
    floor : float
        Multiple of the average σ (1 = EMIR's floor).
    floor_years : float or None
        Years of history the average is taken over (None: ``window_mean``).

    Returns
    -------
    ndarray
        σ per ``now_dates``.
    """
    last = np.searchsorted(daily_dates, now_dates, side="right")
    if floor_years is None:
        average = np.asarray(window_mean, dtype=np.float64)
    else:
        first = np.maximum(last - round(float(floor_years) * DAYS_PER_YEAR), 0)
        csum = np.concatenate([[0.0], np.cumsum(sigma)])
        average = (csum[last] - csum[first]) / np.maximum(last - first, 1)
    return np.asarray(np.maximum(sigma[last], floor * average), dtype=np.float64)


def _scenario_dates(histories: dict[str, DailySeries], params: ScenarioParams) -> tuple[np.ndarray, np.datetime64]:
    # The window ends on as_of, or on the last date every history has if that is earlier: a
    # market dated after the end of one history uses the joint window that history allows.
    latest = min(h.dates[-1] for h in histories.values())
    end = min(np.datetime64(str(params.as_of), "D"), latest) if params.as_of is not None else latest
    days = round(float(params.lookback_years) * DAYS_PER_YEAR)
    start = end - np.timedelta64(days, "D")
    if days < params.horizon_days:
        raise PricingInputError(f"horizon_days: {params.horizon_days} is longer than the look-back window of {days} days")
    ends = np.arange(start + np.timedelta64(params.horizon_days, "D"), end + np.timedelta64(1, "D"), dtype="datetime64[D]")
    return ends, start


def historical_scenarios(
    underlyings: tuple[str, ...] | list[str],
    params: ScenarioParams | None = None,
    *,
    histories: dict[str, DailySeries] | None = None,
    dvols: dict[str, DailySeries | None] | None = None,
) -> ScenarioSet:
    """Joint HS or FHS scenarios for ``underlyings`` on the bundled (or given) history.

    Parameters
    ----------
    underlyings : sequence of str
        E.g. ``("BTC", "ETH")``; each needs a price history.
    params : ScenarioParams
        How the scenarios are built: horizon, look-back, filtering (defaults in :class:`ScenarioParams`).
    histories, dvols : dict, optional
        Daily closes and DVOL (decimal) per underlying; default: the bundled files.

    Returns
    -------
    ScenarioSet
        ``N = n - h + 1`` scenarios in date order (plus the stressed set if requested).
    """
    p = params or ScenarioParams()
    codes = tuple(sorted({str(u).strip().upper() for u in underlyings}))
    if not codes:
        raise PricingInputError("underlyings: at least one underlying is needed")
    hist, vols = _inputs(codes, histories, dvols)
    ends, start = _scenario_dates(hist, p)
    for u, series in hist.items():
        _check_contiguous(series, start, ends[-1], f"{u} history")
    rets, dv, fb = _build(codes, hist, vols, ends, p, filtered=p.filtered)
    stressed = np.zeros(ends.size, bool)
    notes = [f"{ends.size} scenarios of {p.horizon_days}-day changes ending {ends[0]} to {ends[-1]}"]
    if p.include_stress:
        s_ends = np.concatenate(
            [
                np.arange(np.datetime64(a, "D"), np.datetime64(b, "D") + np.timedelta64(1, "D"), dtype="datetime64[D]")
                for a, b in p.stress_windows
            ]
        )
        first = max(h.dates[0] for h in hist.values()) + np.timedelta64(p.horizon_days + _RV_WINDOW_DAYS, "D")
        s_ends = s_ends[s_ends >= first]
        if s_ends.size == 0:
            raise PricingInputError("stress_windows: no stressed date is covered by the histories of " + ", ".join(codes))
        # The fallback scale of the stressed dates is estimated up to the set's own date, as the core's.
        s_rets, s_dv, s_fb = _build(codes, hist, vols, s_ends, p, filtered=False, scale_as_of=ends[-1])
        rets, dv, fb = np.hstack([rets, s_rets]), np.hstack([dv, s_dv]), np.hstack([fb, s_fb])
        ends = np.concatenate([ends, s_ends])
        stressed = np.concatenate([stressed, np.ones(s_ends.size, bool)])
        notes.append(f"{s_ends.size} stressed scenarios appended")
    share = fb.mean(axis=1)
    notes.extend(
        f"{u}: {100 * s:.1f}% of vol changes from realised vol (no DVOL on those dates)" for u, s in zip(codes, share) if s > 0
    )
    return ScenarioSet(codes, ends, rets, dv, stressed, fb, p.horizon_days, "fhs" if p.filtered else "hs", tuple(notes))


def _inputs(
    codes: tuple[str, ...], histories: dict[str, DailySeries] | None, dvols: dict[str, DailySeries | None] | None
) -> tuple[dict[str, DailySeries], dict[str, DailySeries | None]]:
    """Price and DVOL series per underlying: the given ones, else the bundled files."""
    hist = {u: (histories or {}).get(u) or _bundled(load_history, u) for u in codes}
    vols = {u: dvols.get(u) if dvols is not None else _bundled_dvol(u) for u in codes}
    return hist, vols


def _bundled(loader: Callable[[str], DailySeries], code: str) -> DailySeries:
    try:
        return loader(code)
    except PricingInputError:
        raise PricingInputError(f"underlying: no bundled price history for {code!r}; bundled: BTC, ETH") from None


def _bundled_dvol(code: str) -> DailySeries | None:
    try:
        return load_dvol(code)
    except (PricingInputError, DataError):
        return None


def _build(
    codes: tuple[str, ...],
    hist: dict[str, DailySeries],
    vols: dict[str, DailySeries | None],
    ends: np.ndarray,
    p: ScenarioParams,
    *,
    filtered: bool,
    scale_fallback: bool = True,
    scale_as_of: np.datetime64 | None = None,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """(returns, vol changes, fallback) per underlying and end date. FHS (``filtered``) and
    ``scale_fallback=False`` leave the realised-vol fallback unscaled (module docstring)."""
    h = p.horizon_days
    rets = np.empty((len(codes), ends.size))
    dv = np.empty_like(rets)
    fb = np.empty(rets.shape, bool)
    for i, u in enumerate(codes):
        r, ok = _window_changes(hist[u], ends, h)
        if not ok.all():
            raise DataError(f"{hist[u].name}: missing closes for the {h}-day window ending {ends[~ok][0]}")
        changes, fallback, _ = vol_change_scenarios(
            hist[u], vols[u], ends, h, scale_fallback=scale_fallback and not filtered, scale_as_of=scale_as_of
        )
        if filtered:
            dates, daily = _daily_log_changes(hist[u])
            r = _filter(r, dates, daily, ends, h, p.ewma_lambda, p.vol_floor_ratio, p.vol_floor_years)
            vdates, vdaily = _vol_daily(hist[u], vols[u])
            changes = _filter(changes, vdates, vdaily, ends, h, p.vol_ewma_lambda, p.vol_floor_ratio, p.vol_floor_years)
        rets[i], dv[i], fb[i] = r, changes, fallback
    return rets, dv, fb


def _vol_daily(history: DailySeries, dvol: DailySeries | None) -> tuple[np.ndarray, FloatArray]:
    """Daily Δ ln(implied vol) for the FHS filter: DVOL where it exists, Δ ln RV30 (unscaled) elsewhere."""
    rv = realised_vol_series(history)
    dates = rv.dates[1:]
    changes, _, _ = vol_change_scenarios(history, dvol, dates, 1, scale_fallback=False)
    return dates, changes


# -- Monte Carlo -------------------------------------------------------------------------


@dataclass(frozen=True)
class McParams:
    """Monte Carlo scenarios: Student-t innovations fitted to EWMA-standardised history.

    Attributes
    ----------
    n_paths : int
        Number of simulated scenarios (default 10,000).
    seed : int
        Seed of numpy's PCG64 generator: the same seed gives the same scenarios.
    horizon_days, lookback_years, as_of, ewma_lambda :
        As in :class:`ScenarioParams`; the fit uses the look-back window.
    """

    n_paths: int = 10_000
    seed: int = 20_240_617
    horizon_days: int = 2
    lookback_years: float = 5.0
    as_of: date | None = None
    ewma_lambda: float = 0.97

    def __post_init__(self) -> None:
        if not (100 <= int(self.n_paths) <= 1_000_000):
            raise PricingInputError(f"n_paths: must be in [100, 1000000], got {self.n_paths!r}")
        ScenarioParams(horizon_days=self.horizon_days, lookback_years=self.lookback_years, ewma_lambda=self.ewma_lambda)


def monte_carlo_scenarios(
    underlyings: tuple[str, ...] | list[str],
    params: McParams | None = None,
    *,
    histories: dict[str, DailySeries] | None = None,
    dvols: dict[str, DailySeries | None] | None = None,
) -> ScenarioSet:
    """Simulated joint scenarios: multivariate Student-t daily innovations, EWMA vol, h days summed.

    Parameters
    ----------
    underlyings : tuple or list of str
        Underlying codes, the order of the rows.
    params : McParams, optional
        Paths, seed, horizon, EWMA (defaults: :class:`McParams`).
    histories, dvols : dict, optional
        Daily closes and DVOL per underlying (default: the bundled history).

    Returns
    -------
    ScenarioSet
        ``kind`` ``"mc"``.

    Notes
    -----
    Factors are each underlying's daily log return and daily Δ ln(implied vol). Each factor is
    standardised by its EWMA forecast, z = x / σ̂; the degrees of freedom ν are the maximum-
    likelihood fit of a Student-t to the pooled return residuals (scipy.stats.t.fit, location
    0), the correlation R is that of the residuals. A day's innovation is
    σ_now · sqrt((ν - 2)/ν) · Z / sqrt(W/ν), Z ~ N(0, R), W ~ χ²_ν shared by the factors (a
    multivariate t, so tails are joint); h days are summed with σ_now held fixed.
    """
    p = params or McParams()
    base = ScenarioParams(horizon_days=p.horizon_days, lookback_years=p.lookback_years, as_of=p.as_of, ewma_lambda=p.ewma_lambda)
    codes = tuple(sorted({str(u).strip().upper() for u in underlyings}))
    hist, vols = _inputs(codes, histories, dvols)
    ends, start = _scenario_dates(hist, base)
    window_days = np.arange(start + np.timedelta64(1, "D"), ends[-1] + np.timedelta64(1, "D"), dtype="datetime64[D]")
    resid, now = [], []
    for u in codes:
        _check_contiguous(hist[u], start, ends[-1], f"{u} history")
        for dates, daily in (_daily_log_changes(hist[u]), _vol_daily(hist[u], vols[u])):
            sigma = _ewma_forecasts(daily, p.ewma_lambda)
            pos = np.searchsorted(dates, window_days)
            if np.any(pos >= dates.size) or np.any(dates[np.minimum(pos, dates.size - 1)] != window_days):
                raise DataError(f"{u}: daily changes missing inside the Monte Carlo fit window")
            resid.append(daily[pos] / sigma[pos])
            now.append(sigma[np.searchsorted(dates, ends[-1], side="right")])
    z = np.array(resid)  # (2U, days): return, vol change, per underlying
    returns_rows = z[0::2].ravel()
    nu, _, _ = stats.t.fit(returns_rows, floc=0.0)
    nu = float(np.clip(nu, 2.5, 60.0))
    corr: FloatArray = np.asarray(np.corrcoef(z), dtype=np.float64)
    chol = np.linalg.cholesky(corr + 1e-12 * np.eye(corr.shape[0]))
    rng = np.random.default_rng(p.seed)
    total = np.zeros((z.shape[0], int(p.n_paths)))
    scale = np.sqrt((nu - 2.0) / nu)
    for _ in range(p.horizon_days):
        normals = chol @ rng.standard_normal((z.shape[0], int(p.n_paths)))
        w = rng.chisquare(nu, int(p.n_paths))
        total += scale * normals / np.sqrt(w / nu)
    total *= np.array(now)[:, None]
    n = int(p.n_paths)
    notes = (f"{n} Monte Carlo scenarios, Student-t nu = {nu:.2f}, fitted on {window_days.size} days",)
    return ScenarioSet(
        codes,
        np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"),
        total[0::2],
        total[1::2],
        np.zeros(n, bool),
        np.zeros((len(codes), n), bool),
        p.horizon_days,
        "mc",
        notes,
    )


def tenor_vol_weights(t_years: FloatArray, power_short: float, power_long: float) -> FloatArray:
    """How much of the 30-day implied-vol change each tenor takes: (30 / DTE)^p.

    Parameters
    ----------
    t_years : array
        Times to expiry (ACT/365 years).
    power_short, power_long : float
        p below 30 days and from 30 days on; 0 and 0 give a parallel shift (every tenor takes
        the 30-day change).

    Returns
    -------
    array
        Weights w; a scenario's vol change for a tenor is w · Δ ln σ_30d.

    Notes
    -----
    Deribit portfolio margin scales its vol shocks by (30/DTE)^0.3 below 30 days and
    (30/DTE)^0.13 beyond (docs/methodology.md §B3): short tenors move more than the 30-day
    vol, long ones less. DTE is floored at one day.

    Examples
    --------
    >>> tenor_vol_weights(np.array([7.5 / 365, 30 / 365, 120 / 365]), 0.5, 0.5).round(6).tolist()
    [2.0, 1.0, 0.5]
    """
    dte = np.maximum(np.asarray(t_years, dtype=np.float64) * DAYS_PER_YEAR, 1.0)
    p = np.where(dte < 30.0, power_short, power_long)
    return np.asarray((30.0 / dte) ** p, dtype=np.float64)
