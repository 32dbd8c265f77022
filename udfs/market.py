"""The ``market`` argument, history tables, margin models and the name/value parameter ranges.

``market`` in every catalogue function is one of:

- a handle from ``CQ_MARKET`` (``CQ.MARKET#...``): chains, fitted surfaces and, if given,
  the history the VaR scenarios are built from;
- the text ``bundled`` (the 2026-08-21 Deribit BTC and ETH chains shipped with clearquote)
  or ``bundled:2025-12-31``;
- a chain range itself (Deribit layout with a header row: ``timestamp, instrument_name,
  mark_iv, mark_price, underlying_price, index_price`` [+ ``bid_price, ask_price,
  open_interest``]), BTC and ETH rows together or apart.

Each is fitted once per content (see :mod:`udfs.store`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricing.chain import CSV_COLUMNS, OptionChain, chains_from_rows, load_bundled_chain
from pricing.errors import DataError, PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.deribit import DeribitModel, DeribitParams
from pricing.margin.engine import MarginModel
from pricing.margin.hybrid import HybridModel
from pricing.margin.span import SpanModel, SpanParams
from pricing.margin.var import ScenarioVarModel, fhs_model, hvar_model, mc_model, model_from_scenarios
from pricing.marketdata import BUNDLED_DATES, CHAIN_DATES, DailySeries
from pricing.revaluation import Market
from pricing.scenarios import McParams, ScenarioParams, ScenarioSet, historical_scenarios, monte_carlo_scenarios
from pricing.surface import VolSurface
from pricing.xva.quote import QuoteParams
from udfs.excel import (
    InputError,
    Table,
    _CellProblem,
    content_key,
    grid,
    is_blank,
    scalar,
    scalar_bool,
    scalar_int,
    scalar_number,
    table,
    to_datetime,
)
from udfs.store import STORE

SMILES = {"svi": "svi", "sabr": "sabr"}


@dataclass(frozen=True)
class MarketBundle:
    """A market as the catalogue uses it: the engine's :class:`Market` plus its history.

    ``histories``/``dvols`` are None for the bundled BTC/ETH history (the default scenario
    source); ``key`` is the content key, so results computed on it can be cached.
    """

    market: Market
    key: str
    label: str
    histories: dict[str, DailySeries] | None = None
    dvols: dict[str, DailySeries | None] | None = None

    def surface(self, underlying: Any) -> VolSurface:
        underlying = scalar(underlying, "underlying")
        code = str(underlying).strip().upper() if not is_blank(underlying) else ""
        if code not in self.market.surfaces:
            raise InputError(f"underlying: {underlying!r} is not in this market; it has {', '.join(self.market.surfaces)}")
        return self.market.surfaces[code]

    def chain(self, underlying: Any) -> OptionChain:
        return self.market.chains[self.surface(underlying).underlying]


def _fit(chains: Mapping[str, OptionChain], smile: str) -> Market:
    try:
        return Market.from_chains(chains, smile=smile)
    except (PricingInputError, DataError) as exc:
        raise InputError(f"chain: the surface cannot be fitted: {exc}") from None


def _label(b: MarketBundle) -> str:
    return b.label


def _bundled(spec: str, smile: str) -> MarketBundle:
    day = spec.split(":", 1)[1].strip() if ":" in spec else BUNDLED_DATES[0]
    if day not in BUNDLED_DATES:
        raise InputError(f"market: no bundled chain for {day!r}; bundled dates are {', '.join(BUNDLED_DATES)}")

    key = content_key("bundled", day, smile)

    def build() -> MarketBundle:
        market = _fit({u: load_bundled_chain(u, day) for u in CHAIN_DATES}, smile)
        return MarketBundle(market, key, f"{','.join(CHAIN_DATES)} {market.as_of:%Y-%m-%d %H:%MZ} bundled {smile}")

    return STORE.get("MARKET", key, build, _label)


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
    if model not in SMILES:
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
        else:
            raise InputError(
                f"market: {text!r} is not a chain range, 'bundled[:{'|'.join(BUNDLED_DATES)}]' or a CQ.MARKET handle"
            )
    else:
        # The header is checked before any row is read: a range that is not a chain (a column
        # of a million numbers) is refused at once, not after a million rows become dicts.
        t = table(cells, "chain", required=CSV_COLUMNS)
        key = content_key("chain", cells, model)

        def build() -> MarketBundle:
            try:
                chains = chains_from_rows(list(t.rows), "chain")
            except (DataError, PricingInputError) as exc:
                raise InputError(str(exc)) from None
            market = _fit(chains, model)
            return MarketBundle(market, key, f"{','.join(chains)} {market.as_of:%Y-%m-%d %H:%MZ} {len(t)} options {model}")

        base = STORE.get("MARKET", key, build, _label)
    if len(grid(history)) == 1 and len(grid(history)[0]) == 1 and is_blank(grid(history)[0][0]):
        return base
    hkey = content_key("history", base.key, grid(history))

    def with_history() -> MarketBundle:
        histories, dvols = history_series(history)
        return MarketBundle(
            base.market, hkey, f"{base.label} + history to {max(h.dates[-1] for h in histories.values())}", histories, dvols
        )

    return STORE.get("MARKET", hkey, with_history, _label)


def market_arg(value: Any) -> MarketBundle:
    """The ``market`` argument of any catalogue function (handle, 'bundled', or a chain range)."""
    return make_market(value)


# ----------------------------------------------------------------------------- parameters


def _fields(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.name not in skip and f.default is not dataclasses.MISSING}


VAR_HELP = {
    "alpha": "confidence level, decimal (0.995)",
    "measure": "var or es",
    "horizon_days": "margin period of risk, calendar days (2)",
    "lookback_years": "look-back window in years (5)",
    "ewma_lambda": "FHS/MC EWMA decay (0.97)",
    "vol_floor_ratio": "FHS vol floor as a share of the average vol (0.75)",
    "vol_floor_years": "years the FHS floor's average vol spans (0 = the look-back; 10 with ratio 1 = EMIR 28(c))",
    "include_stress": "append the stressed windows (TRUE for hvar/fhs)",
    "n_paths": "Monte Carlo paths (10000)",
    "seed": "Monte Carlo seed (20240617)",
    "rule": "sticky_moneyness or sticky_strike",
}
# The defaults give each sheet value its type; they are those of pricing.margin.var / pricing.scenarios.
VAR_DEFAULTS: dict[str, Any] = {
    "alpha": 0.995,
    "measure": "var",
    "horizon_days": 2,
    "lookback_years": 5.0,
    "ewma_lambda": 0.97,
    "vol_floor_ratio": 0.75,
    "vol_floor_years": 0.0,
    "include_stress": True,
    "n_paths": McParams.n_paths,
    "seed": McParams.seed,
    "rule": "sticky_moneyness",
}
SPAN_FIELDS = _fields(SpanParams, ("delta_weights", "rule", "inter_pairs"))
DERIBIT_FIELDS = _fields(DeribitParams)
ADDON_FIELDS = _fields(AddOnParams)
QUOTE_FIELDS = _fields(QuoteParams)
SPAN_EXTRA = {f"price_scan_range_{u.lower()}": v for u, v in SpanParams().price_scan_range.items()}
MARGIN_HELP = {
    **VAR_HELP,
    **{k: f"SPAN, default {v}" for k, v in {**SPAN_EXTRA, **SPAN_FIELDS}.items()},
    **{k: f"Deribit PM, default {v}" for k, v in DERIBIT_FIELDS.items()},
    **{k: f"add-on, default {v}" for k, v in ADDON_FIELDS.items() if k != "daily_capacity_usd"},
}
MARGIN_HELP.pop("price_scan_range", None)
QUOTE_HELP = {k: f"quote/XVA, default {'latest bundled SOFR' if k == 'sofr' else v}" for k, v in QUOTE_FIELDS.items()}
RFQ_HELP = {
    "model": "margin model: hvar, fhs, mc, span, deribit, hybrid (hvar)",
    "accept": "fill each RFQ before the next (FALSE)",
    "columns": "summary: the requested side's XVA (default); sides: the XVA of both sides",
    **QUOTE_HELP,
    **MARGIN_HELP,
}
MODELS = {
    "hvar": "hvar",
    "hs": "hvar",
    "fhs": "fhs",
    "mc": "mc",
    "span": "span",
    "deribit": "deribit",
    "pm": "deribit",
    "hybrid": "hybrid",
}


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return scalar_bool(value, name, default=default)
    if isinstance(default, int):
        return scalar_int(value, name, default=default, lo=0, hi=10_000_000)
    if isinstance(default, float) or default is None:
        return scalar_number(value, name)
    if isinstance(default, str):
        return str(value).strip().lower()
    raise InputError(f"{name}: cannot be set from a sheet")


def _pick(values: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _coerce(k, v, fields[k]) for k, v in values.items() if k in fields}


def model_arg(name: Any, values: Mapping[str, Any], bundle: MarketBundle) -> MarginModel:
    """The margin model named ``name`` with the sheet's parameters (cached per content)."""
    cell = scalar(name, "model")
    key = "hvar" if is_blank(cell) else str(cell).strip().lower()
    if key not in MODELS:
        raise InputError(f"model: {name!r} is not one of {', '.join(MODELS)}")
    model = MODELS[key]
    relevant = {k: v for k, v in values.items() if k in MARGIN_HELP and k not in ADDON_FIELDS}
    ck = content_key("model", model, sorted(relevant.items()), bundle.key if bundle.histories else "")
    return STORE.get("MODEL", ck, lambda: _build_model(model, relevant, bundle))


