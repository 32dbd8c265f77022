"""The four adjustments of the all-in quote (docs/methodology.md §D2-D5, F1), USD, positive = cost.

Simple forms reproduce the source article's worked example; lifetime forms sum over a time
grid t_0 = 0 < ... < t_n = T with Δ_i = t_i - t_{i-1} and DF_i = exp(-r t_i).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from pricing._typing import FloatArray, IntArray
from pricing.errors import PricingInputError, parse_choice
from pricing.xva.profiles import discount, grid_matrix, period_default_probability, period_sum, profile_matrix, tenor_blocks
from pricing.xva.rates import check_rate, check_rates, check_tenor

#: CCP default assumptions (docs/methodology.md §D3 [D]): annual PD and LGD on non-bankruptcy-remote IM.
CCP_TYPES = {"qccp": (0.0005, 0.40), "crypto_exchange": (0.01, 0.60), "non_qccp": (0.01, 0.60)}
ACT360_PER_ACT365 = 365.0 / 360.0


# -- FVA (article) = fva_im: funding the marginal IM ---------------------------------------------


def fva_im_simple(delta_im: float, funding_rate: float, im_rate: float = 0.0, days: float = 90.0) -> float:
    """ΔIM · (r_F - r_IM) · days/360: the source article's form of the funding cost of the marginal IM.

    Parameters
    ----------
    delta_im : float
        Marginal initial margin the trade adds, USD.
    funding_rate, im_rate : float
        Funding rate r_F and the rate paid on posted IM r_IM, decimals (ACT/360).
    days : float
        Funding period in days.

    Returns
    -------
    float
        USD, positive = a cost.

    Notes
    -----
    docs/methodology.md §D2, §F1 (the article calls it FVA; textbooks call it MVA).

    Examples
    --------
    The article: 950,000 x (4.763% + 0.50%) x 90/360 = 12,499.63 ($12,500):

    >>> round(fva_im_simple(950_000, 0.05263, 0.0, 90), 2)
    12499.62
    """
    r_f = check_rate(funding_rate, "funding_rate")
    r_im = check_rate(im_rate, "im_rate")
    if not (np.isfinite(days) and days >= 0):
        raise PricingInputError(f"days: must be >= 0, got {days!r}")
    return float(delta_im) * (r_f - r_im) * float(days) / 360.0


def fva_im_lifetime(
    delta_im: FloatArray, times: FloatArray, funding_rate: float, im_rate: float = 0.0, discount_rate: float = 0.0
) -> float:
    """Funding cost of a ΔIM profile over the trade's life.

    Parameters
    ----------
    delta_im : array
        ΔIM(t_i) on the time grid, USD.
    times : array
        Grid in years (ACT/365), starting at 0.
    funding_rate, im_rate, discount_rate : float
        Decimals.

    Returns
    -------
    float
        Σ_i ΔIM(t_{i-1}) (r_F - r_IM) Δ_i^{ACT/360} DF_i, USD.

    Notes
    -----
    docs/methodology.md §D3: ΔIM is held over each period; the accrual is ACT/360
    (Δ_i = (t_i - t_{i-1}) x 365/360), discounting at ``discount_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> round(fva_im_lifetime(np.array([950_000.0, 950_000.0]), np.array([0.0, 0.25]), 0.05263), 2)
    12673.23
    """
    return float(
        fva_im_grid(np.asarray(delta_im, dtype=np.float64)[None], np.asarray(times)[None], funding_rate, im_rate, discount_rate)[
            0
        ]
    )


def fva_im_grid(
    delta_im: FloatArray,
    times: FloatArray,
    funding_rate: float | FloatArray,
    im_rate: float | FloatArray = 0.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`fva_im_lifetime` of many trades at once.

    Parameters
    ----------
    delta_im : array (T, N)
        ΔIM(t_i) of each trade on its row of the grid, USD.
    times : array (T, N)
        One grid per row (:func:`pricing.xva.profiles.grid_matrix`), years (ACT/365).
    funding_rate, im_rate : float or array (T,)
        Decimals, one for all trades or one per trade.
    discount_rate : float
        Decimal.

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    Σ_i ΔIM(t_{i-1}) (r_F - r_IM) Δ_i^{ACT/360} DF_i per row (docs/methodology.md §D3), summed in
    order (:func:`pricing.xva.profiles.period_sum`) so a padded row equals its own grid exactly.
    """
    spread = check_rates(funding_rate, "funding_rate") - check_rates(im_rate, "im_rate")
    t = np.asarray(times, dtype=np.float64)
    dim = np.asarray(delta_im, dtype=np.float64)
    accrual = np.diff(t, axis=-1) * ACT360_PER_ACT365
    return period_sum(
        dim[..., :-1]
        * (spread[..., None] if spread.ndim else spread)
        * accrual
        * discount(t[..., 1:], check_rate(discount_rate, "discount_rate"))
    )


