"""Positions in options, futures and perpetuals, held as arrays (one row per position).

A position is an instrument and a signed quantity in contracts (> 0 long, < 0 short).
``contract_size`` is the number of coins one contract is on (Deribit options and the
quantities this engine uses for futures: 1; CME Bitcoin options: 5). Settlement is
``"inverse"`` (coin-settled, Deribit) or ``"linear"`` (USD-settled).

Futures and perpetual quantities are in coins at entry (an inverse future of q coins is a USD
notional of q * F at entry, the way Deribit's ``size`` reads once divided by the price).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pricing._typing import BoolArray, FloatArray, IntArray
from pricing.daycount import option_times
from pricing.errors import PricingInputError, parse_choice
from pricing.instruments import (
    DERIBIT_EXPIRY_HOUR_UTC,
    FutureContract,
    OptionContract,
    format_option_name,
    parse_cp,
    parse_instrument_name,
    parse_settlement,
)

OPTION, FUTURE, PERPETUAL = 0, 1, 2
KINDS = {"option": OPTION, "future": FUTURE, "perpetual": PERPETUAL, "perp": PERPETUAL}
_TYPE_WORDS = {
    "call": "call",
    "c": "call",
    "put": "put",
    "p": "put",
    "future": "future",
    "perpetual": "perpetual",
    "perp": "perpetual",
}


@dataclass(frozen=True)
class Portfolio:
    """Positions as parallel arrays.

    Attributes
    ----------
    names : tuple[str, ...]
        Deribit-style instrument names.
    underlying : ndarray of str
        ``"BTC"``/``"ETH"``.
    kind : ndarray of int
        0 option, 1 dated future, 2 perpetual.
    cp : ndarray
        +1 call, -1 put, 0 for futures.
    strike : ndarray
        USD strike (NaN for futures).
    expiry : ndarray of datetime64[s]
        Expiry instant in UTC (NaT for perpetuals).
    quantity : ndarray
        Signed number of contracts.
    contract_size : ndarray
        Coins per contract (> 0).
    inverse : ndarray of bool
        True for coin-settled instruments.
    """

    names: tuple[str, ...]
    underlying: np.ndarray
    kind: IntArray
    cp: FloatArray
    strike: FloatArray
    expiry: np.ndarray
    quantity: FloatArray
    contract_size: FloatArray
    inverse: BoolArray

    def __len__(self) -> int:
        return len(self.names)

    @property
    def units(self) -> FloatArray:
        """Signed coin exposure per position: quantity x contract size."""
        return self.quantity * self.contract_size

    @functools.cached_property
    def underlyings(self) -> tuple[str, ...]:
        """The distinct underlyings, sorted (computed once: a portfolio's arrays are not changed in place)."""
        return tuple(str(u) for u in np.unique(np.asarray(self.underlying, dtype=str)))

    def tier_keys(self) -> IntArray:
        """Expiry tier per position, epoch seconds; perpetuals are the nearest tier (-1).

        Returns
        -------
        ndarray of int
            One per position.
        """
        keys = self.expiry.astype("datetime64[s]").astype(np.int64)
        return np.where(self.kind == PERPETUAL, -1, keys)

    def t_years(self, as_of: datetime) -> FloatArray:
        """ACT/365 time from ``as_of`` to each expiry (0 for perpetuals).

        Parameters
        ----------
        as_of : datetime
            Timezone-aware.

        Returns
        -------
        ndarray
            Years, one per position (negative after an expiry).
        """
        if as_of.tzinfo is None:
            raise PricingInputError("as_of: must be timezone-aware (UTC)")
        return np.where(self.kind == PERPETUAL, 0.0, option_times(as_of, self.expiry))

    def select(self, mask: BoolArray | IntArray) -> Portfolio:
        """The positions picked by a boolean mask or an index array.

        Parameters
        ----------
        mask : ndarray of bool or int
            A boolean mask of length P, or row indices.

        Returns
        -------
        Portfolio
            The selected positions, every column taken alike.
        """
        index = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=np.int64)
        return Portfolio(
            tuple(self.names[i] for i in index),
            self.underlying[index],
            self.kind[index],
            self.cp[index],
            self.strike[index],
            self.expiry[index],
            self.quantity[index],
            self.contract_size[index],
            self.inverse[index],
        )

    def scaled(self, factor: float) -> Portfolio:
        """The same positions with every quantity multiplied by ``factor``.

        Parameters
        ----------
        factor : float
            Multiplier of every quantity (negative flips the side).

        Returns
        -------
        Portfolio
            The same positions with quantities multiplied by ``factor``.
        """
        return _replace_quantity(self, self.quantity * float(factor))

    def with_quantity(self, quantity: FloatArray) -> Portfolio:
        """The same instruments with new signed quantities.

        Parameters
        ----------
        quantity : ndarray
            Signed contracts, one per position.

        Returns
        -------
        Portfolio
            The same positions with the given quantities.
        """
        q = np.asarray(quantity, dtype=np.float64)
        if q.shape != self.quantity.shape:
            raise PricingInputError(f"quantity: expected {self.quantity.size} values, got {q.size}")
        return _replace_quantity(self, q)

    def __add__(self, other: Portfolio) -> Portfolio:
        return concat([self, other])


