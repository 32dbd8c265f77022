"""`clearquote backtest` as a risk manager runs it: JSON per model with the agreed keys, an xlsx
report with native charts, bad input as exit 2 naming the field or the dates."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from addin.cli import main

KEYS = {
    "observations",
    "exceptions",
    "alpha",
    "kupiec_lr",
    "kupiec_p",
    "christoffersen_ind_lr",
    "christoffersen_ind_p",
    "traffic_light",
}


def _book(tmp_path: Path, rows: str) -> Path:
    p = tmp_path / "book.csv"
    p.write_text("instrument,quantity\n" + rows, encoding="utf-8")
    return p


def test_json_one_object_per_model_and_an_xlsx_report_with_charts(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    book = _book(tmp_path, "BTC-25SEP26-80000-C,10\nBTC-25SEP26-90000-C,-15\n")
    out = tmp_path / "report.xlsx"
    assert main(["backtest", str(book), "--model", "hvar,fhs", "--json", "-q", "-o", str(out)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["model"] for d in lines] == ["hvar", "fhs"]
    for d in lines:
        assert KEYS <= d.keys() and d["observations"] > 1000 and d["traffic_light"] in ("green", "yellow", "red")
        assert 0.0 <= d["kupiec_p"] <= 1.0 and 0.0 <= d["christoffersen_ind_p"] <= 1.0
    with zipfile.ZipFile(out) as z:
        assert sum(n.startswith("xl/charts/chart") for n in z.namelist()) == 2


def test_bad_model_and_a_book_expiring_inside_the_margin_period_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    book = _book(tmp_path, "BTC-25SEP26-80000-C,10\n")
    assert main(["backtest", str(book), "--model", "garch", "-q"]) == 2
    assert "--model: garch is not allowed; use one or more of hvar, fhs, span, deribit" in capsys.readouterr().err
    short = _book(tmp_path, "BTC-22AUG26-80000-C,10\n")  # expires the day after the 2026-08-21 market
    assert main(["backtest", str(short), "--model", "hvar", "-q"]) == 2
    err = capsys.readouterr().err
    assert "expires within the 2-day margin period after 2026-08-21" in err and "2026-08-22" in err
