"""The CLI under hostile inputs and outputs (issue 28): files in any BOM encoding, deep JSON,
closed pipes, bad --scheduler/--workers and unwritable -o refused before any work (exit 2 with
a message, never a traceback); 1e308 quantities a failed row naming the field, never inf/nan
printed; every xlsx the CLI writes holds no formula it did not put there; chains with an
instrument twice or a negative mark refused naming the rows."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from addin.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ROOT / "pricing" / "data" / "deribit_btc_chain_20260821.csv"
HOSTILE = '=HYPERLINK("http://example.invalid/x","click")'
QUOTED = '"' + HOSTILE.replace('"', '""') + '"'
RFQS = "rfq_id,instrument,side,quantity\n" + QUOTED + ",BTC-25SEP26-80000-C,two-way,5\n"


def formulas_in(xlsx: Path) -> list[str]:
    """Every formula element in every sheet of a workbook (the raw XML, not a library's reading)."""
    with zipfile.ZipFile(xlsx) as z:
        return [f for n in z.namelist() if n.startswith("xl/worksheets/") for f in re.findall(r"<f[ >]", z.read(n).decode())]


def test_quote_xlsx_stores_client_text_as_text(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rfqs = tmp_path / "rfq.csv"
    rfqs.write_text(RFQS, encoding="utf-8")
    out = tmp_path / "q.xlsx"
    assert main(["quote", str(rfqs), "-o", str(out)]) == 0
    assert formulas_in(out) == []
    import openpyxl

    ws = openpyxl.load_workbook(out).active
    assert ws.cell(2, 1).value == HOSTILE and ws.cell(2, 1).data_type == "s"


def test_fix_log_export_stores_client_text_as_text(tmp_path: Path) -> None:
    from addin.fix.run import _export

    class Journal:
        def table(self, name: str):  # type: ignore[no-untyped-def]
            return ["cl_ord_id", "text", HOSTILE], [(HOSTILE, "+cmd|' /C calc'!A0", 1.5), ("@SUM(A1)", "-2+3", 2.0)]

    out = tmp_path / "log.xlsx"
    _export(Journal(), out)
    assert formulas_in(out) == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_rfq_files_in_any_bom_encoding_quote_alike(tmp_path: Path, capsys, encoding: str) -> None:  # type: ignore[no-untyped-def]
    text = "rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,5\n"
    src = tmp_path / "rfq.csv"
    src.write_bytes(text.encode(encoding))
    out = tmp_path / "q.csv"
    assert main(["quote", str(src), "-o", str(out)]) == 0
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[1][0] == "R1" and float(rows[1][rows[0].index("bid")]) > 0


def test_a_file_in_no_unicode_encoding_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rfq.csv"
    src.write_bytes("rfq_id,instrument,side,quantity\nRé,BTC-25SEP26-80000-C,two-way,5\n".encode("latin-1"))
    assert main(["quote", str(src)]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_quantities_of_1e308_fail_their_row_naming_the_field(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rfq.csv"
    src.write_text("rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,1e308\nR2,BTC-25SEP26-80000-C,buy,2\n")
    assert main(["quote", str(src)]) == 1  # one failed row
    printed = capsys.readouterr().out
    assert "row 2 (R1)" in printed and "quantity" in printed and "1e+308 is beyond" in printed
    assert not re.search(r"\b(inf|nan)\b", printed, re.I)


def _too_precise(printed: str) -> list[str]:
    """Numbers in ``printed`` with more than 16 significant digits (a double has no more)."""
    out = []
    for m in re.findall(r"-?\d[\d,]*(?:\.\d+)?", printed):
        digits = m.replace(",", "").replace("-", "").replace(".", "").lstrip("0")
        if len(digits.rstrip("0") if "." not in m else digits) > 16:
            out.append(m)
    return out


@pytest.mark.parametrize("quantity", ["nan", "NaN", "inf", "-inf", "Infinity", "1e308", "9" * 301, "1e20", "123456789012345678"])
def test_a_refused_rows_quantity_prints_as_no_inf_nan_or_301_digits(tmp_path: Path, capsys, quantity: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 28, outside review: a refused row's own quantity printed as nan, inf or 301 digits."""
    src = tmp_path / "rfq.csv"
    src.write_text(f"rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,{quantity}\nR2,BTC-25SEP26-80000-C,buy,2\n")
    main(["quote", str(src)])
    printed = capsys.readouterr().out
    assert not re.search(r"\b(inf|infinity|nan)\b", printed, re.I), printed
    assert not _too_precise(printed), _too_precise(printed)


def test_cell_text_of_non_finite_and_huge_numbers() -> None:
    import numpy as np

    from addin.tables import NOT_A_NUMBER, cell_text

    assert [cell_text(v) for v in (float("nan"), float("inf"), -float("inf"), np.float64("nan"))] == [NOT_A_NUMBER] * 4
    assert cell_text(1e308) == "1.000000e+308" and cell_text(-1e20) == "-1.000000e+20"
    assert cell_text(10**400) == "1.000000e+400" and cell_text(-(10**300) * 7) == "-7.000000e+300"
    assert cell_text(999_999_999_999_999) == "999,999,999,999,999" and cell_text(np.int64(1_000)) == "1,000"
    assert cell_text(1234.5678) == "1,234.57" and cell_text(True) == "TRUE" and cell_text(None) == ""


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--scheduler", "ucx://10.0.0.1:8786"], "scheme 'ucx' is not one of tcp, tls"),
        (["--scheduler", "10.0.0.1"], "is not SCHEME://HOST:PORT"),
        (["--scheduler", "tcp://h:99999"], "port 99999"),
        (["--workers", "0"], "0 is not between 1 and 64"),
        (["--workers", "many"], "'many' is not a whole number"),
    ],
)
def test_bad_cluster_options_exit_2_before_anything_is_computed(tmp_path: Path, capsys, args, why) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rfq.csv"
    src.write_text("rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,5\n")
    with pytest.raises(SystemExit) as stop:
        main(["quote", str(src), *args])
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert why in captured.err and captured.out == ""  # refused while parsing: no market line


def test_an_unwritable_output_exits_2_before_anything_is_computed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rfq.csv"
    src.write_text("rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,5\n")
    (tmp_path / "afile").write_text("")
    for target in (tmp_path / "afile" / "q.xlsx", tmp_path):
        assert main(["quote", str(src), "-o", str(target)]) == 2
        captured = capsys.readouterr()
        assert "-o" in captured.err and captured.out == "", captured


def test_deep_json_market_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rfq.csv"
    src.write_text("rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,5\n")
    deep = tmp_path / "m.json"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert main(["quote", str(src), "--market", str(deep)]) == 2
    err = capsys.readouterr().err
    assert "nests too deeply" in err and "Traceback" not in err


def test_chains_listing_an_instrument_twice_or_a_negative_mark_are_refused_naming_the_rows(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "rfq.csv"
    src.write_text("rfq_id,instrument,side,quantity\nR1,BTC-25SEP26-80000-C,two-way,5\n")
    lines = CHAIN.read_text().splitlines()
    header = lines[0].split(",")
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join([*lines, lines[3]]) + "\n")
    assert main(["quote", str(src), "--market", str(twice)]) == 2
    assert f"rows 4 and {len(lines) + 1}" in capsys.readouterr().err
    bad = lines[5].split(",")
    bad[header.index("mark_price")] = "-0.01"
    negative = tmp_path / "negative.csv"
    negative.write_text("\n".join([*lines[:5], ",".join(bad), *lines[6:]]) + "\n")
    assert main(["quote", str(src), "--market", str(negative)]) == 2
    err = capsys.readouterr().err
    assert "row(s) 6, column mark_price: -0.01" in err


def test_a_pipe_closed_early_exits_2_with_a_message() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "addin.cli", "functions"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(120) == 2
    assert "output pipe closed" in err and "Traceback" not in err


def test_bad_kernel_setting_is_exit_2_with_a_message() -> None:
    """A bad CLEARQUOTE_KERNELS is bad input for every command (found in issue 33: the check ran
    before the error handler, so `warmup` printed a traceback)."""
    import os

    env = {**os.environ, "CLEARQUOTE_KERNELS": "bogus"}
    proc = subprocess.run(
        [sys.executable, "-m", "addin.cli", "warmup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "CLEARQUOTE_KERNELS: 'bogus' is not allowed" in proc.stderr
    assert "Traceback" not in proc.stderr
