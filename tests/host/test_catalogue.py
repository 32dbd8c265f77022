"""The catalogue as Excel calls it: names and argument orders, blank optionals, per-cell errors, spills
and grids, handles, content caches, the README's function reference.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import udfs
from pricing.black import black76_price
from pricing.chain import CSV_COLUMNS
from pricing.margin.quantile import tail_count
from pricing.marketdata import chain_file, read_table
from udfs import CATALOGUE
from udfs.excel import XlError
from udfs.store import STORE

# DESIGN.md fixes these names and argument orders.
CORE = {
    "BLACK": ["cp", "forward", "strike", "t_years", "vol", "rate", "settle"],
    "BLACK_GREEKS": ["cp", "forward", "strike", "t_years", "vol", "rate", "settle", "headers"],
    "IMPLIED_VOL": ["price", "cp", "forward", "strike", "t_years", "rate", "settle"],
    "BINOMIAL": ["cp", "spot", "strike", "t_years", "vol", "rate", "carry", "steps", "style"],
    "IM": ["portfolio", "market", "model", "params"],
    "IM_DELTA": ["portfolio", "trades", "market", "model", "params"],
    "FVA": ["delta_im", "funding_rate", "im_rate", "days", "basis"],
    "QUOTE": ["base", "fva", "kva", "mva", "ccva", "spread", "side"],
    "RFQ": ["rfqs", "portfolio", "market", "params", "headers"],
}


def _chain_range() -> list[list[object]]:
    """The bundled ETH chain as a desk would paste it: Deribit columns, numbers as numbers."""
    _, rows = read_table(chain_file("ETH", "2025-12-31"), CSV_COLUMNS)
    header = [*CSV_COLUMNS, "bid_price", "ask_price", "open_interest"]
    return [header] + [
        [r[c] if c in ("timestamp", "instrument_name") or r[c] == "" else float(r[c]) for c in header] for r in rows
    ]


PORTFOLIO = [["instrument", "quantity"], ["BTC-30OCT26-82000-C", -10], ["BTC-30OCT26-70000-P", 5]]


def test_core_names_and_argument_orders():
    for name, args in CORE.items():
        assert [a.name for a in CATALOGUE[name].args][: len(args)] == args, name
    for name in ("KVA", "MVA", "CCVA"):
        assert name in CATALOGUE


def test_documented_arguments_are_the_real_parameters():
    """The wizard help is built from Spec.args; it must name exactly the parameters."""
    for spec in CATALOGUE.values():
        fn = getattr(udfs, spec.desktop_name)
        params = list(inspect.signature(fn).parameters.values())
        assert [p.name for p in params] == [a.name for a in spec.args], spec.name
        assert [p.default is not p.empty for p in params] == [a.optional for a in spec.args], spec.name
        assert all(a.doc.strip() for a in spec.args) and spec.summary and spec.returns and spec.example, spec.name


def test_blank_optionals_take_their_defaults():
    assert udfs.CQ_BLACK("C", 60000, 65000, 0.25, 0.55, None, None) == udfs.CQ_BLACK("C", 60000, 65000, 0.25, 0.55)


def test_black_column_equals_engine_and_fails_per_cell():
    strikes = [[50000.0], ["abc"], [-5.0], [None], ["#N/A"], [70000.0]]
    out = udfs.CQ_BLACK("call", 60000, strikes, 0.5, 0.6, 0.01, "LINEAR")
    assert len(out) == 6 and all(len(r) == 1 for r in out)
    engine = black76_price(1, 60000.0, np.array([50000.0, 70000.0]), 0.5, 0.6, rate=0.01)
    assert [out[0][0], out[5][0]] == pytest.approx(engine.tolist(), rel=1e-14)
    codes = [str(out[i][0]) for i in range(1, 5)]
    assert codes == ["#VALUE!", "#NUM!", "#VALUE!", "#N/A"]
    assert "text 'abc'" in out[1][0].reason and "> 0" in out[2][0].reason and "blank" in out[3][0].reason


def test_inverse_price_is_coin_units():
    usd = udfs.CQ_BLACK("P", 60000, 55000, 0.25, 0.5)[0][0]
    coin = udfs.CQ_BLACK("P", 60000, 55000, 0.25, 0.5, 0, "inverse")[0][0]
    assert coin == pytest.approx(usd / 60000, rel=1e-14)


def test_a_row_of_strikes_and_a_column_of_vols_make_a_grid():
    out = udfs.CQ_BLACK("C", 100, [[90, 100, 110]], [[1.0]], [[0.2], [0.4]])
    assert len(out) == 2 and len(out[0]) == 3
    assert out[1][1] > out[0][1]


def test_percent_typed_as_number_is_refused_with_the_unit():
    out = udfs.CQ_BLACK("C", 100, 100, 1, 55)
    assert isinstance(out[0][0], XlError) and "0.55 = 55%" in out[0][0].reason


def test_greeks_rows_and_headers():
    out = udfs.CQ_BLACK_GREEKS("C", 100, [[90], [100]], 1, 0.2, 0, "linear", True)
    assert out[0] == ["delta", "gamma", "vega", "theta", "rho"] and len(out) == 3


def test_500_rfq_formulas_sharing_one_chain_fit_the_surface_once():
    chain = _chain_range()
    STORE.clear()
    rfqs = [["instrument", "side", "quantity"], ["ETH-27MAR26-4000-C", "buy", 10]]
    first = udfs.CQ_RFQ(rfqs, "none", chain)
    for _ in range(499):
        again = udfs.CQ_RFQ(rfqs, "none", [list(r) for r in chain])  # equal values, new lists
    assert again == first
    assert STORE.builds["MARKET"] == 1
    edited = [list(r) for r in chain]
    edited[1][2] = float(edited[1][2]) + 1.0  # one mark_iv cell edited: a new content key
    udfs.CQ_RFQ(rfqs, "none", edited)
    assert STORE.builds["MARKET"] == 2


def test_market_handle_round_trip_and_expired_handle():
    handle = udfs.CQ_MARKET("bundled")[0][0]
    assert handle.startswith("CQ.MARKET#") and "BTC,ETH" in handle
    assert udfs.CQ_VOL(handle, "btc", 100000, 46381) == udfs.CQ_VOL("bundled", "BTC", 100000, 46381)
    stale = udfs.CQ_VOL("CQ.MARKET#0000000000", "BTC", 100000, 46381)[0][0]
    assert isinstance(stale, XlError) and "recalculate" in stale.reason
    assert any(r[0].split(" ")[0] == handle.split(" ")[0] for r in udfs.CQ_HANDLES()[1:])


def test_handles_are_exact_and_scoped_to_their_user():
    """A prefix of a handle, or another user's handle, never resolves (the adversarial review:
    CQ.MARKET# alone picked another stored market); CQ_HANDLES lists only the caller's."""
    from udfs.store import SCOPE

    handle = udfs.CQ_MARKET("bundled")[0][0].split(" ")[0]
    ident = handle.split("#", 1)[1]
    assert len(ident) == 24  # the whole 96-bit content hash
    for near in ("CQ.MARKET#", handle[:-1], handle + "0", "CQ.MARKET#" + ident[:10]):
        out = udfs.CQ_VOL(near, "BTC", 100000, 46381)[0][0]
        assert isinstance(out, XlError), near
    token = SCOPE.set("someone-else")
    try:
        assert isinstance(udfs.CQ_VOL(handle, "BTC", 100000, 46381)[0][0], XlError)
        assert not any(r[0].startswith(handle) for r in udfs.CQ_HANDLES()[1:])
    finally:
        SCOPE.reset(token)
    assert isinstance(udfs.CQ_VOL(handle, "BTC", 100000, 46381)[0][0], float)


