"""The live market source: a feed session on its own event-loop thread, immutable snapshots out.

``current()`` never blocks on the network: it returns the newest published
:class:`LiveSnapshot`. Snapshots are versioned (``snapshot_id`` counts up from 1), immutable
(frozen, chains are copies) and carry their provenance (``source``), the venue time of their
newest mark (``as_of``), when they were built (``created_at``) and when the feed last delivered
marks (the age a staleness check reads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from pricing.chain import OptionChain
from pricing.desk.live.account import AccountState, Credentials
from pricing.desk.live.marks import ROW_HEADER, MarkBoard, chain_rows
from pricing.desk.live.refit import RefitPolicy, SurfaceKeeper
from pricing.desk.live.session import CONNECTION_ERRORS, FeedSession, FeedStatus, describe
from pricing.desk.live.slicefit import shared_fit_process
from pricing.desk.live.spec import LiveLimits, LiveSpec, parse_spec
from pricing.desk.live.versions import content_version
from pricing.desk.market import MarketSnapshot
from pricing.errors import DataError, PricingInputError
from pricing.market import Market
from pricing.surface import VolSurface


def publication_time(last_published: float, changed: float, interval_s: float, marks_published: float | None = None) -> float:
    """When a change is published: at once, unless a publication it must follow is younger than the interval.

    Parameters
    ----------
    last_published : float
        ``time.monotonic()`` of the last publication (``-inf``: none yet).
    changed : float
        ``time.monotonic()`` now (the change, new marks or a refit, was noted at or before it).
    interval_s : float
        ``LiveLimits.publish_interval_s``.
    marks_published : float, optional
        When the pending change carries new option marks: the latest of the last publications
        that carried new marks of each currency whose marks are pending (``-inf``: none). None:
        no new marks are pending (an index, a ticker, a refit, a listing).

    Returns
    -------
    float
        Without new marks, ``max(changed, last_published + interval_s)``: the leading edge of a
        burst is published when it arrives (no wait for a timer), and changes arriving faster
        than the interval are batched into one publication at the interval's end. With new
        marks, ``max(changed, marks_published + interval_s)``: a currency's mark message is
        published at once unless the same currency's marks were published less than an interval
        ago, however recent the other publications (the other currency's marks, its index, a
        refit): the venue's two mark messages a second, one per currency, arrive a few ms apart
        and the second no longer waits out the interval behind the first.

    Notes
    -----
    Publications carrying one currency's new marks are at least ``interval_s`` apart, and a
    publication without new marks is at least ``interval_s`` after the one before it; so at most
    1 + (number of currencies) publications fall in any interval
    (``tests/live/test_publish_rule.py``).
    """
    if marks_published is not None:
        return max(changed, marks_published + interval_s)
    return max(changed, last_published + interval_s)


def feed_snapshot(boards: Mapping[str, MarkBoard], source: str, marks_received: float, max_age_s: float) -> LiveSnapshot | None:
    """The chains-level snapshot of the boards as they are now (``snapshot_id`` 0: not yet numbered).

    Parameters
    ----------
    boards : Mapping[str, MarkBoard]
        Currency -> its board (the feed session's).
    source : str
        The spec's label.
    marks_received : float
        ``time.monotonic()`` when the feed last delivered option marks.
    max_age_s : float
        The source's staleness limit, seconds.

    Returns
    -------
    LiveSnapshot or None
        One chain per currency that has live marks (:meth:`MarkBoard.chain`: the same chain
        object as in the last snapshot for a board that has not changed since), the boards'
        flags; None when no board has a chain.
    """
    chains, flags = {}, []
    for ccy, board in boards.items():
        try:
            chains[ccy] = board.chain()
        except DataError as exc:
            flags.append(str(exc))
            continue
        c = board.counters
        if c.stale_rows:
            flags.append(f"{ccy}: {c.stale_rows} options left out, their marks older than the chain's spread")
        if c.crossed_quotes:
            flags.append(f"{ccy}: {c.crossed_quotes} crossed bid/ask blanked")
    if not chains:
        return None
    return LiveSnapshot(
        snapshot_id=0,
        source=source,
        created_at=datetime.now(UTC),
        as_of=max(c.as_of for c in chains.values()),
        chains=MappingProxyType(chains),
        marks_received=marks_received,
        max_age_s=max_age_s,
        flags=tuple(flags),
    )


class FeedError(DataError):
    """The live source cannot be opened or used; the message names the endpoint and the reason."""


class StaleMarket(DataError):
    """A snapshot older than its source's limit: quotes from it are refused (the age is named)."""


@dataclass(frozen=True)
class LiveSnapshot:
    """One immutable version of the live market.

    Attributes
    ----------
    snapshot_id : int
        1 for the first snapshot of a source, +1 for each later one.
    source : str
        The spec's label (``deribit:wss://...`` or ``replay:FILE@SPEED``).
    created_at : datetime
        When this snapshot was built (UTC, this machine's clock).
    as_of : datetime
        Venue time of the newest mark in it (UTC).
    chains : Mapping[str, OptionChain]
        One chain per currency (read-only mapping of frozen chains).
    marks_received : float
        ``time.monotonic()`` when the feed last delivered option marks before this was built.
    max_age_s : float
        The source's staleness limit (seconds).
    flags : tuple[str, ...]
        What the reader should know (rows dropped as stale, crossed quotes blanked, a refit
        rejected and the last good slice kept, ...).
    market : Market or None
        The fitted market (surfaces from :mod:`pricing.desk.live.refit`); None when the source
        was opened with ``fit=False`` (hosts that fit the chain themselves).
    fit_times : Mapping[str, Mapping[str, datetime]]
        Currency -> expiry (YYYY-MM-DD) -> when that slice was last fitted (UTC).
    """

    snapshot_id: int
    source: str
    created_at: datetime
    as_of: datetime
    chains: Mapping[str, OptionChain]
    marks_received: float
    max_age_s: float
    flags: tuple[str, ...] = field(default=())
    market: Market | None = None
    fit_times: Mapping[str, Mapping[str, datetime]] = field(default_factory=lambda: MappingProxyType({}))

    def age_s(self, now: float | None = None) -> float:
        """Seconds since the feed last delivered marks (``now`` = ``time.monotonic()`` by default).

        Parameters
        ----------
        now : float, optional
            ``time.monotonic()`` now; None reads the clock.

        Returns
        -------
        float
            Seconds since the snapshot was taken.
        """
        return max(0.0, (time.monotonic() if now is None else now) - self.marks_received)

    def check_fresh(self, now: float | None = None) -> None:
        """Raise :class:`StaleMarket` naming the age when it is beyond the source's limit.

        Parameters
        ----------
        now : float, optional
            ``time.monotonic()``.
        """
        age = self.age_s(now)
        if age > self.max_age_s:
            raise StaleMarket(
                f"market {self.source} is stale: no marks received for {age:.1f} s (limit {self.max_age_s:g} s); "
                f"snapshot {self.snapshot_id} as of {self.as_of:%Y-%m-%d %H:%M:%S}Z"
            )

    def rows(self) -> list[list[Any]]:
        """Header + one row per option of every chain, in the bundled CSV layout.

        Returns
        -------
        list of list
            The snapshot as table rows, a header row first.
        """
        out: list[list[Any]] = [list(ROW_HEADER)]
        for chain in self.chains.values():
            out += chain_rows(chain)
        return out


@dataclass(frozen=True)
class LiveMarketSnapshot(MarketSnapshot):
    """The desk's :class:`~pricing.desk.market.MarketSnapshot` of a live source, with the feed's clock.

    ``age_s`` is the time since the feed last delivered option marks (this machine's clock), not
    since the market's own time: a replay of an old recording is fresh while it plays, and a live
    feed that stops sending marks goes stale while its marks' timestamps stay where they were.
    ``max_age_s`` is the source's staleness limit, which the desk applies when its configuration
    sets none. ``feed`` is the feed's own snapshot (chains, version, flags).

    Attributes
    ----------
    market, snapshot_id, source, created_at, fit_times, flags, histories, dvols, label
        As :class:`~pricing.desk.market.MarketSnapshot`.
    marks_received_at : datetime
        When the feed last delivered marks (UTC).
    max_age_s : float
        The source's staleness limit, seconds (0: none).
    max_margin_lag_s : float
        The source's bound on how much older a quote's margin snapshot may be than its price
        snapshot, seconds (:mod:`pricing.desk.lag`; 0: none).
    feed : LiveSnapshot or None
        The feed's snapshot it was fitted from.
    versions : Mapping[str, str]
        Currency -> content version of its chain and fitted surface
        (:func:`pricing.desk.live.versions.content_version`): equal between two snapshots exactly
        when nothing a pricing call reads of that currency changed.
    """

    marks_received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    max_age_s: float = 0.0
    max_margin_lag_s: float = 0.0
    feed: LiveSnapshot | None = None
    versions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since the feed last delivered marks (``now`` default: the clock now, UTC).

        Parameters
        ----------
        now : datetime, optional
            The current time (timezone-aware); None reads the UTC clock.

        Returns
        -------
        float
            Seconds since the snapshot was built.
        """
        return max(0.0, ((now or datetime.now(UTC)) - self.marks_received_at).total_seconds())

    def age_text(self, now: datetime | None = None) -> str:
        return f"no marks received for {self.age_s(now):.1f} s"


@dataclass(frozen=True)
class CurrencyPart:
    """What a fitted snapshot derives from one currency's chain and its keeper's slices.

    A mark message is per currency (``markprice.options.btc_usd``) and a refit changes one
    currency's slices: the other currency's chain (:meth:`MarkBoard.chain` returns the same
    object while its board is unchanged) and slices (:attr:`SurfaceKeeper.slices` is replaced
    whole on every change, never changed in place) are the same objects as at the last
    publication, so its surface, flags, fit times and content version are too, and are reused.

    Attributes
    ----------
    chain : OptionChain
        The chain it was built from.
    slices : dict
        The keeper's :attr:`~pricing.desk.live.refit.SurfaceKeeper.slices` it was built from.
    surface : VolSurface
        ``keeper.surface(chain, slices)``.
    flags : tuple of str
        ``keeper.flags(slices)``.
    fit_times : Mapping[str, datetime]
        ``keeper.fit_times(slices)``, read-only.
    version : str
        :func:`pricing.desk.live.versions.content_version` of the chain and surface.
    """

    chain: OptionChain
    slices: Mapping[Any, Any]
    surface: VolSurface
    flags: tuple[str, ...]
    fit_times: Mapping[str, datetime]
    version: str

    @classmethod
    def build(cls, keeper: SurfaceKeeper, chain: OptionChain) -> CurrencyPart:
        """The part of ``chain`` on the keeper's slices as they are now (read once).

        Parameters
        ----------
        keeper : SurfaceKeeper
            The currency's keeper.
        chain : OptionChain
            The currency's chain in the snapshot being published.

        Returns
        -------
        CurrencyPart
            Surface, flags, fit times and content version, all from one read of the slices.

        Raises
        ------
        PricingInputError
            No expiry has a slice yet.
        """
        slices = keeper.slices
        surface = keeper.surface(chain, slices)
        return cls(
            chain,
            slices,
            surface,
            tuple(keeper.flags(slices)),
            MappingProxyType(keeper.fit_times(slices)),
            content_version(chain, surface),
        )

    def same_inputs(self, chain: OptionChain, slices: Mapping[Any, Any]) -> bool:
        """True when ``chain`` and ``slices`` are the very objects this part was built from.

        Parameters
        ----------
        chain : OptionChain
            The currency's chain now.
        slices : Mapping
            Its keeper's :attr:`~pricing.desk.live.refit.SurfaceKeeper.slices` now.

        Returns
        -------
        bool
            Identity, not equality: both are immutable once made, so the same objects are the
            same content; a new object (a board change, a refit) always rebuilds.
        """
        return chain is self.chain and slices is self.slices


class LiveSource:
    """A live market: Deribit (or anything speaking its API v2), or a recording replayed on loopback.

    Open it with :func:`open_live_source`; ``close()`` stops the thread and the connection.

    Parameters
    ----------
    spec : LiveSpec
        What to connect to and which currencies, from :func:`pricing.desk.live.spec.parse_spec`.
    limits : LiveLimits
        Rate limit, timeouts, staleness and back-off (defaults in :class:`LiveLimits`).
    recorder : callable, optional
        (direction, frame) -> None.
    policy : RefitPolicy, optional
        None: chains only, no fitted surfaces.
    credentials : Credentials, optional
        An API key pair for the private account channels; None: public data only.
    """

    def __init__(
        self,
        spec: LiveSpec,
        limits: LiveLimits,
        recorder: Callable[[str, str], None] | None = None,
        policy: RefitPolicy | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.spec = spec
        self.credentials = credentials
        self.limits = limits
        self._recorder = recorder
        self.policy = policy
        self.keepers: dict[str, SurfaceKeeper] = {}
        self._latest: LiveSnapshot | None = None
        self._due_left = False
        self._publish_lock = threading.Lock()
        self._wake = threading.Condition()
        self._fitter: threading.Thread | None = None
        self._closing = False
        self._first_fit = threading.Event()
        #: (marks received, published) monotonic times and the version (the ``#N`` of the snapshot's
        #: ``source``) of the last 10,000 fitted snapshots: a quote naming its snapshot names these.
        self.published: deque[tuple[float, float, int]] = deque(maxlen=10_000)
        self._snapshot: LiveSnapshot | LiveMarketSnapshot | None = None
        self._seq = 0
        self._dirty = False
        self._last_publish = -math.inf
        #: Per currency: its board's ``mark_messages`` at the last publication, and when that was
        #: (``time.monotonic()``) if it carried new marks of it (:func:`publication_time`).
        self._marks_out: dict[str, int] = {}
        self._marks_at: dict[str, float] = {}
        self._loop = asyncio.new_event_loop()
        #: Set (on the loop) when a change waits for publication; the publisher waits on it.
        self._kick = asyncio.Event()
        #: Held while the loop thread ends its loop and while another thread posts work to it: a post
        #: is made only to a loop still running its feed (see :meth:`_post`).
        self._loop_guard = threading.Lock()
        self._loop_done = False
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        #: Publications that raised (each retried with the next change) and the last one's reason.
        self.publish_failures = 0
        self.publish_error = ""
        self._session: FeedSession | None = None
        self._replay: Any = None
        self._thread = threading.Thread(target=self._main, name=f"clearquote-feed {spec.label}", daemon=True)
        self.url = spec.url or ""
        #: Called (no arguments, on the publishing thread) after each new snapshot: see :meth:`listen`.
        self._listeners: dict[int, Callable[[], None]] = {}
        self._listeners_lock = threading.Lock()
        self._listener_seq = 0
        #: Per currency, what the last fitted snapshot derived from its chain and kept slices (under
        #: ``_publish_lock``): reused while both are the same objects (see :class:`CurrencyPart`).
        self._parts: dict[str, CurrencyPart | None] = {}

    # ------------------------------------------------------------------ other threads

    def start(self) -> LiveSource:
        """Connect and wait for the first snapshot; a failure raises :class:`FeedError` naming the endpoint.

        Returns
        -------
        LiveSource
            Itself.
        """
        t0 = time.monotonic()
        self._thread.start()
        # The loop enforces connect_timeout_s on the connection; this is a backstop for a stuck handshake.
        # A replay first indexes its file (seconds for hours of marks): that is not the endpoint's time.
        indexing = 120.0 if self.spec.replay is not None else 0.0
        if not self._ready.wait(self.limits.connect_timeout_s + 2.0 + indexing):
            self.close()
            raise FeedError(f"--market {self.spec.text}: no snapshot from {self.url} within {self.limits.connect_timeout_s:g} s")
        if self._failure is not None:
            self.close()
            raise FeedError(
                f"--market {self.spec.text}: cannot open {self.url or self.spec.label}: {describe(self._failure)} "
                f"(after {time.monotonic() - t0:.1f} s)"
            ) from None
        if self.policy is not None and not self._first_fit.wait(self.limits.first_fit_timeout_s):
            self.close()
            raise FeedError(f"--market {self.spec.text}: the first surface fit took over {self.limits.first_fit_timeout_s:g} s")
        return self

    def current(self) -> Any:
        """The newest snapshot (never blocks on the network).

        A :class:`LiveMarketSnapshot` (the desk's snapshot type, fitted) when the source fits, else
        the feed's :class:`LiveSnapshot` (chains only).

        Returns
        -------
        LiveMarketSnapshot or LiveSnapshot
            The latest snapshot: with fitted surfaces when a refit policy is set, else chains only.
        """
        snap = self._snapshot
        if snap is None:
            raise FeedError(f"--market {self.spec.text}: no snapshot yet")
        return snap

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after every new snapshot until the returned function is called.

        ``callback`` runs on the thread that published (the feed's loop or the refit thread): it
        must be quick and must not block (a stream sets an event on its own loop and returns).
        An exception it raises is dropped; it never stops the publication.

        Parameters
        ----------
        callback : callable
            No arguments.

        Returns
        -------
        callable
            Stops the calls (idempotent).
        """
        with self._listeners_lock:
            self._listener_seq += 1
            key = self._listener_seq
            self._listeners[key] = callback

        def stop() -> None:
            with self._listeners_lock:
                self._listeners.pop(key, None)

        return stop

    def _notify(self) -> None:
        with self._listeners_lock:
            callbacks = list(self._listeners.values())
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a listener's failure is its own (e.g. a closed server loop)
                continue

    @property
    def account(self) -> AccountState | None:
        """Positions and collateral from the private API (None without credentials)."""
        return self._session.account if self._session is not None and self.credentials is not None else None

    @property
    def alive(self) -> bool:
        """True while the source runs (started, not closed, its loop thread up)."""
        return self._thread.is_alive() and not self._closing

    @property
    def status(self) -> FeedStatus:
        return self._session.status if self._session is not None else FeedStatus()

    def close(self) -> None:
        """Stop the feed and the refit thread (idempotent); waits for both to end."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if self._fitter is not None:
            self._fitter.join(timeout=10.0)
        if self._thread.is_alive():
            session = self._session
            self._post(session.stop if session is not None else self._loop.stop)
            self._thread.join(timeout=10.0)

    def _post(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop thread if the feed there is still running; else do nothing.

        The loop thread may be ending on its own (a failed open returns from the feed, then closes
        the loop) while another thread closes the source: its thread is still alive but its loop
        no longer takes work. The guard makes "still running" and "post" one step, so a post never
        reaches a closed loop, nor stops the loop while it is shutting down its generators.
        """
        with self._loop_guard:
            if not self._loop_done:
                self._loop.call_soon_threadsafe(callback)

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the loop thread

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run())
        finally:
            with self._loop_guard:  # from here on no other thread posts to the loop
                self._loop_done = True
            self._ready.set()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
            self._notify()  # the source is gone: its listeners look again (and find it so)

    async def _run(self) -> None:
        if self.spec.replay is not None:
            from pricing.desk.live.replay import ReplayServer

            try:
                self._replay = await ReplayServer.start(self.spec.replay, self.spec.speed)
            except (OSError, DataError) as exc:
                self._failure = exc
                return
            self.url = self._replay.url
        session = FeedSession(self.url, self.spec.currencies, self.limits, self._changed, self._recorder, self.credentials)
        self._session = session
        try:
            await asyncio.wait_for(session.connect_once(), self.limits.connect_timeout_s)
        except (*CONNECTION_ERRORS, ConnectionError) as exc:
            self._failure = exc
            return
        finally:
            self._ready.set()
        publisher = asyncio.ensure_future(self._publisher())
        try:
            await session.run_forever()
        finally:
            publisher.cancel()
            if self._replay is not None:
                await self._replay.close()

    def _changed(self, boards: Mapping[str, MarkBoard]) -> None:
        if self._snapshot is None:
            self._publish()  # the first snapshot is the venue's book summary, before any notification
        else:
            self._mark_dirty()

    def _mark_dirty(self) -> None:
        """A change waits for publication (on the loop thread)."""
        self._dirty = True
        self._kick.set()

    def _publication_due(self) -> float:
        """:func:`publication_time` of what is pending now (new marks of which currencies, or none)."""
        session = self._session
        assert session is not None
        marks = [self._marks_at.get(c, -math.inf) for c, b in session.boards.items() if b.mark_messages != self._marks_out.get(c)]
        return publication_time(
            self._last_publish, time.monotonic(), self.limits.publish_interval_s, max(marks) if marks else None
        )

    async def _publisher(self) -> None:
        """Publish each change at :func:`publication_time`: at once after a quiet interval or with a
        currency's new marks, else batched. A change arriving while one is held is looked at again
        (new marks end the hold of a refit's publication at once)."""
        while True:
            await self._kick.wait()
            while True:
                self._kick.clear()
                delay = self._publication_due() - time.monotonic()
                if delay <= 0:
                    break
                try:
                    await asyncio.wait_for(self._kick.wait(), delay)
                except TimeoutError:
                    break
            if self._dirty:
                try:
                    self._publish()
                except Exception as exc:  # the publisher must outlive one bad publication
                    # A task started by ensure_future that raised would end silently, and no change
                    # would ever be published again. The failure is kept and counted; the last good
                    # snapshot stays and ages, so quotes refuse as stale past max_age_s rather than
                    # price on it forever, and the next change is tried afresh.
                    self._dirty = True  # the change is still unpublished: the next kick tries it again
                    self.publish_failures += 1
                    self.publish_error = f"publication {self._seq + 1} failed: {describe(exc)}"

    def _publish(self) -> None:
        """Build and swap in a new snapshot from the boards (on the loop thread)."""
        session = self._session
        assert session is not None
        self._dirty = False
        self._last_publish = time.monotonic()
        for ccy, board in session.boards.items():
            if board.mark_messages != self._marks_out.get(ccy):
                self._marks_out[ccy], self._marks_at[ccy] = board.mark_messages, self._last_publish
        snap = feed_snapshot(session.boards, self.spec.label, session.status.last_marks_mono, self.limits.max_age_s)
        if snap is None:
            return
        if self.policy is None:
            self._seq += 1
            self._snapshot = dataclasses.replace(snap, snapshot_id=self._seq)
            self._notify()
            return
        with self._wake:  # the refit thread reads the newest chains; older ones are never queued
            self._latest = snap
            self._wake.notify_all()
        if self._fitter is None:
            fitter = threading.Thread(target=self._fit_loop, name=f"clearquote-refit {self.spec.label}", daemon=True)
            fitter.start()  # kept only once started: a start that raises is tried again at the next publication
            self._fitter = fitter
        if self._first_fit.is_set():
            self._publish_fitted(snap)  # the marks at once, on the slices there are; refits follow behind

    # ------------------------------------------------------------------ the refit thread

    def _fit_loop(self) -> None:
        """Refit due expiries one at a time on the newest chains; each refit is published by the loop.

        The loop thread publishes every new chain at once on the slices there are (a snapshot's
        marks never wait for a refit); this thread only fits, and marks the source dirty so the
        next publication carries the new slice and its fit time. The first snapshot waits for a
        cold fit of every expiry.
        """
        assert self.policy is not None
        policy = self.policy
        done: LiveSnapshot | None = None
        while True:
            with self._wake:
                if not self._closing and (self._latest is None or (self._latest is done and not self._due_left)):
                    self._wake.wait(timeout=policy.every_s / 4)  # a new chain, or the timer's look for aged slices
                if self._closing:
                    return
                latest = self._latest
            if latest is None:
                continue
            if not self._first_fit.is_set():
                for ccy, chain in latest.chains.items():
                    process = shared_fit_process() if policy.fit_process else None
                    self.keepers.setdefault(ccy, SurfaceKeeper(ccy, policy, process=process)).update(chain)
                self._publish_fitted(latest)
                done, self._due_left = latest, False
                continue
            work = [(ccy, e) for ccy, chain in latest.chains.items() if ccy in self.keepers for e in self.keepers[ccy].due(chain)]
            # Cold retries of warm refits that failed wait until no warm refit is due: a 0.4 s
            # cold fit never holds up another expiry's refit.
            retries = [(ccy, e) for ccy, k in self.keepers.items() if ccy in latest.chains for e in sorted(k.cold_due)]
            done, self._due_left = latest, bool(work or retries)
            if work:
                ccy, expiry = work[0]
                pending = {e for c, e in work[1:] if c == ccy}
                self.keepers[ccy].refit(latest.chains[ccy], expiry, time.monotonic(), pending=pending, mode="warm")
            elif retries:
                ccy, expiry = retries[0]
                self.keepers[ccy].refit(latest.chains[ccy], expiry, time.monotonic(), mode="cold")
            else:
                continue
            self._post(self._mark_dirty)  # the loop's publisher carries the new slice within publish_interval_s

    def _publish_fitted(self, snap: LiveSnapshot) -> None:
        with self._publish_lock:
            self._publish_fitted_locked(snap)

    def _publish_fitted_locked(self, snap: LiveSnapshot) -> None:
        surfaces, flags, times, versions = {}, list(snap.flags), {}, {}
        for ccy, chain in snap.chains.items():
            keeper = self.keepers.get(ccy)
            part = self._parts.get(ccy) if keeper is not None else None
            if keeper is not None and (part is None or not part.same_inputs(chain, keeper.slices)):
                try:
                    part = CurrencyPart.build(keeper, chain)
                except PricingInputError as exc:
                    flags.append(f"{ccy}: no surface yet ({exc})")
                    part = None
                self._parts[ccy] = part
            if part is None:
                versions[ccy] = content_version(chain, None)
                continue
            surfaces[ccy] = part.surface
            flags += part.flags
            times[ccy] = part.fit_times
            versions[ccy] = part.version
        if not surfaces:
            return
        self._seq += 1
        made = datetime.now(UTC)
        market = Market(snap.as_of, MappingProxyType(surfaces), snap.chains)
        feed = dataclasses.replace(
            snap, snapshot_id=self._seq, created_at=made, flags=tuple(flags), market=market, fit_times=MappingProxyType(times)
        )
        fit_times = {
            (ccy, datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC)): at
            for ccy, t in times.items()
            for day, at in t.items()
        }
        n = sum(len(c) for c in snap.chains.values())
        self._snapshot = LiveMarketSnapshot(
            market=market,
            snapshot_id=hashlib.sha256(f"{self.spec.label}|{self._seq}|{snap.as_of.isoformat()}".encode()).hexdigest()[:16],
            source=f"{self.spec.label} #{self._seq}",
            created_at=made,
            fit_times=MappingProxyType(fit_times),
            flags=tuple(flags),
            label=f"{','.join(snap.chains)} {snap.as_of:%Y-%m-%d %H:%M:%S}Z {n} options svi, live",
            marks_received_at=made - timedelta(seconds=snap.age_s()),
            max_age_s=self.limits.max_age_s,
            max_margin_lag_s=self.limits.max_margin_lag_s,
            feed=feed,
            versions=MappingProxyType(versions),
        )
        self.published.append((snap.marks_received, time.monotonic(), self._seq))
        self._first_fit.set()
        self._notify()


