"""The desk's book: the starting positions, the fills since, and the quote basis cached on them.

Fills are applied incrementally (each joins the book as its own block; nothing is re-read), and
the cached :class:`~pricing.xva.quote.QuoteBasis` (the book's scenario P&L, IM and SA-CCR
netting set) is rebuilt only when the book, the snapshot or the margin configuration changed.
On a live market a quote may take the newest basis built on a slightly older snapshot (within
the bound of :mod:`pricing.desk.lag`) while the book builds the new one on a thread of its own,
off the quote's path. Thread-safe: a host that quotes and fills from several threads shares one book.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from pricing.desk.config import DeskConfig
from pricing.desk.fills import Seen, open_labels, unseen
from pricing.desk.lag import BuiltBasis, usable
from pricing.desk.market import MarketSnapshot
from pricing.desk.request import Leg
from pricing.errors import PricingInputError
from pricing.portfolio import Portfolio, concat, empty_portfolio, from_contracts, portfolio_from_rows
from pricing.xva.quote import QuoteBasis
from pricing.xva.rfq import contract_of


class BookError(PricingInputError):
    """A positions table or a fill that cannot join the book; the message names the row or leg."""


def _header(cell: Any) -> str:
    return str(cell).strip().lower().replace(" ", "_") if cell is not None else ""


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


#: The positions a venue (or a watched file) reports now: ``(key, positions, seen)``; the key
#: changes whenever the positions do (the account's version, the file's stamp); ``seen`` is label
#: -> instrument -> (bought, sold) contracts of the labelled trades inside those positions
#: (:data:`pricing.desk.fills.Seen`; empty for a file).
Venue = Callable[[], tuple[object, Portfolio, Seen]]
#: A build taken from the book's thread's queue: positions, snapshot, configuration, the trades
#: the basis is for, and the book's version (the arguments of ``Book._make``).
_Job = tuple[Portfolio, MarketSnapshot, DeskConfig, Portfolio, int]


@dataclass
class Book:
    """Positions the desk holds (contracts, + long) and the fills applied since the start.

    Attributes
    ----------
    start : Portfolio
        The starting positions (a file, a sheet range, a venue's positions).
    version : int
        Changes with every fill applied and every change of the venue's positions; a cached
        basis remembers the version it was built on.
    venue : callable, optional
        The account's positions as the venue reports them now (:data:`Venue`; the private API
        of a live source, or a watched positions file): they are part of the book beside
        ``start`` and the fills, and read again at each use, so the next quote's ΔIM sees a
        change the moment the venue reports it. The venue's positions replace their previous
        report whole. A fill applied with a ``label`` is retired from the book as the venue
        shows trades under that label inside its positions (:func:`pricing.desk.fills.unseen`):
        book = venue positions + start + the fills not yet seen at the venue.
    background : bool
        Build the basis a lagging quote asks for on the book's own thread (default); False:
        only :meth:`build_pending` builds it (a test draws every interleaving so).
    build_grace_s : float
        Quote first: a build asked for by a quote (the first on a new snapshot) starts on the
        book's thread once no quote is being priced (:meth:`quoting`), or after this many seconds
        if quotes never pause. The build is ~10 ms of CPU on the cores the quote also needs, and
        the quote that asked for it is the one a new snapshot's latency is measured by; the margin
        lag bound is checked as before, so a later start never makes a margin older than it allows.
    builds_on_path, builds_ahead : int
        Bases built on a quote's path (the quote waited) and ahead of it, on the book's thread.
    build_error : str or None
        The last failure of a build ahead; the quote that then builds on its own path raises it.

    Examples
    --------
    >>> b = Book.empty()
    >>> b.apply_fill([Leg("BTC-25SEP26-60000-C", -2.0)])
    >>> b.version, len(b.positions), float(b.positions.quantity[0])
    (1, 1, -2.0)
    """

    start: Portfolio = field(default_factory=empty_portfolio)
    version: int = 0
    _fills: list[Portfolio] = field(default_factory=list)
    _legs: list[tuple[str | None, list[tuple[str, float]]]] = field(default_factory=list)
    _settle: dict[str, str] = field(default_factory=dict)
    _labels: set[str] = field(default_factory=set)
    _seen: Seen = field(default_factory=dict)
    _filled: Portfolio | None = None
    _built: BuiltBasis | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    venue: Venue | None = None
    _venue_key: object = None
    _venue: Portfolio | None = None
    background: bool = True
    builds_on_path: int = 0
    builds_ahead: int = 0
    build_error: str | None = None
    _pending: tuple[MarketSnapshot, DeskConfig, Portfolio] | None = None
    _refresh: tuple[DeskConfig, Portfolio, float, Callable[[], MarketSnapshot]] | None = None
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _builder: threading.Thread | None = None
    _closed: bool = False
    build_grace_s: float = 0.02
    #: Quotes being priced now (:meth:`quoting`; under ``_wake``).
    _quoting: int = 0

    @classmethod
    def empty(cls) -> Book:
        """A book with no positions.

        Returns
        -------
        Book
            Version 0, no fills.
        """
        return cls(empty_portfolio())

    @classmethod
    def from_table(cls, rows: Sequence[Sequence[Any]], source: str = "portfolio") -> Book:
        """A positions table: a header row, then one position per row.

        Parameters
        ----------
        rows : sequence of sequences
            Header (``instrument`` + ``quantity``, or ``underlying, type, expiry, strike,
            quantity``; optional ``contract_size``, ``settle``; case-insensitive) and data rows;
            blank rows are skipped. A single cell ``none`` is the empty book.
        source : str
            How the table is named in errors (a file name).

        Returns
        -------
        Book
            The book of the table's positions, with no fills applied yet.

        Raises
        ------
        BookError
            Naming the row (header = row 1) and the column.

        Examples
        --------
        >>> b = Book.from_table([["Instrument", "Quantity"], ["BTC-25SEP26-60000-C", -5], [None, None]])
        >>> len(b.positions), b.positions.names[0]
        (1, 'BTC-25SEP26-60000-C')
        """
        if len(rows) == 1 and len(rows[0]) == 1 and str(rows[0][0]).strip().lower() in ("none", "empty"):
            return cls.empty()
        if not rows:
            raise BookError(f"{source}: needs a header row")
        header = [_header(c) for c in rows[0]]
        data, numbers = [], []
        for n, r in enumerate(rows[1:], start=2):
            if all(_blank(v) for v in r):
                continue
            data.append({h: v for h, v in zip(header, r) if h and not _blank(v)})
            numbers.append(n)
        try:
            return cls(portfolio_from_rows(data, source, numbers))
        except PricingInputError as exc:
            raise BookError(str(exc)) from None

    @property
    def fills(self) -> tuple[Portfolio, ...]:
        """Each fill applied since the start, in order."""
        with self._lock:
            return tuple(self._fills)

    @property
    def positions(self) -> Portfolio:
        """Everything held now: the venue's positions, the start, then the fills not yet seen at the venue (no netting)."""
        with self._lock:
            self._follow_venue()
            parts = [p for p in (self._venue, self.start, self._filled) if p is not None]
            return parts[0] if len(parts) == 1 else concat(parts)

    def _follow_venue(self) -> None:
        """Take the venue's positions when they changed (a new key): the version moves with them."""
        if self.venue is None:
            return
        key, held, seen = self.venue()
        if self._venue is None or key != self._venue_key:
            self._venue, self._venue_key = held, key
            if seen != self._seen:
                self._seen = seen
                self._refill()
            self.version += 1

    def _refill(self) -> None:
        """The fills' part of the book: each fill less what the venue has shown of it. A fill
        shown in full stays so (retirement only grows), so it is dropped from the fills kept."""
        live = open_labels(self._legs, self._seen)
        self._legs = [(label, legs) for label, legs in self._legs if label is None or label in live]
        self._labels = {label for label, _ in self._legs if label is not None}
        self._filled = self._portfolio(unseen(self._legs, self._seen))

    def _portfolio(self, rows: list[tuple[str, float]]) -> Portfolio | None:
        if not rows:
            return None
        return from_contracts([contract_of(n, self._settle[n]) for n, _ in rows], [q for _, q in rows])

    def apply_fill(self, legs: Sequence[Leg], settle: str = "inverse", label: str | None = None) -> None:
        """Legs the desk now holds join the book (``ratio`` = signed contracts the desk bought).

        Parameters
        ----------
        legs : sequence of Leg
            Instrument and signed quantity in contracts (+ the desk bought, - it sold).
        settle : {"inverse", "linear"}
            Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.
        label : str, optional
            The label the fill is booked at the venue with (:func:`pricing.desk.fills.fill_label`):
            the venue's trades under it retire it from the book. None: never retired.

        Raises
        ------
        BookError
            An instrument that is not a Deribit name, or a quantity that is not a finite number.
        """
        try:
            contracts = [contract_of(str(leg.instrument).strip().upper(), settle) for leg in legs]
        except PricingInputError as exc:
            raise BookError(f"fill: {exc}") from None
        qty = [float(leg.ratio) for leg in legs]
        if not all(math.isfinite(q) for q in qty):
            raise BookError(f"fill: quantities must be finite numbers, got {qty}")
        names = [str(leg.instrument).strip().upper() for leg in legs]
        part = from_contracts(contracts, qty)
        with self._lock:
            self._fills.append(part)
            entry = (label, list(zip(names, qty)))
            self._settle.update(dict.fromkeys(names, settle))
            if label is not None and label in self._labels:  # a label shared with an earlier fill: one fill
                self._legs.append(entry)
                self._refill()
            else:  # its own label (or none): only its own part to add
                self._legs.append(entry)
                if label is not None:
                    self._labels.add(label)
                own = self._portfolio(unseen([entry], self._seen))
                if own is not None:
                    self._filled = own if self._filled is None else concat([self._filled, own])
            self.version += 1

    def basis(self, snapshot: MarketSnapshot, config: DeskConfig, trades: Portfolio) -> QuoteBasis:
        """The book's quote basis on ``snapshot`` under ``config`` (cached; rebuilt on a change).

        Parameters
        ----------
        snapshot : MarketSnapshot
            The market snapshot to value the book on; its ``snapshot_id`` keys the cached basis.
        config : DeskConfig
            Its margin model, parameters and add-ons (quote parameters do not enter the basis).
        trades : Portfolio
            The first trades quoted: the basis takes its layout from them (later ones widen it).

        Returns
        -------
        QuoteBasis
            The held book's margin basis and XVA state; the same object while the snapshot, the
            margin configuration and the book's version are unchanged.
        """
        return self.margin_basis(snapshot, config, trades).basis

    def margin_basis(
        self,
        snapshot: MarketSnapshot,
        config: DeskConfig,
        trades: Portfolio,
        max_lag_s: float = 0.0,
        latest: Callable[[], MarketSnapshot] | None = None,
    ) -> BuiltBasis:
        """The basis a quote on ``snapshot`` takes its margin from: on ``snapshot``, or on an older
        one within ``max_lag_s`` (:func:`pricing.desk.lag.usable`).

        Parameters
        ----------
        snapshot : MarketSnapshot
            The snapshot the quote is priced on.
        config : DeskConfig
            Its margin model, parameters and add-ons.
        trades : Portfolio
            The trades quoted: a basis built for them takes its layout from them.
        max_lag_s : float
            How much older (by the market's time and by when it was built, seconds) the margin
            snapshot may be (:func:`pricing.desk.lag.lag_s`); 0: none.
        latest : callable, optional
            The source's current snapshot (``MarketSource.current``): while no quote asks, the
            book's thread looks at it every ``max_lag_s / 2`` seconds and builds it when the
            newest basis is more than half the bound behind, so a pause in the quotes does not
            leave the next one beyond the bound.

        Returns
        -------
        BuiltBasis
            The newest basis built when it is usable (a build on ``snapshot`` is then asked of the
            book's thread, so the next quotes catch up); otherwise one built now on ``snapshot``,
            under the book's lock (the quote waits for it, as with no lag).
        """
        with self._lock:
            self._follow_venue()
            built = self._built
            if built is not None and usable(built, snapshot, config.margin_key, self.version, max_lag_s):
                if built.snapshot.snapshot_id != snapshot.snapshot_id:
                    self._ask(snapshot, config, trades)
                self._follow_source(config, trades, max_lag_s, latest)
                return built
            built = self._make(self.positions, snapshot, config, trades, self.version)
            self.builds_on_path += 1
            self._install(built)
            self._follow_source(config, trades, max_lag_s, latest)
            return built

    def _follow_source(
        self, config: DeskConfig, trades: Portfolio, max_lag_s: float, latest: Callable[[], MarketSnapshot] | None
    ) -> None:
        """Remember the source and the bound for :meth:`refresh_latest`; the first time, wake the book's thread."""
        if latest is None or max_lag_s <= 0:
            return
        first = self._refresh is None
        self._refresh = (config, trades, max_lag_s, latest)
        if first:
            self._start()
            with self._wake:
                self._wake.notify()

    @staticmethod
    def _make(positions: Portfolio, snapshot: MarketSnapshot, config: DeskConfig, trades: Portfolio, version: int) -> BuiltBasis:
        model = config.margin_model(snapshot.histories, snapshot.dvols, tuple(snapshot.market.surfaces))
        basis = QuoteBasis.build(positions, snapshot.market, model, config.addons, trades)
        return BuiltBasis(basis, snapshot, config.margin_key, version)

    def _install(self, built: BuiltBasis) -> None:
        """Keep ``built`` if it holds the book as it is now, unless the one kept holds it too, under
        the same configuration, on a newer market."""
        if built.version != self.version:
            return
        kept = self._built
        if kept is None or kept.version != built.version or kept.margin_key != built.margin_key or _order(kept) <= _order(built):
            self._built = built

    def _ask(self, snapshot: MarketSnapshot, config: DeskConfig, trades: Portfolio) -> None:
        """Ask for a basis on ``snapshot`` ahead of the quotes (only the newest asked is kept)."""
        self._pending = (snapshot, config, trades)
        self._start()
        with self._wake:
            self._wake.notify()

    def _start(self) -> None:
        if self.background and not self._closed and self._builder is None:
            self._builder = threading.Thread(target=self._build_ahead, name="book-basis", daemon=True)
            self._builder.start()

    def refresh_latest(self) -> bool:
        """Ask for the source's newest snapshot when the newest basis is more than half the bound behind it.

        Returns
        -------
        bool
            True when a build was asked for (:meth:`build_pending` then builds it).

        Notes
        -----
        Only after a quote gave the source and the bound (:meth:`margin_basis` with ``latest``),
        and only when nothing else is asked; with the last quote's configuration and trades.
        """
        with self._lock:
            if self._refresh is None or self._pending is not None:
                return False
            config, trades, max_lag_s, latest = self._refresh
            snapshot = latest()
            self._follow_venue()
            if usable(self._built, snapshot, config.margin_key, self.version, max_lag_s / 2):
                return False
            self._pending = (snapshot, config, trades)
            return True

    def build_pending(self) -> bool:
        """Build the basis last asked for (:meth:`margin_basis`), outside the book's lock.

        Returns
        -------
        bool
            True when a basis was built (it is kept if the book did not change meanwhile and
            nothing newer was kept); False when nothing was asked or it was built already.

        Notes
        -----
        The book's positions and version are read under the lock, the basis is built without it
        (so quotes and fills go on meanwhile), and it is kept only for the version it was built
        on: a fill during the build makes it unusable, never wrong.
        """
        job = self._take_job(unless_quoting=False)
        return isinstance(job, tuple) and self._build_job(job)

    def _take_job(self, *, unless_quoting: bool) -> _Job | Literal["quoting"] | None:
        """The build asked for, with the book it is for, taken under the book's lock (None: nothing
        to build). With ``unless_quoting``, "quoting" and nothing taken while a quote is being
        priced: a quote counts itself (:meth:`quoting`) before its ask takes this lock, so a job is
        never taken beside a quote that has begun."""
        with self._lock:
            if unless_quoting:
                with self._wake:
                    if self._quoting:
                        return "quoting"
            asked, self._pending = self._pending, None
            if asked is None:
                return None
            snapshot, config, trades = asked
            self._follow_venue()
            if usable(self._built, snapshot, config.margin_key, self.version, 0.0):
                return None
            return (self.positions, snapshot, config, trades, self.version)

    def _build_job(self, job: _Job) -> bool:
        built = self._make(*job)
        with self._lock:
            self.builds_ahead += 1
            self._install(built)
        return True

    @contextmanager
    def quoting(self) -> Iterator[None]:
        """Around the pricing of a quote (:meth:`pricing.desk.Desk.quote`): the book's thread starts
        no build meanwhile (for at most :attr:`build_grace_s`), so the quote that asked for it
        does not share the cores with it.

        Yields
        ------
        None
            Nothing: the block is the quote being priced.
        """
        with self._wake:
            self._quoting += 1
        try:
            yield
        finally:
            with self._wake:
                self._quoting -= 1
                if not self._quoting:
                    self._wake.notify_all()

    def let_quotes_finish(self, until: float | None = None) -> bool:
        """Wait until no quote is being priced, or :attr:`build_grace_s` has passed (the book's thread, before a build).

        Parameters
        ----------
        until : float, optional
            The end of the grace on ``time.monotonic()`` (default: :attr:`build_grace_s` from now).

        Returns
        -------
        bool
            True when no quote is being priced (False: the grace ran out, or the book was closed).
        """
        timeout = self.build_grace_s if until is None else max(0.0, until - time.monotonic())
        with self._wake:
            return self._wake.wait_for(lambda: not self._quoting or self._closed, timeout=timeout) and not self._closed

    def step_ahead(self) -> bool:
        """One step of the book's thread: ask for the source's newest snapshot if nothing is asked,
        then, if a build is asked, let the quotes being priced finish and build it.

        Returns
        -------
        bool
            True when a basis was built.

        Notes
        -----
        Quote first: a build is taken only at a moment when no quote is being priced, checked
        under the lock a quote's ask takes (:meth:`_take_job`), or once :attr:`build_grace_s` has
        run out since the thread saw it asked. A quote may begin at any moment: after the thread's
        look saw nothing asked (a race CI found), or after the wait returned and before the job
        was taken (a race an outside audit found); the thread then waits again, within the same
        grace. ``tests/property/test_margin_lag.py`` injects a quote at each of those moments.
        """
        if self._pending is None:
            self.refresh_latest()
            if self._pending is None:
                return False
        give_up = time.monotonic() + self.build_grace_s
        while True:
            quiet = self.let_quotes_finish(until=give_up)
            if self._closed:
                return False
            job = self._take_job(unless_quoting=quiet)
            if job != "quoting":
                return isinstance(job, tuple) and self._build_job(job)

    def _build_ahead(self) -> None:
        while not self._closed:
            with self._wake:
                if self._pending is None and not self._closed:
                    # Asked nothing for half the bound: look at the source's newest (refresh_latest).
                    self._wake.wait(timeout=self._refresh[2] / 2 if self._refresh is not None else None)
            if self._closed:
                return
            try:
                self.step_ahead()
            except Exception as exc:  # kept, not raised: nothing is kept, so the next quote builds on its own path and reports it
                self.build_error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Stop the book's basis thread (quotes then build on their own path)."""
        self._closed = True
        with self._wake:
            self._wake.notify_all()
        if self._builder is not None and self._builder is not threading.current_thread():
            self._builder.join(timeout=5.0)


def _order(built: BuiltBasis) -> tuple[object, object]:
    """Which of two bases is on the newer market: the market's time, then when the snapshot was built."""
    return (built.snapshot.as_of, built.snapshot.created_at)
