"""Initial margin by the local CCP replica: IM, breakdown, ΔIM per trade, scenario P&L, calls."""

from __future__ import annotations

from typing import Any

import numpy as np

from pricing.errors import DataError, PricingInputError
from pricing.margin.backtest import BACKTEST_COLUMNS, BacktestResult, backtest
from pricing.margin.call import intraday_margin_call
from pricing.margin.engine import MarginResult, TradeLegs, margin, margin_basis, trade_margins
from pricing.portfolio import Portfolio, concat, empty_portfolio, portfolio_from_rows
from udfs.catalogue import excel_function
from udfs.excel import (
    InputError,
    Table,
    XlError,
    _CellProblem,
    content_key,
    first_error,
    grid,
    is_blank,
    output,
    params,
    scalar,
    table,
    titled,
    to_datetime,
    to_serial,
)
from udfs.market import MARGIN_HELP, MarketBundle, addons_arg, market_arg, model_arg
from udfs.store import STORE

MARGIN = "clearquote margin"
PORTFOLIO_DOC = "positions with a header row: instrument (Deribit name) + quantity (contracts, + long), or underlying, type, expiry, strike, quantity; optional contract_size, settle; the text none for an empty book"
MODEL_DOC = "hvar (historical VaR, default), fhs (filtered HS), mc (Monte Carlo), span (SPAN-style 16 scenarios), deribit (Deribit portfolio margin) or hybrid (FHS VaR per commodity in SPAN's assembly)"
PARAMS_DOC = (
    "optional two-column name/value range of model and add-on parameters (see docs/desk.md, Parameters and their defaults)"
)
MARKET_DOC = "a CQ_MARKET handle, bundled, or a chain range"
POSITION_COLUMNS = (("instrument", "instrument_name", "name", "underlying"),)


def _rows_for_engine(t: Table) -> list[dict[str, Any]]:
    """Rows with dates as naive datetimes (the engine puts a whole date at 08:00 UTC)."""
    out = []
    for i, r in enumerate(t.rows):
        row = dict(r)
        bad = first_error(row)
        if bad is not None:
            raise InputError(f"{t.where(i)}: {bad.reason or bad}")
        if not is_blank(row.get("expiry")):
            try:
                row["expiry"] = to_datetime(row["expiry"], "expiry").replace(tzinfo=None)
            except _CellProblem as exc:
                raise InputError(f"{t.where(i, 'expiry')}: {exc}") from None
        out.append(row)
    return out


def portfolio_arg(value: Any, name: str = "portfolio") -> tuple[Portfolio, str]:
    """A positions table (or the text ``none``) as a Portfolio, cached by content."""
    cells = grid(value)
    if (
        len(cells) == 1
        and len(cells[0]) == 1
        and isinstance(cells[0][0], str)
        and cells[0][0].strip().lower() in ("none", "empty")
    ):
        return empty_portfolio(), "none"
    key = content_key(name, cells)

    def build() -> Portfolio:
        t = table(cells, name, required=("quantity",), any_of=POSITION_COLUMNS)
        try:
            return portfolio_from_rows(_rows_for_engine(t), name, t.row_numbers)
        except (PricingInputError, DataError) as exc:
            raise InputError(str(exc)) from None

    return STORE.get("PORTFOLIO", key, build), key


def _setup(
    portfolio: Any, market: Any, model: Any, params_: Any
) -> tuple[Portfolio, str, MarketBundle, Any, Any, dict[str, Any]]:
    book, pkey = portfolio_arg(portfolio)
    bundle = market_arg(market)
    values = params(params_, "params", MARGIN_HELP)
    m = model_arg(model, values, bundle)
    return book, pkey, bundle, m, addons_arg(values), values


def margin_result(portfolio: Any, market: Any, model: Any, params_: Any) -> tuple[MarginResult, Any, Portfolio, MarketBundle]:
    """The full margin result (cached by the content of every input)."""
    book, pkey, bundle, m, addons, values = _setup(portfolio, market, model, params_)
    key = content_key("im", pkey, bundle.key, str(scalar(model, "model")).strip().lower(), sorted(values.items()))
    family = bundle.family_of("im", pkey, str(scalar(model, "model")).strip().lower(), sorted(values.items()))
    return STORE.get("IM", key, lambda: margin(book, bundle.market, m, addons), family=family), m, book, bundle


