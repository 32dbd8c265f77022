"""The one-pass RFQ path agrees with independent routes to the same numbers.

Every check here compares two different computations of one quantity (none is a snapshot):

* grouped ΔIM through the fused tail kernel vs the matrix path (numpy), and the matrix path in
  blocks of 1 and 3 legs vs one block — the fused and matrix paths share no code below the
  margin model's assembly;
* a multi-leg trade's ΔIM vs ``margin()`` of the book with the legs added (IM(P + trade) − IM(P));
* accept mode (:func:`sequential_margins`, the running aggregate updated in place) vs a loop
  that re-runs the one-shot quote against a book rebuilt with every earlier fill;
* the batch XVA on the common masked grid vs the one-trade functions, trade by trade;
* a per-row ``CQ_RFQ`` served from the cached basis vs one call on the whole table.

Tolerances: the fused and matrix P&L agree to ~1e-9 USD per scenario (``test_kernel_margin_paths``);
VaR is an order statistic of those sums, so 1e-6 USD absolute (+1e-12 relative) is many orders
above the rounding and far below a cent. Paths that do the same arithmetic in a different order
(batch vs one trade, accept vs rebuilt book) are held to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from pricing import accel
from pricing.chain import load_bundled_chain
from pricing.margin.addons import AddOnParams
from pricing.margin.deribit import DeribitModel
from pricing.margin.engine import TradeLegs, margin, margin_basis, marginal_im, trade_margins
from pricing.margin.span import SpanModel
from pricing.margin.var import hvar_model
from pricing.market import Market
from pricing.portfolio import concat, from_contracts
from pricing.surface import build_surface
from pricing.xva.params import QuoteParams
from pricing.xva.quote import quote_book
from pricing.xva.rfq import parse_rfqs
from pricing.xva.risks import BookCapital, TradeRisk
from pricing.xva.saccr import saccr_legs_of
from pricing.xva.single import two_way

AS_OF = "2026-08-21"


@pytest.fixture(scope="module")
def desk() -> tuple[Market, object]:
    chain = load_bundled_chain("BTC", AS_OF)
    market = Market(chain.as_of, {"BTC": build_surface(chain)}, {"BTC": chain})
    live = [c for c in chain.contracts() if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    rng = np.random.default_rng(11)
    book = from_contracts(
        [live[i] for i in rng.integers(0, len(live), 120)], rng.choice([-1.0, 1.0], 120) * rng.uniform(0.5, 15.0, 120).round(1)
    )
    return market, book


def _structures(names: list[str], n: int, seed: int) -> list[dict[str, object]]:
    """RFQ rows: singles, spreads and three-leg flies, every side, in a fixed random mix."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        k = int(rng.integers(1, 4))
        legs = ";".join(f"{names[int(j)]}:{r}" for j, r in zip(rng.integers(0, len(names), k), (1, -2, 1)[:k]))
        rows.append({"legs": legs, "side": ("buy", "sell", "two-way")[i % 3], "quantity": float(rng.integers(1, 20))})
    return rows


def _live_names(market: Market) -> list[str]:
    chain = market.chains["BTC"]
    return [n for n, c in zip(chain.names, chain.contracts()) if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]


@pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")
@pytest.mark.parametrize("measure", ["var", "es"])
def test_grouped_fused_kernel_equals_the_matrix_path(desk, measure: str) -> None:
    market, book = desk
    batch = parse_rfqs(_structures(_live_names(market), 60, 3), market)
    trades = batch.trades
    model = hvar_model(measure=measure)
    out = {}
    for kind in ("numpy", "numba"):
        with accel.using(kind):
            basis = margin_basis(book, market, model, AddOnParams(), trades.legs)
            out[kind] = trade_margins(basis, trades)
    for a, b in zip(out["numpy"], out["numba"]):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("model", [SpanModel(), DeribitModel(), hvar_model()], ids=["span", "deribit", "hvar"])
