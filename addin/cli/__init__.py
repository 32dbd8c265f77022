"""The ``clearquote`` command line: the parser and the dispatch (exit codes: :class:`addin.cli.output.Exit`).

Its own commands are the desk service's and the engine's (quote, im-universe, backtest, live, ...);
the other hosts add theirs through entry points (:mod:`addin.commands`), so it imports no other host.
"""

from __future__ import annotations

import argparse
import sys

from addin.cli.output import Exit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearquote", description="Cleared crypto-options RFQ pricing: workbooks, quotes, margin."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    qu = sub.add_parser("quote", help="price a table of RFQs (CSV or xlsx) without a workbook")
    qu.add_argument("rfqs", help="RFQ table with a header row: instrument (or legs), side, quantity (or notional_usd)")
    qu.add_argument("-o", "--output", help="write the quotes to this .csv or .xlsx")
    qu.add_argument("--portfolio", help="the desk's positions (instrument, quantity) to compute ΔIM against (default: none)")
    qu.add_argument(
        "--market",
        default="bundled",
        help="bundled, bundled:YYYY-MM-DD, a Deribit chain .csv, a get_book_summary_by_currency .json, or live: deribit, "
        "deribit-test, deribit:ws[s]://HOST:PORT/PATH, replay:FILE[@SPEED] (default: bundled)",
    )
    qu.add_argument("--as-of", help="valuation time (UTC, YYYY-MM-DDTHH:MM) for a market file without timestamps")
    qu.add_argument("--params", help="name,value table: model, quote/XVA and margin parameters")
    qu.add_argument("--block", type=int, default=1000, help="RFQ rows per cluster task (default 1000)")
    _cluster_args(qu)
    iu = sub.add_parser("im-universe", help="rank every listed option by ΔIM per unit of premium against a book (hedge finder)")
    iu.add_argument("--portfolio", required=True, help="the desk's positions (instrument, quantity)")
    iu.add_argument(
        "--market", default="bundled", help="bundled, bundled:YYYY-MM-DD, or a chain file (its listed options are the universe)"
    )
    iu.add_argument("--as-of", help="valuation time (UTC) for a market file without timestamps")
    iu.add_argument("--params", help="name,value table: model and margin parameters")
    iu.add_argument("--underlying", help="comma-separated underlyings of the universe (default: all the market has)")
    iu.add_argument("--sizes", default="1", help="comma-separated trade sizes in contracts, each a candidate (default 1)")
    iu.add_argument("--top", type=int, default=20, help="rows printed (default 20; the output file has all)")
    iu.add_argument("--block", type=int, default=2000, help="candidates per cluster task (default 2000)")
    iu.add_argument("-o", "--output", help="write the whole ranking to this .csv or .xlsx (atomic)")
    _cluster_args(iu)
    fd = sub.add_parser("feed", help="the live market feed: record it for replay (--market replay:FILE[@SPEED])")
    fsub = fd.add_subparsers(dest="feed_command", required=True)
    fr = fsub.add_parser("record", help="keep every raw frame with its receive time (gzip JSON lines)")
    fr.add_argument("--market", required=True, help="deribit, deribit-test or deribit:ws[s]://HOST:PORT/PATH (#BTC,ETH)")
    fr.add_argument("--to", required=True, help="the recording to write (e.g. feed.jsonl.gz; never overwritten)")
    fr.add_argument("--seconds", type=float, help="stop after this many seconds (default: at Ctrl-C)")
    lv = sub.add_parser("live", help="the live desk on one screen: market age, surface fits, the book's IM vs the venue's")
    lv.add_argument(
        "--market",
        default="deribit",
        help="deribit (default), deribit-test, deribit:ws[s]://HOST:PORT/PATH or replay:FILE[@SPEED]",
    )
    lv.add_argument(
        "--credentials", help="JSON file with client_id and client_secret, mode 600 (default: DERIBIT_CLIENT_ID/SECRET)"
    )
    lv.add_argument(
        "--portfolio", help="a positions file (instrument, quantity), re-read when it changes, instead of the account"
    )
    lv.add_argument(
        "--journal",
        help="the FIX gateway's journal (SQLite, read only): its fills join the book until the venue shows them",
    )
    lv.add_argument("--model", default="deribit", help="the desk's margin model to compare with the venue's (default deribit)")
    lv.add_argument("--alert", type=float, default=0.25, help="alert when |desk IM - venue IM| / venue IM exceeds this (0.25)")
    lv.add_argument("--margin-log", help="append every IM comparison to this CSV (the replica's error over time)")
    lv.add_argument("--refresh", type=float, default=1.0, help="seconds between screen refreshes (default 1)")
    lv.add_argument("--seconds", type=float, help="stop after this many seconds (default: at Ctrl-C)")
    lv.add_argument("--plain", action="store_true", help="print a text block per refresh instead of a live screen")
    bt = sub.add_parser(
        "backtest", help="backtest each margin model's IM of a book against its realised P&L on the bundled history"
    )
    bt.add_argument("book", help="positions table (CSV or xlsx): instrument, quantity")
    bt.add_argument(
        "--model",
        default="hvar,fhs,span,deribit",
        help="comma-separated: hvar, fhs, span, deribit, hybrid (default the first four)",
    )
    bt.add_argument(
        "--market", default="bundled", help="bundled, bundled:YYYY-MM-DD, a Deribit chain .csv or a book-summary .json"
    )
    bt.add_argument("--as-of", help="valuation time (UTC) for a market file without timestamps")
    bt.add_argument("--params", help="name,value table of model parameters")
    bt.add_argument("-o", "--output", help="write the report (tests, series, native charts) to this .xlsx")
    bt.add_argument("--json", action="store_true", help="print one JSON object per model")
    bt.add_argument(
        "--overlapping", action="store_true", help="daily windows instead of every margin period (tests then over-reject)"
    )
    bt.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _cluster_args(bt)
    sub.add_parser("warmup", help="compile every numba kernel now (first use only; later runs load them from the disk cache)")
    bn = sub.add_parser(
        "bench",
        add_help=False,
        help="the source checkout's benchmarks: clearquote bench kernels --json (python -m bench; `clearquote bench --help`)",
    )
    bn.add_argument("args", nargs=argparse.REMAINDER, help="passed to python -m bench")
    sub.add_parser("xva-example", help="the source article's $568,800 quote, then the same RFQ by the full models")
    sub.add_parser("margin-example", help="the source article's ratio call spread under every margin model")
    sd = sub.add_parser("structures", help="fit the bundled chain and price the desk's structures")
    sd.add_argument("--underlying", default="BTC", help="BTC or ETH (default BTC)")
    sd.add_argument("--as-of", default="2025-12-31", help="bundled snapshot: 2025-12-31 or 2026-08-21")
    sd.add_argument("--model", default="svi", help="smile model: svi or sabr")
    _host_commands(sub)
    return parser


