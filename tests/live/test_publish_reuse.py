"""A publication reuses what did not change, and is value for value a full rebuild (hypothesis ``RuleBasedStateMachine``).

A mark message is per currency and a refit changes one currency's slices, so the source keeps
the other currency's chain, surface, flags, fit times and content version from the last
publication (:class:`pricing.desk.live.source.CurrencyPart`). Invariants after every
publication, whatever happened before it (marks of either currency, index moves, futures
tickers, settlements, warm refits of any expiry, publications with nothing new):

- the fitted snapshot equals a rebuild of everything from the boards and the keepers' slices:
  every chain column, time, spot and names (:meth:`MarkBoard.build_chain`), every surface's
  expiries, times, forwards, smile parameters and fit reports, the content versions, the flags
  and the fit times;
- a currency whose board and slices did not change since the last publication carries the very
  same chain and surface objects (it was not rebuilt), and one whose board changed does not.
"""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from pricing.chain import OptionChain, load_bundled_chain
from pricing.desk.live import protocol as rpc
from pricing.desk.live.marks import MarkBoard
from pricing.desk.live.refit import RefitPolicy, SurfaceKeeper
from pricing.desk.live.session import FeedStatus
from pricing.desk.live.source import LiveMarketSnapshot, LiveSource, feed_snapshot
from pricing.desk.live.spec import LiveLimits, parse_spec
from pricing.desk.live.versions import content_version
from pricing.surface import VolSurface

CCYS = ("BTC", "ETH")
CHAINS = {u: load_bundled_chain(u, "2025-12-31") for u in CCYS}
MS0 = int(max(c.as_of for c in CHAINS.values()).timestamp() * 1000)
#: Refits here, not in the fit process: the same bits (tests/live/test_slicefit.py), no worker to start.
POLICY = RefitPolicy(fit_process=False)
FUTURE = {"BTC": "BTC-27MAR26", "ETH": "ETH-27MAR26"}


def _summary(chain: OptionChain) -> rpc.SummaryRows:
    u = chain.underlying
    entries = [
        {
            "instrument_name": n,
            "mark_price": float(p),
            "mark_iv": float(100 * iv),
            "underlying_price": float(f),
            "underlying_index": FUTURE[u] if "27MAR26" in n else "SYN." + n.rsplit("-", 2)[0],
            "estimated_delivery_price": chain.spot,
            "creation_timestamp": MS0,
            "bid_price": None if not np.isfinite(b) else float(b),
            "ask_price": None if not np.isfinite(a) else float(a),
        }
        for n, p, iv, f, b, a in zip(
            chain.names, chain.mark_price, chain.mark_iv, chain.forward, chain.bid_price, chain.ask_price
        )
    ]
    out = rpc.parse_book_summary(entries)
    assert isinstance(out, rpc.SummaryRows)
    return out


SUMMARIES = {u: _summary(c) for u, c in CHAINS.items()}


def _cold_keeper(u: str) -> SurfaceKeeper:
    keeper = SurfaceKeeper(u, POLICY)
    keeper.update(MarkBoard(u, SUMMARIES[u]).chain())
    return keeper


#: Cold-fitted once (seconds); each example starts from a deep copy.
KEEPERS = {u: _cold_keeper(u) for u in CCYS}
EXPIRIES = {u: sorted(k.slices) for u, k in KEEPERS.items()}


def _same_chain(a: OptionChain, b: OptionChain) -> None:
    assert (a.underlying, a.as_of, a.spot, a.names) == (b.underlying, b.as_of, b.spot, b.names)
    for col in ("expiry", "t_years", "strike", "cp", "forward", "mark_iv", "mark_price", "bid_price", "ask_price"):
        x, y = getattr(a, col), getattr(b, col)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), col


def _same_surface(a: VolSurface, b: VolSurface) -> None:
    assert (a.underlying, a.spot, a.model, a.fits) == (b.underlying, b.spot, b.model, b.fits)
    assert np.array_equal(a.expiries, b.expiries)
    assert np.array_equal(a.t_years, b.t_years) and np.array_equal(a.forwards, b.forwards)
    assert [s.params() for s in a.smiles] == [s.params() for s in b.smiles]


class PublishMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.boards = {u: MarkBoard(u, SUMMARIES[u]) for u in CCYS}
        self.keepers = {u: copy.deepcopy(KEEPERS[u]) for u in CCYS}
        self.source = LiveSource(parse_spec("deribit:ws://127.0.0.1:9/ws/api/v2"), LiveLimits(), policy=POLICY)
        self.source.keepers = self.keepers
        self.clock = MS0
        self.status = FeedStatus()
        self.last: LiveMarketSnapshot | None = None
        self.changed: set[str] = set(CCYS)  # currencies whose board or slices moved since the last publication

    def teardown(self) -> None:
        self.source.close()

    @rule(
        u=st.sampled_from(CCYS),
        n=st.integers(1, 40),
        shift=st.floats(-0.05, 0.05),
        dt=st.integers(0, 3000),
        seed=st.integers(0, 99),
    )
    def marks(self, u: str, n: int, shift: float, dt: int, seed: int) -> None:
        self.clock += dt
        chain = CHAINS[u]
        rows = np.random.default_rng(seed).choice(len(chain), size=n, replace=False)
        data = [
            {
                "instrument_name": chain.names[i],
                "mark_price": float(chain.mark_price[i]),
                "iv": max(float(chain.mark_iv[i]) + shift, 0.01),
                "timestamp": self.clock,
            }
            for i in rows
        ]
        update = rpc.parse_marks(data)
        assert isinstance(update, rpc.MarkUpdate)
        self.boards[u].apply_marks(update)
        self.changed.add(u)

    @rule(u=st.sampled_from(CCYS), factor=st.floats(0.9, 1.1))
    def index(self, u: str, factor: float) -> None:
        self.boards[u].apply_index(rpc.PriceUpdate(f"{u.lower()}_usd", CHAINS[u].spot * factor, self.clock))
        self.changed.add(u)

    @rule(u=st.sampled_from(CCYS), factor=st.floats(0.9, 1.1))
    def ticker(self, u: str, factor: float) -> None:
        self.boards[u].apply_ticker(rpc.PriceUpdate(FUTURE[u], CHAINS[u].spot * factor, self.clock))
        self.changed.add(u)

    @rule(u=st.sampled_from(CCYS), i=st.integers(0, 200))
    def settle(self, u: str, i: int) -> None:
        name = CHAINS[u].names[i % len(CHAINS[u])]
        self.boards[u].apply_state(rpc.StateUpdate(name, "settled", self.clock))
        self.changed.add(u)

    @rule(u=st.sampled_from(CCYS), i=st.integers(0, 50))
    def refit(self, u: str, i: int) -> None:
        expiry = EXPIRIES[u][i % len(EXPIRIES[u])]
        self.keepers[u].refit(self.boards[u].chain(), expiry, 0.0, mode="warm")
        self.changed.add(u)

    @rule()
    def publish(self) -> None:
        snap = feed_snapshot(self.boards, "test", self.status.last_marks_mono, 30.0)
        assert snap is not None
        self.source._publish_fitted(snap)
        out = self.source.current()
        assert isinstance(out, LiveMarketSnapshot) and out.feed is not None
        flags = list(snap.flags)
        for u in CCYS:
            fresh = self.boards[u].build_chain()
            surface = self.keepers[u].surface(fresh)
            _same_chain(out.market.chains[u], fresh)
            _same_surface(out.market.surfaces[u], surface)
            assert out.versions[u] == content_version(fresh, surface)
            assert dict(out.feed.fit_times[u]) == self.keepers[u].fit_times()
            flags += self.keepers[u].flags()
            if self.last is not None:
                kept = (
                    out.market.chains[u] is self.last.market.chains[u] and out.market.surfaces[u] is self.last.market.surfaces[u]
                )
                # a board change always bumps its revision, a refit always replaces the slices dict
                assert kept == (u not in self.changed), u
        assert out.flags == tuple(flags)
        self.last, self.changed = out, set()


TestPublishReuse = PublishMachine.TestCase
TestPublishReuse.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
