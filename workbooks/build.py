"""Build the desk workbooks: ``python -m workbooks.build [FOLDER]``.

Each builder lays the sheet out with openpyxl (formulas, CSE arrays, styles, a native chart),
then the headless engine recalculates it and stores every result as a cached value, so the
committed files show numbers in any viewer and ``clearquote validate`` passes on them.

- ``quote_book.xlsx``: Market, Portfolio, Params, one RFQ per row (a per-row CQ_RFQ array
  formula and ordinary formulas on it), Summary.
- ``seed_example.xlsx``: the source article's worked quote, line by line, ending in $568,800.
- ``margin_lab.xlsx``: the article's ratio call spread (on its own flat-65% market) and the
  desk's book under every margin model, the scenario P&L histogram as a chart, add-ons, the
  ΔIM of a hedge and an intraday margin call.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula

from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import recalc
from addin.style import BOLD, USD, USD0, header, print_one_page_wide
from pricing.black import black76_price
from pricing.chain import load_bundled_chain
from pricing.daycount import DAYS_PER_YEAR
from udfs.surface import FIT_COLUMNS
from udfs.xva import RFQ_COLUMNS

HERE = Path(__file__).resolve().parent
FIXED_TIME = datetime(2026, 8, 21, 10, 0, 0)  # document properties: reproducible files
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
PCT = "0.000%"

AS_OF = "2026-08-21"
DESK_PARAMS = "Lab!$A$43:$B$44"
PORTFOLIO_EXPIRIES = ("25SEP26", "25DEC26")


def _workbook() -> Workbook:
    wb = Workbook()
    wb.properties.creator = "clearquote workbooks.build"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    return wb


_header = header


def _params(ws, rows: list[tuple[str, object, str]]) -> None:  # type: ignore[no-untyped-def]
    _header(ws, 1, ["name", "value", "meaning"])
    for i, (name, value, doc) in enumerate(rows, start=2):
        ws.cell(i, 1, name)
        ws.cell(i, 2, value).fill = INPUT_FILL
        ws.cell(i, 3, doc)
    ws.column_dimensions["C"].width = 60


def _near_atm(underlying: str, expiries: tuple[str, ...], per_expiry: int) -> list[str]:
    """Listed options of the bundled chain around the money, alternating calls and puts."""
    chain = load_bundled_chain(underlying, AS_OF)
    names = [n for n in chain.names if n.split("-")[1] in expiries]
    spot = chain.spot
    out = []
    for exp in expiries:
        strikes = sorted({float(n.split("-")[2]) for n in names if n.split("-")[1] == exp}, key=lambda k: abs(np.log(k / spot)))
        for i, k in enumerate(strikes[:per_expiry]):
            cp = "C" if (i % 2 == 0) == (k >= spot) else "P"
            out.append(f"{underlying}-{exp}-{k:g}-{cp}")
    return out


# ----------------------------------------------------------------------------- quote book


def quote_book() -> Workbook:
    wb = _workbook()
    about = wb.active
    about.title = "About"
    for i, line in enumerate(
        [
            "clearquote quote book: one RFQ per row, priced against the desk's cleared portfolio.",
            f'Market: the bundled Deribit BTC and ETH chains of {AS_OF} with their daily history (CQ_MARKET("bundled")).',
            "RFQs!E:N is one CQ_RFQ per row (a CSE array over the row): base from the fitted surface, ΔIM per side from the",
            "margin replica (model in Params), FVA/KVA/MVA/CCVA and the all-in bid/ask. O:Q are ordinary formulas on it.",
            "Recalculate headless: clearquote recalc quote_book.xlsx (or open with the clearquote add-in).",
        ],
        start=1,
    ):
        about.cell(i, 1, line)
    about.column_dimensions["A"].width = 120

    mk = wb.create_sheet("Market")
    mk["A1"], mk["B1"] = "market", '=CQ_MARKET("bundled")'
    mk["A1"].font = BOLD
    mk.column_dimensions["B"].width = 60
    _header(mk, 3, list(FIT_COLUMNS))
    mk["A4"] = ArrayFormula("A4:J25", "=CQ_MARKET_INFO(B1,FALSE)")
    for r in range(4, 26):
        mk.cell(r, 2).number_format = mk.cell(r, 4).number_format = "yyyy-mm-dd hh:mm"

    pf = wb.create_sheet("Portfolio")
    _header(pf, 1, ["instrument", "quantity"])
    positions = _near_atm("BTC", PORTFOLIO_EXPIRIES, 8) + _near_atm("ETH", PORTFOLIO_EXPIRIES, 6)
    for i, name in enumerate(positions, start=2):
        pf.cell(i, 1, name)
        pf.cell(i, 2, float((-1) ** i * (5 + (i * 7) % 20) * (1 if name.startswith("BTC") else 10)))
    pf.column_dimensions["A"].width = 24
    last_pf = 1 + len(positions)

    pr = wb.create_sheet("Params")
    _params(
        pr,
        [
            ("model", "hvar", "margin model: hvar, fhs, mc, span, deribit, hybrid"),
            ("accept", False, "FALSE: each RFQ priced alone against the portfolio (rows independent)"),
            ("funding_spread", 0.005, "dealer's unsecured funding spread over SOFR (decimal)"),
            ("im_rate", 0.0, "rate the CCP pays on posted IM (crypto venues: 0)"),
            ("spread_policy", "premium_pct", "profit margin rule: premium_pct, vega_pct, flat_usd"),
            ("spread_value", 0.002, "0.2% of premium"),
            ("cost_of_capital", 0.10, "hurdle rate on regulatory capital"),
            ("alpha", 0.99, "VaR confidence"),
            ("horizon_days", 2, "margin period of risk, days"),
        ],
    )
    last_pr = pr.max_row

    rq = wb.create_sheet("RFQs")
    # CQ_RFQ spills its own columns (one home: pricing.xva.quote.TABLE_COLUMNS["summary"]) from E;
    # the letters below follow them, so the sheet's formulas name columns, not positions.
    cols = ["rfq_id", "instrument", "side", "quantity", *RFQ_COLUMNS, "price", "edge_usd", "edge_bps"]
    at = {name: get_column_letter(k) for k, name in enumerate(cols, start=1)}
    first, last = at[RFQ_COLUMNS[0]], at[RFQ_COLUMNS[-1]]
    bid, ask, base = at["bid"], at["ask"], at["base"]
    _header(rq, 1, cols)
    rfqs = _near_atm("BTC", ("25SEP26", "30OCT26", "25DEC26"), 8) + _near_atm("ETH", ("25SEP26", "25DEC26"), 6)
    sides = ("buy", "sell", "two-way")
    for i, name in enumerate(rfqs, start=2):
        rq.cell(i, 1, f"RFQ-{i - 1:04d}")
        rq.cell(i, 2, name)
        rq.cell(i, 3, sides[i % 3])
        rq.cell(i, 4, float((5 + (i * 3) % 25) * (1 if name.startswith("BTC") else 10)))
        rq.cell(i, 5).value = ArrayFormula(
            f"{first}{i}:{last}{i}",
            f"=CQ_RFQ(B{i}:D{i},Portfolio!$A$1:$B${last_pf},Market!$B$1,Params!$A$1:$B${last_pr},FALSE)",
        )
        rq[f"{at['price']}{i}"] = f'=IF(C{i}="sell",{bid}{i},{ask}{i})'
        rq[f"{at['edge_usd']}{i}"] = f'=IF(C{i}="sell",{base}{i}-{bid}{i},{ask}{i}-{base}{i})'
        rq[f"{at['edge_bps']}{i}"] = f"=IF({base}{i}=0,0,{at['edge_usd']}{i}/ABS({base}{i})*10000)"
        for c in range(5, len(cols)):
            rq.cell(i, c).number_format = USD
        rq.cell(i, len(cols)).number_format = "0.0"
    rq.column_dimensions["B"].width = 24
    rq.freeze_panes = "E2"
    n = 1 + len(rfqs)
    rfq = {name: f"RFQs!{at[name]}2:{at[name]}{n}" for name in cols}

    sm = wb.create_sheet("Summary")
    _header(sm, 1, ["item", "value"])
    rows = [
        ("RFQs", f"=COUNTA({rfq['instrument']})", "0"),
        ("quoted", f"=COUNT({rfq['base']})", "0"),
        ("failed", f"=SUMPRODUCT(--ISERROR({rfq['base']}))", "0"),
        ("base premium, USD", f"=SUM({rfq['base']})", USD),
        ("ΔIM if every RFQ is lifted (ask side), USD", f"=SUM({rfq['delta_im_ask']})", USD),
        ("FVA, USD", f"=SUM({rfq['fva']})", USD),
        ("KVA, USD", f"=SUM({rfq['kva']})", USD),
        ("MVA, USD", f"=SUM({rfq['mva']})", USD),
        ("CCVA, USD", f"=SUM({rfq['ccva']})", USD),
        ("profit spread, USD", f"=SUM({rfq['spread']})", USD),
        ("XVA share of the edge", "=(B7+B8+B9+B10)/(B7+B8+B9+B10+B11)", "0.0%"),
        ("average edge, bp of base", f"=AVERAGE({rfq['edge_bps']})", "0.0"),
        ("largest ΔIM (ask), USD", f"=MAX({rfq['delta_im_ask']})", USD),
        ("RFQ with the largest ΔIM", f"=INDEX({rfq['rfq_id']},MATCH(B14,{rfq['delta_im_ask']},0))", "@"),
        ("portfolio IM (Params model), USD", f"=CQ_IM(Portfolio!$A$1:$B${last_pf},Market!$B$1,Params!B2)", USD),
    ]
    for i, (label, formula, fmt) in enumerate(rows, start=2):
        sm.cell(i, 1, label)
        sm.cell(i, 2, formula).number_format = fmt
    sm.column_dimensions["A"].width = 44
    sm.column_dimensions["B"].width = 20
    return wb


# ----------------------------------------------------------------------------- seed example


def seed_example() -> Workbook:
    wb = _workbook()
    ws = wb.active
    ws.title = "Seed"
    ws["A1"] = "The source article's worked quote: a $10M 3-month BTC call, centrally cleared (docs/methodology.md §F1)"
    ws["A1"].font = Font(bold=True, size=13)
    _header(ws, 3, ["input", "value", "source"])
    inputs = [
        ("notional, USD", 10_000_000, "article"),
        ("base price, USD", 550_000, "article"),
        ("IM before, USD", 25_200_000, "article"),
        ("IM after, USD", 26_150_000, "article"),
        ("ΔIM, USD", "=B7-B6", "IM after - IM before (article: 950,000)"),
        ("SOFR", 0.04763, "implied by FVA 12,500 (F1: 12,500 / 237,500 - 0.50%)"),
        ("funding spread over SOFR", 0.005, "article"),
        ("days", 90, "3 months, ACT/360"),
        ("KVA exposure, USD", 20_000_000, "τ = 1 form: 2x notional (F1)"),
        ("risk weight", 0.02, "article"),
        ("capital ratio", 0.08, "article"),
        ("cost of capital", 0.10, "article"),
        ("CCP default probability (annual)", 0.002, "F1's illustrative split"),
        ("LGD on IM", 0.60, "F1's illustrative split"),
        ("MVA + CCVA, USD", 1_100, "article: 16,800 - 12,500 - 3,200"),
        ("profit margin, USD", 2_000, "article: 568,800 - 566,800"),
    ]
    fmts = [USD0, USD0, USD0, USD0, USD0, PCT, PCT, "0", USD0, PCT, PCT, PCT, PCT, PCT, USD0, USD0]
    for i, ((label, value, source), fmt) in enumerate(zip(inputs, fmts), start=4):
        ws.cell(i, 1, label)
        cell = ws.cell(i, 2, value)
        cell.number_format = fmt
        if not isinstance(value, str):
            cell.fill = INPUT_FILL
        ws.cell(i, 3, source)

    _header(ws, 21, ["quote line", "article, USD", "clearquote, USD", "difference", "formula"])
    lines = [
        ("Base price", 550_000, "=B5", "the desk's model price"),
        ("FVA", 12_500, "=CQ_FVA(B8,B9+B10,0,B11)", "ΔIM x (SOFR + spread) x 90/360"),
        ("KVA", 3_200, "=CQ_KVA(B12,B13,B14,B15)", "exposure x RW x CR x CoC (τ = 1)"),
        ("MVA", 815, "=B18-C26", "the residual of the article's MVA + CCVA"),
        ("CCVA", 285, "=B8*B11/360*B16*B17", "ΔIM x 90/360 x PD x LGD"),
        ("Total adjustments", 16_800, "=SUM(C23:C26)", "FVA + KVA + MVA + CCVA"),
        ("Profit margin", 2_000, "=B19", ""),
        (
            "All-in quote",
            568_800,
            '=ROUNDUP(CQ_QUOTE(C22,C23,C24,C25,C26,C28,"ask"),0)',
            "base + adjustments + margin, up to the dollar",
        ),
    ]
    for i, (label, article, formula, doc) in enumerate(lines, start=22):
        ws.cell(i, 1, label)
        ws.cell(i, 2, article).number_format = USD0
        ws.cell(i, 3, formula).number_format = USD
        ws.cell(i, 4, f"=C{i}-B{i}").number_format = USD
        ws.cell(i, 5, doc)
    ws["A29"].font = ws["C29"].font = BOLD
    ws["A31"], ws["B31"] = "quote matches the article", "=C29=B29"
    ws["A32"], ws["B32"] = "FVA matches to the article's rounding", "=ROUND(C23,-2)=B23"
    ws["A33"], ws["B33"] = "ΔIM matches the article", "=B8=950000"
    for col, width in zip("ABCDE", (38, 18, 18, 14, 50)):
        ws.column_dimensions[col].width = width
    return wb


# ----------------------------------------------------------------------------- margin lab


def _article_chain(ws) -> int:  # type: ignore[no-untyped-def]
    """The article's market as a Deribit-layout chain: spot 52,000, vol 65% flat, r = 0."""
    as_of = datetime(2026, 8, 21, 8, 0, tzinfo=UTC)
    cols = ["timestamp", "instrument_name", "mark_iv", "mark_price", "underlying_price", "index_price"]
    _header(ws, 1, cols)
    row = 2
    for days in (30, 60, 91):
        expiry = as_of + timedelta(days=days)
        t = days / DAYS_PER_YEAR
        tag = f"{expiry.day}{expiry.strftime('%b').upper()}{expiry:%y}"
        for k in range(40_000, 70_001, 2_500):
            for cp in ("C", "P"):
                price_usd = float(black76_price(cp, 52_000.0, float(k), t, 0.65))
                ws.append(
                    [
                        as_of.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        f"BTC-{tag}-{k}-{cp}",
                        65.0,
                        price_usd / 52_000.0,
                        52_000.0,
                        52_000.0,
                    ]
                )
                row += 1
    return row - 1