def test_store_is_bounded_in_bytes_and_a_failed_build_leaves_no_lock():
    import numpy as np

    from udfs.store import ObjectStore

    store = ObjectStore(capacity=100, max_bytes=5 * 2**20)
    for i in range(10):
        store.get("ARR", str(i), lambda: np.zeros(2**17))  # 1 MiB each
    assert store.nbytes <= 5 * 2**20 and len(store._items) == 5

    def boom() -> None:
        raise RuntimeError("bad chain")

    for i in range(50):
        with pytest.raises(RuntimeError):
            store.get("BAD", str(i), boom)
    assert store._building == {}


def test_im_delta_matches_two_im_calls_and_fails_per_row():
    trades = [["instrument", "quantity"], ["BTC-30OCT26-82000-C", 10], ["BTC-XX", 1], ["BTC-PERPETUAL", -2]]
    out = udfs.CQ_IM_DELTA(PORTFOLIO, trades, "bundled")
    base = udfs.CQ_IM(PORTFOLIO, "bundled")[0][0]
    after = udfs.CQ_IM([*PORTFOLIO, ["BTC-PERPETUAL", -2]], "bundled")[0][0]
    assert out[2][0] == pytest.approx(after - base, rel=1e-9)
    assert out[0][0] < 0  # buying back the short calls releases margin
    assert isinstance(out[1][0], XlError) and "row 3" in out[1][0].reason


