"""The desk's account at the venue: credentials, positions and collateral from Deribit's private API.

Credentials come from the environment (``DERIBIT_CLIENT_ID``, ``DERIBIT_CLIENT_SECRET``) or from
a JSON file ``{"client_id": ..., "client_secret": ...}`` that only its owner can read (mode
0600 or stricter; anything more open is refused, as ssh refuses a key file). They are sent
only in ``public/auth`` (grant_type ``client_credentials``) and never recorded, logged or
shown: a recording keeps that request and its answer with the secret and the tokens replaced.

Shapes (Deribit API v2): ``private/get_positions`` returns ``[{instrument_name, kind, size,
...}]`` (options: ``size`` in coins, negative short; futures: ``size`` in USD and
``size_currency`` in coins); ``private/get_account_summary`` returns ``{currency, equity,
margin_balance, initial_margin, maintenance_margin, ...}`` in coin; ``user.changes.{kind}.
{currency}.{interval}`` notifications carry ``{positions: [...], trades: [...], orders: [...]}``
and ``user.portfolio.{currency}`` the account summary fields.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricing.errors import PricingInputError

ENV_ID, ENV_SECRET = "DERIBIT_CLIENT_ID", "DERIBIT_CLIENT_SECRET"
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Credentials:
    """An API key of the account (its secret never appears in repr, logs or recordings).

    Attributes
    ----------
    client_id : str
        The API key's id.
    client_secret : str
        Its secret (hidden from ``repr``).
    """

    client_id: str
    client_secret: str = field(repr=False)

    def auth_params(self) -> dict[str, str]:
        """The ``public/auth`` parameters of the client-credentials grant.

        Returns
        -------
        dict of str to str
            ``grant_type``, ``client_id``, ``client_secret``.
        """
        return {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}


def load_credentials(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from ``path`` (owner-only JSON) or the environment; None when neither has them.

    Parameters
    ----------
    path : Path, optional
        A JSON file ``{"client_id": ..., "client_secret": ...}`` readable by its owner only.
    environ : mapping of str to str, optional
        The environment to read (default: ``os.environ``).

    Returns
    -------
    Credentials or None
        The API key pair, or None when none is configured.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        try:
            info = path.stat()
        except OSError:
            raise PricingInputError(f"--credentials {path}: no such file") from None
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PricingInputError(
                f"--credentials {path}: readable by others (mode {stat.S_IMODE(info.st_mode):04o}); run chmod 600 on it"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise PricingInputError(f"--credentials {path}: not JSON with client_id and client_secret") from None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data[k] for k in ("client_id", "client_secret")
        ):
            raise PricingInputError(f"--credentials {path}: needs non-empty client_id and client_secret")
        return Credentials(data["client_id"], data["client_secret"])
    cid, secret = env.get(ENV_ID, ""), env.get(ENV_SECRET, "")
    if bool(cid) != bool(secret):
        raise PricingInputError(f"credentials: set both {ENV_ID} and {ENV_SECRET}, or neither")
    return Credentials(cid, secret) if cid else None


def redact(frame: str) -> str:
    """A frame with any client secret or token replaced (what a recording keeps of an auth exchange).

    Parameters
    ----------
    frame : str
        One WebSocket text frame.

    Returns
    -------
    str
        The text with every secret replaced, safe to log.
    """
    try:
        msg = json.loads(frame)
    except ValueError:
        return frame
    if not isinstance(msg, dict):
        return frame
    for part in ("params", "result"):
        body = msg.get(part)
        if isinstance(body, dict):
            for key in ("client_secret", "access_token", "refresh_token", "signature"):
                if key in body:
                    body[key] = REDACTED
    return json.dumps(msg)


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


@dataclass(frozen=True)
class AccountSummary:
    """One currency's collateral and the venue's own margin for it, in coin.

    Attributes
    ----------
    currency : str
        ``"BTC"``, ``"ETH"``, ...
    equity, margin_balance : float
        Coin.
    initial_margin, maintenance_margin : float
        The venue's own margin, coin.
    """

    currency: str
    equity: float
    margin_balance: float
    initial_margin: float
    maintenance_margin: float


def parse_account_summary(data: Any, currency: str) -> AccountSummary | None:
    """The fields used here; None when they are missing or not numbers.

    Parameters
    ----------
    data : Any
        A ``private/get_account_summary`` result or a ``user.portfolio`` notification's data.
    currency : str
        The currency it is for.

    Returns
    -------
    AccountSummary or None
        The summary, or None when ``data`` is not an object or a margin field is missing, negative or not a number.
    """
    if not isinstance(data, dict):
        return None
    out = AccountSummary(
        str(data.get("currency") or currency).upper(),
        _num(data.get("equity")),
        _num(data.get("margin_balance")),
        _num(data.get("initial_margin")),
        _num(data.get("maintenance_margin")),
    )
    values = (out.equity, out.margin_balance, out.initial_margin, out.maintenance_margin)
    return out if all(math.isfinite(v) and v >= 0 for v in values[1:]) and math.isfinite(out.equity) else None


def position_size(entry: Mapping[str, Any]) -> float:
    """Signed size in coins (contracts of 1 coin): options' ``size``, futures' ``size_currency``.

    Parameters
    ----------
    entry : mapping of str to Any
        One position of a ``get_positions`` result.

    Returns
    -------
    float
        Signed coins.
    """
    if entry.get("kind") == "future":
        return _num(entry.get("size_currency"))
    return _num(entry.get("size"))


def parse_positions(data: Any) -> dict[str, float]:
    """instrument -> signed coins from a get_positions result or a user.changes ``positions`` list.

    Parameters
    ----------
    data : Any
        A list of position entries.

    Returns
    -------
    dict of str to float
        Instrument name to signed size, contracts; malformed entries are left out.
    """
    if not isinstance(data, list):
        return {}
    out = {}
    for e in data:
        if isinstance(e, dict) and isinstance(e.get("instrument_name"), str):
            size = position_size(e)
            if math.isfinite(size):
                out[e["instrument_name"]] = size
    return out


@dataclass(frozen=True)
class VenueTrade:
    """One of the account's trades as the venue reports it (``user.changes`` ``trades``,
    ``private/get_user_trades_by_currency_and_time``).

    Attributes
    ----------
    trade_id : str
        The venue's id (unique: a trade reported twice is one trade).
    instrument : str
        Deribit instrument name.
    size : float
        Signed coins, + the account bought (options: ``amount``; inverse futures: USD
        ``amount`` / ``price``).
    label : str or None
        The label of the account's order the trade filled (None: none).
    timestamp_ms : int
        Venue time, milliseconds since the epoch.
    """

    trade_id: str
    instrument: str
    size: float
    label: str | None
    timestamp_ms: int


def parse_trades(data: Any) -> list[VenueTrade]:
    """The well-formed trades of a ``trades`` list (others left out).

    Parameters
    ----------
    data : Any
        A list of trade objects (``trade_id``, ``instrument_name``, ``direction``, ``amount``,
        ``price``, ``timestamp``, optional ``label``).

    Returns
    -------
    list of VenueTrade
        In the order given.
    """
    if not isinstance(data, list):
        return []
    out = []
    for e in data:
        if not isinstance(e, dict):
            continue
        tid, name, side, stamp = e.get("trade_id"), e.get("instrument_name"), e.get("direction"), e.get("timestamp")
        amount, price = _num(e.get("amount")), _num(e.get("price"))
        if not (isinstance(tid, (str, int)) and not isinstance(tid, bool) and isinstance(name, str) and side in ("buy", "sell")):
            continue
        if str(tid) == "":  # an empty id would make every such trade one trade (counted once by id)
            continue
        if not isinstance(stamp, int) or isinstance(stamp, bool) or not (math.isfinite(amount) and amount > 0):
            continue
        if name.count("-") != 3:  # a future: USD amount, coins at the trade's price
            if not (math.isfinite(price) and price > 0):
                continue
            amount /= price
        label = e.get("label")
        out.append(
            VenueTrade(
                str(tid), name, amount if side == "buy" else -amount, label if isinstance(label, str) and label else None, stamp
            )
        )
    return out


@dataclass
class AccountState:
    """Positions and summaries as the feed last saw them (mutated on the loop thread only).

    Attributes
    ----------
    positions : dict of str to float
        Instrument -> signed coins.
    summaries : dict of str to AccountSummary
        Per currency.
    version : int
        Incremented on each change.
    seen : dict of str to dict of str to (float, float)
        Label -> instrument -> (coins bought, coins sold) by the labelled trades inside
        ``positions`` (each trade once, by its id): what :func:`pricing.desk.fills.unseen`
        retires fills with.
    horizon_ms : dict of str to int
        Currency -> the venue time of its last positions snapshot (trades up to it were read).
    view : tuple
        ``(positions, seen)`` replaced together (a reader takes both from one snapshot).
    """

    positions: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, AccountSummary] = field(default_factory=dict)
    version: int = 0
    seen: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    horizon_ms: dict[str, int] = field(default_factory=dict)
    view: tuple[Mapping[str, float], Mapping[str, Mapping[str, tuple[float, float]]]] = field(default_factory=lambda: ({}, {}))
    _trade_ids: set[str] = field(default_factory=set)
    _held: dict[str, list[tuple[dict[str, float], list[VenueTrade]]]] = field(default_factory=dict)

    def hold(self, currency: str) -> None:
        """From now until :meth:`reset_currency` of ``currency``, its ``user.changes`` are held back.

        Called as the session sends ``private/get_positions``: the snapshot, the trades read up
        to its time and the notifications that arrive meanwhile then land as one step. Without
        it a notification applied while the trade history is read (its fill retired, its
        position set) would be overwritten by the older snapshot: the fill retired and its
        position gone. Holding again drops what an abandoned snapshot held (a new connection's
        snapshot and trade window cover it).

        Parameters
        ----------
        currency : str
            The currency whose positions snapshot was requested.
        """
        self._held = {**self._held, currency.upper(): []}

    def apply_changes(self, positions: Mapping[str, float], trades: list[VenueTrade]) -> None:
        """A ``user.changes`` notification: its positions and its trades, one change.

        The part of a currency held (:meth:`hold`) waits for that currency's snapshot.

        Parameters
        ----------
        positions : mapping of str to float
            Instrument -> signed coins now (0 removes it).
        trades : list of VenueTrade
            The trades that moved them; a trade already counted is not counted again.
        """
        if self._held:
            for ccy, held in self._held.items():
                part = (
                    {n: q for n, q in positions.items() if _currency(n) == ccy},
                    [t for t in trades if _currency(t.instrument) == ccy],
                )
                if part[0] or part[1]:
                    held.append(part)
            now_pos = {n: q for n, q in positions.items() if _currency(n) not in self._held}
            now_trades = [t for t in trades if _currency(t.instrument) not in self._held]
            if not (now_pos or now_trades):
                return
            positions, trades = now_pos, now_trades
        self._record(trades)
        self.set_positions(positions)

    def reset_currency(self, currency: str, positions: Mapping[str, float], trades: list[VenueTrade], as_of_ms: int) -> None:
        """A positions snapshot (``private/get_positions``, on every connection), the labelled
        trades inside it (venue time up to ``as_of_ms``) and the notifications held since it was
        asked for (:meth:`hold`), one change; trades counted before (earlier notifications, an
        earlier connection) are not counted again.

        Parameters
        ----------
        currency : str
            The currency whose positions ``positions`` are in full.
        positions : mapping of str to float
            Instrument -> signed coins.
        trades : list of VenueTrade
            The account's trades up to ``as_of_ms`` (those without a label are ignored).
        as_of_ms : int
            The venue time the snapshot is as of (milliseconds since the epoch).

        Notes
        -----
        Of the held notifications, in arrival order, the positions of those carrying a trade
        stamped at or after ``as_of_ms`` are applied over the snapshot: a position is a level as
        of the notification's last trade, so one sent before the venue answered the snapshot
        (held because it arrived after the request went out) is older than the snapshot and
        applying it would take a position back; the snapshot supersedes it. A trade in the
        snapshot's own millisecond (``usIn`` is in µs, trade times in ms) may be either side of
        it: its level is applied, which is the snapshot's own level unless another trade of the
        same instrument fell inside that millisecond after it, while dropping it would lose the
        position whenever it came after. Every held trade is recorded (by id, once): one before
        the snapshot is inside it, a later one inside the positions applied with it. A held
        notification without trades is superseded by the snapshot (no time to order it by).
        """
        ccy = currency.upper()
        held = self._held.get(ccy, [])
        self._held = {k: v for k, v in self._held.items() if k != ccy}
        later: dict[str, float] = {}
        for pos, ts in held:
            trades = [*trades, *ts]
            if any(t.timestamp_ms >= as_of_ms for t in ts):
                later.update(pos)
        self._record(trades)
        self.horizon_ms = {**self.horizon_ms, ccy: as_of_ms}
        self.set_positions({**positions, **later}, replace_currency=currency)

    def _record(self, trades: list[VenueTrade]) -> None:
        seen = None
        for t in trades:
            if t.label is None or t.trade_id in self._trade_ids:
                continue
            self._trade_ids.add(t.trade_id)
            if seen is None:
                seen = {k: dict(v) for k, v in self.seen.items()}
            book = seen.setdefault(t.label, {})
            bought, sold = book.get(t.instrument, (0.0, 0.0))
            book[t.instrument] = (bought + max(t.size, 0.0), sold + max(-t.size, 0.0))
        if seen is not None:
            self.seen = seen

    def set_positions(self, positions: Mapping[str, float], replace_currency: str | None = None) -> None:
        """Apply position updates; with ``replace_currency``, that currency's book is replaced whole.

        Copy-on-write: readers on other threads hold the old dict, never one being changed.

        Parameters
        ----------
        positions : mapping of str to float
            Instrument -> signed coins (0 removes it).
        replace_currency : str, optional
            The currency whose positions ``positions`` are in full.
        """
        book = dict(self.positions)
        if replace_currency is not None:
            prefix = replace_currency.upper() + "-"
            book = {k: v for k, v in book.items() if not k.upper().startswith(prefix)}
        for name, size in positions.items():
            if size == 0:
                book.pop(name, None)
            else:
                book[name] = size
        self.positions = book
        self.view = (book, self.seen)
        self.version += 1

    def set_summary(self, summary: AccountSummary) -> None:
        """A currency's summary replaces the last one (copy-on-write, as :meth:`set_positions`).

        Parameters
        ----------
        summary : AccountSummary
            The latest account summary of one currency; it replaces the previous one.
        """
        self.summaries = {**self.summaries, summary.currency: summary}
        self.version += 1

    def frozen(self) -> tuple[Mapping[str, float], Mapping[str, AccountSummary]]:
        """(positions, summaries) as of now; both are replaced, never changed, so these stay as they are.

        Returns
        -------
        (positions, summaries) : (mapping of str to float, mapping of str to AccountSummary)
            Immutable copies: instrument name to signed size (contracts), and currency to its summary.
        """
        return self.positions, self.summaries


def _currency(instrument: str) -> str:
    """The currency of a Deribit instrument name (``BTC-27MAR26-80000-P`` -> ``BTC``)."""
    return instrument.split("-", 1)[0].upper()
