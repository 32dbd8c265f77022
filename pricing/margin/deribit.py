"""Deribit-style portfolio margin (risk matrix), docs/methodology.md §B1-B3.

Per currency (S:PM: each settlement currency margined on its own), P&L in coin:

* standard table: 9 price points m ∈ {-16%, ..., +16%} x 3 vol scenarios (up, same, down),
  instantaneous (no time decay), each option's vol shocked by f = (30/DTE)^p (p = 0.3 below
  30 days, 0.13 from 30 days): σ_up = max(σ (1 + up·f), min_vol_up), σ_dn = max(σ (1 - dn·f), 0);
* extended table (vol up only): moves -66%, -33%, +50%, ..., +500%; the P&L is scaled to the
  price range, P̃ = P&L(m) · factor · (r/|m|) · (1 + m)/(1 + sgn(m) r), and a loss is dampened,
  P_ext = P̃ + min((max(|m|/r, 1) - 1) · dampener / ((1 + sgn(m) r) · index), |P̃|);
* worst case = max(0, -min over both tables);
* roll shock = Σ_expiries max(min_annualised_move, e^{annualised_move_risk · τ} - 1) ·
  |net delta of the expiry's futures| (perpetual: the minimum), verified on Deribit's API example.
  It is charged on **futures and perpetuals only**, not on option deltas: Deribit introduced it to
  replace the old futures contingency ("a delta and roll shock-based method" for futures
  margining, the 2024 portfolio-margin change), its published example margins only a perpetual
  and a dated future (both vega-free: their vol-up/same/down entries are equal), and the same
  change promised that long options are no longer over-collateralised — a roll shock on a long
  option's delta charged 10 x BTC-28AUG26-78000-C 26,937 USD against a 22,892 premium
  (docs/methodology.md §B3);
* delta shock [D] (form not published): |Δ| · min(max_delta_shock, m_inc · max(0, |Δ| - threshold/S))
  coin once |Δ| S exceeds the threshold, on the pool's total delta (options and futures);
* risk-matrix margin = worst + roll + delta shock (+ correlation contingency, 0 here);
  initial = risk-matrix margin; maintenance = mm_factor x risk-matrix margin.

Pools (Deribit margins each settlement currency on its own): coin-settled (inverse) options,
futures and perpetuals of an underlying form its coin pool (``BTC``, ``ETH``), margined in coin
and converted at spot; USD-settled (linear, USDC) ones form the pool ``USDC/<underlying>``,
margined in USD with no conversion, with the index parameters of the underlying (price range,
vol ranges, delta threshold) and the ``usd`` currency parameters of Deribit's published example
(``annualised_move_risk`` 0.1, ``extended_dampener`` 25,000 USD). ``min_annualised_move`` of the
usd pool was not published; the coin value (0.01) is used. ETH's own values were not published
in the sources used; the BTC values stand in for them (docs/methodology.md §B2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import DAYS_PER_YEAR, option_times
from pricing.errors import PricingInputError
from pricing.margin.engine import Contributions
from pricing.market import Market
from pricing.portfolio import OPTION, Portfolio
from pricing.positions import PositionState
from pricing.revaluation import reprice

EXTENDED_MOVES = np.array([-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
USD_POOL = "USDC"
"""Key of the USD-settled pool's parameters in :attr:`DeribitModel.params`, and the prefix of its pools."""


