"""The journal is the truth and the acceptor always restarts on it; a journal it cannot use is exit 2 naming the path.

Checked before the acceptor listens (``clearquote fix-acceptor`` returns 2 with the path on
stderr, never a traceback): a directory, a path under a file, a file that is not SQLite, a
SQLite file of another shape, a journal that cannot be written. ``fix-log`` on a corrupt journal
is exit 2 too. A row that cannot be read back is quarantined and named at start, never a reason
to stay down; a journal from before sessions were part of an order's key is migrated in place.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")

from addin.cli import main
from addin.fix.journal import Journal, JournalError, open_journal
from addin.fix.run import write_settings
from pricing.desk.orders import Decision, Order, OrderBook


def _bad_journals(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "garbage.sqlite").write_bytes(b"this is not a database" * 100)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE quotes (x)")
    # SQLite cannot create the WAL file beside it (a directory has its name): the journal cannot be written.
    unwritable = tmp_path / "unwritable.sqlite"
    Journal(unwritable).close()
    (tmp_path / "unwritable.sqlite-wal").unlink(missing_ok=True)
    (tmp_path / "unwritable.sqlite-wal").mkdir()
    return {
        "under a file": tmp_path / "a_file" / "journal.sqlite",
        "a directory": tmp_path / "a_dir",
        "not SQLite": tmp_path / "garbage.sqlite",
        "another shape": other,
        "unwritable": unwritable,
    }


def test_unusable_journals_are_exit_2_naming_the_path_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = write_settings(tmp_path / "acceptor.cfg", "acceptor", 1, tmp_path)  # never listened on: checks come first
    for why, path in _bad_journals(tmp_path).items():
        with pytest.raises(JournalError, match=str(path)):
            open_journal(path)
        assert main(["fix-acceptor", str(settings), "--journal", str(path)]) == 2, why
        err = capsys.readouterr().err
        assert str(path) in err and "Traceback" not in err, (why, err)


def test_fix_log_on_a_corrupt_journal_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad_journals(tmp_path)
    for why in ("not SQLite", "another shape"):
        assert main(["fix-log", "--journal", str(bad[why])]) == 2
        err = capsys.readouterr().err
        assert str(bad[why]) in err and "Traceback" not in err


def _quote_row(qid: str, session: str, valid_until: str) -> dict[str, object]:
    return {
        "quote_id": qid,
        "quote_req_id": "R",
        "session": session,
        "received_utc": datetime(2026, 8, 21, 10, tzinfo=UTC).isoformat(),
        "status": "quoted",
        "request": {"symbol": "X", "legs": [["BTC-25SEP26-65000-C", 1.0]], "side": "buy", "quantity": 2.0},
        "response": {"bid_px": None, "offer_px": 100.0, "base": 1.0},
        "market": "m",
        "model": "hvar",
        "params": {},
        "valid_until_utc": valid_until,
        "elapsed_ms": 0.0,
    }


def test_an_unreadable_row_is_quarantined_and_named_and_the_rest_replays(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    later = (datetime(2026, 8, 21, 10, tzinfo=UTC) + timedelta(seconds=30)).isoformat()
    j.record_quote(_quote_row("GOOD", "S", later), "S|GOOD")
    j.record_quote(_quote_row("BAD", "S", "not a time"), "S|BAD")
    d = Decision(Order("S", "C1", "GOOD", "buy", 1.0), datetime(2026, 8, 21, 10, 0, 1, tzinfo=UTC), 100.0)
    assert j.record_decision(d, [["BTC-25SEP26-65000-C", -1.0]], "8|C1")
    j.close()
    j = Journal(path)
    events, named = j.events()
    assert len(named) == 1 and named[0].startswith("quotes BAD:")
    book = OrderBook.replay(e for e, _ in events)
    assert set(book.quotes) == {"GOOD"} and book.filled == {("GOOD", "buy"): 1.0} and book.violations() == []
    _, rows = j.table("quarantine")
    assert [(r[0], r[1]) for r in rows] == [("quotes", "BAD")]
    events, named = j.events()  # quarantined once: the next start is clean
    assert named == [] and len(events) == 2
    j.close()


def test_a_journal_from_before_sessions_keyed_orders_is_migrated(tmp_path: Path) -> None:
    """The previous schema (fills keyed by ClOrdID alone) opens, keeps its rows and gains the session."""
    path = tmp_path / "old.sqlite"
    later = (datetime(2026, 8, 21, 10, tzinfo=UTC) + timedelta(seconds=30)).isoformat()
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE quotes (quote_id TEXT PRIMARY KEY, quote_req_id TEXT NOT NULL, session TEXT NOT NULL,
                received_utc TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, request TEXT NOT NULL, response TEXT,
                market TEXT NOT NULL, model TEXT NOT NULL, params TEXT NOT NULL, valid_until_utc TEXT, elapsed_ms REAL NOT NULL);
            CREATE TABLE fills (cl_ord_id TEXT PRIMARY KEY, quote_id TEXT NOT NULL, filled_utc TEXT NOT NULL,
                status TEXT NOT NULL, reason TEXT, client_side TEXT NOT NULL, quantity REAL NOT NULL, price REAL, legs TEXT NOT NULL);
            """
        )
        q = _quote_row("Q", "S", later)
        db.execute(
            "INSERT INTO quotes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                q["quote_id"],
                "R",
                "S",
                q["received_utc"],
                "quoted",
                None,
                json.dumps(q["request"]),
                json.dumps({"ask_price": 200.0, "bid_price": None}),
                "m",
                "hvar",
                "{}",
                later,
                0.0,
            ),
        )
        db.execute(
            "INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?)",
            ("C1", "Q", datetime(2026, 8, 21, 10, 0, 1, tzinfo=UTC).isoformat(), "filled", None, "buy", 2.0, 100.0, "[]"),
        )
    j = Journal(path)
    events, named = j.events()
    assert named == []
    book = OrderBook.replay(e for e, _ in events)
    assert book.quotes["Q"].offer_px == 100.0 and ("S", "C1") in book.answers and book.violations() == []
    j.close()


