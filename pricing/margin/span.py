"""SPAN-style margin (CME Standard Portfolio Analysis of Risk), docs/methodology.md §A1-A7.

Per combined commodity (all positions on one underlying):

* 16 risk-array scenarios: price moves {0, ±1/3, ±2/3, ±1} x PSR, each with vol up and down
  by the VSR, and two extreme moves ±``extreme_mult`` x PSR at unchanged vol whose loss
  counts ``extreme_cover`` (35%); options age by the look-ahead (1 day);
  scan risk = max(max_j L_j, 0), L_j = Σ_k q_k RA_{k,j} (losses positive);
* composite delta of each contract = probability-weighted average of its deltas at the seven
  price scan points; tiers = expiries; intra-commodity spread charge = ``intra_spread_rate``
  x spot x min(Σ long tier deltas, Σ short tier deltas);
* BTC-ETH inter-commodity credit when the USD net deltas offset: per leg
  ``inter_credit_rate`` x spread deltas x WPR, WPR = price risk / |net delta|, price risk =
  scan - time risk - vol risk, time risk = (L_1 + L_2)/2, vol risk = |L_1 - L_2|/2 (A5);
* short option minimum (CME: "a percentage of the outright margin on one underlying futures
  contract" per short option) = ``som_rate`` x PSR x spot x the larger of the short calls and
  the short puts in coins (``som_mode="count"``: all short options);
* risk = max(scan + intra - inter, SOM) per commodity; requirement = max(Σ risk - NOV, 0),
  NOV = long minus short option value (A7).

Positions are valued in USD (inverse options at the spot). The price scan range is **one dollar
amount per combined commodity**, as CME defines it ("the price scan range for the Combined
Commodity ... equal to the current Maintenance Requirement for a Combined Commodity", e.g.
"$700" — CME SPAN report documentation, *Scan Rate Tiers*): every contract's underlying
(each expiry's forward, the perpetual) moves by the same dollars m x PSR_$, F' = F(T') + m PSR_$,
not by the same percentage. The parameter ``price_scan_range`` gives PSR_$ as a fraction of the
commodity's spot (PSR_$ = fraction x S). On a calendar book with carry a relative move of each
forward overstated the far expiry's move by F/S. VSR is in absolute vol (decimal) or relative
(``vol_scan_mode``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pricing._typing import FloatArray, IntArray
from pricing.black import black76_greeks
from pricing.daycount import days_to_years
from pricing.errors import PricingInputError, parse_choice
from pricing.margin.engine import Contributions
from pricing.market import Market
from pricing.portfolio import OPTION, PERPETUAL, Portfolio
from pricing.positions import PositionState
from pricing.revaluation import reprice
from pricing.surface import SHOCK_RULES

#: Price move (x PSR) and vol move (x VSR) of the 16 scenarios; the last two are extreme.
PRICE_MOVES = np.array([0, 0, 1 / 3, 1 / 3, -1 / 3, -1 / 3, 2 / 3, 2 / 3, -2 / 3, -2 / 3, 1, 1, -1, -1, 0, 0], dtype=np.float64)
VOL_MOVES = np.array([1, -1] * 7 + [0, 0], dtype=np.float64)
DELTA_POINTS = np.array([0.0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1.0, -1.0])
VOL_SCAN_MODES = {"absolute": "absolute", "relative": "relative"}
SOM_MODES = {"count": "count", "max_side": "max_side"}


@dataclass(frozen=True)
class SpanParams:
    """SPAN parameters. Defaults marked [D] in docs/methodology.md §G; venue files override them.

    Attributes
    ----------
    price_scan_range : mapping underlying -> fraction of spot
        PSR (default BTC 12% as in A9, ETH 15%).
    vol_scan_range : float
        VSR: 0.10 = ±10 vol points (absolute mode) or ±10% of the vol (relative mode).
    vol_scan_mode : {"absolute", "relative"}
        How the vol scan range moves the vol: by that much absolute vol, decimal (``absolute``, default), or by that
        fraction of the vol (``relative``).
    extreme_mult, extreme_cover : float
        Extreme move multiple of PSR and the share of its loss counted (2, 0.35).
    lookahead_days : float
        Time decay of the risk arrays (1 day).
    delta_weights : tuple of 4 floats
        Probability weights of price points 0, ±1/3, ±2/3, ±1 (A3 normal weights, PSR = 3σ).
    intra_spread_rate : float
        Intra-commodity charge per spread delta, fraction of spot (1%).
    inter_credit_rate : float
        Inter-commodity credit rate on the weighted price risk of the spread (50%).
    inter_pairs : tuple of (str, str)
        Underlying pairs that earn the inter-commodity credit (BTC-ETH).
    som_rate : float
        Short option minimum per short option, as a share of the outright margin of one unit of
        the underlying (PSR x spot). CME publishes the form and sets the rate per product (the only
        figure in our sources is a flat $50 for gasoil options, advisory 08-303); 5% is our default
        [D]: 0.6% of spot per short option at a 12% PSR, a floor that binds only for books of
        far out-of-the-money short options.
    som_mode : {"count", "max_side"}
        The larger of short calls and short puts (CME; default), or all short options.
    nov_credit : bool
        Credit long option value and charge short option value (premium-style options).
    rule : {"sticky_strike", "sticky_moneyness"}
        Smile dynamics in the scan (SPAN scans each option's own vol: sticky strike).
    """

    price_scan_range: Mapping[str, float] = field(default_factory=lambda: {"BTC": 0.12, "ETH": 0.15})
    vol_scan_range: float = 0.10
    vol_scan_mode: str = "absolute"
    extreme_mult: float = 2.0
    extreme_cover: float = 0.35
    lookahead_days: float = 1.0
    delta_weights: tuple[float, float, float, float] = (0.399, 0.242, 0.054, 0.0044)
    intra_spread_rate: float = 0.01
    inter_credit_rate: float = 0.50
    inter_pairs: tuple[tuple[str, str], ...] = (("BTC", "ETH"),)
    som_rate: float = 0.05
    som_mode: str = "max_side"
    nov_credit: bool = True
    rule: str = "sticky_strike"

    def __post_init__(self) -> None:
        for u, psr in self.price_scan_range.items():
            if not (0.0 < float(psr) < 1.0):
                raise PricingInputError(f"price_scan_range[{u}]: must be a fraction of spot in (0, 1), got {psr!r}")
        if not (0.0 <= self.vol_scan_range < 5.0):
            raise PricingInputError(f"vol_scan_range: must be in [0, 5) (decimal vol), got {self.vol_scan_range!r}")
        if not (self.extreme_mult > 0 and 0.0 <= self.extreme_cover <= 1.0):
            raise PricingInputError("extreme_mult must be > 0 and extreme_cover in [0, 1]")
        if len(self.delta_weights) != 4 or min(self.delta_weights) < 0:
            raise PricingInputError("delta_weights: four non-negative weights for price points 0, ±1/3, ±2/3, ±1")
        parse_choice(self.vol_scan_mode, "vol_scan_mode", VOL_SCAN_MODES)
        parse_choice(self.som_mode, "som_mode", SOM_MODES)
        parse_choice(self.rule, "rule", SHOCK_RULES)
        if self.lookahead_days < 0:
            raise PricingInputError(f"lookahead_days: must be >= 0, got {self.lookahead_days!r}")

    def psr(self, underlying: str) -> float:
        """The price scan range of one combined commodity.

        Parameters
        ----------
        underlying : str
            ``"BTC"``, ``"ETH"``, ...

        Returns
        -------
        float
            PSR as a fraction of the commodity's spot (PSR_$ = fraction x S).

        Raises
        ------
        PricingInputError
            No PSR is configured for ``underlying`` (the message lists the ones that are).
        """
        try:
            return float(self.price_scan_range[underlying])
        except KeyError:
            raise PricingInputError(
                f"price_scan_range: no PSR for {underlying!r}; give one (have {', '.join(self.price_scan_range)})"
            ) from None


def scan_risk(portfolio_arrays: FloatArray) -> tuple[FloatArray, IntArray]:
    """Scan risk of portfolio risk arrays, as :class:`SpanModel` charges it.

    Parameters
    ----------
    portfolio_arrays : array, shape (batch, 16)
        Σ_k q_k RA_k per portfolio (losses positive, extreme rows already weighted by
        ``extreme_cover``), USD.

    Returns
    -------
    (scan, worst) : arrays of shape (batch,)
        ``max(max_j A_j, 0)`` and the 0-based index j of the worst scenario.

    Notes
    -----
    CME SPAN: the scan risk is the largest loss over the 16 risk-array scenarios, floored at 0
    (McMillan, *Options as a Strategic Investment*, 5th ed., ch. 34; docs/methodology.md §A).
    """
    arrays = np.asarray(portfolio_arrays, dtype=np.float64)
    if arrays.ndim != 2 or arrays.shape[1] != 16:
        raise PricingInputError(f"portfolio_arrays: expected (batch, 16), got shape {arrays.shape}")
    return np.maximum(arrays.max(axis=1), 0.0), np.argmax(arrays, axis=1)


@dataclass(frozen=True)
class SpanLayout:
    """Columns per combined commodity: ``risk_width`` risk columns, one per tier delta, NOV.

    SPAN's risk columns are its 16 risk-array scenarios; the hybrid's are its VaR scenarios
    (:mod:`pricing.margin.hybrid`).

    Attributes
    ----------
    underlyings : tuple of str
        The combined commodities, in column order.
    tiers : dict of str to ndarray
        Per commodity its expiry tier keys (sorted, :meth:`Portfolio.tier_keys`).
    offsets : dict of str to int
        Per commodity the index of its first column in the linear contributions.
    width : dict of str to int
        Per commodity its column count: ``risk_width`` + one per tier + 1 (NOV).
    risk_width : int
        Risk columns per commodity (16 for SPAN).
    notes : tuple of str
        Remarks the margin result carries to the user.
    """

    underlyings: tuple[str, ...]
    tiers: dict[str, np.ndarray]
    offsets: dict[str, int]
    width: dict[str, int]
    risk_width: int = 16
    notes: tuple[str, ...] = ()


def commodity_layout(portfolio: Portfolio, params: SpanParams, risk_width: int) -> SpanLayout:
    """The column layout of ``portfolio``'s combined commodities (a PSR is checked for each).

    Parameters
    ----------
    portfolio : Portfolio
        The positions (any mix of underlyings).
    params : SpanParams
        Must give a PSR for every underlying held.
    risk_width : int
        Risk columns per commodity (16 for SPAN, the scenario count for the hybrid).

    Returns
    -------
    SpanLayout
        The combined commodities and their columns.
    """
    unds = portfolio.underlyings
    tiers, offsets, width = {}, {}, {}
    keys = portfolio.tier_keys()
    at = 0
    for u in unds:
        params.psr(u)
        tiers[u] = np.unique(keys[portfolio.underlying == u])
        offsets[u] = at
        width[u] = risk_width + tiers[u].size + 1
        at += width[u]
    return SpanLayout(unds, tiers, offsets, width, risk_width)


def composite_delta(params: SpanParams, sub: Portfolio, st: PositionState, psr: float) -> FloatArray:
    """Probability-weighted delta over the seven price scan points (coins, quantity included), §A3.

    Parameters
    ----------
    params : SpanParams
        ``delta_weights`` and ``lookahead_days``.
    sub : Portfolio
        Positions of one combined commodity, n of them.
    st : PositionState
        Their state on the market (forward, spot, vol, time in years ACT/365).
    psr : float
        The commodity's PSR, fraction of spot.

    Returns
    -------
    ndarray, shape (n,)
        Signed delta in coins for each position's whole quantity; futures and perpetuals count
        their units.

    Notes
    -----
    Δ_c = Σ_i w_i Δ(F + m_i PSR S) / Σ_i w_i over m_i ∈ {0, ±1/3, ±2/3, ±1}, with the weights of
    the normal density at those points for PSR = 3σ (CME SPAN composite delta; docs/methodology.md §A3).
    """
    w = np.array(params.delta_weights)
    weights = np.array([w[0], w[1], w[1], w[2], w[2], w[3], w[3]])
    weights = weights / weights.sum()
    out = np.where(sub.kind != OPTION, sub.units, 0.0)
    opt = sub.kind == OPTION
    if opt.any():
        t = np.maximum(st.t_years[opt] - days_to_years(params.lookahead_days), 0.0)
        # The scan points are dollar moves of the underlying, PSR_$ = psr x S (module docstring).
        f = np.maximum(st.forward[opt][:, None] + DELTA_POINTS * psr * st.spot[opt][:, None], 1e-12 * st.spot[opt][:, None])
        g = black76_greeks(sub.cp[opt][:, None], f, sub.strike[opt][:, None], t[:, None], st.vol[opt][:, None])
        out[opt] = sub.units[opt] * (g.delta @ weights)
    return out


def spread_columns(
    params: SpanParams, portfolio: Portfolio, state: PositionState, layout: SpanLayout, risk: Mapping[str, FloatArray]
) -> Contributions:
    """Contributions per contract in ``layout``: the given risk columns, tier deltas, NOV, short counts.

    Parameters
    ----------
    params : SpanParams
        The SPAN parameters: price and vol scan ranges, tiers, spread charges and credits.
    portfolio : Portfolio
        n positions.
    state : PositionState
        Their state on the market.
    layout : SpanLayout
        From :func:`commodity_layout` on ``portfolio``.
    risk : mapping of str to ndarray
        ``risk[u]`` is (rows of ``u``, ``layout.risk_width``): losses per contract, USD, positive.

    Returns
    -------
    Contributions
        ``linear`` (n, Σ width): risk columns, tier deltas (coins) and NOV (USD) per commodity;
        ``ext`` (n, 2 x commodities): each option's contracts as a short-call and a short-put count,
        for the short option minimum.
    """
    n = len(portfolio)
    linear = np.zeros((n, sum(layout.width.values())))
    ext = np.zeros((n, 2 * len(layout.underlyings)))
    keys = portfolio.tier_keys()
    is_opt = portfolio.kind == OPTION
    for ci, u in enumerate(layout.underlyings):
        rows = np.flatnonzero(portfolio.underlying == u)
        if rows.size == 0:
            continue
        sub, sub_state = portfolio.select(rows), state.take(rows)
        o, r = layout.offsets[u], layout.risk_width
        linear[rows, o : o + r] = risk[u]
        tier_index = np.searchsorted(layout.tiers[u], keys[rows])
        linear[rows, o + r + tier_index] = composite_delta(params, sub, sub_state, params.psr(u))
        linear[rows, o + r + layout.tiers[u].size] = np.where(is_opt[rows], sub_state.value_usd, 0.0)
        opt_rows = is_opt[rows]
        ext[rows, 2 * ci] = np.where(opt_rows & (sub.cp > 0), sub.contract_size, 0.0)
        ext[rows, 2 * ci + 1] = np.where(opt_rows & (sub.cp < 0), sub.contract_size, 0.0)
    return Contributions(linear, np.zeros_like(ext), ext)


#: A commodity's risk from its risk columns: (risk before spreads, price risk for the inter credit).
RiskMeasure = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


def span_scan_measure(arr: FloatArray) -> tuple[FloatArray, FloatArray]:
    """SPAN: scan risk, and price risk = scan - time risk - vol risk (§A5).

    Parameters
    ----------
    arr : ndarray, shape (batch, 16)
        Aggregated risk arrays (losses positive, USD).

    Returns
    -------
    (scan, price_risk) : ndarrays of shape (batch,)
        USD.

    Notes
    -----
    time risk = (L_1 + L_2)/2, vol risk = |L_1 - L_2|/2 (the two unchanged-price scenarios),
    price risk = max(scan - time risk - vol risk, 0): the CME inter-commodity spread's weighted
    price risk (docs/methodology.md §A5).
    """
    scan, _ = scan_risk(arr)
    time_risk = 0.5 * (arr[:, 0] + arr[:, 1])
    vol_risk = 0.5 * np.abs(arr[:, 0] - arr[:, 1])
    return scan, np.maximum(scan - time_risk - vol_risk, 0.0)


def assemble_commodities(
    params: SpanParams,
    linear: FloatArray,
    ext: FloatArray,
    layout: SpanLayout,
    market: Market,
    measure: RiskMeasure,
    columns: slice | np.ndarray = slice(None),
) -> dict[str, FloatArray]:
    """SPAN's assembly (§A4-A7) on a batch of aggregated columns, the core risk from ``measure``.

    Parameters
    ----------
    params : SpanParams
        The SPAN parameters: price and vol scan ranges, tiers, spread charges and credits.
    linear, ext : ndarray, shape (batch, columns)
        Aggregated contributions in ``layout``'s columns (:func:`spread_columns`).
    layout : SpanLayout
        What :meth:`prepare` returned for this portfolio: the combined commodities and their columns.
    market : Market
        For each commodity's spot, USD.
    measure : callable
        Risk columns (batch, k) -> (core risk, price risk), both (batch,) USD:
        :func:`span_scan_measure` for SPAN, a VaR for the hybrid.
    columns : slice or ndarray
        Which of each commodity's risk columns ``measure`` sees (the hybrid's core or stressed
        scenarios).

    Returns
    -------
    dict of str to ndarray
        Per batch row, USD: ``core`` (the requirement), ``risk``, ``scan_risk``, ``intra_spread``,
        ``inter_credit``, ``short_option_minimum``, ``net_option_value``.

    Notes
    -----
    Per commodity risk = max(scan + intra - inter credit, SOM); requirement = max(Σ risk - NOV, 0)
    (CME SPAN; docs/methodology.md §A4-A7). Parts are named as SPAN names them ("scan_risk" is
    the core risk whatever ``measure`` is).
    """
    p = params
    batch = linear.shape[0]
    scan_t, intra_t, som_t, nov_t, credit_t = (np.zeros(batch) for _ in range(5))
    per: dict[str, dict[str, FloatArray]] = {}
    for ci, u in enumerate(layout.underlyings):
        o, r, nt = layout.offsets[u], layout.risk_width, layout.tiers[u].size
        arr = linear[:, o : o + r][:, columns]
        deltas = linear[:, o + r : o + r + nt]
        spot = market.spot(u)
        scan, price_risk = measure(arr)
        spreads = np.minimum(np.maximum(deltas, 0).sum(axis=1), np.maximum(-deltas, 0).sum(axis=1))
        shorts = ext[:, 2 * ci : 2 * ci + 2]
        n_short = shorts.sum(axis=1) if p.som_mode == "count" else shorts.max(axis=1)
        per[u] = {
            "scan": scan,
            "intra": p.intra_spread_rate * spot * spreads,
            "price_risk": price_risk,
            "net_delta": deltas.sum(axis=1),
            "som": p.som_rate * p.psr(u) * spot * n_short,
            "nov": linear[:, o + r + nt],
            "spot": np.full(batch, spot),
        }
    for one, two in p.inter_pairs:
        if one not in per or two not in per:
            continue
        b, e = per[one], per[two]
        usd_b, usd_e = b["net_delta"] * b["spot"], e["net_delta"] * e["spot"]
        matched = np.where(usd_b * usd_e < 0, np.minimum(np.abs(usd_b), np.abs(usd_e)), 0.0)
        for leg in (b, e):
            wpr = np.divide(leg["price_risk"], np.abs(leg["net_delta"]), out=np.zeros(batch), where=leg["net_delta"] != 0)
            credit = np.minimum(p.inter_credit_rate * (matched / leg["spot"]) * wpr, leg["price_risk"])
            leg["inter"] = leg.get("inter", np.zeros(batch)) + credit
    risk_total = np.zeros(batch)
    for leg in per.values():
        credit = np.minimum(leg.get("inter", np.zeros(batch)), leg["price_risk"])  # several pairs: at most the risk
        risk_total += np.maximum(leg["scan"] + leg["intra"] - credit, leg["som"])
        scan_t += leg["scan"]
        intra_t += leg["intra"]
        som_t += leg["som"]
        nov_t += leg["nov"]
        credit_t += credit
    core = np.maximum(risk_total - nov_t, 0.0) if p.nov_credit else risk_total
    return {
        "core": core,
        "risk": risk_total,
        "scan_risk": scan_t,
        "intra_spread": intra_t,
        "inter_credit": credit_t,
        "short_option_minimum": som_t,
        "net_option_value": nov_t,
    }


def allocate_commodities(
    linear_per_position: FloatArray, layout: SpanLayout, core: float, worst: Callable[[FloatArray], int]
) -> FloatArray:
    """Each position's loss in its commodity's charged risk column, the rest of ``core`` pro rata to it.

    Parameters
    ----------
    linear_per_position : ndarray, shape (n, columns)
        Each position's contributions in ``layout``'s columns.
    layout : SpanLayout
        What :meth:`prepare` returned for this portfolio: the combined commodities and their columns.
    core : float
        The portfolio's requirement, USD.
    worst : callable
        Summed risk columns (k,) -> the index of the charged column.

    Returns
    -------
    ndarray, shape (n,)
        USD; adds up to ``core``.

    Notes
    -----
    share_i = L_i(j*) + (core - Σ_k L_k(j*)) |L_i(j*)| / Σ_k |L_k(j*)|: the loss in the worst
    column j*, the rest (spreads, SOM, NOV) spread by size (equally when every loss is 0).
    """
    share = np.zeros(linear_per_position.shape[0])
    for u in layout.underlyings:
        o = layout.offsets[u]
        arr = linear_per_position[:, o : o + layout.risk_width]
        share += arr[:, worst(arr.sum(axis=0))]
    rest = core - share.sum()
    weight = np.abs(share)
    if weight.sum() > 0:
        share = share + rest * weight / weight.sum()
    elif share.size:
        share = share + rest / share.size
    return share


@dataclass(frozen=True)
class SpanModel:
    """SPAN-style margin; see the module docstring. Used through :func:`pricing.margin.engine.margin`.

    Attributes
    ----------
    params : SpanParams
        Scan ranges, spread rates, short option minimum (defaults: docs/methodology.md §G).
    name : str
        How results and the catalogue name the model (``"span"``).

    Notes
    -----
    requirement = max(Σ_commodities max(scan + intra - inter, SOM) - NOV, 0), scan = the largest
    of the 16 risk-array losses (CME SPAN; docs/methodology.md §A1-A7).

    Examples
    --------
    A collar on a flat 60% BTC surface at 60,000: short 10 calls at 70,000, long 10 puts at
    50,000, three months. The requirement is the scan risk less the (negative) net option
    value, and the positions' shares add up to it:

    >>> from pricing.margin.engine import margin
    >>> from pricing.margin.examples import collar
    >>> book, m = collar()
    >>> r = margin(book, m, SpanModel())
    >>> c = r.components
    >>> round(r.core), round(c["scan_risk"]), round(c["net_option_value"])
    (59361, 49166, -10195)
    >>> abs(r.core - (c["risk"] - c["net_option_value"])) < 1e-6, bool(abs(r.contributions.sum() - r.core) < 1e-6)
    (True, True)
    """

    params: SpanParams = field(default_factory=SpanParams)
    name: str = "span"
    venue_replica: ClassVar[bool] = True

    @property
    def horizon_days(self) -> float:
        return max(self.params.lookahead_days, 1.0)

    def prepare(self, portfolio: Portfolio, market: Market) -> SpanLayout:
        """The portfolio's combined commodities and tiers (:func:`commodity_layout`, 16 risk columns).

        Parameters
        ----------
        portfolio : Portfolio
            The positions, one row each, with signed quantities in contracts.
        market : Market
            Not used: the layout depends on what is held only.

        Returns
        -------
        SpanLayout
            The combined commodities and their columns.
        """
        return commodity_layout(portfolio, self.params, 16)

    def contributions(self, portfolio: Portfolio, market: Market, layout: SpanLayout, state: PositionState) -> Contributions:
        """Each position's 16 risk-array losses, composite tier delta, NOV and short counts.

        Parameters
        ----------
        portfolio : Portfolio
            n positions.
        market : Market
            The market the risk arrays reprice on.
        layout : SpanLayout
            From :meth:`prepare`.
        state : PositionState
            The positions' state on ``market``.

        Returns
        -------
        Contributions
            See :func:`spread_columns`; losses in USD, positive.

        Raises
        ------
        PricingInputError
            An extreme down move would take a forward to zero or below.
        """
        return spread_columns(self.params, portfolio, state, layout, self._risk_arrays(portfolio, market, layout, state))

    def _risk_arrays(
        self, portfolio: Portfolio, market: Market, layout: SpanLayout, state: PositionState
    ) -> dict[str, FloatArray]:
        """Each commodity's 16 risk-array losses per contract (extremes weighted by their cover)."""
        p = self.params
        out = {}
        for u in layout.underlyings:
            rows = np.flatnonzero(portfolio.underlying == u)
            if rows.size == 0:
                out[u] = np.zeros((0, 16))
                continue
            # One dollar PSR per combined commodity: each contract's forward at the look-ahead moves by
            # m x PSR_$, i.e. by a log return ln(1 + m PSR_$ / F(T')) of its own.
            dollars = np.concatenate([PRICE_MOVES[:14], [p.extreme_mult, -p.extreme_mult]]) * p.psr(u) * market.spot(u)
            sub, st = portfolio.select(rows), state.take(rows)
            t1 = np.where(sub.kind == PERPETUAL, 0.0, np.maximum(st.t_years - days_to_years(p.lookahead_days), 0.0))
            relative = dollars[None, :] / market.surface(u).forward(t1)[:, None]
            if np.any(relative <= -1.0):
                raise PricingInputError(
                    f"price_scan_range[{u}]: the down move of {p.extreme_mult:g} x PSR ({-dollars.min():,.0f} USD) "
                    "would take a forward to zero or below; lower the PSR or extreme_mult"
                )
            moves = np.log1p(relative)
            factor: FloatArray | float
            add: FloatArray | float
            if p.vol_scan_mode == "absolute":
                factor, add = 1.0, VOL_MOVES * p.vol_scan_range
            else:
                factor, add = 1.0 + VOL_MOVES * p.vol_scan_range, 0.0
            pnl = reprice(
                sub,
                market,
                moves,
                vol_factor=factor,
                vol_add=add,
                horizon_days=p.lookahead_days,
                rule=p.rule,
                state=st,
                coin=False,
            )
            losses = -pnl.usd
            losses[:, 14:] *= p.extreme_cover
            out[u] = losses
        return out

    def assemble(self, linear: FloatArray, ext: FloatArray, layout: SpanLayout, market: Market) -> dict[str, FloatArray]:
        """The requirement and SPAN's parts per batch row (:func:`assemble_commodities`).

        Parameters
        ----------
        linear, ext : ndarray, shape (batch, columns)
            Aggregated contributions of each candidate portfolio.
        layout : SpanLayout
            What :meth:`prepare` returned for this portfolio: the combined commodities and their columns.
        market : Market
            The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).

        Returns
        -------
        dict of str to ndarray
            ``core`` and the parts, USD, shape (batch,).
        """
        return assemble_commodities(self.params, linear, ext, layout, market, span_scan_measure)

    def allocate(
        self, linear_per_position: FloatArray, ext_per_position: FloatArray, layout: SpanLayout, parts: dict[str, Any]
    ) -> FloatArray:
        """Loss in the worst scan scenario of the position's commodity, the rest pro rata to it.

        Parameters
        ----------
        linear_per_position, ext_per_position : ndarray, shape (n, columns)
            Each position's contributions.
        layout : SpanLayout
            What :meth:`prepare` returned for this portfolio: the combined commodities and their columns.
        parts : dict of str to ndarray
            The portfolio's :meth:`assemble` output (``core`` is used).

        Returns
        -------
        ndarray, shape (n,)
            USD, adding up to ``core`` (:func:`allocate_commodities`).
        """
        return allocate_commodities(linear_per_position, layout, float(parts["core"]), lambda col: int(np.argmax(col)))

    def backtest(self, linear: FloatArray, layout: Any, days: int) -> None:
        """SPAN has no scenario history to backtest: always None (no model-risk add-on).

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