@dataclass(frozen=True)
class DeribitParams:
    """Risk-matrix parameters of one currency (defaults: Deribit's BTC values, API example of 2024-06-17).

    ETH values were not published in the sources used (docs/methodology.md §B2); the BTC values are the
    default for ETH too and should be replaced by the live ``private/pme/simulate`` values.

    Attributes
    ----------
    price_range : float
        r: the standard table's largest move, fraction of the index (0.16 = ±16%).
    buckets_count : int
        Price points each side of 0 (4: 9 points -r, ..., +r).
    volatility_range_up, volatility_range_down : float
        Vol shock sizes before the (30/DTE)^p scaling, fractions of the vol (0.5 up, 0.25 down).
    short_term_vega_power, long_term_vega_power : float
        p below and from 30 days to expiry (0.3, 0.13).
    min_volatility_for_shock_up : float
        Floor of the shocked-up vol, decimal (0.5).
    extended_table_factor : float
        Scale of the extended table's P&L (1).
    extended_dampener : float
        Dampener of the extended table's losses, USD (100,000).
    max_delta_shock : float
        Cap of the delta shock rate (0.1).
    delta_total_liq_shock_threshold : float
        |Δ| x S above which the delta shock applies, USD (20,000,000).
    m_inc : float
        Delta shock rate per coin of delta above the threshold.
    annualised_move_risk : float
        Roll shock's annual move rate (0.075 coin pools, 0.1 the usd pool).
    min_annualised_move : float
        Roll shock's minimum rate per expiry (0.01).
    mm_factor : float
        Maintenance margin as a share of the risk-matrix margin (0.8).
    """

    price_range: float = 0.16
    buckets_count: int = 4
    volatility_range_up: float = 0.5
    volatility_range_down: float = 0.25
    short_term_vega_power: float = 0.3
    long_term_vega_power: float = 0.13
    min_volatility_for_shock_up: float = 0.5
    extended_table_factor: float = 1.0
    extended_dampener: float = 100_000.0
    max_delta_shock: float = 0.1
    delta_total_liq_shock_threshold: float = 20_000_000.0
    m_inc: float = 0.00005
    annualised_move_risk: float = 0.075
    min_annualised_move: float = 0.01
    mm_factor: float = 0.8

    def __post_init__(self) -> None:
        if not (0.0 < self.price_range < 1.0):
            raise PricingInputError(f"price_range: must be in (0, 1), got {self.price_range!r}")
        if not (isinstance(self.buckets_count, int) and 1 <= self.buckets_count <= 20):
            raise PricingInputError(f"buckets_count: must be a whole number in [1, 20], got {self.buckets_count!r}")
        if not (0.0 < self.mm_factor <= 1.0):
            raise PricingInputError(f"mm_factor: must be in (0, 1], got {self.mm_factor!r}")
        for name in (
            "volatility_range_up",
            "volatility_range_down",
            "extended_dampener",
            "max_delta_shock",
            "annualised_move_risk",
            "min_annualised_move",
        ):
            if getattr(self, name) < 0:
                raise PricingInputError(f"{name}: must be >= 0, got {getattr(self, name)!r}")

    @classmethod
    def usd(cls) -> DeribitParams:
        """The ``usd`` currency parameters of Deribit's published example (2024-06-17).

        Returns
        -------
        DeribitParams
            The BTC defaults with ``annualised_move_risk`` 0.1 and ``extended_dampener`` 25,000 USD.
        """
        return cls(annualised_move_risk=0.1, extended_dampener=25_000.0)

    def price_points(self) -> FloatArray:
        """m = -r, ..., +r in 2 x buckets + 1 evenly spaced points (9 by default).

        Returns
        -------
        ndarray, shape (2 x buckets_count + 1,)
            Relative moves of the index (decimals).
        """
        n = self.buckets_count
        return np.linspace(-self.price_range, self.price_range, 2 * n + 1)


def vol_shock_factors(vol: FloatArray, dte_days: FloatArray, p: DeribitParams) -> tuple[FloatArray, FloatArray]:
    """(σ_up/σ, σ_down/σ) per option: the (30/DTE)^p scaling of docs/methodology.md §B3.

    Parameters
    ----------
    vol : array_like
        Each option's vol, decimal (0 for a future: factor 1).
    dte_days : array_like
        Days to expiry (ACT/365 years x 365), same shape.
    p : DeribitParams
        The currency's Deribit margin parameters, from :meth:`DeribitModel.currency_params`.

    Returns
    -------
    (up, down) : ndarrays
        Multipliers of the vol, shape of ``vol``.

    Notes
    -----
    f = (30/DTE)^p, p = short_term_vega_power below 30 days else long_term_vega_power;
    σ_up = max(σ (1 + up f), min_volatility_for_shock_up), σ_dn = max(σ (1 - dn f), 0)
    (Deribit portfolio margin documentation, "volatility shock"; docs/methodology.md §B3).
    """
    dte = np.maximum(np.asarray(dte_days, dtype=np.float64), 1e-6)
    power = np.where(dte < 30.0, p.short_term_vega_power, p.long_term_vega_power)
    f = (30.0 / dte) ** power
    v = np.asarray(vol, dtype=np.float64)
    up = np.maximum(v * (1.0 + p.volatility_range_up * f), p.min_volatility_for_shock_up)
    down = np.maximum(v * (1.0 - p.volatility_range_down * f), 0.0)
    safe = np.where(v > 0, v, 1.0)
    return np.where(v > 0, up / safe, 1.0), np.where(v > 0, down / safe, 1.0)


