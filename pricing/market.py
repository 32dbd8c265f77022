"""The market snapshot the engine prices on: one fitted vol surface (with its forward curve) per underlying.

A :class:`Market` is immutable; :mod:`pricing.desk.market` wraps it in a versioned snapshot
with provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pricing.chain import OptionChain
from pricing.errors import PricingInputError
from pricing.surface import VolSurface, build_surface


@dataclass(frozen=True)
class Market:
    """A market snapshot: one vol surface (with its forward curve) per underlying.

    Attributes
    ----------
    as_of : datetime
        Valuation instant (timezone-aware).
    surfaces : mapping str -> VolSurface
        Keyed by underlying code (``"BTC"``).
    chains : mapping str -> OptionChain
        Optional chains, used for bid/ask (liquidity add-on) and open interest.
    """

    as_of: datetime
    surfaces: Mapping[str, VolSurface]
    chains: Mapping[str, OptionChain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise PricingInputError("as_of: must be timezone-aware (UTC)")

    def surface(self, underlying: str) -> VolSurface:
        """The surface of one underlying (case-insensitive).

        Parameters
        ----------
        underlying : str
            ``"BTC"``, ``"eth"``, ...

        Returns
        -------
        VolSurface
            The underlying's surface (with its forward curve).

        Raises
        ------
        PricingInputError
            The market has no surface for it (the message lists those it has).
        """
        try:
            return self.surfaces[str(underlying).upper()]
        except KeyError:
            have = ", ".join(sorted(self.surfaces)) or "none"
            raise PricingInputError(f"underlying: no market data for {underlying!r}; the market has {have}") from None

    def spot(self, underlying: str) -> float:
        """The index price of one underlying, USD.

        Parameters
        ----------
        underlying : str
            Case-insensitive.

        Returns
        -------
        float
            USD.
        """
        return self.surface(underlying).spot

    @classmethod
    def from_chains(cls, chains: Mapping[str, OptionChain] | Sequence[OptionChain], *, smile: str = "svi") -> Market:
        """The market of option chains: a fitted surface per underlying, as of the latest snapshot.

        Parameters
        ----------
        chains : mapping of underlying -> OptionChain, or a sequence of chains
            One chain per underlying (Deribit layout, :mod:`pricing.chain`).
        smile : {"svi", "sabr"}
            Smile model of each expiry (:func:`pricing.surface.build_surface`).

        Returns
        -------
        Market
            ``as_of`` = the latest chain timestamp; the chains are kept for bid/ask and open interest.

        Examples
        --------
        >>> from pricing.chain import load_bundled_chain
        >>> m = Market.from_chains([load_bundled_chain("BTC", "2026-08-21")])
        >>> sorted(m.surfaces), f"{m.as_of:%Y-%m-%d %H:%M}"
        (['BTC'], '2026-08-21 09:47')
        """
        by_code = dict(chains) if isinstance(chains, Mapping) else {c.underlying: c for c in chains}
        if not by_code:
            raise PricingInputError("chains: at least one option chain is needed")
        surfaces = {u: build_surface(c, model=smile) for u, c in by_code.items()}
        return cls(max(c.as_of for c in by_code.values()), surfaces, by_code)
