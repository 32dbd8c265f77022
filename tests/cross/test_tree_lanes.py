"""An option's tree value does not depend on its batch: alone, in a full SIMD group or left over.

Issue 33: the tree kernel moves full groups of ``LANES`` options through their trees side by
side (one option a SIMD lane) and prices the options left over one at a time, nodes as the
vector (``pricing/accel/tree.py``). Both routes are meant to do the same operations in the same
order for every node, so the guarantee is exact equality (NaN where the tree has no
value, e.g. a probability outside [0, 1] at one step), not a tolerance: a cell priced alone
in Excel and the same option in a column give the same bits. The oracle is the other route
through the same kernel (a cross test): one option alone always takes the per-option route;
in a batch of at least ``LANES`` options it takes the lane route.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import accel
from pricing.binomial import binomial_price

pytestmark = pytest.mark.skipif(not accel.numba_installed(), reason="numba (the fast extra) is not installed")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    extra=st.integers(0, 70),
    steps=st.sampled_from([1, 2, 7, 50, 200]),
    style=st.sampled_from(["american", "european"]),
    method=st.sampled_from(["crr", "lr"]),
)
def test_an_option_has_the_same_value_alone_and_anywhere_in_a_batch(
    seed: int, extra: int, steps: int, style: str, method: str
) -> None:
    from pricing.accel.tree import LANES

    rng = np.random.default_rng(seed)
    n = LANES + extra  # at least one full group, and 0-70 more (full groups and leftovers)
    cp = rng.choice([-1.0, 1.0], n)
    spot = rng.uniform(50.0, 150.0, n)
    strike = spot * np.exp(rng.uniform(-0.7, 0.7, n))
    t = rng.uniform(0.01, 3.0, n)
    vol = rng.uniform(0.05, 2.0, n)
    rate = rng.uniform(-0.02, 0.15, n)
    carry = rate - rng.uniform(0.0, 0.1, n)

    def price(sel: np.ndarray) -> np.ndarray:
        return np.asarray(
            binomial_price(
                cp[sel],
                spot[sel],
                strike[sel],
                t[sel],
                vol[sel],
                rate[sel],
                carry=carry[sel],
                steps=steps,
                style=style,
                method=method,
            )
        )

    with accel.using("numba"):
        batch = price(np.arange(n))
        shuffled = rng.permutation(n)
        assert np.array_equal(price(shuffled), batch[shuffled], equal_nan=True)
        for i in rng.choice(n, 3, replace=False):
            assert np.array_equal(price(np.array([i])), batch[[i]], equal_nan=True)
