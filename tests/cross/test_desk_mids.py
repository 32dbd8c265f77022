"""Two routes to a structure's mid now: ``Desk.mids`` (every request in one batch, the FIX gateway's
market-move scan) and ``Desk.mid`` (one request at a time, the fill check). They must agree for
any list of requests, refusals included (NaN where a request cannot be resolved).

``Desk.mids`` takes no lock of the desk service: a quote on another thread completes while a
batch of mids is being priced (the FIX gateway scans thousands of live quotes as each snapshot
is published, the moment the first quote on that snapshot is wanted). Events, no timing.

Tolerance: both sum the same leg premiums; ``mid`` with numpy's pairwise sum and ``mids`` with
``np.add.reduceat`` (left to right), which may differ in the last bits for three legs or more:
1e-12 relative, ~5,000 ulp of room on sums of three terms.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.desk import Book, Desk, DeskConfig, FixedSource, Leg, RfqRequest, open_market

NAMES = ["BTC-25SEP26-60000-C", "BTC-25SEP26-70000-C", "BTC-25SEP26-50000-P", "BTC-30OCT26-65000-C", "BTC-PERPETUAL"]
BAD = ["BTC-NOTANAME", "SOL-25SEP26-100-C", "BTC-21AUG26-60000-C"]  # unknown, no such underlying, expired


@pytest.fixture(scope="module")
def desk() -> Desk:
    return Desk(FixedSource(open_market("bundled:2026-08-21").current()), Book.empty(), DeskConfig.from_mapping({}))


@st.composite
def requests(draw: Any) -> RfqRequest:
    names = draw(st.lists(st.sampled_from(NAMES + BAD), min_size=1, max_size=3, unique=True))
    ratios = draw(st.lists(st.sampled_from([1.0, -1.0, 2.0, -0.5, 3.0]), min_size=len(names), max_size=len(names)))
    side = draw(st.sampled_from(["buy", "sell", "two-way"]))
    qty = draw(st.sampled_from([0.1, 1.0, 7.0, 25.0]))
    return RfqRequest(tuple(Leg(n, r) for n, r in zip(names, ratios)), side, qty)


@given(st.lists(requests(), max_size=12))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_batch_mids_equal_one_request_at_a_time(desk: Desk, batch: list[RfqRequest]) -> None:
    together = desk.mids(batch)
    alone = np.array([desk.mid(r) for r in batch])
    assert together.shape == (len(batch),)
    np.testing.assert_allclose(together, alone, rtol=1e-12, atol=0.0, equal_nan=True)


def test_a_listed_option_has_a_finite_mid_and_a_bad_name_none(desk: Desk) -> None:
    good, bad = RfqRequest((Leg(NAMES[0]),), "buy", 1.0), RfqRequest((Leg(BAD[0]),), "buy", 1.0)
    out = desk.mids([good, bad, good])
    assert np.isfinite(out[0]) and out[0] > 0 and np.isnan(out[1]) and out[2] == out[0] == desk.mid(good)


def test_a_quote_completes_while_a_batch_of_mids_is_priced(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    import pricing.desk.service as service

    call = RfqRequest((Leg(NAMES[1]),), "two-way", 2.0, ref="rfq 1")
    quoted = threading.Event()
    answers: list[Any] = []
    premiums = service.leg_premiums

    def quoting_meanwhile(*args: Any, **kwargs: Any) -> Any:
        def other() -> None:  # the QuoteRequest's thread, while the scan prices
            answers.append(desk.quote([call]).result(0))
            quoted.set()

        threading.Thread(target=other, daemon=True).start()
        # Generous: a quote on this book takes milliseconds; a held lock would keep it waiting past this.
        answers.append(quoted.wait(timeout=60))
        return premiums(*args, **kwargs)

    monkeypatch.setattr(service, "leg_premiums", quoting_meanwhile)
    out = desk.mids([call])
    monkeypatch.undo()
    assert answers[-1] is True, "the quote waited for the batch of mids (a lock held over the pricing)"
    assert answers[0].ask["price"] > answers[0].base > 0
    assert out[0] == desk.mid(call)
