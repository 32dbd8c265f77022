"""Multi-leg option structures: legs with signed quantities and the usual named strategies.

A structure's price is the quantity-weighted sum of its legs' prices, each leg priced from the
surface at its own strike and expiry (so smile and term structure are respected).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pricing._typing import FloatArray
from pricing.black import Greeks
from pricing.daycount import option_time
from pricing.errors import PricingInputError
from pricing.instruments import OptionContract
from pricing.surface import VolSurface


@dataclass(frozen=True)
class Leg:
    """One option leg; ``quantity`` > 0 long, < 0 short, in options (1 option = 1 coin).

    Attributes
    ----------
    contract : OptionContract
        The option of the leg.
    quantity : float
        Signed options.
    """

    contract: OptionContract
    quantity: float


@dataclass(frozen=True)
class Structure:
    """A named combination of legs.

    Attributes
    ----------
    name : str
        E.g. ``"straddle"``.
    legs : tuple of Leg
        The legs, each with its signed ratio.
    """

    name: str
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        if not self.legs:
            raise PricingInputError(f"structure {self.name!r}: needs at least one leg")
        if len({leg.contract.underlying for leg in self.legs}) != 1:
            raise PricingInputError(f"structure {self.name!r}: all legs must share one underlying")

    def arrays(self, now: datetime) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(cp, strike, t_years, quantity) per leg.

        Parameters
        ----------
        now : datetime
            Timezone-aware; the time of ``t_years``.

        Returns
        -------
        (cp, strike, t_years, quantity) : ndarrays of shape (legs,)
            +1/-1, USD, years ACT/365, signed options.
        """
        cp = np.array([leg.contract.cp for leg in self.legs], dtype=np.float64)
        strike = np.array([leg.contract.strike for leg in self.legs])
        t = np.array([option_time(now, leg.contract.expiry) for leg in self.legs])
        qty = np.array([leg.quantity for leg in self.legs], dtype=np.float64)
        return cp, strike, t, qty


def _option(underlying: str, expiry: datetime, strike: float, cp: int, settle: str) -> OptionContract:
    return OptionContract(underlying, expiry, float(strike), cp, settle)


def _ordered(name: str, *strikes: float) -> None:
    if any(not (a < b) for a, b in itertools.pairwise(strikes)):
        raise PricingInputError(f"{name}: strikes must be strictly increasing, got {strikes}")


def vertical_spread(
    underlying: str, expiry: datetime, k_low: float, k_high: float, cp: int, qty: float = 1.0, settle: str = "inverse"
) -> Structure:
    """Call spread (cp=+1: long k_low call, short k_high call) or put spread (cp=-1: long k_high put, short k_low put).

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    expiry : datetime
        Timezone-aware UTC.
    k_low, k_high : float
        Strikes, USD, k_low < k_high.
    cp : int
        +1 call spread, -1 put spread.
    qty : float
        Structures (< 0 sells it).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Structure
        The structure: two legs, one long and one short, each leg's ratio signed (+ long), contracts per structure.
    """
    _ordered("vertical_spread", k_low, k_high)
    sign = 1.0 if cp == 1 else -1.0
    legs = (
        Leg(_option(underlying, expiry, k_low, cp, settle), sign * qty),
        Leg(_option(underlying, expiry, k_high, cp, settle), -sign * qty),
    )
    return Structure("call spread" if cp == 1 else "put spread", legs)


def straddle(underlying: str, expiry: datetime, strike: float, qty: float = 1.0, settle: str = "inverse") -> Structure:
    """Long call and long put at one strike (qty < 0 sells it).

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    expiry : datetime
        Timezone-aware UTC.
    strike : float
        USD.
    qty : float
        Structures (< 0 sells it).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Structure
        The structure: a call and a put leg, each leg's ratio signed (+ long), contracts per structure.
    """
    return Structure(
        "straddle",
        (Leg(_option(underlying, expiry, strike, 1, settle), qty), Leg(_option(underlying, expiry, strike, -1, settle), qty)),
    )


def strangle(
    underlying: str, expiry: datetime, k_put: float, k_call: float, qty: float = 1.0, settle: str = "inverse"
) -> Structure:
    """Long k_put put and long k_call call, k_put < k_call.

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    expiry : datetime
        Timezone-aware UTC.
    k_put, k_call : float
        Strikes, USD.
    qty : float
        Structures (< 0 sells it).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Structure
        The structure: a put and a call leg, each leg's ratio signed (+ long), contracts per structure.
    """
    _ordered("strangle", k_put, k_call)
    return Structure(
        "strangle",
        (Leg(_option(underlying, expiry, k_put, -1, settle), qty), Leg(_option(underlying, expiry, k_call, 1, settle), qty)),
    )