def _replace_quantity(p: Portfolio, quantity: FloatArray) -> Portfolio:
    return Portfolio(p.names, p.underlying, p.kind, p.cp, p.strike, p.expiry, quantity, p.contract_size, p.inverse)


def concat(portfolios: Sequence[Portfolio]) -> Portfolio:
    """Positions of several portfolios, in order (no netting).

    Parameters
    ----------
    portfolios : sequence of Portfolio
        The portfolios, rows kept in order.

    Returns
    -------
    Portfolio
        All their positions, one after the other.
    """
    if not portfolios:
        return empty_portfolio()
    return Portfolio(
        tuple(n for p in portfolios for n in p.names),
        np.concatenate([p.underlying for p in portfolios]).astype(str),
        np.concatenate([p.kind for p in portfolios]).astype(np.int64),
        np.concatenate([p.cp for p in portfolios]),
        np.concatenate([p.strike for p in portfolios]),
        np.concatenate([p.expiry for p in portfolios]).astype("datetime64[s]"),
        np.concatenate([p.quantity for p in portfolios]),
        np.concatenate([p.contract_size for p in portfolios]),
        np.concatenate([p.inverse for p in portfolios]).astype(bool),
    )


def empty_portfolio() -> Portfolio:
    """A portfolio with no positions (its IM is 0 under every model).

    Returns
    -------
    Portfolio
        A portfolio with no positions.
    """
    return from_contracts([], [])


def from_contracts(
    contracts: Sequence[OptionContract | FutureContract],
    quantities: Iterable[float],
    contract_sizes: Iterable[float] | float = 1.0,
) -> Portfolio:
    """Build a portfolio from contract objects and signed quantities (in contracts).

    Parameters
    ----------
    contracts : sequence of OptionContract or FutureContract
        The contracts, one position each.
    quantities : iterable of float
        Signed contracts, one per contract.
    contract_sizes : float or iterable of float
        Coins of underlying per contract (1).

    Returns
    -------
    Portfolio
        One position per contract, in order.
    """
    qty = np.asarray(list(quantities), dtype=np.float64)
    if qty.size != len(contracts):
        raise PricingInputError(f"quantities: expected {len(contracts)} values, got {qty.size}")
    sizes = np.broadcast_to(
        np.asarray(contract_sizes if isinstance(contract_sizes, (int, float)) else list(contract_sizes), dtype=np.float64),
        qty.shape,
    )
    if not np.all(np.isfinite(qty)):
        raise PricingInputError("quantity: must be finite numbers (contracts, > 0 long, < 0 short)")
    if not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise PricingInputError("contract_size: must be > 0 (coins per contract)")
    names, und, kind, cp, strike, inverse = [], [], [], [], [], []
    expiry: list[np.datetime64] = []
    for c in contracts:
        und.append(c.underlying)
        inverse.append(c.settle == "inverse")
        if isinstance(c, OptionContract):
            names.append(format_option_name(c))
            kind.append(OPTION)
            cp.append(float(c.cp))
            strike.append(c.strike)
            expiry.append(np.datetime64(int(c.expiry.timestamp()), "s"))
        else:
            names.append(c.name)
            kind.append(PERPETUAL if c.expiry is None else FUTURE)
            cp.append(0.0)
            strike.append(np.nan)
            expiry.append(np.datetime64("NaT", "s") if c.expiry is None else np.datetime64(int(c.expiry.timestamp()), "s"))
    return Portfolio(
        tuple(names),
        np.array(und, dtype=str),
        np.array(kind, dtype=np.int64),
        np.array(cp, dtype=np.float64),
        np.array(strike, dtype=np.float64),
        np.array(expiry, dtype="datetime64[s]"),
        qty.copy(),
        np.array(sizes, dtype=np.float64),
        np.array(inverse, dtype=bool),
    )