#: Which VaR parameters each scenario builder takes.
_MC_KEYS = ("n_paths", "seed", "horizon_days", "lookback_years", "ewma_lambda")
_HS_KEYS = ("horizon_days", "lookback_years", "ewma_lambda", "vol_floor_ratio", "vol_floor_years", "include_stress")


def _only(values: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keys}


def _build_model(model: str, values: Mapping[str, Any], bundle: MarketBundle) -> MarginModel:
    """The margin model ``model`` with the parameters the sheet gave (an ``InputError`` names a bad one)."""
    try:
        if model == "span":
            return _span_model(values)
        if model == "deribit":
            return DeribitModel({u: DeribitParams(**_pick(values, DERIBIT_FIELDS)) for u in bundle.market.surfaces})
        if model == "hybrid":
            var_part = _build_model("fhs", values, bundle)
            assert isinstance(var_part, ScenarioVarModel)
            return HybridModel(var_part, _span_model(values).params)
        var = {k: _coerce(k, v, VAR_DEFAULTS[k]) for k, v in values.items() if k in VAR_DEFAULTS}
        if not var.get("vol_floor_years"):
            var.pop("vol_floor_years", None)  # 0 or blank: the floor averages over the look-back
        alpha, measure, rule = var.pop("alpha", 0.995), var.pop("measure", "var"), var.pop("rule", "sticky_moneyness")
        if bundle.histories is not None:
            return dataclasses.replace(
                model_from_scenarios(_sheet_scenarios(model, var, bundle), alpha, measure=measure, rule=rule), name=model
            )
        return dataclasses.replace(_bundled_var_model(model, var, alpha, measure), rule=rule)
    except (PricingInputError, DataError, TypeError) as exc:
        raise InputError(f"params: {exc}") from None


