"""Every catalogue function against the bad inputs a sheet produces (issue: "a test sweeps all
functions"): a blank, text where a number belongs, a negative number, an unknown enum, a
mismatched range, an empty table, a table missing a column, an Excel error value.

The rule checked: the call never raises and never returns NaN; every cell is a number, a
text, a boolean or an :class:`XlError` with a reason; and where the input is nonsense for
that argument the result carries an error (never a plausible number).
"""

from __future__ import annotations

import math

import pytest

import udfs
from udfs import CATALOGUE
from udfs.excel import XlError

PORTFOLIO = [["instrument", "quantity"], ["BTC-30OCT26-82000-C", -2], ["BTC-PERPETUAL", 1]]
TRADES = [["instrument", "quantity"], ["BTC-30OCT26-90000-C", 1], ["BTC-30OCT26-70000-P", -1]]
RFQS = [["instrument", "side", "quantity"], ["BTC-30OCT26-90000-C", "buy", 1], ["BTC-30OCT26-70000-P", "two-way", 2]]
EXPIRY = 46381  # 2026-12-25, a listed expiry of the bundled 2026-08-21 market

GOOD: dict[str, tuple] = {
    "BLACK": ("C", 60000, [[55000], [65000]], 0.25, 0.55, 0.0, "linear"),
    "BLACK_GREEKS": ("C", 60000, [[55000], [65000]], 0.25, 0.55, 0.0, "linear", False),
    "IMPLIED_VOL": ([[9000.0], [4600.0]], "C", 60000, [[55000], [65000]], 0.25, 0.0, "linear"),
    "BINOMIAL": ("P", 50, [[50], [52]], 0.5, 0.4, 0.05, 0.05, 50, "american", "crr"),
    "OPTION_TIME": (46255.4, [[46325], [46381]]),
    "INSTRUMENT": ([["BTC-30OCT26-82000-C"], ["BTC-PERPETUAL"]], False),
    "MARKET": ("bundled", None, "svi"),
    "MARKET_INFO": ("bundled", True),
    "VOL": ("bundled", "BTC", [[90000], [110000]], EXPIRY),
    "FORWARD": ("bundled", "BTC", [[46325], [EXPIRY]]),
    "SMILE_PARAMS": ("bundled", "BTC", True),
    "SVI_VOL": (100, [[80], [120]], 0.5, 0.02, 0.1, -0.3, 0.0, 0.2),
    "SABR_VOL": (100, [[80], [120]], 1.0, 0.5, 1.0, -0.3, 0.8),
    "STRUCTURE": ("bundled", "call_spread", "BTC", EXPIRY, [[100000, 120000]], 1.0, "inverse", None, False),
    "VARSWAP_STRIKE": ("bundled", "BTC", 30),
    "VOLSWAP_STRIKE": ("bundled", "BTC", 30, 0.8),
    "IM": (PORTFOLIO, "bundled", "span", None),
    "IM_BREAKDOWN": (PORTFOLIO, "bundled", "span", None, True),
    "IM_BACKTEST": (PORTFOLIO, "bundled", "hvar", None, True),
    "IM_CONTRIB": (PORTFOLIO, "bundled", "span", None),
    "IM_DELTA": (PORTFOLIO, TRADES, "bundled", "span", None),
    "SCENARIO_PNL": (PORTFOLIO, "bundled", "hvar", None, True),
    "MARGIN_CALL": (PORTFOLIO, 100000.0, "bundled", "span", None, True),
    "FVA": ([[950000], [100000]], 0.05, 0.0, 90, 360),
    "FVA_LIFETIME": ([[950000], [100000]], 0.25, 0.05, 0.0, "flat", 7, 0.0),
    "MVA": ([[60], [10]], 60000, 0.55, 0.25, 0.005, 1.0, 0.0),
    "KVA": ([[2e7], [1e6]], 0.02, 0.08, 0.1, 1.0),
    "SACCR": ("C", 1, 60000, 65000, 10, 0.25, 0.0, 0.0, 0.0, True, True),
    "CCVA": ([[950000], [1000]], 0.25, "qccp", 0.0, None, None, "flat", 0.0),
    "K_CM": (1e8, 5e6, 5e7, 1e9),
    "QUOTE": ([[550000], [1000]], 12500, 3200, 815, 285, 2000, "ask"),
    "RFQ": (RFQS, PORTFOLIO, "bundled", [["model", "span"]], True),
    "VERSION": (),
    "HANDLES": (True,),
}

NUMBER = {
    "forward",
    "strike",
    "t_years",
    "vol",
    "price",
    "spot",
    "rate",
    "carry",
    "steps",
    "days",
    "delta_im",
    "funding_rate",
    "exposure",
    "risk_weight",
    "capital_ratio",
    "cost_of_capital",
    "tenor_years",
    "abs_delta_coin",
    "borrow_spread",
    "im_non_br",
    "k_ccp",
    "df_member",
    "df_ccp",
    "df_all_members",
    "base",
    "fva",
    "kva",
    "mva",
    "ccva",
    "spread",
    "a",
    "b",
    "rho",
    "m",
    "sigma",
    "alpha",
    "beta",
    "nu",
    "units",
    "lag_days",
    "step_days",
    "quantity",
    "im_rate",
    "basis",
    "mtm",
    "collateral",
    "posted_im",
    "default_fund",
    "pd_annual",
    "lgd",
    "discount_rate",
    "vol_of_vol",
    "strikes",
}
ENUM = {"cp", "settle", "style", "method", "side", "model", "profile", "kind", "ccp_type", "smile", "direction"}
TABLE = {"portfolio", "trades", "rfqs", "params", "history"}
DATE = {"as_of", "expiry", "far_expiry"}
BOOL = {"headers", "margined"}
TEXT = {"underlying", "name", "market", "chain"}
KINDS = NUMBER | ENUM | TABLE | DATE | BOOL | TEXT


