"""All-in two-way quotes and quote books: base price + FVA + KVA + MVA + CCVA + spread.

Sides are the dealer's: the **ask** is where the dealer sells (the client buys), so its XVAs
use ΔIM of the dealer selling; the **bid** uses ΔIM of the dealer buying. Positive
adjustments are costs to the desk: they raise the ask and lower the bid; a trade that lowers
the desk's IM has negative FVA and gets a tighter quote. Rounding is conservative: the ask
rounds up and the bid down to the venue's tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.errors import PricingInputError, parse_choice
from pricing.instruments import OptionContract, parse_instrument_name
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginModel, marginal_im
from pricing.portfolio import OPTION, Portfolio, concat, empty_portfolio, from_contracts
from pricing.revaluation import Market, PositionState, position_state
from pricing.xva.adjustments import (
    SCO60_GROUPS,
    SaccrLegs,
    ccp_default_params,
    ccva,
    fva_im_lifetime,
    k_cm,
    kva_lifetime,
    kva_simple,
    mva_vm_settlement_lag,
    saccr_netting_set,
)
from pricing.xva.profiles import grid, profile
from pricing.xva.rates import check_rate, latest_sofr
from pricing.xva.replica_profile import replica_profiles

SPREAD_POLICIES = {"fixed": "fixed", "premium_pct": "premium_pct", "vega": "vega"}
KVA_METHODS = {"saccr": "saccr", "simple": "simple"}
VENUES = {"qccp": "qccp", "non_qccp": "non_qccp"}
#: Reduced BA-CVA (MAR50.14): discount scalar and the α of SA-CCR it divides out.
BA_CVA_SCALAR, BA_CVA_ALPHA = 0.65, 1.4
IM_PROFILES = {"flat": "flat", "sqrt": "sqrt", "sqrt_runoff": "sqrt", "replica": "replica"}
SIDES = {"buy": "buy", "sell": "sell", "two-way": "two-way", "two_way": "two-way", "2way": "two-way", "both": "two-way"}


@dataclass(frozen=True)
class QuoteParams:
    """Every input of the XVA and the quote, decimals for rates (0.005 = 50 bp).

    Funding: r_F = SOFR (latest bundled fixing if None) + ``funding_spread``; r_IM paid on
    posted IM (crypto venues: 0). KVA: SA-CCR on the trade exposure to the venue, or the
    article's simple form on ``simple_exposure``; the ``venue`` preset says how it is capitalised:

    * ``qccp`` (default): a qualifying CCP, trade exposure at ``risk_weight`` (2%, Basel CRE54.14),
      no CVA capital (CRE54), and the member's default-fund capital K_CM (CRE54.32) when
      ``kccp_usd``, ``df_ccp_usd`` and ``df_members_usd`` are given, allocated to the trade by
      its share of the book's IM;
    * ``non_qccp``: a venue that is not a QCCP (Deribit is an exchange, not a QCCP under CRE54):
      the exposure at ``counterparty_risk_weight`` (100%, unrated, CRE20 via CRE54.42) plus CVA
      capital by the reduced BA-CVA (MAR50: K = 0.65 · RW_cva · M · DF_M · EAD / 1.4, RW_cva 12%
      for an unrated financial).

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
        if min(self.kccp_usd, self.df_ccp_usd, self.df_members_usd, self.default_fund_usd) < 0:
            raise PricingInputError("kccp_usd, df_ccp_usd, df_members_usd and default_fund_usd must be >= 0 (USD)")
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


@dataclass(frozen=True)
class BookCapital:
    """The dealer's existing netting set with the venue: its option legs, its value and the IM
    it has posted, so that a trade's capital is EAD(book + trade) − EAD(book) (Basel CRE52)."""

    legs: SaccrLegs = field(default_factory=SaccrLegs.empty)
    mtm: float = 0.0
    im_posted: float = 0.0


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
    m = max(float(maturity_years), 1.0)
    df = (1.0 - math.exp(-0.05 * m)) / (0.05 * m)
    return BA_CVA_SCALAR * cva_risk_weight * m * df / BA_CVA_ALPHA


