"""``clearquote quote``: RFQs from a CSV/xlsx table, priced as ``CQ_RFQ`` prices them.

Everything the user gives is checked before any market is built (the RFQ header, the market
file and its first bad row); the command prints one provenance line (market source and content
hash, as-of, model, funding rate, kernel path), a table a trader can read (integers as
integers, prices at the venue's tick, both ΔIM sides and the XVA of each side), and the failed
rows once below it with their reasons.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from addin.cli.output import table_text
from addin.headless.values import BookError

#: Deribit's option price tick in USD terms is not fixed (it is quoted in coin); quotes here are
#: in USD and shown to the cent, which is the venue's USD display precision.
USD_DECIMALS = 2
RFQ_INSTRUMENT = ("instrument", "instrument_name", "legs")
RFQ_SIZE = ("quantity", "notional_usd")
BOOK_COLUMNS = ("timestamp", "instrument_name", "mark_iv", "mark_price", "underlying_price", "index_price")


def check_rfq_header(table: list[list[Any]], source: str) -> None:
    """The RFQ table's header names an instrument column, a side and a size (before any market is built)."""
    header = [str(h).strip().lower() for h in table[0]]
    missing = []
    if not any(c in header for c in RFQ_INSTRUMENT):
        missing.append(f"one of {', '.join(RFQ_INSTRUMENT)}")
    if not any(c in header for c in RFQ_SIZE):
        missing.append(f"one of {', '.join(RFQ_SIZE)}")
    if missing:
        raise BookError(f"{source}: the header row needs {' and '.join(missing)}; it has {', '.join(map(str, table[0]))}")


def market_value(spec: str, as_of: str | None) -> tuple[Any, str]:
    """(what ``CQ_RFQ`` takes as ``market``, the provenance text of the source).

    ``spec`` is ``bundled`` / ``bundled:DATE`` or a file: a Deribit chain CSV (the bundled
    layout) or a ``public/get_book_summary_by_currency`` JSON snapshot. The file is parsed and
    checked here, so a file that is not a chain fails with its name and first bad row before
    anything else runs.
    """
    if spec.strip().lower().startswith("bundled"):
        return spec.strip(), spec.strip()
    from pricing.desk.live import is_live_spec

    if is_live_spec(spec):
        return live_market_value(spec, as_of)
    path = Path(spec)
    if not path.is_file():
        raise BookError(f"--market: {spec!r} is neither 'bundled[:YYYY-MM-DD]' nor an existing file")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:12]
    if path.suffix.lower() == ".json":
        rows = _json_rows(raw, path.name, as_of)
    elif path.suffix.lower() == ".csv":
        rows = _csv_rows(raw, path.name, as_of)
    else:
        raise BookError(f"--market {path.name}: give a Deribit chain .csv or a get_book_summary_by_currency .json")
    from pricing.chain import chains_from_rows
    from pricing.errors import DataError, PricingInputError

    try:
        chains_from_rows([dict(zip(rows[0], r)) for r in rows[1:]], path.name)
    except (DataError, PricingInputError) as exc:
        raise BookError(f"--market: {exc}") from None
    return rows, f"{path.name} sha256:{digest}"


def live_market_value(spec: str, as_of: str | None) -> tuple[Any, str]:
    """(chain rows, provenance) of one fresh snapshot of a live market (``deribit...``, ``replay:...``).

    Connects, takes the venue's snapshot, checks it is fresh and disconnects; a dead endpoint
    fails within the source's connect timeout with its name (exit 2).
    """
    from pricing.desk.live import open_live_source

    with open_live_source(spec, as_of=None if as_of is None else _refuse_as_of(spec), fit=False) as source:
        snap = source.current()
        snap.check_fresh()
    label = f"{snap.source} snapshot {snap.snapshot_id} (marks {snap.age_s():.1f} s old)"
    return snap.rows(), label


def _refuse_as_of(spec: str) -> Any:
    raise BookError(f"--as-of: a live market ({spec}) carries its own time; leave --as-of out")


