"""``clearquote live``: the live desk on one screen — market age, surface fits, the book's IM against the venue's.

Refreshes every ``--refresh`` seconds (rich's live display on a terminal; ``--plain`` prints one
text block per refresh, for logs). The book is the account's (private API: ``--credentials`` or
``DERIBIT_CLIENT_ID``/``DERIBIT_CLIENT_SECRET``) or a positions file watched for changes
(``--portfolio``). ``--journal`` adds the FIX gateway's fills (its journal, read only, re-read
when it changes) by the live book's rule: each fill less what the venue's trades under its label
have shown of it inside the account's positions (:mod:`pricing.desk.fills`; with a positions
file, which shows no trades, the fills are added whole). Each new snapshot or book change
re-runs the desk's margin model and compares it with the venue's reported IM/MM;
``--margin-log`` appends every comparison to a CSV.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from addin.cli.output import Exit


def cmd_live(args: Any) -> int:
    from pricing.desk import DeskConfig
    from pricing.desk.fills import JournalFills
    from pricing.desk.live import is_live_spec, open_live_source
    from pricing.desk.live.account import load_credentials
    from pricing.desk.live.watch import MarginWatch, PositionsFile
    from pricing.errors import PricingInputError

    if not is_live_spec(args.market):
        raise PricingInputError(
            f"--market {args.market!r}: clearquote live needs deribit, deribit-test, deribit:ws[s]://... or replay:FILE"
        )
    if not (args.refresh > 0 and (args.seconds is None or args.seconds > 0)):
        raise PricingInputError("--refresh and --seconds must be > 0")
    credentials = load_credentials(Path(args.credentials) if args.credentials else None)
    watched = PositionsFile(Path(args.portfolio)) if args.portfolio else None
    if credentials is not None and watched is not None:
        raise PricingInputError("give the book either from the account (--credentials / environment) or --portfolio, not both")
    journal = JournalFills(Path(args.journal)) if args.journal else None
    config = DeskConfig.from_mapping({"model": args.model})
    watch = MarginWatch(
        config.margin_model(underlyings=("BTC", "ETH")),
        config.addons,
        alert_relative=args.alert,
        log=Path(args.margin_log) if args.margin_log else None,
    )
    with open_live_source(args.market, credentials=credentials) as source:
        return _loop(source, watch, watched, args, journal)


def _loop(source: Any, watch: Any, watched: Any, args: Any, journal: Any = None) -> int:
    from rich.console import Console
    from rich.live import Live

    console = Console(file=sys.stdout, force_terminal=False if args.plain else None, width=140 if args.plain else None)
    t0 = time.monotonic()
    seen: tuple[Any, ...] = ()
    checks: list[Any] = []
    alerts: list[str] = []

    def frame() -> Any:
        nonlocal seen, checks
        snap = source.current()
        if watched is not None:
            watched.poll()
        if journal is not None:
            journal.poll()
        positions, summaries = _book(source, watched, journal)
        key = (snap.snapshot_id, id(positions), id(summaries))
        if key != seen and (positions or summaries):
            seen = key
            checks = watch.check(snap, positions, summaries)
            for line in _alert_lines(checks):  # a condition is listed when it starts, not on every snapshot
                if line.split(": ", 1)[1] not in {a.split(": ", 1)[1] for a in alerts[-10:]}:
                    alerts.append(line)
        return _screen(source, snap, checks, alerts[-5:], watched, journal)

    if args.plain or not console.is_terminal:
        while args.seconds is None or time.monotonic() - t0 < args.seconds:
            console.print(frame())
            console.rule()
            time.sleep(args.refresh)
        return Exit.OK
    with Live(frame(), console=console, refresh_per_second=4, transient=False) as live:
        try:
            while args.seconds is None or time.monotonic() - t0 < args.seconds:
                time.sleep(args.refresh)
                live.update(frame())
        except KeyboardInterrupt:
            pass
    return Exit.OK


_merged: dict[tuple[int, int, int], Any] = {}


def _book(source: Any, watched: Any, journal: Any = None) -> tuple[Any, Any]:
    """(positions, summaries): the account's (or the file's) and, with a journal, the gateway's
    fills not yet seen at the venue; the same object while none of them changed."""
    from pricing.desk.fills import unseen

    if watched is not None:
        positions, seen, summaries = watched.positions, {}, {}
    elif source.account is not None:
        (positions, seen), (_, summaries) = source.account.view, source.account.frozen()
    else:
        positions, seen, summaries = {}, {}, {}
    if journal is None:
        return positions, summaries
    key = (id(positions), id(seen), journal.version)
    if key not in _merged:
        merged = dict(positions)
        for name, qty in unseen(journal.fills, seen):
            merged[name] = merged.get(name, 0.0) + qty
        _merged.clear()
        _merged[key] = {n: q for n, q in merged.items() if q != 0}
    return _merged[key], summaries


def _alert_lines(checks: list[Any]) -> list[str]:
    out = []
    for c in checks:
        stamp = f"{c.at:%H:%M:%S}Z {c.currency}"
        if c.alert:
            out.append(f"{stamp}: desk IM {c.desk_im_usd:,.0f} vs venue {c.venue_im_usd:,.0f} ({100 * c.relative:+.1f} %)")
        if c.call_usd > 0:
            out.append(f"{stamp}: MARGIN CALL {c.call_usd:,.0f} USD (collateral {c.collateral_usd:,.0f})")
        if c.below_maintenance:
            out.append(f"{stamp}: collateral below the venue's maintenance margin {c.venue_mm_usd:,.0f}")
    return out


def _money(x: float) -> str:
    return "-" if x != x else f"{x:,.0f}"


def _screen(source: Any, snap: Any, checks: list[Any], alerts: list[str], watched: Any, journal: Any = None) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    now = datetime.now(UTC)
    st = source.status
    age = snap.age_s(now)
    head = Text(
        f"{snap.source}  snapshot {snap.snapshot_id}  as of {snap.as_of:%Y-%m-%d %H:%M:%S}Z  "
        f"marks {age:.1f} s old (limit {snap.max_age_s:g} s){'  STALE' if age > snap.max_age_s else ''}  "
        f"connects {st.connects}, malformed {st.malformed}, test requests answered {st.test_requests_answered}"
        + (f"  last error: {st.last_error}" if st.last_error else "")
        + (
            f"  publications failed: {source.publish_failures} (last: {source.publish_error})"
            if getattr(source, "publish_failures", 0)
            else ""
        )
    )
    fits = Table(title="surface fits", show_lines=False)
    for col in ("ccy", "expiry", "fitted s ago", "quotes", "rmse vol pts", "butterfly-free"):
        fits.add_column(col)
    feed = snap.feed
    for ccy, surface in snap.market.surfaces.items():
        times = feed.fit_times.get(ccy, {}) if feed is not None else {}
        for f in surface.fits:
            day = str(f.expiry)[:10]
            at = times.get(day)
            fits.add_row(
                ccy,
                day,
                f"{(now - at).total_seconds():.1f}" if at else "-",
                str(f.n_quotes),
                f"{f.rmse_vol_pts:.2f}",
                str(f.butterfly_free),
            )
    book = Table(title=f"book IM (desk model {checks[0].model if checks else '-'}) vs the venue's, USD")
    for col in ("ccy", "positions", "desk IM", "venue IM", "venue MM", "desk - venue", "collateral", "call"):
        book.add_column(col)
    for c in checks:
        rel = "-" if c.relative != c.relative else f"{100 * c.relative:+.1f} %"
        book.add_row(
            c.currency,
            str(c.positions),
            _money(c.desk_im_usd),
            _money(c.venue_im_usd),
            _money(c.venue_mm_usd),
            rel + (" ALERT" if c.alert else ""),
            _money(c.collateral_usd),
            _money(c.call_usd),
        )
    parts: list[Any] = [head, fits, book]
    if watched is not None and watched.error:
        parts.append(Text(f"positions file: {watched.error}"))
    if journal is not None:
        skipped = f", {journal.skipped} unreadable rows left out" if journal.skipped else ""
        parts.append(
            Text(
                f"gateway journal {journal.path.name}: {len(journal.fills)} fills{skipped}"
                + (f"; {journal.error}" if journal.error else "")
            )
        )
        for line in journal.warnings[:3]:  # each row left out is named (the first few; the count above)
            parts.append(Text(f"warning: {line}"))
    if snap.flags:
        parts.append(Text("flags: " + "; ".join(snap.flags)))
    if alerts:
        parts.append(Text("alerts:\n  " + "\n  ".join(alerts)))
    return Group(*parts)
