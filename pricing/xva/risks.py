"""What the XVAs read of the trades and of the netting set they join, USD.

A trade's premium, Greeks, tenor and SA-CCR hedging-set sums (:class:`TradeRisks`, from its
legs' state in one pass); the dealer's netting set with the venue (:class:`BookCapital`) as each
trade meets it (:class:`BookStates`); and the trade's incremental SA-CCR exposure
EAD(book + trade) − EAD(book) (:func:`incremental_eads`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import ACT360_PER_ACT365
from pricing.margin.engine import TradeLegs
from pricing.market import Market
from pricing.portfolio import OPTION, Portfolio
from pricing.positions import PositionState, position_state
from pricing.xva.params import QuoteParams
from pricing.xva.rates import latest_sofr
from pricing.xva.saccr import GROUP_2B_ADDON, SUPERVISORY_FACTOR, SaccrLegs, hedging_set_sums, saccr_ead, saccr_legs_of


@dataclass(frozen=True)
class TradeRisk:
    """What the XVAs need about one trade, USD: its value, vega, |delta|, spot, vol and tenor as
    the dealer holds it if it buys, and its option legs in SA-CCR terms (the same, bought).

    Attributes
    ----------
    premium : float
        The trade's value paid today, USD (:func:`leg_premiums` summed).
    vega : float
        dV/dσ per 1.00 of vol, USD.
    abs_delta_coin : float
        |Σ delta|, coins of underlying.
    spot : float
        The underlying's index, USD.
    vol : float
        Implied vol, decimal (0.55 = 55%).
    tenor_years : float
        Life to the last expiry, ACT/365 years (>= 0).
    legs : SaccrLegs
        The option legs in SA-CCR terms, the bank's signed units as bought (default: none, so
        the trade adds no SA-CCR add-on).

    Notes
    -----
    The one-trade form of :class:`TradeRisks`, for :mod:`pricing.xva.single`.
    """

    premium: float
    vega: float
    abs_delta_coin: float
    spot: float
    vol: float
    tenor_years: float
    legs: SaccrLegs = field(default_factory=SaccrLegs.empty)


@dataclass(frozen=True)
class TradeRisks:
    """What the XVAs need about T trades, as the dealer holds each if it buys it, USD (T,) arrays.

    ``premium`` is the trade's value paid today (USD-settled legs discounted at SOFR, ACT/360;
    coin-settled legs the coin mark times the index, :func:`leg_premiums`), ``value`` its mark,
    ``abs_delta_coin`` |Σ delta|, ``spot`` the first leg's, ``vol`` the |units|-weighted vol of
    its option legs, ``tenor_years`` its longest leg. ``effective`` (T, U) is its SA-CCR Σ δ d MF
    per hedging set (``underlyings``), ``gross`` its Σ d (Basel CRE52; SCO60 Group 2b).

    Attributes
    ----------
    premium : ndarray, shape (T,)
        Value paid today, USD.
    value : ndarray, shape (T,)
        The mark, USD (``value_usd`` of :func:`pricing.revaluation.position_state` summed).
    vega : ndarray, shape (T,)
        dV/dσ per 1.00 of vol, USD.
    abs_delta_coin : ndarray, shape (T,)
        |Σ delta|, coins of underlying.
    spot : ndarray, shape (T,)
        The first leg's index, USD (0 for a trade with no legs).
    vol : ndarray, shape (T,)
        The |units|-weighted implied vol of the option legs, decimal (0 with none).
    tenor_years : ndarray, shape (T,)
        The longest leg's life, ACT/365 years.
    effective : ndarray, shape (T, U)
        Σ δ d MF per hedging set, USD.
    gross : ndarray, shape (T,)
        Σ d, the option legs' gross adjusted notional, USD.
    underlyings : tuple of str
        The U hedging sets, sorted (the columns of ``effective``).

    Notes
    -----
    Built by :func:`trade_risks` in one pass over the legs; the SA-CCR terms are those of
    :func:`pricing.xva.saccr.saccr_leg_terms` (docs/methodology.md §D5).
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

    Parameters
    ----------
    legs : Portfolio
        The legs (their ``inverse`` flag says which settle in coin).
    state : PositionState
        Their state on the market (:func:`pricing.revaluation.position_state`), for the quantity held.
    p : QuoteParams
        ``sofr`` (the latest bundled fixing if None) discounts the USD-settled legs.

    Returns
    -------
    ndarray
        One premium per leg, USD.

    Notes
    -----
    USD-settled legs: the Black-76 mark discounted at SOFR (ACT/360, :data:`pricing.daycount.ACT360_PER_ACT365`
    times the ACT/365 expiry) from expiry. Coin-settled legs: the coin mark (Black-76 / F, undiscounted —
    Deribit's convention) times the index S, which :func:`pricing.revaluation.position_state` already
    gives as ``value_usd``; the coin paid today is worth S, not the forward F (docs/methodology.md §D6).
    """
    sofr = latest_sofr() if p.sofr is None else p.sofr
    df = np.where(legs.inverse, 1.0, np.exp(-sofr * state.t_years * ACT360_PER_ACT365))
    return np.asarray(df * state.value_usd, dtype=np.float64)


def trade_risks(trades: TradeLegs, state: PositionState, p: QuoteParams, underlyings: tuple[str, ...]) -> TradeRisks:
    """:class:`TradeRisks` of every trade from its legs' state (one pass over the legs, no loop over trades).

    Parameters
    ----------
    trades : TradeLegs
        The trades' legs, grouped by trade (``starts``).
    state : PositionState
        The legs' state for the quantity traded.
    p : QuoteParams
        ``sofr`` for the premiums, ``mpor_business_days`` for the SA-CCR maturity factor.
    underlyings : tuple of str
        The hedging sets, sorted; must include every leg's (the book's and the trades').

    Returns
    -------
    TradeRisks
        Per trade (T,) arrays: premium, mark, |delta|, spot, vol, tenor and its SA-CCR inputs, USD unless named.

    Notes
    -----
    Per trade: premium Σ :func:`leg_premiums`, value, vega and |Σ delta| summed over its legs; the
    vol weighted by |units| over its option legs; the tenor its longest leg; SA-CCR sums by
    :func:`pricing.xva.saccr.hedging_set_sums` (Basel CRE52).
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
    eff, gross = hedging_set_sums(
        saccr_legs_of(legs, state, np.ones(len(legs), bool)), owner[opt], n, underlyings, p.mpor_business_days
    )
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


@dataclass(frozen=True, eq=False)
class BookCapital:
    """The dealer's existing netting set with the venue: its option legs, its value and the IM
    it has posted, so that a trade's capital is EAD(book + trade) − EAD(book) (Basel CRE52).

    Attributes
    ----------
    legs : SaccrLegs
        The book's option positions in SA-CCR terms (default: none).
    mtm : float
        The netting set's value V, USD (default 0).
    im_posted : float
        The IM the book has posted at the venue, USD (default 0); in RC unless bankruptcy-remote.

    Notes
    -----
    Built by :func:`book_capital`; its hedging-set sums are kept per (underlyings, MPOR) by
    :meth:`hedging_sets`, so every quote against the book reuses them.
    """

    legs: SaccrLegs = field(default_factory=SaccrLegs.empty)
    mtm: float = 0.0
    im_posted: float = 0.0
    _sets: dict[tuple[Any, ...], tuple[FloatArray, float]] = field(default_factory=dict, compare=False, repr=False)

    def hedging_sets(self, underlyings: tuple[str, ...], p: QuoteParams) -> tuple[FloatArray, float]:
        """The book's SA-CCR aggregates, kept per underlyings and MPOR (every quote against this book reuses them).

        Parameters
        ----------
        underlyings : tuple of str
            The hedging sets, sorted; must include every leg of the book.
        p : QuoteParams
            ``mpor_business_days`` sets the maturity factor.

        Returns
        -------
        (effective, gross) : ndarray (U,), float
            Σ δ d MF per hedging set in ``underlyings`` order and Σ d, USD.

        Notes
        -----
        :func:`pricing.xva.saccr.hedging_set_sums` of the book as one owner (Basel CRE52).
        """
        key = (underlyings, p.mpor_business_days)
        if key not in self._sets:
            eff, gross = hedging_set_sums(
                self.legs, np.zeros(len(self.legs.units), np.int64), 1, underlyings, p.mpor_business_days
            )
            self._sets[key] = (eff[0], float(gross[0]))
        return self._sets[key]


def book_capital(book: Portfolio, market: Market, im_posted: float) -> BookCapital:
    """The :class:`BookCapital` of a portfolio on a market.

    Parameters
    ----------
    book : Portfolio
        The dealer's positions at the venue.
    market : Market
        The market that values them.
    im_posted : float
        The IM the book has posted, USD.

    Returns
    -------
    BookCapital
        Its option legs in SA-CCR terms, its value (USD) and ``im_posted``.

    Notes
    -----
    Options only: futures carry no SA-CCR option add-on here (:func:`pricing.xva.saccr.saccr_legs_of`).
    """
    if len(book) == 0:
        return BookCapital(im_posted=im_posted)
    st = position_state(book, market)
    return BookCapital(saccr_legs_of(book, st, np.ones(len(book), bool)), float(st.value_usd.sum()), im_posted)


@dataclass(frozen=True)
class BookStates:
    """The dealer's netting set as each trade meets it (T rows): SA-CCR Σ δ d MF per hedging set
    (T, U), Σ d, value and posted IM. All rows equal unless earlier fills changed the book.

    Attributes
    ----------
    effective : ndarray, shape (T, U)
        The book's Σ δ d MF per hedging set, USD.
    gross : ndarray, shape (T,)
        The book's Σ d, USD.
    mtm : ndarray, shape (T,)
        The book's value, USD.
    im_posted : ndarray, shape (T,)
        The IM the book has posted, USD.

    Notes
    -----
    :meth:`constant` (no fills) or :meth:`after_fills` (each earlier trade filled); read by
    :func:`incremental_eads` (Basel CRE52).
    """

    effective: FloatArray
    gross: FloatArray
    mtm: FloatArray
    im_posted: FloatArray

    @staticmethod
    def constant(book: BookCapital, risks: TradeRisks, p: QuoteParams) -> BookStates:
        """The book as every one of the trades meets it when none is filled.

        Parameters
        ----------
        book : BookCapital
            The dealer's netting set with the venue.
        risks : TradeRisks
            The trades (their count and hedging sets).
        p : QuoteParams
            ``mpor_business_days`` of the book's SA-CCR sums.

        Returns
        -------
        BookStates
            T equal rows.

        Notes
        -----
        Rows are read-only broadcasts of :meth:`BookCapital.hedging_sets`.
        """
        eff, gross = book.hedging_sets(risks.underlyings, p)
        n = risks.count
        return BookStates(
            np.broadcast_to(eff, (n, eff.size)), np.full(n, gross), np.full(n, book.mtm), np.full(n, book.im_posted)
        )

    def after_fills(self, risks: TradeRisks, fill: FloatArray, im_before: FloatArray) -> BookStates:
        """The book as trade t meets it when each earlier trade s was filled ``fill[s]`` (+1/-1/0).

        Parameters
        ----------
        risks : TradeRisks
            The trades, in the order they are filled.
        fill : array (T,)
            +1 the dealer bought trade s, -1 it sold it, 0 not filled.
        im_before : array (T,)
            The IM posted as each trade meets the book, USD (:func:`pricing.margin.engine.sequential_margins`).

        Returns
        -------
        BookStates
            The book's states with the fills applied; this one is unchanged.

        Notes
        -----
        Row t adds Σ_{s<t} fill_s · (Σ δ d MF, value) and Σ_{s<t} |fill_s| · Σ d of the earlier
        trades (an exclusive running sum): δ d is linear in the signed units (Basel CRE52).
        """
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
    """SA-CCR EAD of netting sets from their aggregates (the same terms as :func:`pricing.xva.saccr.saccr_netting_set`)."""
    if p.sco60_group == "2b":
        addon = GROUP_2B_ADDON * gross
    else:
        addon = SUPERVISORY_FACTOR * np.abs(effective).sum(axis=-1)
    posted = np.zeros_like(im) if p.im_bankruptcy_remote else np.maximum(im, 0.0)
    return saccr_ead(addon, mtm, posted, group=p.sco60_group)[2]


def incremental_eads(dim: FloatArray, risks: TradeRisks, p: QuoteParams, sign: float, books: BookStates) -> FloatArray:
    """EAD(book + trade) − EAD(book) per trade on one side, USD.

    Parameters
    ----------
    dim : array (T,)
        The side's ΔIM per trade, USD (posted, so in RC unless bankruptcy-remote).
    risks : TradeRisks
        The trades, as the dealer holds them if it buys.
    p : QuoteParams
        ``sco60_group``, ``im_bankruptcy_remote`` and ``mpor_business_days``.
    sign : float
        +1 on the bid (the dealer buys), -1 on the ask (it sells).
    books : BookStates
        The netting set each trade meets.

    Returns
    -------
    ndarray (T,)
        USD; negative when a trade hedges the book.

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
