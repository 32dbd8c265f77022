"""The quote's parameters: every input of the XVAs and of the all-in price, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from pricing.errors import PricingInputError, parse_choice
from pricing.xva.ccva import ccp_default_params
from pricing.xva.rates import check_rate, latest_sofr
from pricing.xva.saccr import SCO60_GROUPS

#: The choices of the text parameters (the accepted spellings, each to its meaning).
SPREAD_POLICIES = {"fixed": "fixed", "premium_pct": "premium_pct", "vega": "vega"}
KVA_METHODS = {"saccr": "saccr", "simple": "simple"}
VENUES = {"qccp": "qccp", "non_qccp": "non_qccp"}
IM_PROFILES = {"flat": "flat", "sqrt": "sqrt", "sqrt_runoff": "sqrt", "replica": "replica", "expected": "expected"}
#: The profiles the margin replica simulates (on the trade's grid) rather than a run-off of today's ΔIM.
SIMULATED_PROFILES = ("replica", "expected")


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
    (:func:`pricing.xva.capital.default_fund_after`), so a trade moves it by its ΔIM. The
    CCVA counts the same change ΔDF_i (the contribution the trade adds to what the venue's
    default would take), not the whole contribution.

    Crypto exposures are BCBS SCO60 Group 2a by default (``sco60_group``): a hedging set per
    cryptoasset, SF 32%, σ 120%, long and short options on one coin netting; ``"2b"`` turns
    netting off and charges 50% of gross notional as the add-on with multiplier 1
    (:func:`pricing.xva.saccr.saccr_netting_set`).
    CCVA: PD/LGD of ``ccp_type`` unless given. Spread: ``fixed`` (USD per trade), ``premium_pct``
    (share of |premium|) or ``vega`` (vol points x |vega|), at least ``min_spread`` USD.

    Attributes
    ----------
    sofr : float or None
        SOFR, decimal per year (ACT/360): the riskless discount rate and the base of r_F. None
        (default): the latest bundled fixing (:func:`pricing.xva.rates.latest_sofr`).
    funding_spread : float
        s, the desk's funding spread over SOFR, decimal (default 0.005 = 50 bp): r_F = SOFR + s
        funds the posted IM; the premium the dealer pays is funded at s alone (docs/methodology.md §D6).
    im_rate : float
        r_IM, the rate the venue pays on posted IM, decimal (default 0: crypto venues pay none).
    borrow_spread : float
        s_b, the borrow spread over SOFR of the VM settlement-lag cost ``mva_vm``, decimal (default 0.005; §D3).
    vm_lag_days : float
        ℓ, the lag between the venue's VM (T+0) and the client's (T+1), days (default 1).
    im_profile : {"flat", "sqrt", "sqrt_runoff", "replica", "expected"}
        The ΔIM profile over the trade's life (default ``flat``; §D3 for flat and √ run-off, §D7
        for the simulated ``replica`` and ``expected``).
    step_days : float
        The XVA grid step, calendar days (default 7).
    kva_method : {"saccr", "simple"}
        KVA on the SA-CCR EAD (default) or the article's simple form on ``simple_exposure``.
    venue : {"qccp", "non_qccp"}
        How the trade exposure and the default fund are capitalised (default ``qccp``; above).
    risk_weight : float
        RW of a trade exposure to a QCCP, decimal (default 0.02, Basel CRE54.14); at most 12.5.
    counterparty_risk_weight : float
        RW of a trade exposure to a venue that is not a QCCP, decimal (default 1.0, CRE20 via CRE54.42).
    cva_risk_weight : float
        RW_cva of the reduced BA-CVA on a non-QCCP venue, decimal (default 0.12, MAR50).
    kccp_usd : float
        K_CCP, the CCP's hypothetical capital, USD (default 0: no default-fund capital at a QCCP; CRE54, §D4).
    df_ccp_usd : float
        DF_CCP, the CCP's own prefunded resources junior or pari passu to members', USD (default 0).
    df_members_usd : float
        DF_CM, all members' prefunded default-fund contributions, USD (default 0).
    im_ccp_usd : float
        IM_CCP, all members' IM at the venue, USD (default 0); with ``df_members_usd`` it sets the
        pro-rata share a trade's ΔIM moves (§D4).
    capital_ratio : float
        CR, capital per unit of RWA, decimal (default 0.08, the Basel minimum).
    cost_of_capital : float
        CoC, the hurdle rate on capital, decimal per year (default 0.10).
    mpor_business_days : float
        Margin period of risk of the SA-CCR maturity factor, business days (default 10; CRE52, CRE54).
    sco60_group : {"2a", "2b"}
        BCBS SCO60 group of the cryptoassets (default ``2a``: a hedging set per coin, SF 32%, σ 120%).
    im_bankruptcy_remote : bool
        Posted IM held bankruptcy-remote from the venue: left out of the SA-CCR RC and of the
        CCVA (default False).
    simple_exposure : float or None
        The exposure of the simple KVA, USD (None, default: the trade's |premium|).
    ccp_type : {"qccp", "crypto_exchange", "non_qccp"}
        The venue's default preset of the CCVA: annual PD 0.05% / LGD 40% for ``qccp`` (default),
        1% / 60% otherwise (:data:`pricing.xva.ccva.CCP_TYPES`, §D3 [D]).
    pd_annual : float or None
        The venue's one-year default probability, decimal; None (default): ``ccp_type``'s.
    lgd : float or None
        The loss given the venue's default, decimal; None (default): ``ccp_type``'s.
    default_fund_usd : float
        DF_i, the member's prefunded default-fund contribution today, USD (default 0: none);
        needs ``df_members_usd`` and ``im_ccp_usd`` > 0 and at most ``df_members_usd``.
    spread_policy : {"fixed", "premium_pct", "vega"}
        How the profit margin is set (default ``premium_pct``; :func:`pricing.xva.sides.spread_amounts`).
    spread_value : float
        The policy's value: USD a trade (``fixed``), a share of |premium| (``premium_pct``, default
        0.002 = 0.2%) or vol points of |vega| (``vega``); >= 0.
    min_spread : float
        Floor of the spread, USD (default 0).
    tick : float
        The venue's price increment, USD (default 0: no rounding); the ask rounds up, the bid down.

    Raises
    ------
    PricingInputError
        A rate outside its range or given as a percentage, an unknown choice (the allowed ones
        listed), a negative USD amount, or a default-fund contribution without the fund and the
        venue's IM it is shared over.
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
        """r_F = SOFR (``sofr`` or the latest fixing) + ``funding_spread``, decimal per year."""
        return (latest_sofr() if self.sofr is None else self.sofr) + self.funding_spread
