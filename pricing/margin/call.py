"""Intraday margin call: re-run the margin model on a new market snapshot against collateral held."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from pricing.errors import PricingInputError
from pricing.margin.addons import AddOnParams
from pricing.margin.engine import MarginModel, MarginResult, margin
from pricing.market import Market
from pricing.portfolio import Portfolio


@dataclass(frozen=True)
class MarginCall:
    """Result of an intraday margin check, USD.

    ``call = max(IM - collateral, 0)`` is due by ``deadline``; ``excess`` is the collateral
    above IM (withdrawable), 0 when there is a call.

    Attributes
    ----------
    as_of : datetime
        The snapshot's time (UTC).
    im : MarginResult
        The IM on the new snapshot.
    collateral_usd : float
        Collateral valued at the snapshot's spot, USD.
    call_usd : float
        max(IM - collateral, 0), USD.
    excess_usd : float
        max(collateral - IM, 0), USD.
    deadline : datetime or None
        When a call is due (None: no call).
    """

    as_of: datetime
    im: MarginResult
    collateral_usd: float
    call_usd: float
    excess_usd: float
    deadline: datetime | None

    @property
    def called(self) -> bool:
        return self.call_usd > 0


def collateral_value_usd(collateral: Mapping[str, float] | float, market: Market) -> float:
    """USD value of collateral given as a USD amount or {currency: amount} (USD, USDC, BTC, ETH).

    Parameters
    ----------
    collateral : float or mapping of str to float
        A USD amount, or currency -> amount (finite, >= 0).
    market : Market
        Coin amounts are valued at its spot.

    Returns
    -------
    float
        USD.

    Raises
    ------
    PricingInputError
        An amount is negative or not finite, or a currency has no spot.
    """
    if isinstance(collateral, (int, float)):
        items: Mapping[str, float] = {"USD": float(collateral)}
    else:
        items = collateral
    total = 0.0
    for currency, amount in items.items():
        code = str(currency).strip().upper()
        value = float(amount)
        if not np.isfinite(value) or value < 0:
            raise PricingInputError(f"collateral[{currency}]: must be a finite amount >= 0, got {amount!r}")
        if code in ("USD", "USDC", "USDT"):
            total += value
        else:
            total += value * market.spot(code)
    return total


def intraday_margin_call(
    portfolio: Portfolio,
    collateral: Mapping[str, float] | float,
    market: Market,
    model: MarginModel,
    addons: AddOnParams | None = None,
    *,
    deadline_minutes: float = 60.0,
) -> MarginCall:
    """Margin call on ``market`` (the new snapshot): IM minus collateral, due within the deadline.

    Parameters
    ----------
    portfolio : Portfolio
        The positions, one row each, with signed quantities in contracts.
    collateral : float or mapping currency -> amount
        Collateral on deposit; coin amounts are valued at the new snapshot's spot.
    market : Market
        The new market snapshot (its ``as_of`` starts the deadline).
    model, addons :
        The margin model, as for :func:`~pricing.margin.engine.margin`.
    deadline_minutes : float
        Time allowed to meet the call (default one hour).

    Returns
    -------
    MarginCall
        IM on the new snapshot, collateral, the call max(IM - collateral, 0) and the excess, USD, with the deadline.

    Notes
    -----
    call = max(IM - collateral, 0), due ``deadline_minutes`` after ``market.as_of``;
    excess = max(collateral - IM, 0), IM by :func:`~pricing.margin.engine.margin` on the new snapshot.
    """
    if not (np.isfinite(deadline_minutes) and deadline_minutes > 0):
        raise PricingInputError(f"deadline_minutes: must be > 0, got {deadline_minutes!r}")
    im = margin(portfolio, market, model, addons)
    held = collateral_value_usd(collateral, market)
    call = max(im.total - held, 0.0)
    deadline = market.as_of + timedelta(minutes=float(deadline_minutes)) if call > 0 else None
    return MarginCall(market.as_of, im, held, call, max(held - im.total, 0.0), deadline)