# -- MVA (article) = mva_vm: funding variation-margin timing ----------------------------------------


def mva_vm_settlement_lag(
    abs_delta_coin: float,
    spot: float,
    vol: float,
    tenor_years: float,
    borrow_spread: float,
    *,
    lag_days: float = 1.0,
    discount_rate: float = 0.0,
) -> float:
    """Funding of variation-margin timing: Σ_days s_b · ℓ · DF_i · E|ΔV_i|, E|ΔV| ≈ 0.8 |Δ| S σ √(1/365).

    Parameters
    ----------
    abs_delta_coin : float
        |delta| of the trade in coin.
    spot, vol : float
        USD spot and decimal vol.
    tenor_years : float
        Life of the trade (ACT/365).
    borrow_spread : float
        Borrowing spread over SOFR, decimal.
    lag_days : float
        Days between paying VM on the CCP hedge and receiving the client's.
    discount_rate : float

    Returns
    -------
    float
        USD, positive = a cost.

    Notes
    -----
    docs/methodology.md §D3. The desk pays VM on the CCP hedge at T+0 and receives the client's at
    T+``lag_days``; each day's expected absolute VM flow is funded for the lag at the borrowing
    spread over SOFR. 0.8 ≈ √(2/π) = E|Z| for a normal daily move.
    """
    check_tenor(tenor_years)
    return float(
        mva_vm_batch(
            np.array([abs_delta_coin]),
            np.array([spot]),
            np.array([vol]),
            np.array([tenor_years]),
            borrow_spread,
            lag_days=lag_days,
            discount_rate=discount_rate,
        )[0]
    )


