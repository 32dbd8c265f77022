"""The mark board under any sequence of feed events (hypothesis ``RuleBasedStateMachine``).

Invariants after every step, whatever arrived (marks with good and bad entries, index moves,
futures tickers, settlements, listings, reloads):

- ``chain()`` is a valid chain: names unique and a subset of the listing, IV > 0 and finite,
  forwards > 0, no crossed bid/ask, time to expiry > 0; the chain's time is its newest mark;
- a chain taken earlier never changes (it holds copies);
- an option's mark is the last valid mark sent for it, and a settled option never comes back
  until a fresh book summary lists it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pricing.chain import load_bundled_chain
from pricing.desk.live import protocol as rpc
from pricing.desk.live.marks import MarkBoard
from pricing.errors import DataError

CHAIN = load_bundled_chain("BTC", "2025-12-31")
MS0 = int(CHAIN.as_of.timestamp() * 1000)


def _summary() -> rpc.SummaryRows:
    entries = [
        {
            "instrument_name": n,
            "mark_price": float(p),
            "mark_iv": float(100 * iv),
            "underlying_price": float(f),
            "underlying_index": "BTC-27MAR26" if "27MAR26" in n else "SYN.X",
            "estimated_delivery_price": CHAIN.spot,
            "creation_timestamp": MS0,
            "bid_price": None if not np.isfinite(b) else float(b),
            "ask_price": None if not np.isfinite(a) else float(a),
        }
        for n, p, iv, f, b, a in zip(
            CHAIN.names, CHAIN.mark_price, CHAIN.mark_iv, CHAIN.forward, CHAIN.bid_price, CHAIN.ask_price
        )
    ]
    out = rpc.parse_book_summary(entries)
    assert isinstance(out, rpc.SummaryRows)
    return out


SUMMARY = _summary()
NAMES = st.sampled_from(CHAIN.names[:60])


class BoardMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.board = MarkBoard("BTC", SUMMARY)
        self.clock = MS0
        self.expected: dict[str, float] = {n: float(iv) for n, iv in zip(SUMMARY.names, SUMMARY.mark_iv)}
        self.settled: set[str] = set()
        self.kept: list[tuple[object, np.ndarray]] = []

    @rule(
        names=st.lists(NAMES, min_size=1, max_size=8),
        ivs=st.lists(st.floats(-1, 3), min_size=8, max_size=8),
        dt=st.integers(0, 5000),
    )
    def marks(self, names: list[str], ivs: list[float], dt: int) -> None:
        self.clock += dt
        data = [{"instrument_name": n, "mark_price": 0.01, "iv": iv, "timestamp": self.clock} for n, iv in zip(names, ivs)]
        update = rpc.parse_marks(data)
        assert isinstance(update, rpc.MarkUpdate)
        self.board.apply_marks(update)
        for n, iv in zip(update.names, update.iv_pct):
            self.expected[n] = float(iv)

    @rule(price=st.floats(1_000, 500_000))
    def index(self, price: float) -> None:
        self.board.apply_index(rpc.PriceUpdate("btc_usd", price, self.clock))

    @rule(price=st.floats(1_000, 500_000))
    def future(self, price: float) -> None:
        self.board.apply_ticker(rpc.PriceUpdate("BTC-27MAR26", price, self.clock))

    @rule(name=NAMES)
    def settle(self, name: str) -> None:
        self.board.apply_state(rpc.StateUpdate(name, "settled", self.clock))
        self.settled.add(name)

    @rule()
    def listing(self) -> None:
        self.board.apply_state(rpc.StateUpdate("BTC-27MAR26-999000-C", "created", self.clock))
        assert self.board.listing_changed

    @rule()
    def reload(self) -> None:
        self.board.reload(SUMMARY)
        self.expected = {n: float(iv) for n, iv in zip(SUMMARY.names, SUMMARY.mark_iv)}
        self.settled.clear()

    @rule()
    def keep(self) -> None:
        try:
            chain = self.board.chain()
        except DataError:
            return
        self.kept.append((chain, chain.mark_iv.copy()))

    @invariant()
    def chain_is_valid(self) -> None:
        try:
            chain = self.board.chain()
        except DataError:
            return
        names = list(chain.names)
        assert len(set(names)) == len(names) and set(names) <= set(SUMMARY.names)
        assert not (set(names) & self.settled)
        assert np.all(np.isfinite(chain.mark_iv) & (chain.mark_iv > 0)) and np.all(chain.forward > 0)
        assert not np.any(chain.bid_price > chain.ask_price)
        assert np.all(chain.t_years > 0)
        for n, iv in zip(chain.names, chain.mark_iv):
            assert abs(100 * iv - self.expected[n]) < 1e-9 * max(1.0, self.expected[n])

    @invariant()
    def old_chains_never_change(self) -> None:
        for chain, iv in self.kept:
            np.testing.assert_array_equal(chain.mark_iv, iv)  # type: ignore[attr-defined]


BoardMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_the_board_keeps_its_invariants_under_any_feed = BoardMachine.TestCase
