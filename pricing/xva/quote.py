"""Quoting RFQs against a book: the basis every quote shares, one vectorised pass over the
parsed requests, and the table of quotes (base + FVA + KVA + MVA + CCVA + spread per side).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricing._typing import FloatArray
from pricing.errors import PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginBasis, MarginModel, TradeLegs, margin_basis, sequential_margins, trade_margins
from pricing.market import Market
from pricing.portfolio import Portfolio, concat, empty_portfolio
from pricing.positions import position_state
from pricing.xva.params import SIMULATED_PROFILES, QuoteParams
from pricing.xva.profiles import grid_matrix
from pricing.xva.replica_profile import expected_replica_profiles, replica_profiles
from pricing.xva.rfq import RfqBatch, parse_rfqs
from pricing.xva.risks import BookCapital, BookStates, TradeRisks, book_capital, trade_risks
from pricing.xva.sides import quote_sides


@dataclass(frozen=True, eq=False)
class QuoteBasis:
    """What every quote against one book, market, model and add-ons shares: the margin basis
    (the book's scenario P&L, tail state and IM) and its SA-CCR netting set. Built once and
    reused by every call that quotes against the same book (a per-row ``CQ_RFQ`` formula reprices
    only its own trade).

    Attributes
    ----------
    margin : MarginBasis
        The book's margin state on one market, model and add-ons (:func:`pricing.margin.engine.margin_basis`):
        its IM ``im0`` (USD) is the IM posted before any trade.
    capital : BookCapital
        The book's SA-CCR netting set with the venue: option legs, value and posted IM, USD
        (:func:`pricing.xva.risks.book_capital`).

    Notes
    -----
    Build it with :meth:`build`; :meth:`for_trades` widens the margin layout when a trade needs
    instruments the book does not hold, sharing the netting set.
    """

    margin: MarginBasis
    capital: BookCapital

    @staticmethod
    def build(
        book: Portfolio, market: Market, model: MarginModel, addons: AddOnParams | None = None, trades: Portfolio | None = None
    ) -> QuoteBasis:
        """The basis of every quote against ``book``: its margin basis and its SA-CCR netting set.

        Parameters
        ----------
        book : Portfolio
            The dealer's positions at the venue.
        market : Market
            The market snapshot.
        model : MarginModel
            The venue replica that gives ΔIM.
        addons : AddOnParams, optional
            The margin add-ons (the model's defaults if None).
        trades : Portfolio, optional
            Legs the quotes will add, so that the margin layout covers them from the start.

        Returns
        -------
        QuoteBasis
            The book's basis for quoting: margin basis, risks and parameters.

        Notes
        -----
        :func:`pricing.margin.engine.margin_basis` and :func:`pricing.xva.risks.book_capital` with the
        book's IM as the posted IM.
        """
        basis = margin_basis(book, market, model, addons, trades)
        return QuoteBasis(basis, book_capital(book, market, basis.im0))

    def for_trades(self, trades: Portfolio) -> QuoteBasis:
        """This basis with its margin layout widened to ``trades`` if they need it (itself otherwise).

        Parameters
        ----------
        trades : Portfolio
            The legs about to be quoted.

        Returns
        -------
        QuoteBasis
            A basis that also covers the trades' legs; this one is unchanged.
        """
        m = self.margin.for_trades(trades)
        return self if m is self.margin else QuoteBasis(m, self.capital)


_XVA_COLUMNS = ("fva", "kva", "mva", "ccva", "spread")
#: A quote's columns as a table shows them, per view: ``summary`` (base, both ΔIM, the XVA of the
#: side the client asked for, bid, ask) or ``sides`` (both sides' XVA). The one home of these
#: columns: ``CQ_RFQ`` and ``clearquote quote`` both read :meth:`QuoteTable.columns`.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "summary": ("base", "delta_im_bid", "delta_im_ask", *_XVA_COLUMNS, "bid", "ask"),
    "sides": (
        "base",
        "delta_im_bid",
        "delta_im_ask",
        *(f"bid_{k}" for k in _XVA_COLUMNS),
        *(f"ask_{k}" for k in _XVA_COLUMNS),
        "bid",
        "ask",
    ),
}


@dataclass(frozen=True)
class QuoteTable:
    """Quotes of T trades (rows ``rows`` of the request table), USD (T,) arrays.

    ``bid``/``ask`` hold per side ``delta_im``, ``fva_im``, ``mva_vm``, ``kva``, ``ccva`` and
    ``price`` (NaN on a side not quoted: the bid of a client buy, the ask of a client sell).

    Attributes
    ----------
    rows : ndarray of int, shape (T,)
        Each trade's row in the request table, 0-based (``rows`` of :class:`pricing.xva.rfq.RfqBatch`).
    names : tuple of str
        Each trade's instruments, joined by `` + `` for a structure.
    sides : tuple of str
        Each request's side as the client gave it: ``buy``, ``sell`` or ``two-way``.
    base : ndarray, shape (T,)
        The structure's premium paid today, the dealer holding it as bought, USD (the mid both sides start from).
    spread : ndarray, shape (T,)
        The profit margin, USD (the same on both sides).
    bid, ask : dict of str to ndarray, shape (T,)
        Per side ``delta_im`` (ΔIM of the dealer buying on the bid, selling on the ask),
        ``fva_im``, ``mva_vm``, ``kva``, ``ccva`` (positive = cost) and ``price``, USD.
    refusals : tuple of (str or None)
        Per trade, why its prices must not leave the desk (:mod:`pricing.desk.sanity`); its bid
        and ask are NaN then. Empty (default): none refused.

    Notes
    -----
    ask = base + FVA + KVA + MVA + CCVA + spread with the ask side's adjustments, bid = base minus
    the bid side's and the spread, each rounded away from the client to the tick
    (:func:`pricing.xva.sides.all_in_price`).
    """

    rows: np.ndarray
    names: tuple[str, ...]
    sides: tuple[str, ...]
    base: FloatArray
    spread: FloatArray
    bid: dict[str, FloatArray]
    ask: dict[str, FloatArray]
    refusals: tuple[str | None, ...] = ()

    @staticmethod
    def empty(rows: np.ndarray) -> QuoteTable:
        """The table of no trades.

        Parameters
        ----------
        rows : ndarray
            The request rows (all refused or empty).

        Returns
        -------
        QuoteTable
            A table with no rows.
        """
        z = np.zeros(0)
        sides = {k: z for k in ("delta_im", "fva_im", "mva_vm", "kva", "ccva", "price")}
        return QuoteTable(rows, (), (), z, z, sides, dict(sides))

    def columns(self, view: str = "sides") -> FloatArray:
        """The quotes as a (T, C) matrix of :data:`TABLE_COLUMNS` ``[view]``, USD.

        Parameters
        ----------
        view : {"summary", "sides"}
            ``summary``: the XVA of the side the client asked for (a client sell is quoted on
            the bid, anything else on the ask); ``sides``: both sides' XVA.

        Returns
        -------
        ndarray, shape (T, C)
            NaN only for a price not quoted (the side the client did not ask for) or refused.
        """
        keys = ("fva_im", "kva", "mva_vm", "ccva")
        cols = [self.base, self.bid["delta_im"], self.ask["delta_im"]]
        if view == "sides":
            cols += [self.bid[k] for k in keys] + [self.spread] + [self.ask[k] for k in keys] + [self.spread]
        else:
            on_bid = np.array([s == "sell" for s in self.sides], dtype=bool)
            cols += [np.where(on_bid, self.bid[k], self.ask[k]) for k in keys] + [self.spread]
        cols += [self.bid["price"], self.ask["price"]]
        if len(self.base) == 0:
            return np.zeros((0, len(TABLE_COLUMNS[view])))
        return np.column_stack(cols)

    def cells(self, view: str = "sides") -> list[list[float | str]]:
        """:meth:`columns` as table cells: a price not quoted is a blank cell (``""``), never NaN.

        Parameters
        ----------
        view : {"summary", "sides"}
            As in :meth:`columns`.

        Returns
        -------
        list of list
            One row per trade, :data:`TABLE_COLUMNS` ``[view]``, USD; ``bid``/``ask`` blank on the
            side the client did not ask for (the bid of a client buy, the ask of a client sell)
            and on both sides of a trade refused by price sanity (:attr:`refusals`: a host shows
            the reason there instead). The one home of that rule for every host's table.
        """
        values = self.columns(view)
        cells = values.astype(object)
        cells[:, -2:][np.isnan(values[:, -2:])] = ""  # only a price can be absent (see columns)
        rows: list[list[float | str]] = cells.tolist()
        return rows

    def records(self) -> list[dict[str, Any]]:
        """One dict per trade with the article's labels (``bid_FVA``, ``ask_price``, ...).

        Returns
        -------
        list of dict
            ``trade``, ``side``, ``rfq`` (1-based request row), ``base``, ``delta_im_bid``/``delta_im_ask``,
            per side FVA, MVA, KVA, CCVA, spread and the price of a side quoted; ``refused`` with the
            reason when the desk refused the trade.
        """
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
        Quote parameters (defaults in :class:`~pricing.xva.params.QuoteParams`).
    accept : bool
        Fill each request before pricing the next: the dealer's side of a one-sided request (the
        ask of a client buy, the bid of a client sell) joins the book; two-way requests are not filled.

    Returns
    -------
    QuoteTable
        One row per request: bid, ask and their components, or the reason it was refused.

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
    """Quote a table of RFQs (one dict per row) against a portfolio: the engine-level form, no desk.

    No host calls this: hosts quote through :meth:`pricing.desk.Desk.quote`, which adds what
    this does not (admission from the venue's listing, limits, price sanity, typed refusals, a
    versioned snapshot). It stays as the engine's own batch API for the reference and property
    tests of the quote arithmetic.

    Parameters
    ----------
    rfqs : sequence of mappings
        See below for the columns.
    portfolio : Portfolio or None
        The desk's positions (None: empty).
    market : Market
        The market: a fitted vol surface and forward curve per underlying at ``as_of`` (and the chains, for bid/ask).
    model : MarginModel
        The venue replica that gives ΔIM.
    params, addons : QuoteParams, AddOnParams, optional
        Quote and add-on parameters (defaults in their classes).
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
