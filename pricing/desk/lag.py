"""A margin basis that may lag the price snapshot by a stated bound.

A live market publishes a new snapshot four or five times a second (every mark message and each
refit), and its valuation time moves with every one: no part of the book's basis (its scenario
P&L, IM and SA-CCR netting set, ~12 ms of CPU for 1,000 positions) can be reused exactly from one
snapshot to the next. Rebuilding it for the first quote on each snapshot puts that build on the
quote's path. Instead, a quote may take its margin from the newest basis already built, on an
older snapshot, within a bound:

* **price** (the base, the structure's mid value) from the newest snapshot, the one the quote
  names (``snapshot_id``);
* **margin** — ΔIM of each side and every cost that reads the book (FVA on ΔIM, MVA, KVA, CCVA)
  and the spread — from one snapshot, the one the quote names for margin
  (``margin_snapshot_id``): the book *and* the trade revalued on that same snapshot, never one
  on each;
* the margin snapshot is never newer than the price snapshot and at most ``max_lag_s`` older,
  both by the market's own clock (``as_of``, the newest mark each carries) and by when each was
  built (``created_at``, this machine's clock: a feed that resumes after a silence with marks
  stamped just after the last ones is behind by the silence); beyond the bound, or when the
  book changed since (a fill, the venue's positions), or under another margin configuration,
  the quote waits for a basis built on its own snapshot, as with no lag at all;
* with ``max_lag_s`` = 0 every quote's margin is on its own snapshot (files, bundled data,
  ``clearquote quote``, Excel: their snapshots change only when their file does).

:class:`BuiltBasis` is what a quote reads; :func:`usable` is the rule; :func:`rebased` puts the
price snapshot's base under a table quoted on the margin snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pricing.desk.market import MarketSnapshot
from pricing.market import Market
from pricing.positions import position_state
from pricing.xva.params import QuoteParams
from pricing.xva.quote import QuoteBasis, QuoteTable
from pricing.xva.rfq import RfqBatch
from pricing.xva.risks import trade_risks
from pricing.xva.sides import all_in_price


@dataclass(frozen=True, eq=False)
class BuiltBasis:
    """A book's quote basis and what it was built on.

    Attributes
    ----------
    basis : QuoteBasis
        The book's margin basis and SA-CCR netting set.
    snapshot : MarketSnapshot
        The snapshot the book (and every trade quoted against it) is revalued on.
    margin_key : str
        :attr:`pricing.desk.config.DeskConfig.margin_key` of the configuration it was built under.
    version : int
        The book's :attr:`~pricing.desk.book.Book.version` it holds.
    """

    basis: QuoteBasis
    snapshot: MarketSnapshot
    margin_key: str
    version: int


def lag_s(price: MarketSnapshot, margin: MarketSnapshot) -> float:
    """How much older the margin snapshot is than the price snapshot, seconds: the larger of its
    market's lag and its build's.

    Parameters
    ----------
    price, margin : MarketSnapshot
        The snapshot a quote is priced on and the one its margin is from.

    Returns
    -------
    float
        max(``price.as_of - margin.as_of``, ``price.created_at - margin.created_at``) in
        seconds (the market's own time, the newest mark each carries; and when each was built);
        negative only when the margin snapshot is the newer by both.
    """
    return max((price.as_of - margin.as_of).total_seconds(), (price.created_at - margin.created_at).total_seconds())


def never_newer(price: MarketSnapshot, margin: MarketSnapshot) -> bool:
    """Whether the margin snapshot is not newer than the price snapshot by either clock.

    Parameters
    ----------
    price, margin : MarketSnapshot
        The snapshot a quote is priced on and the one its margin is from.

    Returns
    -------
    bool
        ``margin.as_of <= price.as_of`` and ``margin.created_at <= price.created_at``.
    """
    return margin.as_of <= price.as_of and margin.created_at <= price.created_at


def usable(built: BuiltBasis | None, price: MarketSnapshot, margin_key: str, version: int, max_lag_s: float) -> bool:
    """Whether a quote on ``price`` may take its margin from ``built``.

    Parameters
    ----------
    built : BuiltBasis or None
        The newest basis built.
    price : MarketSnapshot
        The snapshot the quote is priced on.
    margin_key : str
        The margin configuration the quote is under.
    version : int
        The book's version now.
    max_lag_s : float
        The bound, seconds (0: only a basis built on ``price`` itself).

    Returns
    -------
    bool
        True when ``built`` holds the book as it is now (``version``), under the same margin
        configuration, and either is ``price``'s own or was built on a snapshot at most
        ``max_lag_s`` older (:func:`lag_s`; never a newer one: :func:`never_newer`).
    """
    if built is None or built.margin_key != margin_key or built.version != version:
        return False
    if built.snapshot.snapshot_id == price.snapshot_id:
        return True
    return max_lag_s > 0 and never_newer(price, built.snapshot) and lag_s(price, built.snapshot) <= max_lag_s


def rebased(table: QuoteTable, batch: RfqBatch, market: Market, params: QuoteParams) -> QuoteTable:
    """A table quoted on the margin snapshot, with its base (and so its prices) from ``market``.

    Parameters
    ----------
    table : QuoteTable
        :func:`pricing.xva.quote.quote_rfqs` of ``batch`` against a basis on the margin snapshot.
    batch : RfqBatch
        The resolved requests.
    market : Market
        The price snapshot's market.
    params : QuoteParams
        The quote parameters (``sofr`` for the premium, ``tick`` for the rounding).

    Returns
    -------
    QuoteTable
        ``base`` = each trade's premium on ``market`` (:func:`pricing.xva.risks.trade_risks`,
        as :func:`~pricing.xva.quote.quote_rfqs` computes it, so a table quoted on the price
        snapshot itself has the same base to the last bit); ΔIM, FVA, MVA, KVA, CCVA and spread
        unchanged (the margin snapshot's); each quoted side's price re-assembled.

    Notes
    -----
    ask = base + (FVA + MVA + KVA + CCVA) + spread, bid = base - (...) - spread, each rounded to
    the tick away from the client (:func:`pricing.xva.sides.all_in_price`), with the costs summed
    in the order :func:`pricing.xva.sides.quote_sides` sums them.
    """
    trades = batch.trades
    if trades.count == 0:
        return table
    legs = trades.legs
    state = position_state(legs.with_quantity(np.ones(len(legs))), market).scaled(legs.quantity)
    base = trade_risks(trades, state, params, tuple(sorted(set(legs.underlyings)))).premium
    sides = {}
    for label, side in (("bid", table.bid), ("ask", table.ask)):
        costs = side["fva_im"] + side["mva_vm"] + side["kva"] + side["ccva"]
        price = all_in_price(base, costs, table.spread, label, params.tick)
        sides[label] = {**side, "price": np.where(np.isnan(side["price"]), np.nan, price)}
    return replace(table, base=base, bid=sides["bid"], ask=sides["ask"])
