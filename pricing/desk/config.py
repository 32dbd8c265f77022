"""The desk's configuration from name/value pairs: margin model, add-ons, quote parameters, venue, limits.

Every host reads its parameters here: ``CQ_RFQ``'s params range (cells coerced to a mapping by
the catalogue), the CLI's and FIX's params file. Each parameter's default lives in one place:
the dataclass that uses it (:class:`~pricing.scenarios.ScenarioParams`,
:class:`~pricing.scenarios.McParams`, :class:`~pricing.margin.var.ScenarioVarModel`,
:class:`~pricing.margin.span.SpanParams`, :class:`~pricing.margin.deribit.DeribitParams`,
:class:`~pricing.margin.addons.AddOnParams`, :class:`~pricing.xva.params.QuoteParams`,
:class:`QuoteLimits`); this module reads the defaults from them, so a name's type and default
are never typed twice. A bad value raises :class:`ConfigError` naming the parameter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pricing.desk.limits import RiskLimits
from pricing.errors import DataError, PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.deribit import DeribitModel, DeribitParams
from pricing.margin.engine import MarginModel
from pricing.margin.hybrid import HybridModel
from pricing.margin.span import SpanModel, SpanParams
from pricing.margin.var import ScenarioVarModel, fhs_model, hvar_model, mc_model, model_from_scenarios
from pricing.scenarios import McParams, ScenarioParams, ScenarioSet, historical_scenarios, monte_carlo_scenarios
from pricing.xva.params import QuoteParams


class ConfigError(PricingInputError):
    """A parameter with a bad name or value; the message names it and what is allowed."""


@dataclass(frozen=True)
class QuoteLimits:
    """Business limits of a desk that answers requests (FIX): a request beyond them is refused.

    The size limits (contracts, notional, ΔIM, net Greeks) are :class:`~pricing.desk.limits.RiskLimits`,
    carried by :attr:`DeskConfig.risk`: one home, one default each.

    Attributes
    ----------
    max_market_age_s : float
        Oldest market quoted on, seconds from its time to now (0: not checked, a historical market).
    quote_validity_s : float
        How long a quote can be hit, seconds (10).
    fill_tolerance : float
        A fill is refused if the structure's mid moved more than this share since the quote (0.5%).
    max_margin_lag_s : float
        How much older (by the market's own time and by when it was built, seconds) the snapshot
        of a quote's margin may be than the snapshot of its price (:mod:`pricing.desk.lag`); 0: the source's own bound (a
        live source's ``LiveLimits.max_margin_lag_s``; none for files and bundled data).
    """

    max_market_age_s: float = 0.0
    quote_validity_s: float = 10.0
    fill_tolerance: float = 0.005
    max_margin_lag_s: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not (v >= 0 and math.isfinite(v)):
                raise ConfigError(f"{f.name}: must be a number >= 0, got {v!r}")


def _fields(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls) if f.name not in skip and f.default is not dataclasses.MISSING}


_SCEN = _fields(ScenarioParams)
_MC = _fields(McParams)
_VAR = _fields(ScenarioVarModel)

#: VaR/ES parameters and their defaults, read from the dataclasses that use them.
VAR_DEFAULTS: dict[str, Any] = {
    "alpha": _VAR["alpha"],
    "measure": _VAR["measure"],
    "horizon_days": _SCEN["horizon_days"],
    "lookback_years": _SCEN["lookback_years"],
    "ewma_lambda": _SCEN["ewma_lambda"],
    "vol_floor_ratio": _SCEN["vol_floor_ratio"],
    "vol_floor_years": 0.0,  # 0: the floor's average spans the look-back (ScenarioParams' None)
    "include_stress": True,  # hvar and fhs append the stressed windows (ScenarioVarModel's default)
    "n_paths": _MC["n_paths"],
    "seed": _MC["seed"],
    "rule": _VAR["rule"],
}
VAR_HELP = {
    "alpha": f"confidence level, decimal ({VAR_DEFAULTS['alpha']})",
    "measure": "var or es",
    "horizon_days": f"margin period of risk, calendar days ({VAR_DEFAULTS['horizon_days']})",
    "lookback_years": f"look-back window in years ({VAR_DEFAULTS['lookback_years']:g})",
    "ewma_lambda": f"FHS/MC EWMA decay ({VAR_DEFAULTS['ewma_lambda']})",
    "vol_floor_ratio": f"FHS vol floor as a share of the average vol ({VAR_DEFAULTS['vol_floor_ratio']})",
    "vol_floor_years": "years the FHS floor's average vol spans (0 = the look-back; 10 with ratio 1 = EMIR 28(c))",
    "include_stress": "append the stressed windows (TRUE for hvar/fhs)",
    "n_paths": f"Monte Carlo paths ({VAR_DEFAULTS['n_paths']})",
    "seed": f"Monte Carlo seed ({VAR_DEFAULTS['seed']})",
    "rule": "sticky_moneyness or sticky_strike",
}
SPAN_FIELDS = _fields(SpanParams, ("delta_weights", "rule", "inter_pairs"))
DERIBIT_FIELDS = _fields(DeribitParams)
ADDON_FIELDS = _fields(AddOnParams)
QUOTE_FIELDS = _fields(QuoteParams)
LIMIT_FIELDS = _fields(QuoteLimits)
RISK_FIELDS = _fields(RiskLimits)
SPAN_EXTRA = {f"price_scan_range_{u.lower()}": v for u, v in SpanParams().price_scan_range.items()}
MARGIN_HELP = {
    **VAR_HELP,
    **{k: f"SPAN, default {v}" for k, v in {**SPAN_EXTRA, **SPAN_FIELDS}.items() if k != "price_scan_range"},
    **{k: f"Deribit PM, default {v}" for k, v in DERIBIT_FIELDS.items()},
    **{k: f"add-on, default {v}" for k, v in ADDON_FIELDS.items() if k != "daily_capacity_usd"},
}
QUOTE_HELP = {k: f"quote/XVA, default {'latest bundled SOFR' if k == 'sofr' else v}" for k, v in QUOTE_FIELDS.items()}
#: The risk limits, each with its default (pricing.desk.limits.RiskLimits, where they are documented).
RISK_HELP = {k: f"pre-trade limit, default {v:,.6g}" for k, v in RISK_FIELDS.items()}
LIMIT_HELP = {
    **RISK_HELP,
    "max_market_age_s": "oldest market quoted on, seconds (0 = not checked)",
    "quote_validity_s": f"how long a quote can be hit, seconds ({LIMIT_FIELDS['quote_validity_s']:g})",
    "fill_tolerance": f"largest move of the mid between quote and fill, share ({LIMIT_FIELDS['fill_tolerance']})",
    "max_margin_lag_s": "how much older the margin's market may be than the price's, seconds (0 = the source's own)",
}
#: The parameters of a quote (``CQ_RFQ``'s params range; the CLI's params file).
RFQ_HELP = {
    "model": "margin model: hvar, fhs, mc, span, deribit, hybrid (hvar)",
    "accept": "fill each RFQ before the next (FALSE)",
    **QUOTE_HELP,
    **MARGIN_HELP,
}
#: Every parameter a desk takes: a quote's, and the limits of a desk that answers requests.
DESK_HELP = {**RFQ_HELP, **LIMIT_HELP}
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
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_TYPES: dict[str, Any] = {
    "model": "hvar",
    "accept": False,
    **VAR_DEFAULTS,
    **{k: SpanParams().price_scan_range[k.rsplit("_", 1)[1].upper()] for k in SPAN_EXTRA},
    **SPAN_FIELDS,
    **DERIBIT_FIELDS,
    **ADDON_FIELDS,
    **QUOTE_FIELDS,
    **RISK_FIELDS,
    **LIMIT_FIELDS,
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE/FALSE"
    if isinstance(value, str):
        return f"the text {value[:60]!r}{'…' if len(value) > 60 else ''}"
    return f"{type(value).__name__} {repr(value)[:60]}"


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}: {_describe(value)} where a number belongs")
    try:
        x = float(value)
    except OverflowError:
        raise ConfigError(f"{name}: an integer of {len(str(abs(int(value))))} digits is beyond a float") from None
    if not math.isfinite(x):
        raise ConfigError(f"{name}: {x} is not a finite number")
    return x


def coerce(name: str, value: Any) -> Any:
    """One parameter's value in the type of its default.

    Parameters
    ----------
    name : str
        A key of :data:`DESK_HELP` (lower case).
    value : bool, int, float or str
        As a sheet cell or a CSV field holds it (numbers as numbers, flags as TRUE/FALSE, 1/0, yes/no).

    Returns
    -------
    bool, int, float or str
        Text lower-cased and stripped; whole numbers for integer parameters.

    Raises
    ------
    ConfigError
        Naming the parameter and what it needs.

    Examples
    --------
    >>> coerce("include_stress", "no"), coerce("n_paths", 5000.0), coerce("venue", " QCCP ")
    (False, 5000, 'qccp')
    """
    default = _TYPES[name]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, np.integer)):
            key = str(int(value)) if abs(int(value)) < 10 else "?"
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            key = str(int(value))
        else:
            key = str(value).strip().lower()[:20]
        if key not in _BOOLS:
            raise ConfigError(f"{name}: {value!r} is not TRUE or FALSE")
        return _BOOLS[key]
    if isinstance(default, int):
        x = _number(name, value)
        if not (0 <= x <= 10_000_000) or not x.is_integer():
            raise ConfigError(f"{name}: {x:g} must be a whole number between 0 and 10000000")
        return int(x)
    if isinstance(default, float) or default is None:
        return _number(name, value)
    if isinstance(default, str):
        return str(value).strip().lower()
    raise ConfigError(f"{name}: cannot be set from a name/value pair")  # pragma: no cover - every default is one of these


def _pick(values: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in fields}


@dataclass(frozen=True)
class DeskConfig:
    """How a desk quotes: margin model and its parameters, add-ons, quote parameters, limits.

    Attributes
    ----------
    model : str
        Canonical margin model: hvar, fhs, mc, span, deribit or hybrid.
    margin : tuple of (name, value)
        The margin model's parameters as given (typed, sorted); the rest take their defaults.
    addons : AddOnParams
        Margin add-on and APC parameters (defaults in :class:`~pricing.margin.addons.AddOnParams`).
    quote : QuoteParams
        Includes the venue preset (``venue``: qccp or non_qccp).
    limits : QuoteLimits
        The market-age, quote-validity and fill-tolerance limits (defaults in :class:`QuoteLimits`).
    risk : RiskLimits
        The size and risk limits (``max_contracts``: a request above it is refused by every host).
    accept : bool
        Fill each request of a batch before quoting the next (a quote book's ``accept``).

    Examples
    --------
    >>> cfg = DeskConfig.from_mapping({"model": "SPAN", "funding_spread": 0.01, "max_contracts": 50})
    >>> cfg.model, cfg.quote.funding_spread, cfg.risk.max_contracts, cfg.risk.max_leg_contracts, cfg.margin
    ('span', 0.01, 50.0, 1000.0, ())
    >>> DeskConfig.from_mapping({"alpha": "high"})
    Traceback (most recent call last):
    ...
    pricing.desk.config.ConfigError: alpha: the text 'high' where a number belongs
    """

    model: str = "hvar"
    margin: tuple[tuple[str, Any], ...] = ()
    addons: AddOnParams = field(default_factory=AddOnParams)
    quote: QuoteParams = field(default_factory=QuoteParams)
    limits: QuoteLimits = field(default_factory=QuoteLimits)
    accept: bool = False
    risk: RiskLimits = field(default_factory=RiskLimits)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, ignore: Collection[str] = ()) -> DeskConfig:
        """The configuration of name/value pairs (names case-insensitive; None or "" = the default).

        Parameters
        ----------
        values : mapping str -> value
            Any keys of :data:`DESK_HELP`.
        ignore : collection of str
            Names a host reads itself (``columns`` in Excel), skipped here.

        Returns
        -------
        DeskConfig
            The configuration, every name not given at its default.

        Raises
        ------
        ConfigError
            An unknown name (with the allowed ones) or a bad value (naming the parameter).

        Examples
        --------
        >>> DeskConfig.from_mapping({"Model": "PM", "venue": "NON_QCCP", "columns": "sides"}, ignore=("columns",)).model
        'deribit'
        """
        typed: dict[str, Any] = {}
        for raw, value in values.items():
            name = str(raw).strip().lower().replace(" ", "_")
            if name in ignore or value is None or (isinstance(value, str) and not value.strip()):
                continue
            if name not in DESK_HELP:
                raise ConfigError(f"params: unknown parameter {raw!r}. Allowed: {', '.join(DESK_HELP)}")
            typed[name] = coerce(name, value)
        model_name = str(typed.get("model", "hvar"))
        if model_name not in MODELS:
            raise ConfigError(f"model: {model_name!r} is not one of {', '.join(MODELS)}")
        try:
            addons = AddOnParams(**_pick(typed, ADDON_FIELDS))
            quote = QuoteParams(**_pick(typed, QUOTE_FIELDS))
            limits = QuoteLimits(**_pick(typed, LIMIT_FIELDS))
            risk = RiskLimits(**_pick(typed, RISK_FIELDS))
        except ConfigError:
            raise
        except (PricingInputError, TypeError, ValueError) as exc:
            raise ConfigError(f"params: {exc}") from None
        margin = tuple(sorted((k, v) for k, v in typed.items() if k in MARGIN_HELP and k not in ADDON_FIELDS))
        return cls(MODELS[model_name], margin, addons, quote, limits, bool(typed.get("accept", False)), risk)

    @property
    def margin_key(self) -> str:
        """A hash of the margin model and its parameters (what a cached basis depends on)."""
        text = repr((self.model, self.margin, self.addons))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def margin_model(self, histories: Any = None, dvols: Any = None, underlyings: tuple[str, ...] = ()) -> MarginModel:
        """The margin model this configuration names.

        Parameters
        ----------
        histories, dvols : mapping or None
            A snapshot's own history (:class:`~pricing.desk.market.MarketSnapshot`); None: the
            bundled history, its scenarios built when the model first meets a portfolio.
        underlyings : tuple of str
            The market's underlyings (the Deribit model has parameters per underlying).

        Returns
        -------
        MarginModel
            SPAN, the Deribit risk matrix, a scenario VaR model or the hybrid, with this
            configuration's parameters.

        Raises
        ------
        ConfigError
            A parameter the model refuses, with the model's reason.
        """
        return margin_model(self.model, dict(self.margin), histories, dvols, underlyings)

    def record(self) -> dict[str, Any]:
        """The parameters that differ from the defaults, as JSON-ready values (for a journal).

        Returns
        -------
        dict of str to Any
            Name -> value (numbers, strings, lists); always with ``model``.
        """
        out: dict[str, Any] = {"model": self.model, **dict(self.margin)}
        for obj in (self.addons, self.quote, self.limits, self.risk):
            for f in dataclasses.fields(obj):
                v = getattr(obj, f.name)
                if f.default is not dataclasses.MISSING and v != f.default:
                    out[f.name] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
        if self.accept:
            out["accept"] = True
        return out


def margin_model(
    model: str,
    values: Mapping[str, Any],
    histories: Any = None,
    dvols: Any = None,
    underlyings: tuple[str, ...] = (),
) -> MarginModel:
    """The margin model ``model`` (canonical name) with typed parameters ``values``.

    Parameters
    ----------
    model : {"hvar", "fhs", "mc", "span", "deribit", "hybrid"}
        The model's name: historical VaR, filtered historical VaR, Monte Carlo VaR, SPAN, the Deribit portfolio-margin replica,
        or the SPAN/VaR hybrid.
    values : mapping str -> value
        Margin parameters (keys of :data:`MARGIN_HELP`), already coerced.
    histories, dvols : mapping or None
        The history the scenarios are built from (None: bundled).
    underlyings : tuple of str
        Underlyings of the Deribit model's per-underlying parameters.

    Returns
    -------
    MarginModel
        The model, ready for :func:`pricing.margin.engine.margin`.

    Raises
    ------
    ConfigError
        Prefixed ``params:``, with the model's reason.

    Notes
    -----
    VaR models on the bundled history build their scenarios when they first meet a portfolio;
    with a history given, the scenarios are built here (``pricing.scenarios``). The formulas are in
    docs/methodology.md §A-C.
    """
    try:
        if model == "span":
            return _span_model(values)
        if model == "deribit":
            return DeribitModel({u: DeribitParams(**_pick(values, DERIBIT_FIELDS)) for u in underlyings})
        if model == "hybrid":
            var_part = margin_model("fhs", values, histories, dvols, underlyings)
            assert isinstance(var_part, ScenarioVarModel)
            return HybridModel(var_part, _span_model(values).params)
        var = {k: v for k, v in values.items() if k in VAR_DEFAULTS}
        if not var.get("vol_floor_years"):
            var.pop("vol_floor_years", None)  # 0 or blank: the floor averages over the look-back
        alpha = var.pop("alpha", VAR_DEFAULTS["alpha"])
        measure, rule = var.pop("measure", VAR_DEFAULTS["measure"]), var.pop("rule", VAR_DEFAULTS["rule"])
        if histories is not None:
            scen = _sheet_scenarios(model, var, histories, dvols)
            return dataclasses.replace(model_from_scenarios(scen, alpha, measure=measure, rule=rule), name=model)
        return dataclasses.replace(_bundled_var_model(model, var, alpha, measure), rule=rule)
    except ConfigError:
        raise
    except (PricingInputError, DataError, TypeError) as exc:
        raise ConfigError(f"params: {exc}") from None


def _span_model(values: Mapping[str, Any]) -> SpanModel:
    """SPAN with the given fields; a scan range per underlying from ``price_scan_range_<code>``."""
    scan = {}
    for u, d in SpanParams().price_scan_range.items():
        name = f"price_scan_range_{u.lower()}"
        x = float(values.get(name, d))
        if not x > 0:
            raise ConfigError(f"{name}: {x:g} must be > 0")
        scan[u] = x
    return SpanModel(SpanParams(price_scan_range=scan, **_pick(values, SPAN_FIELDS)))


#: Which VaR parameters each scenario builder takes.
_MC_KEYS = ("n_paths", "seed", "horizon_days", "lookback_years", "ewma_lambda")
_HS_KEYS = ("horizon_days", "lookback_years", "ewma_lambda", "vol_floor_ratio", "vol_floor_years", "include_stress")


def _only(values: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keys}


def _sheet_scenarios(model: str, var: Mapping[str, Any], histories: Any, dvols: Any) -> ScenarioSet:
    """Scenarios built from a history given with the market."""
    unds = tuple(histories)
    if model == "mc":
        return monte_carlo_scenarios(unds, McParams(**_only(var, _MC_KEYS)), histories=histories, dvols=dvols)
    params = ScenarioParams(filtered=model == "fhs", **_only(var, _HS_KEYS))
    return historical_scenarios(unds, params, histories=histories, dvols=dvols)


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


def params_from_rows(rows: Sequence[Sequence[Any]] | None, source: str = "params") -> dict[str, Any]:
    """A two-column name/value table (a header ``name | value`` is optional) as a mapping.

    Parameters
    ----------
    rows : sequence of (name, value) rows, or None
        From a params file (CSV/xlsx) or a sheet range; blank rows and blank values are skipped
        (the default applies).
    source : str
        How the table is named in errors.

    Returns
    -------
    dict
        Lower-case snake names to values, for :meth:`DeskConfig.from_mapping`.

    Raises
    ------
    ConfigError
        A row that is not two columns, or a name given twice (naming the row, header = row 1).

    Examples
    --------
    >>> params_from_rows([["name", "value"], ["Model", "span"], ["funding_spread", 0.01], ["alpha", None]])
    {'model': 'span', 'funding_spread': 0.01}
    """
    out: dict[str, Any] = {}
    for i, row in enumerate(rows or (), start=1):
        cells = list(row)
        if all(_blank_cell(c) for c in cells):
            continue
        if len(cells) != 2:
            raise ConfigError(f"{source}, row {i}: expected two columns (name, value), got {len(cells)}")
        key = str(cells[0]).strip().lower().replace(" ", "_") if not _blank_cell(cells[0]) else ""
        if i == 1 and key in ("name", "parameter", "param") and str(cells[1]).strip().lower() == "value":
            continue
        if key in out:
            raise ConfigError(f"{source}, row {i}: parameter {key} is given twice")
        if not _blank_cell(cells[1]):
            out[key] = cells[1]
    return out


def _blank_cell(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())
