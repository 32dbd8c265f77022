"""The engine's reading of an RFQ: a row's fields, its resolution on a market, the batch of legs.

Every host quotes through the desk service (:meth:`pricing.desk.Desk.quote`): typed requests
(FIX legs, Block RFQ) go there as they are; a sheet's or a CSV's rows are read once by
:func:`pricing.desk.request.requests_from_rows`, which uses :func:`read_row` here. The desk then
resolves each request on its snapshot (:func:`resolve_request`: contracts, live legs, sizes) and
lays the accepted ones out by :func:`batch_of` as an :class:`RfqBatch`: the legs of one
candidate portfolio (the dealer **buying** one unit of each request) and, for every row, either
a request or the reason it was refused. A refusal is data, never an exception: one bad row
never fails its neighbours. :func:`parse_rfqs` (rows straight to a batch, no desk) is the
engine-level form the reference and property tests of :func:`pricing.xva.quote.quote_book` use;
no host calls it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pricing.errors import DataError, PricingInputError, parse_choice
from pricing.instruments import SETTLEMENTS, FutureContract, OptionContract, parse_instrument_name
from pricing.margin.engine import TradeLegs
from pricing.market import Market
from pricing.portfolio import Portfolio, empty_portfolio, from_contracts

#: The client's side as written, to the canonical one.
SIDES = {"buy": "buy", "sell": "sell", "two-way": "two-way", "two_way": "two-way", "2way": "two-way", "both": "two-way"}
#: The dealer's fill direction when the client's side is hit: it sells what the client buys.
DEALER_FILL = {"buy": -1.0, "sell": 1.0, "two-way": 0.0}

Contract = OptionContract | FutureContract


@dataclass(frozen=True)
class RfqRequest:
    """One request for quote.

    ``legs`` are (contract, ratio) pairs; the structure's size is ``quantity`` contracts of it,
    so leg i trades ``quantity x ratio_i`` (signed: a negative ratio is a leg sold when the
    structure is bought). ``side`` is the client's: ``buy`` (the dealer quotes its ask),
    ``sell`` (its bid) or ``two-way``.

    Attributes
    ----------
    legs : tuple of (OptionContract or FutureContract, float)
        Each leg's contract and its signed ratio per structure (non-zero).
    side : {"buy", "sell", "two-way"}
        The client's side.
    quantity : float
        Structures requested, contracts (> 0; the side gives the direction).

    Notes
    -----
    Built by :func:`resolve_request`, which checks every leg is live on the market; a typed
    request from a host goes through the same function.
    """

    legs: tuple[tuple[Contract, float], ...]
    side: str
    quantity: float


@dataclass(frozen=True)
class RfqBatch:
    """Rows of RFQs after :func:`parse_rfqs`.

    ``reasons[i]`` is None for a row that was parsed into a request, else why it was refused.
    The accepted rows, in order, are the trades of ``trades`` (legs with signed quantities for
    the dealer buying each structure); ``rows[t]`` is the input row of trade t.

    Attributes
    ----------
    requests : tuple of (RfqRequest or None)
        One per input row; None where the row was refused.
    reasons : tuple of (str or None)
        One per input row; None where it was parsed, else the refusal's text naming the row and column.
    trades : TradeLegs
        The T accepted requests' legs, quantity x ratio contracts each, the dealer buying.
    rows : ndarray of int, shape (T,)
        The input row (0-based) of each trade.
    sides : tuple of str
        Each trade's client side (``buy``, ``sell`` or ``two-way``).

    Notes
    -----
    A refusal is data, not an exception, so one bad row never fails its neighbours (module docstring).
    """

    requests: tuple[RfqRequest | None, ...]
    reasons: tuple[str | None, ...]
    trades: TradeLegs
    rows: np.ndarray
    sides: tuple[str, ...]

    @property
    def fill(self) -> np.ndarray:
        """Per trade, the dealer's fill direction if the quote is hit (+1 buy, -1 sell, 0 two-way)."""
        return np.array([DEALER_FILL[s] for s in self.sides], dtype=np.float64)


