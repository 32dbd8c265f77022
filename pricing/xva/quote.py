"""All-in two-way quotes and quote books: base price + FVA + KVA + MVA + CCVA + spread.

Sides are the dealer's: the **ask** is where the dealer sells (the client buys), so its XVAs
use ΔIM of the dealer selling; the **bid** uses ΔIM of the dealer buying. Positive
adjustments are costs to the desk: they raise the ask and lower the bid; a trade that lowers
the desk's IM has negative FVA and gets a tighter quote. Rounding is conservative: the ask
rounds up and the bid down to the venue's tick.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.errors import PricingInputError, parse_choice
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginBasis, MarginModel, TradeLegs, margin_basis, sequential_margins, trade_margins
from pricing.portfolio import OPTION, Portfolio, concat, empty_portfolio
from pricing.revaluation import Market, PositionState, position_state
from pricing.xva.adjustments import (
    GROUP_2B_ADDON,
    SCO60_GROUPS,
    SaccrLegs,
    ccp_default_params,
    ccva_grid,
    default_fund_after,
    fva_im_grid,
    k_cm_incremental,
    kva_grid,
    mva_vm_batch,
    saccr_ead,
    saccr_leg_terms,
)
from pricing.xva.profiles import grid_matrix, profile_matrix
from pricing.xva.rates import check_rate, check_tenor, latest_sofr
from pricing.xva.replica_profile import expected_replica_profiles, replica_profiles
from pricing.xva.rfq import RfqBatch, parse_rfqs

SPREAD_POLICIES = {"fixed": "fixed", "premium_pct": "premium_pct", "vega": "vega"}
KVA_METHODS = {"saccr": "saccr", "simple": "simple"}
VENUES = {"qccp": "qccp", "non_qccp": "non_qccp"}
#: Reduced BA-CVA (MAR50.14): discount scalar and the α of SA-CCR it divides out.
BA_CVA_SCALAR, BA_CVA_ALPHA = 0.65, 1.4
IM_PROFILES = {"flat": "flat", "sqrt": "sqrt", "sqrt_runoff": "sqrt", "replica": "replica", "expected": "expected"}
#: The profiles the margin replica simulates (on the trade's grid) rather than a run-off of today's ΔIM.
SIMULATED_PROFILES = ("replica", "expected")
#: SA-CCR supervisory factor of a crypto Group 2a hedging set (BCBS SCO60), as in saccr_netting_set.
SUPERVISORY_FACTOR = 0.32


@dataclass(frozen=True)
class QuoteParams:
    """Every input of the XVA and the quote, decimals for rates (0.005 = 50 bp).

    Funding: r_F = SOFR (latest bundled fixing if None) + ``funding_spread``; r_IM paid on
    posted IM (crypto venues: 0). KVA: SA-CCR on the trade exposure to the venue, or the
    article's simple form on ``simple_exposure``; the ``venue`` preset says how it is capitalised:

    * ``qccp`` (default): a qualifying CCP, trade exposure at ``risk_weight`` (2%, Basel CRE54.14),
      no CVA capital (CRE54), and the member's default-fund capital K_CM (CRE54.32) when
      ``kccp_usd``, ``default_fund_usd``, ``df_members_usd`` and ``im_ccp_usd`` are given;
    * ``non_qccp``: a venue that is not a QCCP (Deribit is an exchange, not a QCCP under CRE54):
      the exposure at ``counterparty_risk_weight`` (100%, unrated, CRE20 via CRE54.42) plus CVA
      capital by the reduced BA-CVA (MAR50: K = 0.65 · RW_cva · M · DF_M · EAD / 1.4, RW_cva 12%
      for an unrated financial), and the default-fund contribution at 1250% (CRE54) when
      ``default_fund_usd``, ``df_members_usd`` and ``im_ccp_usd`` are given.

    Default-fund capital is charged incrementally, K_CM(after) − K_CM(before) the trade: the
    member's contribution ``default_fund_usd`` is taken as its share of the fund
    ``df_members_usd`` pro rata to IM over all members' IM ``im_ccp_usd``
    (:func:`pricing.xva.adjustments.default_fund_after`), so a trade moves it by its ΔIM. The
    CCVA counts the same change ΔDF_i (the contribution the trade adds to what the venue's
    default would take), not the whole contribution.

    Crypto exposures are BCBS SCO60 Group 2a by default (``sco60_group``): a hedging set per
    cryptoasset, SF 32%, σ 120%, long and short options on one coin netting; ``"2b"`` turns
    netting off and charges 50% of gross notional as the add-on with multiplier 1
    (:func:`pricing.xva.adjustments.saccr_netting_set`).
    CCVA: PD/LGD of ``ccp_type`` unless given. Spread: ``fixed`` (USD per trade), ``premium_pct``
    (share of |premium|) or ``vega`` (vol points x |vega|), at least ``min_spread`` USD.
    """

    sofr: float | None = None
    funding_spread: float = 0.005
    im_rate: float = 0.0
    borrow_spread: float = 0.005
    vm_lag_days: float = 1.0
    im_profile: str = "flat"
    step_days: float = 7.0
    kva_method: str = "saccr"
    venue: str = "qccp"
    risk_weight: float = 0.02
    counterparty_risk_weight: float = 1.0
    cva_risk_weight: float = 0.12
    kccp_usd: float = 0.0
    df_ccp_usd: float = 0.0
    df_members_usd: float = 0.0
    im_ccp_usd: float = 0.0
    capital_ratio: float = 0.08
    cost_of_capital: float = 0.10
    mpor_business_days: float = 10.0
    sco60_group: str = "2a"
    im_bankruptcy_remote: bool = False
    simple_exposure: float | None = None
    ccp_type: str = "qccp"
    pd_annual: float | None = None
    lgd: float | None = None
    default_fund_usd: float = 0.0
    spread_policy: str = "premium_pct"
    spread_value: float = 0.002
    min_spread: float = 0.0
    tick: float = 0.0

    def __post_init__(self) -> None:
        for name in ("funding_spread", "im_rate", "borrow_spread", "risk_weight", "capital_ratio", "cost_of_capital"):
            check_rate(getattr(self, name), name, hi=12.5 if name == "risk_weight" else 1.0)
        if self.sofr is not None:
            check_rate(self.sofr, "sofr")
        parse_choice(self.spread_policy, "spread_policy", SPREAD_POLICIES)
        parse_choice(self.kva_method, "kva_method", KVA_METHODS)
        parse_choice(self.im_profile, "im_profile", IM_PROFILES)
        parse_choice(self.venue, "venue", VENUES)
        parse_choice(self.sco60_group, "sco60_group", SCO60_GROUPS)
        for name in ("counterparty_risk_weight", "cva_risk_weight"):
            check_rate(getattr(self, name), name, hi=12.5)
        if min(self.kccp_usd, self.df_ccp_usd, self.df_members_usd, self.default_fund_usd, self.im_ccp_usd) < 0:
            raise PricingInputError("kccp_usd, df_ccp_usd, df_members_usd, im_ccp_usd and default_fund_usd must be >= 0 (USD)")
        if self.default_fund_usd > 0:
            if not (self.df_members_usd > 0 and self.im_ccp_usd > 0):
                raise PricingInputError(
                    "im_ccp_usd and df_members_usd: both > 0 (USD) are needed with default_fund_usd to charge the change a"
                    " trade makes to the contribution (shared pro rata to IM: DF_i = DF_CM x IM_i / IM_CCP)"
                )
            if self.default_fund_usd > self.df_members_usd:
                raise PricingInputError("default_fund_usd: the member's contribution cannot exceed df_members_usd (all members')")
        ccp_default_params(self.ccp_type)
        if self.tick < 0 or self.min_spread < 0 or self.spread_value < 0:
            raise PricingInputError("tick, min_spread and spread_value must be >= 0")

    @property
    def funding_rate(self) -> float:
        return (latest_sofr() if self.sofr is None else self.sofr) + self.funding_spread


@dataclass(frozen=True)
class SideBreakdown:
    """One side of a quote, USD. ``price = base ± (fva + kva + mva + ccva + spread)``."""

    side: str
    base: float
    delta_im: float
    fva_im: float
    mva_vm: float
    kva: float
    ccva: float
    spread: float
    price: float

    @property
    def adjustments(self) -> float:
        return self.fva_im + self.mva_vm + self.kva + self.ccva

    def as_dict(self) -> dict[str, float | str]:
        """The article's labels (FVA, MVA, KVA, CCVA) on a user-facing row."""
        return {
            "side": self.side,
            "base": self.base,
            "delta_im": self.delta_im,
            "FVA": self.fva_im,
            "MVA": self.mva_vm,
            "KVA": self.kva,
            "CCVA": self.ccva,
            "spread": self.spread,
            "price": self.price,
        }


