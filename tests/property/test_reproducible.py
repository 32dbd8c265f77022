"""Numbers that do not depend on where or how they were computed.

- Fitted surfaces are bit-identical on the numpy and numba kernel paths, and from one build to
  the next: the fit's inputs are rounded below their information (pricing.surface.otm_quotes)
  and the solver uses IEEE basic operations and correctly rounded sums only (pricing.lsq), so
  no BLAS kernel or SIMD width reaches it (across CPUs: tests/workbook/test_cross_cpu.py).
- One RFQ's quote does not change when an RFQ on another underlying is in the same request:
  the scenario window is the market's, not the rows' (pricing.margin.var.scenario_scope).
"""

from __future__ import annotations

import numpy as np
import pytest

import udfs
from pricing import accel
from pricing.chain import load_bundled_chain
from pricing.surface import build_surface
from udfs.market import BUNDLED_DATES


def _params(underlying: str, day: str, path: str, model: str = "svi") -> np.ndarray:
    with accel.using(path):
        surface = build_surface(load_bundled_chain(underlying, day), model=model)
    return np.array([list(s.params().values()) for s in surface.smiles])


@pytest.mark.parametrize("underlying", ["BTC", "ETH"])
@pytest.mark.parametrize("day", BUNDLED_DATES)
def test_surface_fit_is_bit_identical_across_kernel_paths_and_builds(underlying: str, day: str) -> None:
    first = _params(underlying, day, "numpy")
    assert np.array_equal(first, _params(underlying, day, "numpy"))
    if accel.numba_installed():
        assert np.array_equal(first, _params(underlying, day, "numba"))


def test_sabr_fit_is_bit_identical_across_kernel_paths() -> None:
    if not accel.numba_installed():
        pytest.skip("numba (the fast extra) is not installed")
    assert np.array_equal(_params("BTC", BUNDLED_DATES[0], "numpy", "sabr"), _params("BTC", BUNDLED_DATES[0], "numba", "sabr"))


def test_a_quote_does_not_depend_on_unrelated_rows() -> None:
    header = ["rfq_id", "instrument", "side", "quantity"]
    btc = ["R1", "BTC-25SEP26-80000-P", "two-way", 10]
    eth = ["R2", "ETH-25SEP26-2500-C", "two-way", 100]
    alone = udfs.CQ_RFQ([header, btc], "none", "bundled", None, True)
    mixed = udfs.CQ_RFQ([header, btc, eth], "none", "bundled", None, True)
    assert alone[0] == mixed[0]
    assert not any(hasattr(v, "reason") for v in mixed[1] + mixed[2]), mixed
    assert alone[1] == mixed[1]  # every column, bit for bit


def test_a_market_underlying_without_history_does_not_block_the_window() -> None:
    """A user's market may carry a coin with no bundled history (SOL): a BTC book is still margined,
    on the window of the underlyings that have one."""
    from datetime import timedelta

    from pricing.daycount import utc
    from pricing.instruments import OptionContract
    from pricing.margin.engine import margin
    from pricing.margin.var import hvar_model
    from pricing.market import Market
    from pricing.portfolio import from_contracts
    from pricing.surface import flat_surface

    now = utc(2026, 8, 21, 8)
    book = from_contracts([OptionContract("BTC", now + timedelta(days=30), 50_000.0, 1, "linear")], [1])
    btc = Market(now, {"BTC": flat_surface("BTC", 52_000.0, 0.65)})
    with_sol = Market(now, {"BTC": btc.surfaces["BTC"], "SOL": flat_surface("SOL", 150.0, 0.9)})
    assert margin(book, with_sol, hvar_model()).core == margin(book, btc, hvar_model()).core