def _cells(out):
    assert isinstance(out, list) and out and all(isinstance(r, list) for r in out), out
    return [c for row in out for c in row]


def _valid(out) -> None:
    for c in _cells(out):
        assert c is None or isinstance(c, (int, float, str, bool)), c
        if isinstance(c, float):
            assert math.isfinite(c), out
        if isinstance(c, XlError):
            assert c.reason, c
            assert "Traceback" not in c.reason and "internal error" not in c.reason, c.reason


def _has_error(out) -> bool:
    return any(isinstance(c, XlError) for c in _cells(out))


def test_every_function_has_a_good_call_and_every_argument_a_kind():
    assert set(GOOD) == set(CATALOGUE)
    for spec in CATALOGUE.values():
        assert len(GOOD[spec.name]) == len(spec.args)
        for a in spec.args:
            assert a.name in KINDS, (spec.name, a.name)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_good_call_has_no_error(name):
    out = getattr(udfs, f"CQ_{name}")(*GOOD[name])
    _valid(out)
    assert not _has_error(out), out


def _mutations(arg: str, optional: bool):
    """(bad value, must the result carry an error?) for an argument of that name."""
    yield "#N/A", True
    yield None, not optional and arg not in BOOL
    if arg in NUMBER:
        yield "abc", True
        yield True, True
        yield -1.0, False  # legal for some (rates, signed quantities): only a clean result is required
    elif arg in ENUM:
        yield "bogus", True
    elif arg in TABLE:
        yield [["instrument", "quantity"]], arg != "params"  # header only (a params range may be empty)
        yield [["foo", "bar"], [1, 2]], True  # required columns missing / unknown parameter
    elif arg in DATE:
        yield "not a date", True
        yield -5.0, True
    elif arg in BOOL:
        yield "maybe", True
    elif arg in TEXT:
        yield "bogus", True
        yield 42.0, True


@pytest.mark.parametrize("name", sorted(n for n in CATALOGUE if CATALOGUE[n].args))
def test_bad_inputs_fail_clearly(name):
    spec = CATALOGUE[name]
    fn = getattr(udfs, spec.desktop_name)
    for i, a in enumerate(spec.args):
        for bad, must_fail in _mutations(a.name, a.optional):
            args = list(GOOD[name])
            args[i] = bad
            out = fn(*args)
            _valid(out)
            if must_fail:
                assert _has_error(out), (name, a.name, bad, out)


def test_mismatched_ranges_are_named():
    out = udfs.CQ_BLACK("C", [[1.0], [2.0]], [[1.0], [2.0], [3.0]], 1, 0.2)
    assert _has_error(out) and "forward 2x1" in out[0][0].reason and "strike 3x1" in out[0][0].reason
    out = udfs.CQ_FVA([[1.0], [2.0]], [[0.05], [0.04], [0.03]], 0, 90)
    assert _has_error(out) and "different sizes" in out[0][0].reason


def test_table_missing_a_column_names_it():
    out = udfs.CQ_IM([["instrument"], ["BTC-PERPETUAL"]], "bundled", "span")[0][0]
    assert "missing column(s) quantity" in out.reason
    out = udfs.CQ_RFQ([["side", "quantity"], ["buy", 1]], "none", "bundled")[0][0]
    assert "instrument or instrument_name or legs" in out.reason


def _wrap(value):
    return value if isinstance(value, list) else [[value]]


@pytest.mark.parametrize("name", sorted(n for n in CATALOGUE if CATALOGUE[n].args))
def test_single_cells_as_one_by_one_ranges_give_the_same_result(name):
    """The hosts pass every argument as a 2-D range (xlwings ndim=2): [[x]] must mean x."""
    fn = getattr(udfs, f"CQ_{name}")
    assert fn(*(_wrap(a) for a in GOOD[name])) == fn(*GOOD[name])


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_a_call_missing_an_argument_or_with_too_many_names_it_never_an_internal_error(name: str) -> None:
    """``=CQ_BLACK()`` in a cell (Excel passes what the cell wrote: no argument for a required
    parameter, or one too many) is the user's mistake: one ``#VALUE!`` naming the function and
    what is wrong, never "internal error" (it was a TypeError from inside the function)."""
    fn = getattr(udfs, CATALOGUE[name].desktop_name)
    required = sum(not a.optional for a in CATALOGUE[name].args)
    calls = [(None,) * (len(CATALOGUE[name].args) + 1)]
    if required:
        calls.append(())
    for args in calls:
        out = fn(*args)
        assert isinstance(out, list) and len(out) == 1 and len(out[0]) == 1, (name, args, out)
        err = out[0][0]
        assert isinstance(err, XlError) and err == "#VALUE!", (name, args, err)
        assert CATALOGUE[name].desktop_name in err.reason and "internal error" not in err.reason, (name, args, err.reason)