@dataclass(frozen=True)
class TradeRisk:
    """What the XVAs need about one trade, USD: its value, vega, |delta|, spot, vol and tenor as
    the dealer holds it if it buys, and its option legs in SA-CCR terms (the same, bought)."""

    premium: float
    vega: float
    abs_delta_coin: float
    spot: float
    vol: float
    tenor_years: float
    legs: SaccrLegs = field(default_factory=SaccrLegs.empty)


@dataclass(frozen=True, eq=False)
class BookCapital:
    """The dealer's existing netting set with the venue: its option legs, its value and the IM
    it has posted, so that a trade's capital is EAD(book + trade) − EAD(book) (Basel CRE52)."""

    legs: SaccrLegs = field(default_factory=SaccrLegs.empty)
    mtm: float = 0.0
    im_posted: float = 0.0
    _sets: dict[tuple[Any, ...], tuple[FloatArray, float]] = field(default_factory=dict, compare=False, repr=False)

    def hedging_sets(self, underlyings: tuple[str, ...], p: QuoteParams) -> tuple[FloatArray, float]:
        """(Σ δ d MF per hedging set in ``underlyings`` order, Σ d), USD: the book's SA-CCR aggregates
        (kept per underlyings and MPOR: every quote against this book reuses them)."""
        key = (underlyings, p.mpor_business_days)
        if key not in self._sets:
            eff, gross = _hedging_sets(self.legs, np.zeros(len(self.legs.units), np.int64), 1, underlyings, p)
            self._sets[key] = (eff[0], float(gross[0]))
        return self._sets[key]


def book_capital(book: Portfolio, market: Market, im_posted: float) -> BookCapital:
    """The :class:`BookCapital` of a portfolio on a market (options only: futures carry no SA-CCR option add-on here)."""
    if len(book) == 0:
        return BookCapital(im_posted=im_posted)
    st = position_state(book, market)
    return BookCapital(_saccr_legs(book, st, np.ones(len(book), bool)), float(st.value_usd.sum()), im_posted)


def _saccr_legs(portfolio: Portfolio, st: PositionState, rows: np.ndarray) -> SaccrLegs:
    opt = rows & (portfolio.kind == OPTION)
    return SaccrLegs(
        tuple(str(u) for u in np.asarray(portfolio.underlying)[opt]),
        portfolio.cp[opt].astype(np.int64),
        st.spot[opt],
        portfolio.strike[opt],
        portfolio.units[opt],
        st.t_years[opt],
    )