def mva_vm_batch(
    abs_delta_coin: FloatArray,
    spot: FloatArray,
    vol: FloatArray,
    tenor_years: FloatArray,
    borrow_spread: float | FloatArray,
    *,
    lag_days: float = 1.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`mva_vm_settlement_lag` of many trades at once.

    Parameters
    ----------
    abs_delta_coin, spot, vol, tenor_years : arrays (T,)
        As for :func:`mva_vm_settlement_lag`, per trade.
    borrow_spread : float or array (T,)
    lag_days : float
    discount_rate : float

    Returns
    -------
    ndarray (T,)
        USD, positive = a cost.

    Notes
    -----
    docs/methodology.md §D3. The days j = 1..⌈365 T⌉ are summed in closed form,
    Σ_j e^{-r j/365} = q (1 - q^n)/(1 - q) with q = e^{-r/365} (n when r = 0), so the cost does
    not grow with the tenor.

    Examples
    --------
    ⌈365 x 0.25⌉ = 92 days, summed directly:

    >>> import numpy as np
    >>> direct = 0.005 / 360 * 0.8 * 2 * 60_000 * 0.6 * np.sqrt(1 / 365) * np.exp(-0.04 * np.arange(1, 93) / 365).sum()
    >>> bool(np.isclose(mva_vm_batch(np.array([2.0]), np.array([60_000.0]), np.array([0.6]), np.array([0.25]), 0.005,
    ...                               discount_rate=0.04)[0], direct, rtol=1e-12))
    True
    """
    s_b = check_rates(borrow_spread, "borrow_spread")
    r = check_rate(discount_rate, "discount_rate")
    v, sp = np.asarray(vol, dtype=np.float64), np.asarray(spot, dtype=np.float64)
    if lag_days < 0 or (v < 0).any() or (sp <= 0).any():
        raise PricingInputError("lag_days and vol must be >= 0 and spot > 0")
    n = np.ceil(np.asarray(tenor_years, dtype=np.float64) * 365.0)
    if r == 0.0:
        days = n
    else:
        days = np.exp(-r / 365.0) * np.expm1(-r * n / 365.0) / np.expm1(-r / 365.0)
    flow = 0.8 * np.abs(np.asarray(abs_delta_coin, dtype=np.float64)) * sp * v * np.sqrt(1.0 / 365.0)
    # The lag is a funding accrual: ACT/360, as every funding leg here (SOFR convention).
    return np.asarray(s_b * lag_days / 360.0 * flow * days, dtype=np.float64)


# -- KVA ------------------------------------------------------------------------------------------


def kva_simple(
    exposure: float, risk_weight: float, capital_ratio: float, cost_of_capital: float, tenor_years: float = 1.0
) -> float:
    """Capital cost, the article's form: exposure · RW · CR · CoC · τ.

    Parameters
    ----------
    exposure : float
        Exposure at default, USD.
    risk_weight, capital_ratio, cost_of_capital : float
        Decimals (2% for a qualifying CCP, 8%, 10%).
    tenor_years : float
        τ; the article uses 1.

    Returns
    -------
    float
        USD.

    Notes
    -----
    docs/methodology.md §D4, §F1; the 2% QCCP risk weight is Basel CRE54.

    Examples
    --------
    >>> kva_simple(20e6, 0.02, 0.08, 0.10)
    3200.0
    """
    for name, v in (("risk_weight", risk_weight), ("capital_ratio", capital_ratio), ("cost_of_capital", cost_of_capital)):
        check_rate(v, name, lo=0.0, hi=12.5)
    return float(exposure) * risk_weight * capital_ratio * cost_of_capital * check_tenor(tenor_years)


#: BCBS SCO60 groups of an unbacked cryptoasset (BTC, ETH): 2a meets the hedging recognition
#: criteria, 2b does not.
SCO60_GROUPS = {"2a": "2a", "2b": "2b"}
#: Group 2b SA-CCR add-on as a share of each derivative's gross notional (SCO60, see saccr_netting_set).
GROUP_2B_ADDON = 0.5


@dataclass(frozen=True)
class SaccrResult:
    """SA-CCR exposure of one option (CRE52), USD."""

    supervisory_delta: float
    adjusted_notional: float
    maturity_factor: float
    addon: float
    multiplier: float
    replacement_cost: float
    pfe: float
    ead: float


def saccr_option(
    cp: int,
    direction: int,
    spot: float,
    strike: float,
    units: float,
    tenor_years: float,
    *,
    mtm: float = 0.0,
    collateral: float = 0.0,
    posted_im_non_br: float = 0.0,
    margined: bool = True,
    mpor_business_days: float = 10.0,
    supervisory_factor: float = 0.32,
    supervisory_vol: float = 1.20,
) -> SaccrResult:
    """SA-CCR EAD of one option alone: the one-leg case of :func:`saccr_netting_set`.

    Parameters
    ----------
    cp, direction : int
        +1 call / -1 put; +1 bought / -1 sold.
    spot, strike, units, tenor_years :
        USD, USD, coins of underlying, years to expiry.
    mtm, collateral, posted_im_non_br, margined, mpor_business_days, supervisory_factor, supervisory_vol :
        As for :func:`saccr_netting_set`.

    Returns
    -------
    SaccrResult

    Notes
    -----
    Basel CRE52 (docs/methodology.md §D5); the formulas are in :func:`saccr_netting_set`.

    Examples
    --------
    >>> r = saccr_option(1, 1, 60_000, 65_000, 10, 0.25)
    >>> round(r.supervisory_delta, 4), round(r.ead, 2)
    (0.5662, 45654.81)
    """
    if cp not in (1, -1) or direction not in (1, -1):
        raise PricingInputError("cp and direction: must be +1 or -1 (call/put; bought/sold)")
    check_tenor(tenor_years)
    leg = SaccrLegs(
        ("X",),
        np.array([cp]),
        np.array([float(spot)]),
        np.array([float(strike)]),
        np.array([direction * abs(float(units))]),
        np.array([float(tenor_years)]),
    )
    return saccr_netting_set(
        leg,
        mtm=mtm,
        collateral=collateral,
        posted_im_non_br=posted_im_non_br,
        margined=margined,
        mpor_business_days=mpor_business_days,
        supervisory_factor=supervisory_factor,
        supervisory_vol=supervisory_vol,
    )


@dataclass(frozen=True)
class SaccrLegs:
    """Option positions of one netting set in SA-CCR terms (arrays of one length).

    ``units`` are signed coins of underlying held by the bank (+ bought, − sold); ``tenor_years``
    is the option's expiry; positions on the same ``underlying`` form one hedging set.
    """

    underlying: tuple[str, ...]
    cp: IntArray
    spot: FloatArray
    strike: FloatArray
    units: FloatArray
    tenor_years: FloatArray

    @staticmethod
    def empty() -> SaccrLegs:
        z = np.zeros(0)
        return SaccrLegs((), np.zeros(0, dtype=np.int64), z, z, z, z)

    def scaled(self, factor: float) -> SaccrLegs:
        return dataclasses.replace(self, units=self.units * factor)

    def __add__(self, other: SaccrLegs) -> SaccrLegs:
        return SaccrLegs(
            self.underlying + other.underlying,
            np.concatenate([self.cp, other.cp]),
            np.concatenate([self.spot, other.spot]),
            np.concatenate([self.strike, other.strike]),
            np.concatenate([self.units, other.units]),
            np.concatenate([self.tenor_years, other.tenor_years]),
        )


def saccr_netting_set(
    legs: SaccrLegs,
    *,
    mtm: float = 0.0,
    collateral: float = 0.0,
    posted_im_non_br: float = 0.0,
    margined: bool = True,
    mpor_business_days: float = 10.0,
    supervisory_factor: float = 0.32,
    supervisory_vol: float = 1.2,
    crypto_group: str = "2a",
) -> SaccrResult:
    """SA-CCR EAD = 1.4 (RC + PFE) of a netting set of options, hedging set per underlying.

    Parameters
    ----------
    legs : SaccrLegs
        The netting set's option positions (bank's signed units).
    mtm, collateral, posted_im_non_br : float
        Value of the netting set, collateral held, non-bankruptcy-remote IM posted, USD.
    margined : bool
        Margined netting set (the CCP case) or not.
    mpor_business_days : float
        Margin period of risk: at least 10 business days for trade exposures to a CCP
        (Basel CRE54; CRR Art. 304), the default.
    supervisory_factor, supervisory_vol : float
        Crypto Group 2a (BCBS SCO60): a hedging set per cryptoasset, SF 32%, σ_s 120% [K].
    crypto_group : {"2a", "2b"}
        BCBS SCO60 group of the underlying. ``"2b"`` (a cryptoasset that fails the hedging
        recognition criteria): no offsetting at all, the add-on is 50% of each derivative's
        gross notional and the PFE multiplier is 1 — our reading of SCO60's Group 2b
        counterparty-credit-risk treatment (the paragraph's text could not be retrieved in this
        workplace; README "Capital").

    Returns
    -------
    SaccrResult
        ``supervisory_delta`` and ``adjusted_notional`` are of the whole set (Σ δ d).

    Notes
    -----
    Basel CRE52: δ_i = sign_i · cp_i · Φ(cp_i · (ln(P/K) + σ_s² T/2)/(σ_s √T)) (bought call Φ(d),
    sold call −Φ(d), bought put −Φ(−d), sold put Φ(−d)); d_i = P |units_i|; MF = 1.5 √(MPOR/250)
    margined, √(min(max(M, 10/250), 1)) unmargined; per hedging set (underlying)
    AddOn_u = SF |Σ_{i∈u} δ_i d_i MF_i| — long and short options on one underlying net; AddOn =
    Σ_u AddOn_u; RC margined = max(V − C, posted non-bankruptcy-remote IM, 0); multiplier =
    min(1, 0.05 + 0.95 exp((V − C)/(1.9 AddOn))).

    Examples
    --------
    A bought and a sold call on one underlying net within the hedging set:

    >>> import numpy as np
    >>> spread = SaccrLegs(("BTC", "BTC"), np.array([1, 1]), np.full(2, 60_000.0), np.array([60_000.0, 65_000.0]),
    ...                    np.array([10.0, -10.0]), np.full(2, 0.25))
    >>> one = saccr_netting_set(dataclasses.replace(spread, underlying=("BTC",), cp=spread.cp[:1], spot=spread.spot[:1],
    ...     strike=spread.strike[:1], units=spread.units[:1], tenor_years=spread.tenor_years[:1])).ead
    >>> saccr_netting_set(spread).ead < one
    True
    """
    group = parse_choice(crypto_group, "crypto_group", SCO60_GROUPS)
    delta, notional, mf = saccr_leg_terms(legs, mpor_business_days, margined, supervisory_vol)
    codes = np.asarray(legs.underlying, dtype=str)
    if group == "2b":
        addon = float(GROUP_2B_ADDON * notional.sum())
    else:
        effective = delta * notional * mf
        addon = (
            float(sum(supervisory_factor * abs(float(effective[codes == u].sum())) for u in np.unique(codes)))
            if codes.size
            else 0.0
        )
    rc, multiplier, ead = saccr_ead(np.array([addon]), mtm - collateral, posted_im_non_br, margined=margined, group=group)
    return SaccrResult(
        float(delta.sum()),
        float(notional.sum()),
        float(mf[0]) if mf.size else 0.0,
        addon,
        float(multiplier[0]),
        float(rc[0]),
        float(multiplier[0] * addon),
        float(ead[0]),
    )


def saccr_leg_terms(
    legs: SaccrLegs, mpor_business_days: float = 10.0, margined: bool = True, supervisory_vol: float = 1.2
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per option leg: supervisory delta δ_i, adjusted notional d_i = P |units_i| and maturity factor MF_i.

    Parameters
    ----------
    legs : SaccrLegs
    mpor_business_days : float
    margined : bool
    supervisory_vol : float

    Returns
    -------
    (delta, notional, mf) : arrays, one entry per leg

    Notes
    -----
    Basel CRE52 (formulas in :func:`saccr_netting_set`). δ_i d_i is linear in the signed units
    (δ carries their sign), so the hedging-set sums Σ δ_i d_i MF_i of a book and of a trade add.
    """
    cp = np.asarray(legs.cp, dtype=np.int64)
    if np.any((cp != 1) & (cp != -1)):
        raise PricingInputError("cp: must be +1 (call) or -1 (put)")
    t = np.maximum(np.asarray(legs.tenor_years, dtype=np.float64), 1e-9)
    sign = np.sign(legs.units)
    d = (np.log(legs.spot / legs.strike) + 0.5 * supervisory_vol**2 * t) / (supervisory_vol * np.sqrt(t))
    delta = sign * cp * ndtr(cp * d)
    notional = legs.spot * np.abs(legs.units)
    mf = (
        np.full(t.shape, 1.5 * np.sqrt(mpor_business_days / 250.0))
        if margined
        else np.sqrt(np.minimum(np.maximum(t, 10.0 / 250.0), 1.0))
    )
    return np.asarray(delta, dtype=np.float64), np.asarray(notional, dtype=np.float64), mf


