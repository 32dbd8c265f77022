"""Market snapshots and where they come from: bundled data, a chain file, (with ``pricing.desk.live``) a feed.

A :class:`MarketSnapshot` is immutable and versioned: the fitted :class:`~pricing.revaluation.Market`,
the history its VaR scenarios are built from (None: the bundled history), a ``snapshot_id``
that changes whenever the content does, and its provenance. Every host quotes from a snapshot
and names its id, so two quotes from one snapshot are comparable and a quote can be traced to
the data it came from.

A :class:`MarketSource` hands out the current snapshot; :func:`build_snapshot` is the one way
option chains become a snapshot, used by the file source and the live source alike. Turning the
text a user types into a source is :func:`pricing.desk.sources.open_market`, which imports this
module and ``pricing.desk.live`` (which imports this module): so this module never imports the
live package, and the two do not form a cycle.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pricing.chain import CSV_COLUMNS, OptionChain, book_summary_rows, chains_from_rows, load_bundled_chain
from pricing.errors import DataError, PricingInputError
from pricing.market import Market
from pricing.marketdata import BUNDLED_DATES, CHAIN_DATES, DailySeries

#: Smile models a snapshot can be fitted with (:func:`pricing.surface.build_surface`).
SMILES = ("svi", "sabr")


class MarketError(PricingInputError):
    """A market spec or file that gives no market; the message names the spec and what is wrong."""


@dataclass(frozen=True)
class MarketSnapshot:
    """One immutable, versioned market: what every quote from it is priced on.

    Attributes
    ----------
    market : Market
        Fitted surfaces (and chains) per underlying.
    snapshot_id : str
        Content hash (hex): equal ids mean equal content (chains, smile, history).
    source : str
        Provenance: where the data came from, with the content hash of what was read.
    created_at : datetime
        When this snapshot was built (UTC).
    fit_times : mapping (underlying, expiry) -> datetime
        When each expiry's smile was fitted (UTC); a live source refits expiries one by one.
    flags : tuple of str
        Conditions a user should know (e.g. ``kept last-good BTC 2026-09-25``).
    histories, dvols : mapping or None
        The daily closes (and DVOL) the VaR scenarios are built from; None: the bundled history.
    label : str
        A one-line description for people (underlyings, as-of time, size, smile).

    Notes
    -----
    ``as_of`` is the market's own time (the latest quote), not ``created_at``.
    """

    market: Market
    snapshot_id: str
    source: str
    created_at: datetime
    fit_times: Mapping[tuple[str, datetime], datetime] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    histories: Mapping[str, DailySeries] | None = None
    dvols: Mapping[str, DailySeries | None] | None = None
    label: str = ""

    @property
    def as_of(self) -> datetime:
        """The market's time: the latest quote in its chains (UTC)."""
        return self.market.as_of

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds from the market's time to ``now`` (default: the clock now, UTC).

        Parameters
        ----------
        now : datetime, optional
            Timezone-aware.

        Returns
        -------
        float
            Seconds (negative when ``now`` is before the market's time).
        """
        return ((now or datetime.now(UTC)) - self.market.as_of).total_seconds()

    def age_text(self, now: datetime | None = None) -> str:
        """The age as a refusal names it (a live snapshot names the time since its last marks).

        Parameters
        ----------
        now : datetime, optional
            Timezone-aware (default: the clock now, UTC).

        Returns
        -------
        str
            ``its time YYYY-MM-DD HH:MM:SSZ is N s old``.
        """
        return f"its time {self.as_of:%Y-%m-%d %H:%M:%S}Z is {self.age_s(now):.0f} s old"

    def with_history(
        self, histories: Mapping[str, DailySeries], dvols: Mapping[str, DailySeries | None], source: str
    ) -> MarketSnapshot:
        """This snapshot with the history its VaR scenarios are built from (a new id).

        Parameters
        ----------
        histories : mapping str -> DailySeries
            Daily USD closes per underlying.
        dvols : mapping str -> DailySeries or None
            DVOL (percent) per underlying, None where there is none.
        source : str
            Where the history came from (joins the provenance).

        Returns
        -------
        MarketSnapshot
            A new snapshot with the history attached and its id recomputed; this one is unchanged.
        """
        h = hashlib.sha256(self.snapshot_id.encode())
        for code in sorted(histories):
            series = histories[code]
            h.update(code.encode() + series.dates.astype("datetime64[D]").tobytes() + series.values.tobytes())
            dv = dvols.get(code)
            if dv is not None:
                h.update(dv.values.tobytes())
        last = max(s.dates[-1] for s in histories.values())
        return replace(
            self,
            snapshot_id=h.hexdigest()[:16],
            source=f"{self.source} + history {source}",
            histories=dict(histories),
            dvols=dict(dvols),
            label=f"{self.label} + history to {last}",
        )


@runtime_checkable
class MarketSource(Protocol):
    """Where a desk's market comes from: the current snapshot, on demand."""

    def current(self) -> MarketSnapshot:
        """The latest snapshot (the same object while the content has not changed).

        Returns
        -------
        MarketSnapshot
            The latest snapshot; the same object until the market changes.
        """
        ...

    def close(self) -> None:
        """Release what the source holds (a file watch, a connection)."""
        ...


def _chain_digest(chains: Mapping[str, OptionChain]) -> str:
    h = hashlib.sha256()
    for code in sorted(chains):
        c = chains[code]
        h.update(f"{code}|{c.as_of.isoformat()}|{c.spot!r}|{'|'.join(c.names)}".encode())
        for a in (c.expiry, c.strike, c.cp, c.forward, c.mark_iv, c.mark_price, c.bid_price, c.ask_price):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def build_snapshot(
    chains: Mapping[str, OptionChain],
    *,
    source: str,
    as_of: datetime | None = None,
    smile: str = "svi",
    created_at: datetime | None = None,
    flags: Sequence[str] = (),
    fit_times: Mapping[tuple[str, datetime], datetime] | None = None,
) -> MarketSnapshot:
    """Fit option chains into a snapshot (one surface per underlying).

    Parameters
    ----------
    chains : mapping str -> OptionChain
        One chain per underlying (Deribit layout).
    source : str
        Provenance of the chains (a file and its hash, a feed and its sequence number).
    as_of : datetime, optional
        The caller's clock (a replay's time, say): chains stamped after it are refused. The
        market's time is always the chains' latest quote.
    smile : {"svi", "sabr"}
        Smile model per expiry.
    created_at : datetime, optional
        Build time (default: now, UTC).
    flags : sequence of str
        Conditions to carry (a kept last-good slice, say).
    fit_times : mapping, optional
        Fit time per (underlying, expiry); default: ``created_at`` for every expiry.

    Returns
    -------
    MarketSnapshot
        ``snapshot_id`` is a hash of the chains' content and the smile.

    Raises
    ------
    MarketError
        A surface cannot be fitted, or the smile is unknown; the text says which chain.

    Examples
    --------
    >>> from pricing.chain import load_bundled_chain
    >>> snap = build_snapshot({"BTC": load_bundled_chain("BTC", "2026-08-21")}, source="example")
    >>> f"{snap.as_of:%Y-%m-%d %H:%M}", len(snap.snapshot_id), snap.label.split()[0]
    ('2026-08-21 09:47', 16, 'BTC')
    """
    if smile not in SMILES:
        raise MarketError(f"smile: {smile!r} is not one of {', '.join(SMILES)}")
    if not chains:
        raise MarketError(f"{source}: no option chains")
    try:
        market = Market.from_chains(chains, smile=smile)
    except (PricingInputError, DataError) as exc:
        raise MarketError(f"chain: the surface cannot be fitted: {exc}") from None
    if as_of is not None and market.as_of > as_of:
        raise MarketError(f"{source}: the chains are as of {market.as_of:%Y-%m-%d %H:%M:%S}Z, after {as_of:%Y-%m-%d %H:%M:%S}Z")
    made = created_at or datetime.now(UTC)
    digest = hashlib.sha256(f"{_chain_digest(chains)}|{smile}".encode()).hexdigest()[:16]
    times = dict(fit_times) if fit_times is not None else {}
    if fit_times is None:
        for code, c in chains.items():
            for e in np.unique(c.expiry):
                times[(code, e.astype(datetime).replace(tzinfo=UTC))] = made
    n = sum(len(c.names) for c in chains.values())
    label = f"{','.join(chains)} {market.as_of:%Y-%m-%d %H:%M}Z {n} options {smile}"
    return MarketSnapshot(market, digest, source, made, times, tuple(flags), label=label)


# ----------------------------------------------------------------------------- bundled


def bundled_snapshot(day: str | None = None, smile: str = "svi") -> MarketSnapshot:
    """The bundled Deribit BTC and ETH chains of ``day`` (default: the latest bundled date).

    Parameters
    ----------
    day : str, optional
        ``YYYY-MM-DD``.
    smile : {"svi", "sabr"}
        The smile fitted to each expiry.

    Returns
    -------
    MarketSnapshot
        Provenance ``bundled YYYY-MM-DD``.

    Raises
    ------
    MarketError
        No bundled chain for that date (the message lists the dates there are).
    """
    day = day or BUNDLED_DATES[0]
    if day not in BUNDLED_DATES:
        raise MarketError(f"market: no bundled chain for {day!r}; bundled dates are {', '.join(BUNDLED_DATES)}")
    chains = {u: load_bundled_chain(u, day) for u in CHAIN_DATES}
    snap = build_snapshot(chains, source=f"bundled:{day}", smile=smile)
    return replace(snap, label=f"{','.join(CHAIN_DATES)} {snap.as_of:%Y-%m-%d %H:%M}Z bundled {smile}")


@dataclass
class BundledSource:
    """``bundled`` or ``bundled:YYYY-MM-DD``: one snapshot, built on first use.

    Attributes
    ----------
    day : str or None
        ``YYYY-MM-DD``; None: the latest bundled date.
    smile : str
        The smile fitted to each expiry.
    """

    day: str | None = None
    smile: str = "svi"
    _snapshot: MarketSnapshot | None = None

    def current(self) -> MarketSnapshot:
        """The bundled snapshot (built on the first call, the same object after).

        Returns
        -------
        MarketSnapshot
            The bundled market's snapshot, the same object on every call.

        Raises
        ------
        MarketError
            No bundled chain for ``day``.
        """
        if self._snapshot is None:
            self._snapshot = bundled_snapshot(self.day, self.smile)
        return self._snapshot

    def close(self) -> None:
        """Nothing to release.

        Returns
        -------
        None
            Nothing (there is nothing to release).
        """
        return None


# ----------------------------------------------------------------------------- files


def _as_of_text(as_of: datetime | None, name: str) -> str:
    if as_of is None:
        raise MarketError(f"--market {name}: the file has no timestamps; give --as-of YYYY-MM-DDTHH:MM (UTC)")
    return as_of.isoformat()


def chain_file_rows(raw: bytes, name: str, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The option rows of a chain file's bytes: a Deribit chain CSV or a book-summary JSON.

    Parameters
    ----------
    raw : bytes
        The file's content.
    name : str
        The file's name (its suffix picks the reader; it names the file in errors).
    as_of : datetime, optional
        The time of rows that carry none (a CSV without ``timestamp``, JSON entries without
        ``creation_timestamp``).

    Returns
    -------
    list of dict
        Rows as :func:`pricing.chain.chains_from_rows` reads them.

    Raises
    ------
    MarketError
        Naming the file and its first bad row or field.

    Notes
    -----
    CSV: the bundled Deribit layout (``pricing.chain.CSV_COLUMNS``); JSON: read by
    :func:`pricing.chain.book_summary_rows`, the one reader of Deribit's book summaries.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        try:
            return book_summary_rows(raw, f"--market {name}", as_of=as_of)
        except DataError as exc:
            if "creation_timestamp: missing" in str(exc):
                _as_of_text(as_of, name)
            raise MarketError(str(exc)) from None
    if suffix != ".csv":
        raise MarketError(f"--market {name}: give a Deribit chain .csv or a get_book_summary_by_currency .json")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MarketError(f"--market {name}: not UTF-8 text") from None
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise MarketError(f"--market {name}: needs a header row and at least one option row")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in CSV_COLUMNS if c != "timestamp" and c not in header]
    if missing:
        raise MarketError(
            f"--market {name}: not a Deribit chain: missing column(s) {', '.join(missing)}; it has {', '.join(header)}"
        )
    out = [dict(zip(header, r)) for r in rows[1:]]
    if "timestamp" not in header:
        stamp = _as_of_text(as_of, name)
        for r in out:
            r["timestamp"] = stamp
    return out


def file_snapshot(path: Path, *, as_of: datetime | None = None, smile: str = "svi") -> MarketSnapshot:
    """The snapshot of a chain file (CSV or book-summary JSON), provenance ``NAME sha256:HASH``.

    Parameters
    ----------
    path : Path
        A chain CSV or a Deribit ``get_book_summary_by_currency`` JSON file.
    as_of : datetime, optional
        The time of rows that carry none (:func:`chain_file_rows`).
    smile : str
        The smile fitted to each expiry.

    Returns
    -------
    MarketSnapshot
        The snapshot of the file's chains, its source naming the file and the hash of what was read.

    Raises
    ------
    MarketError
        The file is missing or does not read as a chain (the message names the file and the row).
    """
    if not path.is_file():
        raise MarketError(f"--market: {str(path)!r} is neither 'bundled[:YYYY-MM-DD]' nor an existing file")
    raw = path.read_bytes()
    rows = chain_file_rows(raw, path.name, as_of)
    try:
        chains = chains_from_rows(rows, path.name)
    except (DataError, PricingInputError) as exc:
        raise MarketError(f"--market: {exc}") from None
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return build_snapshot(chains, source=f"{path.name} sha256:{digest}", smile=smile)


@dataclass
class FileSource:
    """A chain file, re-read when its modification time or size changes.

    A file that no longer reads (being rewritten, truncated, malformed) leaves the last good
    snapshot in place, flagged ``kept last good: <why>``; the first read must succeed.

    Attributes
    ----------
    path : Path
        The chain file.
    as_of : datetime or None
        The time of rows that carry none.
    smile : str
        The smile fitted to each expiry.
    """

    path: Path
    as_of: datetime | None = None
    smile: str = "svi"
    _stamp: tuple[int, int] | None = None
    _snapshot: MarketSnapshot | None = None

    def current(self) -> MarketSnapshot:
        """The file's snapshot: re-read when its modification time or size changed, else the last one.

        Returns
        -------
        MarketSnapshot
            A new snapshot id only when the content changed.

        Raises
        ------
        MarketError
            The first read fails.
        """
        try:
            st = self.path.stat()
        except OSError:
            if self._snapshot is not None:
                return self._snapshot  # a file being replaced: the last good one stands
            raise MarketError(f"--market: {str(self.path)!r} is neither 'bundled[:YYYY-MM-DD]' nor an existing file") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if self._snapshot is None or stamp != self._stamp:
            try:
                fresh = file_snapshot(self.path, as_of=self.as_of, smile=self.smile)
            except MarketError as exc:
                if self._snapshot is None:
                    raise
                last = self._snapshot
                fresh = replace(
                    last, flags=(*(f for f in last.flags if not f.startswith("kept last good")), f"kept last good: {exc}")
                )
            self._snapshot, self._stamp = fresh, stamp
        return self._snapshot

    def close(self) -> None:
        """Nothing to release (the file is opened per read).

        Returns
        -------
        None
            Nothing (there is nothing to release).
        """
        return None


@dataclass
class FixedSource:
    """A snapshot that never changes (a sheet's chain range, a test).

    Attributes
    ----------
    snapshot : MarketSnapshot
        What :meth:`current` always returns.
    """

    snapshot: MarketSnapshot

    def current(self) -> MarketSnapshot:
        """The fixed snapshot.

        Returns
        -------
        MarketSnapshot
            The snapshot it was built with, on every call.
        """
        return self.snapshot

    def close(self) -> None:
        """Nothing to release.

        Returns
        -------
        None
            Nothing (there is nothing to release).
        """
        return None


def parse_as_of(text: str | datetime | None) -> datetime | None:
    """An ``--as-of`` value (ISO date/time, UTC when it names no zone) as an aware datetime.

    Parameters
    ----------
    text : str, datetime or None
        ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS][+HH:MM]``; a naive datetime is taken as UTC.

    Returns
    -------
    datetime or None
        Timezone-aware; None for None.

    Raises
    ------
    MarketError
        Not an ISO date/time.

    Examples
    --------
    >>> parse_as_of("2026-08-21T08:00").isoformat()
    '2026-08-21T08:00:00+00:00'
    """
    if text is None or isinstance(text, datetime):
        return text if text is None or text.tzinfo else text.replace(tzinfo=UTC)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise MarketError(f"--as-of: {text!r} is not an ISO date/time (YYYY-MM-DDTHH:MM, UTC)") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