def _hedging_sets(
    legs: SaccrLegs, owner: np.ndarray, n_owners: int, underlyings: tuple[str, ...], p: QuoteParams
) -> tuple[FloatArray, FloatArray]:
    """Per owner (trade) and hedging set: Σ δ d MF, (T, U); and Σ d, (T,). USD."""
    eff = np.zeros((n_owners, len(underlyings)))
    gross = np.zeros(n_owners)
    if len(legs.units):
        delta, notional, mf = saccr_leg_terms(legs, p.mpor_business_days)
        col = np.searchsorted(np.asarray(underlyings), np.asarray(legs.underlying, dtype=str))
        np.add.at(eff, (owner, col), delta * notional * mf)
        np.add.at(gross, owner, notional)
    return eff, gross


def dealer_sign(side: str) -> float:
    """+1 on the bid (the dealer buys the trade), -1 on the ask (it sells)."""
    return 1.0 if parse_choice(side, "side", {"bid": "bid", "ask": "ask"}) == "bid" else -1.0


def ba_cva_per_ead(maturity_years: float, cva_risk_weight: float) -> float:
    """Reduced BA-CVA capital per unit of EAD for one counterparty (Basel MAR50.14-50.16).

    Parameters
    ----------
    maturity_years : float
        Effective maturity M of the netting set, floored at one year.
    cva_risk_weight : float
        RW_c of the counterparty's sector and quality (12%: unrated financial).

    Returns
    -------
    float
        K / EAD = DS · RW_c · M · DF_M / α, DF_M = (1 − e^{−0.05 M}) / (0.05 M), DS 0.65, α 1.4.

    Examples
    --------
    >>> round(ba_cva_per_ead(1.0, 0.12), 6)
    0.054344
    """
    return float(_ba_cva_factor(np.array([float(maturity_years)]), cva_risk_weight)[0])


def _ba_cva_factor(maturity_years: FloatArray, cva_risk_weight: float) -> FloatArray:
    m = np.maximum(np.asarray(maturity_years, dtype=np.float64), 1.0)
    df = -np.expm1(-0.05 * m) / (0.05 * m)
    return np.asarray(BA_CVA_SCALAR * cva_risk_weight * m * df / BA_CVA_ALPHA, dtype=np.float64)


# -- the adjustments of many trades at once -----------------------------------------------------


@dataclass(frozen=True)
class TradeRisks:
    """What the XVAs need about T trades, as the dealer holds each if it buys it, USD (T,) arrays.

    ``premium`` is the trade's value paid today (USD-settled legs discounted at SOFR, ACT/360;
    coin-settled legs the coin mark times the index, :func:`leg_premiums`), ``value`` its mark,
    ``abs_delta_coin`` |Σ delta|, ``spot`` the first leg's, ``vol`` the |units|-weighted vol of
    its option legs, ``tenor_years`` its longest leg. ``effective`` (T, U) is its SA-CCR Σ δ d MF
    per hedging set (``underlyings``), ``gross`` its Σ d (Basel CRE52; SCO60 Group 2b).
    """

    premium: FloatArray
    value: FloatArray
    vega: FloatArray
    abs_delta_coin: FloatArray
    spot: FloatArray
    vol: FloatArray
    tenor_years: FloatArray
    effective: FloatArray
    gross: FloatArray
    underlyings: tuple[str, ...]

    @property
    def count(self) -> int:
        return int(self.premium.size)


def leg_premiums(legs: Portfolio, state: PositionState, p: QuoteParams) -> FloatArray:
    """Each leg's premium paid today, USD.

    USD-settled legs: the Black-76 mark discounted at SOFR (ACT/360) from expiry. Coin-settled
    legs: the coin mark (Black-76 / F, undiscounted — Deribit's convention) times the index S,
    which :func:`pricing.revaluation.position_state` already gives as ``value_usd``; the coin
    paid today is worth S, not the forward F (docs/methodology.md §D6).
    """
    sofr = latest_sofr() if p.sofr is None else p.sofr
    df = np.where(legs.inverse, 1.0, np.exp(-sofr * state.t_years * 365.0 / 360.0))
    return np.asarray(df * state.value_usd, dtype=np.float64)