@excel_function(
    "IM",
    category=MARGIN,
    args={"portfolio": PORTFOLIO_DOC, "market": MARKET_DOC, "model": MODEL_DOC, "params": PARAMS_DOC},
    returns="initial margin of the portfolio, USD (core IM with the anti-procyclicality floor, plus liquidity, concentration and model-risk add-ons)",
    example='=CQ_IM(Portfolio!A1:B12, "bundled", "hvar")',
    heavy=True,
)
def im(portfolio: Any, market: Any, model: Any = "hvar", params: Any = None) -> list[list[Any]]:
    """Initial margin of a portfolio under a local replica of a CCP's margin model.

    Notes: docs/methodology.md §A (SPAN), B (Deribit PM), C (HS/FHS/MC VaR with full revaluation,
    overlapping 2-day returns over 5 years, 99.5%), C5-C6 (add-ons, EMIR Art. 28 APC).
    """
    return [[margin_result(portfolio, market, model, params)[0].total]]


@excel_function(
    "IM_BREAKDOWN",
    category=MARGIN,
    args={
        "portfolio": PORTFOLIO_DOC,
        "market": MARKET_DOC,
        "model": MODEL_DOC,
        "params": PARAMS_DOC,
        "headers": "TRUE (default) adds a header row",
    },
    returns="two columns, component and USD: core, stressed, apc_floor, market_im, liquidity, concentration, model_risk, the model's own components (e.g. SPAN scan risk, NOV), total",
    example='=CQ_IM_BREAKDOWN(Portfolio!A1:B12, "bundled", "span")',
    heavy=True,
)
def im_breakdown(portfolio: Any, market: Any, model: Any = "hvar", params: Any = None, headers: Any = True) -> list[list[Any]]:
    """The IM and every component it is built from."""
    res = margin_result(portfolio, market, model, params)[0]
    # A component the model does not have (no stressed set for SPAN) is blank, not NaN.
    rows: list[list[Any]] = [[k, float(v) if np.isfinite(v) else ""] for k, v in res.as_rows()]
    return titled(headers, ("component", "usd"), rows, default=True)


def backtest_result(portfolio: Any, market: Any, model: Any, params_: Any) -> BacktestResult:
    """The backtest of the portfolio's core IM under ``model`` (cached by the content of every input)."""
    book, pkey, bundle, m, _, values = _setup(portfolio, market, model, params_)
    key = content_key("backtest", pkey, bundle.key, str(scalar(model, "model")).strip().lower(), sorted(values.items()))
    try:
        family = bundle.family_of("backtest", pkey, str(scalar(model, "model")).strip().lower(), sorted(values.items()))
        return STORE.get("BACKTEST", key, lambda: backtest(book, bundle.market, m), family=family)
    except PricingInputError as exc:
        raise InputError(str(exc)) from None


@excel_function(
    "IM_BACKTEST",
    category=MARGIN,
    args={
        "portfolio": PORTFOLIO_DOC,
        "market": MARKET_DOC,
        "model": "margin model: hvar, fhs (scenario VaR/ES), span, deribit (venue replicas) or hybrid; default hvar",
        "params": PARAMS_DOC,
        "headers": "TRUE (default) adds a header row",
    },
    returns="one row: observations, exceptions (realised loss above the core IM), expected exceptions, alpha, "
    "horizon, first and last date, Kupiec POF LR and p, Christoffersen independence LR and p, conditional "
    "coverage p, Basel traffic light",
    example='=CQ_IM_BACKTEST(Portfolio!A1:B12, "bundled", "hvar")',
    heavy=True,
)
def im_backtest(portfolio: Any, market: Any, model: Any = "hvar", params: Any = None, headers: Any = True) -> list[list[Any]]:
    """Backtest of the margin model on the bundled history, as a CCP validates its model.

    Notes: the book is held relative to the market date (same tenors and moneyness, vols moved
    by DVOL) on every non-overlapping margin period of the history; EMIR RTS 153/2013 Art. 47-49;
    Kupiec (1995), Christoffersen (1998), BCBS (1996) traffic light (pricing.margin.backtest).
    """
    s = backtest_result(portfolio, market, model, params).summary()
    return titled(headers, BACKTEST_COLUMNS, [[s[c] for c in BACKTEST_COLUMNS]], default=True)


