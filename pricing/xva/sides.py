"""Both sides of the all-in quote: base + FVA + KVA + MVA + CCVA + spread, USD, many trades at once.

Sides are the dealer's: the **ask** is where the dealer sells (the client buys), so its XVAs
use ΔIM of the dealer selling; the **bid** uses ΔIM of the dealer buying. Positive
adjustments are costs to the desk: they raise the ask and lower the bid; a trade that lowers
the desk's IM has negative FVA and gets a tighter quote. Rounding is conservative: the ask
rounds up and the bid down to the venue's tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pricing._typing import ArrayLike, FloatArray
from pricing.errors import PricingInputError, parse_choice
from pricing.xva.capital import ba_cva_factors, default_fund_after, k_cm_incremental, kva_grid
from pricing.xva.ccva import ccp_default_params, ccva_grid
from pricing.xva.funding import fva_im_grid, mva_vm_batch
from pricing.xva.params import SIMULATED_PROFILES, SPREAD_POLICIES, QuoteParams
from pricing.xva.profiles import grid_matrix, profile_matrix
from pricing.xva.rates import check_rate, latest_sofr
from pricing.xva.risks import BookStates, TradeRisks, incremental_eads


def dealer_sign(side: str) -> float:
    """The dealer's sign of a side: it buys the trade on the bid and sells it on the ask.

    Parameters
    ----------
    side : {"bid", "ask"}
        The dealer's side.

    Returns
    -------
    float
        +1 on the bid, -1 on the ask.

    Examples
    --------
    >>> dealer_sign("bid"), dealer_sign("ask")
    (1.0, -1.0)
    """
    return 1.0 if parse_choice(side, "side", {"bid": "bid", "ask": "ask"}) == "bid" else -1.0


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
        The trades, as the dealer holds them if it buys.
    p : QuoteParams
        The XVA parameters.
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
            cva = ead_t * ba_cva_factors(risks.tenor_years, p.cva_risk_weight)[:, None]
            kva = kva + kva_grid(cva, times, 1.0, 1.0, p.cost_of_capital, discount_rate=sofr)
    pd, lgd = ccp_default_params(p.ccp_type)
    pd = p.pd_annual if p.pd_annual is not None else pd
    lgd = p.lgd if p.lgd is not None else lgd
    exposed = np.zeros_like(dprof) if p.im_bankruptcy_remote else np.maximum(dprof, 0.0)
    cc = ccva_grid(exposed, times, pd, lgd, default_fund=_default_fund_increments(dim, p), discount_rate=sofr)
    return {"fva_im": fva, "mva_vm": mva, "kva": kva, "ccva": cc}


def spread_amounts(risks: TradeRisks, p: QuoteParams) -> FloatArray:
    """The profit margin of each trade, USD.

    Parameters
    ----------
    risks : TradeRisks
        The trades (their premium and vega).
    p : QuoteParams
        ``spread_policy``, ``spread_value`` and the floor ``min_spread``.

    Returns
    -------
    ndarray (T,)
        USD, >= ``p.min_spread``.

    Notes
    -----
    ``fixed``: ``spread_value`` USD a trade; ``premium_pct``: ``spread_value`` x |premium|;
    ``vega``: ``spread_value`` vol points x |vega| / 100 (vega is per 1.00 of vol).
    """
    policy = parse_choice(p.spread_policy, "spread_policy", SPREAD_POLICIES)
    if policy == "fixed":
        amount = np.full(risks.count, p.spread_value)
    elif policy == "premium_pct":
        amount = p.spread_value * np.abs(risks.premium)
    else:
        # spread_value in vol points; vega is dV/dσ per 1.00 of vol, so one vol point is vega / 100.
        amount = p.spread_value * np.abs(risks.vega) / 100.0
    return np.asarray(np.maximum(amount, p.min_spread), dtype=np.float64)


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


@dataclass(frozen=True)
class QuoteSides:
    """Both sides of T trades, USD (T,) arrays: the shared ``base`` and ``spread``, and per side
    (``bid``/``ask``) the ΔIM, the four adjustments and the all-in price.

    Attributes
    ----------
    base : ndarray, shape (T,)
        The premium paid today, the dealer holding the trade as bought, USD.
    spread : ndarray, shape (T,)
        The profit margin (:func:`spread_amounts`), USD.
    bid, ask : dict of str to ndarray, shape (T,)
        ``delta_im``, ``fva_im``, ``mva_vm``, ``kva``, ``ccva`` (positive = cost) and ``price``, USD.

    Notes
    -----
    price = base ± (fva_im + mva_vm + kva + ccva + spread), + on the ask and − on the bid
    (:func:`all_in_price`; docs/methodology.md §D3 for the four adjustments).
    """

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
        The trades, as the dealer holds them if it buys.
    p : QuoteParams
        The XVA and spread parameters.
    books : BookStates
        The netting set each trade meets.
    profiles : (sell, buy) arrays (T, N), optional
        Replica ΔIM profiles on the common grid.

    Returns
    -------
    QuoteSides
        Per trade the bid and ask sides with their cost components, USD.

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
