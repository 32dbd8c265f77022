"""Which instruments the desk quotes: those the venue lists, named one per Symbol.

Admission is from the venue's instrument list, not from the name's grammar: an option is
quotable only if its exact name is among the instruments of the market it is priced from (the
``instrument_name`` column of the chain, for Deribit the instruments ``public/get_instruments``
lists). A well-formed name with an expiry or a strike the venue does not list is refused, so
no quote is built on an extrapolated smile for a contract nobody can trade.

Futures and perpetuals: this desk prices option premiums; a future's price is its own mark,
which the market snapshot does not carry, so a request of futures only is refused with that
reason (never quoted at 0). A future or perpetual leg beside an option leg (a delta hedge) is
admitted: its premium is nil and its margin is the engine's.

:func:`admit_legs` is what :meth:`pricing.desk.Desk.quote` applies to every request, for every
host (Excel, the CLI, FIX, Block RFQ), on the snapshot it quotes on; for a bundled or live market
the chain is the venue's listing, for a user's own chain file the file's names are the listing.

The name grammar is strict: one instrument per Symbol (55), ``UND-DMMMYY-STRIKE-C|P``, upper
case letters, digits, ``d`` for a decimal point in a strike; separators (``,``, ``;``, ``:``,
blanks) are refused, as legs go in NoLegs (555) only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from pricing.chain import OptionChain
from pricing.desk.refusals import Refusal, RefusalCode
from pricing.errors import PricingInputError
from pricing.instruments import FutureContract, parse_instrument_name

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
        As the client wrote it (case is significant: Deribit names are upper case).
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
    if not NAME_FORM.fullmatch(name):
        return Refusal(
            RefusalCode.UNKNOWN_INSTRUMENT,
            f"{field}: {name[:60]!r} is not one instrument name (UND-DMMMYY-STRIKE-C|P); a structure's legs go in NoLegs (555)",
        )
    try:
        contract = parse_instrument_name(name)
    except PricingInputError as exc:
        return Refusal(RefusalCode.UNKNOWN_INSTRUMENT, f"{field}: {exc}")
    if isinstance(contract, FutureContract):
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
    if not contract.expiry > as_of:
        return Refusal(RefusalCode.EXPIRED, f"{field}: {name} expired at or before the market's time {as_of:%Y-%m-%d %H:%M} UTC")
    if firm_until is not None and not contract.expiry > firm_until:
        return Refusal(
            RefusalCode.EXPIRED,
            f"{field}: {name} expires {contract.expiry:%Y-%m-%d %H:%M} UTC, at or before the quote would stop being firm"
            f" by the clock ({firm_until:%Y-%m-%d %H:%M:%S} UTC): expired in real time",
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
    A future or perpetual leg is admitted beside at least one option leg (a hedge); a structure
    of futures only is refused by :func:`admit` (its price is its own mark).

    Examples
    --------
    >>> from datetime import UTC
    >>> from pricing.desk import open_market
    >>> m = open_market("bundled:2026-08-21").current().market
    >>> admit_legs(["BTC-25SEP26-60000-C", "BTC-PERPETUAL"], m.chains, m.as_of, "rfq 1") is None
    True
    >>> admit_legs(["BTC-25SEP26-61234-C"], m.chains, m.as_of, "rfq 2").code.value
    'not_listed'
    """
    clean = [str(n).strip().upper() for n in names]
    options = [n for n in clean if not _is_future(n)]
    for i, name in enumerate(clean):
        if options and _is_future(name):
            continue
        field = where if len(clean) == 1 else f"{where}, leg {i + 1}"
        why = admit(name, chains, as_of, field, firm_until)
        if why is not None:
            return why
    return None


def _is_future(name: str) -> bool:
    if not NAME_FORM.fullmatch(name):
        return False
    try:
        return isinstance(parse_instrument_name(name), FutureContract)
    except PricingInputError:
        return False


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