class RequestError(PricingInputError):
    """A request that cannot be quoted; ``kind`` says what about it (the desk's refusal code).

    ``kind`` is one of ``bad_request``, ``unknown_instrument``, ``expired``, ``bad_quantity``
    (the values of :class:`pricing.desk.refusals.RefusalCode` that parsing can give).

    Parameters
    ----------
    text : str
        The message, naming the row and the column with what is allowed.
    kind : str
        The refusal code (default ``bad_request``).
    """

    def __init__(self, text: str, kind: str = "bad_request") -> None:
        super().__init__(text)
        self.kind = kind


@lru_cache(maxsize=65_536)
def contract_of(name: str, settle: str = "inverse") -> Contract:
    """The contract of a Deribit instrument name, parsed once per process.

    Parameters
    ----------
    name : str
        ``BTC-25SEP26-60000-C``, ``BTC-27DEC26``, ``BTC-PERPETUAL`` (upper case).
    settle : {"inverse", "linear"}
        Settlement: ``"inverse"`` coin-settled (Deribit's BTC/ETH options, premium in coin) or ``"linear"`` USD-settled.

    Returns
    -------
    OptionContract or FutureContract
        The contract the instrument name describes.

    Notes
    -----
    Quote books repeat instrument names; caching each distinct name keeps a 100k-row book's
    parse cost at its distinct names (:func:`pricing.instruments.parse_instrument_name`).

    Examples
    --------
    >>> c = contract_of("BTC-25SEP26-60000-C")
    >>> c.strike, c.cp, c.settle, contract_of("BTC-25SEP26-60000-C") is c
    (60000.0, 1, 'inverse', True)
    """
    return parse_instrument_name(name, settle)


@dataclass(frozen=True)
class RowFields:
    """An RFQ row's fields after the text is read, before the market is consulted.

    ``legs`` are (instrument name, ratio) pairs; exactly one of ``quantity`` (contracts) and
    ``notional_usd`` is set.

    Attributes
    ----------
    legs : tuple of (str, float)
        Each leg's Deribit instrument name (upper case) and its signed, non-zero ratio.
    settle : {"inverse", "linear"}
        Coin-settled (Deribit's inverse options) or USD-settled.
    side : {"buy", "sell", "two-way"}
        The client's side.
    quantity : float or None
        Structures requested, contracts; None when the size is a notional.
    notional_usd : float or None
        The size as a USD notional, converted at the first leg's spot by :func:`resolve_request`.
    """

    legs: tuple[tuple[str, float], ...]
    settle: str
    side: str
    quantity: float | None
    notional_usd: float | None


def read_row(row: Mapping[str, Any], where: str = "rfqs, row 2") -> RowFields:
    """Read one RFQ row (keys: instrument or legs, side, quantity or notional_usd, settle).

    Parameters
    ----------
    row : mapping
        Column name (any case) to cell value; ``legs`` is ``NAME:ratio;NAME:ratio``.
    where : str
        How the row is named in messages.

    Returns
    -------
    RowFields
        The row's fields, each checked and named on error.

    Notes
    -----
    The only reader of the ``legs`` text; nothing here needs a market (see :func:`resolve_request`).

    Examples
    --------
    >>> read_row({"Legs": "btc-25sep26-60000-c:1;BTC-25SEP26-70000-C:-1", "side": "BUY", "quantity": 3}).legs
    (('BTC-25SEP26-60000-C', 1.0), ('BTC-25SEP26-70000-C', -1.0))

    Raises
    ------
    RequestError
        Naming ``where`` and the column, with what is allowed.
    """
    r = {str(k).strip().lower(): v for k, v in row.items()}
    text = r.get("legs") or r.get("instrument") or r.get("instrument_name")
    if not text or not str(text).strip():
        raise RequestError(f"{where}: give 'instrument' (a Deribit name) or 'legs' (NAME:ratio;NAME:ratio)")
    try:
        settle = parse_choice(str(r.get("settle") or "inverse").strip().lower(), f"{where}, column settle", SETTLEMENTS)
    except PricingInputError as exc:
        raise RequestError(str(exc)) from None
    legs = []
    for part in str(text).replace(",", ";").split(";"):
        if not part.strip():
            continue
        name, _, ratio = part.partition(":")
        try:
            qty = float(ratio) if ratio.strip() else 1.0
        except ValueError:
            raise RequestError(f"{where}, column legs: {ratio.strip()!r} is not a leg ratio") from None
        if not (math.isfinite(qty) and qty != 0):
            raise RequestError(f"{where}, column legs: a leg ratio must be a non-zero number, got {ratio.strip()!r}")
        legs.append((name.strip().upper(), qty))
    raw_side = r.get("side")
    try:
        side = parse_choice(
            str(raw_side).strip().lower() if raw_side not in (None, "") else "two-way", f"{where}, column side", SIDES
        )
    except PricingInputError as exc:
        raise RequestError(str(exc)) from None
    size = r.get("quantity")
    if size in (None, ""):
        notional = r.get("notional_usd") or r.get("notional")
        if notional in (None, ""):
            raise RequestError(f"{where}: give quantity (contracts) or notional_usd", "bad_quantity")
        try:
            return RowFields(tuple(legs), settle, side, None, float(notional))
        except (TypeError, ValueError):
            raise RequestError(f"{where}, column notional_usd: {notional!r} is not a number", "bad_quantity") from None
    try:
        return RowFields(tuple(legs), settle, side, float(size), None)
    except (TypeError, ValueError):
        raise RequestError(f"{where}, column quantity: {size!r} is not a number", "bad_quantity") from None