def _cell(row: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in row and row[key] not in (None, ""):
            return row[key]
    return None


def _number(value: Any, where: str, field: str, *, default: float | None = None, positive: bool = False) -> float:
    if value is None:
        if default is None:
            raise PricingInputError(f"{where}, column {field}: a number is required")
        return default
    if isinstance(value, (bool, np.bool_)):
        # TRUE is 1 to Excel's arithmetic, never a quantity: refused as CQ_BLACK refuses it
        raise PricingInputError(f"{where}, column {field}: TRUE/FALSE where a number belongs")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise PricingInputError(f"{where}, column {field}: {str(value)[:40]!r} is not a number") from None
    if not np.isfinite(number) or (positive and number <= 0):
        raise PricingInputError(f"{where}, column {field}: {value!r} must be a finite number{' > 0' if positive else ''}")
    return number


def _expiry(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise PricingInputError(f"{where}, column expiry: {value!r} is not a date (YYYY-MM-DD)") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
        if stamp.hour == 0 and stamp.minute == 0:
            stamp = stamp.replace(hour=DERIBIT_EXPIRY_HOUR_UTC)
    return stamp


def portfolio_from_rows(
    rows: Sequence[Mapping[str, Any]], source: str = "portfolio", row_numbers: Sequence[int] | None = None
) -> Portfolio:
    """Build a portfolio from table rows (header names are case-insensitive).

    Each row is either ``instrument`` (a Deribit name) + ``quantity``, or explicit columns
    ``underlying``, ``type`` (call/put/future/perpetual), ``expiry`` (YYYY-MM-DD, 08:00 UTC
    assumed), ``strike`` + ``quantity``. Optional: ``contract_size`` (coins per contract,
    default 1) and ``settle`` (inverse/linear, default inverse). Rows are numbered as a
    spreadsheet shows them (header = row 1) unless ``row_numbers`` gives each row's number
    (a sheet range with blank rows skipped); every error names the row and the column.

    Parameters
    ----------
    rows : sequence of mappings
        Column name -> cell value.
    source : str
        How the table is named in errors.
    row_numbers : sequence of int, optional
        Each row's number in the source (default: 2, 3, ...).

    Returns
    -------
    Portfolio
        One position per row, in order.
    """
    contracts: list[OptionContract | FutureContract] = []
    qty, sizes = [], []
    for i, raw in enumerate(rows):
        row = {str(k).strip().lower(): v for k, v in raw.items()}
        where = f"{source}, row {row_numbers[i] if row_numbers is not None else i + 2}"
        settle_text = _cell(row, "settle", "settlement")
        try:
            settle = parse_settlement(settle_text) if settle_text is not None else "inverse"
            name = _cell(row, "instrument", "instrument_name", "name")
            if name is not None:
                contract = parse_instrument_name(str(name), settle)
            else:
                underlying = _cell(row, "underlying")
                kind_text = _cell(row, "type", "kind", "cp")
                if underlying is None or kind_text is None:
                    raise PricingInputError(
                        "give either an 'instrument' column (Deribit name) or 'underlying', 'type', 'expiry', 'strike'"
                    )
                kind = parse_choice(kind_text, "type", _TYPE_WORDS)
                code = str(underlying).strip().upper()
                if kind == "perpetual":
                    contract = FutureContract(code, None, settle)
                elif kind == "future":
                    contract = FutureContract(code, _expiry(_cell(row, "expiry"), where), settle)
                else:
                    strike = _number(_cell(row, "strike"), where, "strike", positive=True)
                    contract = OptionContract(code, _expiry(_cell(row, "expiry"), where), strike, parse_cp(kind), settle)
        except PricingInputError as exc:
            message = str(exc)
            raise PricingInputError(message if message.startswith(source) else f"{where}: {message}") from None
        contracts.append(contract)
        qty.append(_number(_cell(row, "quantity", "qty", "amount", "size"), where, "quantity"))
        sizes.append(_number(_cell(row, "contract_size", "multiplier"), where, "contract_size", default=1.0, positive=True))
    return from_contracts(contracts, qty, sizes)
