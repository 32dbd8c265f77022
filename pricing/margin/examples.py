"""The worked books of the margin models' examples: one home, so every model's doctest prices the same book.

Each returns ``(portfolio, market)`` on a flat 60% BTC surface at 60,000 USD on 2026-06-26 08:00 UTC,
options expiring 2026-09-25 08:00 UTC (three months): small enough to check by hand, and priced
the same on every CPU to the whole dollar (the doctests print whole dollars or relations only).
"""

from __future__ import annotations

from pricing.daycount import utc
from pricing.instruments import OptionContract
from pricing.market import Market
from pricing.portfolio import Portfolio, from_contracts
from pricing.surface import flat_surface

__all__ = ["collar", "short_call"]


def _market() -> Market:
    return Market(utc(2026, 6, 26, 8), {"BTC": flat_surface("BTC", 60_000.0, 0.6)})


def collar() -> tuple[Portfolio, Market]:
    """Short 10 BTC calls at 70,000 and long 10 BTC puts at 50,000 (USD-settled), three months.

    Returns
    -------
    tuple of (Portfolio, Market)
        The two positions (quantities -10 and +10 contracts of 1 BTC) and the flat 60% market.

    Examples
    --------
    >>> book, m = collar()
    >>> book.quantity.tolist(), f"{m.as_of:%Y-%m-%d}"
    ([-10.0, 10.0], '2026-06-26')
    """
    exp = utc(2026, 9, 25, 8)
    book = from_contracts([OptionContract("BTC", exp, 70_000.0, 1), OptionContract("BTC", exp, 50_000.0, -1)], [-10.0, 10.0])
    return book, _market()


def short_call() -> tuple[Portfolio, Market]:
    """Short 10 coin-settled (inverse) BTC calls at 60,000, three months.

    Returns
    -------
    tuple of (Portfolio, Market)
        The one position (-10 contracts of 1 BTC) and the flat 60% market.
    """
    book = from_contracts([OptionContract("BTC", utc(2026, 9, 25, 8), 60_000.0, 1, "inverse")], [-10.0])
    return book, _market()