def _span_model(values: Mapping[str, Any]) -> SpanModel:
    """SPAN with the sheet's fields; a scan range per underlying from ``price_scan_range_<code>``."""
    scan = {
        u: scalar_number(values.get(f"price_scan_range_{u.lower()}", d), f"price_scan_range_{u.lower()}", lo=0, lo_open=True)
        for u, d in SpanParams().price_scan_range.items()
    }
    return SpanModel(SpanParams(price_scan_range=scan, **_pick(values, SPAN_FIELDS)))


def _sheet_scenarios(model: str, var: Mapping[str, Any], bundle: MarketBundle) -> ScenarioSet:
    """Scenarios built from the history table the sheet passed with the market."""
    assert bundle.histories is not None
    unds = tuple(bundle.histories)
    if model == "mc":
        return monte_carlo_scenarios(unds, McParams(**_only(var, _MC_KEYS)), histories=bundle.histories, dvols=bundle.dvols)
    params = ScenarioParams(filtered=model == "fhs", **_only(var, _HS_KEYS))
    return historical_scenarios(unds, params, histories=bundle.histories, dvols=bundle.dvols)


def _bundled_var_model(model: str, var: dict[str, Any], alpha: float, measure: str) -> ScenarioVarModel:
    """A VaR model on the bundled history (scenarios built when it first meets a portfolio)."""
    stress = var.pop("include_stress", True)
    if model == "mc":
        built = mc_model(alpha, measure=measure, **_only(var, _MC_KEYS))
    elif model == "fhs":
        built = fhs_model(alpha, measure=measure, **_only(var, _HS_KEYS[:5]))
    else:
        built = hvar_model(alpha, measure=measure, **_only(var, ("horizon_days", "lookback_years")))
    if isinstance(built.scenario_params, ScenarioParams) and not stress:
        built = dataclasses.replace(built, scenario_params=dataclasses.replace(built.scenario_params, include_stress=False))
    return built


def addons_arg(values: Mapping[str, Any]) -> AddOnParams:
    try:
        return AddOnParams(**_pick(values, ADDON_FIELDS))
    except (PricingInputError, TypeError) as exc:
        raise InputError(f"params: {exc}") from None


def quote_params_arg(values: Mapping[str, Any]) -> QuoteParams:
    try:
        return QuoteParams(**_pick(values, QUOTE_FIELDS))
    except (PricingInputError, TypeError) as exc:
        raise InputError(f"params: {exc}") from None


def table_rows(t: Table) -> list[dict[str, Any]]:
    """Rows as the engine's table readers take them (dates as ISO text)."""
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in t.rows]
