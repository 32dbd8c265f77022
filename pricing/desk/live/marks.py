"""The live chain of one currency: option marks, forwards and the index as they arrive.

A :class:`MarkBoard` is owned by the feed's event-loop thread and mutated only there; what
leaves it is an immutable :class:`~pricing.chain.OptionChain` (``chain()``) or rows in the
bundled CSV layout (``rows()``), both copies.

Forwards. Each option's forward is its ``underlying_price`` from the last book summary. A
``ticker`` of the future the option is marked against (``underlying_index``, e.g.
``BTC-27MAR26``) replaces it with that future's mark. An option marked against a synthetic
(``SYN.BTC-1JAN26``: no listed future for that expiry) keeps its summary basis in relative
terms: F = F_summary × S / S_summary on every index update S. A fresh book summary (after every
reconnect, and when an instrument is listed) resets both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from pricing.chain import MAX_SNAPSHOT_SPREAD, OptionChain
from pricing.daycount import option_time
from pricing.desk.live.protocol import GONE_STATES, MarkUpdate, PriceUpdate, StateUpdate, SummaryRows
from pricing.errors import DataError, PricingInputError
from pricing.instruments import parse_option_name

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_datetime(ms: float) -> datetime:
    """Epoch milliseconds to an aware UTC datetime, exact to the millisecond (no float seconds).

    Parameters
    ----------
    ms : float
        Milliseconds since 1970-01-01 UTC.

    Returns
    -------
    datetime
        Timezone-aware UTC.

    Examples
    --------
    >>> ms_to_datetime(1_787_299_200_123).isoformat()
    '2026-08-21T08:00:00.123000+00:00'
    """
    return _EPOCH + timedelta(milliseconds=round(ms))


@dataclass
class Counters:
    """What the board ignored, for the source's status line and the tests.

    Attributes
    ----------
    unknown_names : int
        Marks for instruments not on the board.
    dropped_entries : int
        Entries the parser dropped.
    crossed_quotes : int
        Bid above ask, dropped to no quote.
    stale_rows : int
        Rows left out for an old mark.
    """

    unknown_names: int = 0
    dropped_entries: int = 0
    crossed_quotes: int = 0
    stale_rows: int = 0


class MarkBoard:
    """Marks, forwards and index of one currency's options (mutable; one thread only).

    Parameters
    ----------
    currency : str
        ``"BTC"``, ``"ETH"``, ...
    summary : SummaryRows
        The book summary the board starts from.
    """

    def __init__(self, currency: str, summary: SummaryRows) -> None:
        self.currency = currency
        self.counters = Counters(dropped_entries=summary.dropped)
        self.listing_changed = False
        #: Counts every change of the board's rows (a load, marks, index, ticker, state): the
        #: chain is a function of the rows, so :meth:`chain` rebuilds only when it moved.
        self.revision = 0
        #: Counts the mark messages applied (:meth:`apply_marks`): the source publishes new marks
        #: at once, and needs to tell them from an index, ticker or state change.
        self.mark_messages = 0
        self._chain: tuple[int, OptionChain] | None = None
        self._load(summary)

    def _load(self, s: SummaryRows) -> None:
        prefix = self.currency + "-"
        rows = [i for i, n in enumerate(s.names) if n.upper().startswith(prefix)]
        parsed = []
        for i in rows:
            try:
                parsed.append((i, parse_option_name(s.names[i])))
            except PricingInputError:
                self.counters.dropped_entries += 1
        if not parsed:
            raise DataError(f"{self.currency}: the book summary has no option with a valid name")
        keep = np.array([i for i, _ in parsed], dtype=np.int64)
        contracts = [c for _, c in parsed]
        self.names: tuple[str, ...] = tuple(c.name for c in contracts)
        self.index_of = {n: j for j, n in enumerate(self.names)}
        self.expiry = np.array([np.datetime64(c.expiry.replace(tzinfo=None), "s") for c in contracts], dtype="datetime64[s]")
        self._expiry_dt = {e: e.astype(datetime).replace(tzinfo=UTC) for e in np.unique(self.expiry)}
        self.strike = np.array([c.strike for c in contracts])
        self.cp = np.array([float(c.cp) for c in contracts])
        self.underlying_index = tuple(s.underlying_index[i] for i in keep)
        self.mark_price = s.mark_price[keep].copy()
        self.mark_iv = s.mark_iv[keep].copy()
        self.bid = s.bid_price[keep].copy()
        self.ask = s.ask_price[keep].copy()
        self.forward = s.underlying_price[keep].copy()
        self.index = s.index_price[keep].copy()
        self.ts_ms = s.ts_ms[keep].copy()
        self.alive = np.ones(len(self.names), dtype=bool)
        self._summary_forward = self.forward.copy()
        self._summary_index = float(np.median(self.index))
        self._synthetic = np.array([u.upper().startswith("SYN.") or not u for u in self.underlying_index], dtype=bool)
        groups: dict[str, list[int]] = {}
        for j, u in enumerate(self.underlying_index):
            if u and not u.upper().startswith("SYN."):
                groups.setdefault(u, []).append(j)
        self._by_future = {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
        self.listing_changed = False
        self.revision += 1

    def reload(self, summary: SummaryRows) -> None:
        """A fresh book summary (after a reconnect or a listing): everything from it.

        Parameters
        ----------
        summary : SummaryRows
            A full book summary of the currency; it replaces every mark on the board.
        """
        self.counters.dropped_entries += summary.dropped
        self._load(summary)

    @property
    def futures(self) -> tuple[str, ...]:
        """The futures this board's options are marked against (their tickers move the forwards)."""
        return tuple(sorted(self._by_future))

    def apply_marks(self, update: MarkUpdate) -> np.ndarray:
        """Option marks in; returns the row numbers that changed. Unknown names are counted.

        Parameters
        ----------
        update : MarkUpdate
            New marks for some instruments; the others keep theirs.

        Returns
        -------
        ndarray of int
            Rows changed.
        """
        self.counters.dropped_entries += update.dropped
        pos = np.array([self.index_of.get(n, -1) for n in update.names], dtype=np.int64)
        hit = pos >= 0
        self.counters.unknown_names += int((~hit).sum())
        rows = pos[hit]
        self.mark_price[rows] = update.mark_price[hit]
        self.mark_iv[rows] = update.iv_pct[hit]
        self.ts_ms[rows] = np.maximum(self.ts_ms[rows], update.ts_ms[hit])
        self.revision += 1
        self.mark_messages += 1
        return rows

    def apply_index(self, update: PriceUpdate) -> None:
        """The spot index moved: every row's index, and the synthetic forwards in proportion.

        Parameters
        ----------
        update : PriceUpdate
            The index (USD).
        """
        self.index[:] = update.price
        syn = self._synthetic
        self.forward[syn] = self._summary_forward[syn] * (update.price / self._summary_index)
        self.revision += 1

    def apply_ticker(self, update: PriceUpdate) -> np.ndarray:
        """A future's mark: the forward of the options marked against it. Returns those rows.

        Parameters
        ----------
        update : PriceUpdate
            A future's mark, USD.

        Returns
        -------
        ndarray of int
            Rows changed.
        """
        rows = self._by_future.get(update.name)
        if rows is None:
            return np.empty(0, dtype=np.int64)
        self.forward[rows] = update.price
        self.revision += 1
        return rows

    def apply_state(self, update: StateUpdate) -> None:
        """A listing ends (settled, closed, ...): its row leaves the chain; a new one asks for a snapshot.

        Parameters
        ----------
        update : StateUpdate
            An instrument's new state; a settled or delisted instrument leaves the board.
        """
        j = self.index_of.get(update.name)
        if update.state in GONE_STATES:
            if j is not None:
                self.alive[j] = False
                self.revision += 1
        elif j is None:
            self.listing_changed = True

    def _live_rows(self, now: datetime | None) -> np.ndarray:
        """Rows in the chain: alive, unexpired, and marked within the snapshot spread of the newest mark."""
        newest = float(self.ts_ms[self.alive].max()) if self.alive.any() else 0.0
        fresh = self.ts_ms >= newest - MAX_SNAPSHOT_SPREAD.total_seconds() * 1000.0
        at = ms_to_datetime(newest) if now is None else now
        unexpired = self.expiry > np.datetime64(at.replace(tzinfo=None), "s")
        self.counters.stale_rows = int((self.alive & unexpired & ~fresh).sum())
        return np.flatnonzero(self.alive & unexpired & fresh)

    def as_of(self) -> datetime:
        """The chain's time: its newest mark (venue time).

        Returns
        -------
        datetime
            Timezone-aware UTC.
        """
        return ms_to_datetime(float(self.ts_ms[self.alive].max()))

    def chain(self) -> OptionChain:
        """An immutable chain of the live rows (copies), as ``chains_from_rows`` would build it.

        Crossed bid/ask pairs (bid above ask) are dropped to "no quote" and counted: a file
        with them is refused, a feed cannot be, and the marks are still good.

        The chain is a function of the board's rows alone (its time is the newest mark, not the
        clock), so while :attr:`revision` is unchanged the chain built last is returned again,
        the same object: a mark message of one currency leaves the other currency's chain (and
        what the source derives from it) as it was.

        Returns
        -------
        OptionChain
            The board's options as a chain, one row per live option with a mark.
        """
        kept = self._chain
        if kept is not None and kept[0] == self.revision:
            return kept[1]
        chain = self.build_chain()
        self._chain = (self.revision, chain)
        return chain

    def build_chain(self) -> OptionChain:
        """:meth:`chain` built afresh from the rows (never the kept one).

        Returns
        -------
        OptionChain
            A new chain of the board's rows.
        """
        rows = self._live_rows(None)
        if rows.size == 0:
            raise DataError(f"{self.currency}: no live option marks")
        as_of = ms_to_datetime(float(self.ts_ms[rows].max()))
        expiry = self.expiry[rows]
        # One year fraction per expiry, spread to its rows (no Python loop over the rows).
        uniq, inverse = np.unique(expiry, return_inverse=True)
        t_years = np.array([option_time(as_of, self._expiry_dt[e]) for e in uniq])[inverse.reshape(-1)]
        bid, ask = self.bid[rows].copy(), self.ask[rows].copy()
        crossed = np.isfinite(bid) & np.isfinite(ask) & (bid > ask)
        self.counters.crossed_quotes = int(crossed.sum())
        bid[crossed] = np.nan
        ask[crossed] = np.nan
        return OptionChain(
            underlying=self.currency,
            as_of=as_of,
            spot=float(np.median(self.index[rows])),
            names=tuple(self.names[j] for j in rows),
            expiry=expiry.copy(),
            t_years=t_years,
            strike=self.strike[rows].copy(),
            cp=self.cp[rows].copy(),
            forward=self.forward[rows].copy(),
            mark_iv=self.mark_iv[rows] / 100.0,
            mark_price=self.mark_price[rows].copy(),
            bid_price=bid,
            ask_price=ask,
        )


#: The header of :func:`chain_rows`: the bundled CSV layout.
ROW_HEADER = (
    "timestamp",
    "instrument_name",
    "mark_iv",
    "mark_price",
    "underlying_price",
    "index_price",
    "bid_price",
    "ask_price",
)


def chain_rows(chain: OptionChain) -> list[list[Any]]:
    """A chain as table rows (header :data:`ROW_HEADER`) that ``chains_from_rows`` turns back into it.

    Every row carries the chain's time and spot: ``chains_from_rows`` takes the newest timestamp
    as the chain's time and the median index as its spot, so the round trip is exact.

    Parameters
    ----------
    chain : OptionChain
        The chain to write out.

    Returns
    -------
    list of list
        Header then one row per option.
    """
    stamp = chain.as_of.isoformat()

    def cell(x: float) -> Any:
        return float(x) if np.isfinite(x) else ""

    return [
        [stamp, n, 100.0 * float(iv), float(p), float(f), chain.spot, cell(b), cell(a)]
        for n, iv, p, f, b, a in zip(
            chain.names, chain.mark_iv, chain.mark_price, chain.forward, chain.bid_price, chain.ask_price
        )
    ]