def test_a_quarantined_fill_still_counts_its_clordid_is_never_refilled_and_its_quote_is_closed(tmp_path: Path) -> None:
    """The reviewer's case: a damaged fill row on a size-1 quote, then a restart and the same ClOrdID again."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    later = (datetime(2026, 8, 21, 10, tzinfo=UTC) + timedelta(seconds=30)).isoformat()
    row = _quote_row("Q1", "S", later)
    j.record_quote({**row, "request": {**row["request"], "quantity": 1.0}}, "S|Q1")  # type: ignore[dict-item]
    at = datetime(2026, 8, 21, 10, 0, 1, tzinfo=UTC)
    d = Decision(Order("S", "C1", "Q1", "buy", 1.0), at, 100.0)
    assert j.record_decision(d, [["BTC-25SEP26-65000-C", -1.0]], "8|C1")
    j.close()
    with sqlite3.connect(path) as db:  # the row is damaged: its time cannot be read
        db.execute("UPDATE fills SET filled_utc = 'not a time' WHERE cl_ord_id = 'C1'")
    for start in range(2):  # quarantined at the first start; still counted at the next
        j = Journal(path)
        events, named = j.events()
        assert [n.split(":")[0] for n in named] == (["fills S/C1"] if start == 0 else [])
        book = OrderBook.replay(e for e, _ in events)
        again = book.decide(Order("S", "C1", "Q1", "buy", 1.0), at + timedelta(seconds=1))
        assert again.duplicate and not again.filled and "quarantined" in (again.refusal.text if again.refusal else "")
        other = book.decide(Order("S", "C2", "Q1", "buy", 1.0), at + timedelta(seconds=1))
        assert not other.filled and other.refusal is not None and other.refusal.code.value == "quote_cancelled"
        assert book.live(at) == [] and book.violations() == []
        answer = j.answer("S", "C1")  # the gateway's failure path sees it as answered too
        assert answer is not None and not answer.decision.filled
        j.close()


def test_a_sqlite_file_of_another_use_is_refused_untouched_and_fix_log_never_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reviewer's case: fix-log / fix-acceptor --journal other.sqlite wrote the journal's tables into it."""
    import hashlib

    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE prices (day TEXT, px REAL)")
        db.execute("INSERT INTO prices VALUES ('2026-08-21', 1.0)")
    # The journal's own table names with another table beside them are not a journal either.
    mixed = tmp_path / "mixed.sqlite"
    Journal(mixed).close()
    with sqlite3.connect(mixed) as db:
        db.execute("CREATE TABLE prices (day TEXT)")
    settings = write_settings(tmp_path / "acceptor.cfg", "acceptor", 1, tmp_path)
    for path in (other, mixed):
        before = digest(path)
        for argv in (["fix-log", "--journal", str(path)], ["fix-acceptor", str(settings), "--journal", str(path)]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert str(path) in err and "not this gateway's journal" in err and "Traceback" not in err, err
            assert digest(path) == before, argv  # nothing written
    with sqlite3.connect(other) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["prices"]

    # A new, empty file is initialised by the acceptor's open; fix-log reads it without writing.
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert main(["fix-log", "--journal", str(empty)]) == 0
    assert empty.stat().st_size == 0
    Journal(empty).close()
    with sqlite3.connect(empty) as db:
        assert {"quotes", "fills", "cancels", "quarantine"} <= {r[0] for r in db.execute("SELECT name FROM sqlite_master")}

    # fix-log on a real journal leaves it byte for byte as it was.
    j = Journal(tmp_path / "j.sqlite")
    later = (datetime(2026, 8, 21, 10, tzinfo=UTC) + timedelta(seconds=30)).isoformat()
    j.record_quote(_quote_row("Q", "S", later), "S|Q")
    j.close()
    before = digest(tmp_path / "j.sqlite")
    assert main(["fix-log", "--journal", str(tmp_path / "j.sqlite")]) == 0
    assert "Q" in capsys.readouterr().out and digest(tmp_path / "j.sqlite") == before
