"""``clearquote im-universe``: every listed option of the market, ranked by ΔIM per unit of premium for a book.

The hedge finder a desk runs at the end of the day: for each live option the market lists (each
size asked, contracts), ΔIM if the desk buys it and if it sells it, against the book alone, and
the better of the two per USD of premium. The most negative first: the trades that free the most
margin per dollar spent (or received). The book's margin basis is built once on the layout of
book + universe; the candidates are priced in blocks (:func:`pricing.margin.engine.trade_margins`),
on a Dask cluster with ``--scheduler``/``--workers``, where the basis is scattered once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from addin.cli.errors import CliUsageError
from addin.cli.output import Exit, table_text

COLUMNS = ("instrument", "size", "premium_usd", "dim_buy_usd", "dim_sell_usd", "best_side", "dim_per_premium")


def _universe_block(index: np.ndarray, basis: Any, candidates: Any) -> tuple[np.ndarray, np.ndarray]:
    """ΔIM both ways of candidates ``index`` (a task: the basis and the candidates are shared)."""
    from pricing.margin.engine import TradeLegs, trade_margins

    buy, sell = trade_margins(basis, TradeLegs.single(candidates.select(index)))
    return buy - basis.im0, sell - basis.im0


def universe(
    portfolio: Any,
    market: Any,
    model: Any,
    addons: Any,
    underlyings: tuple[str, ...] | None,
    sizes: list[float],
    block: int,
    client: Any,
) -> list[list[Any]]:
    """The ranked rows (see :data:`COLUMNS`), best first."""
    from addin.cli.cluster import run_tasks
    from pricing.margin.engine import margin_basis
    from pricing.portfolio import from_contracts
    from pricing.positions import position_state

    contracts = []
    for u, chain in sorted(market.chains.items()):
        if underlyings and u not in underlyings:
            continue
        contracts += [c for c in chain.contracts() if c.expiry > market.as_of]
    if not contracts:
        raise CliUsageError(
            f"--underlying: the market lists no live option for {', '.join(underlyings or ()) or 'any underlying'}"
        )
    size = np.repeat(np.asarray(sizes, dtype=np.float64)[None, :], len(contracts), axis=0).ravel()
    candidates = from_contracts([c for c in contracts for _ in sizes], size)
    basis = margin_basis(portfolio, market, model, addons, candidates)
    blocks = [np.arange(lo, min(lo + block, len(candidates))) for lo in range(0, len(candidates), block)]
    parts = run_tasks(client, _universe_block, blocks, basis, candidates, label="universe-block")
    dim_buy = np.concatenate([p[0] for p in parts])
    dim_sell = np.concatenate([p[1] for p in parts])
    premium = np.abs(position_state(candidates, market).value_usd)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_buy = np.where(premium > 0, dim_buy / premium, np.nan)
        per_sell = np.where(premium > 0, dim_sell / premium, np.nan)
    sell_better = np.nan_to_num(per_sell, nan=np.inf) < np.nan_to_num(per_buy, nan=np.inf)
    best = np.where(sell_better, per_sell, per_buy)
    order = np.argsort(np.nan_to_num(best, nan=np.inf), kind="stable")
    names = candidates.names
    return [
        [
            names[i],
            float(size[i]),
            float(premium[i]),
            float(dim_buy[i]),
            float(dim_sell[i]),
            "sell" if sell_better[i] else "buy",
            float(best[i]),
        ]
        for i in order
    ]


def cmd_im_universe(args: argparse.Namespace) -> int:
    from addin.cli import quote as qc
    from addin.cli.cluster import cluster
    from addin.cli.workbook import read_table, write_table_atomic
    from pricing.errors import PricingInputError

    try:
        sizes = [float(x) for x in str(args.sizes).split(",") if x.strip()]
    except ValueError:
        raise CliUsageError(f"--sizes: {args.sizes!r} is not a comma-separated list of contract sizes") from None
    if not sizes or any(not (np.isfinite(x) and x > 0) for x in sizes):
        raise CliUsageError("--sizes: every size must be > 0 contracts")
    if args.block < 1 or args.top < 0:
        raise CliUsageError("--block must be >= 1 and --top >= 0")
    if args.output and Path(args.output).suffix.lower() not in (".csv", ".xlsx"):
        raise CliUsageError(f"{Path(args.output).name}: the output must be .csv or .xlsx")
    book = read_table(Path(args.portfolio))
    pars = read_table(Path(args.params))[1:] if args.params else []
    snap, config, portfolio = qc.desk_inputs(args.market, args.as_of, pars, book)
    source = snap.source
    unds = tuple(u.strip().upper() for u in args.underlying.split(",")) if args.underlying else None
    try:
        model = qc.model_named(config, config.model, snap)
        with cluster(args.scheduler, args.workers) as client:
            rows = universe(portfolio, snap.market, model, config.addons, unds, sizes, args.block, client)
    except PricingInputError as exc:
        raise CliUsageError(str(exc)) from None
    print(
        f"ΔIM universe: {len(rows):,} candidates against {Path(args.portfolio).name} ({len(portfolio)} positions), market {source}"
    )
    print(table_text([list(COLUMNS), *rows[: args.top]], decimals=4))
    if args.output:
        write_table_atomic([list(COLUMNS), *rows], Path(args.output))
        print(f"wrote {args.output}")
    sys.stdout.flush()
    return Exit.OK
