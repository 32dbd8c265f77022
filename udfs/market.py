"""The ``market`` argument, history tables, margin models and the name/value parameter ranges.

``market`` in every catalogue function is one of:

- a handle from ``CQ_MARKET`` (``CQ.MARKET#...``): chains, fitted surfaces and, if given,
  the history the VaR scenarios are built from;
- the text ``bundled`` (the 2026-08-21 Deribit BTC and ETH chains shipped with clearquote)
  or ``bundled:2025-12-31``;
- a live market (``deribit``, ``deribit-test``, ``deribit:ws://...``, ``replay:FILE``): its
  current snapshot, named with its age (:mod:`udfs.live`);
- a chain range itself (Deribit layout with a header row: ``timestamp, instrument_name,
  mark_iv, mark_price, underlying_price, index_price`` [+ ``bid_price, ask_price,
  open_interest``]), BTC and ETH rows together or apart.

Each is fitted once per content (see :mod:`udfs.store`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pricing.chain import CSV_COLUMNS, OptionChain, chains_from_rows
from pricing.desk.config import ADDON_FIELDS, MARGIN_HELP, QUOTE_HELP, ConfigError, DeskConfig, coerce, margin_model
from pricing.desk.config import MODELS as MODELS
from pricing.desk.config import VAR_DEFAULTS as VAR_DEFAULTS
from pricing.desk.config import VAR_HELP as VAR_HELP
from pricing.desk.market import MarketSnapshot, build_snapshot, bundled_snapshot
from pricing.errors import DataError, PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginModel
from pricing.market import Market
from pricing.marketdata import BUNDLED_DATES, DailySeries
from pricing.surface import VolSurface
from udfs.excel import (
    InputError,
    Table,
    _CellProblem,
    content_key,
    grid,
    is_blank,
    scalar,
    table,
    to_datetime,
)
from udfs.live import is_live, live_snapshot
from udfs.store import STORE

SMILES = {"svi": "svi", "sabr": "sabr"}


@dataclass(frozen=True)
class MarketBundle:
    """A market as the catalogue uses it: the desk's :class:`MarketSnapshot` under a content key.

    ``key`` is the catalogue's content key of the cells it came from (results computed on it
    are cached by it); the snapshot carries the market, its history (None: bundled) and its
    provenance.
    """

    snapshot: MarketSnapshot
    key: str
    #: For a live market (and what is built on it): what stays the same from one snapshot to the
    #: next (the spec), the store's family (:class:`udfs.store.ObjectStore`); None otherwise.
    family: str | None = None

    def family_of(self, *parts: Any) -> str | None:
        """The store family of an object built on this market from ``parts`` (None: not live)."""
        return None if self.family is None else content_key(self.family, *parts)

    @property
    def market(self) -> Market:
        return self.snapshot.market

    @property
    def label(self) -> str:
        return self.snapshot.label

    @property
    def histories(self) -> Mapping[str, DailySeries] | None:
        return self.snapshot.histories

    @property
    def dvols(self) -> Mapping[str, DailySeries | None] | None:
        return self.snapshot.dvols

    def surface(self, underlying: Any) -> VolSurface:
        underlying = scalar(underlying, "underlying")
        code = str(underlying).strip().upper() if not is_blank(underlying) else ""
        if code not in self.market.surfaces:
            raise InputError(f"underlying: {underlying!r} is not in this market; it has {', '.join(self.market.surfaces)}")
        return self.market.surfaces[code]

    def chain(self, underlying: Any) -> OptionChain:
        return self.market.chains[self.surface(underlying).underlying]


def _label(b: MarketBundle) -> str:
    return b.label


def _bundled(spec: str, smile: str) -> MarketBundle:
    day = spec.split(":", 1)[1].strip() if ":" in spec else BUNDLED_DATES[0]
    if day not in BUNDLED_DATES:
        raise InputError(f"market: no bundled chain for {day!r}; bundled dates are {', '.join(BUNDLED_DATES)}")
    key = content_key("bundled", day, smile)
    return STORE.get("MARKET", key, lambda: MarketBundle(bundled_snapshot(day, smile), key), _label)


def history_series(value: Any) -> tuple[dict[str, DailySeries], dict[str, DailySeries | None]]:
    """A history table: ``date`` and one close column per underlying (``BTC``, ``ETH``, USD),
    optionally ``DVOL_BTC`` / ``DVOL_ETH`` (percent); dates strictly ascending."""
    t = table(value, "history", required=("date",))
    closes = [c for c in t.columns if c != "date" and not c.startswith("dvol")]
    if not closes:
        raise InputError("history: needs one close column per underlying (e.g. BTC, ETH) beside date")
    try:
        stamps = np.array([np.datetime64(to_datetime(r.get("date"), "date").date(), "D") for r in t.rows])
    except _CellProblem as exc:
        raise InputError(f"history, column date: {exc}") from None
    if (np.diff(stamps).astype(np.int64) <= 0).any():
        bad = int(np.flatnonzero(np.diff(stamps).astype(np.int64) <= 0)[0]) + 1
        raise InputError(f"{t.where(bad, 'date')}: dates must be strictly ascending")

    def column(c: str, positive: bool) -> np.ndarray:
        out = np.empty(len(t))
        for i, r in enumerate(t.rows):
            v = r.get(c)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or (positive and v <= 0):
                raise InputError(f"{t.where(i, c)}: {v!r} is not a {'positive ' if positive else ''}number")
            out[i] = float(v)
        return out

    histories = {c.upper(): DailySeries(c.upper(), stamps, column(c, True)) for c in closes}
    dvols: dict[str, DailySeries | None] = {u: None for u in histories}
    for c in t.columns:
        if c.startswith("dvol"):
            u = c.replace("dvol", "").strip("_").upper()
            if u not in histories:
                raise InputError(f"history: column {c} has no close column {u}")
            dvols[u] = DailySeries(c, stamps, column(c, True))
    return histories, dvols


def make_market(chain: Any, history: Any = None, smile: Any = None) -> MarketBundle:
    """Build (or find) the market for a chain range / bundled text and an optional history."""
    cell = scalar(smile, "smile")
    model = "svi" if is_blank(cell) else str(cell).strip().lower()
    if model not in SMILES:  # the catalogue's own message (the desk's is about a CLI flag)
        raise InputError(f"smile: {smile!r} is not one of {', '.join(SMILES)}")
    cells = grid(chain)
    if len(cells) == 1 and len(cells[0]) == 1:
        text = cells[0][0]
        if not isinstance(text, str) or not text.strip():
            raise InputError("market: give a chain range (Deribit layout with a header row), 'bundled', or a CQ.MARKET handle")
        if text.strip().upper().startswith("CQ.MARKET#"):
            base: MarketBundle = STORE.resolve(text, "MARKET")
        elif text.strip().lower().startswith("bundled"):
            base = _bundled(text.strip().lower(), model)
        elif is_live(text):
            key, snap = live_snapshot(text, model)
            family = content_key("live", text.strip())
            base = STORE.get("MARKET", key, lambda: MarketBundle(snap, key, family), _label, family=family)
        else:
            raise InputError(
                f"market: {text!r} is not a chain range, 'bundled[:{'|'.join(BUNDLED_DATES)}]', "
                "a live market (deribit, deribit-test, deribit:ws://..., replay:FILE) or a CQ.MARKET handle"
            )
    else:
        # The header is checked before any row is read: a range that is not a chain (a column
        # of a million numbers) is refused at once, not after a million rows become dicts.
        t = table(cells, "chain", required=CSV_COLUMNS)
        key = content_key("chain", cells, model)

        def build() -> MarketBundle:
            try:
                chains = chains_from_rows(list(t.rows), "chain")
                snap = build_snapshot(chains, source=f"chain range {key}", smile=model)
            except (DataError, PricingInputError) as exc:
                raise InputError(str(exc)) from None
            label = f"{','.join(chains)} {snap.as_of:%Y-%m-%d %H:%MZ} {len(t)} options {model}"
            return MarketBundle(replace(snap, label=label), key)

        base = STORE.get("MARKET", key, build, _label)
    if len(grid(history)) == 1 and len(grid(history)[0]) == 1 and is_blank(grid(history)[0][0]):
        return base
    hkey = content_key("history", base.key, grid(history))

    hfamily = base.family_of("history", grid(history))

    def with_history() -> MarketBundle:
        histories, dvols = history_series(history)
        return MarketBundle(base.snapshot.with_history(histories, dvols, f"range {hkey}"), hkey, hfamily)

    return STORE.get("MARKET", hkey, with_history, _label, family=hfamily)


def market_arg(value: Any) -> MarketBundle:
    """The ``market`` argument of any catalogue function (handle, 'bundled', or a chain range)."""
    return make_market(value)


# ----------------------------------------------------------------------------- parameters
# Names, defaults and the margin models live in the desk's configuration (pricing.desk.config);
# the catalogue only turns a name/value range into the mapping it reads.

RFQ_HELP = {
    "model": "margin model: hvar, fhs, mc, span, deribit, hybrid (hvar)",
    "accept": "fill each RFQ before the next (FALSE)",
    "columns": "summary: the requested side's XVA (default); sides: the XVA of both sides",
    **QUOTE_HELP,
    **MARGIN_HELP,
}


def _coerced(values: Mapping[str, Any], names: Any) -> dict[str, Any]:
    try:
        return {k: coerce(k, v) for k, v in values.items() if k in names}
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def desk_config(values: Mapping[str, Any]) -> DeskConfig:
    """The desk configuration of a params range's name/value pairs (``columns`` is the catalogue's)."""
    try:
        return DeskConfig.from_mapping(values, ignore=("columns",))
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def model_arg(name: Any, values: Mapping[str, Any], bundle: MarketBundle) -> MarginModel:
    """The margin model named ``name`` with the sheet's parameters (cached per content)."""
    cell = scalar(name, "model")
    key = "hvar" if is_blank(cell) else str(cell).strip().lower()
    if key not in MODELS:
        raise InputError(f"model: {name!r} is not one of {', '.join(MODELS)}")
    model = MODELS[key]
    relevant = {k: v for k, v in values.items() if k in MARGIN_HELP and k not in ADDON_FIELDS}
    ck = content_key("model", model, sorted(relevant.items()), bundle.key if bundle.histories else "")

    def build() -> MarginModel:
        typed = _coerced(relevant, relevant)
        try:
            return margin_model(model, typed, bundle.histories, bundle.dvols, tuple(bundle.market.surfaces))
        except ConfigError as exc:
            raise InputError(str(exc)) from None

    family = bundle.family_of("model", model, sorted(relevant.items())) if bundle.histories else None
    return STORE.get("MODEL", ck, build, family=family)


def addons_arg(values: Mapping[str, Any]) -> AddOnParams:
    try:
        return AddOnParams(**_coerced(values, ADDON_FIELDS))
    except (PricingInputError, TypeError) as exc:
        raise InputError(f"params: {exc}") from None


def table_rows(t: Table) -> list[dict[str, Any]]:
    """Rows as the engine's table readers take them (dates as ISO text)."""
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in t.rows]