def resolve_request(fields: RowFields, market: Market, where: str = "rfqs, row 2") -> RfqRequest:
    """The request of read fields on ``market``: contracts, live legs, size in contracts.

    Parameters
    ----------
    fields : RowFields
        From :func:`read_row` or a typed request.
    market : Market
        Its underlyings and as-of time decide which legs are live.
    where : str
        How the request is named in messages.

    Returns
    -------
    RfqRequest
        The request with its legs resolved against the market.

    Notes
    -----
    A notional is converted to contracts at the first leg's spot: ``quantity = notional_usd / S``.

    Raises
    ------
    RequestError
        An unknown instrument or underlying, an expired leg, or a size that is not > 0.
    """
    if not fields.legs:
        raise RequestError(f"{where}: give 'instrument' (a Deribit name) or 'legs' (NAME:ratio;NAME:ratio)")
    legs = []
    for name, ratio in fields.legs:
        try:
            legs.append((contract_of(name, fields.settle), ratio))
        except (PricingInputError, DataError) as exc:
            raise RequestError(f"{where}: {exc}", "unknown_instrument") from None
    for contract, _ in legs:
        try:
            market.surface(contract.underlying)
        except PricingInputError as exc:
            raise RequestError(f"{where}: {exc}", "unknown_instrument") from None
        expiry = contract.expiry
        if expiry is not None and not expiry > market.as_of:
            raise RequestError(
                f"{where}: instrument expired at or before the market's time {market.as_of:%Y-%m-%d %H:%M} UTC", "expired"
            )
    size = fields.quantity
    if size is None:
        assert fields.notional_usd is not None
        size = fields.notional_usd / market.spot(legs[0][0].underlying)
    if not (math.isfinite(size) and size > 0):
        raise RequestError(f"{where}, column quantity: must be > 0 (contracts; the side gives the direction)", "bad_quantity")
    return RfqRequest(tuple(legs), fields.side, size)


def parse_request(row: Mapping[str, Any], market: Market, where: str = "rfqs, row 2") -> RfqRequest:
    """One RFQ row (keys: instrument or legs, side, quantity or notional_usd, settle) as a request.

    Parameters
    ----------
    row : mapping
        Column name (any case) to cell value, as for :func:`read_row`.
    market : Market
        Its underlyings and as-of time decide which legs are live.
    where : str
        How the row is named in messages.

    Returns
    -------
    RfqRequest
        The request the row describes.

    Notes
    -----
    :func:`read_row` (the text) then :func:`resolve_request` (the market).

    Raises
    ------
    RequestError
        Naming ``where`` and the column, with what is allowed.
    """
    return resolve_request(read_row(row, where), market, where)