def extended_scale(p: DeribitParams) -> FloatArray:
    """P̃ / P&L(m) for each extended move: factor · (r/|m|) · (1 + m)/(1 + sgn(m) r).

    Parameters
    ----------
    p : DeribitParams
        The currency's Deribit margin parameters, from :meth:`DeribitModel.currency_params`.

    Returns
    -------
    ndarray, shape (len(EXTENDED_MOVES),)
        The scale of each extended move's P&L.

    Notes
    -----
    Deribit's extended table scales a large move's P&L back to the price range
    (docs/methodology.md §B1, from Deribit's portfolio margin documentation).
    """
    m, r = EXTENDED_MOVES, p.price_range
    return np.asarray(p.extended_table_factor * (r / np.abs(m)) * (1.0 + m) / (1.0 + np.sign(m) * r), dtype=np.float64)


def dampen(p_tilde: FloatArray, index_price: float, p: DeribitParams) -> FloatArray:
    """Extended-table entries after the dampener (losses reduced by up to their size).

    Parameters
    ----------
    p_tilde : array_like, shape (..., len(EXTENDED_MOVES))
        Scaled extended P&L, in the pool's unit (coin or USD).
    index_price : float
        The index in USD for a coin pool, 1 for a USD pool.
    p : DeribitParams
        The currency's Deribit margin parameters, from :meth:`DeribitModel.currency_params`.

    Returns
    -------
    ndarray
        Same shape; gains unchanged.

    Notes
    -----
    P_ext = P̃ + min((max(|m|/r, 1) - 1) · dampener / ((1 + sgn(m) r) · index), |P̃|) for a loss
    (docs/methodology.md §B1).
    """
    m, r = EXTENDED_MOVES, p.price_range
    room = (np.maximum(np.abs(m) / r, 1.0) - 1.0) * p.extended_dampener / ((1.0 + np.sign(m) * r) * index_price)
    x = np.asarray(p_tilde, dtype=np.float64)
    return np.where(x < 0, x + np.minimum(room, np.abs(x)), x)


def roll_shock(net_delta_by_expiry: FloatArray, tau_years: FloatArray, p: DeribitParams) -> FloatArray:
    """The roll shock: Σ_e max(min_move, e^{amr τ_e} - 1) |Δ_e| over the last axis.

    Parameters
    ----------
    net_delta_by_expiry : array_like, shape (..., expiries)
        Net delta of each expiry's futures, coins (perpetual: τ = 0); options are excluded
        (module docstring).
    tau_years : array_like, shape (expiries,)
        Time to each expiry, years ACT/365.
    p : DeribitParams
        ``annualised_move_risk`` (amr) and ``min_annualised_move`` (min_move).

    Returns
    -------
    ndarray, shape (...)
        Coins.

    Notes
    -----
    Deribit's futures roll shock, checked against Deribit's published API example
    (docs/methodology.md §B3).
    """
    rate = np.maximum(p.min_annualised_move, np.expm1(p.annualised_move_risk * np.asarray(tau_years, dtype=np.float64)))
    return np.abs(np.asarray(net_delta_by_expiry, dtype=np.float64)) @ rate


