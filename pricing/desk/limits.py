"""Pre-trade risk limits, per request, per session and in total; each a parameter with a default.

Every check returns None or a :class:`~pricing.desk.refusals.Refusal` whose text names the
limit, its value and the value that broke it. Contracts are of the structure (OrderQty) or of
a leg (OrderQty x |LegRatioQty|); notional is Σ |leg contracts| x the underlying's spot, USD;
ΔIM is the trade's marginal initial margin on the side quoted, USD; net delta (coins of the
underlying) and net vega (USD per 1.00 of vol) are the desk book's after the trade, per underlying.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from pricing.desk.refusals import Refusal, RefusalCode
from pricing.desk.request import canonical_name


@dataclass(frozen=True)
class RiskLimits:
    """The desk's pre-trade limits (defaults stated in ``docs/fix-invariants.md``).

    Attributes
    ----------
    max_contracts : float
        OrderQty of one request (contracts of the structure). Default 1,000.
    max_leg_contracts : float
        OrderQty x |LegRatioQty| of any leg. Default 1,000.
    max_notional_usd : float
        Σ over legs of |contracts| x spot, one request. Default 100,000,000.
    max_delta_im_usd : float
        |ΔIM| of one trade on the side quoted. Default 10,000,000.
    max_net_delta_coin : float
        |net delta| of the book after the trade, per underlying, coins. Default 5,000.
    max_net_vega_usd : float
        |net vega| of the book after the trade, per underlying, USD per 1.00 vol. Default 50,000,000.
    max_session_notional_usd : float
        Notional filled for one session since the acceptor started on its journal. Default 500,000,000.
    max_total_notional_usd : float
        Notional filled for all sessions. Default 1,000,000,000.
    """

    max_contracts: float = 1_000.0
    max_leg_contracts: float = 1_000.0
    max_notional_usd: float = 100e6
    max_delta_im_usd: float = 10e6
    max_net_delta_coin: float = 5_000.0
    max_net_vega_usd: float = 50e6
    max_session_notional_usd: float = 500e6
    max_total_notional_usd: float = 1e9

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and not math.isnan(v) and v > 0):
                raise ValueError(f"RiskLimits.{f.name}: must be a number > 0, got {v!r}")


def _over(name: str, what: str, value: float, limit: float, unit: str) -> Refusal:
    code = RefusalCode.LIMIT_EXCEEDED if "contracts" in unit else RefusalCode.RISK_LIMIT
    return Refusal(code, f"{what}: {value:,.6g} {unit} is over the limit {name} = {limit:,.6g} {unit}")


def check_request(
    limits: RiskLimits, quantity: float, legs: Sequence[tuple[str, float]], spot: Mapping[str, float]
) -> Refusal | None:
    """Contracts per request and per leg, and USD notional, of one request.

    ``legs`` are (instrument name, signed ratio); ``spot`` maps a leg's name to its underlying's spot (USD).
    A structure that lists one instrument in more than one leg (names compared canonical:
    :func:`pricing.desk.request.canonical_name`) is refused (``bad_request``) before
    any limit: the per-leg limit is a limit per instrument, and a repeated leg would split one
    instrument's contracts under it (a larger position is asked with LegRatioQty (623)).

    Parameters
    ----------
    limits : RiskLimits
        The desk's pre-trade limits (defaults in :class:`RiskLimits`); a breach becomes a typed refusal.
    quantity : float
        Contracts of the structure (OrderQty).
    legs : sequence of (str, float)
        (instrument name, signed ratio) per leg.
    spot : mapping of str to float
        A leg's instrument name -> its underlying's spot, USD.

    Returns
    -------
    Refusal or None
        The first limit broken (``bad_request`` or ``limit_exceeded``, the text naming the limit
        and the value), or None.
    """
    seen: dict[str, int] = {}
    for i, (raw, _) in enumerate(legs, start=1):
        name = canonical_name(raw)  # BTC-... and its lower-case or blank-padded twin are one instrument
        if name in seen:
            return Refusal(
                RefusalCode.BAD_REQUEST,
                f"NoLegs (555): leg {i} repeats LegSymbol (600) {name[:60]} of leg {seen[name]}:"
                " one leg per instrument (give its size in LegRatioQty (623))",
            )
        seen[name] = i
    if quantity > limits.max_contracts:
        return _over("max_contracts", "OrderQty (38)", quantity, limits.max_contracts, "contracts")
    notional = 0.0
    for name, ratio in legs:
        contracts = quantity * abs(ratio)
        if not contracts <= limits.max_leg_contracts:
            return _over(
                "max_leg_contracts", f"leg {name}, OrderQty x LegRatioQty (623)", contracts, limits.max_leg_contracts, "contracts"
            )
        notional += contracts * spot[name]
    if not notional <= limits.max_notional_usd:
        return _over("max_notional_usd", "notional", notional, limits.max_notional_usd, "USD")
    return None


def check_trade(
    limits: RiskLimits, delta_im_usd: float, net_delta_after: Mapping[str, float], net_vega_after: Mapping[str, float]
) -> Refusal | None:
    """ΔIM of the trade and the book's net delta and vega after it (per underlying).

    Parameters
    ----------
    limits : RiskLimits
        The desk's pre-trade limits (defaults in :class:`RiskLimits`); a breach becomes a typed refusal.
    delta_im_usd : float
        ΔIM of the trade on the side quoted, USD.
    net_delta_after : mapping of str to float
        Underlying -> the book's net delta after the trade, coins.
    net_vega_after : mapping of str to float
        Underlying -> the book's net vega after the trade, USD per 1.00 vol.

    Returns
    -------
    Refusal or None
        ``limit_exceeded`` naming the limit, or None.
    """
    if not abs(delta_im_usd) <= limits.max_delta_im_usd:
        return _over("max_delta_im_usd", "ΔIM of the trade", abs(delta_im_usd), limits.max_delta_im_usd, "USD")
    for und, d in net_delta_after.items():
        if not abs(d) <= limits.max_net_delta_coin:
            return _over("max_net_delta_coin", f"{und} net delta after the trade", abs(d), limits.max_net_delta_coin, "coins")
    for und, v in net_vega_after.items():
        if not abs(v) <= limits.max_net_vega_usd:
            return _over("max_net_vega_usd", f"{und} net vega after the trade", abs(v), limits.max_net_vega_usd, "USD per vol")
    return None


def check_fill(limits: RiskLimits, session_notional_usd: float, total_notional_usd: float, notional_usd: float) -> Refusal | None:
    """The session's and the desk's filled notional, with this fill's, within their limits.

    Parameters
    ----------
    limits : RiskLimits
        The desk's pre-trade limits (defaults in :class:`RiskLimits`); a breach becomes a typed refusal.
    session_notional_usd : float
        Notional the session has filled so far, USD.
    total_notional_usd : float
        Notional all sessions have filled so far, USD.
    notional_usd : float
        This fill's notional, USD.

    Returns
    -------
    Refusal or None
        ``limit_exceeded`` naming the limit, or None.
    """
    if not session_notional_usd + notional_usd <= limits.max_session_notional_usd:
        value = session_notional_usd + notional_usd
        return _over("max_session_notional_usd", "this session's filled notional", value, limits.max_session_notional_usd, "USD")
    if not total_notional_usd + notional_usd <= limits.max_total_notional_usd:
        value = total_notional_usd + notional_usd
        return _over("max_total_notional_usd", "the desk's filled notional", value, limits.max_total_notional_usd, "USD")
    return None
