"""What ``--market deribit...`` / ``replay:...`` names, and the live desk's limits with their defaults.

Specs (case-insensitive scheme):

- ``deribit``: Deribit production, ``wss://www.deribit.com/ws/api/v2``;
- ``deribit-test``: Deribit testnet, ``wss://test.deribit.com/ws/api/v2``;
- ``deribit:ws://HOST:PORT/PATH`` or ``deribit:wss://...``: any endpoint speaking Deribit API v2
  (a local test server, a replay, a proxy);
- ``replay:FILE[@SPEED]``: a recording made by ``clearquote feed record``, served on loopback and
  read through the same client; ``SPEED`` is a positive factor (default 1) or ``max``.

Any of them may end with ``#BTC,ETH`` to choose the currencies (default both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pricing.errors import PricingInputError

PRODUCTION_URL = "wss://www.deribit.com/ws/api/v2"
TESTNET_URL = "wss://test.deribit.com/ws/api/v2"
#: The currencies whose options the desk quotes (the bundled chains' underlyings).
CURRENCIES = ("BTC", "ETH")


@dataclass(frozen=True)
class LiveSpec:
    """A parsed live-market spec.

    Attributes
    ----------
    text : str
        The spec as given (for messages and provenance).
    url : str | None
        The WebSocket endpoint; None for a replay until its local server is up.
    replay : Path | None
        The recording a replay serves.
    speed : float
        Replay speed factor (``inf`` = as fast as possible); 1 for a live endpoint.
    currencies : tuple[str, ...]
        Upper-case currency codes.
    """

    text: str
    url: str | None
    replay: Path | None
    speed: float
    currencies: tuple[str, ...]

    @property
    def label(self) -> str:
        """How provenance lines name the source (never a credential: specs carry none)."""
        if self.replay is not None:
            return f"replay:{self.replay.name}@{'max' if math.isinf(self.speed) else f'{self.speed:g}'}"
        return f"deribit:{self.url}"


@dataclass(frozen=True)
class LiveLimits:
    """Every limit of the live source, in one place (``docs/live.md`` lists them).

    Attributes
    ----------
    connect_timeout_s : float
        Budget for the first connection and snapshot; a dead endpoint fails after it (seconds).
    max_age_s : float
        A snapshot whose last mark message was received longer ago than this is stale: quotes
        from it are refused with the age named (seconds, receive time on this machine).
    heartbeat_s : int
        ``public/set_heartbeat`` interval; Deribit's minimum is 10 (seconds).
    backoff_initial_s, backoff_max_s : float
        Reconnect delay: doubles from the initial value up to the maximum, with ±20 % jitter.
    requests_per_s, request_burst : float
        Client-side token bucket for requests; Deribit allows 20/s sustained with a burst of 100
        for non-matching-engine requests, so half of each keeps a margin for other clients of the
        same account.
    request_timeout_s : float
        A request without a response after this long fails the connection (it is reopened).
    publish_interval_s : float
        Seconds between publications (:func:`pricing.desk.live.source.publication_time`): a
        change after a quiet interval is published at once, changes arriving faster are batched
        to the interval's end; a currency's new marks are published at once unless that
        currency's marks were published less than this ago (so at most one publication per
        interval, plus one per currency with new marks). 25 ms: refits and index updates are
        batched, and the venue's mark messages (one per currency a second) never wait for them.
    max_message_bytes : int
        Larger frames close the connection (Deribit's full book summary of BTC options is ~0.6 MB).
    first_fit_timeout_s : float
        Budget for the first cold fit of every expiry (seconds; ~1-2 s per currency measured).
    max_margin_lag_s : float
        A quote's margin (ΔIM, costs, spread) may come from a snapshot up to this much older,
        by the market's own time and by when it was built, than the one its price comes from (:mod:`pricing.desk.lag`):
        the book's basis for the new snapshot is then built off the quote's path. 1.5 s: the
        venue marks each currency once a second, so a margin one mark message behind (1 s apart,
        with the jitter of its arrival) is allowed and two (2 s) never are; 0: every quote waits
        for the basis of its own snapshot.
    """

    connect_timeout_s: float = 6.0
    max_age_s: float = 30.0
    heartbeat_s: int = 10
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    requests_per_s: float = 10.0
    request_burst: float = 20.0
    request_timeout_s: float = 10.0
    publish_interval_s: float = 0.025
    max_message_bytes: int = 16 * 1024 * 1024
    first_fit_timeout_s: float = 60.0
    max_margin_lag_s: float = 1.5

    def __post_init__(self) -> None:
        # Every limit > 0, but the margin lag, which may be 0 (none).
        floor = {"max_margin_lag_s": 0.0}
        positive = {
            k: v
            for k, v in vars(self).items()
            if not (isinstance(v, (int, float)) and (v >= 0 if k in floor else v > 0) and math.isfinite(v))
        }
        if positive:
            raise PricingInputError(
                f"live limits: {', '.join(f'{k}={v!r}' for k, v in positive.items())} must be finite and > 0 (max_margin_lag_s: >= 0)"
            )
        if self.heartbeat_s < 10:
            raise PricingInputError(f"live limits: heartbeat_s={self.heartbeat_s} is below Deribit's minimum of 10 seconds")
        if self.backoff_max_s < self.backoff_initial_s:
            raise PricingInputError("live limits: backoff_max_s must be >= backoff_initial_s")


def is_live_spec(spec: str) -> bool:
    """True for the specs this package opens (``deribit...`` and ``replay:...``).

    Parameters
    ----------
    spec : str
        A market spec as a user typed it.

    Returns
    -------
    bool
        True if the spec names a live source (rather than bundled data or a file).
    """
    s = spec.strip().lower()
    return s == "deribit" or s.startswith(("deribit:", "deribit-test", "replay:"))


def parse_spec(spec: str) -> LiveSpec:
    """Parse a live-market spec (module docstring); a bad one raises ``PricingInputError`` naming it.

    Parameters
    ----------
    spec : str
        A live market spec as a user typed it.

    Returns
    -------
    LiveSpec
        The endpoint, currencies and options the spec names.
    """
    text = spec.strip()
    body, sep, tail = text.partition("#")
    currencies: tuple[str, ...] = CURRENCIES
    if sep:
        currencies = tuple(c.strip().upper() for c in tail.split(",") if c.strip())
        bad = [c for c in currencies if not (c.isalnum() and c.isascii() and 2 <= len(c) <= 10)]
        if not currencies or bad:
            raise PricingInputError(f"--market {text!r}: after '#' give currency codes such as BTC,ETH")
    low = body.lower()
    if low == "deribit":
        return LiveSpec(text, PRODUCTION_URL, None, 1.0, currencies)
    if low in ("deribit-test", "deribit-testnet"):
        return LiveSpec(text, TESTNET_URL, None, 1.0, currencies)
    if low.startswith("deribit:"):
        url = body.split(":", 1)[1]
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise PricingInputError(f"--market {text!r}: after 'deribit:' give a ws:// or wss:// URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise PricingInputError(f"--market {text!r}: the port is not a number") from None
        return LiveSpec(text, url, None, 1.0, currencies)
    if low.startswith("replay:"):
        path, _, speed_text = body.split(":", 1)[1].rpartition("@") if "@" in body else ("", "", "")
        if not path:
            path, speed_text = body.split(":", 1)[1], "1"
        speed = _speed(speed_text, text)
        file = Path(path)
        if not file.is_file():
            raise PricingInputError(f"--market {text!r}: no recording at {path!r} (make one with `clearquote feed record`)")
        return LiveSpec(text, None, file, speed, currencies)
    raise PricingInputError(
        f"--market {text!r}: a live market is deribit, deribit-test, deribit:ws[s]://HOST:PORT/PATH or replay:FILE[@SPEED]"
    )


def _speed(text: str, spec: str) -> float:
    if text.strip().lower() == "max":
        return math.inf
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0):
        raise PricingInputError(f"--market {spec!r}: the replay speed {text!r} is not a positive number or 'max'")
    return speed
