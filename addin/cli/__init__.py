"""The ``clearquote`` command line: the parser and the dispatch (exit codes: :class:`addin.cli.output.Exit`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from addin.cli.output import Exit

if TYPE_CHECKING:
    from addin.headless.isolation import Budget


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearquote", description="Cleared crypto-options RFQ pricing: workbooks, quotes, margin."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="recalculate the bundled quote book on the bundled market and print the quotes")
    demo.add_argument("-o", "--output", help="where to write the recalculated book (default ./quote_book-recalc.xlsx)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    rc = sub.add_parser("recalc", help="recalculate every formula of a workbook and store the results as cached values")
    rc.add_argument("book", nargs="+", help=".xlsx or .xlsm workbooks (read only, unless --in-place); several in one run")
    rc.add_argument("-o", "--output", help="output workbook (default BOOK-recalc.xlsx beside it; same type as BOOK)")
    rc.add_argument("--in-place", action="store_true", help="replace BOOK itself (atomically)")
    rc.add_argument(
        "--cache",
        default=None,
        choices=("libreoffice", "all", "catalogue"),
        help="every mode stores every formula's value; libreoffice (default for a new file) also stores catalogue array "
        "formulas as plain values, which LibreOffice would recalculate to #NAME?; all (default with --in-place) keeps every "
        "formula; catalogue is all under its earlier name",
    )
    rc.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _budget_args(rc)
    _cluster_args(rc)
    va = sub.add_parser("validate", help="recompute every formula and compare with the values stored in the workbook")
    va.add_argument("book", nargs="+", help=".xlsx or .xlsm workbooks (never changed); several in one run")
    va.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance for numbers (default 1e-9)")
    va.add_argument("--atol", type=float, default=1e-9, help="absolute tolerance for numbers near zero (default 1e-9)")
    va.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _budget_args(va)
    _cluster_args(va)
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
    sub.add_parser("functions", help="list the catalogue functions a workbook may call")
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
    lv.add_argument("--model", default="deribit", help="the desk's margin model to compare with the venue's (default deribit)")
    lv.add_argument("--alert", type=float, default=0.25, help="alert when |desk IM - venue IM| / venue IM exceeds this (0.25)")
    lv.add_argument("--margin-log", help="append every IM comparison to this CSV (the replica's error over time)")
    lv.add_argument("--refresh", type=float, default=1.0, help="seconds between screen refreshes (default 1)")
    lv.add_argument("--seconds", type=float, help="stop after this many seconds (default: at Ctrl-C)")
    lv.add_argument("--plain", action="store_true", help="print a text block per refresh instead of a live screen")
    fa = sub.add_parser("fix-acceptor", help="answer FIX 4.4 QuoteRequests with Quotes (QuickFIX acceptor; the 'fix' extra)")
    fa.add_argument("settings", help="a QuickFIX settings file (docs/fix.md has one for 127.0.0.1)")
    fa.add_argument(
        "--portfolio",
        help="the desk's positions (instrument, quantity) at start (default: none); on a live market re-read when it changes",
    )
    fa.add_argument(
        "--market",
        default="bundled",
        help="bundled, bundled:YYYY-MM-DD, a chain file (re-read when it changes), or deribit... / replay:FILE",
    )
    fa.add_argument("--as-of", help="valuation time (UTC) for a market file without timestamps")
    fa.add_argument(
        "--credentials",
        help="a live market's API key (JSON client_id, client_secret; mode 0600): the account's positions are the book "
        "(default: DERIBIT_CLIENT_ID / DERIBIT_CLIENT_SECRET if set)",
    )
    fa.add_argument("--params", help="name,value table: model, quote/XVA and margin parameters (as CQ_RFQ's params)")
    fa.add_argument(
        "--journal", default="clearquote-fix.sqlite", help="SQLite journal of quotes and fills (default ./clearquote-fix.sqlite)"
    )
    fa.add_argument("--max-qty", type=float, default=1000.0, help="largest OrderQty quoted, contracts (default 1000)")
    fa.add_argument("--max-market-age", type=float, default=0.0, help="refuse when the market is older, seconds (0: no check)")
    fa.add_argument("--validity", type=float, default=10.0, help="seconds a quote stays valid (default 10)")
    fa.add_argument("--fill-tolerance", type=float, default=0.005, help="refuse a fill if the mid moved more, relative (0.005)")
    fa.add_argument("--kill-file", help="the kill switch: quoting stops while this file exists (default JOURNAL.kill)")
    fa.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pre-trade risk limit, e.g. max_notional_usd=5e7 (docs/fix-invariants.md lists them and their defaults)",
    )
    fx = sub.add_parser(
        "fix-admin", help="the FIX acceptor's kill switch: kill (stop quoting, cancel live quotes), resume, status"
    )
    fx.add_argument("action", choices=("kill", "resume", "status"))
    fx.add_argument("--journal", default="clearquote-fix.sqlite", help="the acceptor's journal")
    fx.add_argument("--kill-file", help="the acceptor's --kill-file (default JOURNAL.kill)")
    br = sub.add_parser(
        "block-rfq", help="a Deribit Block RFQ maker notification (JSON) -> add_block_rfq_quote parameters, offline"
    )
    br.add_argument("notification", help="a block_rfq.maker.{currency} notification (envelope, params or data), JSON")
    br.add_argument("-o", "--output", help="write the parameters to this .json (atomic; default: print)")
    br.add_argument("--portfolio", help="the desk's positions (instrument, quantity) (default: none)")
    br.add_argument("--market", default="bundled", help="bundled, bundled:YYYY-MM-DD, or a chain file")
    br.add_argument("--params", help="name,value table: model, quote/XVA and margin parameters")
    fl = sub.add_parser("fix-log", help="the FIX gateway's journal: quotes, refusals and fills; --output x.xlsx exports both")
    fl.add_argument("--journal", default="clearquote-fix.sqlite", help="the acceptor's journal")
    fl.add_argument("--table", choices=("quotes", "fills", "cancels", "quarantine"), default="quotes")
    fl.add_argument("-o", "--output", help="export both tables to this .xlsx (atomic)")
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
    sv = sub.add_parser("serve", help="run the Office.js server (xlwings Server), authenticated; needs the server extra")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--tokens", help="tokens file for token auth (default $CLEARQUOTE_TOKENS_FILE); Entra ID: set XLWINGS_AUTH_PROVIDERS"
    )
    sv.add_argument(
        "--live",
        action="append",
        default=[],
        metavar="SPEC",
        help="a live market the streaming functions (CQ.LIVE_QUOTE, CQ.LIVE_MARKET) and market arguments may use: "
        "deribit, deribit-test, deribit:ws[s]://..., replay:FILE (repeat for more; default none)",
    )
    tk = sub.add_parser("token", help="make an API token for the server (printed once; only its hash is stored)")
    tk.add_argument("user", help="user id the token authenticates (letters, digits, _ . @ -)")
    tk.add_argument("--tokens", required=True, help="tokens file to append the hash to (created 0600)")
    sub.add_parser("warmup", help="compile every numba kernel now (first use only; later runs load them from the disk cache)")
    sub.add_parser("xva-example", help="the source article's $568,800 quote, then the same RFQ by the full models")
    sub.add_parser("margin-example", help="the source article's ratio call spread under every margin model")
    sd = sub.add_parser("structures", help="fit the bundled chain and price the desk's structures")
    sd.add_argument("--underlying", default="BTC", help="BTC or ETH (default BTC)")
    sd.add_argument("--as-of", default="2025-12-31", help="bundled snapshot: 2025-12-31 or 2026-08-21")
    sd.add_argument("--model", default="svi", help="smile model: svi or sabr")
    return parser


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
        print("clearquote warmup: measured on this CPU (best of 5, interleaved), the faster path is recorded per kernel:")
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


def _budget_args(p: argparse.ArgumentParser) -> None:
    """Each book is evaluated in a child process of its own with these limits."""
    from addin.headless.isolation import MAX_MEMORY_MIB, TIMEOUT_S

    p.add_argument(
        "--max-memory",
        type=int,
        default=MAX_MEMORY_MIB,
        metavar="MIB",
        help=f"memory one book may use, MiB (default {MAX_MEMORY_MIB}); a book over it is stopped and reported",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        metavar="S",
        help=f"CPU seconds one book may use (default {TIMEOUT_S:g}); a book over it is stopped and reported",
    )


def _budget(args: argparse.Namespace) -> Budget:
    from addin.headless.isolation import Budget

    return Budget(args.max_memory, args.timeout)


def _run(args: argparse.Namespace) -> int:
    """Dispatch one parsed command; each module is imported only when its command runs."""
    cmd = args.command
    if cmd in ("demo", "recalc", "validate", "quote", "functions"):
        from addin.cli import workbook as bc

        if cmd == "demo":
            return bc.cmd_demo(args.output, args.quiet)
        if cmd == "recalc":
            return bc.cmd_recalc(
                args.book, args.output, args.in_place, args.cache, args.quiet, args.scheduler, args.workers, _budget(args)
            )
        if cmd == "validate":
            return bc.cmd_validate(args.book, args.rtol, args.atol, args.quiet, args.scheduler, args.workers, _budget(args))
        if cmd == "quote":
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
        return bc.cmd_functions()
    if cmd == "warmup":
        return warmup()
    if cmd == "feed":
        from addin.cli.feed import cmd_feed_record

        return cmd_feed_record(args.market, args.to, args.seconds)
    if cmd == "live":
        from addin.cli.live import cmd_live

        return cmd_live(args)
    if cmd in ("fix-acceptor", "fix-log", "fix-admin", "block-rfq"):
        return _fix(args)
    if cmd in ("serve", "token"):
        return _server(args)
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


def _fix(args: argparse.Namespace) -> int:
    from addin.fix import run

    if args.command == "fix-log":
        return run.fix_log(args.journal, args.output, args.table)
    if args.command == "fix-admin":
        return run.fix_admin(args.journal, args.action, args.kill_file)
    from addin.cli.errors import CliUsageError
    from addin.fix.desk import Limits

    if args.command == "block-rfq":
        from addin.fix.block_rfq import block_rfq

        return block_rfq(args.notification, args.output, run.build_desk(args.portfolio, args.market, args.params, Limits()))

    if not (args.max_qty > 0 and args.max_market_age >= 0 and args.validity > 0 and args.fill_tolerance >= 0):
        raise CliUsageError("--max-qty and --validity must be > 0, --max-market-age and --fill-tolerance >= 0")
    limits = Limits(args.max_market_age, args.validity, args.fill_tolerance)
    risk = _risk_limits(args.limit, args.max_qty)
    return run.run_acceptor(
        args.settings,
        args.portfolio,
        args.market,
        args.params,
        args.journal,
        limits,
        args.as_of,
        risk=risk,
        kill_file=args.kill_file,
        credentials=args.credentials,
    )


def _risk_limits(pairs: list[str], max_qty: float) -> object:
    """``--limit NAME=VALUE`` pairs over the defaults (``--max-qty`` sets max_contracts)."""
    from dataclasses import fields

    from addin.cli.errors import CliUsageError
    from pricing.desk.limits import RiskLimits

    names = [f.name for f in fields(RiskLimits)]
    values: dict[str, float] = {"max_contracts": max_qty}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        if name.strip() not in names:
            raise CliUsageError(f"--limit {pair!r}: the name is one of {', '.join(names)}")
        try:
            values[name.strip()] = float(raw)
        except ValueError:
            raise CliUsageError(f"--limit {pair!r}: {raw!r} is not a number") from None
    try:
        return RiskLimits(**values)
    except ValueError as exc:
        raise CliUsageError(f"--limit: {exc}") from None


def _server(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from addin.cli.warmup import warm
        from addin.excel.serve import serve

        return serve(args.host, args.port, args.tokens, warm, live=args.live)
    from pathlib import Path

    from addin.cli.errors import CliUsageError
    from addin.excel.tokens import new_token

    try:
        token = new_token(args.user, Path(args.tokens))
    except (ValueError, OSError) as exc:
        raise CliUsageError(str(exc)) from None
    print(token)
    return Exit.OK


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


#: Commands that may never touch the pricing engine (a workbook without catalogue calls).
_LAZY = ("validate", "recalc", "functions", "token")


def _pricing_ready() -> None:
    """The kernels' notice and compile announcements, once the pricing engine is first needed."""
    from pricing import accel

    if notice := accel.notice():
        print(notice, file=sys.stderr)
    announce_compilation()


def _bad_input(exc: BaseException) -> bool:
    """Bad input (an option, a file, its content): exit 2 for every command, never a traceback."""
    from addin.errors import UsageError
    from addin.headless.values import BookError

    if isinstance(exc, (BookError, UsageError)):
        return True
    errors, accel = sys.modules.get("pricing.errors"), sys.modules.get("pricing.accel")
    if accel is not None and isinstance(exc, accel.KernelSettingError):
        return True
    return errors is not None and isinstance(exc, (errors.PricingInputError, errors.DataError))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in _LAZY:
        from addin.excel import catalogue

        catalogue.ON_LOAD.append(_pricing_ready)
    try:
        if args.command not in _LAZY:
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
