"""``fix-log`` shows each fill's venue label (``pricing.desk.fills.fill_label``), so a desk can find
the venue's trade for a fill: the label the gateway gives the fill in the live book, the one the
trade is booked under at Deribit (its order ``label``).

Invariants: every filled row's label is ``fill_label(session, ClOrdID, QuoteID)`` of that row, in
the printed table and in the workbook export; a rejected order has none; other tables and other
shapes of the fills table are left as they are.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook

from addin.cli import main
from addin.fix.journal import Journal
from addin.fix.run import labelled
from pricing.desk.fills import fill_label

SESSION = "FIX.4.4:CLEARQUOTE->CLIENT"


def _journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()  # the schema, as the acceptor creates it
    rows = [
        ("C1", "q1", "filled", None, 101.5),
        ("C2", "q2", "rejected", "the quote expired", None),
    ]
    with sqlite3.connect(path) as db:
        for cl, quote, status, reason, price in rows:
            db.execute(
                "INSERT INTO fills (session, cl_ord_id, quote_id, filled_utc, status, reason, client_side, quantity,"
                " price, legs, limit_px, code, message) VALUES (?, ?, ?, '2026-08-21T10:00:00+00:00', ?, ?, 'buy', 1,"
                " ?, '[]', NULL, NULL, '')",
                (SESSION, cl, quote, status, reason, price),
            )
    return path


def test_fix_log_prints_each_fills_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _journal(tmp_path)
    assert main(["fix-log", "--journal", str(path), "--table", "fills"]) == 0
    out = capsys.readouterr().out
    header, *lines = [line for line in out.splitlines() if line.strip()]
    assert header.split()[-1] == "label"
    filled = next(line for line in lines if " C1 " in f" {line} ")
    rejected = next(line for line in lines if " C2 " in f" {line} ")
    assert filled.split()[-1] == fill_label(SESSION, "C1", "q1")
    assert "cq-" not in rejected


def test_the_export_carries_the_label(tmp_path: Path) -> None:
    path = _journal(tmp_path)
    out = tmp_path / "audit.xlsx"
    assert main(["fix-log", "--journal", str(path), "-o", str(out)]) == 0
    ws = load_workbook(out)["fills"]
    rows = list(ws.iter_rows(values_only=True))
    col = rows[0].index("label")
    by_order = {r[rows[0].index("cl_ord_id")]: r[col] for r in rows[1:]}
    assert by_order == {"C1": fill_label(SESSION, "C1", "q1"), "C2": None}


def test_other_tables_and_shapes_are_left_alone() -> None:
    cols, rows = ["quote_id", "status"], [("q1", "quoted")]
    assert labelled("quotes", cols, rows) == (cols, rows)
    assert labelled("fills", ["cl_ord_id", "text"], [("C1", "x")]) == (["cl_ord_id", "text"], [("C1", "x")])
