"""One trade: the batch functions of :mod:`pricing.xva.sides` and :mod:`pricing.xva.risks` on a
batch of one, with the breakdown of each side (the article's worked example, tests, the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pricing._typing import FloatArray
from pricing.xva.params import QuoteParams
from pricing.xva.profiles import grid_matrix
from pricing.xva.rates import check_tenor
from pricing.xva.risks import BookCapital, BookStates, TradeRisk, TradeRisks, incremental_eads
from pricing.xva.saccr import hedging_set_sums
from pricing.xva.sides import all_in_price, dealer_sign, quote_sides, side_costs, spread_amounts


@dataclass(frozen=True)
class SideBreakdown:
    """One side of a quote, USD. ``price = base ± (fva + kva + mva + ccva + spread)``.

    Attributes
    ----------
    side : {"bid", "ask"}
        The dealer's side: it buys on the bid, sells on the ask.
    base : float
        The trade's mid value, USD.
    delta_im : float
        ΔIM of the dealer's side, USD.
    fva_im, mva_vm, kva, ccva : float
        The four adjustments, USD, positive = cost (shown as FVA, MVA, KVA, CCVA; docs/methodology.md §D1).
    spread : float
        The profit margin, USD.
    price : float
        The all-in price, USD: + on the ask, − on the bid, rounded away from the client to the tick.
    """

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
        """fva_im + mva_vm + kva + ccva, USD."""
        return self.fva_im + self.mva_vm + self.kva + self.ccva

    def as_dict(self) -> dict[str, float | str]:
        """The article's labels (FVA, MVA, KVA, CCVA) on a user-facing row.

        Returns
        -------
        dict
            ``side``, ``base``, ``delta_im``, ``FVA``, ``MVA``, ``KVA``, ``CCVA``, ``spread``, ``price`` (USD).
        """
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


def _risks_of(risk: TradeRisk, p: QuoteParams, book: BookCapital) -> TradeRisks:
    """The :class:`~pricing.xva.risks.TradeRisks` of one trade, its hedging sets those of the trade and the book."""
    unds = tuple(sorted(set(risk.legs.underlying) | set(book.legs.underlying)))
    eff, gross = hedging_set_sums(risk.legs, np.zeros(len(risk.legs.units), np.int64), 1, unds, p.mpor_business_days)

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
        The trade, as the dealer holds it if it buys.
    p : QuoteParams
        ``sco60_group``, ``im_bankruptcy_remote`` and ``mpor_business_days``.
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
    """The four adjustments of one trade on one side: :func:`pricing.xva.sides.side_costs` on a batch of one.

    Parameters
    ----------
    delta_im : float
        The side's marginal IM, USD.
    risk : TradeRisk
        The trade, as the dealer holds it if it buys.
    p : QuoteParams
        The XVA parameters.
    side : {"bid", "ask"}
        The dealer buys the trade on the bid and sells it on the ask.
    book : BookCapital, optional
        The dealer's existing netting set with the venue (empty if None).
    dim_profile : array (N,), optional
        The replica ΔIM profile on the trade's grid (``im_profile="replica"`` or ``"expected"``).

    Returns
    -------
    dict of str to float
        ``fva_im``, ``mva_vm``, ``kva``, ``ccva``, USD, positive = cost.

    Notes
    -----
    :func:`pricing.xva.sides.side_costs`' Notes say what each funds (docs/methodology.md §D).
    """
    b = book or BookCapital()
    risks = _risks_of(risk, p, b)
    times = grid_matrix(risks.tenor_years, p.step_days)
    prof = None if dim_profile is None else np.asarray(dim_profile, dtype=np.float64).reshape(1, -1)
    out = side_costs(np.array([float(delta_im)]), risks, p, side, BookStates.constant(b, risks, p), times, prof)
    return {k: float(v[0]) for k, v in out.items()}


def spread_amount(risk: TradeRisk, p: QuoteParams) -> float:
    """:func:`pricing.xva.sides.spread_amounts` of one trade.

    Parameters
    ----------
    risk : TradeRisk
        The trade (its premium and vega).
    p : QuoteParams
        The spread policy.

    Returns
    -------
    float
        USD.

    Notes
    -----
    The policies and their floor are in :func:`pricing.xva.sides.spread_amounts`' Notes.
    """
    return float(spread_amounts(_risks_of(risk, p, BookCapital()), p)[0])


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
        The trade, as the dealer holds it if it buys.
    p : QuoteParams
        The XVA and spread parameters.
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
