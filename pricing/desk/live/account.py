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
    """

    positions: dict[str, float] = field(default_factory=dict)
    summaries: dict[str, AccountSummary] = field(default_factory=dict)
    version: int = 0

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
