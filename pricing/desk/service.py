"""The desk service: market source + book + configuration in, quotes (or typed refusals) out.

Every host quotes through :meth:`Desk.quote`: ``CQ_RFQ`` in Excel, ``clearquote quote``, the
FIX gateway and Block RFQ. A call takes the source's current snapshot once, resolves the
requests on it, reuses (or rebuilds) the book's basis, and quotes every request in one
vectorised pass (:func:`pricing.xva.quote.quote_rfqs`). Each quote names the snapshot it was
priced on.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeGuard

import numpy as np

from pricing.desk import sanity
from pricing.desk.admission import admit_legs, hedge_refusal
from pricing.desk.book import Book
from pricing.desk.config import DeskConfig
from pricing.desk.lag import rebased
from pricing.desk.market import MarketSnapshot, MarketSource
from pricing.desk.refusals import Refusal, RefusalCode
from pricing.desk.request import MAX_SIZE, Leg, RfqRequest, repeated_leg, resolve
from pricing.positions import position_state
from pricing.xva.quote import QuoteTable, quote_rfqs
from pricing.xva.rfq import RfqBatch
from pricing.xva.risks import leg_premiums

#: The figures of one side of a quote (USD, totals for the whole quantity).
SIDE_FIGURES = ("delta_im", "fva_im", "kva", "mva_vm", "ccva", "price")


@dataclass(frozen=True)
class Quote:
    """One request's quote: base, spread and both sides' figures, USD for the whole quantity.

    ``bid``/``ask`` map :data:`SIDE_FIGURES` to numbers; a side the client did not ask for has
    ``price`` None (its ΔIM and XVA are still given).

    Attributes
    ----------
    request : RfqRequest
        What was quoted.
    snapshot_id : str
        The market snapshot it was priced on (16 hex digits): its base.
    margin_snapshot_id : str
        The market snapshot its ΔIM, costs and spread are from, book and trade revalued on it
        (:mod:`pricing.desk.lag`): ``snapshot_id`` itself, or an older one within the bound.
    base : float
        Mid value of the legs, USD for the whole quantity.
    spread : float
        The desk's profit margin, USD (>= 0).
    bid, ask : dict of str to (float or None)
        :data:`SIDE_FIGURES` of each side, USD.
    """

    request: RfqRequest
    snapshot_id: str
    margin_snapshot_id: str
    base: float
    spread: float
    bid: dict[str, float | None]
    ask: dict[str, float | None]

    def figures(self) -> dict[str, float | None]:
        """Every figure flat: ``base``, ``spread``, ``bid_delta_im``, ..., ``ask_price``.

        Returns
        -------
        dict of str to (float or None)
            USD.
        """
        out: dict[str, float | None] = {"base": self.base, "spread": self.spread}
        for label, side in (("bid", self.bid), ("ask", self.ask)):
            out.update({f"{label}_{k}": v for k, v in side.items()})
        return out


@dataclass(frozen=True)
class DeskQuotes:
    """The answer to one :meth:`Desk.quote` call.

    Attributes
    ----------
    snapshot : MarketSnapshot
        What every quote of the call was priced on (its base).
    requests : tuple of RfqRequest or Refusal
        As given.
    refusals : tuple of Refusal or None
        Per request: why it was not quoted, or None.
    batch : RfqBatch
        The resolved requests (``batch.rows[t]`` is the request of quote t).
    table : QuoteTable
        The quotes of the accepted requests, as arrays (what a host with thousands of rows reads).
    margin_snapshot : MarketSnapshot or None
        What every quote's ΔIM, costs and spread are from (:mod:`pricing.desk.lag`); None: ``snapshot``.
    """

    snapshot: MarketSnapshot
    requests: tuple[RfqRequest | Refusal, ...]
    refusals: tuple[Refusal | None, ...]
    batch: RfqBatch
    table: QuoteTable
    margin_snapshot: MarketSnapshot | None = None

    @property
    def snapshot_id(self) -> str:
        return self.snapshot.snapshot_id

    @property
    def margin_snapshot_id(self) -> str:
        """The id of the snapshot the margin is from (``snapshot_id`` when it is the same)."""
        return (self.margin_snapshot or self.snapshot).snapshot_id

    def __len__(self) -> int:
        return len(self.requests)

    def result(self, i: int) -> Quote | Refusal:
        """Request ``i``'s quote, or its refusal.

        Parameters
        ----------
        i : int
            Index of the request in the call, 0-based.

        Returns
        -------
        Quote or Refusal
            The quote of the request, or the typed reason it was refused.
        """
        refusal = self.refusals[i]
        if refusal is not None:
            return refusal
        t = int(np.searchsorted(self.batch.rows, i))
        req = self.requests[i]
        assert isinstance(req, RfqRequest)
        sides: list[dict[str, float | None]] = []
        for side in (self.table.bid, self.table.ask):
            values = {k: float(side[k][t]) for k in SIDE_FIGURES}
            sides.append({k: None if math.isnan(v) else v for k, v in values.items()})
        return Quote(
            req,
            self.snapshot_id,
            self.margin_snapshot_id,
            float(self.table.base[t]),
            float(self.table.spread[t]),
            sides[0],
            sides[1],
        )


def _well_formed(quantity: object) -> TypeGuard[float]:
    """A size the limit applies to: a finite number within the request's range. A malformed one
    (NaN, inf, beyond ``MAX_SIZE``, not a number) is the resolver's to refuse as bad input first."""
    # abs(q) <= MAX_SIZE is False for NaN and inf, and compares an int of any size exactly (no overflow).
    return isinstance(quantity, (int, float)) and not isinstance(quantity, bool) and abs(quantity) <= MAX_SIZE