def margin_lab() -> Workbook:
    import udfs  # the build picks a hedge and sizes the scenario range with the catalogue itself

    wb = _workbook()
    lab = wb.active
    lab.title = "Lab"
    ch = wb.create_sheet("ArticleChain")
    last_chain = _article_chain(ch)
    ch.column_dimensions["B"].width = 24

    article = [("BTC-20SEP26-50000-C", 10.0), ("BTC-20SEP26-55000-C", -15.0)]
    desk = [(n, float((-1) ** i * (3 + (i * 5) % 12))) for i, n in enumerate(_near_atm("BTC", PORTFOLIO_EXPIRIES, 10))]
    pf = wb.create_sheet("Portfolios")
    _header(pf, 1, ["instrument", "quantity"], 1)
    _header(pf, 1, ["instrument", "quantity"], 4)
    pf["G1"] = "A: the article's ratio call spread (F2). D: the desk's BTC book."
    for i, (n, q) in enumerate(article, start=2):
        pf.cell(i, 1, n), pf.cell(i, 2, q)
    for i, (n, q) in enumerate(desk, start=2):
        pf.cell(i, 4, n), pf.cell(i, 5, q)
    pf.column_dimensions["A"].width = pf.column_dimensions["D"].width = 24
    art = f"Portfolios!$A$1:$B${1 + len(article)}"
    book = f"Portfolios!$D$1:$E${1 + len(desk)}"

    lab["A1"] = "clearquote margin lab: initial margin under every model, the scenario P&L, add-ons, a hedge, an intraday call"
    lab["A1"].font = Font(bold=True, size=13)
    lab["A3"], lab["B3"] = "article market (flat 65%, spot 52,000)", f"=CQ_MARKET(ArticleChain!$A$1:$F${last_chain})"
    lab["A4"], lab["B4"] = "desk market (bundled Deribit)", '=CQ_MARKET("bundled")'
    _header(lab, 6, ["model", "article spread IM, USD", "desk book IM, USD", "desk IM / HS-VaR"])
    for i, model in enumerate(("hvar", "fhs", "mc", "span", "deribit"), start=7):
        lab.cell(i, 1, model)
        lab.cell(i, 2, f"=CQ_IM({art},$B$3,A{i})").number_format = USD0
        lab.cell(i, 3, f"=CQ_IM({book},$B$4,A{i})").number_format = USD0
        lab.cell(i, 4, f"=C{i}/$C$7").number_format = "0.00"
    lab["A12"], lab["B12"] = "article's stated 99.5% VaR", 98_500
    lab["A13"], lab["B13"] = "our HS-VaR at 99.5% on the article spread", f'=CQ_IM({art},$B$3,"hvar",$A$15:$B$16)'
    lab["A15"], lab["B15"] = "alpha", 0.995
    lab["A16"], lab["B16"] = "apc", "none"
    lab["A42"], lab["B42"] = "desk margin parameters", "(the replica's defaults, stated)"
    lab["A43"], lab["B43"] = "alpha", 0.995
    lab["A44"], lab["B44"] = "horizon_days", 2.0
    lab["C13"] = "ratio to the article (docs/methodology.md §F2: with 1-BTC options the article's figure is not reachable)"
    lab["D13"] = "=B13/B12"
    # The hedge: of the desk book's own options, the trade that lowers the IM most.
    handle = udfs.CQ_MARKET("bundled")[0][0]
    table = [["instrument", "quantity"], *[[n, q] for n, q in desk]]
    last = 18 + len(udfs.CQ_IM_BREAKDOWN(table, handle, "hvar", None, False))
    _header(lab, 18, ["IM breakdown (desk, hvar)", "usd"])
    lab["A19"] = ArrayFormula(f"A19:B{last}", f'=CQ_IM_BREAKDOWN({book},$B$4,"hvar",{DESK_PARAMS},FALSE)')
    for r in range(19, last + 1):
        lab.cell(r, 2).number_format = USD0

    trades = [["instrument", "quantity"]] + [[n, -q * 0.5] for n, q in desk] + [[n, q * 0.5] for n, q in desk]
    deltas = [row[0] for row in udfs.CQ_IM_DELTA(table, trades, handle)]
    best = int(np.argmin([d if isinstance(d, float) else np.inf for d in deltas]))
    hedge, against = trades[1 + best], trades[1 + (best + len(desk)) % (2 * len(desk))]
    hd = wb.create_sheet("Hedge")
    _header(hd, 1, ["instrument", "quantity", "ΔIM, USD", "IM after, USD"])
    for i, (n, q) in enumerate((hedge, against), start=2):
        hd.cell(i, 1, n), hd.cell(i, 2, q)
        hd.cell(i, 3, f'=CQ_IM_DELTA({book},A{i}:B{i},Lab!$B$4,"hvar")').number_format = USD0
        hd.cell(i, 4, f"=Lab!$C$7+C{i}").number_format = USD0
    hd["F2"], hd["F3"] = "hedge: halves a position, the IM falls", "the opposite trade: doubles it back, the IM rises"
    hd["A5"], hd["B5"] = "hedge lowers the IM", "=C2<0"
    hd.column_dimensions["A"].width = 24

    mc = wb.create_sheet("MarginCall")
    _header(mc, 1, ["currency", "amount"])
    mc["A2"], mc["B2"] = "USD", "=ROUND(Lab!C7*0.5,-3)"
    mc["A3"], mc["B3"] = "BTC", 0.5
    mc["D1"] = "intraday call: the IM on the new market against the collateral held (USD + BTC at spot)"
    _header(mc, 3, ["item", "value"], 4)
    mc["D4"] = ArrayFormula("D4:E8", f'=CQ_MARGIN_CALL({book},$A$1:$B$3,Lab!$B$4,"hvar",{DESK_PARAMS},FALSE)')
    mc["E8"].number_format = "yyyy-mm-dd hh:mm"
    mc["D10"], mc["E10"] = "call to post, USD", '=INDEX(E4:E8,MATCH("call_usd",D4:D8,0))'
    for r in range(4, 8):
        mc.cell(r, 5).number_format = USD0
    mc.column_dimensions["D"].width = 30
    mc.column_dimensions["E"].width = 18

    n = len(udfs.CQ_SCENARIO_PNL(table, handle)) - 1
    sc = wb.create_sheet("Scenarios")
    _header(sc, 1, ["end_date", "pnl_usd", "stressed"])
    sc["A2"] = ArrayFormula(f"A2:C{n + 1}", f'=CQ_SCENARIO_PNL({book},Lab!$B$4,"hvar",{DESK_PARAMS},FALSE)')
    pnl = f"$B$2:$B${n + 1}"
    _header(sc, 1, ["bin from, USD", "bin to, USD", "scenarios"], 5)
    sc["J1"], sc["K1"] = "min", f"=MIN({pnl})"
    sc["J2"], sc["K2"] = "max", f"=MAX({pnl})"
    sc["J3"], sc["K3"] = "bins", 30
    sc["J4"], sc["K4"] = "width", "=(K2-K1)/K3"
    sc["J5"], sc["K5"] = "99% VaR (loss), USD", f"=-PERCENTILE({pnl},0.01)"
    sc["J6"], sc["K6"] = "scenarios", f"=COUNT({pnl})"
    for b in range(30):
        r = 2 + b
        sc.cell(r, 5, f"=$K$1+{b}*$K$4").number_format = USD0
        # Each bin ends exactly where the next begins, and the last at the maximum itself: edges
        # recomputed as E+width would round apart from them, and a count (an exact quantity) would
        # then hang on the last bit of a P&L (the maximum fell out of the last bin on one CPU).
        sc.cell(r, 6, f"=E{r + 1}" if b < 29 else "=$K$2").number_format = USD0
        upper = '"<="' if b == 29 else '"<"'
        sc.cell(r, 7, f'=COUNTIFS({pnl},">="&E{r},{pnl},{upper}&F{r})')
    chart = BarChart()
    chart.type, chart.gapWidth = "col", 10
    chart.title = "Desk book: 2-day P&L over the HS-VaR scenarios"
    chart.y_axis.title, chart.x_axis.title = "scenarios", "P&L bin (lower edge), USD"
    chart.add_data(Reference(sc, min_col=7, min_row=1, max_row=31), titles_from_data=True)
    chart.set_categories(Reference(sc, min_col=5, min_row=2, max_row=31))
    chart.width, chart.height = 24, 12
    sc.add_chart(chart, "I9")
    for col in "ABEFG":
        sc.column_dimensions[col].width = 14
    wb.move_sheet("Scenarios", offset=-(len(wb.sheetnames) - 2))
    return wb


BUILDERS: dict[str, Callable[[], Workbook]] = {
    "quote_book.xlsx": quote_book,
    "seed_example.xlsx": seed_example,
    "margin_lab.xlsx": margin_lab,
}


def build(folder: Path = HERE, names: tuple[str, ...] = tuple(BUILDERS)) -> list[Path]:
    """Lay out, recalculate and write each workbook into ``folder`` (atomically)."""
    out = []
    for name in names:
        wb = BUILDERS[name]()
        for ws in wb.worksheets:
            print_one_page_wide(ws)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / name
            wb.save(raw)
            _, target = recalc(raw, Path(folder) / name, CATALOGUE_FUNCTIONS)
        out.append(target)
    return out


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)