def test_matrix_path_in_blocks_equals_one_block(desk, model) -> None:
    market, book = desk
    trades = parse_rfqs(_structures(_live_names(market), 25, 4), market).trades
    with accel.using("numpy"):
        basis = margin_basis(book, market, model, AddOnParams(), trades.legs)
        whole = trade_margins(basis, trades, block=10_000)
        for block in (1, 3):
            parts = trade_margins(basis, trades, block=block)
            # Same arithmetic; only the legs' batch shape differs (vectorised loops may round the last bit).
            assert np.allclose(parts[0], whole[0], rtol=1e-12, atol=1e-9)
            assert np.allclose(parts[1], whole[1], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("model", [SpanModel(), DeribitModel(), hvar_model()], ids=["span", "deribit", "hvar"])
def test_a_structures_delta_im_is_the_margin_of_the_book_with_its_legs(desk, model) -> None:
    """IM(P ± trade) from the grouped path equals margin() of the book with the legs appended:
    two independent computations (the latter reprices the whole book from scratch)."""
    market, book = desk
    batch = parse_rfqs(_structures(_live_names(market), 6, 5), market)
    res = marginal_im(book, batch.trades.legs, market, model, groups=np.repeat(np.arange(6), np.diff(batch.trades.starts)))
    for t in range(6):
        legs = batch.trades.take(t, t + 1).legs
        for sign, got in ((1.0, res.im_buy[t]), (-1.0, res.im_sell[t])):
            direct = margin(concat([book, legs.with_quantity(sign * legs.quantity)]), market, model).total
            assert got == pytest.approx(direct, rel=1e-9, abs=1e-6)


def test_single_leg_groups_equal_the_ungrouped_call(desk) -> None:
    market, book = desk
    chain = market.chains["BTC"]
    live = [c for c in chain.contracts() if (c.expiry - chain.as_of).total_seconds() > 3 * 86400][:30]
    cands = from_contracts(live, np.arange(1, 31, dtype=float))
    a = marginal_im(book, cands, market, hvar_model())
    b = marginal_im(book, cands, market, hvar_model(), groups=np.arange(30))
    assert np.array_equal(a.im_buy, b.im_buy) and np.array_equal(a.im_sell, b.im_sell)


@pytest.mark.parametrize("model", [hvar_model(), SpanModel()], ids=["hvar", "span"])
def test_accept_mode_equals_requoting_against_the_rebuilt_book(desk, model) -> None:
    """Accept mode updates the book's aggregate in place; the reference re-runs the one-shot
    quote for each RFQ against a portfolio rebuilt with every earlier fill (and its SA-CCR set)."""
    market, book = desk
    rows = _structures(_live_names(market), 8, 6)
    p = QuoteParams(sofr=0.04)
    got = quote_book(rows, book, market, model, p, accept=True)
    running = book
    for i, row in enumerate(rows):
        ref = quote_book([row], running, market, model, p)[0]
        for key, value in ref.items():
            if key in ("rfq", "trade", "side"):
                continue
            assert got[i][key] == pytest.approx(value, rel=1e-9, abs=1e-6), (i, key)
        fill = {"buy": -1.0, "sell": 1.0}.get(str(row["side"]), 0.0)
        if fill:
            legs = parse_rfqs([row], market).trades.legs
            running = concat([running, legs.with_quantity(fill * legs.quantity)])


def test_batch_xva_equals_the_one_trade_functions(desk) -> None:
    """The common masked grid gives each trade what its own grid gives (padding periods have zero width)."""
    from pricing.positions import position_state
    from pricing.xva.risks import book_capital

    market, book = desk
    rows = _structures(_live_names(market), 12, 7)
    p = QuoteParams(
        sofr=0.04, im_profile="sqrt", venue="non_qccp", kccp_usd=1e6, df_members_usd=1e8, default_fund_usd=1e6, im_ccp_usd=1e9
    )
    batch = parse_rfqs(rows, market)
    im0 = margin(book, market, hvar_model()).total
    table = quote_book(rows, book, market, hvar_model(), p)
    cap = book_capital(book, market, im0)
    for t, q in enumerate(table):
        part = batch.trades.take(t, t + 1)
        st = position_state(part.legs, market)
        df = np.where(part.legs.inverse, 1.0, np.exp(-0.04 * st.t_years * 365.0 / 360.0))
        opt = part.legs.kind == 0
        vol = float(np.average(st.vol[opt], weights=np.abs(part.legs.units[opt]))) if opt.any() else 0.0
        risk = TradeRisk(
            float((df * st.value_usd).sum()),
            float(st.vega_usd.sum()),
            abs(float(st.delta_coin.sum())),
            float(st.spot[0]),
            vol,
            float(st.t_years.max()),
            saccr_legs_of(part.legs, st, np.ones(len(part.legs), bool)),
        )
        bid, ask = two_way(risk.premium, q["delta_im_ask"], q["delta_im_bid"], risk, p, cap)
        for s, label in ((bid, "bid"), (ask, "ask")):
            for k, v in s.as_dict().items():
                if k in ("side", "price", "base", "delta_im"):
                    continue
                assert q[f"{label}_{k}"] == pytest.approx(v, rel=1e-9, abs=1e-9), (t, label, k)


def test_bad_rows_are_refused_alone_with_their_reason(desk) -> None:
    market, _ = desk
    good = _live_names(market)[0]
    rows = [
        {"instrument": good, "side": "buy", "quantity": 1},
        {"instrument": "BTC-1JAN20-50000-C", "side": "buy", "quantity": 1},
        {"instrument": good, "side": "maybe", "quantity": 1},
        {"instrument": good, "side": "sell", "quantity": -3},
        {"instrument": "SOL-25SEP26-100-C", "side": "buy", "quantity": 1},
        {"legs": f"{good}:x", "side": "buy", "quantity": 1},
        {"instrument": good, "side": "sell", "quantity": 2},
    ]
    batch = parse_rfqs(rows, market)
    assert [r is None for r in batch.reasons] == [True, False, False, False, False, False, True]
    assert batch.rows.tolist() == [0, 6] and batch.trades.count == 2
    assert "row 3" in batch.reasons[1] and "expired" in batch.reasons[1]
    assert "column side" in batch.reasons[2] and "two-way" in batch.reasons[2]
    assert "column quantity" in batch.reasons[3] and "> 0" in batch.reasons[3]
    assert "SOL" in batch.reasons[4] and "BTC" in batch.reasons[4]
    assert "column legs" in batch.reasons[5]


def test_per_row_rfq_formulas_reuse_the_book_and_equal_one_batch_call() -> None:
    """500 per-row calls as Excel makes them give the batch call's cells, and build the book's
    basis once; a changed book builds a new one (no stale cache)."""
    from unittest import mock

    from pricing.xva import quote as quote_module
    from udfs.store import STORE
    from udfs.xva import rfq

    chain = load_bundled_chain("BTC", AS_OF)
    names = [n for n, c in zip(chain.names, chain.contracts()) if (c.expiry - chain.as_of).total_seconds() > 3 * 86400]
    rng = np.random.default_rng(2)
    book = [["instrument", "quantity"]] + [[names[int(i)], float(rng.integers(1, 9))] for i in rng.integers(0, len(names), 60)]
    rows = [
        [names[int(i)], ("buy", "sell", "two-way")[j % 3], float(1 + j % 5)]
        for j, i in enumerate(rng.integers(0, len(names), 40))
    ]
    params = [["model", "hvar"]]
    STORE.clear()
    builds = []
    real = quote_module.QuoteBasis.build

    def counted(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    with mock.patch.object(quote_module.QuoteBasis, "build", staticmethod(counted)):
        per_row = [rfq([r], book, "bundled", params, False)[0] for r in rows]
        assert len(builds) == 1
        whole = rfq([["instrument", "side", "quantity"], *rows], book, "bundled", params, False)
        changed = [*book[:-1], [book[-1][0], book[-1][1] + 1.0]]
        rfq([rows[0]], changed, "bundled", params, False)
        assert len(builds) == 2
    assert len(whole) == len(per_row)  # headers FALSE
    for a, b in zip(per_row, whole):
        assert [x == "" for x in a] == [x == "" for x in b]
        assert [x for x in a if x != ""] == pytest.approx([x for x in b if x != ""], rel=1e-12, abs=1e-9)


def test_book_capital_sets_are_reused_per_underlyings() -> None:
    cap = BookCapital()
    p = QuoteParams()
    assert cap.hedging_sets(("BTC",), p) is cap.hedging_sets(("BTC",), p)


def test_trade_legs_layout() -> None:
    from pricing.errors import PricingInputError

    chain = load_bundled_chain("BTC", AS_OF)
    legs = from_contracts(chain.contracts()[:5], [1, 2, 3, 4, 5])
    trades, order = TradeLegs.grouped(legs, np.array([2, 0, 2, 0, 4]))
    assert trades.starts.tolist() == [0, 2, 2, 4, 4, 5] and order.tolist() == [1, 3, 0, 2, 4]
    assert trades.sum_rows(np.ones((5, 1)))[:, 0].tolist() == [2, 0, 2, 0, 1]
    assert trades.blocks(2) == [(0, 2), (2, 4), (4, 5)]
    assert trades.blocks(1) == [(0, 1), (1, 2), (2, 3), (3, 5)]  # empty trades ride along
    with pytest.raises(PricingInputError, match="groups"):
        TradeLegs.grouped(legs, np.array([0, -1, 0, 0, 0]))
