"""``clearquote backtest``: each margin model's IM against the realised P&L of a book, on history.

Prints a table of the tests (or one JSON object per model with ``--json``) and writes, with
``-o report.xlsx``, a workbook with the test table and, per model, the IM-vs-loss series with a
native Excel line chart. The engine is :mod:`pricing.margin.backtest`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from addin.cli.errors import CliUsageError
from addin.cli.output import Exit, table_text, write_atomic
from pricing.margin.backtest import BACKTEST_COLUMNS

MODELS = ("hvar", "fhs", "span", "deribit", "hybrid")


def parse_models(text: str) -> list[str]:
    """``hvar,fhs`` -> the list; an unknown name is bad input naming the allowed ones."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in MODELS]
    if bad or not names:
        raise CliUsageError(f"--model: {', '.join(bad) or repr(text)} is not allowed; use one or more of {', '.join(MODELS)}")
    return names


def cmd_backtest(
    book_path: str,
    models: str,
    market: str,
    params: str | None,
    output: str | None,
    as_json: bool,
    overlapping: bool,
    quiet: bool,
    as_of: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> int:
    from addin.cli import quote as qc
    from addin.cli.workbook import progress_bar, read_table

    names = parse_models(models)
    book = read_table(Path(book_path))
    pars = read_table(Path(params))[1:] if params else []
    if output and Path(output).suffix.lower() != ".xlsx":
        raise CliUsageError(f"{Path(output).name}: the report must be .xlsx")
    from pricing.errors import PricingInputError
    from pricing.margin.backtest import backtest

    snap, config, portfolio = qc.desk_inputs(market, as_of, pars, book)
    source = snap.source
    try:
        for name in names:
            qc.model_named(config, name, snap)  # every model's parameters checked before any runs
        if scheduler is not None or workers is not None:
            from addin.cli.cluster import cluster

            with cluster(scheduler, workers) as client:
                results = [
                    _backtest_on(client, name, portfolio, snap, config, book, market, as_of, pars, overlapping) for name in names
                ]
        else:
            results = []
            for name in names:
                model = qc.model_named(config, name, snap)
                with progress_bar(f"backtest {name}", quiet, unit="date", min_total=1) as (on_plan, step):
                    results.append(
                        backtest(portfolio, snap.market, model, overlapping=overlapping, progress=step, on_total=on_plan)
                    )
    except PricingInputError as exc:
        raise CliUsageError(str(exc)) from None
    summaries = [r.summary() for r in results]
    if as_json:
        for s in summaries:
            print(json.dumps(s))
    else:
        print(
            f"margin backtest of {Path(book_path).name} on market {source} (book held at its tenors and moneyness; core IM vs realised P&L)"
        )
        print(table_text([list(BACKTEST_COLUMNS), *([s[c] for c in BACKTEST_COLUMNS] for s in summaries)], decimals=4))
    if output:
        write_atomic(Path(output), lambda tmp: _report(results, summaries, tmp))
        if not as_json:
            print(f"wrote {output}")
    return Exit.OK


def _backtest_on(
    client: Any,
    name: str,
    portfolio: Any,
    snap: Any,
    config: Any,
    book: list[list[Any]],
    market: str,
    as_of: str | None,
    pars: list[list[Any]],
    overlapping: bool,
) -> Any:
    """One model's backtest on the cluster: a VaR or hybrid model as blocks of dates (the plan: the
    book, its state and the scenario library, built here once and scattered); a venue replica whole."""
    from addin.cli import quote as qc
    from addin.cli.cluster import run_tasks
    from pricing.margin.backtest import dated_plan, dated_result

    plan = dated_plan(portfolio, snap.market, qc.model_named(config, name, snap), overlapping=overlapping)
    if plan is None:
        return run_tasks(client, _backtest_task, [name], book, market, as_of, pars, overlapping, label=f"backtest-{name}")[0]
    return dated_result(plan, run_tasks(client, _dated_block, plan.blocks(), plan, label=f"backtest-{name}-dates"))


def _dated_block(span: tuple[int, int], plan: Any) -> Any:
    from pricing.margin.backtest import dated_block

    return dated_block(plan, *span)


def _backtest_task(
    name: str, book: list[list[Any]], market: str, as_of: str | None, pars: list[list[Any]], overlapping: bool
) -> Any:
    """A venue replica's backtest on a worker, whole (its revaluation is per date already)."""
    from addin.cli import quote as qc
    from pricing.margin.backtest import backtest

    snap, config, portfolio = qc.desk_inputs(market, as_of, pars, book)
    return backtest(portfolio, snap.market, qc.model_named(config, name, snap), overlapping=overlapping)


def _report(results: list[Any], summaries: list[dict[str, Any]], path: str) -> None:
    """The test table, then one sheet per model: date, IM, realised loss, exception, and a line chart."""
    import openpyxl
    from openpyxl.chart import LineChart, Reference

    from addin.style import header, print_one_page_wide, table_sheet

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Tests"
    table_sheet(ws, [list(BACKTEST_COLUMNS), *([s[c] for c in BACKTEST_COLUMNS] for s in summaries)])
    for res in results:
        sh = wb.create_sheet(res.model)
        header(sh, 1, ["date", "im_usd", "realised_loss_usd", "exception"], min_width=16)
        for d, im, pnl, exc in zip(res.dates, res.im, res.pnl, res.exception):
            sh.append([d.astype("datetime64[D]").item(), float(im), float(-pnl), bool(exc)])
        n = len(res.dates) + 1
        for row in sh.iter_rows(min_row=2, max_row=n, max_col=3):
            row[0].number_format = "yyyy-mm-dd"
            row[1].number_format = row[2].number_format = "#,##0"
        chart = LineChart()
        chart.title = f"{res.model}: core IM vs realised loss over {res.horizon_days} day(s)"
        chart.y_axis.title = "USD"
        chart.x_axis.number_format = "yyyy-mm"
        chart.add_data(Reference(sh, min_col=2, max_col=3, min_row=1, max_row=n), titles_from_data=True)
        chart.set_categories(Reference(sh, min_col=1, min_row=2, max_row=n))
        chart.width, chart.height = 28, 12
        sh.add_chart(chart, "F2")
        sh.freeze_panes = "A2"
        print_one_page_wide(sh)
    wb.save(path)
