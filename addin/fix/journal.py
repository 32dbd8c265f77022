"""The gateway's journal: every quote, refusal, order answer and cancel, in SQLite, written before it is sent.

The journal is the truth, and it is what the client was told: each decision is written with the
FIX message that carries it (``message``, the body as built) in one transaction **before** the
send. A failure after journaling and before the send rewrites that row to the refusal that is
then sent (:meth:`Journal.amend_refused`), so the journal never holds a fill the client was told
was rejected. Each write is one transaction with ``synchronous=FULL`` in WAL mode, so a
``kill -9`` loses nothing that was answered. QuickFIX's own file store keeps the session's
sequence numbers; this keeps the business.

A restart replays :meth:`Journal.events` into a fresh :class:`~pricing.desk.orders.OrderBook`.
A row that cannot be read back (bad JSON, a bad time) is moved to the ``quarantine`` table in
the same transaction and named; it is never a reason to stay down. :func:`open_journal` checks
the path before anything listens: a directory, a path under a file, a file that is not a
journal, or one that cannot be written is a :class:`JournalError` naming the path.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pricing.desk.orders import ArchivedQuote, Cancel, Decision, Order, Quarantined, QuoteTerms, quarantine_reason
from pricing.desk.refusals import Refusal, RefusalCode

FILLS_DDL = """
CREATE TABLE IF NOT EXISTS fills (
    session TEXT NOT NULL,
    cl_ord_id TEXT NOT NULL,
    quote_id TEXT NOT NULL,
    filled_utc TEXT NOT NULL,
    status TEXT NOT NULL,              -- filled | rejected
    reason TEXT,
    client_side TEXT NOT NULL,         -- buy | sell (the client's), or what it sent
    quantity REAL NOT NULL,
    price REAL,                        -- USD per unit of the structure
    legs TEXT NOT NULL,                -- [[instrument, signed quantity the dealer now holds], ...] (JSON)
    limit_px REAL,                     -- the order's Price (44), if any
    code TEXT,                         -- the refusal's RefusalCode value
    message TEXT,                      -- the ExecutionReport sent
    PRIMARY KEY (session, cl_ord_id)
);
"""
SCHEMA = (
    FILLS_DDL
    + """
CREATE TABLE IF NOT EXISTS quotes (
    quote_id TEXT PRIMARY KEY,
    quote_req_id TEXT NOT NULL,
    session TEXT NOT NULL,
    received_utc TEXT NOT NULL,
    status TEXT NOT NULL,              -- quoted | refused
    reason TEXT,                       -- why refused (the AG's Text)
    request TEXT NOT NULL,             -- the request as parsed: legs, side, quantity (JSON)
    response TEXT,                     -- prices (bid_px/offer_px per unit as sent) and the breakdown (JSON)
    market TEXT NOT NULL,              -- market source and content hash
    model TEXT NOT NULL,
    params TEXT NOT NULL,              -- the parameters in force (JSON)
    valid_until_utc TEXT,
    elapsed_ms REAL NOT NULL,          -- request received to answer built
    code TEXT,                         -- the refusal's RefusalCode value
    message TEXT                       -- the FIX message sent (body as built)
);
CREATE TABLE IF NOT EXISTS cancels (
    quote_id TEXT PRIMARY KEY,
    cancelled_utc TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT
);
CREATE TABLE IF NOT EXISTS quarantine (
    source TEXT NOT NULL,              -- the table the row came from
    row_key TEXT NOT NULL,
    why TEXT NOT NULL,
    raw TEXT NOT NULL,                 -- the row as it was (JSON of its columns)
    quarantined_utc TEXT NOT NULL
);
"""
)

QUOTE_COLS = (
    "quote_id",
    "quote_req_id",
    "session",
    "received_utc",
    "status",
    "reason",
    "request",
    "response",
    "market",
    "model",
    "params",
    "valid_until_utc",
    "elapsed_ms",
    "code",
    "message",
)
JSON_COLS = ("request", "response", "params")
FILL_COLS = (
    "session",
    "cl_ord_id",
    "quote_id",
    "filled_utc",
    "status",
    "reason",
    "client_side",
    "quantity",
    "price",
    "legs",
    "limit_px",
    "code",
    "message",
)


#: Every table a journal may hold (``fills_v1`` only mid-migration, ``opened`` the open-time write).
JOURNAL_TABLES = {"quotes", "fills", "cancels", "quarantine", "opened", "fills_v1"}
#: The columns of ``fills`` before sessions were part of an order's key (migrated at open).
FILL_COLS_V1 = ("cl_ord_id", "quote_id", "filled_utc", "status", "reason", "client_side", "quantity", "price", "legs")
#: The columns of ``quotes`` before the refusal code and the message were kept (added at open).
QUOTE_COLS_V1 = tuple(c for c in QUOTE_COLS if c not in ("code", "message"))
OTHER_COLS = {
    "cancels": ("quote_id", "cancelled_utc", "reason", "message"),
    "quarantine": ("source", "row_key", "why", "raw", "quarantined_utc"),
}


class JournalError(Exception):
    """The journal cannot be used (the message names the path and what is wrong)."""


@dataclass(frozen=True)
class Fill:
    """One journaled answer to an order (legs: what the dealer now holds, for a fill)."""

    decision: Decision
    legs: list[list[Any]]
    message: str


def open_journal(path: str | Path, readonly: bool = False) -> Journal:
    """The journal at ``path``, checked before anything listens (``readonly``: opened to read only,
    as ``fix-log`` does: nothing is created, migrated or written).

    Raises
    ------
    JournalError
        The path is a directory or lies under a file, the file is not a journal (not SQLite,
        or tables of another shape), or it cannot be written; the message names the path.
    """
    p = Path(path)
    if p.is_dir():
        raise JournalError(f"{p}: is a directory, not a journal file")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise JournalError(f"{p}: cannot be a journal: {parent} is a file, not a directory")
    try:
        if readonly:
            return Journal(p, readonly=True)
        p.parent.mkdir(parents=True, exist_ok=True)
        return Journal(p)
    except (sqlite3.Error, OSError) as exc:
        raise JournalError(f"{p}: not a usable journal ({type(exc).__name__}: {exc})") from None


class Journal:
    """The SQLite journal (thread-safe: QuickFIX calls in from its session threads)."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        try:
            with self._lock:
                # The schema is read before anything is written: a SQLite file of another use is
                # refused untouched; an empty one becomes a journal.
                self._tables = self._check_schema()
                if readonly:
                    return
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._migrate()
                self._conn.executescript(SCHEMA)
                self._check_shape()
                # A write proves the journal can be written now, not at the first order.
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("CREATE TABLE IF NOT EXISTS opened (opened_utc TEXT NOT NULL)")
                self._conn.execute("INSERT INTO opened VALUES (datetime('now'))")
                self._conn.execute("COMMIT")
        except BaseException:
            self._conn.close()
            raise

    def _check_schema(self) -> set[str]:
        """The journal's tables, read without writing; raise if the file holds anything else.

        An empty file (no schema) is a new journal. Otherwise every table must be one of the
        journal's (:data:`JOURNAL_TABLES`, ``quotes`` and ``fills`` present) with its columns (of
        this schema or the previous one, which is migrated), and nothing else may be defined
        (no views, triggers or indexes but SQLite's own).
        """
        rows = self._conn.execute("SELECT type, name FROM sqlite_master").fetchall()
        if not rows:
            return set()
        foreign = sorted(
            f"{kind} {name}"
            for kind, name in rows
            if not str(name).startswith("sqlite_") and not (kind == "table" and name in JOURNAL_TABLES)
        )
        tables = {str(name) for kind, name in rows if kind == "table"}
        if foreign:
            raise sqlite3.DatabaseError(f"holds {', '.join(foreign)[:300]}: not this gateway's journal; nothing was written")
        missing_tables = sorted({"quotes", "fills"} - tables)
        if missing_tables:
            raise sqlite3.DatabaseError(
                f"a SQLite file without the journal's table(s) {', '.join(missing_tables)}: not this gateway's journal;"
                " nothing was written"
            )

        def cols(name: str) -> set[str]:
            return {str(r[1]) for r in self._conn.execute(f"PRAGMA table_info({name})")}

        wants: dict[str, tuple[tuple[str, ...], ...]] = {
            "quotes": (QUOTE_COLS_V1,),
            "fills": (FILL_COLS, FILL_COLS_V1),
            **{name: (c,) for name, c in OTHER_COLS.items()},
        }
        for name, options in wants.items():
            if name in tables and not any(set(o) <= cols(name) for o in options):
                raise sqlite3.DatabaseError(
                    f"table {name} has columns {', '.join(sorted(cols(name)))[:200]}: not this gateway's journal;"
                    " nothing was written"
                )
        return tables

    def _migrate(self) -> None:
        """A journal from before sessions were part of an order's key gets them from its quotes."""
        qcols = [r[1] for r in self._conn.execute("PRAGMA table_info(quotes)")]
        for c in ("code", "message"):
            if qcols and c not in qcols:
                self._conn.execute(f"ALTER TABLE quotes ADD COLUMN {c} TEXT")
        cols = [r[1] for r in self._conn.execute("PRAGMA table_info(fills)")]
        if not cols or "session" in cols:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("ALTER TABLE fills RENAME TO fills_v1")
            self._conn.execute(FILLS_DDL)
            self._conn.execute(
                "INSERT INTO fills (session, cl_ord_id, quote_id, filled_utc, status, reason, client_side, quantity, price, legs)"
                " SELECT COALESCE(q.session, ''), f.cl_ord_id, f.quote_id, f.filled_utc, f.status, f.reason, f.client_side,"
                " f.quantity, f.price, f.legs FROM fills_v1 f LEFT JOIN quotes q ON q.quote_id = f.quote_id ORDER BY f.rowid"
            )
            self._conn.execute("DROP TABLE fills_v1")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _check_shape(self) -> None:
        for name, want in (("quotes", QUOTE_COLS), ("fills", FILL_COLS)):
            have = {r[1] for r in self._conn.execute(f"PRAGMA table_info({name})")}
            missing = [c for c in want if c not in have]
            if missing:
                raise sqlite3.DatabaseError(f"table {name} lacks column(s) {', '.join(missing)}: not this gateway's journal")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, values in statements:
                    self._conn.execute(sql, values)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- quotes and refusals --------------------------------------------------------------------

    def record_quote(self, row: dict[str, Any], message: str = "") -> None:
        """One quote or refusal with the message that carries it (keys: the columns of ``quotes``)."""
        row = {**row, "message": message or row.get("message")}
        values = tuple(json.dumps(row.get(c)) if c in JSON_COLS else row.get(c) for c in QUOTE_COLS)
        self._write((f"INSERT INTO quotes ({', '.join(QUOTE_COLS)}) VALUES ({', '.join('?' * len(QUOTE_COLS))})", values))

    def quote(self, quote_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.execute("SELECT * FROM quotes WHERE quote_id = ?", (quote_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            return None
        out = dict(zip(names, row))
        for c in JSON_COLS:
            out[c] = json.loads(out[c]) if out[c] is not None else None
        return out

    # -- orders -------------------------------------------------------------------------------

    def record_decision(self, decision: Decision, legs: list[list[Any]], message: str) -> bool:
        """Journal an order's answer and its ExecutionReport; False (nothing written) if the
        session answered this ClOrdID before."""
        o = decision.order
        refusal = decision.refusal
        values = (
            o.session,
            o.cl_ord_id,
            o.quote_id,
            decision.at.isoformat(),
            "filled" if decision.filled else "rejected",
            None if refusal is None else refusal.text,
            o.side,
            o.quantity,
            decision.price,
            json.dumps(legs if decision.filled else []),
            o.limit_px,
            None if refusal is None else refusal.code.value,
            message,
        )
        try:
            self._write((f"INSERT INTO fills ({', '.join(FILL_COLS)}) VALUES ({', '.join('?' * len(FILL_COLS))})", values))
        except sqlite3.IntegrityError as exc:
            if not _duplicate(exc):
                raise  # a NOT NULL or CHECK failure is a bug to see, never "already answered"
            return False
        return True

    def amend_refused(self, decision: Decision, message: str) -> None:
        """The row of a decision that could not be sent as journaled becomes the refusal that is sent."""
        o, refusal = decision.order, decision.refusal
        if refusal is None:
            raise ValueError("amend_refused: give the refusal that is sent")
        self._write(
            (
                "UPDATE fills SET status = 'rejected', reason = ?, code = ?, price = NULL, legs = '[]', message = ?"
                " WHERE session = ? AND cl_ord_id = ?",
                (refusal.text, refusal.code.value, message, o.session, o.cl_ord_id),
            )
        )

    def answer(self, session: str, cl_ord_id: str) -> Fill | None:
        """The journaled answer to a session's ClOrdID, if any."""
        with self._lock:
            cur = self._conn.execute(
                f"SELECT {', '.join(FILL_COLS)} FROM fills WHERE session = ? AND cl_ord_id = ?", (session, cl_ord_id)
            )
            row = cur.fetchone()
        if row is not None:
            return _fill(dict(zip(FILL_COLS, row)))
        for q in self.quarantined_answers():
            if (q.session, q.cl_ord_id) == (session, cl_ord_id):
                order = Order(session, cl_ord_id, q.quote_id, "?", 0.0)
                return Fill(Decision(order, q.at, None, Refusal(RefusalCode.OTHER, q.text)), [], "")
        return None

    # -- the order book's archive (what it forgot, read back: pricing.desk.orders.Archive) ----------

    def archived_answer(self, session: str, cl_ord_id: str) -> Decision | None:
        """The first answer the session's ClOrdID got (a quarantined one as the book counts it), or None."""
        got = self.answer(session, cl_ord_id)
        return None if got is None else got.decision

    def archived_quote(self, quote_id: str) -> ArchivedQuote | None:
        """A quote sent (status ``quoted``) with its cancel: the journaled one, else the closing of a
        quarantined answer on it (as :meth:`pricing.desk.orders.OrderBook.apply_quarantined` closes it).

        One primary-key read of ``quotes`` and one of ``cancels`` (and the quarantine table, which
        holds only unreadable rows, when there is no cancel).
        """
        with self._lock:
            cur = self._conn.execute("SELECT * FROM quotes WHERE quote_id = ? AND status = 'quoted'", (quote_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
            reason = self._conn.execute("SELECT reason FROM cancels WHERE quote_id = ?", (quote_id,)).fetchone()
        if row is None:
            return None
        try:
            terms = _terms(dict(zip(names, row)))
        except (ValueError, TypeError, KeyError):
            return None  # unreadable: the replay quarantines such a row, so no book ever held it
        if reason is not None:
            return ArchivedQuote(terms, Cancel(quote_id, str(reason[0])))
        closing = next((q for q in self.quarantined_answers() if q.quote_id == quote_id), None)
        return ArchivedQuote(terms, None if closing is None else Cancel(quote_id, quarantine_reason(closing)))

    def record_cancel(self, cancel: Cancel, at: datetime, message: str) -> bool:
        """A quote withdrawn; False if it was withdrawn before (:meth:`record_cancels` of one)."""
        return self.record_cancels([(cancel, at, message)])[0]

    def record_cancels(self, cancels: list[tuple[Cancel, datetime, str]]) -> list[bool]:
        """Quotes withdrawn in one transaction (one commit, one sync): per cancel, False if that
        quote was withdrawn before (nothing written for it).

        A market move withdraws many quotes at once; one commit each made the move's cancels cost
        one disk sync apiece while QuoteRequests waited. All or none are journaled: a crash before
        the commit leaves none, and none is sent before this returns.
        """
        if not cancels:
            return []
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                fresh = []
                for cancel, at, message in cancels:
                    if self._conn.execute("SELECT 1 FROM cancels WHERE quote_id = ?", (cancel.quote_id,)).fetchone():
                        fresh.append(False)  # under BEGIN IMMEDIATE no other writer can add it meanwhile
                        continue
                    self._conn.execute(
                        "INSERT INTO cancels VALUES (?, ?, ?, ?)", (cancel.quote_id, at.isoformat(), cancel.reason, message)
                    )
                    fresh.append(True)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return fresh

    # -- restart ------------------------------------------------------------------------------

    def events(self) -> tuple[list[tuple[QuoteTerms | Decision | Cancel | Quarantined, list[list[Any]]]], list[str]]:
        """Every event in the journal's order (each with the legs a fill added), and the rows
        quarantined now because they could not be read (named: table, key, why).

        Every answer ever quarantined (now or at an earlier start) comes last as a
        :class:`~pricing.desk.orders.Quarantined`: its ClOrdID stays answered and its quote closed.
        """
        timed: list[tuple[str, int, int, QuoteTerms | Decision | Cancel | Quarantined, list[list[Any]]]] = []
        bad: list[tuple[str, str, str, dict[str, Any]]] = []
        with self._lock:
            quotes = self._rows("SELECT * FROM quotes WHERE status = 'quoted' ORDER BY rowid")
            fills = self._rows(f"SELECT rowid AS rid, {', '.join(FILL_COLS)} FROM fills ORDER BY rowid")
            cancels = self._rows("SELECT rowid AS rid, * FROM cancels ORDER BY rowid")
        for i, q in enumerate(quotes):
            try:
                terms = _terms(q)
                timed.append((q["received_utc"], 0, i, terms, []))
            except (ValueError, TypeError, KeyError) as exc:
                bad.append(("quotes", str(q.get("quote_id")), f"{type(exc).__name__}: {exc}", q))
        for i, f in enumerate(fills):
            try:
                got = _fill(f)
                timed.append((got.decision.at.isoformat(), 1, i, got.decision, got.legs))
            except (ValueError, TypeError, KeyError) as exc:
                bad.append(("fills", f"{f.get('session')}/{f.get('cl_ord_id')}", f"{type(exc).__name__}: {exc}", f))
        for i, c in enumerate(cancels):
            timed.append((str(c["cancelled_utc"]), 2, i, Cancel(str(c["quote_id"]), str(c["reason"])), []))
        named = self._quarantine(bad) if bad else []
        timed.sort(key=lambda t: (t[0], t[1], t[2]))
        out: list[tuple[QuoteTerms | Decision | Cancel | Quarantined, list[list[Any]]]] = [
            (e, legs) for _, _, _, e, legs in timed
        ]
        out.extend((q, []) for q in self.quarantined_answers())
        return out, named

    def quarantined_answers(self) -> list[Quarantined]:
        """Every order's answer in the quarantine table (its session, ClOrdID and quote, from the raw row)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT why, raw, quarantined_utc FROM quarantine WHERE source = 'fills' ORDER BY rowid"
            ).fetchall()
        out = []
        for why, raw, when in rows:
            try:
                row = json.loads(raw)
                at = datetime.fromisoformat(str(when)).replace(tzinfo=UTC)
            except (ValueError, TypeError):
                row, at = {}, datetime(1970, 1, 1, tzinfo=UTC)
            if not isinstance(row, dict):
                row = {}
            out.append(Quarantined(str(row.get("session")), str(row.get("cl_ord_id")), str(row.get("quote_id")), str(why), at))
        return out

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        cur = self._conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def _quarantine(self, bad: list[tuple[str, str, str, dict[str, Any]]]) -> list[str]:
        statements: list[tuple[str, tuple[Any, ...]]] = []
        for source, key, why, row in bad:
            raw = json.dumps({k: v for k, v in row.items() if k != "rid"}, default=str)
            statements.append(("INSERT INTO quarantine VALUES (?, ?, ?, ?, datetime('now'))", (source, key, why, raw)))
            if source == "quotes":
                statements.append(("DELETE FROM quotes WHERE quote_id = ?", (key,)))
            else:
                statements.append(("DELETE FROM fills WHERE rowid = ?", (row["rid"],)))
        self._write(*statements)
        return [f"{source} {key}: {why}" for source, key, why, _ in bad]

    def table(self, name: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of ``quotes``, ``fills``, ``cancels`` or ``quarantine``, oldest first."""
        if name not in ("quotes", "fills", "cancels", "quarantine"):
            raise ValueError(f"table: {name!r} is not one of quotes, fills, cancels, quarantine")
        if self.readonly and name not in self._tables:  # a new or older journal read, not created
            return list({"quotes": QUOTE_COLS, "fills": FILL_COLS, **OTHER_COLS}[name]), []
        with self._lock:
            cur = self._conn.execute(f"SELECT * FROM {name} ORDER BY rowid")
            return [d[0] for d in cur.description], cur.fetchall()


def _terms(q: dict[str, Any]) -> QuoteTerms:
    """The firm quote a ``quotes`` row records (prices per unit as sent)."""
    request, response = json.loads(q["request"]), json.loads(q["response"])
    size = float(request["quantity"])

    def px(key: str, total: str) -> float | None:
        if key in response:
            return None if response[key] is None else float(response[key])
        # Journals from before the per-unit prices were stored: the price as the Quote carried it.
        return None if response.get(total) is None else round(float(response[total]) / size, 8)

    return QuoteTerms(
        str(q["quote_id"]),
        str(q["session"]),
        str(q["quote_req_id"]),
        px("bid_px", "bid_price"),
        px("offer_px", "ask_price"),
        size,
        datetime.fromisoformat(str(q["valid_until_utc"])),
        None if request.get("symbol") is None else str(request["symbol"]),
        tuple(str(leg[0]) for leg in request["legs"]) if isinstance(request.get("legs"), list) else None,
    )


def _fill(f: dict[str, Any]) -> Fill:
    order = Order(
        str(f["session"]),
        str(f["cl_ord_id"]),
        str(f["quote_id"]),
        str(f["client_side"]),
        float(f["quantity"]),
        None if f["limit_px"] is None else float(f["limit_px"]),
    )
    at = datetime.fromisoformat(str(f["filled_utc"]))
    if f["status"] == "filled":
        decision = Decision(order, at, float(f["price"]), None)
    else:
        code = RefusalCode(f["code"]) if f["code"] else RefusalCode.OTHER
        decision = Decision(order, at, None, Refusal(code, str(f["reason"] or "rejected")))
    legs = json.loads(f["legs"])
    if not isinstance(legs, list):
        raise ValueError("legs: not a list")
    return Fill(decision, legs, str(f["message"] or ""))


def _duplicate(exc: sqlite3.IntegrityError) -> bool:
    """The row's key is already journaled (a UNIQUE or PRIMARY KEY violation), and nothing else."""
    code = getattr(exc, "sqlite_errorname", "")
    if code:
        return code in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
    return str(exc).startswith("UNIQUE constraint failed")
