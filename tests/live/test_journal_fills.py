"""The gateway's journal as the margin screen reads it (``clearquote live --journal``).

Guarantees, each for any input:

- the row reader is total: any cells (text, bytes, numbers, NULL, JSON of any shape or depth)
  give a fill or a named reason, never an exception (hypothesis);
- a hostile row (legs nested thousands deep, text that is not UTF-8, a NULL QuoteID) is left out
  and named, the rest of the journal read; while running (``poll``) the same, and a file that
  becomes unreadable keeps the last good fills and says why; a file that is not a journal is
  exit 2 from the CLI, named;
- a fill's label names one fill: the same (session, ClOrdID) on another quote (a fresh journal,
  a second acceptor) is another label, and no choice of characters in the parts makes two
  fills share one;
- reading never changes the journal's bytes (SQLite may create its ``-shm``/``-wal`` files).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.desk.fills import JournalFills, fill_label, journal_fill
from pricing.errors import PricingInputError

SOLD = "BTC-27MAR26-80000-P"
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError (the reviewer's hostile legs)


def _journal(path: Path) -> Path:
    from addin.fix.journal import Journal

    Journal(path).close()  # the gateway's own schema, WAL mode
    return path


def _insert(path: Path, **cells: object) -> None:
    from addin.fix.journal import FILL_COLS

    row: dict[str, object] = dict.fromkeys(FILL_COLS, "")
    row.update(session="S", cl_ord_id="C1", quote_id="Q1", filled_utc="2026-12-06T08:00:00+00:00", status="filled")
    row.update(client_side="buy", quantity=2.0, price=100.0, legs=json.dumps([[SOLD, -2.0]]))
    row.update(cells)
    with sqlite3.connect(path) as db:
        db.execute(f"INSERT INTO fills ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
    db.close()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)
_CELL = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
    _JSON.map(json.dumps),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.sampled_from([DEEP, json.dumps([[SOLD, 10**400]]), json.dumps([[SOLD, 1.5]]), '[["", 1]]', "[[1, 2]]"]),
)


@settings(max_examples=400, deadline=None)
@given(row=st.lists(_CELL, min_size=0, max_size=6))
def test_the_row_reader_is_total(row: list[object]) -> None:
    fill, why = journal_fill(row)
    if fill is None:
        assert why  # named
        return
    label, legs = fill
    assert why == "" and label.startswith("cq-") and len(label) == 19
    for name, qty in legs:
        assert isinstance(name, str) and name and isinstance(qty, float) and qty == qty and abs(qty) != float("inf")


@settings(max_examples=200, deadline=None)
@given(a=st.tuples(st.text(), st.text(), st.text()), b=st.tuples(st.text(), st.text(), st.text()))
def test_a_label_names_one_fill(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    """Different (session, ClOrdID, QuoteID) give different labels (up to BLAKE2b's 64-bit
    collisions, which no generated case reaches), however the parts' characters are chosen."""
    assert (fill_label(*a) == fill_label(*b)) == (a == b)


def test_the_reviewers_labels_differ() -> None:
    # a plain join with \x1f made these one label; the same ClOrdID on another quote is another fill
    assert fill_label("FIX.4.4:DESK->A", "x\x1fy", "Q") != fill_label("FIX.4.4:DESK->A\x1fx", "y", "Q")
    assert fill_label("S", "ord-1", "Q-day1") != fill_label("S", "ord-1", "Q-day2")


def test_hostile_rows_are_left_out_and_named_the_rest_read(tmp_path: Path) -> None:
    path = _journal(tmp_path / "j.sqlite")
    _insert(path, cl_ord_id="good-1", quote_id="Q1")
    _insert(path, cl_ord_id="deep", quote_id="Q2", legs=DEEP)
    _insert(path, cl_ord_id="not-utf8", quote_id="Q3", legs=b"\xff\xfe[[")
    _insert(path, cl_ord_id="huge", quote_id="Q4", legs=json.dumps([[SOLD, 10**400]]))
    with sqlite3.connect(path) as db:  # a cell of text that is not UTF-8, in a TEXT column
        db.execute("UPDATE fills SET session = CAST(X'C328' AS TEXT) WHERE cl_ord_id = 'huge'")
    db.close()
    _insert(path, cl_ord_id="good-2", quote_id="Q5", legs=json.dumps([[SOLD, 1.0]]))
    journal = JournalFills(path)
    assert journal.fills == [
        (fill_label("S", "good-1", "Q1"), [(SOLD, -2.0)]),
        (fill_label("S", "good-2", "Q5"), [(SOLD, 1.0)]),
    ]
    assert journal.skipped == 3 and len(journal.warnings) == 3
    assert all("j.sqlite: fills row" in w and "left out" in w for w in journal.warnings)
    # while running: a hostile row appended is left out and named, the good ones kept
    _insert(path, cl_ord_id="deep-2", quote_id="Q6", legs=DEEP)
    _insert(path, cl_ord_id="good-3", quote_id="Q7")
    assert journal.poll() is True
    assert [label for label, _ in journal.fills][-1] == fill_label("S", "good-3", "Q7")
    assert journal.skipped == 4 and journal.error == ""


def test_a_file_that_turns_unreadable_keeps_the_last_good_fills(tmp_path: Path) -> None:
    path = _journal(tmp_path / "j.sqlite")
    _insert(path)
    journal = JournalFills(path)
    good = list(journal.fills)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    path.write_bytes(b"\x00not a database" * 200)
    assert journal.poll() is False
    assert journal.fills == good and "j.sqlite" in journal.error and "last good fills kept" in journal.error


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\xff" * 500, b"garbage" * 100])
def test_a_file_that_is_not_a_journal_is_exit_2_named(
    tmp_path: Path, content: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from addin.cli import main

    for key in ("DERIBIT_CLIENT_ID", "DERIBIT_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(content)
    with pytest.raises(PricingInputError, match=r"bad\.sqlite"):
        JournalFills(bad)
    # the journal is read before any connection: the endpoint is never dialled
    argv = ["live", "--market", "deribit:ws://127.0.0.1:9/ws/api/v2", "--seconds", "1", "--plain", "--journal", str(bad)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "bad.sqlite" in captured.err and "Traceback" not in captured.err + captured.out


def test_reading_never_changes_the_journals_bytes(tmp_path: Path) -> None:
    """What the screen and ``fix-log`` touch: the journal's own bytes never (opened ``mode=ro``);
    SQLite may create ``-shm``/``-wal`` beside a WAL journal, which it needs to read one."""
    from addin.cli import main

    path = _journal(tmp_path / "j.sqlite")
    _insert(path)
    _insert(path, cl_ord_id="deep", quote_id="Q2", legs=DEEP)
    before = path.read_bytes()
    journal = JournalFills(path)
    assert len(journal.fills) == 1
    path.touch()  # a new stamp: the poll reads it again
    journal.poll()
    assert main(["fix-log", "--journal", str(path), "--table", "fills"]) == 0
    assert path.read_bytes() == before