def saccr_ead(
    addon: FloatArray,
    v_minus_c: FloatArray | float,
    posted_im_non_br: FloatArray | float,
    *,
    margined: bool = True,
    group: str = "2a",
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(RC, PFE multiplier, EAD) of netting sets from their aggregate add-on, elementwise.

    Parameters
    ----------
    addon : array
        Aggregate add-on per netting set, USD.
    v_minus_c : array or float
        Value less collateral held, USD.
    posted_im_non_br : array or float
        Non-bankruptcy-remote IM posted, USD.
    margined : bool
    group : {"2a", "2b"}

    Returns
    -------
    (rc, multiplier, ead) : arrays

    Notes
    -----
    RC margined = max(V − C + IM_posted, IM_posted, 0), unmargined max(V − C, 0); multiplier =
    min(1, 0.05 + 0.95 exp((V − C)/(1.9 AddOn))), 1 when the add-on is 0 or in Group 2b;
    EAD = 1.4 (RC + multiplier · AddOn) (Basel CRE52; ``v_minus_c`` is V − C before the IM).
    """
    a = np.asarray(addon, dtype=np.float64)
    posted = np.asarray(posted_im_non_br, dtype=np.float64)
    vmc = np.asarray(v_minus_c, dtype=np.float64) + posted
    rc = np.maximum(np.maximum(vmc, posted), 0.0) if margined else np.maximum(vmc, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # The exponent is capped at 0: above it the min(1, .) is 1 anyway, and exp would overflow.
        mult = np.minimum(1.0, 0.05 + 0.95 * np.exp(np.minimum(vmc / (1.9 * np.where(a > 0, a, 1.0)), 0.0)))
    mult = np.where((a == 0) | (group == "2b"), 1.0, mult)
    rc, mult = np.broadcast_arrays(rc, mult)
    return (
        np.asarray(rc, dtype=np.float64),
        np.asarray(mult, dtype=np.float64),
        np.asarray(1.4 * (rc + mult * a), dtype=np.float64),
    )


def k_cm(k_ccp: float, df_member: float, df_ccp: float, df_all_members: float) -> float:
    """CRE54 default-fund capital of a clearing member.

    Parameters
    ----------
    k_ccp : float
        The CCP's hypothetical capital, USD.
    df_member, df_ccp, df_all_members : float
        The member's prefunded contribution, the CCP's own, and all members', USD.

    Returns
    -------
    float
        K_CM = max(K_CCP · DF_i/(DF_CCP + DF_CM), 8% · 2% · DF_i), USD.

    Notes
    -----
    Basel CRE54.32 (the formula) and its floor.

    Examples
    --------
    >>> round(k_cm(1e6, 5e5, 2e6, 1e7), 2)
    41666.67
    """
    if min(k_ccp, df_member, df_ccp, df_all_members) < 0 or df_ccp + df_all_members <= 0:
        raise PricingInputError("k_cm: K_CCP and default-fund amounts must be >= 0, with DF_CCP + DF_CM > 0")
    return max(k_ccp * df_member / (df_ccp + df_all_members), 0.08 * 0.02 * df_member)


#: The 1250% risk weight of a default-fund contribution to a non-qualifying CCP (Basel CRE54,
#: "exposures to non-qualifying CCPs"; US 12 CFR 217.133; docs/methodology.md §D4).
NON_QCCP_DF_RISK_WEIGHT = 12.5


def default_fund_after(dim: FloatArray, df_member: float, df_all_members: float, im_ccp: float) -> FloatArray:
    """The member's prefunded default-fund contribution after a trade that changes its IM by ``dim``.

    Parameters
    ----------
    dim : array
        ΔIM of each trade at the venue, USD.
    df_member : float
        The member's contribution today, DF_i, USD.
    df_all_members : float
        All members' prefunded contributions DF_CM (the fund's size), USD.
    im_ccp : float
        All members' initial margin at the venue, IM_CCP, USD (the base the fund is shared on).

    Returns
    -------
    ndarray
        DF_i after each trade, USD (>= 0).

    Notes
    -----
    The rule [D, stated in docs/methodology.md §D4]: the fund is shared pro rata to initial
    margin, DF_i = DF_CM · IM_i / IM_CCP, and its size DF_CM is held (a CCP sizes it on its
    cover-2 stress losses, not on one member's trade). The member's IM share today is implied by
    its contribution, IM_i = DF_i · IM_CCP / DF_CM, so after the trade
    DF_i' = DF_CM · max(IM_i + ΔIM, 0) / (IM_CCP + ΔIM).

    Examples
    --------
    A member with 1% of the fund and of the IM adds 1% more of the venue's IM:

    >>> import numpy as np
    >>> round(float(default_fund_after(np.array([1e7]), 1e6, 1e8, 1e9)[0]), 2)
    1980198.02
    """
    if min(df_member, df_all_members, im_ccp) < 0 or df_all_members <= 0 or im_ccp <= 0:
        raise PricingInputError("default fund: DF_i >= 0, and DF_CM and IM_CCP > 0 (USD), to share the fund pro rata to IM")
    d = np.asarray(dim, dtype=np.float64)
    im_member = df_member * im_ccp / df_all_members
    total = np.maximum(im_ccp + d, np.finfo(float).tiny)
    return np.asarray(df_all_members * np.maximum(im_member + d, 0.0) / total, dtype=np.float64)


def k_cm_incremental(
    dim: FloatArray,
    *,
    df_member: float,
    df_all_members: float,
    im_ccp: float,
    qualifying: bool,
    k_ccp: float = 0.0,
    df_ccp: float = 0.0,
    capital_ratio: float = 0.08,
) -> FloatArray:
    """Default-fund capital a trade adds: K_CM(after) − K_CM(before), USD, one per trade.

    Parameters
    ----------
    dim : array
        ΔIM of each trade at the venue, USD.
    df_member, df_all_members, im_ccp : float
        DF_i, DF_CM and IM_CCP today, USD (:func:`default_fund_after`).
    qualifying : bool
        A qualifying CCP (CRE54.32 formula) or not (CRE54 non-qualifying: 1250% of the contribution).
    k_ccp, df_ccp : float
        The QCCP's hypothetical capital K_CCP and its own prefunded resources DF_CCP, USD.
    capital_ratio : float
        8% (capital = RW x 8%); a non-QCCP's contribution at 1250% costs 100% of it.

    Returns
    -------
    ndarray
        USD; negative when the trade lowers the member's IM and so its share of the fund.

    Notes
    -----
    QCCP: K_CM(DF_i) = max(K_CCP · DF_i/(DF_CCP + DF_CM), 8% · 2% · DF_i) (Basel CRE54.32 and its
    floor), K_CCP and DF_CM held; non-QCCP: K_CM(DF_i) = 1250% · 8% · DF_i (CRE54, non-qualifying CCPs). Either way
    the trade is charged the difference at DF_i after (:func:`default_fund_after`) and before —
    not a share K_CM · ΔIM / IM(after), which gave the first trade on an empty book the member's
    whole K_CM.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(k_cm_incremental(np.array([1e7]), df_member=1e6, df_all_members=1e8, im_ccp=1e9,
    ...                              qualifying=False)[0]), 2)
    980198.02
    """
    after = default_fund_after(dim, df_member, df_all_members, im_ccp)
    if not qualifying:
        per_df = NON_QCCP_DF_RISK_WEIGHT * capital_ratio
    else:
        if min(k_ccp, df_ccp) < 0:
            raise PricingInputError("k_cm: K_CCP and DF_CCP must be >= 0 (USD)")
        # K_CM is linear in DF_i once K_CCP and DF_CM are held: the larger of the two slopes.
        # Capped at the non-qualifying charge (CRE54: a QCCP's charge never exceeds it) [K].
        per_df = min(max(k_ccp / (df_ccp + df_all_members), 0.08 * 0.02), NON_QCCP_DF_RISK_WEIGHT * capital_ratio)
    return np.asarray(per_df * (after - df_member), dtype=np.float64)


def kva_lifetime(
    ead: FloatArray,
    times: FloatArray,
    risk_weight: float,
    capital_ratio: float,
    cost_of_capital: float,
    *,
    k_default_fund: float = 0.0,
    discount_rate: float = 0.0,
) -> float:
    """Capital cost over the life: Σ_i CoC · (CR · RW · EAD(t_{i-1}) + K_CM) · Δ_i · DF_i.

    Parameters
    ----------
    ead : array
        EAD on the grid, USD.
    times : array
        Grid in years, starting at 0.
    risk_weight, capital_ratio, cost_of_capital : float
        Decimals.
    k_default_fund : float
        K_CM, USD (CRE54).
    discount_rate : float

    Returns
    -------
    float
        USD.

    Notes
    -----
    docs/methodology.md §D3/§D4; no CVA capital on trades with a qualifying CCP.

    Examples
    --------
    >>> import numpy as np
    >>> round(kva_lifetime(np.array([1e6, 1e6]), np.array([0.0, 0.25]), 0.02, 0.08, 0.10), 6)
    40.0
    """
    t = np.asarray(times, dtype=np.float64)
    return float(
        kva_grid(
            np.asarray(ead, dtype=np.float64)[None],
            t[None],
            risk_weight,
            capital_ratio,
            cost_of_capital,
            k_default_fund=np.array([k_default_fund]),
            discount_rate=discount_rate,
        )[0]
    )


def kva_grid(
    ead: FloatArray,
    times: FloatArray,
    risk_weight: float,
    capital_ratio: float,
    cost_of_capital: float,
    *,
    k_default_fund: FloatArray | None = None,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`kva_lifetime` of many trades at once.

    Parameters
    ----------
    ead : array (T, N)
        EAD of each trade on its grid, USD.
    times : array (T, N)
        One grid per row, years.
    risk_weight, capital_ratio, cost_of_capital : float
        Decimals.
    k_default_fund : array (T,), optional
        K_CM share per trade, USD (CRE54.32); 0 if None.
    discount_rate : float

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    Σ_i CoC · (CR · RW · EAD(t_{i-1}) + K_CM) · Δ_i · DF_i per row (docs/methodology.md §D3/§D4).
    """
    t = np.asarray(times, dtype=np.float64)
    e = np.asarray(ead, dtype=np.float64)
    kdf = np.zeros(t.shape[0]) if k_default_fund is None else np.asarray(k_default_fund, dtype=np.float64)
    capital = capital_ratio * risk_weight * e[..., :-1] + kdf[:, None]
    return period_sum(
        cost_of_capital * capital * np.diff(t, axis=-1) * discount(t[..., 1:], check_rate(discount_rate, "discount_rate"))
    )


