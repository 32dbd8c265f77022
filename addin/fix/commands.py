"""The FIX host's commands on ``clearquote`` (entry point ``fix`` of :data:`addin.commands.GROUP`):
``fix-acceptor``, ``fix-admin``, ``fix-log`` and ``block-rfq``.

The desk's limits follow one rule: the params file (``--params``, the desk configuration) is the
base; a flag given on the command line overrides that one field; flags have no defaults of their
own (the defaults live in ``QuoteLimits``/``RiskLimits`` only). So the same params file gives the
same refusal from ``clearquote quote``, the acceptor and Block RFQ.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from addin.fix.errors import FixUsageError
from addin.fix.front import FrontLimits, LimitError

if TYPE_CHECKING:
    from addin.commands import CliServices, SubParsers

#: The front end's flags: each ``FrontLimits`` field, its flag, its type and its help.
FRONT_FLAGS: dict[str, tuple[str, type, str]] = {
    "max_message_bytes": ("--max-message-bytes", int, "largest BodyLength (9) a client may declare, bytes"),
    "logon_timeout_s": ("--logon-timeout", float, "seconds from connect to a completed Logon"),
    "max_connections": ("--max-connections", int, "open client connections, all peers"),
    "max_connections_per_peer": ("--max-connections-per-peer", int, "open client connections from one address"),
    "max_pending_logons": ("--max-pending-logons", int, "open connections not yet logged on"),
    "idle_heartbeats": ("--idle-heartbeats", float, "drop a logged-on client silent this many HeartBtInts"),
    "max_heartbeat_s": ("--max-heartbeat", int, "largest HeartBtInt (108) a Logon may ask for, seconds"),
    "write_timeout_s": ("--write-timeout", float, "drop a connection whose write waits longer, either way, seconds"),
    "drain_timeout_s": ("--drain-timeout", float, "after a client's half-close, seconds for QuickFIX's answers"),
    "refusal_log_s": ("--refusal-log-window", float, "one refusal line per limit and peer per window, then a count, s"),
}

#: The acceptor's flags and the desk parameter each one sets (``pricing.desk.DESK_HELP`` names).
FLAG_FIELDS = {
    "max_qty": "max_contracts",
    "max_market_age": "max_market_age_s",
    "validity": "quote_validity_s",
    "fill_tolerance": "fill_tolerance",
}


def register(sub: SubParsers, cli: CliServices) -> None:
    """Add the FIX host's commands (:class:`addin.commands.Register`)."""
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
    fa.add_argument("--params", help="name,value table: model, quote/XVA and margin parameters, limits (as CQ_RFQ's params)")
    fa.add_argument(
        "--journal", default="clearquote-fix.sqlite", help="SQLite journal of quotes and fills (default ./clearquote-fix.sqlite)"
    )
    fa.add_argument(
        "--max-qty", type=float, help="largest OrderQty quoted, contracts (max_contracts: default the params file's, else 1000)"
    )
    fa.add_argument(
        "--max-market-age",
        type=float,
        help="refuse when the market is older, seconds (max_market_age_s: default the params file's, else 0: no check)",
    )
    fa.add_argument(
        "--validity", type=float, help="seconds a quote stays valid (quote_validity_s: default the params file's, else 10)"
    )
    fa.add_argument(
        "--fill-tolerance",
        type=float,
        help="refuse a fill if the mid moved more, relative (fill_tolerance: default the params file's, else 0.005)",
    )
    fa.add_argument("--kill-file", help="the kill switch: quoting stops while this file exists (default JOURNAL.kill)")
    fa.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pre-trade risk limit over the params file's, e.g. max_notional_usd=5e7 (docs/fix-invariants.md lists them)",
    )
    front = fa.add_argument_group(
        "front end",
        "the framing front on the public port; QuickFIX on a loopback port, confined to the loopback device (docs/fix-invariants.md)",
    )
    defaults = FrontLimits()
    for name, (flag, kind, text) in FRONT_FLAGS.items():
        front.add_argument(flag, dest=name, type=kind, help=f"{text} (default {getattr(defaults, name):,})")
    front.add_argument(
        "--no-front",
        action="store_true",
        help="QuickFIX listens on the settings' address itself: no message size, logon deadline or connection limit "
        "(for measurement, or behind a proxy that enforces them)",
    )
    front.add_argument(
        "--allow-unconfined-quickfix",
        action="store_true",
        help="serve even if QuickFIX's loopback listener cannot be bound to the loopback device (SO_BINDTODEVICE): "
        "QuickFIX 1.16 then listens on every interface, reachable past the front (default: exit 2 naming the cause)",
    )
    fa.set_defaults(handler=_acceptor)
    fx = sub.add_parser(
        "fix-admin", help="the FIX acceptor's kill switch: kill (stop quoting, cancel live quotes), resume, status"
    )
    fx.add_argument("action", choices=("kill", "resume", "status"))
    fx.add_argument("--journal", default="clearquote-fix.sqlite", help="the acceptor's journal")
    fx.add_argument("--kill-file", help="the acceptor's --kill-file (default JOURNAL.kill)")
    fx.set_defaults(handler=_admin)
    br = sub.add_parser(
        "block-rfq", help="a Deribit Block RFQ maker notification (JSON) -> add_block_rfq_quote parameters, offline"
    )
    br.add_argument("notification", help="a block_rfq.maker.{currency} notification (envelope, params or data), JSON")
    br.add_argument("-o", "--output", help="write the parameters to this .json (atomic; default: print)")
    br.add_argument("--portfolio", help="the desk's positions (instrument, quantity) (default: none)")
    br.add_argument("--market", default="bundled", help="bundled, bundled:YYYY-MM-DD, or a chain file")
    br.add_argument("--params", help="name,value table: model, quote/XVA and margin parameters, limits")
    br.set_defaults(handler=_block_rfq)
    fl = sub.add_parser("fix-log", help="the FIX gateway's journal: quotes, refusals and fills; --output x.xlsx exports both")
    fl.add_argument("--journal", default="clearquote-fix.sqlite", help="the acceptor's journal")
    fl.add_argument("--table", choices=("quotes", "fills", "cancels", "quarantine"), default="quotes")
    fl.add_argument("-o", "--output", help="export both tables to this .xlsx (atomic)")
    fl.set_defaults(handler=_log)