def parse_rfqs(
    rows: Sequence[Mapping[str, Any] | None],
    market: Market,
    where: Sequence[str] | None = None,
    *,
    refused: Sequence[str | None] | None = None,
) -> RfqBatch:
    """Parse every row once; a row that cannot be quoted carries its reason instead of a request.

    Parameters
    ----------
    rows : sequence of mappings (or None for a row already refused upstream)
        See :func:`parse_request` for the keys.
    market : Market
        The market the requests are priced on (underlyings and the as-of time are checked here).
    where : sequence of str, optional
        How each row is named in messages (default ``rfqs, row N``, N from 2 below a header).
    refused : sequence of str or None, optional
        A reason already found for a row (a cell holding an error, say); the row is not parsed.

    Returns
    -------
    RfqBatch
        Every valid request, and per invalid row its reason.

    Notes
    -----
    Columns as :func:`parse_request` reads them. Instrument names follow Deribit's
    ``UND-DMMMYY-STRIKE-C|P`` (options) and futures/perpetual names; a name is parsed once per
    process however many rows repeat it.

    Examples
    --------
    >>> from pricing.daycount import utc
    >>> from pricing.market import Market
    >>> from pricing.surface import flat_surface
    >>> m = Market(utc(2026, 8, 21, 8), {"BTC": flat_surface("BTC", 60_000.0, 0.6)})
    >>> b = parse_rfqs([{"instrument": "BTC-25SEP26-60000-C", "side": "buy", "quantity": 2},
    ...                 {"instrument": "BTC-25SEP26-60000-C", "side": "hold", "quantity": 2}], m)
    >>> b.trades.count, b.reasons[1]
    (1, "rfqs, row 3, column side: 'hold' is not allowed; use one of 'buy', 'sell', 'two-way', 'two_way', '2way', 'both'")
    """
    labels = list(where) if where is not None else [f"rfqs, row {i + 2}" for i in range(len(rows))]
    requests: list[RfqRequest | None] = []
    reasons: list[str | None] = []
    for i, row in enumerate(rows):
        prior = refused[i] if refused is not None else None
        if row is None or prior is not None:
            requests.append(None)
            reasons.append(prior or f"{labels[i]}: no row")
            continue
        try:
            requests.append(parse_request(row, market, labels[i]))
            reasons.append(None)
        except (PricingInputError, DataError) as exc:
            requests.append(None)
            text = str(exc)
            reasons.append(text if text.startswith(labels[i]) else f"{labels[i]}: {text}")
    return batch_of(requests, reasons)


def batch_of(requests: Sequence[RfqRequest | None], reasons: Sequence[str | None] | None = None) -> RfqBatch:
    """The :class:`RfqBatch` of already-typed requests (None: a refused row).

    Parameters
    ----------
    requests : sequence of (RfqRequest or None)
        One per row; None for a row refused upstream.
    reasons : sequence of (str or None), optional
        The reason of each refused row (None where a request is given); default ``"refused"``
        for every None request.

    Returns
    -------
    RfqBatch
        The accepted requests' legs in row order, the dealer buying ``quantity x ratio`` of each leg.

    Notes
    -----
    The legs are laid out once for the whole batch (one :func:`pricing.portfolio.from_contracts`),
    trade t owning legs ``starts[t]:starts[t + 1]``.
    """
    why = list(reasons) if reasons is not None else [None if r is not None else "refused" for r in requests]
    good = [i for i, r in enumerate(requests) if r is not None]
    contracts: list[Contract] = []
    qty: list[float] = []
    starts = [0]
    for i in good:
        req = requests[i]
        assert req is not None
        for contract, ratio in req.legs:
            contracts.append(contract)
            qty.append(req.quantity * ratio)
        starts.append(len(contracts))
    legs: Portfolio = from_contracts(contracts, qty) if contracts else empty_portfolio()
    trades = TradeLegs(legs, np.array(starts, dtype=np.int64))
    sides = tuple(requests[i].side for i in good)  # type: ignore[union-attr]
    return RfqBatch(tuple(requests), tuple(why), trades, np.array(good, dtype=np.int64), sides)