@excel_function(
    "IM_CONTRIB",
    category=MARGIN,
    args={"portfolio": PORTFOLIO_DOC, "market": MARKET_DOC, "model": MODEL_DOC, "params": PARAMS_DOC},
    returns="one number per portfolio row: its share of the core IM, USD (Euler allocation for VaR/ES; worst-scenario share for SPAN/Deribit); sums to the core IM",
    example='=CQ_IM_CONTRIB(Portfolio!A1:B12, "bundled")',
    heavy=True,
)
def im_contrib(portfolio: Any, market: Any, model: Any = "hvar", params: Any = None) -> list[list[Any]]:
    """Allocation of the core IM to the positions (who uses the margin)."""
    res = margin_result(portfolio, market, model, params)[0]
    return output(np.asarray(res.contributions, dtype=float).reshape(-1, 1))


def _trades(value: Any) -> tuple[Portfolio, np.ndarray, list[XlError | None]]:
    """Trade rows one by one, so a bad row fails alone; returns the good trades and row errors."""
    t = table(value, "trades", required=("quantity",), any_of=POSITION_COLUMNS, positional=("instrument", "quantity"))
    good: list[Portfolio] = []
    errors: list[XlError | None] = []
    for i in range(len(t)):
        try:
            sub = Table(t.name, t.columns, (t.rows[i],), (t.row_numbers[i],))
            good.append(portfolio_from_rows(_rows_for_engine(sub), "trades", sub.row_numbers))
            errors.append(None)
        except (InputError, PricingInputError, DataError) as exc:
            errors.append(XlError("#VALUE!", str(exc)))

    return (concat(good) if good else empty_portfolio()), np.array([e is None for e in errors]), errors


@excel_function(
    "IM_DELTA",
    rows=("trades",),
    category=MARGIN,
    args={
        "portfolio": PORTFOLIO_DOC,
        "trades": "candidate trades with a header row, same columns as a portfolio, or rows of instrument, quantity without one; quantity signed (+ the desk buys, - sells); each trade is added alone",
        "market": MARKET_DOC,
        "model": MODEL_DOC,
        "params": PARAMS_DOC,
    },
    returns="one ΔIM per trade row, USD: IM(portfolio + trade) - IM(portfolio); negative when the trade hedges the book; a bad row fails alone",
    example='=CQ_IM_DELTA(Portfolio!A1:B12, Trades!A1:B500, "bundled")',
    heavy=True,
)
def im_delta(portfolio: Any, trades: Any, market: Any, model: Any = "hvar", params: Any = None) -> list[list[Any]]:
    """Marginal IM of each candidate trade against the portfolio (all trades in one batch).

    Notes: every candidate is repriced once over the scenario set and added to the book's
    scenario P&L vector; the IM of each sum is taken per candidate (pricing.margin.engine).
    """
    book, pkey, bundle, m, addons, values = _setup(portfolio, market, model, params)
    cands, ok, errors = _trades(trades)
    out = np.full((len(errors), 1), np.nan)
    if len(cands):
        # The book's basis (its scenario P&L, IM and holdings) is built once per book, market, model
        # and parameters; each per-row formula then reprices only its own trade.
        key = content_key("im-basis", pkey, bundle.key, str(scalar(model, "model")).strip().lower(), sorted(values.items()))
        family = bundle.family_of("im-basis", pkey, str(scalar(model, "model")).strip().lower(), sorted(values.items()))
        basis = STORE.get("IM_BASIS", key, lambda: margin_basis(book, bundle.market, m, addons, cands), family=family).for_trades(
            cands
        )
        size = np.abs(cands.quantity)
        buy, sell = trade_margins(basis, TradeLegs.single(cands.with_quantity(size)))
        out[ok, 0] = np.where(cands.quantity >= 0, buy, sell) - basis.im0
    return output(out, np.array(errors, dtype=object).reshape(-1, 1))


