"""One rule for the desk's limits, every host: the params file is the base, a command-line flag
given overrides that one field, and flags have no defaults of their own (the defaults live in
``QuoteLimits``/``RiskLimits`` only).

The reviewer's case (issue 32): a params file with ``max_contracts 50`` and ``quote_validity_s 2``;
``clearquote fix-acceptor`` replaced them with its own flag defaults (1,000 contracts, 10 s) and
``block-rfq`` with ``Limits()``, so FIX and Block RFQ quoted 100 contracts that ``clearquote quote``
refused. Here the same file gives the same refusal (``limit_exceeded``) from all three, and a flag
changes only its own field. The FIX answer is a real QuickFIX message (only ``sendToTarget`` is
captured), as in ``test_fix.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

fix = pytest.importorskip("quickfix", reason="the 'fix' extra (QuickFIX) is not installed")

from addin.cli import main  # noqa: E402 - after the skip
from addin.fix.block_rfq import BlockRfqRefused, maker_quotes  # noqa: E402
from addin.fix.client import quote_request  # noqa: E402
from addin.fix.gateway import QuoteGateway  # noqa: E402
from addin.fix.journal import Journal  # noqa: E402
from addin.fix.run import build_desk  # noqa: E402

MARKET = "bundled:2026-08-21"
NAME = "BTC-25SEP26-60000-C"


def _params(tmp_path: Path, rows: str) -> Path:
    p = tmp_path / "params.csv"
    p.write_text("name,value\nmodel,span\n" + rows, encoding="utf-8")
    return p


def _acceptor_desk(argv: list[str]) -> Any:
    """The desk exactly as ``clearquote fix-acceptor ARGV`` builds it (its parser and its overrides)."""
    from addin.cli import _parser
    from addin.fix.commands import desk_overrides

    args = _parser().parse_args(["fix-acceptor", "settings.cfg", "--market", MARKET, *argv])
    return build_desk(args.portfolio, args.market, args.params, desk_overrides(args), args.as_of)


def _fix_answer(desk: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qty: float) -> str:
    sent: list[Any] = []
    monkeypatch.setattr(fix.Session, "sendToTarget", staticmethod(lambda m, s: sent.append(m)))
    app = QuoteGateway(desk, Journal(tmp_path / "j.sqlite"), clock=lambda: desk.market.current().market.as_of)
    app.on_quote_request(quote_request("R", [{"symbol": NAME, "qty": qty, "side": "1"}]), "S")
    return str(sent[-1].toString()).replace("\x01", "|")


@pytest.mark.parametrize("max_contracts", [50, 200])
def test_the_same_params_file_gives_the_same_refusal_from_every_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], max_contracts: int
) -> None:
    params = _params(tmp_path, f"max_contracts,{max_contracts}\nquote_validity_s,2\n")
    qty = max_contracts * 2  # over the file's limit, under the flag default 1,000 the hosts used to apply
    rfqs = tmp_path / "rfqs.csv"
    rfqs.write_text(f"instrument,side,quantity\n{NAME},buy,{qty}\n", encoding="utf-8")
    why = f"above the limit max_contracts = {max_contracts} contracts"

    assert main(["quote", str(rfqs), "--market", MARKET, "--params", str(params)]) == 1
    printed = capsys.readouterr().out
    assert "refused (limit_exceeded)" in printed and why in printed, printed

    desk = _acceptor_desk(["--params", str(params)])
    assert (desk.risk.max_contracts, desk.limits.quote_validity_s) == (max_contracts, 2.0)
    answer = _fix_answer(desk, tmp_path, monkeypatch, qty)
    assert "35=AG" in answer and "658=3" in answer, answer  # QuoteRequestReject, 3 = exceeds the limit
    assert f"over the limit max_contracts = {max_contracts} contracts" in answer

    notification = {"block_rfq_id": 1, "amount": qty, "legs": [{"instrument_name": NAME, "direction": "buy", "ratio": 1}]}
    with pytest.raises(BlockRfqRefused) as refused:
        maker_quotes(notification, build_desk(None, MARKET, str(params)))
    assert refused.value.refusal.code.value == "limit_exceeded" and why in str(refused.value)


def test_a_flag_overrides_its_one_field_and_no_other(tmp_path: Path) -> None:
    params = _params(tmp_path, "max_contracts,50\nquote_validity_s,2\nmax_notional_usd,1e6\n")
    desk = _acceptor_desk(["--params", str(params), "--validity", "7"])
    assert desk.limits.quote_validity_s == 7.0
    assert (desk.risk.max_contracts, desk.risk.max_notional_usd) == (50.0, 1e6)  # the file's, untouched
    desk = _acceptor_desk(["--params", str(params), "--max-qty", "80", "--limit", "max_leg_contracts=90"])
    assert (desk.risk.max_contracts, desk.risk.max_leg_contracts, desk.limits.quote_validity_s) == (80.0, 90.0, 2.0)


def test_without_a_file_or_flags_the_defaults_are_the_configurations() -> None:
    from pricing.desk import DeskConfig

    desk = _acceptor_desk([])
    config = DeskConfig.from_mapping({})
    assert desk.risk == config.risk and desk.limits == config.limits


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--max-qty", "0"], "--max-qty"),
        (["--validity", "-1"], "--validity"),
        (["--max-market-age", "-5"], "max_market_age_s"),
        (["--limit", "max_contracts=abc"], "--limit"),
        (["--limit", "nonsense=1"], "--limit"),
    ],
)
def test_a_bad_flag_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str) -> None:
    settings = tmp_path / "s.cfg"
    settings.write_text("[DEFAULT]\n", encoding="utf-8")
    assert main(["fix-acceptor", str(settings), "--journal", str(tmp_path / "j.sqlite"), *argv]) == 2
    assert named in capsys.readouterr().err
