"""Typed requests for quote: what every host hands the desk.

A host builds :class:`RfqRequest` objects from what it receives (FIX legs stay typed; a sheet's
or a CSV's rows go through :func:`requests_from_rows`, the only reader of the ``legs`` text
``NAME:ratio;NAME:ratio``). The desk resolves them on a market snapshot with :func:`resolve`:
contracts, live legs, sizes in contracts. A request that cannot be quoted becomes a
:class:`~pricing.desk.refusals.Refusal` with a typed code; it never raises and never fails its
neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pricing.desk.refusals import Refusal, RefusalCode
from pricing.errors import DataError, PricingInputError, parse_choice
from pricing.instruments import SETTLEMENTS
from pricing.market import Market
from pricing.xva.rfq import SIDES, RequestError, RfqBatch, RowFields, batch_of, read_row, resolve_request
from pricing.xva.rfq import RfqRequest as PricedRequest

_KIND = {code.value: code for code in RefusalCode}


#: The largest size or leg ratio a request may carry (contracts, or USD for notional_usd):
#: 1e308 overflowed margin and quote arithmetic to inf and NaN (issue 28).
MAX_SIZE = 1e15


@dataclass(frozen=True)
class Leg:
    """One leg of a structure: a Deribit instrument and its signed ratio.

    Attributes
    ----------
    instrument : str
        Deribit name (``BTC-25SEP26-60000-C``, ``BTC-PERPETUAL``), held canonical: blanks around it
        stripped and upper case (Deribit's names are upper case), so ``btc-25sep26-60000-c`` and
        `` BTC-25SEP26-60000-C`` are the same instrument wherever legs are compared (the repeated-leg
        rule, the per-leg limits, admission, the quote's legs).
    ratio : float
        Contracts of this leg per contract of the structure; negative: sold when the structure is bought.

    Examples
    --------
    >>> Leg(" btc-25sep26-60000-c ", -1.0).instrument
    'BTC-25SEP26-60000-C'
    """

    instrument: str
    ratio: float = 1.0

    def __post_init__(self) -> None:
        # The one place a name is made canonical: every comparison of legs sees the same name.
        object.__setattr__(self, "instrument", canonical_name(self.instrument))


def canonical_name(name: object) -> str:
    """An instrument name as the desk compares and prices it: stripped of blanks, upper case.

    Parameters
    ----------
    name : object
        A name as a client wrote it (a cell, a FIX field, a JSON string).

    Returns
    -------
    str
        ``str(name).strip().upper()``.
    """
    return str(name).strip().upper()


def repeated_leg(legs: Sequence[Leg], where: str) -> Refusal | None:
    """A structure that lists one instrument in more than one leg, refused (``bad_request``).

    Parameters
    ----------
    legs : sequence of Leg
        The structure's legs (names canonical).
    where : str
        How the request is named in the refusal.

    Returns
    -------
    Refusal or None
        None when each instrument is in one leg.

    Notes
    -----
    The per-leg limit is a limit per instrument: a repeated leg would split one instrument's
    contracts under it. A larger position is asked with the leg's ratio (LegRatioQty (623)).
    """
    seen: dict[str, int] = {}
    for i, leg in enumerate(legs, start=1):
        if leg.instrument in seen:
            return Refusal(
                RefusalCode.BAD_REQUEST,
                f"{where}: leg {i} repeats the instrument {leg.instrument[:60]} of leg {seen[leg.instrument]}:"
                " one leg per instrument (give its size in the leg's ratio)",
            )
        seen[leg.instrument] = i
    return None


@dataclass(frozen=True)
class RfqRequest:
    """One request for quote, typed.

    Attributes
    ----------
    legs : tuple of Leg
        The structure.
    side : str
        The client's side: ``buy`` (the desk quotes its ask), ``sell`` (its bid) or ``two-way``.
    quantity : float or None
        Size in contracts of the structure; None when ``notional_usd`` is given.
    notional_usd : float or None
        Size in USD of the first leg's underlying (converted at the snapshot's spot).
    settle : str
        ``inverse`` (coin-settled, Deribit) or ``linear`` (USD-settled) for every leg.
    ref : str
        How the request is named in a refusal (``rfqs, row 3``, ``QuoteRequest Q1, entry 1``).

    Examples
    --------
    >>> r = RfqRequest((Leg("BTC-25SEP26-60000-C"), Leg("BTC-25SEP26-70000-C", -1.0)), "buy", 5.0)
    >>> [leg.ratio for leg in r.legs], r.side
    ([1.0, -1.0], 'buy')
    """

    legs: tuple[Leg, ...]
    side: str = "two-way"
    quantity: float | None = None
    notional_usd: float | None = None
    settle: str = "inverse"
    ref: str = "rfq"

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "rfqs, row 2") -> RfqRequest:
        """A table row (keys: instrument or legs, side, quantity or notional_usd, settle).

        Parameters
        ----------
        row : mapping of str to Any
            Column name (lower case) -> cell value.
        where : str
            How the row is named in errors.

        Returns
        -------
        RfqRequest
            The request the row describes, legs and quantities validated.

        Raises
        ------
        pricing.xva.rfq.RequestError
            Naming ``where`` and the column, with what is allowed (``kind`` gives the refusal code).
        """
        f = read_row(row, where)
        legs = tuple(Leg(name, ratio) for name, ratio in f.legs)
        return cls(legs, f.side, f.quantity, f.notional_usd, f.settle, where)

    def fields(self) -> RowFields:
        """The request as the engine's resolver reads it (side and settle checked here).

        Returns
        -------
        RowFields
            Legs, side, quantity or notional, settlement, as :func:`pricing.xva.rfq.resolve_request` takes them.

        Raises
        ------
        pricing.xva.rfq.RequestError
        """
        try:
            side = parse_choice(str(self.side).strip().lower(), f"{self.ref}, side", SIDES)
            settle = parse_choice(str(self.settle).strip().lower(), f"{self.ref}, settle", SETTLEMENTS)
        except PricingInputError as exc:
            raise RequestError(str(exc)) from None
        for leg in self.legs:
            if not (isinstance(leg.ratio, (int, float)) and math.isfinite(leg.ratio) and leg.ratio != 0):
                raise RequestError(f"{self.ref}, leg {leg.instrument}: a leg ratio must be a non-zero number, got {leg.ratio!r}")
            if abs(leg.ratio) > MAX_SIZE:
                raise RequestError(f"{self.ref}, leg {leg.instrument}: ratio {leg.ratio:g} is beyond ±{MAX_SIZE:g}")
        if (self.quantity is None) == (self.notional_usd is None):
            raise RequestError(f"{self.ref}: give quantity (contracts) or notional_usd", "bad_quantity")
        for name, size in (("quantity", self.quantity), ("notional_usd", self.notional_usd)):
            if size is None or isinstance(size, bool):
                continue
            try:
                number = float(size)
            except OverflowError:  # an integer beyond a double
                raise RequestError(
                    f"{self.ref}, {name}: a {len(str(abs(int(size))))}-digit number is beyond ±{MAX_SIZE:g}", "bad_quantity"
                ) from None
            if not math.isfinite(number):
                raise RequestError(f"{self.ref}, {name}: not a finite number", "bad_quantity")
            if abs(number) > MAX_SIZE:
                raise RequestError(f"{self.ref}, {name}: {number:g} is beyond ±{MAX_SIZE:g}", "bad_quantity")
        return RowFields(
            tuple((leg.instrument, float(leg.ratio)) for leg in self.legs),
            settle,
            side,
            None if self.quantity is None else float(self.quantity),
            None if self.notional_usd is None else float(self.notional_usd),
        )


def _refusal(exc: Exception, where: str) -> Refusal:
    text = str(exc)
    text = text if text.startswith(where) else f"{where}: {text}"
    kind = getattr(exc, "kind", "bad_request")
    return Refusal(_KIND.get(kind, RefusalCode.OTHER), text)


def requests_from_rows(
    rows: Sequence[Mapping[str, Any] | None],
    where: Sequence[str] | None = None,
    *,
    refused: Sequence[str | None] | None = None,
) -> list[RfqRequest | Refusal]:
    """Read table rows into requests, once; a row that cannot be read becomes its refusal.

    Parameters
    ----------
    rows : sequence of mappings (None: a row refused upstream)
        Keys as :meth:`RfqRequest.from_row` reads them.
    where : sequence of str, optional
        How each row is named (default ``rfqs, row N``, N from 2 below a header).
    refused : sequence of str or None, optional
        A reason already found for a row (a cell holding an error); the row is not read.

    Returns
    -------
    list of RfqRequest or Refusal
        One per row, in order.

    Examples
    --------
    >>> out = requests_from_rows([{"legs": "BTC-25SEP26-60000-C:1;BTC-25SEP26-70000-C:-1", "side": "buy", "quantity": 2},
    ...                           {"instrument": "BTC-25SEP26-60000-C", "side": "hold", "quantity": 2}])
    >>> [leg.ratio for leg in out[0].legs], out[1].code.value
    ([1.0, -1.0], 'bad_request')
    """
    labels = list(where) if where is not None else [f"rfqs, row {i + 2}" for i in range(len(rows))]
    out: list[RfqRequest | Refusal] = []
    for i, row in enumerate(rows):
        prior = refused[i] if refused is not None else None
        if row is None or prior is not None:
            out.append(Refusal(RefusalCode.BAD_REQUEST, prior or f"{labels[i]}: no row"))
            continue
        try:
            out.append(RfqRequest.from_row(row, labels[i]))
        except (PricingInputError, DataError) as exc:
            out.append(_refusal(exc, labels[i]))
    return out


@dataclass(frozen=True)
class Resolved:
    """Requests resolved on one market: the engine's batch and a refusal (or None) per request.

    Attributes
    ----------
    batch : RfqBatch
        The accepted requests' trades (``batch.rows[t]`` is the request of trade t).
    refusals : tuple of (Refusal or None)
        One per request, in order.
    """

    batch: RfqBatch
    refusals: tuple[Refusal | None, ...]


def resolve(requests: Sequence[RfqRequest | Refusal], market: Market) -> Resolved:
    """Resolve requests on ``market`` into the engine's batch (contracts, live legs, sizes).

    Parameters
    ----------
    requests : sequence of RfqRequest or Refusal
        A Refusal passes through (already refused by the host).
    market : Market
        The market whose listed expiries and strikes the legs must match.

    Returns
    -------
    Resolved
        ``batch.reasons[i]`` is ``refusals[i].text`` for a refused request.

    Notes
    -----
    Instrument names are parsed once per process (:func:`pricing.xva.rfq.contract_of`); a leg
    must be live (expiry after the market's time) and its underlying in the market; a notional is
    converted to contracts at the first leg's spot.
    """
    priced: list[PricedRequest | None] = []
    refusals: list[Refusal | None] = []
    for req in requests:
        if isinstance(req, Refusal):
            priced.append(None)
            refusals.append(req)
            continue
        try:
            priced.append(resolve_request(req.fields(), market, req.ref))
            refusals.append(None)
        except (PricingInputError, DataError) as exc:
            priced.append(None)
            refusals.append(_refusal(exc, req.ref))
    batch = batch_of(priced, [None if r is None else r.text for r in refusals])
    return Resolved(batch, tuple(refusals))
