"""The live quotes' structures, resolved once, re-priced on each new market (the market-move scan).

A firm quote is withdrawn when its structure's mid moves beyond the fill tolerance. The FIX
gateway checks that on every new snapshot for every live quote (thousands at a desk's rate).
Resolving a request (instrument names to contracts, sizes to signed leg quantities) does not
depend on the market, so it is done once, when the quote is priced; a scan only revalues the
resolved legs on the new market (:func:`mids_on`) and compares (:func:`moved`).

:class:`QuotedLegs` holds those legs as one set of arrays, trade after trade, so a scan is one
:func:`pricing.positions.position_state` over every leg and no work per quote in Python.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC

import numpy as np

from pricing._typing import BoolArray, FloatArray
from pricing.errors import PricingInputError
from pricing.margin.engine import TradeLegs
from pricing.market import Market
from pricing.portfolio import Portfolio, concat, empty_portfolio
from pricing.positions import position_state
from pricing.xva.params import QuoteParams
from pricing.xva.risks import leg_premiums


def _gather(items: tuple[str, ...], index: np.ndarray) -> tuple[str, ...]:
    """``tuple(items[i] for i in index)``, gathered in C (``operator.itemgetter``), not a Python loop."""
    if index.size == 0:
        return ()
    got = operator.itemgetter(*index.tolist())(items)
    return tuple(got) if index.size > 1 else (got,)


def _take(p: Portfolio, index: np.ndarray) -> Portfolio:
    """``p.select(index)`` with the names gathered in C (``operator.itemgetter``), not a Python loop."""
    if index.size == len(p):
        return p
    if index.size == 0:
        return empty_portfolio()
    return Portfolio(
        _gather(p.names, index),
        p.underlying[index],
        p.kind[index],
        p.cp[index],
        p.strike[index],
        p.expiry[index],
        p.quantity[index],
        p.contract_size[index],
        p.inverse[index],
    )


@dataclass(frozen=True)
class QuotedLegs:
    """Quotes' structures as resolved when they were priced: trade t is quote ``ids[t]``.

    Attributes
    ----------
    ids : tuple of str
        The QuoteID of each trade.
    then : ndarray
        Each quote's mid when it was priced, USD for its whole quantity (the Quote's base).
    trades : TradeLegs
        Each quote's legs with their signed contracts (quantity x ratio), trade by trade.
    """

    ids: tuple[str, ...]
    then: FloatArray
    trades: TradeLegs

    @staticmethod
    def empty() -> QuotedLegs:
        """No quotes.

        Returns
        -------
        QuotedLegs
            With no trades.
        """
        return QuotedLegs((), np.zeros(0), TradeLegs(empty_portfolio(), np.zeros(1, dtype=np.int64)))

    @staticmethod
    def of(ids: Sequence[str], then: Sequence[float], trades: TradeLegs) -> QuotedLegs:
        """Quotes from resolved trades (``pricing.desk.DeskQuotes.batch.trades`` of the quotes' call, or a part of it).

        Parameters
        ----------
        ids : sequence of str
            One QuoteID per trade.
        then : sequence of float
            One mid (USD) per trade, as priced.
        trades : TradeLegs
            The trades' legs.

        Returns
        -------
        QuotedLegs
            The same trades, named.
        """
        if not (len(ids) == len(then) == trades.count):
            raise ValueError(f"QuotedLegs.of: {len(ids)} ids, {len(then)} mids and {trades.count} trades")
        if np.any(np.diff(trades.starts) < 1):
            raise ValueError("QuotedLegs.of: every trade has at least one leg")
        return QuotedLegs(tuple(ids), np.asarray(then, dtype=np.float64), trades)

    @staticmethod
    def one(quote_id: str, then: float, trades: TradeLegs, t: int) -> QuotedLegs:
        """Trade ``t`` of a call's resolved trades as one quote.

        Parameters
        ----------
        quote_id : str
            Its QuoteID.
        then : float
            Its mid as priced, USD.
        trades : TradeLegs
            The call's trades (``DeskQuotes.batch.trades``).
        t : int
            The trade's index.

        Returns
        -------
        QuotedLegs
            One quote.
        """
        start, end = int(trades.starts[t]), int(trades.starts[t + 1])
        legs = _take(trades.legs, np.arange(start, end, dtype=np.int64))
        return QuotedLegs.of([quote_id], [then], TradeLegs(legs, np.array([0, end - start], dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, rows: np.ndarray) -> QuotedLegs:
        """The trades at ``rows`` (ascending indices), with their legs.

        Parameters
        ----------
        rows : ndarray of int
            Trade indices, ascending.

        Returns
        -------
        QuotedLegs
            Those trades, in that order.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == len(self.ids):
            return self
        starts = self.trades.starts
        counts = starts[1:] - starts[:-1]
        keep = np.zeros(len(self.ids), dtype=bool)
        keep[rows] = True
        legs = _take(self.trades.legs, np.flatnonzero(np.repeat(keep, counts)))
        new_starts = np.concatenate([[0], np.cumsum(counts[rows])]).astype(np.int64)
        return QuotedLegs(_gather(self.ids, rows), self.then[rows], TradeLegs(legs, new_starts))

    def keep(self, ids: Collection[str]) -> QuotedLegs:
        """Only the quotes among ``ids`` (order kept).

        Parameters
        ----------
        ids : collection of str
            QuoteIDs to keep (a set: membership is tested once per quote held).

        Returns
        -------
        QuotedLegs
            The quotes held that are in ``ids``.
        """
        rows = np.flatnonzero(np.fromiter((i in ids for i in self.ids), dtype=bool, count=len(self.ids)))
        return self.select(rows)

    def plus(self, others: Sequence[QuotedLegs]) -> QuotedLegs:
        """These quotes followed by ``others``'.

        Parameters
        ----------
        others : sequence of QuotedLegs
            More quotes (QuoteIDs not already held).

        Returns
        -------
        QuotedLegs
            All of them, in order.
        """
        parts = [self, *(o for o in others if len(o))]
        if len(parts) == 1:
            return self
        offsets = np.cumsum([0] + [len(p.trades.legs) for p in parts[:-1]])
        starts = np.concatenate([[0]] + [p.trades.starts[1:] + off for p, off in zip(parts, offsets)]).astype(np.int64)
        return QuotedLegs(
            tuple(i for p in parts for i in p.ids),
            np.concatenate([p.then for p in parts]),
            TradeLegs(concat([p.trades.legs for p in parts]), starts),
        )


def mids_on(trades: TradeLegs, market: Market, params: QuoteParams) -> FloatArray:
    """Each trade's mid value on ``market``: USD for its whole quantity, legs only (no margin, no XVA).

    Parameters
    ----------
    trades : TradeLegs
        Resolved trades (signed contracts per leg).
    market : Market
        The market now.
    params : QuoteParams
        ``sofr`` discounts USD-settled legs (:func:`pricing.xva.risks.leg_premiums`).

    Returns
    -------
    ndarray
        USD per trade; NaN for a trade with a leg the market cannot value: expired at or before
        ``market.as_of``, or of an underlying the market does not carry (as
        :func:`pricing.desk.request.resolve` refuses such a request on that market).

    Notes
    -----
    mid_t = sum over trade t's legs of the leg's premium today (coin-settled: the Black-76 coin
    mark times the index; USD-settled: the Black-76 mark discounted at SOFR from expiry; futures
    0), each on the market's forward and smile (:func:`pricing.positions.position_state`,
    docs/methodology.md §D6). The same legs and premiums as
    :meth:`pricing.desk.service.Desk.mids` of the same requests, without resolving them again.
    """
    t_count = trades.count
    out = np.full(t_count, np.nan)
    legs = trades.legs
    if t_count == 0 or len(legs) == 0:
        return out
    as_of = np.datetime64(market.as_of.astimezone(UTC).replace(tzinfo=None), "us")
    # A perpetual has no expiry (NaT); anything else must expire after the market's time.
    live = np.isnat(legs.expiry) | (legs.expiry.astype("datetime64[us]") > as_of)
    for u in legs.underlyings:
        if u not in market.surfaces:
            try:
                market.surface(u)  # the surfaces' own lookup (case-insensitive), as resolve's
            except PricingInputError:
                live &= legs.underlying != u
    starts = trades.starts
    counts = starts[1:] - starts[:-1]
    # A trade with a leg that cannot be valued is NaN as a whole (resolve refuses the request).
    good: BoolArray = np.add.reduceat((~live).astype(np.int64), starts[:-1]) == 0
    if not good.any():
        return out
    priced = _take(legs, np.flatnonzero(np.repeat(good, counts)))
    premiums = leg_premiums(priced, position_state(priced, market), params)
    sub_starts = np.concatenate([[0], np.cumsum(counts[good])])[:-1]
    out[good] = np.add.reduceat(premiums, sub_starts)
    return out


def moved(then: FloatArray, now: FloatArray, tolerance: float) -> BoolArray:
    """Which mids moved beyond the relative ``tolerance`` (NaN now: moved; it cannot be valued).

    Parameters
    ----------
    then, now : ndarray
        Mids as quoted and now, USD.
    tolerance : float
        Relative move allowed (0.005: 0.5 %).

    Returns
    -------
    ndarray of bool
        ``not |now - then| <= tolerance x max(|then|, 1e-9)``.
    """
    return ~(np.abs(now - then) <= tolerance * np.maximum(np.abs(then), 1e-9))