def _log(args: argparse.Namespace) -> int:
    from addin.fix import run

    return run.fix_log(args.journal, args.output, args.table)


def _admin(args: argparse.Namespace) -> int:
    from addin.fix import run

    return run.fix_admin(args.journal, args.action, args.kill_file)


def _block_rfq(args: argparse.Namespace) -> int:
    from addin.fix import run
    from addin.fix.block_rfq import block_rfq

    return block_rfq(args.notification, args.output, run.build_desk(args.portfolio, args.market, args.params))


def _acceptor(args: argparse.Namespace) -> int:
    from addin.fix import run

    return run.run_acceptor(
        args.settings,
        args.portfolio,
        args.market,
        args.params,
        args.journal,
        desk_overrides(args),
        args.as_of,
        kill_file=args.kill_file,
        credentials=args.credentials,
        front=front_limits(args),
        allow_unconfined=args.allow_unconfined_quickfix,
    )


def front_limits(args: argparse.Namespace) -> FrontLimits | None:
    """The front's limits from the flags given over ``FrontLimits``' defaults (None with ``--no-front``);
    a bad value is exit 2 naming its flag."""
    given = {name: getattr(args, name) for name in FRONT_FLAGS if getattr(args, name) is not None}
    if args.no_front:
        if getattr(args, "allow_unconfined_quickfix", False):
            raise FixUsageError("--no-front: --allow-unconfined-quickfix is about QuickFIX's listener behind the front")
        if given:
            flags = ", ".join(FRONT_FLAGS[n][0] for n in given)
            raise FixUsageError(f"--no-front: there is no front for {flags} to limit")
        return None
    try:
        return FrontLimits(**given)
    except LimitError as exc:
        flag = FRONT_FLAGS.get(exc.name, (f"--{exc.name}",))[0]
        raise FixUsageError(f"{flag}: {exc}") from None


def desk_overrides(args: argparse.Namespace) -> dict[str, float]:
    """The flags given, as desk parameters over the params file's (a flag not given leaves the file's
    value, or the configuration's default, in place: flags have no defaults of their own)."""
    from dataclasses import fields

    from pricing.desk import ConfigError, DeskConfig
    from pricing.desk.limits import RiskLimits

    out = {name: float(getattr(args, flag)) for flag, name in FLAG_FIELDS.items() if getattr(args, flag) is not None}
    if out.get("max_contracts", 1.0) <= 0 or out.get("quote_validity_s", 1.0) <= 0:
        raise FixUsageError("--max-qty and --validity must be > 0, --max-market-age and --fill-tolerance >= 0")
    names = [f.name for f in fields(RiskLimits)]
    for pair in args.limit:
        name, _, raw = pair.partition("=")
        if name.strip() not in names:
            raise FixUsageError(f"--limit {pair!r}: the name is one of {', '.join(names)}")
        try:
            out[name.strip()] = float(raw)
        except ValueError:
            raise FixUsageError(f"--limit {pair!r}: {raw!r} is not a number") from None
    try:
        DeskConfig.from_mapping(out)  # the flags alone: a bad one is named as a flag, before the files are read
    except ConfigError as exc:
        raise FixUsageError(f"--max-qty/--max-market-age/--validity/--fill-tolerance/--limit: {exc}") from None
    return out
