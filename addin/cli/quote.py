"""``clearquote quote``: RFQs from a CSV/xlsx table, priced as ``CQ_RFQ`` prices them.

Everything the user gives is checked before any market is built (the RFQ header, the market
file and its first bad row); the command prints one provenance line (market source and content
hash, as-of, model, funding rate, kernel path), a table a trader can read (integers as
integers, prices at the venue's tick, both ΔIM sides and the XVA of each side), and the failed
rows once below it with their reasons.
"""

from __future__ import annotations

import sys
from typing import Any

from addin.cli.errors import CliUsageError
from addin.cli.output import table_text
from pricing.errors import PricingInputError
from pricing.xva.quote import TABLE_COLUMNS

#: Deribit's option price tick in USD terms is not fixed (it is quoted in coin); quotes here are
#: in USD and shown to the cent, which is the venue's USD display precision.
USD_DECIMALS = 2
RFQ_INSTRUMENT = ("instrument", "instrument_name", "legs")
RFQ_SIZE = ("quantity", "notional_usd")


def check_rfq_header(table: list[list[Any]], source: str) -> None:
    """The RFQ table's header names an instrument column, a side and a size (before any market is built)."""
    header = [str(h).strip().lower() for h in table[0]]
    missing = []
    if not any(c in header for c in RFQ_INSTRUMENT):
        missing.append(f"one of {', '.join(RFQ_INSTRUMENT)}")
    if not any(c in header for c in RFQ_SIZE):
        missing.append(f"one of {', '.join(RFQ_SIZE)}")
    if missing:
        raise CliUsageError(f"{source}: the header row needs {' and '.join(missing)}; it has {', '.join(map(str, table[0]))}")


def open_desk(market: str, as_of: str | None, params: list[list[Any]] | None, book: list[list[Any]] | None) -> Any:
    """The desk service of the command's files (each checked, naming the file and its first bad row).

    ``market`` is ``bundled[:DATE]``, a Deribit chain CSV or a ``get_book_summary_by_currency``
    JSON (:func:`pricing.desk.open_market`); ``params`` the params file's name/value rows;
    ``book`` the positions table (None: an empty book).
    """
    from pricing.desk import Book, Desk, DeskConfig, open_market, params_from_rows

    try:
        config = DeskConfig.from_mapping(params_from_rows(params), ignore=("columns",))
        positions = Book.from_table(book, "portfolio") if book else Book.empty()
        return Desk(open_market(market, as_of=as_of), positions, config)
    except PricingInputError as exc:
        raise CliUsageError(str(exc)) from None


def desk_inputs(market: str, as_of: str | None, params: list[list[Any]] | None, book: list[list[Any]] | None) -> Any:
    """(snapshot, configuration, portfolio) of a command's files, as :func:`open_desk` reads them."""
    desk = open_desk(market, as_of, params, book)
    try:
        return desk.snapshot(), desk.config, desk.book.positions
    except PricingInputError as exc:
        raise CliUsageError(str(exc)) from None


def model_named(config: Any, name: str, snap: Any) -> Any:
    """The margin model ``name`` under the configuration's parameters, on the snapshot's history."""
    import dataclasses

    try:
        return dataclasses.replace(config, model=name).margin_model(snap.histories, snap.dvols, tuple(snap.market.surfaces))
    except PricingInputError as exc:
        raise CliUsageError(str(exc)) from None


def provenance(desk: Any) -> str:
    """One line: market source and snapshot, as-of, margin model, funding rate, venue capital preset, kernels."""
    from pricing import accel

    snap = desk.snapshot()
    qp = desk.config.quote
    if qp.venue == "qccp":
        venue = f"venue qccp (trade exposure RW {100 * qp.risk_weight:g}%, no CVA capital)"
    else:
        venue = f"venue non_qccp (RW {100 * qp.counterparty_risk_weight:g}% + BA-CVA at {100 * qp.cva_risk_weight:g}%)"
    return (
        f"market {snap.source} as of {snap.as_of:%Y-%m-%d %H:%M}Z ({snap.label}; snapshot {snap.snapshot_id}); "
        f"model {desk.config.model}; funding rate {100 * qp.funding_rate:.3f}% (SOFR + spread, ACT/360); {venue}, "
        f"crypto as SCO60 Group {qp.sco60_group}; kernels {accel.backend()}"
    )


#: The quote columns the command prints: both ΔIM sides and each side's XVA (the engine's ``sides`` view).
QUOTE_COLUMNS = TABLE_COLUMNS["sides"]


def quote_table(table: list[list[Any]], desk: Any, row_offset: int = 0) -> list[list[Any] | Any]:
    """Quote a table (header + rows) on the desk: per row the quote's cells, or its Refusal.

    Rows are named ``rfqs, row N`` as a spreadsheet numbers them (header = row 1), plus
    ``row_offset`` for a block of a larger table.
    """
    from pricing.desk import requests_from_rows

    header = [str(h).strip().lower().replace(" ", "_") for h in table[0]]
    rows = [{h: v for h, v in zip(header, r) if h and v not in (None, "")} for r in table[1:]]
    labels = [f"rfqs, row {i + 2 + row_offset}" for i in range(len(rows))]
    answer = desk.quote(requests_from_rows(rows, labels))
    cells = answer.table.cells("sides")  # the side the client did not ask for is blank
    out: list[list[Any] | Any] = list(answer.refusals)
    for t, row in enumerate(answer.batch.rows.tolist()):
        if answer.refusals[row] is None:  # a quote refused by price sanity stays refused
            out[row] = cells[t]
    return out


def trader_table(table: list[list[Any]], result: list[list[Any] | Any]) -> tuple[list[list[Any]], list[str]]:
    """(rows to print, failed-row lines): the RFQ's own columns then the quote, numbers rounded."""
    from pricing.desk import Refusal

    rows = [[*table[0], *QUOTE_COLUMNS]]
    failed = []
    for n, (t, q) in enumerate(zip(table[1:], result), start=2):
        if isinstance(q, Refusal):
            failed.append(f"  row {n} ({t[0]}): refused ({q.code.value}): {q.text}")
            rows.append([*t, *([""] * len(QUOTE_COLUMNS))])
        else:
            rows.append([*t, *q])
    return rows, failed


def print_quotes(rows: list[list[Any]], failed: list[str], out: Any = None) -> None:
    out = out or sys.stdout  # looked up per call: stdout may be replaced after import
    print(table_text(rows, USD_DECIMALS), file=out)
    if failed:
        print(f"\n{len(failed)} RFQ rows failed:", file=out)
        for line in failed:
            print(line, file=out)