def _csv_rows(raw: bytes, name: str, as_of: str | None) -> list[list[Any]]:
    rows = [r for r in csv.reader(raw.decode("utf-8-sig").splitlines()) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise BookError(f"--market {name}: needs a header row and at least one option row")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in BOOK_COLUMNS if c != "timestamp" and c not in header]
    if missing:
        raise BookError(
            f"--market {name}: not a Deribit chain: missing column(s) {', '.join(missing)}; it has {', '.join(header)}"
        )
    if "timestamp" not in header:
        stamp = _as_of(as_of, name)
        header.append("timestamp")
        rows = [header] + [[*r, stamp] for r in rows[1:]]
    else:
        rows[0] = header
    return rows


def _json_rows(raw: bytes, name: str, as_of: str | None) -> list[list[Any]]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BookError(f"--market {name}: not JSON ({exc})") from None
    entries = data.get("result") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise BookError(f"--market {name}: expected a non-empty list of book summaries (or {{'result': [...]}})")
    out: list[list[Any]] = [[*BOOK_COLUMNS, "bid_price", "ask_price", "open_interest"]]
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise BookError(f"--market {name}, entry {i}: not an object")
        for key in ("instrument_name", "mark_iv", "mark_price", "underlying_price"):
            if e.get(key) is None:
                raise BookError(f"--market {name}, entry {i}, field {key}: missing")
        ms = e.get("creation_timestamp")
        stamp = datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC).isoformat() if ms is not None else _as_of(as_of, name)
        index = e.get("estimated_delivery_price", e["underlying_price"])
        out.append(
            [
                stamp,
                e["instrument_name"],
                e["mark_iv"],
                e["mark_price"],
                e["underlying_price"],
                index,
                e.get("bid_price") or "",
                e.get("ask_price") or "",
                e.get("open_interest") or "",
            ]
        )
    return out


def _as_of(as_of: str | None, name: str) -> str:
    if not as_of:
        raise BookError(f"--market {name}: the file has no timestamps; give --as-of YYYY-MM-DDTHH:MM (UTC)")
    try:
        stamp = datetime.fromisoformat(as_of)
    except ValueError:
        raise BookError(f"--as-of: {as_of!r} is not an ISO date/time (YYYY-MM-DDTHH:MM, UTC)") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).isoformat()


def provenance(market: Any, source: str, params: list[list[Any]] | None) -> str:
    """One line: market source, as-of, margin model, funding rate, venue capital preset, kernel path."""
    from pricing import accel
    from udfs.excel import params as name_values
    from udfs.market import make_market, quote_params_arg
    from udfs.xva import RFQ_HELP

    bundle = make_market(market)
    values = name_values(params, "params", RFQ_HELP) if params else {}
    model = str(values.get("model") or "hvar")
    qp = quote_params_arg(values)
    funding = qp.funding_rate
    if qp.venue == "qccp":
        venue = f"venue qccp (trade exposure RW {100 * qp.risk_weight:g}%, no CVA capital)"
    else:
        venue = f"venue non_qccp (RW {100 * qp.counterparty_risk_weight:g}% + BA-CVA at {100 * qp.cva_risk_weight:g}%)"
    return (
        f"market {source} as of {bundle.market.as_of:%Y-%m-%d %H:%M}Z ({bundle.label}); model {model}; "
        f"funding rate {100 * funding:.3f}% (SOFR + spread, ACT/360); {venue}, crypto as SCO60 Group {qp.sco60_group}; "
        f"kernels {accel.backend()}"
    )


def trader_table(table: list[list[Any]], result: list[list[Any]]) -> tuple[list[list[Any]], list[str]]:
    """(rows to print, failed-row lines): the RFQ's own columns then the quote, numbers rounded."""
    rows = [[*table[0], *result[0]]]
    failed = []
    for n, (t, q) in enumerate(zip(table[1:], result[1:]), start=2):
        reasons = {str(v.reason) for v in q if hasattr(v, "reason") and getattr(v, "reason", "")}
        if any(hasattr(v, "reason") for v in q):
            first = next(v for v in q if hasattr(v, "reason"))
            failed.append(f"  row {n} ({t[0]}): {first!s} {'; '.join(sorted(reasons)) or ''}".rstrip())
            rows.append([*t, *([""] * len(q))])
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
