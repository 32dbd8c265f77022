"""The Excel host's commands on ``clearquote`` (entry point ``excel`` of :data:`addin.commands.GROUP`):
``demo``, ``recalc``, ``validate``, ``functions`` (the headless engine with the catalogue's binding,
which this host composes: :mod:`addin.excel.books`), ``serve`` and ``token`` (the Office.js server).

A workbook the headless engine refuses (its ``BookError``) is answered as this host's usage error
with the same message: exit 2, never a traceback, and the command line knows neither.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from addin.excel.errors import ExcelUsageError

if TYPE_CHECKING:
    from addin.commands import CliServices, Handler, SubParsers


def register(sub: SubParsers, cli: CliServices) -> None:
    """Add the Excel host's commands (:class:`addin.commands.Register`)."""
    on = functools.partial(_bind, cli)
    demo = sub.add_parser("demo", help="recalculate the bundled quote book on the bundled market and print the quotes")
    demo.add_argument("-o", "--output", help="where to write the recalculated book (default ./quote_book-recalc.xlsx)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=on(_demo))
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
    cli.cluster_args(rc)
    rc.set_defaults(handler=on(_recalc), lazy_pricing=True)
    va = sub.add_parser("validate", help="recompute every formula and compare with the values stored in the workbook")
    va.add_argument("book", nargs="+", help=".xlsx or .xlsm workbooks (never changed); several in one run")
    va.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance for numbers (default 1e-9)")
    va.add_argument("--atol", type=float, default=1e-9, help="absolute tolerance for numbers near zero (default 1e-9)")
    va.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _budget_args(va)
    cli.cluster_args(va)
    va.set_defaults(handler=on(_validate), lazy_pricing=True)
    fn = sub.add_parser("functions", help="list the catalogue functions a workbook may call")
    fn.set_defaults(handler=on(_functions), lazy_pricing=True)
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
    sv.set_defaults(handler=on(_serve))
    tk = sub.add_parser("token", help="make an API token for the server (printed once; only its hash is stored)")
    tk.add_argument("user", help="user id the token authenticates (letters, digits, _ . @ -)")
    tk.add_argument("--tokens", required=True, help="tokens file to append the hash to (created 0600)")
    tk.set_defaults(handler=on(_token), lazy_pricing=True)


def _bind(cli: CliServices, run: Callable[[argparse.Namespace, CliServices], int]) -> Handler:
    """The handler of one command: ``run`` with the command line's services; a workbook the engine
    refuses is this host's usage error, with the engine's message."""

    def handler(args: argparse.Namespace) -> int:
        from addin.headless.values import BookError

        if getattr(args, "lazy_pricing", False):
            from addin.excel import catalogue

            catalogue.ON_LOAD.append(cli.pricing_ready)  # the kernels' notice only if the book prices
        try:
            return run(args, cli)
        except BookError as exc:
            raise ExcelUsageError(str(exc)) from None

    return handler


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


def _demo(args: argparse.Namespace, cli: CliServices) -> int:
    from addin.excel.books import cmd_demo

    return cmd_demo(args.output, args.quiet)


def _recalc(args: argparse.Namespace, cli: CliServices) -> int:
    from addin.excel.books import cmd_recalc
    from addin.headless.isolation import Budget

    budget = Budget(args.max_memory, args.timeout)
    return cmd_recalc(args.book, args.output, args.in_place, args.cache, args.quiet, args.scheduler, args.workers, budget, cli)


def _validate(args: argparse.Namespace, cli: CliServices) -> int:
    from addin.excel.books import cmd_validate
    from addin.headless.isolation import Budget

    budget = Budget(args.max_memory, args.timeout)
    return cmd_validate(args.book, args.rtol, args.atol, args.quiet, args.scheduler, args.workers, budget, cli)


def _functions(args: argparse.Namespace, cli: CliServices) -> int:
    from addin.excel.books import cmd_functions

    return cmd_functions()


def _serve(args: argparse.Namespace, cli: CliServices) -> int:
    from addin.excel.serve import serve

    return serve(args.host, args.port, args.tokens, cli.warm, live=args.live)


def _token(args: argparse.Namespace, cli: CliServices) -> int:
    from pathlib import Path

    from addin.commands import Exit
    from addin.excel.tokens import new_token

    try:
        token = new_token(args.user, Path(args.tokens))
    except (ValueError, OSError) as exc:
        raise ExcelUsageError(str(exc)) from None
    print(token)
    return Exit.OK