def butterfly(
    underlying: str, expiry: datetime, k1: float, k2: float, k3: float, cp: int = 1, qty: float = 1.0, settle: str = "inverse"
) -> Structure:
    """Long k1, short 2 x k2, long k3 (same type); k2 need not be centred (broken wing).

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    expiry : datetime
        Timezone-aware UTC.
    k1, k2, k3 : float
        Strikes, USD, k1 < k2 < k3.
    cp : int
        +1 calls, -1 puts.
    qty : float
        Structures (< 0 sells it).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Structure
        The structure: three legs, long k1, short 2 x k2, long k3, each leg's ratio signed (+ long), contracts per structure.
    """
    _ordered("butterfly", k1, k2, k3)
    legs = (
        Leg(_option(underlying, expiry, k1, cp, settle), qty),
        Leg(_option(underlying, expiry, k2, cp, settle), -2.0 * qty),
        Leg(_option(underlying, expiry, k3, cp, settle), qty),
    )
    return Structure("butterfly", legs)


def risk_reversal(
    underlying: str, expiry: datetime, k_put: float, k_call: float, qty: float = 1.0, settle: str = "inverse"
) -> Structure:
    """Long k_call call, short k_put put (qty < 0 for the reverse).

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    expiry : datetime
        Timezone-aware UTC.
    k_put, k_call : float
        Strikes, USD.
    qty : float
        Structures.
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Structure
        The structure: a call and a put leg, each leg's ratio signed (+ long), contracts per structure.
    """
    _ordered("risk_reversal", k_put, k_call)
    return Structure(
        "risk reversal",
        (Leg(_option(underlying, expiry, k_put, -1, settle), -qty), Leg(_option(underlying, expiry, k_call, 1, settle), qty)),
    )


def calendar_spread(
    underlying: str, near: datetime, far: datetime, strike: float, cp: int = 1, qty: float = 1.0, settle: str = "inverse"
) -> Structure:
    """Long the far expiry, short the near one, same strike and type.

    Parameters
    ----------
    underlying : str
        Underlying code, e.g. ``"BTC"`` or ``"ETH"``.
    near, far : datetime
        The two expiries, timezone-aware UTC.
    strike : float
        USD.
    cp : int
        +1 calls, -1 puts.
    qty : float
        Structures (< 0 sells it).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Structure
        The structure: two legs, far expiry long, each leg's ratio signed (+ long), contracts per structure.
    """
    if not near < far:
        raise PricingInputError(f"calendar_spread: near expiry {near:%Y-%m-%d} must be before far {far:%Y-%m-%d}")
    return Structure(
        "calendar",
        (Leg(_option(underlying, near, strike, cp, settle), -qty), Leg(_option(underlying, far, strike, cp, settle), qty)),
    )


def structure_value(structure: Structure, surface: VolSurface, now: datetime, *, settle: str = "inverse") -> Greeks:
    """Price and greeks of the whole structure: quantity-weighted sums over legs.

    Units follow :class:`pricing.black.Greeks` for ``settle`` (coin for inverse, USD for
    linear); the vol of each leg is the surface's at its strike and expiry.

    Parameters
    ----------
    structure : Structure
        The legs to value.
    surface : VolSurface
        The underlying's surface and forward curve.
    now : datetime
        Timezone-aware.
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    Greeks
        Scalars (0-d arrays) for the whole structure.

    Notes
    -----
    V = Σ_legs q_leg V_Black76(F(T_leg), K_leg, T_leg, σ(K_leg, T_leg)); each greek likewise
    (greeks are linear in the legs).
    """
    cp, strike, t, qty = structure.arrays(now)
    if (t < 0).any():
        expired = [leg.contract.name for leg, ti in zip(structure.legs, t) if ti < 0]
        raise PricingInputError(f"structure {structure.name!r}: expired leg(s) {', '.join(expired)}")
    legs = surface.greeks(cp, strike, t, settle=settle)
    return Greeks(*(np.asarray(np.sum(getattr(legs, f) * qty)) for f in Greeks.FIELDS))