def delta_shock(total_delta: FloatArray, spot: float, p: DeribitParams) -> FloatArray:
    """The delta shock [D]: |Δ| · min(max_delta_shock, m_inc · max(0, |Δ| - threshold/S)).

    Parameters
    ----------
    total_delta : array_like
        The pool's total delta, coins.
    spot : float
        The index, USD.
    p : DeribitParams
        The currency's Deribit margin parameters, from :meth:`DeribitModel.currency_params`.

    Returns
    -------
    ndarray
        Coins, shape of ``total_delta``.

    Notes
    -----
    Deribit does not publish the form; this one is ours (docs/methodology.md §B3, [D]).
    """
    d = np.abs(np.asarray(total_delta, dtype=np.float64))
    excess = np.maximum(d - p.delta_total_liq_shock_threshold / spot, 0.0)
    return d * np.minimum(p.max_delta_shock, p.m_inc * excess)


@dataclass(frozen=True)
class DeribitLayout:
    """The pools of a portfolio: per pool its expiry tiers, their times, its column offset, its spot
    and its unit (coin pools are converted at spot).

    Attributes
    ----------
    currencies : tuple of str
        The pools, sorted (``BTC``, ``USDC/BTC``, ...).
    expiries : dict of str to ndarray
        Per pool its expiry tier keys (perpetual < 0).
    tau : dict of str to ndarray
        Per pool the time to each tier, years ACT/365 (perpetual 0).
    offsets : dict of str to int
        Per pool the index of its first column.
    spots : dict of str to float
        Per pool its underlying's spot, USD.
    coin : dict of str to bool
        Per pool: margined in coin (True) or USD.
    notes : tuple of str
        Remarks the margin result carries.
    """

    currencies: tuple[str, ...]
    expiries: dict[str, np.ndarray]
    tau: dict[str, FloatArray]
    offsets: dict[str, int]
    spots: dict[str, float]
    coin: dict[str, bool]
    notes: tuple[str, ...] = ()


def pool_names(portfolio: Portfolio) -> np.ndarray:
    """Each position's pool: its underlying (coin-settled) or ``USDC/<underlying>`` (USD-settled).

    Parameters
    ----------
    portfolio : Portfolio
        n positions.

    Returns
    -------
    ndarray of str, shape (n,)
        ``"BTC"`` for inverse contracts, ``"USDC/BTC"`` for linear options, USDC futures and perpetuals.
    """
    und = np.asarray(portfolio.underlying, dtype=object)
    return np.where(~portfolio.inverse, USD_POOL + "/" + und, und).astype(str)


