"""Option chains: Deribit CSV snapshots and ``public/get_book_summary_by_currency`` JSON.

Deribit options are inverse: ``mark_price``, ``bid_price`` and ``ask_price`` are in coin per
option (1 option = 1 coin); ``mark_iv`` is in percent; ``underlying_price`` is the USD forward
(future or synthetic) each expiry is marked against.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pricing._typing import FloatArray
from pricing.daycount import option_time
from pricing.errors import DataError, PricingInputError
from pricing.instruments import OptionContract, parse_option_name
from pricing.marketdata import chain_file, iter_rows, parse_float, parse_timestamp, read_table

CSV_COLUMNS = ("timestamp", "instrument_name", "mark_iv", "mark_price", "underlying_price", "index_price")


@dataclass(frozen=True)
class OptionChain:
    """A snapshot of one underlying's listed options, one row per instrument (arrays).

    Attributes
    ----------
    underlying : str
        ``"BTC"`` or ``"ETH"``.
    as_of : datetime
        Snapshot time (UTC).
    spot : float
        Spot index (USD), median over rows.
    names : tuple[str, ...]
        Instrument names.
    expiry : ndarray of datetime64[s]
        Expiry instants (08:00 UTC).
    t_years : ndarray
        ACT/365 time to expiry from ``as_of``.
    strike, cp : ndarray
        Strike (USD) and +1 call / -1 put.
    forward : ndarray
        The USD forward of the row's expiry (Deribit ``underlying_price``).
    mark_iv : ndarray
        Mark implied vol, decimal.
    mark_price, bid_price, ask_price : ndarray
        Coin prices (NaN where there is no quote).

    Notes
    -----
    An ``open_interest`` column is accepted and ignored: no model reads it yet.
    """

    underlying: str
    as_of: datetime
    spot: float
    names: tuple[str, ...]
    expiry: np.ndarray
    t_years: FloatArray
    strike: FloatArray
    cp: FloatArray
    forward: FloatArray
    mark_iv: FloatArray
    mark_price: FloatArray
    bid_price: FloatArray
    ask_price: FloatArray

    @functools.cached_property
    def quoted_half_spreads(self) -> tuple[np.ndarray, FloatArray]:
        """(sorted names, half bid-ask spread in coin) of the options quoted on both sides.

        Computed once per chain: the margin add-ons look a trade's legs up here on every call.
        """
        quoted = np.isfinite(self.bid_price) & np.isfinite(self.ask_price) & (self.ask_price >= self.bid_price)
        names = np.asarray(self.names, dtype=str)[quoted]
        half = 0.5 * (self.ask_price - self.bid_price)[quoted]
        order = np.argsort(names)
        return names[order], half[order]

    def __len__(self) -> int:
        return len(self.names)

    def expiries(self) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """Distinct expiries: (expiry instants, t_years, forward = median underlying price).

        Returns
        -------
        (expiries, t_years, forwards) : (ndarray of datetime64, ndarray, ndarray)
            Ascending; years ACT/365 from the chain's time; USD.
        """
        uniq, first, inverse = np.unique(self.expiry, return_index=True, return_inverse=True)
        # One pass over the rows (a stable sort by expiry), then one median per expiry over its
        # own run: the same first t and the same medians as a mask per expiry, without the
        # rows x expiries masks (a live source calls this on every publication).
        order = np.argsort(inverse, kind="stable")
        # (np.split of no rows is one empty run: an empty chain has no expiry and no forward.)
        runs = np.split(self.forward[order], np.flatnonzero(np.diff(inverse[order])) + 1) if uniq.size else []
        fwd = np.array([np.median(r) for r in runs], dtype=float)
        return uniq, self.t_years[first], fwd

    def select(self, mask: np.ndarray) -> OptionChain:
        """A chain restricted to the rows where ``mask`` is true.

        Parameters
        ----------
        mask : ndarray of bool
            One per row.

        Returns
        -------
        OptionChain
            A new chain holding only the selected rows, columns unchanged.
        """
        names = tuple(n for n, keep in zip(self.names, mask) if keep)
        arrays = {
            f: getattr(self, f)[mask]
            for f in (
                "expiry",
                "t_years",
                "strike",
                "cp",
                "forward",
                "mark_iv",
                "mark_price",
                "bid_price",
                "ask_price",
            )
        }
        return OptionChain(self.underlying, self.as_of, self.spot, names, **arrays)

    def contracts(self) -> list[OptionContract]:
        """Each row's option, parsed from its Deribit instrument name.

        Returns
        -------
        list of OptionContract
            One per row, in order.
        """
        return [parse_option_name(n) for n in self.names]


def _build(underlying: str, as_of: datetime, rows: Sequence[tuple[int, Mapping[str, Any]]], source: str) -> OptionChain:
    """Assemble a chain from normalised rows: name, mark_iv (%), prices, forward, index, oi."""
    if not rows:
        raise DataError(f"{source}: no option rows")
    names, expiry, strike, cp = [], [], [], []
    for row_no, r in rows:
        try:
            c = parse_option_name(r["instrument_name"])
        except PricingInputError as exc:
            raise DataError(f"{source}, row {row_no}, column instrument_name: {exc}") from None
        names.append(c.name)
        expiry.append(np.datetime64(c.expiry.replace(tzinfo=None), "s"))
        strike.append(c.strike)
        cp.append(float(c.cp))
    t_years = np.array([option_time(as_of, e.astype(datetime).replace(tzinfo=UTC)) for e in expiry])

    def col(key: str, *, positive: bool = False, blank: bool = False) -> FloatArray:
        return np.array([parse_float(_text(r.get(key)), source, n, key, positive=positive, allow_blank=blank) for n, r in rows])

    spot = float(np.median(col("index_price", positive=True)))
    iv, bid, ask = col("mark_iv", positive=True), col("bid_price", blank=True), col("ask_price", blank=True)
    mark = col("mark_price")
    _check_quotes(source, [n for n, _ in rows], names, iv, bid, ask, mark)
    return OptionChain(
        underlying=underlying,
        as_of=as_of,
        spot=spot,
        names=tuple(names),
        expiry=np.array(expiry, dtype="datetime64[s]"),
        t_years=t_years,
        strike=np.array(strike),
        cp=np.array(cp),
        forward=col("underlying_price", positive=True),
        mark_iv=iv / 100.0,
        mark_price=mark,
        bid_price=bid,
        ask_price=ask,
    )


#: Deribit's mark_iv is in percent; a quote above this is a unit or data error, not a vol.
MAX_MARK_IV_PCT = 1000.0


def _check_quotes(
    source: str,
    row_numbers: list[int],
    names: list[str],
    iv: FloatArray,
    bid: FloatArray,
    ask: FloatArray,
    mark: FloatArray,
) -> None:
    """Market data checks every chain passes: one row per instrument, no negative mark price,
    mark_iv in percent and plausible, no crossed quotes.

    A mark price of exactly 0 is kept: Deribit publishes 0.0 for worthless short-dated far
    out-of-the-money options (20 such rows in the bundled snapshots, each with a finite mark_iv).

    A chain whose mark_iv are all below 5 was given as decimals (0.55 for 55%): refused with
    the conversion to make, never read as 0.55% vols.
    """
    seen: dict[str, int] = {}
    for row_no, name in zip(row_numbers, names):
        if name in seen:
            raise DataError(
                f"{source}, rows {seen[name]} and {row_no}: {name} is listed twice; one row per instrument "
                "(two marks for one option leave the fit to pick one)"
            )
        seen[name] = row_no
    negative = np.flatnonzero(mark < 0)
    if negative.size:
        rows = ", ".join(str(row_numbers[int(i)]) for i in negative[:5])
        raise DataError(
            f"{source}, row(s) {rows}{' ...' if negative.size > 5 else ''}, column mark_price: {mark[int(negative[0])]:g} "
            f"for {names[int(negative[0])]}; a mark price is >= 0 ({negative.size} such rows)"
        )
    if np.all(iv < 5.0):
        raise DataError(
            f"{source}, column mark_iv: every value is below 5 (median {np.median(iv):g}); Deribit gives percent "
            "(55 = 55% vol): multiply decimal vols by 100"
        )
    bad = np.flatnonzero(iv > MAX_MARK_IV_PCT)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{source}, row {row_numbers[i]}, column mark_iv: {iv[i]:g} is not a vol in percent (0 to {MAX_MARK_IV_PCT:g}) "
            f"for {names[i]} ({bad.size} such rows)"
        )
    crossed = np.flatnonzero(np.isfinite(bid) & np.isfinite(ask) & (bid > ask))
    if crossed.size:
        i = int(crossed[0])
        raise DataError(
            f"{source}, row {row_numbers[i]}: {names[i]} has bid {bid[i]:g} above ask {ask[i]:g} (crossed; "
            f"{crossed.size} such rows); fix or remove the quotes"
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def load_chain_csv(source: str | Path) -> OptionChain:
    """Load a chain in the Deribit CSV layout of the bundled files.

    Parameters
    ----------
    source : str or Path
        A file, or the name of a bundled file. Columns ``timestamp, instrument_name, mark_iv``
        (percent), ``mark_price`` (coin), ``underlying_price, index_price`` (USD); optional
        ``bid_price, ask_price`` (coin).

    Returns
    -------
    OptionChain
        The chain read from the file, one row per listed option.

    Raises
    ------
    DataError
        Naming the file, the row (header = row 1) and the column of the first bad value.

    Examples
    --------
    >>> load_chain_csv("deribit_eth_chain_20260821.csv").underlying
    'ETH'
    """
    name, rows = read_table(source, CSV_COLUMNS)
    chains = chains_from_rows(rows, name)
    if len(chains) != 1:
        raise DataError(f"{name}: rows mix underlyings {sorted(chains)}; one chain per underlying")
    return next(iter(chains.values()))


def chains_from_rows(rows: Sequence[Mapping[str, Any]], source: str = "chain") -> dict[str, OptionChain]:
    """Chains from table rows in the Deribit CSV layout, one per underlying (BTC, ETH, ...).

    Parameters
    ----------
    rows : sequence of mappings
        One mapping per option with the columns of ``CSV_COLUMNS`` (text or numbers; the
        ``timestamp`` as ISO 8601 text or a datetime); ``bid_price``, ``ask_price`` and
        ``open_interest`` are optional. Row numbers in errors count the header as row 1.
    source : str
        What the rows are called in error messages (a file or a sheet range).

    Returns
    -------
    dict of str to OptionChain
        Underlying -> its chain.

    Notes
    -----
    The snapshot time of each chain is its latest timestamp; quotes more than 15 minutes apart
    are refused (stale quotes would be priced as of the latest). Expired rows (the 2020 file
    has a same-day expiry marked minutes before 08:00) are kept only while their expiry is
    after the snapshot.
    """
    numbered = [(n, {k: _text(v) for k, v in r.items()}) for n, r in iter_rows(rows)]  # type: ignore[arg-type]
    if not numbered:
        raise DataError(f"{source}: no option rows")
    missing = [c for c in CSV_COLUMNS if c not in numbered[0][1]]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; the columns are {', '.join(CSV_COLUMNS)} (+ bid_price, ask_price, open_interest)"
        )
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for n, r in numbered:
        groups.setdefault(r["instrument_name"].split("-")[0].strip().upper(), []).append((n, r))
    chains = {}
    for underlying, part in groups.items():
        stamps = [(parse_timestamp(r["timestamp"], source, n, "timestamp"), n) for n, r in part]
        (first, first_row), (as_of, last_row) = min(stamps), max(stamps)
        if as_of - first > MAX_SNAPSHOT_SPREAD:
            raise DataError(
                f"{source}: the {underlying} timestamps disagree, from {first:%Y-%m-%d %H:%M}Z (row {first_row}) to "
                f"{as_of:%Y-%m-%d %H:%M}Z (row {last_row}); a chain is one snapshot (at most "
                f"{MAX_SNAPSHOT_SPREAD.total_seconds() / 60:g} minutes apart), or its older quotes are priced as of the latest"
            )
        chains[underlying] = _build(underlying, as_of, part, source)
    return chains


#: How far apart the quotes of one snapshot may be (Deribit's own ticker snapshots are one instant).
MAX_SNAPSHOT_SPREAD = timedelta(minutes=15)


def load_bundled_chain(underlying: str = "BTC", as_of: str = "2026-08-21") -> OptionChain:
    """One of the bundled Deribit chains (``pricing/data``; dates in ``pricing.marketdata.CHAIN_DATES``).

    Parameters
    ----------
    underlying : str
        ``BTC`` or ``ETH``.
    as_of : str
        Snapshot date, ``YYYY-MM-DD``.

    Returns
    -------
    OptionChain
        The bundled sample chain of the underlying, one row per listed option.

    Notes
    -----
    Deribit ``public/get_book_summary_by_currency`` snapshots (sources in the README).

    Examples
    --------
    >>> chain = load_bundled_chain("BTC", "2026-08-21")
    >>> chain.underlying, len(chain), f"{chain.as_of:%Y-%m-%d %H:%M}"
    ('BTC', 1034, '2026-08-21 09:47')
    """
    return load_chain_csv(chain_file(underlying, as_of))


def book_summary_rows(
    payload: str | bytes | Mapping[str, Any] | Sequence[Any], source: str = "JSON", *, as_of: datetime | None = None
) -> list[dict[str, Any]]:
    """Deribit ``public/get_book_summary_by_currency`` (kind=option) entries as chain rows.

    The one reader of that JSON: :func:`load_book_summary_json` and the desk's file and live
    sources (:mod:`pricing.desk.market`) all go through it.

    Parameters
    ----------
    payload : str, bytes, mapping or sequence
        The JSON text or its parsed form: the JSON-RPC envelope ``{"result": [...]}`` or the bare list.
    source : str
        How the payload is named in error messages.
    as_of : datetime, optional
        The snapshot time of entries without ``creation_timestamp`` (timezone-aware); without it
        such an entry is refused.

    Returns
    -------
    list of dict
        One row per entry with the columns of ``CSV_COLUMNS`` (+ ``bid_price``, ``ask_price``,
        ``open_interest``), as :func:`chains_from_rows` reads them.

    Notes
    -----
    Field meanings: Deribit API v2, ``public/get_book_summary_by_currency``. Prices are in coin,
    ``mark_iv`` in percent, ``creation_timestamp`` in ms since the epoch. The spot index is
    ``estimated_delivery_price`` when present, else the row's ``underlying_price``; a zero or
    missing bid/ask is no quote.
    """
    try:
        data = json.loads(payload) if isinstance(payload, (str, bytes)) else payload
    except RecursionError:  # Python's parser stops at its recursion limit (about 1,000 levels)
        raise DataError(f"{source}: the JSON nests too deeply to be an input") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: not JSON ({exc})") from None
    entries = data.get("result") if isinstance(data, Mapping) else data
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)) or not entries:
        raise DataError(f"{source}: expected a non-empty list of book summaries (or {{'result': [...]}})")
    rows: list[dict[str, Any]] = []
    for i, e in enumerate(entries):
        if not isinstance(e, Mapping):
            raise DataError(f"{source}, entry {i}: not an object")
        for key in ("instrument_name", "mark_iv", "mark_price", "underlying_price"):
            if e.get(key) is None:
                raise DataError(f"{source}, entry {i}, field {key}: missing")
        ms = e.get("creation_timestamp")
        if ms is not None:
            try:
                stamp = datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                raise DataError(f"{source}, entry {i}, field creation_timestamp: {ms!r} is not ms since the epoch") from None
        elif as_of is not None:
            stamp = as_of
        else:
            raise DataError(f"{source}, entry {i}, field creation_timestamp: missing (and no as-of time was given)")
        rows.append(
            {
                "timestamp": stamp.isoformat(),
                "instrument_name": e["instrument_name"],
                "mark_iv": e["mark_iv"],
                "mark_price": e["mark_price"],
                "underlying_price": e["underlying_price"],
                "index_price": e.get("estimated_delivery_price", e["underlying_price"]),
                "bid_price": e.get("bid_price") or "",
                "ask_price": e.get("ask_price") or "",
                "open_interest": e.get("open_interest") or "",
            }
        )
    return rows


def load_book_summary_json(
    payload: str | bytes | Mapping[str, Any] | Sequence[Mapping[str, Any]], source: str = "JSON"
) -> OptionChain:
    """Parse Deribit ``public/get_book_summary_by_currency`` (kind=option) output.

    Accepts the JSON-RPC envelope ``{"result": [...]}`` or the bare list, as text or parsed.
    Each entry needs ``instrument_name``, ``mark_iv`` (percent), ``mark_price`` (coin),
    ``underlying_price`` and ``creation_timestamp`` (ms since epoch); ``bid_price``,
    ``ask_price``, ``open_interest`` are optional. The spot index is taken from
    ``estimated_delivery_price`` when present, else from the row's forward.

    Parameters
    ----------
    payload : str, bytes, mapping or sequence
        The JSON text or its parsed form.
    source : str
        How the payload is named in error messages.

    Returns
    -------
    OptionChain
        The chain built from the book summary, one row per option with a mark.

    Notes
    -----
    Field meanings: Deribit API v2, ``public/get_book_summary_by_currency``. Prices are in coin.
    Rows from :func:`book_summary_rows`; one underlying per payload (the API is per currency).
    """
    chains = chains_from_rows(book_summary_rows(payload, source), source)
    if len(chains) != 1:
        raise DataError(f"{source}: one currency per payload, got {', '.join(chains)}")
    return next(iter(chains.values()))
