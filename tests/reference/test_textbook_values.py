"""Reference values from textbooks.

Haug, *Option Pricing Formulas* (McGraw-Hill, 1998), pp. 2-8, 11-16 and 24, as tabulated (with
page numbers) in QuantLib's ``test-suite/europeanoption.cpp``. Haug's generalised BSM with
cost of carry b = r - q maps to Black-76 on F = S e^{bT} with DF = e^{-rT}. The book prints four
decimals, so the tolerance is 1e-4 (half a unit in the last printed place is 5e-5; QuantLib uses
1e-4 for the same table).
"""

import numpy as np
import pytest

from pricing.binomial import binomial_price
from pricing.black import black76_greeks, black76_price

# type, strike, spot, q, r, t, vol, value  (Haug 1998 pp. 2-8 and p. 24)
HAUG_VALUES = [
    ("c", 65.0, 60.0, 0.00, 0.08, 0.25, 0.30, 2.1334),
    ("p", 95.0, 100.0, 0.05, 0.10, 0.50, 0.20, 2.4648),
    ("p", 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),
    ("c", 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),
    ("c", 1.60, 1.56, 0.08, 0.06, 0.50, 0.12, 0.0291),
    ("p", 70.0, 75.0, 0.05, 0.10, 0.50, 0.35, 4.0870),
    ("c", 100.0, 90.0, 0.10, 0.10, 0.10, 0.15, 0.0205),
    ("c", 100.0, 110.0, 0.10, 0.10, 0.10, 0.25, 10.3556),
    ("c", 100.0, 100.0, 0.10, 0.10, 0.50, 0.35, 9.3679),
    ("p", 100.0, 90.0, 0.10, 0.10, 0.50, 0.25, 12.2149),
    ("p", 100.0, 110.0, 0.10, 0.10, 0.50, 0.35, 5.7963),
    ("c", 40.0, 42.0, 0.08, 0.04, 0.75, 0.35, 5.0975),
]


@pytest.mark.parametrize("cp,k,s,q,r,t,vol,expected", HAUG_VALUES, ids=[f"haug-{i}" for i in range(len(HAUG_VALUES))])
def test_haug_european_values(cp: str, k: float, s: float, q: float, r: float, t: float, vol: float, expected: float) -> None:
    forward = s * np.exp((r - q) * t)
    assert black76_price(cp, forward, k, t, vol, rate=r) == pytest.approx(expected, abs=1e-4)


def test_haug_greeks_pages_11_to_16() -> None:
    """Spot greeks from forward greeks: dF/dS = e^{bT}."""
    # delta: call/put K=100, S=105, q=0.10, r=0.10, T=0.5, vol=0.36 -> 0.5946 / -0.3566
    s, k, q, r, t, v = 105.0, 100.0, 0.10, 0.10, 0.5, 0.36
    g = black76_greeks(["c", "p"], s * np.exp((r - q) * t), k, t, v, rate=r)
    np.testing.assert_allclose(g.delta * np.exp((r - q) * t), [0.5946, -0.3566], atol=1e-4)
    # gamma and vega: K=60, S=55, q=0, r=0.10, T=0.75, vol=0.30 -> 0.0278 and 18.9358
    s, k, q, r, t, v = 55.0, 60.0, 0.0, 0.10, 0.75, 0.30
    g = black76_greeks("c", s * np.exp(r * t), k, t, v, rate=r)
    assert g.gamma * np.exp(2 * r * t) == pytest.approx(0.0278, abs=1e-4)
    assert g.vega == pytest.approx(18.9358, abs=1e-4)


def test_hull_black76_futures_put() -> None:
    """Hull, OFOD 9th ed., Example 18.8: put on a futures, F=K=20, r=9%, vol=25%, 4 months:
    price 1.12 (two printed decimals, so tolerance 5e-3)."""
    assert black76_price("p", 20.0, 20.0, 4 / 12, 0.25, rate=0.09) == pytest.approx(1.12, abs=5e-3)


def test_hull_american_put_tree() -> None:
    """Hull, OFOD 9th ed., Example 21.1 / Figure 21.3: American put S=K=50, r=10%, vol=40%,
    T=5 months, 5-step CRR tree -> 4.49; section 21.1 quotes 4.283 with 500 steps
    (printed to 2 and 3 decimals: tolerances 5e-3 and 5e-4)."""
    assert binomial_price("p", 50, 50, 5 / 12, 0.40, 0.10, steps=5) == pytest.approx(4.49, abs=5e-3)
    assert binomial_price("p", 50, 50, 5 / 12, 0.40, 0.10, steps=500) == pytest.approx(4.283, abs=5e-4)
