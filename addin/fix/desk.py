"""The FIX gateway's view of the desk service (:mod:`pricing.desk`).

The gateway holds one :class:`Desk`: the service (market source, book, configuration read
from the params file by :meth:`pricing.desk.DeskConfig.from_mapping`, the same reader as
``clearquote quote`` and ``CQ_RFQ``) and the gateway's limits. The service's typed refusal codes
carry their own FIX values (``RefusalCode.quote_reject``, ``order_reject``). Nothing here parses a
market, a parameter or a leg: the service does, once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pricing.desk import (
    Book,
    ConfigError,
    DeskConfig,
    DeskQuotes,
    Leg,
    MarketSnapshot,
    QuoteLimits,
    Refusal,
    RfqRequest,
    open_market,
    params_from_rows,
)
from pricing.desk import Desk as DeskService
from pricing.desk import MarketSource as Source
from pricing.desk.book import Venue
from pricing.desk.limits import RiskLimits
from pricing.desk.live.account import Credentials
from pricing.desk.quoted import QuotedLegs, mids_on
from pricing.desk.request import resolve
from pricing.portfolio import Portfolio
from pricing.positions import position_state
from pricing.xva.params import QuoteParams
from pricing.xva.rfq import contract_of


@dataclass(frozen=True)
class Limits(QuoteLimits):
    """The gateway's business limits (market age, validity, fill tolerance). The size and risk
    limits are :class:`pricing.desk.limits.RiskLimits` in the desk's configuration (``DeskConfig.risk``):
    one ``max_contracts``, read by the desk's own refusal and the gateway's checks alike."""


class MarketSource:
    """``bundled[:DATE]``, a chain file (re-read when it changes) or a live spec: :func:`pricing.desk.open_market`;
    a live spec with the account's API key (``credentials``) brings the account's positions too."""

    def __init__(self, spec: str, as_of: str | None = None, credentials: Credentials | None = None) -> None:
        self.spec = spec
        if credentials is not None:
            from pricing.desk.live import open_live_source

            self.source: Source = open_live_source(spec, credentials=credentials)
        else:
            self.source = open_market(spec, as_of=as_of)

    def current(self) -> MarketSnapshot:
        return self.source.current()

    def close(self) -> None:
        self.source.close()


class Desk:
    """The desk service with the gateway's limits; thread-safe (the service serialises calls)."""

    def __init__(
        self,
        market: MarketSource,
        params_rows: Sequence[Sequence[Any]] | None,
        start_book: Portfolio,
        limits: Limits | None = None,
        venue: Venue | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        """``params_rows`` (the params file) is the base; each of ``overrides`` (a command-line flag
        given, by its :data:`pricing.desk.DESK_HELP` name) replaces that one field; ``limits``, when
        given, replaces the quote limits whole (a test's or an embedding program's own)."""
        self.market = market
        self._values = {**params_from_rows(params_rows), **(overrides or {})}
        config = DeskConfig.from_mapping(self._values, ignore=("columns",))
        self.limits: QuoteLimits = limits if limits is not None else config.limits
        # One book: the venue's positions (the account, or a watched file) and the gateway's fills.
        self.service = DeskService(market.source, Book(start_book, venue=venue), replace(config, limits=self.limits))
        self.model_name = config.model
        self._greeks: Any = None

    @property
    def risk(self) -> RiskLimits:
        """The desk's size and risk limits (``DeskConfig.risk``)."""
        return self.service.config.risk

    def use_risk(self, risk: RiskLimits) -> None:
        """Quote under these risk limits from now on (``clearquote fix-acceptor --limit``/``--max-qty``)."""
        self.service.config = replace(self.service.config, risk=risk)

    @property
    def quote_params(self) -> QuoteParams:
        return self.service.config.quote

    @property
    def book(self) -> Portfolio:
        return self.service.book.positions

    def params_record(self) -> dict[str, Any]:
        return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in self._values.items()}

    def add_fill(self, legs: Sequence[Sequence[Any]], label: str | None = None) -> None:
        """Legs the dealer now holds ([instrument, signed quantity]) join the book; ``label``
        (:func:`pricing.desk.fills.fill_label` of the order) is what the venue's trades of the
        same fill carry, which retires it from the book once the venue's positions hold it."""
        self.service.fill([Leg(str(n), float(q)) for n, q in legs], label=label)

    def check_fill(self, legs: Sequence[Sequence[Any]]) -> None:
        """Raise if these legs could not join the book (called before a fill is journaled)."""
        for n, q in legs:
            Leg(str(n), float(q))
            contract_of(str(n), "inverse")
            if not math.isfinite(float(q)):
                raise ValueError(f"leg {n}: quantity {q!r}")

    def market_key(self) -> str:
        """The snapshot id of the market now (it changes when a market file changes)."""
        return self.market.current().snapshot_id

    def book_greeks(self) -> tuple[dict[str, float], dict[str, float]]:
        """The book's net delta (coins) and vega (USD per 1.00 vol) per underlying, cached per market and book."""
        snap = self.market.current()
        book = self.book
        key = (snap.snapshot_id, self.service.book.version)
        if self._greeks is None or self._greeks[0] != key:
            self._greeks = (key, self.greeks(book, snap.market))
        return self._greeks[1]

    @staticmethod
    def greeks(legs: Portfolio, market: Any) -> tuple[dict[str, float], dict[str, float]]:
        """Net delta (coins) and vega (USD per 1.00 vol) per underlying of positions."""
        if len(legs) == 0:
            return {}, {}
        st = position_state(legs, market)
        delta = {u: float(st.delta_coin[legs.underlying == u].sum()) for u in legs.underlyings}
        vega = {u: float(st.vega_usd[legs.underlying == u].sum()) for u in legs.underlyings}
        return delta, vega

    def quote_requests(
        self,
        requests: Sequence[RfqRequest | Refusal],
        *,
        snapshot: MarketSnapshot | None = None,
        firm_until: datetime | None = None,
    ) -> DeskQuotes:
        """Typed requests straight to the service, the gateway's only path to a quote (FIX legs stay
        typed: LegRatioQty reaches the desk exactly, with no text round trip)."""
        return self.service.quote(requests, snapshot=snapshot, firm_until=firm_until)

    def resolve_quoted(
        self, ids: Sequence[str], then: Sequence[float], requests: Sequence[RfqRequest]
    ) -> tuple[QuotedLegs, list[str]]:
        """Quotes known only from the journal (sent before a restart), resolved once on the market now:
        the resolved ones, and the QuoteIDs of those that cannot be (withdrawn as unpriceable)."""
        resolved = resolve(list(requests), self.market.current().market)
        rows = [int(r) for r in resolved.batch.rows]
        legs = QuotedLegs.of([ids[r] for r in rows], [then[r] for r in rows], resolved.batch.trades)
        return legs, [ids[i] for i, why in enumerate(resolved.refusals) if why is not None]

    def mids_of(self, quoted: QuotedLegs) -> Any:
        """The quotes' mids now (USD, each for its whole quantity; NaN where a leg cannot be valued):
        the resolved legs on the current snapshot, nothing resolved again (:func:`pricing.desk.quoted.mids_on`)."""
        return mids_on(quoted.trades, self.market.current().market, self.quote_params)

    def mid_now(self, request: RfqRequest) -> float:
        """A request's mid value now (USD, all of its quantity): the check a fill makes."""
        return self.service.mid(request)

    def warm(self, max_requests: int = 4) -> int:
        """Price a few of the market's listed options once through the gateway's own path; the requests priced.

        Why: the first quote otherwise compiles the engine's numba kernels (tens of seconds when numba's
        cache is cold) inside QuickFIX's callback, and that session's thread is blocked meanwhile: a
        half-closed client's Quote was lost at the front's drain deadline and reconnects got no Logon
        answer. ``fix-acceptor`` calls this before its public port listens, so the port accepts only once
        the desk can price. The quote is on the market's own time (``now`` and the expiry check at its
        ``as_of``), so expired real-time options still reach the kernels; nothing is booked or journaled
        (the service's fills are hypothetical) and the book's greeks are computed once as well.
        """
        snap = self.market.current()
        names = [name for chain in snap.market.chains.values() for name in chain.names]
        if not names:
            return 0
        step = max(1, len(names) // max_requests)
        picked = names[::step][:max_requests]
        requests = [RfqRequest((Leg(name),), "two-way", 1.0, ref="warm-up") for name in picked]
        self.service.quote(requests, snapshot=snap, now=snap.market.as_of, firm_until=snap.market.as_of)
        for request in requests:
            self.service.mid(request)
        self.book_greeks()
        return len(requests)


def now_utc() -> datetime:
    return datetime.now(UTC)


def monotonic_ms() -> float:
    return time.perf_counter() * 1e3


__all__ = ["ConfigError", "Desk", "Limits", "MarketSource"]
