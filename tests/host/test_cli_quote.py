"""`clearquote quote` as a trader meets it: inputs checked before any market is built, exit codes,
CSV output that no spreadsheet program evaluates (OWASP CSV injection), a chain file as market."""

from __future__ import annotations

import csv
from pathlib import Path

from addin.cli import main

CHAIN = Path(__file__).resolve().parents[2] / "pricing" / "data" / "deribit_btc_chain_20260821.csv"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_header_and_bad_market_file_exit_2_before_pricing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rfqs = _write(tmp_path / "rfq.csv", "rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-P,buy,1\n")
    assert main(["quote", str(_write(tmp_path / "x.csv", "x,y\n1,2\n"))]) == 2
    assert "header row needs" in capsys.readouterr().err
    assert main(["quote", str(rfqs), "--market", str(_write(tmp_path / "m.csv", "a,b\n1,2\n"))]) == 2
    err = capsys.readouterr().err
    assert "m.csv: not a Deribit chain: missing column(s)" in err and "Traceback" not in err


def test_chain_file_market_provenance_failed_rows_and_csv_injection(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rfqs = _write(
        tmp_path / "rfq.csv", "rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-P,two-way,10\nR2,=cmd|calc,buy,5\n"
    )
    out = tmp_path / "q.csv"
    assert main(["quote", str(rfqs), "--market", str(CHAIN), "-o", str(out)]) == 1  # one failed row
    printed = capsys.readouterr().out
    assert printed.startswith(f"market {CHAIN.name} sha256:") and "kernels" in printed and "funding rate" in printed
    assert "1 RFQ rows failed" in printed and "row 3 (R2)" in printed
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[2][1] == "'=cmd|calc"  # escaped, not a formula
    assert float(rows[1][rows[0].index("delta_im_bid")]) != float(rows[1][rows[0].index("delta_im_ask")])


def test_validate_takes_every_committed_book_in_one_run() -> None:
    """The first-contact 'done when': `clearquote validate workbooks/*.xlsx` exits 0."""
    books = sorted((Path(__file__).resolve().parents[2] / "workbooks").glob("*.xlsx"))
    assert len(books) == 3
    assert main(["validate", "-q", *map(str, books)]) == 0