def open_live_source(
    spec: str,
    *,
    as_of: datetime | None = None,
    limits: LiveLimits | None = None,
    recorder: Callable[[str, str], None] | None = None,
    fit: bool = True,
    policy: RefitPolicy | None = None,
    credentials: Credentials | None = None,
) -> LiveSource:
    """Open a live market source and wait for its first snapshot.

    Parameters
    ----------
    spec : str
        ``deribit``, ``deribit-test``, ``deribit:ws[s]://HOST:PORT/PATH`` or ``replay:FILE[@SPEED]``
        (:mod:`pricing.desk.live.spec`).
    as_of : datetime, optional
        Must be None: a live market carries its own time (the venue's mark timestamps).
    limits : LiveLimits, optional
        Timeouts, staleness, heartbeat, backoff and rate limits (defaults in :class:`LiveLimits`).
    recorder : callable, optional
        Called on the loop thread with ``("in" | "out", frame text)`` for every frame.
    fit : bool
        Keep a fitted surface per currency on a refit thread (default); False for hosts that
        only need the chains (``clearquote quote`` fits the rows it is given).
    policy : RefitPolicy, optional
        When expiries are refitted and when a refit is accepted (defaults in :class:`RefitPolicy`).
    credentials : Credentials, optional
        The account's API key (:func:`pricing.desk.live.account.load_credentials`): positions and
        collateral then come with the market (``LiveSource.account``).

    Returns
    -------
    LiveSource
        Started; ``current()`` has a snapshot (fitted, with ``fit``).

    Raises
    ------
    PricingInputError
        A malformed spec, or ``as_of`` given.
    FeedError
        The endpoint cannot be reached or does not answer as Deribit's API v2 within
        ``limits.connect_timeout_s`` (the message names it and the reason).
    """
    if as_of is not None:
        raise PricingInputError("--as-of: a live market carries its own time (the venue's mark timestamps); leave it out")
    chosen = (policy or RefitPolicy()) if fit else None
    return LiveSource(parse_spec(spec), limits or LiveLimits(), recorder, chosen, credentials).start()