def _host_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The other hosts' commands, from the installed entry points (:mod:`addin.commands`): the
    command line imports no other host. A plugin that cannot load or register is a usage error
    naming it (exit 2), never a traceback."""
    from importlib.metadata import entry_points

    from addin.cli.cluster import cluster, run_tasks
    from addin.cli.errors import PluginError
    from addin.commands import GROUP, CliServices

    services = CliServices(_pricing_ready, _cluster_args, cluster, run_tasks, _warm)
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            ep.load()(sub, services)
        except Exception as exc:  # any failure of someone else's code: named, exit 2
            raise PluginError(
                f"the command plugin {ep.name!r} ({ep.value}, entry point group {GROUP}) failed to load: "
                f"{type(exc).__name__}: {exc}; reinstall the project (pip install -e .)"
            ) from None


def announce_compilation() -> None:
    """Tell the user on stderr when a numba kernel compiles (first use only), with progress."""
    if not _numba_used():
        return
    import threading
    import time

    from pricing.accel import jit

    state = {"header": False, "t0": time.perf_counter(), "count": 0}
    lock = threading.Lock()

    def hook(name: str, seconds: float | None) -> None:
        with lock:
            _say(name, seconds)

    def _say(name: str, seconds: float | None) -> None:
        if not state["header"]:
            state["header"] = True
            print(
                "clearquote: compiling the numba kernels this command needs: first use only, 5-20 s each "
                "(about 25 s for all 7 on 2 cores), then cached on disk; `clearquote warmup` compiles all of them ahead",
                file=sys.stderr,
                flush=True,
            )
        if seconds is None:
            print(f"  compiling {name} ...", file=sys.stderr, flush=True)
        else:
            state["count"] += 1
            print(
                f"  compiled {name} in {seconds:.1f} s ({state['count']} so far, "
                f"{time.perf_counter() - state['t0']:.0f} s since start)",
                file=sys.stderr,
                flush=True,
            )

    jit.ANNOUNCE = hook


def _numba_used() -> bool:
    from pricing import accel

    try:
        return accel.enabled()
    except accel.KernelSettingError:
        return False


def _warm() -> list[str]:
    """Every kernel compiled or loaded (numpy and the engine imported only when called)."""
    from addin.cli.warmup import warm

    return warm()


def warmup() -> int:
    """``clearquote warmup``: compile (or load) every kernel, then say where the cache is."""
    import time

    from addin.cli.warmup import choose, warm

    t0 = time.perf_counter()
    names = warm()
    if not names:
        print("clearquote warmup: the numpy path is in use (numba not installed or CLEARQUOTE_KERNELS=numpy); nothing to compile")
        return Exit.OK
    print(f"clearquote warmup: {len(names)} kernels ready in {time.perf_counter() - t0:.1f} s: {', '.join(names)}")
    lines, problem = choose()
    if lines:
        print(
            "clearquote warmup: measured on this CPU (best of 5-20, interleaved), "
            "the faster path is recorded per kernel and batch size:"
        )
        for line in lines:
            print(f"  {line}")
    if problem:
        print(f"clearquote warmup: {problem}; every kernel keeps the numba path", file=sys.stderr)
    return Exit.OK


def _cluster_args(p: argparse.ArgumentParser) -> None:
    """--scheduler / --workers: run the command's tasks on a Dask cluster (the 'cluster' extra)."""
    from addin.cli.inputs import scheduler_address, worker_count

    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--scheduler",
        type=scheduler_address,
        help="a dask.distributed scheduler address (tcp://HOST:PORT or tls://HOST:PORT); paths must be visible to its workers",
    )
    g.add_argument("--workers", type=worker_count, help="a local cluster of N worker processes on 127.0.0.1 (1 to 64)")