@dataclass(frozen=True)
class DeribitModel:
    """Deribit-style portfolio margin; see the module docstring. IM in USD = Σ_pool IM_pool x (spot or 1).

    Attributes
    ----------
    params : mapping of str to DeribitParams
        Per underlying (and ``"usd"`` for the USD pool's currency values); missing ones take the defaults.
    name : str
        How results name the model (``"deribit"``).
    horizon_days : float
        Margin period of risk, days (1): the table is instantaneous.

    Notes
    -----
    risk-matrix margin = max(0, -min over the standard and extended tables) + roll shock + delta
    shock per pool (Deribit portfolio margin; docs/methodology.md §B1-B3).

    Examples
    --------
    A collar on a flat 60% BTC surface at 60,000: short 10 calls at 70,000, long 10 puts at
    50,000, three months (options only, so no roll shock; far below the delta shock's threshold):

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.examples import collar
    >>> book, m = collar()
    >>> r = margin(book, m, DeribitModel())
    >>> c = r.components
    >>> round(r.core), round(c["worst_case"]), c["roll_shock"], c["delta_shock"]
    (63084, 63084, 0.0, 0.0)
    >>> bool(abs(c["maintenance"] - 0.8 * r.core) < 1e-6), bool(abs(r.contributions.sum() - r.core) < 1e-6)
    (True, True)
    """

    params: Mapping[str, DeribitParams] = field(default_factory=dict)
    name: str = "deribit"
    horizon_days: float = 1.0
    venue_replica: ClassVar[bool] = True

    def currency_params(self, pool: str) -> DeribitParams:
        """A pool's parameters: the underlying's, with the usd currency values for a USD pool.

        Parameters
        ----------
        pool : str
            ``"BTC"`` or ``"USDC/BTC"`` (:func:`pool_names`).

        Returns
        -------
        DeribitParams
            The underlying's parameters (the defaults where the model has none for it), with the USD values for a USD pool.
        """
        if not pool.startswith(USD_POOL + "/"):
            return self.params.get(pool, DeribitParams())
        index = self.params.get(pool.split("/", 1)[1], DeribitParams())
        usd = self.params.get(USD_POOL, DeribitParams.usd())
        return dataclasses.replace(
            index,
            annualised_move_risk=usd.annualised_move_risk,
            min_annualised_move=usd.min_annualised_move,
            extended_dampener=usd.extended_dampener,
        )

    def _width(self, currency: str, n_exp: int) -> int:
        n_points = self.currency_params(currency).price_points().size
        # Risk matrix, extended table, futures delta per expiry, total delta.
        return 3 * n_points + EXTENDED_MOVES.size + n_exp + 1

    def prepare(self, portfolio: Portfolio, market: Market) -> DeribitLayout:
        """The portfolio's pools, their expiry tiers and column offsets.

        Parameters
        ----------
        portfolio : Portfolio
            The positions, one row each, with signed quantities in contracts.
        market : Market
            For each pool's spot and the tiers' times (``market.as_of``).

        Returns
        -------
        DeribitLayout
            The pools, their expiry tiers and column offsets.
        """
        keys = portfolio.tier_keys()
        pools = pool_names(portfolio)
        names = tuple(sorted(set(pools.tolist())))
        expiries, tau, offsets, spots, coin = {}, {}, {}, {}, {}
        at = 0
        for pool in names:
            e = np.unique(keys[pools == pool])
            expiries[pool] = e
            tau[pool] = np.where(e < 0, 0.0, option_times(market.as_of, np.maximum(e, 0)))
            offsets[pool] = at
            at += self._width(pool, e.size)
            spots[pool] = market.spot(pool.split("/")[-1])
            coin[pool] = not pool.startswith(USD_POOL + "/")
        return DeribitLayout(names, expiries, tau, offsets, spots, coin)

    def contributions(self, portfolio: Portfolio, market: Market, layout: DeribitLayout, state: PositionState) -> Contributions:
        """Each position's risk matrix (3 vol scenarios x price points), extended table and deltas.

        Parameters
        ----------
        portfolio : Portfolio
            n positions.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
        layout : DeribitLayout
            From :meth:`prepare`.
        state : PositionState
            The positions' state on ``market``.

        Returns
        -------
        Contributions
            ``linear`` (n, columns): P&L per scenario in the pool's unit (coin or USD; gains
            positive), the futures' delta per expiry and the total delta (coins); no extensive part.
        """
        width = sum(self._width(u, layout.expiries[u].size) for u in layout.currencies)
        linear = np.zeros((len(portfolio), width))
        keys = portfolio.tier_keys()
        pools = pool_names(portfolio)
        for u in layout.currencies:
            rows = np.flatnonzero(pools == u)
            if rows.size == 0:
                continue
            p = self.currency_params(u)
            sub = portfolio.select(rows)
            st = state.take(rows)
            up, down = vol_shock_factors(np.where(sub.kind == OPTION, st.vol, 0.0), st.t_years * DAYS_PER_YEAR, p)
            m = p.price_points()
            n = m.size
            moves = np.concatenate([m, m, m, EXTENDED_MOVES])
            factor = np.hstack(
                [
                    np.repeat(up[:, None], n, 1),
                    np.ones((rows.size, n)),
                    np.repeat(down[:, None], n, 1),
                    np.repeat(up[:, None], EXTENDED_MOVES.size, 1),
                ]
            )
            pnl = reprice(sub, market, np.log1p(moves), vol_factor=factor, horizon_days=0.0, rule="sticky_strike", state=st)
            # A coin pool's risk matrix is in coin; a USD pool's in USD, with no conversion at the shocked spot.
            values = pnl.coin if layout.coin[u] else pnl.usd
            values[:, 3 * n :] *= extended_scale(p)
            o = layout.offsets[u]
            linear[rows, o : o + values.shape[1]] = values
            tier = np.searchsorted(layout.expiries[u], keys[rows])
            delta = st.delta_premium_adjusted if layout.coin[u] else st.delta_coin
            # Per expiry: the futures' delta (the roll shock's base); last column: the pool's total delta.
            linear[rows, o + values.shape[1] + tier] = np.where(sub.kind == OPTION, 0.0, delta)
            linear[rows, o + values.shape[1] + layout.expiries[u].size] = delta
        empty = np.zeros((len(portfolio), 0))
        return Contributions(linear, empty, empty)

    def assemble(self, linear: FloatArray, ext: FloatArray, layout: DeribitLayout, market: Market) -> dict[str, FloatArray]:
        """The risk-matrix margin and its parts per batch row, summed over pools in USD.

        Parameters
        ----------
        linear, ext : ndarray, shape (batch, columns)
            Aggregated contributions of each candidate portfolio.
        layout : DeribitLayout
            What :meth:`prepare` returned for this portfolio: the pools, their expiry tiers and column offsets.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        dict of str to ndarray
            ``core`` (initial margin), ``worst_case``, ``roll_shock``, ``delta_shock``,
            ``maintenance``; USD, shape (batch,).
        """
        batch = linear.shape[0]
        out = {k: np.zeros(batch) for k in ("core", "worst_case", "roll_shock", "delta_shock", "maintenance")}
        for u in layout.currencies:
            p = self.currency_params(u)
            spot = layout.spots[u]
            # Worst case in the pool's unit (coin or USD); roll and delta shocks on coin deltas.
            unit = spot if layout.coin[u] else 1.0
            n = p.price_points().size
            o = layout.offsets[u]
            std = linear[:, o : o + 3 * n]
            extd = dampen(linear[:, o + 3 * n : o + 3 * n + EXTENDED_MOVES.size], unit, p)
            start = o + 3 * n + EXTENDED_MOVES.size
            futures_deltas = linear[:, start : start + layout.expiries[u].size]
            total_delta = linear[:, start + layout.expiries[u].size]
            worst = np.maximum(-np.minimum(std.min(axis=1), extd.min(axis=1)), 0.0) * unit
            roll = roll_shock(futures_deltas, layout.tau[u], p) * spot
            dshock = delta_shock(total_delta, spot, p) * spot
            rmm = worst + roll + dshock
            out["core"] += rmm
            out["worst_case"] += worst
            out["roll_shock"] += roll
            out["delta_shock"] += dshock
            out["maintenance"] += p.mm_factor * rmm
        return out

    def allocate(
        self, linear_per_position: FloatArray, ext_per_position: FloatArray, layout: DeribitLayout, parts: dict[str, Any]
    ) -> FloatArray:
        """Coin loss in the worst standard scenario (x spot), the rest pro rata to it.

        Parameters
        ----------
        linear_per_position, ext_per_position : ndarray, shape (n, columns)
            Each position's contributions.
        layout : DeribitLayout
            What :meth:`prepare` returned for this portfolio: the pools, their expiry tiers and column offsets.
        parts : dict of str to ndarray
            The portfolio's :meth:`assemble` output (``core`` is used).

        Returns
        -------
        ndarray, shape (n,)
            USD, adding up to ``core``.
        """
        share = np.zeros(linear_per_position.shape[0])
        for u in layout.currencies:
            n = self.currency_params(u).price_points().size
            o = layout.offsets[u]
            std = linear_per_position[:, o : o + 3 * n]
            j = int(np.argmin(std.sum(axis=0)))
            share += -std[:, j] * (layout.spots[u] if layout.coin[u] else 1.0)
        rest = float(parts["core"]) - share.sum()
        weight = np.abs(share)
        return np.asarray(
            share + (rest * weight / weight.sum() if weight.sum() > 0 else rest / max(share.size, 1)), dtype=np.float64
        )

    def backtest(self, linear: FloatArray, layout: Any, days: int) -> None:
        """The risk matrix has no scenario history to backtest: always None.

        Parameters
        ----------
        linear : ndarray
            Not used.
        layout : Any
            Not used.
        days : int
            Not used.
        """
        return None