def trade_risks(trades: TradeLegs, state: PositionState, p: QuoteParams, underlyings: tuple[str, ...]) -> TradeRisks:
    """:class:`TradeRisks` of every trade from its legs' state (one pass over the legs, no loop over trades).

    ``underlyings`` must include every leg's (the hedging sets of the book and the trades).
    """
    legs = trades.legs
    n = trades.count
    owner = np.repeat(np.arange(n), np.diff(trades.starts))

    def per_trade(x: FloatArray) -> FloatArray:
        return trades.sum_rows(np.asarray(x, dtype=np.float64)[:, None])[:, 0]

    opt = legs.kind == OPTION
    weight = np.where(opt, np.abs(legs.units), 0.0)
    w_sum = per_trade(weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol = np.where(w_sum > 0, per_trade(weight * state.vol) / np.where(w_sum > 0, w_sum, 1.0), 0.0)
    tenor = np.zeros(n)
    first = np.zeros(n)
    full = trades.starts[:-1] < trades.starts[1:]
    if full.any():
        tenor[full] = np.maximum.reduceat(state.t_years, trades.starts[:-1][full])
        first[full] = state.spot[trades.starts[:-1][full]]
    eff, gross = _hedging_sets(_saccr_legs(legs, state, np.ones(len(legs), bool)), owner[opt], n, underlyings, p)
    return TradeRisks(
        per_trade(leg_premiums(legs, state, p)),
        per_trade(state.value_usd),
        per_trade(state.vega_usd),
        np.abs(per_trade(state.delta_coin)),
        first,
        vol,
        tenor,
        eff,
        gross,
        underlyings,
    )


@dataclass(frozen=True)
class BookStates:
    """The dealer's netting set as each trade meets it (T rows): SA-CCR Σ δ d MF per hedging set
    (T, U), Σ d, value and posted IM. All rows equal unless earlier fills changed the book."""

    effective: FloatArray
    gross: FloatArray
    mtm: FloatArray
    im_posted: FloatArray

    @staticmethod
    def constant(book: BookCapital, risks: TradeRisks, p: QuoteParams) -> BookStates:
        eff, gross = book.hedging_sets(risks.underlyings, p)
        n = risks.count
        return BookStates(
            np.broadcast_to(eff, (n, eff.size)), np.full(n, gross), np.full(n, book.mtm), np.full(n, book.im_posted)
        )

    def after_fills(self, risks: TradeRisks, fill: FloatArray, im_before: FloatArray) -> BookStates:
        """The book as trade t meets it when each earlier trade s was filled ``fill[s]`` (+1/-1/0)."""
        f = np.asarray(fill, dtype=np.float64)

        def before(x: FloatArray) -> FloatArray:
            # Σ_{s < t} of the fills' contributions: an exclusive running sum.
            c = np.cumsum(x, axis=0)
            return np.concatenate([np.zeros((1, *c.shape[1:])), c[:-1]])

        return BookStates(
            self.effective + before(f[:, None] * risks.effective),
            self.gross + before(np.abs(f) * risks.gross),
            self.mtm + before(f * risks.value),
            np.asarray(im_before, dtype=np.float64),
        )


def _ead(effective: FloatArray, gross: FloatArray, mtm: FloatArray, im: FloatArray, p: QuoteParams) -> FloatArray:
    """SA-CCR EAD of netting sets from their aggregates (the same terms as :func:`saccr_netting_set`)."""
    if p.sco60_group == "2b":
        addon = GROUP_2B_ADDON * gross
    else:
        addon = SUPERVISORY_FACTOR * np.abs(effective).sum(axis=-1)
    posted = np.zeros_like(im) if p.im_bankruptcy_remote else np.maximum(im, 0.0)
    return saccr_ead(addon, mtm, posted, group=p.sco60_group)[2]


def incremental_eads(dim: FloatArray, risks: TradeRisks, p: QuoteParams, sign: float, books: BookStates) -> FloatArray:
    """EAD(book + trade) − EAD(book) per trade on one side (sign +1 bid, −1 ask), USD (T,).

    Notes
    -----
    Basel CRE52 per netting set, options on one underlying netting within their hedging set:
    the trade's Σ δ d MF adds to the book's (δ d is linear in the signed units), its notional to
    the gross, its premium to the value and its ΔIM to the posted IM; MPOR ``p.mpor_business_days``.
    """
    before = _ead(books.effective, books.gross, books.mtm, books.im_posted, p)
    after = _ead(
        books.effective + sign * risks.effective,
        books.gross + risks.gross,
        books.mtm + sign * risks.premium,
        books.im_posted + dim,
        p,
    )
    return after - before


def _default_fund_increments(dim: FloatArray, p: QuoteParams) -> FloatArray:
    """The contribution each trade adds at the venue, DF_i(after) − DF_i(before), floored at 0 as
    the IM at risk is (a trade that frees margin earns no CCVA back), USD (T,)."""
    if p.default_fund_usd <= 0:
        return np.zeros_like(dim)
    after = default_fund_after(dim, p.default_fund_usd, p.df_members_usd, p.im_ccp_usd)
    return np.asarray(np.maximum(after - p.default_fund_usd, 0.0), dtype=np.float64)


def _k_cm_increments(dim: FloatArray, p: QuoteParams) -> FloatArray:
    """The default-fund capital each trade adds, K_CM(after) − K_CM(before), USD (T,).

    QCCP: CRE54.32 with K_CCP given; non-QCCP: 1250% of the contribution (CRE54). 0 when no
    contribution is given (or, at a QCCP, no K_CCP).
    """
    qccp = p.venue == "qccp"
    if p.default_fund_usd <= 0 or (qccp and p.kccp_usd <= 0):
        return np.zeros_like(dim)
    return k_cm_incremental(
        dim,
        df_member=p.default_fund_usd,
        df_all_members=p.df_members_usd,
        im_ccp=p.im_ccp_usd,
        qualifying=qccp,
        k_ccp=p.kccp_usd,
        df_ccp=p.df_ccp_usd,
        capital_ratio=p.capital_ratio,
    )


def side_costs(
    dim: FloatArray,
    risks: TradeRisks,
    p: QuoteParams,
    side: str,
    books: BookStates,
    times: FloatArray,
    dim_profile: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """fva_im, mva_vm, kva, ccva (USD, positive = cost) of every trade on one side, (T,) each.

    Parameters
    ----------
    dim : array (T,)
        The side's marginal IM per trade, USD.
    risks : TradeRisks
    p : QuoteParams
    side : {"bid", "ask"}
        The dealer buys the trades on the bid and sells them on the ask.
    books : BookStates
        The netting set each trade meets.
    times : array (T, N)
        Every trade's XVA grid (:func:`pricing.xva.profiles.grid_matrix`).
    dim_profile : array (T, N), optional
        The replica ΔIM profiles (``im_profile="replica"``).

    Returns
    -------
    dict of str to ndarray (T,)
        ``fva_im``, ``mva_vm``, ``kva``, ``ccva``, USD.

    Notes
    -----
    The funding leg (``fva_im``) funds the marginal IM *and the premium cash*: the dealer pays the
    premium when it buys (bid) and receives it when it sells (ask), until expiry. So whatever the
    margin model counts as option value (SPAN credits a long option's value in ΔIM and charges a
    short one's) is funded once, consistently. The two legs are funded at different rates
    (docs/methodology.md §D6, the derivation): the posted IM is cash the base price knows
    nothing of, so it costs the full r_F − r_IM (SOFR + spread − the rate paid on IM; ORE's
    MVA (f_b − s_I) over OIS is the same number); the premium is already discounted on its
    curve (SOFR for USD legs, the coin's zero rate of Deribit's mark for coin legs), so carrying
    it costs only the funding *spread* over that curve — funding it at SOFR + spread counted
    SOFR twice. Funding is asymmetric: premium the dealer pays is funded at the spread, premium it
    receives is placed at its discount curve and earns no spread (no funding benefit is priced
    in, as with a desk that borrows at a spread and lends at OIS), so on an empty book with no
    IM change every adjustment is a cost and bid <= base <= ask. Both accrue ACT/360. Every sum runs over the trade's own grid: the padding of
    the common (T, N) grid has zero-width periods.
    """
    sign = dealer_sign(side)
    if p.im_profile in SIMULATED_PROFILES:
        if dim_profile is None or dim_profile.shape != times.shape:
            raise PricingInputError(
                f"im_profile: {p.im_profile!r} needs the simulated ΔIM profile on the trade's grid (quote_book computes it)"
            )
        dprof = dim_profile
    else:
        dprof = profile_matrix(dim, times, p.im_profile)
    sofr = latest_sofr() if p.sofr is None else p.sofr
    # Cash the dealer pays out is funded at the spread; cash it receives earns its discount curve
    # and no spread (no funding benefit on received premium: see Notes).
    premium_cash = profile_matrix(np.maximum(sign * risks.premium, 0.0), times, "flat")
    # The premium is carried at the funding spread over its discount curve only (see Notes).
    fva = fva_im_grid(dprof, times, p.funding_rate, p.im_rate, sofr) + fva_im_grid(
        premium_cash, times, p.funding_spread, 0.0, sofr
    )
    mva = mva_vm_batch(
        risks.abs_delta_coin,
        risks.spot,
        risks.vol,
        risks.tenor_years,
        p.borrow_spread,
        lag_days=p.vm_lag_days,
        discount_rate=sofr,
    )
    if p.kva_method == "simple":
        exposure = np.full(risks.count, p.simple_exposure) if p.simple_exposure is not None else np.abs(risks.premium)
        for name in ("risk_weight", "capital_ratio", "cost_of_capital"):
            check_rate(getattr(p, name), name, lo=0.0, hi=12.5)
        kva = exposure * p.risk_weight * p.capital_ratio * p.cost_of_capital * risks.tenor_years
    else:
        ead = incremental_eads(dim, risks, p, sign, books)
        # The EAD keeps today's value under the replica profile (only the IM is re-simulated).
        ead_t = profile_matrix(ead, times, "flat" if p.im_profile in SIMULATED_PROFILES else p.im_profile)
        qccp = p.venue == "qccp"
        rw = p.risk_weight if qccp else p.counterparty_risk_weight
        kcm = _k_cm_increments(dim, p)
        kva = kva_grid(ead_t, times, rw, p.capital_ratio, p.cost_of_capital, k_default_fund=kcm, discount_rate=sofr)
        if not qccp:
            cva = ead_t * _ba_cva_factor(risks.tenor_years, p.cva_risk_weight)[:, None]
            kva = kva + kva_grid(cva, times, 1.0, 1.0, p.cost_of_capital, discount_rate=sofr)
    pd, lgd = ccp_default_params(p.ccp_type)
    pd = p.pd_annual if p.pd_annual is not None else pd
    lgd = p.lgd if p.lgd is not None else lgd
    exposed = np.zeros_like(dprof) if p.im_bankruptcy_remote else np.maximum(dprof, 0.0)
    cc = ccva_grid(exposed, times, pd, lgd, default_fund=_default_fund_increments(dim, p), discount_rate=sofr)
    return {"fva_im": fva, "mva_vm": mva, "kva": kva, "ccva": cc}


def spread_amounts(risks: TradeRisks, p: QuoteParams) -> FloatArray:
    """The profit margin of each trade, USD (T,): ``fixed``, ``premium_pct`` of |premium| or ``vega`` vol points."""
    policy = parse_choice(p.spread_policy, "spread_policy", SPREAD_POLICIES)
    if policy == "fixed":
        amount = np.full(risks.count, p.spread_value)
    elif policy == "premium_pct":
        amount = p.spread_value * np.abs(risks.premium)
    else:
        # spread_value in vol points; vega is dV/dσ per 1.00 of vol, so one vol point is vega / 100.
        amount = p.spread_value * np.abs(risks.vega) / 100.0
    return np.asarray(np.maximum(amount, p.min_spread), dtype=np.float64)


@dataclass(frozen=True)
class QuoteSides:
    """Both sides of T trades, USD (T,) arrays: the shared ``base`` and ``spread``, and per side
    (``bid``/``ask``) the ΔIM, the four adjustments and the all-in price."""

    base: FloatArray
    spread: FloatArray
    bid: dict[str, FloatArray]
    ask: dict[str, FloatArray]


def quote_sides(
    dim_sell: FloatArray,
    dim_buy: FloatArray,
    risks: TradeRisks,
    p: QuoteParams,
    books: BookStates,
    profiles: tuple[FloatArray, FloatArray] | None = None,
) -> QuoteSides:
    """Bid and ask of every trade, each side with its own ΔIM, on one common grid.

    Parameters
    ----------
    dim_sell, dim_buy : arrays (T,)
        ΔIM if the dealer sells (the ask) or buys (the bid) each trade, USD.
    risks : TradeRisks
    p : QuoteParams
    books : BookStates
        The netting set each trade meets.
    profiles : (sell, buy) arrays (T, N), optional
        Replica ΔIM profiles on the common grid.

    Returns
    -------
    QuoteSides

    Notes
    -----
    ask = base + FVA + KVA + MVA + CCVA + spread with the ask side's ΔIM (the dealer sells); bid
    likewise with the bid side's, subtracted (docs/methodology.md §D; :func:`all_in_price`).
    """
    times = grid_matrix(risks.tenor_years, p.step_days)
    sell_profile, buy_profile = profiles if profiles is not None else (None, None)
    spread = spread_amounts(risks, p)
    sides = {}
    for label, dim, prof in (("bid", dim_buy, buy_profile), ("ask", dim_sell, sell_profile)):
        costs = side_costs(np.asarray(dim, dtype=np.float64), risks, p, label, books, times, prof)
        total = costs["fva_im"] + costs["mva_vm"] + costs["kva"] + costs["ccva"]
        sides[label] = {"delta_im": np.asarray(dim, dtype=np.float64), **costs}
        sides[label]["price"] = all_in_price(risks.premium, total, spread, label, p.tick)
    return QuoteSides(risks.premium, spread, sides["bid"], sides["ask"])


# -- one trade: the same functions on a batch of one ---------------------------------------------


def _risks_of(risk: TradeRisk, p: QuoteParams, book: BookCapital) -> TradeRisks:
    unds = tuple(sorted(set(risk.legs.underlying) | set(book.legs.underlying)))
    eff, gross = _hedging_sets(risk.legs, np.zeros(len(risk.legs.units), np.int64), 1, unds, p)

    def one(x: float) -> FloatArray:
        return np.array([float(x)])

    return TradeRisks(
        one(risk.premium),
        one(risk.premium),
        one(risk.vega),
        one(abs(risk.abs_delta_coin)),
        one(risk.spot),
        one(risk.vol),
        one(check_tenor(risk.tenor_years)),
        eff,
        gross,
        unds,
    )


def incremental_ead(delta_im: float, risk: TradeRisk, p: QuoteParams, side: str, book: BookCapital | None = None) -> float:
    """EAD(book + trade) − EAD(book), the trade's SA-CCR exposure to the venue on one side, USD.

    Parameters
    ----------
    delta_im : float
        The side's marginal IM, USD (posted, so in RC unless bankruptcy-remote).
    risk : TradeRisk
    p : QuoteParams
    side : {"bid", "ask"}
        The dealer buys the trade on the bid and sells it on the ask.
    book : BookCapital, optional
        The dealer's existing netting set with the venue (empty if None).

    Returns
    -------
    float
        USD; may be negative when the trade hedges the book.

    Notes
    -----
    :func:`incremental_eads` on a batch of one.
    """
    b = book or BookCapital()
    risks = _risks_of(risk, p, b)
    return float(incremental_eads(np.array([float(delta_im)]), risks, p, dealer_sign(side), BookStates.constant(b, risks, p))[0])


def adjustments(
    delta_im: float,
    risk: TradeRisk,
    p: QuoteParams,
    side: str = "ask",
    book: BookCapital | None = None,
    dim_profile: FloatArray | None = None,
) -> dict[str, float]:
    """fva_im, mva_vm, kva, ccva (USD, positive = cost) for one side with marginal IM ``delta_im``:
    :func:`side_costs` on a batch of one (its Notes say what each funds)."""
    b = book or BookCapital()
    risks = _risks_of(risk, p, b)
    times = grid_matrix(risks.tenor_years, p.step_days)
    prof = None if dim_profile is None else np.asarray(dim_profile, dtype=np.float64).reshape(1, -1)
    out = side_costs(np.array([float(delta_im)]), risks, p, side, BookStates.constant(b, risks, p), times, prof)
    return {k: float(v[0]) for k, v in out.items()}


def spread_amount(risk: TradeRisk, p: QuoteParams) -> float:
    """:func:`spread_amounts` of one trade."""
    return float(spread_amounts(_risks_of(risk, p, BookCapital()), p)[0])


def all_in_price(base: ArrayLike, costs: ArrayLike, spread: ArrayLike, side: str, tick: float = 0.0) -> FloatArray:
    """All-in price of one side: the dealer's ask adds the costs and the spread, the bid takes them off.

    Parameters
    ----------
    base : array_like
        Mid (model) value of the trade, USD.
    costs : array_like
        FVA + KVA + MVA + CCVA of that side, USD (positive = a cost to the dealer).
    spread : array_like
        Profit margin, USD (>= 0).
    side : {"ask", "bid"}
        The dealer's side.
    tick : float
        Price increment; the ask rounds up and the bid down (never in the client's favour).

    Returns
    -------
    ndarray
        USD.

    Examples
    --------
    The article's quote: 550,000 + 16,800 + 2,000.

    >>> float(all_in_price(550_000, 16_800, 2_000, "ask", 1.0))
    568800.0

    Notes
    -----
    ask = base + costs + spread, bid = base - costs - spread (DESIGN: all-in price =
    base + FVA + KVA + MVA + CCVA + spread; the article's $568,800 = 550,000 + 16,800 + 2,000).
    """
    up = parse_choice(side, "side", {"ask": True, "bid": False})
    x = np.asarray(base, dtype=np.float64) + (1.0 if up else -1.0) * (
        np.asarray(costs, dtype=np.float64) + np.asarray(spread, dtype=np.float64)
    )
    if tick <= 0:
        return x
    return (np.ceil(x / tick - 1e-9) if up else np.floor(x / tick + 1e-9)) * tick


def two_way(
    base: float,
    delta_im_sell: float,
    delta_im_buy: float,
    risk: TradeRisk,
    p: QuoteParams,
    book: BookCapital | None = None,
    profiles: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[SideBreakdown, SideBreakdown]:
    """Bid and ask of one trade, each with its own ΔIM: :func:`quote_sides` on a batch of one.

    Parameters
    ----------
    base : float
        Mid value of the trade, USD (the premium the XVAs fund is ``risk.premium``).
    delta_im_sell, delta_im_buy : float
        ΔIM if the dealer sells (the ask) or buys (the bid), USD.
    risk : TradeRisk
    p : QuoteParams
    book : BookCapital, optional
        The dealer's netting set with the venue, for the trade's incremental SA-CCR exposure.
    profiles : (sell, buy) arrays, optional
        The replica ΔIM profiles on the trade's grid (``im_profile="replica"``).

    Returns
    -------
    (SideBreakdown, SideBreakdown)
        (bid, ask).

    Notes
    -----
    ask = base + FVA + KVA + MVA + CCVA + spread with the ask side's ΔIM; bid likewise with the
    bid side's, subtracted (docs/methodology.md §D; :func:`all_in_price`).
    """
    b = book or BookCapital()
    risks = _risks_of(risk, p, b)
    profs = None if profiles is None else (np.asarray(profiles[0])[None], np.asarray(profiles[1])[None])
    q = quote_sides(
        np.array([float(delta_im_sell)]), np.array([float(delta_im_buy)]), risks, p, BookStates.constant(b, risks, p), profs
    )
    spread = float(q.spread[0])
    out = []
    for label, s in (("bid", q.bid), ("ask", q.ask)):
        costs = s["fva_im"][0] + s["mva_vm"][0] + s["kva"][0] + s["ccva"][0]
        price = float(all_in_price(base, costs, spread, label, p.tick))
        out.append(
            SideBreakdown(
                label,
                float(base),
                float(s["delta_im"][0]),
                float(s["fva_im"][0]),
                float(s["mva_vm"][0]),
                float(s["kva"][0]),
                float(s["ccva"][0]),
                spread,
                price,
            )
        )
    return out[0], out[1]


# -- quote books --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QuoteBasis:
    """What every quote against one book, market, model and add-ons shares: the margin basis
    (the book's scenario P&L, tail state and IM) and its SA-CCR netting set. Built once and
    reused by every call that quotes against the same book (a per-row ``CQ_RFQ`` formula reprices
    only its own trade)."""

    margin: MarginBasis
    capital: BookCapital

    @staticmethod
    def build(
        book: Portfolio, market: Market, model: MarginModel, addons: AddOnParams | None = None, trades: Portfolio | None = None
    ) -> QuoteBasis:
        basis = margin_basis(book, market, model, addons, trades)
        return QuoteBasis(basis, book_capital(book, market, basis.im0))

    def for_trades(self, trades: Portfolio) -> QuoteBasis:
        m = self.margin.for_trades(trades)
        return self if m is self.margin else QuoteBasis(m, self.capital)


@dataclass(frozen=True)
class QuoteTable:
    """Quotes of T trades (rows ``rows`` of the request table), USD (T,) arrays.

    ``bid``/``ask`` hold per side ``delta_im``, ``fva_im``, ``mva_vm``, ``kva``, ``ccva`` and
    ``price`` (NaN on a side not quoted: the bid of a client buy, the ask of a client sell).
    """

    rows: np.ndarray
    names: tuple[str, ...]
    sides: tuple[str, ...]
    base: FloatArray
    spread: FloatArray
    bid: dict[str, FloatArray]
    ask: dict[str, FloatArray]
    #: Per trade, why its prices must not leave the desk (:mod:`pricing.desk.sanity`); its bid
    #: and ask are NaN then. Empty: none refused.
    refusals: tuple[str | None, ...] = ()

    @staticmethod
    def empty(rows: np.ndarray) -> QuoteTable:
        """The table of no trades."""
        z = np.zeros(0)
        sides = {k: z for k in ("delta_im", "fva_im", "mva_vm", "kva", "ccva", "price")}
        return QuoteTable(rows, (), (), z, z, sides, dict(sides))

    def records(self) -> list[dict[str, Any]]:
        """One dict per trade with the article's labels (``bid_FVA``, ``ask_price``, ...)."""
        labels = {"fva_im": "FVA", "mva_vm": "MVA", "kva": "KVA", "ccva": "CCVA"}
        cols: dict[str, list[Any]] = {"base": self.base.tolist(), "delta_im_bid": self.bid["delta_im"].tolist()}
        cols["delta_im_ask"] = self.ask["delta_im"].tolist()
        for label, s in (("bid", self.bid), ("ask", self.ask)):
            for k, name in labels.items():
                cols[f"{label}_{name}"] = s[k].tolist()
            cols[f"{label}_spread"] = self.spread.tolist()
            cols[f"{label}_price"] = s["price"].tolist()
        out = []
        for t in range(len(self.names)):
            row: dict[str, Any] = {"trade": self.names[t], "side": self.sides[t], "rfq": int(self.rows[t]) + 1}
            row.update({k: v[t] for k, v in cols.items()})
            if self.refusals and self.refusals[t] is not None:
                row["refused"] = self.refusals[t]
            for label in ("bid", "ask"):
                if math.isnan(row[f"{label}_price"]):
                    del row[f"{label}_price"]
            out.append(row)
        return out


def quote_rfqs(batch: RfqBatch, basis: QuoteBasis, p: QuoteParams | None = None, *, accept: bool = False) -> QuoteTable:
    """Quote every parsed request of ``batch`` against the basis's book: one pass, no loop over trades.

    Parameters
    ----------
    batch : RfqBatch
        From :func:`pricing.xva.rfq.parse_rfqs` (refused rows are skipped; ``batch.rows`` maps back).
    basis : QuoteBasis
        The book's basis (its layout is widened to the trades if they need it).
    p : QuoteParams, optional
    accept : bool
        Fill each request before pricing the next: the dealer's side of a one-sided request (the
        ask of a client buy, the bid of a client sell) joins the book; two-way requests are not filled.

    Returns
    -------
    QuoteTable

    Notes
    -----
    Each leg is valued once (its state feeds the premium, the Greeks, SA-CCR and the margin
    kernels); ΔIM of every trade both ways comes from :func:`pricing.margin.engine.trade_margins`
    (or :func:`~pricing.margin.engine.sequential_margins` when accepting); the XVAs of all trades
    are computed at once on a common masked grid (:func:`quote_sides`).
    """
    p = p or QuoteParams()
    trades = batch.trades
    if trades.count == 0:
        return QuoteTable.empty(batch.rows)
    market = basis.margin.market
    q = basis.for_trades(trades.legs)
    unit_state = position_state(trades.legs.with_quantity(np.ones(len(trades.legs))), market)
    state = unit_state.scaled(trades.legs.quantity)
    unds = tuple(sorted(set(q.margin.setup.underlyings) | set(trades.legs.underlyings)))
    risks = trade_risks(trades, state, p, unds)
    books = BookStates.constant(q.capital, risks, p)
    if accept:
        seq = sequential_margins(q.margin, trades, batch.fill)
        buy, sell, before = seq.im_buy, seq.im_sell, seq.im_before
        books = books.after_fills(risks, batch.fill, before)
    else:
        buy, sell = trade_margins(q.margin, trades, unit_state=unit_state)
        before = np.full(trades.count, q.margin.im0)
    profiles = _replica(q, trades, batch.fill if accept else None, p, risks) if p.im_profile in SIMULATED_PROFILES else None
    sides = quote_sides(sell - before, buy - before, risks, p, books, profiles)
    quoted_bid = np.array([s != "buy" for s in batch.sides])
    quoted_ask = np.array([s != "sell" for s in batch.sides])
    sides.bid["price"] = np.where(quoted_bid, sides.bid["price"], np.nan)
    sides.ask["price"] = np.where(quoted_ask, sides.ask["price"], np.nan)
    return QuoteTable(batch.rows, trades.names(), batch.sides, sides.base, sides.spread, sides.bid, sides.ask)


def quote_book(
    rfqs: Sequence[Mapping[str, Any]],
    portfolio: Portfolio | None,
    market: Market,
    model: MarginModel,
    params: QuoteParams | None = None,
    addons: AddOnParams | None = None,
    *,
    accept: bool = False,
) -> list[dict[str, Any]]:
    """Quote a table of RFQs (one dict per row) against the current portfolio.

    Parameters
    ----------
    rfqs : sequence of mappings
        See below for the columns.
    portfolio : Portfolio or None
        The desk's positions (None: empty).
    market : Market
    model : MarginModel
        The venue replica that gives ΔIM.
    params, addons : QuoteParams, AddOnParams, optional
    accept : bool
        Fill each RFQ before pricing the next.

    Returns
    -------
    list of dict
        One per RFQ, with the keys below.

    Raises
    ------
    PricingInputError
        The first row that cannot be quoted, with its reason (:func:`parse_rfqs` keeps them all).

    Notes
    -----
    Columns: ``instrument`` or ``legs`` (``NAME:ratio;NAME:ratio``), ``side`` (the client's:
    ``buy`` → dealer's ask, ``sell`` → bid, ``two-way``), ``quantity`` (contracts) or
    ``notional_usd``. Each row has ``base``, ``delta_im_bid``/``delta_im_ask``, both sides'
    ``bid_FVA``/``ask_FVA`` (likewise MVA, KVA, CCVA, spread), and ``bid_price``/``ask_price``
    for the sides quoted. :func:`parse_rfqs`, :class:`QuoteBasis`, :func:`quote_rfqs`.
    """
    batch = parse_rfqs(rfqs, market)
    bad = next((r for r in batch.reasons if r is not None), None)
    if bad is not None:
        raise PricingInputError(bad)
    book = portfolio if portfolio is not None else empty_portfolio()
    if batch.trades.count == 0:
        return []
    basis = QuoteBasis.build(book, market, model, addons, batch.trades.legs)
    return quote_rfqs(batch, basis, params, accept=accept).records()


def _replica(
    basis: QuoteBasis, trades: TradeLegs, fill: FloatArray | None, p: QuoteParams, risks: TradeRisks
) -> tuple[FloatArray, FloatArray]:
    """(sell, buy) replica ΔIM profiles of every trade on the common grid, simulated at once on
    the union of the trades' grids (pricing.xva.replica_profile). With fills, each trade meets
    the book as earlier fills left it, so those are simulated one trade at a time."""
    m = basis.margin
    simulate = expected_replica_profiles if p.im_profile == "expected" else replica_profiles
    times = grid_matrix(risks.tenor_years, p.step_days)
    union = np.unique(times)
    groups = np.repeat(np.arange(trades.count), np.diff(trades.starts))
    at = np.searchsorted(union, times)
    rows = np.arange(trades.count)[:, None]
    if fill is None or not np.any(fill):
        buy, sell = simulate(m.portfolio, trades.legs, groups, m.market, m.model, union, m.params)
        return sell[rows, at], buy[rows, at]
    sell_out, buy_out = np.zeros(times.shape), np.zeros(times.shape)
    book = m.portfolio
    for t in range(trades.count):
        part = trades.take(t, t + 1)
        b, s = simulate(book, part.legs, np.zeros(len(part.legs), np.int64), m.market, m.model, union, m.params)
        sell_out[t], buy_out[t] = s[0, at[t]], b[0, at[t]]
        if fill[t]:
            book = concat([book, part.legs.with_quantity(fill[t] * part.legs.quantity)])
    return sell_out, buy_out
