"""XVA, the all-in quote and the whole RFQ pipeline (CQ_RFQ)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pricing.daycount import DAYS_PER_YEAR, FUNDING_DAYS_PER_YEAR
from pricing.desk.book import Book
from pricing.desk.market import FixedSource
from pricing.desk.request import requests_from_rows
from pricing.desk.service import Desk
from pricing.errors import DataError, PricingInputError
from pricing.xva.capital import k_cm, kva_simple
from pricing.xva.ccva import ccp_default_params, ccva_lifetimes
from pricing.xva.funding import fva_im_lifetimes, fva_im_simple, mva_vm_batch
from pricing.xva.quote import TABLE_COLUMNS, QuoteTable
from pricing.xva.saccr import saccr_option
from pricing.xva.sides import all_in_price
from udfs.args import CP
from udfs.catalogue import excel_function
from udfs.excel import (
    Field,
    InputError,
    XlError,
    broadcast,
    content_key,
    first_error,
    is_blank,
    numbers,
    output,
    scalar,
    scalar_bool,
    scalar_choice,
    scalar_number,
    table,
    titled,
)
from udfs.excel import params as name_values
from udfs.margin import PORTFOLIO_DOC, portfolio_arg
from udfs.market import RFQ_HELP, desk_config, market_arg, model_arg, table_rows
from udfs.store import STORE

XVA = "clearquote xva"
RATE = "decimal: 0.05 = 5%"
PROFILES = {"flat": "flat", "sqrt": "sqrt"}


def per_cell(fn: Callable[..., float], *fields: Field) -> list[list[Any]]:
    """Apply a scalar engine formula cell by cell; an engine input error fails that cell only.

    Used for the XVA formulas, whose engine functions validate scalars (rates, tenors) and
    which a sheet calls on a handful of cells, not on thousands of rows.
    """
    shape, values, errors = broadcast(*fields)
    out = np.full(shape, np.nan)
    errs = errors.copy()
    ok = np.nonzero(errors == None)  # noqa: E711
    if not all(np.asarray(v).dtype == np.float64 for v in values):  # not all numbers: cell by cell
        for idx in zip(*ok):
            try:
                out[idx] = fn(*(v[idx] for v in values))
            except (PricingInputError, DataError) as exc:
                errs[idx] = XlError("#NUM!", str(exc))
        return output(out, errs)
    # The formula runs once per distinct combination of inputs (a whole column usually shares
    # its rates and tenor), found on the float bit patterns so that -0.0 and 0.0 stay apart;
    # it gets numpy scalars, as cell by cell, so division by zero stays inf/NaN (-> #NUM!).
    bits = np.stack([np.asarray(v[ok], dtype=np.float64).view(np.int64) for v in values], axis=-1)
    combos, where = _distinct_rows(bits)
    results = np.full(len(combos), np.nan)
    problems: list[XlError | None] = [None] * len(combos)
    for n, combo in enumerate(combos.view(np.float64)):
        try:
            results[n] = fn(*combo)
        except (PricingInputError, DataError) as exc:
            problems[n] = XlError("#NUM!", str(exc))
    out[ok] = results[where]
    errs[ok] = np.array(problems, dtype=object)[where]
    return output(out, errs)


def _distinct_rows(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of an int array, index of each row's distinct row): a lexsort, ~10x
    faster than ``np.unique(axis=0)``'s structured sort on a million rows."""
    order = np.lexsort(bits.T[::-1])
    ranked = bits[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    where = np.empty(len(order), dtype=np.intp)
    where[order] = np.cumsum(first) - 1
    return ranked[first], where


def batch_cells(fn: Callable[..., Any], *fields: Field) -> list[list[Any]]:
    """Apply a vectorised engine formula to every valid cell at once; only cells whose inputs
    failed their checks get an error. Should the engine refuse the batch, the cells are retried
    one by one so that only the bad ones fail, each with the engine's reason."""
    shape, values, errors = broadcast(*fields)
    out = np.full(shape, np.nan)
    ok = errors == None  # noqa: E711
    if ok.any():
        try:
            out[ok] = fn(*(np.asarray(v[ok], dtype=np.float64) for v in values))
        except (PricingInputError, DataError):
            return per_cell(lambda *a: float(fn(*(np.array([x], dtype=np.float64) for x in a))[0]), *fields)
    return output(out, errors)


@excel_function(
    "FVA",
    rows=("delta_im", "funding_rate", "im_rate", "days"),
    category=XVA,
    args={
        "delta_im": "marginal initial margin ΔIM, USD (from CQ_IM_DELTA)",
        "funding_rate": f"dealer's unsecured funding rate r_F, {RATE}",
        "im_rate": f"rate the CCP pays on posted IM r_IM, {RATE} (crypto venues: 0)",
        "days": "days the IM is posted",
        "basis": "day-count basis, days per year (default 360, ACT/360)",
    },
    returns="FVA (the article's name for the funding cost of posted IM), USD: ΔIM x (r_F - r_IM) x days / basis",
    example="=CQ_FVA(950000, 0.05263, 0, 90) -> 12499.625 (the article's $12,500)",
)
def fva(delta_im: Any, funding_rate: Any, im_rate: Any, days: Any, basis: Any = FUNDING_DAYS_PER_YEAR) -> list[list[Any]]:
    """Funding cost of the initial margin a trade adds, the source article's simple form.

    Notes: FVA = ΔIM (r_F - r_IM) d / 360 (article: docs/methodology.md §F1; the spec form, §D3). In the textbooks this
    cost is MVA (Green 2015, ch. 9); clearquote keeps the article's label.
    """
    b = scalar_number(basis, "basis", default=FUNDING_DAYS_PER_YEAR, lo=1, hi=366)
    return per_cell(
        lambda dim, rf, rim, d: fva_im_simple(dim, rf, rim, d * FUNDING_DAYS_PER_YEAR / b),
        numbers(delta_im, "delta_im", unit="USD"),
        numbers(funding_rate, "funding_rate", lo=-0.05, hi=1, unit=RATE),
        numbers(im_rate, "im_rate", lo=-0.05, hi=1, unit=RATE),
        numbers(days, "days", lo=0, hi=36500),
    )


@excel_function(
    "FVA_LIFETIME",
    rows=("delta_im", "tenor_years", "funding_rate", "im_rate"),
    category=XVA,
    args={
        "delta_im": "ΔIM today, USD",
        "tenor_years": "trade tenor, years ACT/365",
        "funding_rate": f"funding rate r_F (SOFR + spread), {RATE}",
        "im_rate": f"IM remuneration r_IM, {RATE} (default 0)",
        "profile": "flat (default: ΔIM held to expiry) or sqrt (run-off ΔIM √((T-t)/T))",
        "step_days": "grid step, days (default 7)",
        "discount_rate": f"discount rate, {RATE} (default 0)",
    },
    returns="lifetime FVA, USD: Σ ΔIM(t_i) (r_F - r_IM) Δt_i^{ACT/360} DF(t_{i+1})",
    example="=CQ_FVA_LIFETIME(950000, 0.25, 0.05263) -> 12673.2 (ACT/360 over 91.25 days, weekly grid)",
)
def fva_lifetime(
    delta_im: Any,
    tenor_years: Any,
    funding_rate: Any,
    im_rate: Any = 0.0,
    profile: Any = "flat",
    step_days: Any = 7,
    discount_rate: Any = 0.0,
) -> list[list[Any]]:
    """FVA over the life of the trade on a run-off profile of ΔIM (docs/methodology.md §D3, fva_im and its profile)."""
    shape = scalar_choice(profile, "profile", PROFILES, default="flat")
    step = scalar_number(step_days, "step_days", default=7.0, lo=0.01, lo_open=True, hi=DAYS_PER_YEAR)
    r_d = scalar_number(discount_rate, "discount_rate", default=0.0, lo=-0.05, hi=1)

    return batch_cells(
        lambda dim, t, rf, rim: fva_im_lifetimes(dim, t, rf, rim, profile=shape, step_days=step, discount_rate=r_d),
        numbers(delta_im, "delta_im", unit="USD"),
        numbers(tenor_years, "tenor_years", lo=0, lo_open=True, hi=50),
        numbers(funding_rate, "funding_rate", lo=-0.05, hi=1, unit=RATE),
        numbers(im_rate, "im_rate", default=0.0, lo=-0.05, hi=1, unit=RATE),
    )


@excel_function(
    "MVA",
    rows=("abs_delta_coin", "spot", "vol", "tenor_years", "borrow_spread"),
    category=XVA,
    args={
        "abs_delta_coin": "|delta| of the trade, coins",
        "spot": "spot, USD per coin",
        "vol": "vol, decimal",
        "tenor_years": "trade tenor, years",
        "borrow_spread": f"spread over the VM rate at which a VM shortfall is funded, {RATE}",
        "lag_days": "days between a VM call and its funding (default 1)",
        "discount_rate": f"discount rate, {RATE} (default 0)",
    },
    returns="MVA (the article's name: variation-margin settlement-lag funding), USD",
    example="=CQ_MVA(60, 60000, 0.55, 0.25, 0.005) -> 105.94",
)
def mva(
    abs_delta_coin: Any, spot: Any, vol: Any, tenor_years: Any, borrow_spread: Any, lag_days: Any = 1.0, discount_rate: Any = 0.0
) -> list[list[Any]]:
    """Cost of funding variation margin over the settlement lag (docs/methodology.md §D3).

    Notes: MVA = s_B (lag/365) Σ_t E|ΔV| DF, with E|ΔV| = |Δ| S σ √(1/365) √(2/π) per day.
    """
    lag = scalar_number(lag_days, "lag_days", default=1.0, lo=0, hi=30)
    r_d = scalar_number(discount_rate, "discount_rate", default=0.0, lo=-0.05, hi=1)
    return batch_cells(
        lambda d, s, v, t, sb: mva_vm_batch(d, s, v, t, sb, lag_days=lag, discount_rate=r_d),
        numbers(abs_delta_coin, "abs_delta_coin", lo=0, unit="coins"),
        numbers(spot, "spot", lo=0, lo_open=True, unit="USD"),
        numbers(vol, "vol", lo=0, hi=10),
        numbers(tenor_years, "tenor_years", lo=0, lo_open=True, hi=50),
        numbers(borrow_spread, "borrow_spread", lo=-0.05, hi=1, unit=RATE),
    )


@excel_function(
    "KVA",
    rows=("exposure", "risk_weight", "capital_ratio", "cost_of_capital", "tenor_years"),
    category=XVA,
    args={
        "exposure": "exposure at default (EAD), USD (from CQ_SACCR or the article's trade exposure)",
        "risk_weight": "risk weight, decimal (2% for a qualifying CCP, CRE54.14)",
        "capital_ratio": "capital ratio, decimal (8%)",
        "cost_of_capital": "cost of capital (hurdle rate), decimal (10%)",
        "tenor_years": "years the capital is held (default 1)",
    },
    returns="KVA, USD: exposure x RW x capital ratio x cost of capital x tenor",
    example="=CQ_KVA(20000000, 0.02, 0.08, 0.1) -> 3200 (the article's KVA)",
)
def kva(exposure: Any, risk_weight: Any, capital_ratio: Any, cost_of_capital: Any, tenor_years: Any = 1.0) -> list[list[Any]]:
    """Capital cost, the article's simple form (docs/methodology.md §D3 KVA, §D4 risk weights, §F1 the article's 3,200)."""
    return per_cell(
        kva_simple,
        numbers(exposure, "exposure", lo=0, unit="USD"),
        numbers(risk_weight, "risk_weight", lo=0, hi=12.5),
        numbers(capital_ratio, "capital_ratio", lo=0, hi=1),
        numbers(cost_of_capital, "cost_of_capital", lo=0, hi=1),
        numbers(tenor_years, "tenor_years", default=1.0, lo=0, hi=50),
    )


SACCR_FIELDS = (
    "supervisory_delta",
    "adjusted_notional",
    "maturity_factor",
    "addon",
    "multiplier",
    "replacement_cost",
    "pfe",
    "ead",
)


@excel_function(
    "SACCR",
    category=XVA,
    args={
        "cp": "C/call or P/put",
        "direction": "+1 long (bought) or -1 short (sold)",
        "spot": "spot, USD per coin",
        "strike": "strike, USD",
        "units": "coins",
        "tenor_years": "years to expiry",
        "mtm": "mark-to-market of the trade, USD (default 0)",
        "collateral": "VM collateral held, USD (default 0)",
        "posted_im": "IM posted that is not bankruptcy-remote, USD (default 0)",
        "margined": "TRUE (default, margined netting set) or FALSE",
        "headers": "TRUE (default) adds a header row",
    },
    returns="one row: supervisory delta, adjusted notional, maturity factor, add-on, multiplier, RC, PFE, EAD = 1.4 (RC + PFE)",
    example='=CQ_SACCR("C", 1, 60000, 65000, 166.67, 0.25)',
)
def saccr(
    cp: Any,
    direction: Any,
    spot: Any,
    strike: Any,
    units: Any,
    tenor_years: Any,
    mtm: Any = 0.0,
    collateral: Any = 0.0,
    posted_im: Any = 0.0,
    margined: Any = True,
    headers: Any = True,
) -> list[list[Any]]:
    """SA-CCR exposure of a single option (Basel CRE52; docs/methodology.md §D5)."""
    w = scalar_choice(cp, "cp", CP, default=None)
    d = scalar_choice(direction, "direction", {"1": 1, "-1": -1, "long": 1, "short": -1, "buy": 1, "sell": -1}, default=None)
    r = saccr_option(
        w,
        d,
        scalar_number(spot, "spot", lo=0, lo_open=True),
        scalar_number(strike, "strike", lo=0, lo_open=True),
        scalar_number(units, "units", lo=0),
        scalar_number(tenor_years, "tenor_years", lo=0, hi=50),
        mtm=scalar_number(mtm, "mtm", default=0.0),
        collateral=scalar_number(collateral, "collateral", default=0.0),
        posted_im_non_br=scalar_number(posted_im, "posted_im", default=0.0, lo=0),
        margined=scalar_bool(margined, "margined", default=True),
    )
    row = [float(getattr(r, f)) for f in SACCR_FIELDS]
    return titled(headers, SACCR_FIELDS, [row], default=True)


@excel_function(
    "CCVA",
    rows=("im_non_br", "tenor_years"),
    category=XVA,
    args={
        "im_non_br": "IM posted to the CCP that is not bankruptcy-remote (or ΔIM), USD",
        "tenor_years": "trade tenor, years",
        "ccp_type": "qccp (PD 0.05%, LGD 40%; default) or crypto_exchange (PD 1%, LGD 60%)",
        "default_fund": "default-fund contribution at risk, USD (default 0)",
        "pd_annual": "annual CCP default probability, decimal (overrides the preset)",
        "lgd": "loss given CCP default, decimal (overrides the preset)",
        "profile": "flat (default) or sqrt run-off of the exposure",
        "discount_rate": f"discount rate, {RATE} (default 0)",
    },
    returns="CCVA (CCP default cost), USD: LGD Σ PD(t_{i-1}, t_i) DF(t_i) (IM(t_i) + DF contribution)",
    example='=CQ_CCVA(950000, 0.25, "qccp") -> 47.5',
)
def ccva_(
    im_non_br: Any,
    tenor_years: Any,
    ccp_type: Any = "qccp",
    default_fund: Any = 0.0,
    pd_annual: Any = None,
    lgd: Any = None,
    profile: Any = "flat",
    discount_rate: Any = 0.0,
) -> list[list[Any]]:
    """Expected loss from the CCP's own default on posted, non-remote IM (docs/methodology.md §D3, CCVA)."""
    kind = scalar(ccp_type, "ccp_type")
    pd0, lgd0 = ccp_default_params("qccp" if is_blank(kind) else str(kind).strip().lower())
    pd_ = scalar_number(pd_annual, "pd_annual", default=pd0, lo=0, hi=1)
    lgd_ = scalar_number(lgd, "lgd", default=lgd0, lo=0, hi=1)
    shape = scalar_choice(profile, "profile", PROFILES, default="flat")
    fund = scalar_number(default_fund, "default_fund", default=0.0, lo=0)
    r_d = scalar_number(discount_rate, "discount_rate", default=0.0, lo=-0.05, hi=1)

    return batch_cells(
        lambda im, t: ccva_lifetimes(im, t, pd_, lgd_, default_fund=fund, profile=shape, discount_rate=r_d),
        numbers(im_non_br, "im_non_br", lo=0, unit="USD"),
        numbers(tenor_years, "tenor_years", lo=0, lo_open=True, hi=50),
    )


@excel_function(
    "K_CM",
    rows=("k_ccp", "df_member", "df_ccp", "df_all_members"),
    category=XVA,
    args={
        "k_ccp": "the CCP's hypothetical capital K_CCP, USD",
        "df_member": "this member's prefunded default-fund contribution, USD",
        "df_ccp": "the CCP's own prefunded resources junior to members, USD",
        "df_all_members": "all members' prefunded contributions, USD",
    },
    returns="capital requirement for default-fund exposure, USD: max(K_CCP DF_i / (DF_CCP + DF_CM), 8% x 2% x DF_i) (CRE54.32)",
    example="=CQ_K_CM(100000000, 5000000, 50000000, 1000000000) -> 476190.5",
)
def k_cm_(k_ccp: Any, df_member: Any, df_ccp: Any, df_all_members: Any) -> list[list[Any]]:
    """Default-fund capital of a clearing member (Basel CRE54.32)."""
    return per_cell(
        k_cm,
        numbers(k_ccp, "k_ccp", lo=0),
        numbers(df_member, "df_member", lo=0),
        numbers(df_ccp, "df_ccp", lo=0),
        numbers(df_all_members, "df_all_members", lo=0),
    )


@excel_function(
    "QUOTE",
    rows=("base", "fva", "kva", "mva", "ccva", "spread"),
    category=XVA,
    args={
        "base": "base (mid) price of the trade, USD",
        "fva": "FVA, USD (positive = cost)",
        "kva": "KVA, USD",
        "mva": "MVA, USD",
        "ccva": "CCVA, USD",
        "spread": "profit margin, USD (>= 0)",
        "side": "ask (the dealer sells; default) or bid (the dealer buys)",
    },
    returns="all-in price, USD: ask = base + FVA + KVA + MVA + CCVA + spread; bid = base - (FVA + KVA + MVA + CCVA) - spread",
    example="=CQ_QUOTE(550000, 12500, 3200, 815, 285, 2000) -> 568800 (the article's quote)",
)
def quote(base: Any, fva: Any, kva: Any, mva: Any, ccva: Any, spread: Any, side: Any = "ask") -> list[list[Any]]:
    """All-in quote from its components (DESIGN; the source article's worked example)."""
    s = scalar_choice(side, "side", {"ask": "ask", "bid": "bid", "offer": "ask"}, default="ask")
    _, (b, f, k, m, c, sp), errors = broadcast(
        numbers(base, "base", unit="USD"),
        numbers(fva, "fva", unit="USD"),
        numbers(kva, "kva", unit="USD"),
        numbers(mva, "mva", unit="USD"),
        numbers(ccva, "ccva", unit="USD"),
        numbers(spread, "spread", lo=0, unit="USD"),
    )
    return output(all_in_price(b, f + k + m + c, sp, s), errors)


def _accepts(params: Any) -> bool:
    """Whether ``params`` sets accept TRUE (RFQs filled in turn, so rows depend on each other)."""
    try:
        return scalar_bool(name_values(params, "params", RFQ_HELP).get("accept"), "accept", default=False)
    except InputError:
        return False  # the call itself reports the bad parameter


RFQ_COLUMNS = TABLE_COLUMNS["summary"]
RFQ_SIDE_COLUMNS = TABLE_COLUMNS["sides"]
RFQ_VIEWS = {"summary": "summary", "sides": "sides"}


@excel_function(
    "RFQ",
    columns=10,
    rows=("rfqs",),
    stack_ok=lambda rfqs, portfolio, market, params=None, headers=True: not _accepts(params),
    category=XVA,
    args={
        "rfqs": "RFQs with a header row: instrument (Deribit name) or legs (NAME:ratio;NAME:ratio), side (the client's: buy, sell, two-way), quantity (contracts) or notional_usd; or rows of instrument, side, quantity without a header (one row per formula)",
        "portfolio": PORTFOLIO_DOC,
        "market": "a CQ_MARKET handle, bundled, or a chain range",
        "params": "optional name/value range: model (hvar), accept (FALSE), quote/XVA parameters (sofr, funding_spread, spread_policy, ...) and margin parameters; see docs/desk.md (Parameters and their defaults)",
        "headers": "TRUE (default) adds a header row",
    },
    returns="one row per RFQ: base, ΔIM bid, ΔIM ask, FVA, KVA, MVA, CCVA, spread (the requested side: ask for buy and two-way, bid for sell), bid, ask; USD; each side priced with its own ΔIM; a bad RFQ row fails alone",
    example="=CQ_RFQ(RFQs!A1:C50, Portfolio!A1:B200, CQ_MARKET(Chain!A1:I1200), Params!A1:B12)",
    heavy=True,
)
def rfq(rfqs: Any, portfolio: Any, market: Any, params: Any = None, headers: Any = True) -> list[list[Any]]:
    """The whole cleared-RFQ pipeline per row: base price, pre-trade margin, XVA, two-way quote.

    Notes: base from the fitted surface; ΔIM per side from the margin replica against the
    portfolio (one batch); FVA/MVA/KVA/CCVA by docs/methodology.md §D; quote by CQ_QUOTE's rule.
    """
    return rfq_rows(rfqs, portfolio, market, params, headers)


def rfq_rows(
    rfqs: Any, portfolio: Any, market: Any, params: Any = None, headers: Any = True, row_offset: int = 0
) -> list[list[Any]]:
    """:func:`rfq` on a part of a larger table whose first data row is ``row_offset`` rows further
    down (a batch split in blocks names each refused row as the whole table would)."""
    bundle = market_arg(market)
    values = name_values(params, "params", RFQ_HELP)
    config = desk_config(values)
    model_arg(values.get("model"), values, bundle)  # a bad margin parameter fails the call, trades or none
    view = scalar_choice(values.get("columns"), "columns", RFQ_VIEWS, default="summary")
    book, pkey = portfolio_arg(portfolio)
    t = table(rfqs, "rfqs", any_of=(("instrument", "instrument_name", "legs"),), positional=("instrument", "side", "quantity"))
    rows = table_rows(t)
    cell_errors = [first_error(t.rows[i]) for i in range(len(rows))]
    labels = [f"{t.name}, row {t.row_numbers[i] + row_offset}" for i in range(len(rows))]
    requests = requests_from_rows(
        [None if e is not None else r for r, e in zip(rows, cell_errors)],
        labels,
        refused=[None if e is None else f"{labels[i]}: {e.reason or e}" for i, e in enumerate(cell_errors)],
    )
    # One desk book per (portfolio, market, margin configuration): its basis is built once and
    # shared by every formula that quotes against it.
    desk_book = STORE.get(
        "RFQ_BOOK",
        content_key("rfq-book", pkey, bundle.key, config.margin_key),
        lambda: Book(book),
        family=bundle.family_of("rfq-book", pkey, config.margin_key),
    )
    answer = Desk(FixedSource(bundle.snapshot), desk_book, config).quote(requests)
    columns = RFQ_SIDE_COLUMNS if view == "sides" else RFQ_COLUMNS
    out: list[list[Any]] = [[XlError("#VALUE!", why.text)] * len(columns) if why else [] for why in answer.refusals]
    if answer.batch.trades.count:
        for row, cells in zip(answer.batch.rows.tolist(), _rfq_cells(answer.table, view)):
            out[row] = cells
    return titled(headers, columns, out, default=True)


def _rfq_cells(q: QuoteTable, view: str) -> list[list[Any]]:
    """One row of cells per quoted trade: base, both ΔIM, the XVA (the requested side's, or both), bid, ask."""
    out: list[list[Any]] = list(q.cells(view))  # the side the client did not ask for is blank
    for t, why in enumerate(q.refusals):  # a price outside the no-arbitrage bounds is an error, never a number
        if why is not None:
            out[t] = [XlError("#NUM!", why)] * len(out[t])
    return out