def _run(args: argparse.Namespace) -> int:
    """Dispatch one parsed command; each module is imported only when its command runs."""
    cmd = args.command
    handler = getattr(args, "handler", None)
    if handler is not None:  # a host's own command (addin.commands)
        return int(handler(args))
    if cmd == "quote":
        from addin.cli import workbook as bc

        return bc.cmd_quote(
            args.rfqs,
            args.portfolio,
            args.market,
            args.params,
            args.output,
            args.as_of,
            args.scheduler,
            args.workers,
            args.block,
        )
    if cmd == "warmup":
        return warmup()
    if cmd == "feed":
        from addin.cli.feed import cmd_feed_record

        return cmd_feed_record(args.market, args.to, args.seconds)
    if cmd == "live":
        from addin.cli.live import cmd_live

        return cmd_live(args)
    if cmd == "backtest":
        from addin.cli.backtest import cmd_backtest

        return cmd_backtest(
            args.book,
            args.model,
            args.market,
            args.params,
            args.output,
            args.json,
            args.overlapping,
            args.quiet,
            args.as_of,
            args.scheduler,
            args.workers,
        )
    if cmd == "im-universe":
        from addin.cli.universe import cmd_im_universe

        return cmd_im_universe(args)
    return _example(args)


def _example(args: argparse.Namespace) -> int:
    if args.command == "structures":
        from addin.cli.examples.structures import run_demo

        print(run_demo(args.underlying, args.as_of, args.model))
    elif args.command == "xva-example":
        from addin.cli.examples.xva import run_xva_example

        print(run_xva_example())
    else:
        from addin.cli.examples.margin import run_margin_example

        print(run_margin_example())
    return Exit.OK


def _pricing_ready() -> None:
    """The kernels' notice and compile announcements, once the pricing engine is first needed."""
    from pricing import accel

    if notice := accel.notice():
        print(notice, file=sys.stderr)
    announce_compilation()


def _bad_input(exc: BaseException) -> bool:
    """Bad input (an option, a file, its content): exit 2 for every command, never a traceback."""
    from addin.errors import UsageError

    if isinstance(exc, UsageError):
        return True
    errors, accel = sys.modules.get("pricing.errors"), sys.modules.get("pricing.accel")
    if accel is not None and isinstance(exc, accel.KernelSettingError):
        return True
    return errors is not None and isinstance(exc, (errors.PricingInputError, errors.DataError))


def main(argv: list[str] | None = None) -> int:
    from addin.cli.errors import PluginError

    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["bench"]:  # everything after it is the benchmark's own (its --help too)
        from addin.cli.bench import cmd_bench

        return cmd_bench(args_in[1:])

    try:
        parser = _parser()
    except PluginError as exc:
        print(f"clearquote: error: {exc}", file=sys.stderr)
        return Exit.BAD_INPUT
    args = parser.parse_args(argv)
    try:
        # A command that may never touch the pricing engine (a workbook without catalogue calls)
        # calls it itself when the engine is first needed (addin.commands.CliServices).
        if not getattr(args, "lazy_pricing", False):
            _pricing_ready()  # inside the handler: a bad CLEARQUOTE_KERNELS is exit 2, not a traceback
        from addin.cli.output import check_output

        check_output(getattr(args, "output", None))  # before any work: a run must not compute, then fail to write
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`clearquote functions | head`): say so once, on stderr, and stop.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("clearquote: the output pipe closed before the output ended", file=sys.stderr)
        return Exit.BAD_INPUT
    except KeyboardInterrupt:
        print("clearquote: interrupted; nothing was written", file=sys.stderr)
        return Exit.INTERRUPTED
    except Exception as exc:
        if not _bad_input(exc):
            raise
        # 1 is for mismatches and failed rows. A message never reprints more than ~300 characters of input.
        text = str(exc)
        print(f"clearquote: error: {text if len(text) <= 300 else text[:299] + '…'}", file=sys.stderr)
        return Exit.BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
