"""The gateway's journal: every quote, refusal and fill, in SQLite, written before it is answered.

One file holds the audit trail and the book's changes. Each record is one transaction with
``synchronous=FULL`` in WAL mode, so a ``kill -9`` loses nothing that was answered: a quote is
journaled before the Quote goes out, a fill before its ExecutionReport. A fill's ClOrdID is the
table's key, so a resent order (QuickFIX replays after a restart) finds its fill and never fills
twice. QuickFIX's own file store keeps the session's sequence numbers; this keeps the business.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS quotes (
    quote_id TEXT PRIMARY KEY,
    quote_req_id TEXT NOT NULL,
    session TEXT NOT NULL,
    received_utc TEXT NOT NULL,
    status TEXT NOT NULL,              -- quoted | refused
    reason TEXT,                       -- why refused (the AG's Text)
    request TEXT NOT NULL,             -- the request as parsed: legs, side, quantity (JSON)
    response TEXT,                     -- prices and the whole breakdown (JSON)
    market TEXT NOT NULL,              -- market source and content hash
    model TEXT NOT NULL,
    params TEXT NOT NULL,              -- the parameters in force (JSON)
    valid_until_utc TEXT,
    elapsed_ms REAL NOT NULL           -- request received to answer built
);
CREATE TABLE IF NOT EXISTS fills (
    cl_ord_id TEXT PRIMARY KEY,
    quote_id TEXT NOT NULL,
    filled_utc TEXT NOT NULL,
    status TEXT NOT NULL,              -- filled | rejected
    reason TEXT,
    client_side TEXT NOT NULL,         -- buy | sell (the client's)
    quantity REAL NOT NULL,
    price REAL,                        -- USD per unit of the structure
    legs TEXT NOT NULL                 -- [[instrument, signed quantity the dealer now holds], ...] (JSON)
);
"""


@dataclass(frozen=True)
class Fill:
    """One journaled answer to an order."""

    cl_ord_id: str
    quote_id: str
    status: str
    reason: str | None
    client_side: str
    quantity: float
    price: float | None
    legs: list[list[Any]]


class Journal:
    """The SQLite journal (thread-safe: QuickFIX calls in from its session threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _write(self, sql: str, values: tuple[Any, ...]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(sql, values)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def record_quote(self, row: dict[str, Any]) -> None:
        """One quote or refusal (keys: the columns of ``quotes``; JSON columns as Python values)."""
        cols = (
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
        )
        values = tuple(json.dumps(row.get(c)) if c in ("request", "response", "params") else row.get(c) for c in cols)
        self._write(f"INSERT INTO quotes ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)

    def quote(self, quote_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.execute("SELECT * FROM quotes WHERE quote_id = ?", (quote_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            return None
        out = dict(zip(names, row))
        for c in ("request", "response", "params"):
            out[c] = json.loads(out[c]) if out[c] is not None else None
        return out

    def record_fill(self, fill: Fill, when_utc: str) -> bool:
        """Journal an order's answer; False (and nothing written) if its ClOrdID was answered before."""
        try:
            self._write(
                "INSERT INTO fills (cl_ord_id, quote_id, filled_utc, status, reason, client_side, quantity, price, legs)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fill.cl_ord_id,
                    fill.quote_id,
                    when_utc,
                    fill.status,
                    fill.reason,
                    fill.client_side,
                    fill.quantity,
                    fill.price,
                    json.dumps(fill.legs),
                ),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def fill(self, cl_ord_id: str) -> Fill | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT cl_ord_id, quote_id, status, reason, client_side, quantity, price, legs FROM fills WHERE cl_ord_id = ?",
                (cl_ord_id,),
            ).fetchone()
        if row is None:
            return None
        return Fill(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))

    def filled_legs(self) -> list[list[Any]]:
        """Every filled leg in order: [instrument, signed quantity the dealer holds]."""
        with self._lock:
            rows = self._conn.execute("SELECT legs FROM fills WHERE status = 'filled' ORDER BY rowid").fetchall()
        return [leg for (legs,) in rows for leg in json.loads(legs)]

    def table(self, name: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """(column names, rows) of ``quotes`` or ``fills``, oldest first."""
        if name not in ("quotes", "fills"):
            raise ValueError(f"table: {name!r} is not one of quotes, fills")
        with self._lock:
            cur = self._conn.execute(f"SELECT * FROM {name} ORDER BY rowid")
            return [d[0] for d in cur.description], cur.fetchall()
