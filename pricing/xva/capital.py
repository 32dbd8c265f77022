"""Capital and its cost: KVA on the trade exposure (Basel CRE54), the clearing member's
default-fund capital K_CM (CRE54.32) and the reduced BA-CVA of a venue that is not a QCCP
(MAR50), USD (docs/methodology.md §D4).
"""

from __future__ import annotations

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import PricingInputError
from pricing.xva.profiles import discount, period_sum
from pricing.xva.rates import check_rate, check_tenor


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
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

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
        Discount rate r, decimal per year (0.0365 = 3.65%), applied as e^(-r t) with t in ACT/365 years
        (:func:`pricing.xva.profiles.discount`). Default 0.

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


#: Reduced BA-CVA (MAR50.14): discount scalar and the α of SA-CCR it divides out.
BA_CVA_SCALAR, BA_CVA_ALPHA = 0.65, 1.4


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
    return float(ba_cva_factors(np.array([float(maturity_years)]), cva_risk_weight)[0])


def ba_cva_factors(maturity_years: FloatArray, cva_risk_weight: float) -> FloatArray:
    """:func:`ba_cva_per_ead` of many netting sets at once.

    Parameters
    ----------
    maturity_years : array
        Effective maturity M of each netting set, years (floored at one year).
    cva_risk_weight : float
        RW_c of the counterparty (12%: unrated financial).

    Returns
    -------
    ndarray
        K / EAD per netting set.

    Notes
    -----
    DS · RW_c · M · DF_M / α, DF_M = (1 − e^{−0.05 M}) / (0.05 M), DS 0.65, α 1.4 (Basel MAR50.14-50.16).
    """
    m = np.maximum(np.asarray(maturity_years, dtype=np.float64), 1.0)
    df = -np.expm1(-0.05 * m) / (0.05 * m)
    return np.asarray(BA_CVA_SCALAR * cva_risk_weight * m * df / BA_CVA_ALPHA, dtype=np.float64)
