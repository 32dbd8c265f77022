"""The quote command of ``clearquote`` (``quote``) and the table writer the commands share.

Exit codes (docs/cli.md): 0 done; 1 some quote rows failed; 2 bad input with nothing written.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from addin.cli.errors import CliUsageError
from addin.cli.output import Exit, write_atomic
from addin.progress import progress_bar as progress_bar
from addin.tables import csv_safe as csv_safe
from addin.tables import read_table as read_table


def write_table_atomic(rows: list[list[Any]], target: Path) -> None:
    """CSV or xlsx, written to a temporary file beside ``target`` and renamed."""
    if target.suffix.lower() not in (".csv", ".xlsx"):
        raise CliUsageError(f"{target.name}: the output must be .csv or .xlsx")

    def write(tmp: str) -> None:
        if target.suffix.lower() == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows([[csv_safe(_plain(v)) for v in r] for r in rows])
        else:
            _formatted_xlsx(rows, tmp)

    write_atomic(target, write)


def _formatted_xlsx(rows: list[list[Any]], path: str) -> None:
    """One sheet "Quotes" in the project's table style (addin.style)."""
    import openpyxl

    from addin.style import table_sheet

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Quotes"
    table_sheet(ws, [[_plain(v) for v in r] for r in rows])
    wb.save(path)


def _plain(v: Any) -> Any:
    return v.text() if hasattr(v, "text") and hasattr(v, "reason") else v


def cmd_quote(
    rfqs: str,
    portfolio: str | None,
    market: str,
    params: str | None,
    out: str | None,
    as_of: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    block: int = 1000,
) -> int:
    from addin.cli import quote as qc

    # Every input is read and checked before the market is built (seconds to a minute).
    table = read_table(Path(rfqs))
    qc.check_rfq_header(table, Path(rfqs).name)
    book = read_table(Path(portfolio)) if portfolio else None
    pars = read_table(Path(params))[1:] if params else []
    if out and Path(out).suffix.lower() not in (".csv", ".xlsx"):
        raise CliUsageError(f"{Path(out).name}: the output must be .csv or .xlsx")
    desk = qc.open_desk(market, as_of, pars, book)
    print(qc.provenance(desk))
    if scheduler is not None or workers is not None:
        result = _quote_on_cluster(table, book, market, as_of, pars, scheduler, workers, block, desk.config.accept)
    else:
        result = qc.quote_table(table, desk)
    rows, failed = qc.trader_table(table, result)
    qc.print_quotes(rows, failed)
    if out:
        write_table_atomic(rows, Path(out))
        print(f"wrote {out}")
    return Exit.FAILED if failed else Exit.OK


#: The desk of each worker process, by its inputs: built once, its book's basis kept between blocks.
_WORKER_DESKS: dict[str, Any] = {}


def _quote_block(
    block: tuple[int, list[list[Any]]],
    header: list[Any],
    book: list[list[Any]] | None,
    market: str,
    as_of: str | None,
    pars: list[list[Any]],
) -> list[Any]:
    """One block of RFQ rows (its offset in the table, its rows) through the desk service on a worker."""
    import hashlib

    from addin.cli import quote as qc

    key = hashlib.sha256(repr((book, market, as_of, pars)).encode()).hexdigest()
    if key not in _WORKER_DESKS:
        _WORKER_DESKS[key] = qc.open_desk(market, as_of, pars, book)
    offset, rows = block
    return qc.quote_table([header, *rows], _WORKER_DESKS[key], row_offset=offset)


def _quote_on_cluster(
    table: list[list[Any]],
    book: list[list[Any]] | None,
    market: str,
    as_of: str | None,
    pars: list[list[Any]],
    scheduler: str | None,
    workers: int | None,
    block: int,
    accept: bool,
) -> list[Any]:
    """The desk service over the table in blocks of rows on the cluster (inputs were checked by the caller)."""
    from addin.cli.cluster import cluster, run_tasks

    if block < 1:
        raise CliUsageError(f"--block: must be >= 1, got {block}")
    rows = table[1:]
    # With accept each RFQ is priced after the fills of those above it: one block, in order.
    size = len(rows) if accept else block
    blocks = [(i, rows[i : i + size]) for i in range(0, len(rows), size)]
    with cluster(scheduler, workers) as client:
        parts = run_tasks(client, _quote_block, blocks, table[0], book, market, as_of, pars, label="rfq-block")
    return [r for part in parts for r in part]