@excel_function(
    "SCENARIO_PNL",
    category=MARGIN,
    args={
        "portfolio": PORTFOLIO_DOC,
        "market": MARKET_DOC,
        "model": "hvar (default), fhs or mc: the scenario models",
        "params": PARAMS_DOC,
        "headers": "TRUE (default) adds a header row",
    },
    returns="one row per scenario: scenario end date (Excel serial; blank for Monte Carlo), portfolio P&L in USD, stressed (TRUE for the stress-window scenarios); chart the P&L column as a histogram",
    example='=CQ_SCENARIO_PNL(Portfolio!A1:B12, "bundled")',
    heavy=True,
)
def scenario_pnl(portfolio: Any, market: Any, model: Any = "hvar", params: Any = None, headers: Any = True) -> list[list[Any]]:
    """The portfolio's full-revaluation P&L in every VaR scenario (the distribution behind the IM)."""
    res, m, book, bundle = margin_result(portfolio, market, model, params)
    if res.scenario_pnl is None or not hasattr(m, "prepare"):
        raise InputError(f"model: {model!r} has no scenario P&L vector; use hvar, fhs or mc")
    scen = m.prepare(book, bundle.market) if len(book) else None
    pnl = np.asarray(res.scenario_pnl, dtype=float)
    columns = ("end_date", "pnl_usd", "stressed")
    if scen is None or len(scen.end_dates) != len(pnl):
        return titled(headers, columns, [["", float(x), False] for x in pnl], default=True)
    serial = (scen.end_dates.astype("datetime64[D]") - np.datetime64("1899-12-30")).astype(np.int64)
    mc = scen.kind == "mc"
    return titled(
        headers,
        columns,
        [["" if mc else float(d), float(x), bool(s)] for d, x, s in zip(serial, pnl, scen.stressed)],
        default=True,
    )


@excel_function(
    "MARGIN_CALL",
    category=MARGIN,
    args={
        "portfolio": PORTFOLIO_DOC,
        "collateral": "collateral held: a USD amount, or a two-column range currency/amount (USD, BTC, ETH; coins valued at the market's spot)",
        "market": "the new (intraday) market: a CQ_MARKET handle, bundled, or a chain range",
        "model": MODEL_DOC,
        "params": PARAMS_DOC,
        "headers": "TRUE (default) adds a header row",
    },
    returns="two columns: im_usd, collateral_usd, call_usd (to post), excess_usd (may withdraw), deadline (Excel serial, UTC: one hour after the market time)",
    example='=CQ_MARGIN_CALL(Portfolio!A1:B12, 2000000, "bundled")',
    heavy=True,
)
def margin_call(
    portfolio: Any, collateral: Any, market: Any, model: Any = "hvar", params: Any = None, headers: Any = True
) -> list[list[Any]]:
    """Intraday margin call: re-run the IM on the new market and compare with the collateral."""
    book, _, bundle, m, addons, _ = _setup(portfolio, market, model, params)
    cells = grid(collateral)
    if len(cells) == 1 and len(cells[0]) == 1:
        held: Any = scalar(collateral, "collateral")
        if isinstance(held, bool) or not isinstance(held, (int, float)) or held < 0:
            raise InputError(f"collateral: {held!r} is not a USD amount >= 0 (or give a currency/amount range)")
        held = float(held)
    else:
        if any(len(r) != 2 for r in cells):
            raise InputError(f"collateral: two columns (currency, amount), got {max(len(r) for r in cells)}")
        held = {}
        for k, v in cells:
            if is_blank(k) or str(k).strip().lower() in ("currency", "asset"):
                continue
            code = str(k).strip().upper()
            if code in held:
                raise InputError(f"collateral: {code[:20]} appears twice; give one row per currency (add the amounts)")
            held[code] = v
        for k, v in held.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise InputError(f"collateral, {k}: {v!r} is not an amount >= 0")
    try:
        call = intraday_margin_call(book, held, bundle.market, m, addons)
    except PricingInputError as exc:
        raise InputError(str(exc)) from None
    rows: list[list[Any]] = [
        ["im_usd", call.im.total],
        ["collateral_usd", call.collateral_usd],
        ["call_usd", call.call_usd],
        ["excess_usd", call.excess_usd],
    ]
    rows.append(["deadline", "" if call.deadline is None else to_serial(call.deadline)])
    return titled(headers, ("item", "value"), rows, default=True)
