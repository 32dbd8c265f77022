"""Margin add-ons and anti-procyclicality (docs/methodology.md §C1, C5).

* Liquidity: Σ_i ½ (ask_i - bid_i) |q_i| in USD, times a stress multiplier (the chain is one
  snapshot, not a history of spreads, so the 95th-percentile spread of C5 is approximated by
  a multiple of today's). Options without a two-sided quote use ``half_spread_vol`` x vega;
  futures use ``future_half_spread_bps`` of the forward.
* Concentration (ECC style, C5): effective liquidation period ℓ_u = |net USD delta_u| /
  capacity_u + 0.3 days, capped at 3 days, capacity_u = ``capacity_fraction`` x the 30-day
  average daily traded value (Binance spot, bundled); add-on = IM_market · (√(max(ℓ, h)/h) - 1)
  with ℓ the largest over underlyings and h the margin horizon in days.
* Model risk: ``model_risk_rate`` x IM_market while the backtest exceptions of the VaR model
  exceed the binomial 95% bound (Kupiec-style traffic light).
* Anti-procyclicality (EMIR RTS Art. 28): ``"stress_weight"`` (b): floor = 0.75 core + 0.25
  stressed; ``"buffer"`` (a): floor = 1.25 core; ``"none"``. IM_market = max(core, floor).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from pricing._typing import FloatArray
from pricing.errors import DataError, PricingInputError, parse_choice
from pricing.market import Market
from pricing.marketdata import load_volume_usd
from pricing.portfolio import OPTION, Portfolio
from pricing.positions import PositionState

APC_MODES = {"auto": "auto", "stress_weight": "stress_weight", "buffer": "buffer", "none": "none"}


@dataclass(frozen=True)
class AddOnParams:
    """Add-on and APC parameters (defaults: docs/methodology.md §G, design choices marked [D] there).

    Attributes
    ----------
    apc : {"auto", "stress_weight", "buffer", "none"}
        EMIR Art. 28 option: (b) 25% weight on stressed IM, (a) a 25% buffer, or none. ``auto``
        (default): (b) for the CCP-style VaR models, none for the venue replicas (SPAN, Deribit):
        Art. 28 binds a CCP's own model, and a replica of a venue reproduces what the venue charges.
    apc_weight : float
        Stressed weight for (b), or buffer size for (a). Default 0.25.
    liquidity_stress_multiplier : float
        Multiplier on today's half bid-ask spread (default 1.5).
    half_spread_vol : float
        Half spread in vol (decimal) for options without a two-sided quote (default 0.01).
    future_half_spread_bps : float
        Half spread of futures and perpetuals, basis points of the forward (default 2).
    capacity_fraction : float
        Share of the average daily traded value the market absorbs per day (default 10%).
    daily_capacity_usd : mapping, optional
        Override of the daily market capacity per underlying (USD).
    concentration_base_days, concentration_cap_days : float
        ECC's +0.3 days and 3-day cap.
    model_risk_rate : float
        Add-on share of market IM when the backtest fails (default 10%).
    backtest_days : int
        Days of the backtest behind the model-risk add-on (default 250).
    """

    apc: str = "auto"
    apc_weight: float = 0.25
    liquidity_stress_multiplier: float = 1.5
    half_spread_vol: float = 0.01
    future_half_spread_bps: float = 2.0
    capacity_fraction: float = 0.10
    daily_capacity_usd: Mapping[str, float] = field(default_factory=dict)
    concentration_base_days: float = 0.3
    concentration_cap_days: float = 3.0
    model_risk_rate: float = 0.10
    backtest_days: int = 250

    def __post_init__(self) -> None:
        parse_choice(self.apc, "apc", APC_MODES)
        for name in ("apc_weight", "capacity_fraction", "model_risk_rate"):
            if not (0.0 <= getattr(self, name) <= 1.0):
                raise PricingInputError(f"{name}: must be in [0, 1], got {getattr(self, name)!r}")
        if self.liquidity_stress_multiplier < 0 or self.half_spread_vol < 0 or self.future_half_spread_bps < 0:
            raise PricingInputError("liquidity parameters: spreads and multipliers must be >= 0")


def half_spreads_usd(portfolio: Portfolio, market: Market, state: PositionState, params: AddOnParams) -> FloatArray:
    """Stressed half bid-ask spread per position, USD (≥ 0), for ``portfolio`` and its ``state``
    (the engine passes quantity-1 positions, so this is per contract).

    Parameters
    ----------
    portfolio : Portfolio
        n positions.
    market : Market
        Its surfaces give each option's vol and spot, USD.
    state : PositionState
        The positions' state on ``market``.
    params : AddOnParams
        The stressed spread rates.

    Returns
    -------
    ndarray, shape (n,)
        USD, >= 0.

    Notes
    -----
    Per option: ½ (ask - bid) x the index x the contract size when the chain quotes it on both
    sides, else ``half_spread_vol`` x |vega_usd|; per future: ``future_half_spread_bps`` x F x the
    contract size; all times ``liquidity_stress_multiplier`` (docs/methodology.md §C5, liquidity).
    """
    size = portfolio.contract_size
    opt = portfolio.kind == OPTION
    out = np.where(opt, params.half_spread_vol * np.abs(state.vega_usd), 0.0)
    names = np.asarray(portfolio.names, dtype=str)
    for u, chain in market.chains.items():
        chain_names, half = chain.quoted_half_spreads
        rows = np.flatnonzero(opt & (portfolio.underlying == u))
        if rows.size == 0 or chain_names.size == 0:
            continue
        pos = np.clip(np.searchsorted(chain_names, names[rows]), 0, chain_names.size - 1)
        hit = chain_names[pos] == names[rows]
        out[rows[hit]] = half[pos[hit]] * chain.spot * size[rows[hit]]
    fut = ~opt
    out[fut] = params.future_half_spread_bps * 1e-4 * state.forward[fut] * size[fut]
    return out * params.liquidity_stress_multiplier


def daily_capacity_usd(underlying: str, market: Market, params: AddOnParams) -> float:
    """Market capacity per day (USD): override, else capacity_fraction x 30-day average traded value.

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"``; its daily liquidation capacity is looked up in ``params``.
    market : Market
        For the spot, USD.
    params : AddOnParams
        ``daily_capacity_usd`` override, else ``capacity_fraction`` of the bundled 30-day average
        traded value.

    Returns
    -------
    float
        USD per day.

    Notes
    -----
    capacity = ``capacity_fraction`` x mean of (volume x close) over the 30 days to the market's date
    (the ECC concentration add-on's market capacity; docs/methodology.md §C5).
    """
    if underlying in params.daily_capacity_usd:
        value = float(params.daily_capacity_usd[underlying])
        if not value > 0:
            raise PricingInputError(f"daily_capacity_usd[{underlying}]: must be > 0, got {value!r}")
        return value
    try:
        series = load_volume_usd(underlying)
    except (PricingInputError, DataError):
        raise PricingInputError(
            f"daily_capacity_usd: no bundled volume for {underlying!r}; give daily_capacity_usd for it"
        ) from None
    day = np.datetime64(market.as_of.date(), "D")
    window = series.values[(series.dates <= day) & (series.dates > day - np.timedelta64(30, "D"))]
    if window.size == 0:
        window = series.values[-30:]
    return params.capacity_fraction * float(window.mean())


def concentration_addon(
    market_im: FloatArray, delta_usd: FloatArray, capacity: FloatArray, horizon_days: float, params: AddOnParams
) -> FloatArray:
    """ECC-style concentration add-on, vectorised over a leading batch axis.

    ``delta_usd`` is (B, U) net USD delta per underlying, ``capacity`` (U,) USD per day.

    Parameters
    ----------
    market_im : ndarray, shape (B,)
        IM before add-ons, USD.
    delta_usd : ndarray, shape (B, U)
        Net USD delta per underlying.
    capacity : ndarray, shape (U,)
        Market capacity per underlying, USD per day.
    horizon_days : float
        The model's margin period of risk, days.
    params : AddOnParams
        Add-on and APC parameters (defaults in :class:`~pricing.margin.addons.AddOnParams`).

    Returns
    -------
    ndarray, shape (B,)
        USD, >= 0.

    Notes
    -----
    ℓ_u = min(|Δ_$,u| / capacity_u + base, cap) days (base 0.3, cap 3), ℓ = max_u ℓ_u;
    add-on = IM_market (√(max(ℓ, h)/h) - 1) with h the horizon (ECC concentration add-on;
    docs/methodology.md §C5).
    """
    ell = np.abs(delta_usd) / capacity + params.concentration_base_days
    ell = np.minimum(ell, params.concentration_cap_days).max(axis=-1) if ell.shape[-1] else np.zeros(ell.shape[:-1])
    h = max(float(horizon_days), 1e-9)
    return market_im * (np.sqrt(np.maximum(ell, h) / h) - 1.0)


def apc_floor(core: FloatArray, stressed: FloatArray | None, params: AddOnParams, *, venue_replica: bool = False) -> FloatArray:
    """The anti-procyclicality floor of EMIR RTS 153/2013 Art. 28 (see module docstring).

    Parameters
    ----------
    core : array
        Core IM per batch row, USD.
    stressed : array or None
        IM on the stressed scenarios (None: the model has no stressed set).
    params : AddOnParams
        Add-on and APC parameters (defaults in :class:`~pricing.margin.addons.AddOnParams`).
    venue_replica : bool
        The model replicates a venue (SPAN, Deribit): ``apc="auto"`` then means no floor.

    Returns
    -------
    array
        The floor (0 where none applies); market IM = max(core, floor).

    Notes
    -----
    (b) floor = 0.75 core + 0.25 stressed; (a) floor = 1.25 core, also used for (b) when the
    model has no stressed set; none: 0. docs/methodology.md §C1, §C5.
    """
    mode = parse_choice(params.apc, "apc", APC_MODES)
    if mode == "auto":
        mode = "none" if venue_replica else "stress_weight"
    if mode == "none":
        return np.zeros_like(core)
    if mode == "buffer" or stressed is None:
        return core * (1.0 + params.apc_weight)
    return (1.0 - params.apc_weight) * core + params.apc_weight * stressed


def backtest_exceptions(pnl: FloatArray, alpha: float, window: int, days: int) -> tuple[int, int, int]:
    """(exceptions, days tested, 95% bound) of a rolling VaR backtest on a date-ordered P&L.

    Day t's VaR is the k-th worst loss of the ``window`` scenarios before t (the k rule of
    :mod:`pricing.margin.quantile`); an exception is a loss above it. The bound is the 95%
    quantile of Binomial(days, 1 - α).

    Parameters
    ----------
    pnl : ndarray, shape (N,)
        Date-ordered scenario P&L of the portfolio, USD (gains positive).
    alpha : float
        VaR confidence in (0, 1).
    window : int
        Scenarios each day's VaR is taken from.
    days : int
        Days tested (at most N - window).

    Returns
    -------
    (exceptions, days, bound) : (int, int, int)
        Losses above that day's VaR, days tested, the 95% binomial bound.
    """
    from pricing.margin.quantile import tail_count

    n = pnl.size
    days = int(min(days, max(n - window, 0)))
    if days <= 0:
        return 0, 0, 0
    losses = -np.asarray(pnl, dtype=np.float64)
    k = tail_count(window, alpha)
    lo = n - days - window  # first scenario of the first window; the windows span [lo, n - 1)
    union = losses[lo : n - 1]
    # A window leaves out at most days - 1 scenarios of the union, so its k worst losses are
    # among the union's k + days - 1 worst: rank those once instead of partitioning every window.
    m = min(union.size, k + days - 1)
    top = np.argpartition(union, union.size - m)[union.size - m :]
    top = top[np.argsort(-union[top], kind="stable")]
    starts = np.arange(days)[:, None]
    inside = (top[None, :] >= starts) & (top[None, :] < starts + window)
    kth = np.argmax(np.cumsum(inside, axis=1) >= k, axis=1)  # the k-th worst inside each window
    var = union[top[kth]]
    exceptions = int(np.sum(losses[lo + window : n] > var))
    bound = int(stats.binom.ppf(0.95, days, 1.0 - alpha))
    return exceptions, days, bound