def _k_cm_share(delta_im: float, p: QuoteParams, book: BookCapital | None) -> float:
    """The trade's share of the member's default-fund capital (CRE54.32): K_CM x ΔIM / IM(book + trade).

    0 unless the venue is a QCCP whose K_CCP and default funds are given, or when the book has no IM.
    """
    if p.venue != "qccp" or not (p.kccp_usd > 0 and p.default_fund_usd > 0 and p.df_members_usd > 0):
        return 0.0
    im_after = (book.im_posted if book is not None else 0.0) + delta_im
    if im_after <= 0:
        return 0.0
    kcm = k_cm(p.kccp_usd, p.default_fund_usd, p.df_ccp_usd, p.df_members_usd)
    return kcm * max(delta_im, 0.0) / im_after


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
    Basel CRE52 per netting set, options on one underlying netting within its hedging set
    (:func:`pricing.xva.adjustments.saccr_netting_set`); MPOR ``p.mpor_business_days``.
    """
    b = book or BookCapital()
    sign = dealer_sign(side)
    br = p.im_bankruptcy_remote

    def ead(legs: SaccrLegs, mtm: float, im: float) -> float:
        posted = 0.0 if br else max(im, 0.0)
        return saccr_netting_set(
            legs, mtm=mtm, posted_im_non_br=posted, mpor_business_days=p.mpor_business_days, crypto_group=p.sco60_group
        ).ead

    before = ead(b.legs, b.mtm, b.im_posted)
    after = ead(b.legs + risk.legs.scaled(sign), b.mtm + sign * risk.premium, b.im_posted + delta_im)
    return after - before


def adjustments(
    delta_im: float,
    risk: TradeRisk,
    p: QuoteParams,
    side: str = "ask",
    book: BookCapital | None = None,
    dim_profile: FloatArray | None = None,
) -> dict[str, float]:
    """fva_im, mva_vm, kva, ccva (USD, positive = cost) for one side with marginal IM ``delta_im``.

    The funding leg (``fva_im``) funds the marginal IM *and the premium cash*: the dealer pays the
    premium when it buys (bid) and receives it when it sells (ask), until expiry. So whatever the
    margin model counts as option value (SPAN credits a long option's value in ΔIM and charges a
    short one's) is funded once, consistently: under SPAN the two cancel, under the VaR models
    (no option-value credit) the premium is funded beside the IM. Both accrue ACT/360.
    """
    times = grid(risk.tenor_years, p.step_days)
    if p.im_profile == "replica":
        if dim_profile is None or dim_profile.shape != times.shape:
            raise PricingInputError(
                "im_profile: 'replica' needs the simulated ΔIM profile on the trade's grid (quote_book computes it)"
            )
        dim = dim_profile
    else:
        dim = profile(delta_im, times, p.im_profile)
    sofr = latest_sofr() if p.sofr is None else p.sofr
    premium_cash = dealer_sign(side) * risk.premium
    fva = fva_im_lifetime(dim, times, p.funding_rate, p.im_rate, sofr) + fva_im_lifetime(
        np.full(times.size, premium_cash), times, p.funding_rate, 0.0, sofr
    )
    mva = mva_vm_settlement_lag(
        risk.abs_delta_coin, risk.spot, risk.vol, risk.tenor_years, p.borrow_spread, lag_days=p.vm_lag_days, discount_rate=sofr
    )
    if p.kva_method == "simple":
        exposure = p.simple_exposure if p.simple_exposure is not None else abs(risk.premium)
        kva = kva_simple(exposure, p.risk_weight, p.capital_ratio, p.cost_of_capital, risk.tenor_years)
    else:
        ead = incremental_ead(delta_im, risk, p, side, book)
        # The EAD keeps today's value under the replica profile (only the IM is re-simulated).
        shape = "flat" if p.im_profile == "replica" else p.im_profile
        ead_t = profile(ead, times, shape)
        qccp = p.venue == "qccp"
        rw = p.risk_weight if qccp else p.counterparty_risk_weight
        kva = kva_lifetime(
            ead_t,
            times,
            rw,
            p.capital_ratio,
            p.cost_of_capital,
            k_default_fund=_k_cm_share(delta_im, p, book),
            discount_rate=sofr,
        )
        if not qccp:
            cva = ead_t * ba_cva_per_ead(risk.tenor_years, p.cva_risk_weight)
            kva += kva_lifetime(cva, times, 1.0, 1.0, p.cost_of_capital, discount_rate=sofr)
    pd, lgd = ccp_default_params(p.ccp_type)
    pd = p.pd_annual if p.pd_annual is not None else pd
    lgd = p.lgd if p.lgd is not None else lgd
    im_exposed = np.zeros_like(dim) if p.im_bankruptcy_remote else np.maximum(dim, 0.0)
    cc = ccva(im_exposed, times, pd, lgd, default_fund=p.default_fund_usd, discount_rate=sofr)
    return {"fva_im": fva, "mva_vm": mva, "kva": kva, "ccva": cc}


def spread_amount(risk: TradeRisk, p: QuoteParams) -> float:
    policy = parse_choice(p.spread_policy, "spread_policy", SPREAD_POLICIES)
    if policy == "fixed":
        amount = p.spread_value
    elif policy == "premium_pct":
        amount = p.spread_value * abs(risk.premium)
    else:
        # spread_value in vol points; vega is dV/dσ per 1.00 of vol, so one vol point is vega / 100.
        amount = p.spread_value * abs(risk.vega) / 100.0
    return max(amount, p.min_spread)


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
    """Bid and ask of one trade, each with its own ΔIM.

    Parameters
    ----------
    base : float
        Mid value of the trade, USD.
    delta_im_sell, delta_im_buy : float
        ΔIM if the dealer sells (the ask) or buys (the bid), USD.
    risk : TradeRisk
        What the XVAs need about the trade.
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
    spread = spread_amount(risk, p)
    sell_profile, buy_profile = profiles if profiles is not None else (None, None)
    a = adjustments(delta_im_sell, risk, p, "ask", book, sell_profile)
    b = adjustments(delta_im_buy, risk, p, "bid", book, buy_profile)
    ask_cost = sum(a.values())
    bid_cost = sum(b.values())
    ask = SideBreakdown(
        "ask",
        base,
        delta_im_sell,
        a["fva_im"],
        a["mva_vm"],
        a["kva"],
        a["ccva"],
        spread,
        float(all_in_price(base, ask_cost, spread, "ask", p.tick)),
    )
    bid = SideBreakdown(
        "bid",
        base,
        delta_im_buy,
        b["fva_im"],
        b["mva_vm"],
        b["kva"],
        b["ccva"],
        spread,
        float(all_in_price(base, bid_cost, spread, "bid", p.tick)),
    )
    return bid, ask


# -- quote books --------------------------------------------------------------------------------


def _legs(row: Mapping[str, Any], where: str) -> list[tuple[OptionContract | Any, float]]:
    text = row.get("legs") or row.get("instrument")
    if not text:
        raise PricingInputError(f"{where}: give 'instrument' (a Deribit name) or 'legs' (NAME:qty;NAME:qty)")
    out = []
    for part in str(text).replace(",", ";").split(";"):
        if not part.strip():
            continue
        name, _, ratio = part.partition(":")
        try:
            qty = float(ratio) if ratio.strip() else 1.0
        except ValueError:
            raise PricingInputError(f"{where}, column legs: {ratio!r} is not a leg ratio") from None
        out.append((parse_instrument_name(name.strip(), str(row.get("settle") or "inverse")), qty))
    return out


def rfq_trades(rfqs: Sequence[Mapping[str, Any]], market: Market) -> tuple[Portfolio, np.ndarray, list[str]]:
    """Candidate rows (signed leg quantities for the dealer **buying** one unit of each RFQ), group ids, sides."""
    contracts, qty, groups, sides = [], [], [], []
    for i, raw in enumerate(rfqs):
        row = {str(k).strip().lower(): v for k, v in raw.items()}
        where = f"rfqs, row {i + 2}"
        legs = _legs(row, where)
        side = parse_choice(row.get("side") or "two-way", f"{where}, column side", SIDES)
        size = row.get("quantity")
        if size in (None, ""):
            notional = row.get("notional_usd") or row.get("notional")
            if notional in (None, ""):
                raise PricingInputError(f"{where}: give quantity (contracts) or notional_usd")
            size = float(notional) / market.spot(legs[0][0].underlying)
        size = float(size)
        if not (math.isfinite(size) and size > 0):
            raise PricingInputError(f"{where}, column quantity: must be > 0 (contracts; the side gives the direction)")
        for contract, ratio in legs:
            contracts.append(contract)
            qty.append(size * ratio)
            groups.append(i)
        sides.append(side)
    return from_contracts(contracts, qty), np.array(groups, dtype=np.int64), sides


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

    Notes
    -----

    Columns: ``instrument`` or ``legs`` (``NAME:ratio;NAME:ratio``), ``side`` (the client's:
    ``buy`` → dealer's ask, ``sell`` → bid, ``two-way``), ``quantity`` (contracts) or
    ``notional_usd``. Each row has ``base``, ``delta_im_bid``/``delta_im_ask``, both sides'
    ``bid_FVA``/``ask_FVA`` (likewise MVA, KVA, CCVA, spread), and ``bid_price``/``ask_price``
    for the sides quoted. All RFQs are priced against the portfolio alone in one batched ΔIM call;
    with ``accept=True`` each RFQ is priced in order and the dealer's side of it (the ask
    for a client buy, the bid for a client sell; two-way RFQs are not filled) joins the
    portfolio before the next one.
    """
    p = params or QuoteParams()
    book = portfolio if portfolio is not None else empty_portfolio()
    cands, groups, sides = rfq_trades(rfqs, market)
    if accept:
        rows: list[dict[str, Any]] = []
        for i in range(len(sides)):
            mask = groups == i
            out = _quote_groups(
                cands.select(mask), np.zeros(int(mask.sum()), np.int64), [sides[i]], book, market, model, p, addons
            )[0]
            out["rfq"] = i + 1
            rows.append(out)
            if sides[i] != "two-way":
                sign = -1.0 if sides[i] == "buy" else 1.0
                legs = cands.select(mask)
                book = concat([book, legs.with_quantity(sign * legs.quantity)])
        return rows
    rows = _quote_groups(cands, groups, sides, book, market, model, p, addons)
    for i, r in enumerate(rows):
        r["rfq"] = i + 1
    return rows


def _quote_groups(
    cands: Portfolio,
    groups: np.ndarray,
    sides: list[str],
    book: Portfolio,
    market: Market,
    model: MarginModel,
    p: QuoteParams,
    addons: AddOnParams | None,
) -> list[dict[str, Any]]:
    dim = marginal_im(book, cands, market, model, addons, groups=groups)
    st = position_state(cands, market)
    capital = book_capital(book, market, float(dim.im_base))
    sofr = latest_sofr() if p.sofr is None else p.sofr
    tenors = np.array([float(st.t_years[groups == g].max()) for g in range(len(sides))])
    replica = _replica(book, cands, groups, market, model, p, addons, tenors) if p.im_profile == "replica" else None
    rows = []
    for g, side in enumerate(sides):
        m = groups == g
        legs = cands.select(m)
        opt = legs.kind == OPTION
        tenor = float(st.t_years[m].max())
        vol = float(np.average(st.vol[m][opt], weights=np.abs(legs.units[opt]))) if opt.any() else 0.0
        # The premium is paid today for a payoff at expiry: USD-settled legs discounted at SOFR
        # (ACT/360); coin-settled legs at Deribit's coin convention, no discounting.
        df = np.where(legs.inverse, 1.0, np.exp(-sofr * st.t_years[m] * 365.0 / 360.0))
        risk = TradeRisk(
            float((df * st.value_usd[m]).sum()),
            float(st.vega_usd[m].sum()),
            abs(float(st.delta_coin[m].sum())),
            float(st.spot[m][0]),
            vol,
            tenor,
            _saccr_legs(cands, st, m),
        )
        bid, ask = two_way(
            risk.premium,
            float(dim.delta_sell[g]),
            float(dim.delta_buy[g]),
            risk,
            p,
            capital,
            None if replica is None else replica(g),
        )
        row: dict[str, Any] = {
            "trade": dim.names[g],
            "side": side,
            "base": risk.premium,
            "delta_im_bid": bid.delta_im,
            "delta_im_ask": ask.delta_im,
        }
        # Both sides' XVA are always given (each from its own ΔIM); a price only for the side quoted.
        for label, s in (("bid", bid), ("ask", ask)):
            row.update({f"{label}_{k}": v for k, v in s.as_dict().items() if k not in ("side", "base", "delta_im", "price")})
            if side == "two-way" or (side == "sell") == (label == "bid"):
                row[f"{label}_price"] = s.price
        rows.append(row)
    return rows


def _replica(
    book: Portfolio,
    cands: Portfolio,
    groups: np.ndarray,
    market: Market,
    model: MarginModel,
    p: QuoteParams,
    addons: AddOnParams | None,
    tenors: FloatArray,
) -> Callable[[int], tuple[FloatArray, FloatArray]]:
    """(sell, buy) replica ΔIM profiles of each trade on its own XVA grid, all trades simulated at once
    on the union of the grids (pricing.xva.replica_profile)."""
    grids = [grid(float(t), p.step_days) for t in tenors]
    union = np.unique(np.concatenate(grids))
    buy, sell = replica_profiles(book, cands, groups, market, model, union, addons)

    def of(g: int) -> tuple[FloatArray, FloatArray]:
        at = np.searchsorted(union, grids[g])
        return sell[g, at], buy[g, at]

    return of