def test_rfq_row_matches_engine_quote_and_bad_row_fails_alone():
    rfqs = [
        ["instrument", "side", "quantity"],
        ["BTC-30OCT26-90000-C", "two-way", 2],
        ["BTC-1JAN20-1-C", "buy", 1],
        ["SOL-30OCT26-1-C", "sell", 1],
    ]
    out = udfs.CQ_RFQ(rfqs, PORTFOLIO, "bundled", [["tick", 1]])
    assert out[0] == ["base", "delta_im_bid", "delta_im_ask", "fva", "kva", "mva", "ccva", "spread", "bid", "ask"]
    base, _, _, fva, kva, mva, ccva, spread, bid, ask = out[1]
    # Two-way: the XVA columns are the ask side's; the ask rounds up to the tick of 1.
    assert ask == math.ceil(base + fva + kva + mva + ccva + spread - 1e-9)
    # The dealer's bid may exceed mid: buying the call hedges the short calls (ΔIM < 0, FVA a benefit).
    assert bid < ask and out[1][1] < 0 < out[1][2]
    assert all(isinstance(c, XlError) for c in out[2] + out[3])
    assert "row 3" in out[2][0].reason and "expired" in out[2][0].reason and "SOL" in out[3][0].reason


def test_scenario_pnl_is_the_distribution_behind_the_var():
    rows = udfs.CQ_SCENARIO_PNL(PORTFOLIO, "bundled", "hvar", [["include_stress", False]])[1:]
    pnl = np.array([r[1] for r in rows])
    core = udfs.CQ_IM_BREAKDOWN(PORTFOLIO, "bundled", "hvar", [["include_stress", False]])
    var = dict((r[0], r[1]) for r in core[1:])["core"]
    k = tail_count(len(pnl), 0.995)  # the k-th worst loss, k = floor(N (1 - alpha)) (docs/methodology.md §C2)
    assert var == pytest.approx(np.sort(-pnl)[::-1][k - 1], rel=1e-9)


def test_params_unknown_name_lists_the_allowed():
    out = udfs.CQ_IM(PORTFOLIO, "bundled", "hvar", [["alpha", 0.99], ["confidence", 0.9]])[0][0]
    assert isinstance(out, XlError) and "unknown parameter 'confidence'" in out.reason and "alpha" in out.reason


def test_function_reference_documents_every_function():
    from pathlib import Path

    from udfs.docs import END, START, render

    reference = (Path(__file__).resolve().parents[2] / "docs" / "functions.md").read_text(encoding="utf-8")
    assert START + reference.split(START, 1)[1].split(END, 1)[0] + END == render(), "run: python -m udfs.docs docs/functions.md"


def test_rfq_sides_view_gives_each_sides_xva_and_agrees_with_the_summary() -> None:
    """`columns=sides` (what `clearquote quote` prints): both sides' XVA, each from its own ΔIM;
    the requested side's columns equal the summary view's (a cross-check of the two views)."""
    rfqs = [
        ["rfq_id", "instrument", "side", "quantity"],
        ["B", "BTC-25SEP26-80000-P", "buy", 10],
        ["S", "BTC-25SEP26-80000-P", "sell", 10],
    ]
    summary = udfs.CQ_RFQ(rfqs, PORTFOLIO, "bundled", [["model", "span"]], True)
    sides = udfs.CQ_RFQ(rfqs, PORTFOLIO, "bundled", [["model", "span"], ["columns", "sides"]], True)
    head, shead = summary[0], sides[0]
    assert len(shead) == 15 and shead[3:8] == ["bid_fva", "bid_kva", "bid_mva", "bid_ccva", "bid_spread"]
    for row, side in ((1, "ask"), (2, "bid")):
        for k in ("fva", "kva", "mva", "ccva", "spread"):
            assert sides[row][shead.index(f"{side}_{k}")] == summary[row][head.index(k)]
    assert sides[1][shead.index("bid_fva")] != sides[1][shead.index("ask_fva")]  # two ΔIMs, two FVAs
    assert udfs.CQ_RFQ(rfqs, PORTFOLIO, "bundled", [["columns", "both"]], True)[0][0].startswith("#VALUE!")
