"""Which instruments the desk quotes: those the venue lists, named one per Symbol.

Admission is from the venue's instrument list, not from the name's grammar: an option is
quotable only if its exact name is among the instruments of the market it is priced from (the
``instrument_name`` column of the chain, for Deribit the instruments ``public/get_instruments``
lists). A well-formed name with an expiry or a strike the venue does not list is refused, so
no quote is built on an extrapolated smile for a contract nobody can trade.

Futures and perpetuals: this desk prices option premiums; a future's price is its own mark,
which the market snapshot does not carry, so a request of futures only is refused with that
reason (never quoted at 0). A future or perpetual leg beside an option leg is admitted as a
delta hedge only (:func:`hedge_refusal`): a perpetual of an underlying the market has; a dated
future only at an expiry the venue lists options on (each option expiry is marked against its
future: the chain's ``expiry`` column is the listing) and live by both clocks, the market's and
the wall clock's end of firmness; and the futures legs' contracts at most the option legs'
(an option's delta is at most 1 coin per contract, so a delta hedge never needs more futures
than options). Its premium is nil and its margin is the engine's.

:func:`admit_legs` is what :meth:`pricing.desk.Desk.quote` applies to every request, for every
host (Excel, the CLI, FIX, Block RFQ), on the snapshot it quotes on; for a bundled or live market
the chain is the venue's listing, for a user's own chain file the file's names are the listing.

The name grammar is strict: one instrument per Symbol (55), ``UND-DMMMYY-STRIKE-C|P``, upper
case letters, digits, ``d`` for a decimal point in a strike; separators (``,``, ``;``, ``:``,
blanks) are refused, as legs go in NoLegs (555) only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from pricing.chain import OptionChain
from pricing.desk.refusals import Refusal, RefusalCode
from pricing.errors import PricingInputError
from pricing.instruments import FutureContract, OptionContract
from pricing.xva.rfq import contract_of

#: One instrument name: letters, digits and ``_`` joined by single dashes, nothing else.
NAME_FORM = re.compile(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+){1,3}")


def admit(
    name: str,
    chains: Mapping[str, OptionChain],
    as_of: datetime,
    field: str = "Symbol (55)",
    firm_until: datetime | None = None,
) -> Refusal | None:
    """None if ``name`` is an option the venue lists and that is live at ``as_of``; else why not.

    Parameters
    ----------
    name : str
        The canonical name (stripped, upper case: :class:`pricing.desk.request.Leg` makes it so
        for every host); a lower-case or blank-padded name is compared after that, never as a
        different instrument.
    chains : mapping of underlying -> OptionChain
        The market's chains; their ``names`` are the venue's instrument list.
    as_of : datetime
        The market's time (an instrument expiring at or before it is refused).
    field : str
        How the name is called in the message (``Symbol (55)``, ``LegSymbol (600)``).
    firm_until : datetime, optional
        The end of the quote's firmness by the wall clock (now + the quote's validity): an
        instrument expiring at or before it is refused too, however old the market is.

    Returns
    -------
    Refusal or None
        The first reason to refuse the order, or None to admit it.
    """
    contract = parse(name, field)
    if isinstance(contract, Refusal):
        return contract
    return _admit_contract(name, contract, chains, as_of, field, firm_until, hedge=False)


def parse(name: str, field: str) -> OptionContract | FutureContract | Refusal:
    """The contract a name denotes (parsed once), or why it is not one instrument name.

    Parameters
    ----------
    name : str
        The canonical name.
    field : str
        How the name is called in the message.

    Returns
    -------
    OptionContract or FutureContract or Refusal
        ``unknown_instrument`` when the name is not one Deribit name.
    """
    if not NAME_FORM.fullmatch(name):
        return Refusal(
            RefusalCode.UNKNOWN_INSTRUMENT,
            f"{field}: {name[:60]!r} is not one instrument name (UND-DMMMYY-STRIKE-C|P); a structure's legs go in NoLegs (555)",
        )
    try:
        # contract_of is parse_instrument_name (pure) cached per process: the resolver, the FIX
        # gateway's limits and the hedge rule read the same parse, never a second one.
        return contract_of(name, "inverse")
    except PricingInputError as exc:
        return Refusal(RefusalCode.UNKNOWN_INSTRUMENT, f"{field}: {exc}")


def _admit_contract(
    name: str,
    contract: OptionContract | FutureContract,
    chains: Mapping[str, OptionChain],
    as_of: datetime,
    field: str,
    firm_until: datetime | None,
    *,
    hedge: bool,
) -> Refusal | None:
    """:func:`admit` on a parsed contract; ``hedge``: a future beside an option (admitted if listed and live)."""
    if isinstance(contract, FutureContract) and not hedge:
        kind = "a perpetual" if contract.expiry is None else "a future"
        return Refusal(
            RefusalCode.NOT_LISTED,
            f"{field}: {name} is {kind}: quoted from its own mark, which this market does not carry; refused",
        )
    chain = chains.get(contract.underlying)
    if chain is None:
        have = ", ".join(sorted(chains)) or "none"
        return Refusal(
            RefusalCode.UNKNOWN_INSTRUMENT, f"{field}: no instrument list for {contract.underlying} (the market lists {have})"
        )
    if contract.expiry is None:
        return None  # a perpetual never expires; its underlying is in the market
    if not contract.expiry > as_of:
        return Refusal(RefusalCode.EXPIRED, f"{field}: {name} expired at or before the market's time {as_of:%Y-%m-%d %H:%M} UTC")
    if firm_until is not None and not contract.expiry > firm_until:
        return Refusal(
            RefusalCode.EXPIRED,
            f"{field}: {name} expires {contract.expiry:%Y-%m-%d %H:%M} UTC, at or before the quote would stop being firm"
            f" by the clock ({firm_until:%Y-%m-%d %H:%M:%S} UTC): expired in real time",
        )
    if isinstance(contract, FutureContract):
        if contract.expiry in _expiries(chain):
            return None
        return Refusal(
            RefusalCode.NOT_LISTED,
            f"{field}: {name} is not a future the venue lists: no {contract.underlying} options expire"
            f" {contract.expiry:%Y-%m-%d %H:%M} UTC (a dated future is admitted at a listed expiry)",
        )
    if name not in _listed(chain):
        return Refusal(
            RefusalCode.NOT_LISTED,
            f"{field}: {name} is not among the {len(chain.names)} {contract.underlying} options the venue lists",
        )
    return None


def admit_legs(
    names: Sequence[str],
    chains: Mapping[str, OptionChain],
    as_of: datetime,
    where: str,
    firm_until: datetime | None = None,
) -> Refusal | None:
    """None if every leg of a structure is admitted (:func:`admit`); else the first leg's refusal.

    Parameters
    ----------
    names : sequence of str
        The legs' instrument names (compared upper case, as the desk prices them).
    chains : mapping of underlying -> OptionChain
        The snapshot's chains: the venue's listing.
    as_of : datetime
        The snapshot's time.
    where : str
        How the request is named (``rfqs, row 3``); a leg is named ``{where}, leg N``.
    firm_until : datetime, optional
        As :func:`admit`.

    Returns
    -------
    Refusal or None
        None when every leg is admitted; else the refusal of the first leg that is not (its code
        and a text naming the leg).

    Notes
    -----
    Each name is parsed once. A future or perpetual leg beside at least one option leg (a hedge)
    is admitted if listed and live: a perpetual of an underlying the market has, a dated future
    at an expiry the venue lists options on, expiring after the market's time and after
    ``firm_until``; a structure of futures only is refused (its price is its own mark). How many
    futures a hedge may hold is :func:`hedge_refusal`'s.

    Examples
    --------
    >>> from datetime import UTC
    >>> from pricing.desk import open_market
    >>> m = open_market("bundled:2026-08-21").current().market
    >>> admit_legs(["BTC-25SEP26-60000-C", "BTC-PERPETUAL"], m.chains, m.as_of, "rfq 1") is None
    True
    >>> admit_legs(["BTC-25SEP26-61234-C"], m.chains, m.as_of, "rfq 2").code.value
    'not_listed'
    >>> admit_legs(["BTC-25SEP26-60000-C", "BTC-25SEP55"], m.chains, m.as_of, "rfq 3").code.value
    'not_listed'
    """
    clean = [str(n).strip().upper() for n in names]
    fields = [where if len(clean) == 1 else f"{where}, leg {i + 1}" for i in range(len(clean))]
    contracts = [parse(name, f) for name, f in zip(clean, fields)]  # each name parsed once
    for got in contracts:
        if isinstance(got, Refusal):
            return got
    hedge = any(isinstance(c, OptionContract) for c in contracts)
    for name, f, c in zip(clean, fields, contracts):
        assert not isinstance(c, Refusal)
        why = _admit_contract(name, c, chains, as_of, f, firm_until, hedge=hedge)
        if why is not None:
            return why
    return None


def hedge_refusal(legs: Sequence[tuple[str, float]], where: str) -> Refusal | None:
    """A structure whose futures legs are more contracts than its options legs, refused (``not_a_hedge``).

    Parameters
    ----------
    legs : sequence of (str, float)
        (canonical instrument name, signed ratio) per leg.
    where : str
        How the request is named in the refusal.

    Returns
    -------
    Refusal or None
        None when there is no future, or Σ|futures ratios| <= Σ|options ratios|.

    Notes
    -----
    A future is admitted beside an option as a delta hedge only. An option's delta is at most 1
    coin per contract (|∂V/∂S| <= 1 for a call or a put on one unit), so the structure's option
    delta is at most Σ|option ratios| coins and a hedge never needs more futures contracts than
    that. More is a futures position wearing an option as a pass (1e-12 of an option and 100
    perpetuals), which this desk does not price (a future's price is its own mark).

    Examples
    --------
    >>> hedge_refusal([("BTC-25SEP26-60000-C", 1.0), ("BTC-PERPETUAL", -0.5)], "rfq") is None
    True
    >>> hedge_refusal([("BTC-25SEP26-60000-C", 1e-12), ("BTC-PERPETUAL", 100.0)], "rfq").code.value
    'not_a_hedge'
    """
    options = futures = 0.0
    for name, ratio in legs:
        if not (isinstance(ratio, (int, float)) and math.isfinite(ratio)):
            return None  # a malformed ratio is the resolver's to refuse (bad_request)
        try:
            is_future = isinstance(contract_of(name, "inverse"), FutureContract)  # the cached parse admission made
        except PricingInputError:
            continue  # not an instrument: admission refuses it with its own code
        if is_future:
            futures += abs(ratio)
        else:
            options += abs(ratio)
    if futures == 0.0 or futures <= options:
        return None
    return Refusal(
        RefusalCode.NOT_A_HEDGE,
        f"{where}: futures legs total {futures:g} contracts against {options:g} of options: a future is admitted"
        " only as a delta hedge, at most the options' contracts (an option's delta is at most 1 coin per contract)",
    )


#: Chain id -> (the chain, its names as a set). The chain is held so that its id is not reused.
_LISTED: dict[int, tuple[OptionChain, frozenset[str]]] = {}


def _listed(chain: OptionChain) -> frozenset[str]:
    """The chain's names as a set, built once per chain object (a market is immutable)."""
    got = _LISTED.get(id(chain))
    if got is None:
        if len(_LISTED) >= 16:
            _LISTED.clear()
        got = _LISTED[id(chain)] = (chain, frozenset(chain.names))
    return got[1]


#: Chain id -> (the chain, its expiry instants as a set).
_EXPIRIES: dict[int, tuple[OptionChain, frozenset[datetime]]] = {}


def _expiries(chain: OptionChain) -> frozenset[datetime]:
    """The chain's expiries as UTC datetimes, built once per chain object (the dated futures the venue lists)."""
    got = _EXPIRIES.get(id(chain))
    if got is None:
        if len(_EXPIRIES) >= 16:
            _EXPIRIES.clear()
        stamps = np.unique(np.asarray(chain.expiry, dtype="datetime64[s]"))
        instants = frozenset(datetime.fromtimestamp(int(x), UTC) for x in stamps.astype("int64"))
        got = _EXPIRIES[id(chain)] = (chain, instants)
    return got[1]