# -- CCVA -----------------------------------------------------------------------------------------


def ccp_default_params(ccp_type: str) -> tuple[float, float]:
    """(annual PD, LGD) of a venue type.

    Parameters
    ----------
    ccp_type : {"qccp", "crypto_exchange", "non_qccp"}

    Returns
    -------
    tuple of float
        Annual probability of default and loss given default, decimals.

    Notes
    -----
    Design defaults, docs/methodology.md §D3 [D].

    Examples
    --------
    >>> ccp_default_params("qccp")
    (0.0005, 0.4)
    """
    return parse_choice(ccp_type, "ccp_type", CCP_TYPES)


def ccva(
    im_non_br: FloatArray,
    times: FloatArray,
    pd_annual: float,
    lgd: float,
    *,
    default_fund: float = 0.0,
    discount_rate: float = 0.0,
) -> float:
    """Expected loss from the venue's own default on posted IM that is not bankruptcy-remote.

    Parameters
    ----------
    im_non_br : array
        Posted non-bankruptcy-remote IM on the grid, USD.
    times : array
        Grid in years, starting at 0.
    pd_annual, lgd : float
        Decimals.
    default_fund : float
        The member's default-fund contribution, USD (also lost).
    discount_rate : float

    Returns
    -------
    float
        LGD · Σ_i PD(t_{i-1}, t_i) · DF_i · (IM^{non-BR}(t_i) + DF contribution), USD.

    Notes
    -----
    docs/methodology.md §D3; PD over a period from a flat annual hazard.
    """
    return float(
        ccva_grid(
            np.asarray(im_non_br, dtype=np.float64)[None],
            np.asarray(times)[None],
            pd_annual,
            lgd,
            default_fund=default_fund,
            discount_rate=discount_rate,
        )[0]
    )


