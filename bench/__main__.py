"""``python -m bench NAME``: the developer benchmarks, each beside its named peers.

A tool of the source checkout (the ``test`` extra installs the peers: QuantLib, formulas'
ExcelModel); the shipped package and its ``clearquote`` command never import ``bench``.
Benchmarks: kernels, corpus, fix, cluster, server, recalc, live, live-fix (``python -m bench NAME --help``).
"""

from __future__ import annotations

import argparse
import sys


def _at_least_one(text: str) -> int:
    """A count of at least 1 (argparse answers anything else with exit 2 naming the flag)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = out.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("kernels", help="time the pricing kernels beside QuantLib and plain numpy")
    bench.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument(
        "--kernels-only", action="store_true", help="only the per-kernel rows (quiet and loaded): no margin, RFQ or quote books"
    )
    bench.add_argument(
        "--profile",
        choices=("native", "avx2"),
        default="native",
        help="native (default), or avx2: the same run in a child with AVX-512 switched off "
        "(pricing.accel.emulation: numpy's targets above AVX2, numba for Haswell, OpenBLAS Haswell)",
    )
    bc = sub.add_parser(
        "corpus", help="formula engines against Excel's cached values on a corpus of Excel-saved books, one rule for all"
    )
    bc.add_argument(
        "--corpus", help="folder of .xlsx/.xlsm books saved by Excel (default ../shared/corpus/excel beside the project)"
    )
    bc.add_argument("--engines", default="clearquote,ironcalc,formulas,formualizer", help="comma-separated (those installed run)")
    bc.add_argument("--timeout", type=float, default=60.0, help="seconds per book and engine (default 60)")
    bc.add_argument("--limit", type=int, help="only the first N books")
    bc.add_argument("--json", action="store_true", help="print one JSON object with the totals and every book")
    bf = sub.add_parser("fix", help="FIX request-to-quote latency on loopback (QuickFIX initiator vs fix-acceptor)")
    bf.add_argument("--requests", type=_at_least_one, default=1000, help="single-leg QuoteRequests (default 1000)")
    bf.add_argument("--no-front", action="store_true", help="the acceptor without its framing front end (to measure it)")
    bcl = sub.add_parser("cluster", help="batch work on 1 and 2 local Dask workers beside the local run (the cluster extra)")
    bcl.add_argument("--books", type=int, default=200, help="quote books recalculated (default 200)")
    bs = sub.add_parser("server", help="the Office.js server under mixed load from many clients (loopback only)")
    bs.add_argument("--clients", type=int, default=20)
    bs.add_argument("--calls", type=int, default=10, help="calls per client (default 10)")
    bs.add_argument("--seconds", type=float, default=60.0, help="stop sending after this many seconds, per shape (default 60)")
    bs.add_argument("--heavy-clients", type=int, default=4, help="clients sending the shape's costly call (default 4)")
    bs.add_argument(
        "--shapes",
        default="column,medium-bodies,broadcast,over-limit",
        help="comma-separated costly shapes, one round each (default all four)",
    )
    bs.add_argument(
        "--cost", action="store_true", help="only time one call per size in this process: xlwings Server's path vs clearquote's"
    )
    bl = sub.add_parser("live", help="the live source replaying every bundled option's mark each second at 1x, 10x and max")
    bl.add_argument("--seconds", type=int, default=60, help="recorded seconds replayed at 1x and 10x (default 60)")
    bl.add_argument("--long-seconds", type=int, default=3600, help="recorded seconds replayed as fast as possible (default 3600)")
    bl.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    blf = sub.add_parser(
        "live-fix", help="tick-to-FIX-quote latency: the live replay at 1x into the FIX gateway while bench-fix's load runs"
    )
    blf.add_argument("--seconds", type=int, default=60, help="recorded seconds of marks replayed at 1x (default 60)")
    blf.add_argument("--book", type=int, default=1000, help="positions in the desk's book (default 1000, as bench fix)")
    blf.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    blf.add_argument(
        "--margin-lag-s",
        type=float,
        default=None,
        help="the live source's max_margin_lag_s (default: LiveLimits'; 0: every quote's margin on its own snapshot)",
    )
    br = sub.add_parser("recalc", help="time workbook recalculation at 1k/10k/100k rows beside formulas' ExcelModel")
    br.add_argument("--rows", default="1000,10000,100000", help="comma-separated book sizes (default 1000,10000,100000)")
    br.add_argument("--peer-max", type=int, default=1000, help="largest size also run through formulas.ExcelModel (default 1000)")
    br.add_argument(
        "--repeat", type=int, default=3, help="runs of clearquote and of each engine alone per size, medians (default 3)"
    )
    br.add_argument("--per-cell", action="store_true", help="also time clearquote with host calls one a cell (before columns)")
    return out


def run(args: argparse.Namespace) -> int:
    """Run the benchmark ``args.command``."""
    cmd = args.command
    if cmd == "kernels":
        from bench.kernels import run_bench, run_profile

        if args.profile != "native":
            flags = [f for f, on in (("--quick", args.quick), ("--json", args.json), ("--kernels-only", args.kernels_only)) if on]
            return run_profile(args.profile, flags)
        run_bench(quick=args.quick, as_json=args.json, kernels_only=args.kernels_only)
        return 0
    if cmd == "cluster":
        from bench.cluster import run_bench_cluster

        return run_bench_cluster(args.books)
    if cmd == "fix":
        from bench.fix import run_bench_fix

        return run_bench_fix(args.requests, front=not args.no_front)
    if cmd == "live":
        from bench.live import run_bench_live

        return run_bench_live(args.seconds, args.long_seconds, args.json)
    if cmd == "live-fix":
        from bench.live_fix import run_bench_live_fix

        return run_bench_live_fix(args.seconds, args.book, args.json, args.margin_lag_s)
    if cmd == "server":
        from bench.server import SHAPES, run_bench_server, run_call_cost

        if args.cost:
            return run_call_cost()
        shapes = tuple(x.strip() for x in args.shapes.split(",") if x.strip())
        if not shapes or set(shapes) - set(SHAPES) or not 0 <= args.heavy_clients <= args.clients:
            raise SystemExit(f"--shapes: one or more of {', '.join(SHAPES)}; --heavy-clients: 0 to --clients")
        return run_bench_server(args.clients, args.calls, args.seconds, args.heavy_clients, shapes)
    if cmd == "corpus":
        from pathlib import Path

        from bench.corpus import ENGINES, default_corpus, run_bench_corpus

        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        bad = [e for e in engines if e not in ENGINES]
        if bad:
            from addin.errors import UsageError

            raise UsageError(f"--engines: {', '.join(bad)} not one of {', '.join(ENGINES)}")
        corpus = Path(args.corpus) if args.corpus else default_corpus()
        return run_bench_corpus(corpus, engines, args.timeout, args.limit, args.json)
    from bench.recalc import run_bench_recalc

    return run_bench_recalc(
        [int(x) for x in args.rows.split(",") if x.strip()], args.peer_max, max(1, args.repeat), args.per_cell
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from addin.headless.values import BookError

    try:
        return run(args)
    except (BookError, ValueError) as exc:
        print(f"python -m bench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
