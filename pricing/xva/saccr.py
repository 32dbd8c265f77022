"""SA-CCR exposure at default of option netting sets with the venue (Basel CRE52; crypto
hedging sets by BCBS SCO60), USD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from pricing._typing import FloatArray, IntArray
from pricing.errors import PricingInputError, parse_choice
from pricing.portfolio import OPTION, Portfolio
from pricing.positions import PositionState
from pricing.xva.rates import check_tenor

#: BCBS SCO60 groups of an unbacked cryptoasset (BTC, ETH): 2a meets the hedging recognition
#: criteria, 2b does not.
SCO60_GROUPS = {"2a": "2a", "2b": "2b"}
#: Group 2b SA-CCR add-on as a share of each derivative's gross notional (SCO60, see saccr_netting_set).
GROUP_2B_ADDON = 0.5
#: SA-CCR supervisory factor of a crypto Group 2a hedging set (BCBS SCO60), as in saccr_netting_set.
SUPERVISORY_FACTOR = 0.32


@dataclass(frozen=True)
class SaccrResult:
    """SA-CCR exposure of an option or a netting set of options (CRE52), USD.

    Attributes
    ----------
    supervisory_delta : float
        δ of one option, Σ δ_i over a netting set (signed: + long call / short put).
    adjusted_notional : float
        d = P |units|, Σ d_i over a netting set, USD (P the underlying's spot).
    maturity_factor : float
        MF (the first leg's; one value for a margined set), dimensionless.
    addon : float
        AddOn = Σ_u SF |Σ_{i∈u} δ_i d_i MF_i| (Group 2a) or 50% of Σ d_i (Group 2b), USD.
    multiplier : float
        The PFE multiplier, in [0.05, 1].
    replacement_cost : float
        RC, USD.
    pfe : float
        multiplier x AddOn, USD.
    ead : float
        EAD = 1.4 (RC + PFE), USD.

    Notes
    -----
    Basel CRE52 (docs/methodology.md §D5); the formulas are in :func:`saccr_netting_set`.
    """

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
    supervisory_factor: float = SUPERVISORY_FACTOR,
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
        Replacement cost, PFE, EAD and their parts, USD.

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

    Attributes
    ----------
    underlying : tuple of str
        Each leg's underlying (``BTC``, ``ETH``): its hedging set.
    cp : ndarray of int
        +1 call, -1 put.
    spot : ndarray
        P, the underlying's spot, USD.
    strike : ndarray
        K, USD.
    units : ndarray
        Signed coins of underlying held by the bank.
    tenor_years : ndarray
        Time to expiry T (the maturity M of an option), ACT/365 years.

    Notes
    -----
    Basel CRE52 reads an option's price P as the underlying's price and its maturity as the
    expiry (docs/methodology.md §D5).
    """

    underlying: tuple[str, ...]
    cp: IntArray
    spot: FloatArray
    strike: FloatArray
    units: FloatArray
    tenor_years: FloatArray

    @staticmethod
    def empty() -> SaccrLegs:
        """The netting set of no options.

        Returns
        -------
        SaccrLegs
            No legs.
        """
        z = np.zeros(0)
        return SaccrLegs((), np.zeros(0, dtype=np.int64), z, z, z, z)


def saccr_netting_set(
    legs: SaccrLegs,
    *,
    mtm: float = 0.0,
    collateral: float = 0.0,
    posted_im_non_br: float = 0.0,
    margined: bool = True,
    mpor_business_days: float = 10.0,
    supervisory_factor: float = SUPERVISORY_FACTOR,
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

    >>> import dataclasses
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
        The option legs (the bank's signed units).
    mpor_business_days : float
        Margin period of risk of a margined set, business days (default 10).
    margined : bool
        Margined netting set (default) or not.
    supervisory_vol : float
        σ_s, decimal (default 1.2, crypto Group 2a).

    Returns
    -------
    (delta, notional, mf) : ndarray, one entry per leg each
        δ_i (signed), d_i in USD, MF_i (dimensionless).

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
        Margined netting sets (default) or not.
    group : {"2a", "2b"}
        BCBS SCO60 group: the multiplier is 1 in Group 2b.

    Returns
    -------
    (rc, multiplier, ead) : ndarray each
        RC and EAD in USD, the multiplier in [0.05, 1]; the broadcast shape of the inputs.

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


def saccr_legs_of(portfolio: Portfolio, st: PositionState, rows: np.ndarray) -> SaccrLegs:
    """The option positions of ``portfolio`` among ``rows`` in SA-CCR terms (futures carry no option add-on).

    Parameters
    ----------
    portfolio : Portfolio
        The positions (the holder's signed units).
    st : PositionState
        Their state on one market (:func:`pricing.revaluation.position_state`): spot, years to expiry.
    rows : ndarray of bool
        Which positions to take.

    Returns
    -------
    SaccrLegs
        One leg per option position taken, in ``portfolio`` order.

    Notes
    -----
    SA-CCR reads an option's price P as the underlying's spot and its maturity as the expiry
    (Basel CRE52); the units keep their sign (+ bought, − sold).
    """
    opt = rows & (portfolio.kind == OPTION)
    return SaccrLegs(
        tuple(str(u) for u in np.asarray(portfolio.underlying)[opt]),
        portfolio.cp[opt].astype(np.int64),
        st.spot[opt],
        portfolio.strike[opt],
        portfolio.units[opt],
        st.t_years[opt],
    )


def hedging_set_sums(
    legs: SaccrLegs, owner: np.ndarray, n_owners: int, underlyings: tuple[str, ...], mpor_business_days: float
) -> tuple[FloatArray, FloatArray]:
    """Per owner (trade) and hedging set, the SA-CCR sums Σ δ d MF and Σ d, USD.

    Parameters
    ----------
    legs : SaccrLegs
        The option legs of every owner.
    owner : ndarray of int
        Each leg's owner, in [0, ``n_owners``).
    n_owners : int
        T, the number of owners (an owner without legs gets zeros).
    underlyings : tuple of str
        The hedging sets, sorted; must include every leg's underlying.
    mpor_business_days : float
        Margin period of risk of the maturity factor (margined netting set).

    Returns
    -------
    (effective, gross) : ndarray (T, U), ndarray (T,)
        Σ δ_i d_i MF_i per owner and hedging set, and Σ d_i per owner.

    Notes
    -----
    Basel CRE52 (terms by :func:`saccr_leg_terms`). δ d is linear in the signed units, so the
    sums of a book and of a trade add (:func:`pricing.xva.risks.incremental_eads`).
    """
    eff = np.zeros((n_owners, len(underlyings)))
    gross = np.zeros(n_owners)
    if len(legs.units):
        delta, notional, mf = saccr_leg_terms(legs, mpor_business_days)
        col = np.searchsorted(np.asarray(underlyings), np.asarray(legs.underlying, dtype=str))
        np.add.at(eff, (owner, col), delta * notional * mf)
        np.add.at(gross, owner, notional)
    return eff, gross