def ccva_grid(
    im_non_br: FloatArray,
    times: FloatArray,
    pd_annual: float,
    lgd: float,
    *,
    default_fund: float | FloatArray = 0.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`ccva` of many trades at once.

    Parameters
    ----------
    im_non_br : array (T, N)
        Posted non-bankruptcy-remote IM of each trade on its grid, USD.
    times : array (T, N)
        One grid per row, years.
    pd_annual, lgd : float
        Decimals.
    default_fund : float or array (T,)
        The default-fund contribution at risk, USD: one for all trades, or one per trade (a
        quote passes each trade's change to the member's contribution, docs/methodology.md §D4).
    discount_rate : float

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    LGD · Σ_i PD(t_{i-1}, t_i) · DF_i · (IM(t_i) + DF) per row (docs/methodology.md §D3).
    """
    if not (0.0 <= lgd <= 1.0):
        raise PricingInputError(f"lgd: must be in [0, 1], got {lgd!r}")
    t = np.asarray(times, dtype=np.float64)
    fund = np.asarray(default_fund, dtype=np.float64)
    exposure = np.asarray(im_non_br, dtype=np.float64)[..., 1:] + (fund[:, None] if fund.ndim else fund)
    pd = period_default_probability(t, pd_annual)
    return np.asarray(
        lgd * period_sum(pd * discount(t[..., 1:], check_rate(discount_rate, "discount_rate")) * exposure), dtype=np.float64
    )


def fva_im_lifetimes(
    delta_im: FloatArray,
    tenor_years: FloatArray,
    funding_rate: FloatArray,
    im_rate: FloatArray,
    *,
    profile: str = "flat",
    step_days: float = 7.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`fva_im_lifetime` of many trades, each on its own grid from today's ΔIM and a run-off shape.

    Parameters
    ----------
    delta_im, tenor_years, funding_rate, im_rate : arrays (T,)
        ΔIM today (USD), tenor (years ACT/365), r_F and r_IM (decimals) per trade.
    profile : {"flat", "sqrt"}
        Run-off of ΔIM over the life (:func:`pricing.xva.profiles.profile`).
    step_days : float
        Grid step.
    discount_rate : float

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    :func:`fva_im_grid` on :func:`pricing.xva.profiles.grid_matrix`, trades taken in blocks of
    similar tenor (:func:`pricing.xva.profiles.tenor_blocks`) so memory stays bounded.
    """
    dim, t, rf, rim = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (delta_im, tenor_years, funding_rate, im_rate))
    out = np.empty(t.size)
    for idx in tenor_blocks(t, step_days):
        times = grid_matrix(t[idx], step_days)
        out[idx] = fva_im_grid(profile_matrix(dim[idx], times, profile), times, rf[idx], rim[idx], discount_rate)
    return out


def ccva_lifetimes(
    im_non_br: FloatArray,
    tenor_years: FloatArray,
    pd_annual: float,
    lgd: float,
    *,
    default_fund: float = 0.0,
    profile: str = "flat",
    step_days: float = 7.0,
    discount_rate: float = 0.0,
) -> FloatArray:
    """:func:`ccva` of many trades, each on its own grid from today's IM and a run-off shape.

    Parameters
    ----------
    im_non_br, tenor_years : arrays (T,)
        Non-bankruptcy-remote IM today (USD) and tenor (years) per trade.
    pd_annual, lgd : float
    default_fund : float
    profile : {"flat", "sqrt"}
    step_days : float
    discount_rate : float

    Returns
    -------
    ndarray (T,)
        USD.

    Notes
    -----
    :func:`ccva_grid` in blocks of similar tenor, as :func:`fva_im_lifetimes`.
    """
    im, t = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (im_non_br, tenor_years))
    out = np.empty(t.size)
    for idx in tenor_blocks(t, step_days):
        times = grid_matrix(t[idx], step_days)
        out[idx] = ccva_grid(
            profile_matrix(im[idx], times, profile), times, pd_annual, lgd, default_fund=default_fund, discount_rate=discount_rate
        )
    return out
