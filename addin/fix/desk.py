"""The quoting desk behind the FIX gateway: the same parse, margin and XVA path as ``CQ_RFQ``.

The desk holds the market, the margin model and the quote parameters (read as ``CQ_RFQ`` reads
its params range, so a number refused in Excel is refused here), the book (the starting
portfolio plus every fill in the journal), and the book's cached :class:`QuoteBasis`. Requests
go through :func:`pricing.xva.rfq.parse_rfqs` and :func:`pricing.xva.quote.quote_rfqs`; a fill
joins the book and the next quote sees it. A ``FILE`` market is re-read when the file changes,
so a fill can be checked against the market as it is now.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pricing.portfolio import Portfolio, concat, from_contracts
from pricing.xva.quote import QuoteBasis, QuoteParams, QuoteTable, quote_rfqs
from pricing.xva.rfq import RfqBatch, parse_rfqs


@dataclass(frozen=True)
class Limits:
    """Business limits of the gateway (refused with a QuoteRequestReject that names them)."""

    max_quantity: float = 1_000.0
    max_market_age_s: float = 0.0  # 0: not checked (a bundled, historical market)
    quote_validity_s: float = 10.0
    fill_tolerance: float = 0.005  # a fill is refused if the structure's mid moved more than this, relative


@dataclass
class MarketSource:
    """``bundled[:DATE]`` or a chain file; a file is re-read when its modification time changes."""

    spec: str
    as_of: str | None = None
    _stamp: float | None = None
    _bundle: Any = None
    _label: str = ""

    def current(self) -> tuple[Any, str]:
        """(the market bundle, its provenance: source and content hash)."""
        from addin.cli.quote import market_value
        from udfs.market import market_arg

        if self.spec.strip().lower().startswith("bundled"):
            if self._bundle is None:
                self._bundle = market_arg(self.spec.strip())
                self._label = f"{self.spec.strip()} {self._bundle.key}"
            return self._bundle, self._label
        stamp = Path(self.spec).stat().st_mtime_ns
        if stamp != self._stamp:
            value, label = market_value(self.spec, self.as_of)
            self._bundle, self._label, self._stamp = market_arg(value), label, stamp
        return self._bundle, self._label


@dataclass
class Desk:
    """Quotes against the book; thread-safe (one request at a time)."""

    market: MarketSource
    params_rows: list[list[Any]]
    start_book: Portfolio
    limits: Limits = field(default_factory=Limits)
    _filled: Portfolio | None = None
    _basis: QuoteBasis | None = None
    _basis_key: tuple[Any, ...] = ()
    _greeks: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        from udfs.excel import params as name_values
        from udfs.market import RFQ_HELP, addons_arg, quote_params_arg

        self._values = name_values(self.params_rows or None, "params", RFQ_HELP)
        self.quote_params: QuoteParams = quote_params_arg(self._values)
        self._addons = addons_arg(self._values)
        self.model_name = str(self._values.get("model") or "hvar").strip().lower()

    # -- the book -----------------------------------------------------------------------------

    def add_fill(self, legs: list[list[Any]]) -> None:
        """Legs the dealer now holds ([instrument, signed quantity]) join the book."""
        from pricing.xva.rfq import _contract

        part = from_contracts([_contract(str(n), "inverse") for n, _ in legs], [float(q) for _, q in legs])
        with self._lock:
            self._filled = part if self._filled is None else concat([self._filled, part])

    def check_fill(self, legs: list[list[Any]]) -> None:
        """Raise if these legs could not join the book (called before a fill is journaled)."""
        from pricing.xva.rfq import _contract

        for n, q in legs:
            _contract(str(n), "inverse")
            if not math.isfinite(float(q)):
                raise ValueError(f"leg {n}: quantity {q!r}")

    def market_key(self) -> str:
        """The content key of the market now (it changes when a market file changes)."""
        with self._lock:
            return str(self.market.current()[0].key)

    def book_greeks(self) -> tuple[dict[str, float], dict[str, float]]:
        """The book's net delta (coins) and vega (USD per 1.00 vol) per underlying, cached per market and fills."""
        with self._lock:
            bundle, _ = self.market.current()
            key = (bundle.key, 0 if self._filled is None else len(self._filled))
            if self._greeks is None or self._greeks[0] != key:
                self._greeks = (key, self.greeks(self.book, bundle.market))
            return self._greeks[1]

    @staticmethod
    def greeks(legs: Portfolio, market: Any) -> tuple[dict[str, float], dict[str, float]]:
        """Net delta (coins) and vega (USD per 1.00 vol) per underlying of positions."""
        from pricing.revaluation import position_state

        if len(legs) == 0:
            return {}, {}
        st = position_state(legs, market)
        delta = {u: float(st.delta_coin[legs.underlying == u].sum()) for u in legs.underlyings}
        vega = {u: float(st.vega_usd[legs.underlying == u].sum()) for u in legs.underlyings}
        return delta, vega

    @property
    def book(self) -> Portfolio:
        return self.start_book if self._filled is None else concat([self.start_book, self._filled])

    def params_record(self) -> dict[str, Any]:
        return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in self._values.items()}

    # -- quotes -------------------------------------------------------------------------------

    def quote(self, rows: list[dict[str, Any]], where: list[str]) -> tuple[RfqBatch, QuoteTable, str, datetime]:
        """Parse and quote request rows (one per structure) against the book as it is now.

        Returns the batch (a reason per refused row), the quotes of the accepted rows, the market's
        provenance and its time.
        """
        with self._lock:
            bundle, label = self.market.current()
            market = bundle.market
            batch = parse_rfqs(rows, market, where)
            if batch.trades.count == 0:
                return batch, QuoteTable.empty(batch.rows), label, market.as_of
            table = quote_rfqs(batch, self._basis_for(bundle, market, batch.trades.legs), self.quote_params)
        return batch, table, label, market.as_of

    def _basis_for(self, bundle: Any, market: Any, trades: Portfolio) -> QuoteBasis:
        """The book's basis, rebuilt when the market or the book changed (an empty book's basis
        takes its layout from the first trades; later ones widen it as needed)."""
        n_filled = 0 if self._filled is None else len(self._filled)
        key = (bundle.key, n_filled)
        if self._basis is None or key != self._basis_key:
            from udfs.market import model_arg

            model = model_arg(self._values.get("model"), self._values, bundle)
            book = self.book
            self._basis = QuoteBasis.build(book, market, model, self._addons, None if len(book) else trades)
            self._basis_key = key
        return self._basis

    def market_age_s(self, as_of: datetime) -> float:
        return (datetime.now(UTC) - as_of).total_seconds()

    def mid_now(self, row: dict[str, Any]) -> float:
        """A request row's mid value now (USD, all of its quantity): the check a fill makes.

        Only the legs are valued (the base of a quote); no margin or XVA is computed for it.
        """
        from pricing.revaluation import position_state
        from pricing.xva.quote import leg_premiums

        with self._lock:
            bundle, _ = self.market.current()
            batch = parse_rfqs([row], bundle.market)
            if batch.trades.count == 0:
                return math.nan
            legs = batch.trades.legs
            return float(leg_premiums(legs, position_state(legs, bundle.market), self.quote_params).sum())


def breakdown(table: QuoteTable, t: int) -> dict[str, float | None]:
    """Every figure of quote ``t`` (USD, totals for the whole quantity; None for a side not quoted)."""
    out: dict[str, float | None] = {"base": float(table.base[t]), "spread": float(table.spread[t])}
    for label, side in (("bid", table.bid), ("ask", table.ask)):
        for k in ("delta_im", "fva_im", "kva", "mva_vm", "ccva", "price"):
            v = float(side[k][t])
            out[f"{label}_{k}"] = None if np.isnan(v) else v
    return out


def now_utc() -> datetime:
    return datetime.now(UTC)


def monotonic_ms() -> float:
    return time.perf_counter() * 1e3