@dataclass
class Desk:
    """Quotes requests against a book on the current market, under one configuration.

    Parameters
    ----------
    source : MarketSource
        Where the market comes from (:func:`pricing.desk.sources.open_market`).
    book : Book
        Positions and fills; its basis is cached between calls.
    config : DeskConfig
        Margin model, add-ons, quote parameters, limits.

    Examples
    --------
    >>> from pricing.desk import Book, Desk, DeskConfig, Leg, RfqRequest, open_market
    >>> desk = Desk(open_market("bundled:2026-08-21"), Book.empty(), DeskConfig.from_mapping({"model": "span"}))
    >>> call = RfqRequest((Leg("BTC-25SEP26-60000-C"),), "buy", 10.0, ref="rfq 1")
    >>> late = RfqRequest((Leg("BTC-21AUG26-60000-C"),), "buy", 10.0, ref="rfq 2")
    >>> out = desk.quote([call, late])
    >>> q, r = out.result(0), out.result(1)
    >>> q.snapshot_id == out.snapshot_id, q.ask["price"] > q.base > 0, q.bid["price"] is None
    (True, True, True)
    >>> r.code.value, r.text.split(":")[0]
    ('expired', 'rfq 2')
    """

    source: MarketSource
    book: Book = field(default_factory=Book.empty)
    config: DeskConfig = field(default_factory=DeskConfig)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def snapshot(self) -> MarketSnapshot:
        """The source's current snapshot.

        Returns
        -------
        MarketSnapshot
            The market snapshot the desk quotes on now.
        """
        return self.source.current()

    def quote(
        self,
        requests: Sequence[RfqRequest | Refusal],
        *,
        accept: bool | None = None,
        now: datetime | None = None,
        snapshot: MarketSnapshot | None = None,
        firm_until: datetime | None = None,
    ) -> DeskQuotes:
        """Quote every request against the book on the current snapshot (one vectorised pass).

        Parameters
        ----------
        requests : sequence of RfqRequest or Refusal
            A Refusal (a request the host already refused) is passed through, so results stay in order.
        accept : bool, optional
            Fill each one-sided request before quoting the next (default: the configuration's).
            The fills are hypothetical: the book is not changed (use :meth:`fill`).
        now : datetime, optional
            The clock for the market-age limit (default: now, UTC).
        snapshot : MarketSnapshot, optional
            Quote on this snapshot (one the host already checked its own limits on) instead of
            taking the source's current one: a host's checks and the quote then see one market.
        firm_until : datetime, optional
            The end of the quote's firmness by the wall clock: a leg expiring at or before it is
            refused (:func:`pricing.desk.admission.admit`).

        Returns
        -------
        DeskQuotes
            Per request a quote or a refusal with a :class:`~pricing.desk.refusals.RefusalCode`:
            a malformed field, one instrument in two legs (``bad_request``), futures beyond a
            delta hedge (``not_a_hedge``), an unknown instrument, an instrument the venue does not list
            (``not_listed``, from the snapshot's chains: :func:`pricing.desk.admission.admit_legs`),
            an expired leg, a bad size, a size above ``risk.max_contracts``, a market older than
            ``limits.max_market_age_s``.

        Notes
        -----
        Base, ΔIM per side and XVA by :func:`pricing.xva.quote.quote_rfqs` against the book's
        basis (docs/methodology.md §D); the basis is rebuilt only when the snapshot, the margin
        configuration or the book changed. Under a margin lag bound (``limits.max_margin_lag_s``,
        else the source's; :mod:`pricing.desk.lag`) the ΔIM, costs and spread may come from the
        newest basis built on a snapshot at most that much older, book and trade both revalued
        on it, and the base from the call's snapshot; :attr:`DeskQuotes.margin_snapshot` names it. Each side's price is
        ask = base + (FVA + KVA + MVA + CCVA) + spread and bid = base - (...) - spread
        (:func:`pricing.xva.quote.all_in_price`), so bid <= base <= ask whenever both sides'
        costs are >= 0; a side that lowers the book's margin carries a negative cost and may be
        quoted through the base.

        Examples
        --------
        A desk on the bundled 2026-08-21 market with a two-position book, asked for a two-way
        price on 2 BTC calls (SPAN margin):

        >>> import re
        >>> from pricing.desk import Book, Desk, DeskConfig, Leg, RfqRequest, open_market
        >>> book = Book.from_table(
        ...     [["Instrument", "Quantity"], ["BTC-25SEP26-60000-C", 5], ["BTC-25SEP26-50000-P", -5]])
        >>> desk = Desk(open_market("bundled:2026-08-21"), book, DeskConfig.from_mapping({"model": "span"}))
        >>> out = desk.quote([RfqRequest((Leg("BTC-25SEP26-70000-C"),), "two-way", 2.0, ref="rfq 1")])
        >>> q = out.result(0)
        >>> round(q.base), q.bid["price"] <= q.base <= q.ask["price"]
        (19484, True)
        >>> costs = {s: sum(side[k] for k in ("fva_im", "kva", "mva_vm", "ccva")) for s, side in (("bid", q.bid), ("ask", q.ask))}
        >>> abs(q.ask["price"] - (q.base + costs["ask"] + q.spread)) < 1e-6
        True
        >>> abs(q.bid["price"] - (q.base - costs["bid"] - q.spread)) < 1e-6
        True
        >>> bool(re.fullmatch("[0-9a-f]{16}", q.snapshot_id)), q.snapshot_id == out.snapshot_id
        (True, True)
        """
        with self._lock, self.book.quoting():  # the book's thread builds after this quote, not beside it
            snap = snapshot if snapshot is not None else self.source.current()
            limits = self.config.limits
            checked: list[RfqRequest | Refusal] = []
            # The configuration's limit, else the source's own (a live feed has one; files and bundled data none).
            max_age = limits.max_market_age_s or float(getattr(snap, "max_age_s", 0.0))
            stale = max_age > 0 and snap.age_s(now or datetime.now(UTC)) > max_age
            for req in requests:
                most = self.config.risk.max_contracts
                if isinstance(req, RfqRequest) and _well_formed(req.quantity) and req.quantity > most:
                    text = f"{req.ref}, quantity: {req.quantity:g} is above the limit max_contracts = {most:g} contracts"
                    checked.append(Refusal(RefusalCode.LIMIT_EXCEEDED, text))
                elif isinstance(req, RfqRequest) and stale:
                    text = f"{req.ref}: market stale: {snap.age_text(now)} (limit {max_age:g} s)"
                    checked.append(Refusal(RefusalCode.STALE_MARKET, text))
                elif isinstance(req, RfqRequest):
                    # Each instrument once, then admission (only what the venue lists, futures as a
                    # hedge only), on the snapshot's chains, for every host alike.
                    names = [leg.instrument for leg in req.legs]
                    refused = repeated_leg(req.legs, req.ref)
                    if refused is None and names:
                        refused = admit_legs(names, snap.market.chains, snap.market.as_of, req.ref, firm_until)
                    if refused is None:
                        refused = hedge_refusal([(leg.instrument, leg.ratio) for leg in req.legs], req.ref)
                    checked.append(req if refused is None else refused)
                else:
                    checked.append(req)
            resolved = resolve(checked, snap.market)
            batch = resolved.batch
            margin_snap = snap
            if batch.trades.count == 0:
                table = QuoteTable.empty(batch.rows)
            else:
                lag = limits.max_margin_lag_s or float(getattr(snap, "max_margin_lag_s", 0.0))
                built = self.book.margin_basis(snap, self.config, batch.trades.legs, lag, self.source.current)
                margin_snap = built.snapshot
                take = self.config.accept if accept is None else accept
                table = quote_rfqs(batch, built.basis, self.config.quote, accept=take)
                if margin_snap.snapshot_id != snap.snapshot_id:  # the base from the call's snapshot
                    table = rebased(table, batch, snap.market, self.config.quote)
                # Price sanity: no quote outside its no-arbitrage bounds leaves the desk.
                table = sanity.checked(batch, table, snap.market, self.config.quote)
            refusals = list(resolved.refusals)
            for t, why in enumerate(table.refusals):  # price sanity (pricing.desk.sanity): never sent
                if why is not None:
                    refusals[int(batch.rows[t])] = Refusal(RefusalCode.PRICE_BOUNDS, why)
            return DeskQuotes(snap, tuple(requests), tuple(refusals), batch, table, margin_snap)

    def fill(self, legs: Sequence[Leg], label: str | None = None) -> None:
        """Legs the desk now holds join the book (signed contracts); the next quote sees them.

        Parameters
        ----------
        legs : sequence of Leg
            Each with its signed contracts (``ratio``) as the desk now holds them.
        label : str, optional
            The label the fill is booked at the venue with (:func:`pricing.desk.fills.fill_label`):
            the venue's trades under it retire it from the book (:meth:`Book.apply_fill`).
        """
        self.book.apply_fill(legs, label=label)

    def mid(self, request: RfqRequest) -> float:
        """The request's mid value now: USD, all of its quantity, legs only (no margin, no XVA).

        Returns NaN for a request that cannot be resolved on the current snapshot.

        Parameters
        ----------
        request : RfqRequest
            The request whose structure is valued.

        Returns
        -------
        float
            USD, or NaN.
        """
        with self._lock:
            snap = self.source.current()
            batch = resolve([request], snap.market).batch
            if batch.trades.count == 0:
                return math.nan
            legs = batch.trades.legs
            return float(leg_premiums(legs, position_state(legs, snap.market), self.config.quote).sum())

    def mids(self, requests: Sequence[RfqRequest]) -> np.ndarray:
        """Each request's mid value now, in one batch: :meth:`mid` of every request at once.

        Parameters
        ----------
        requests : sequence of RfqRequest
            The requests whose structures are valued (the FIX gateway's live quotes).

        Returns
        -------
        ndarray
            USD per request, all of its quantity; NaN for one that cannot be resolved.

        Notes
        -----
        One :func:`pricing.desk.request.resolve` and one :func:`pricing.positions.position_state`
        over every leg, then each trade's leg premiums summed (``np.add.reduceat`` over the
        trade's run of legs): the same legs and premiums as :meth:`mid`, whose pairwise sum may
        differ from it in the last bits for trades of more than two legs.
        """
        out = np.full(len(requests), np.nan)
        if not requests:
            return out
        # Not under the service's lock: a mid reads one snapshot and the quote parameters, both
        # immutable once taken, and never the book, so a scan of thousands of live quotes (the FIX
        # gateway's market-move check, run as each snapshot is published) never holds up the
        # QuoteRequest that prices the first quote on that snapshot.
        snap, params = self.source.current(), self.config.quote
        batch = resolve(list(requests), snap.market).batch
        trades = batch.trades
        if trades.count == 0:
            return out
        premiums = leg_premiums(trades.legs, position_state(trades.legs, snap.market), params)
        out[batch.rows] = np.add.reduceat(premiums, trades.starts[:-1])
        return out

    def close(self) -> None:
        """Close the market source and stop the book's basis thread."""
        self.book.close()
        self.source.close()
