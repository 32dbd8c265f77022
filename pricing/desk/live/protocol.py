"""Deribit API v2 messages: JSON-RPC 2.0 requests out, responses and notifications in.

Shapes as Deribit's API reference documents them (``docs.deribit.com``, API v2):

- a request ``{"jsonrpc": "2.0", "id": N, "method": "public/...", "params": {...}}``; its response
  carries the same ``id`` and either ``result`` or ``error: {"code", "message"}``;
- a subscription notification ``{"jsonrpc": "2.0", "method": "subscription",
  "params": {"channel": "...", "data": ...}}``;
- after ``public/set_heartbeat`` the server sends ``{"method": "heartbeat", "params": {"type":
  "heartbeat" | "test_request"}}``; a ``test_request`` must be answered with ``public/test`` or the
  server closes the connection.

Channel payloads used here:

- ``markprice.options.{index}``: a list of ``{instrument_name, mark_price (coin), iv (decimal),
  timestamp (ms)}``;
- ``deribit_price_index.{index}``: ``{index_name, price (USD), timestamp}``;
- ``ticker.{instrument}.{interval}`` (futures and perpetual): ``{instrument_name, mark_price (USD),
  index_price, timestamp, ...}``;
- ``instrument.state.{kind}.{currency}``: ``{instrument_name, state, timestamp}`` with state one of
  created, started, settled, closed, deactivated, terminated.

Every parser here is total: a message or entry that does not have the documented shape is
returned as :class:`Malformed` (or dropped and counted), never an exception into the loop.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricing._typing import FloatArray

#: Deribit's documented error code for an exhausted request-credit pool.
TOO_MANY_REQUESTS = 10028
#: States after which an instrument no longer trades (it leaves the chain).
GONE_STATES = frozenset({"settled", "closed", "deactivated", "terminated"})
LIVE_STATES = frozenset({"created", "started"})


def request(request_id: int, method: str, params: Mapping[str, Any] | None = None) -> str:
    """One JSON-RPC 2.0 request as text.

    Parameters
    ----------
    request_id : int
        The JSON-RPC ``id``; the answer carries it back.
    method : str
        E.g. ``public/get_book_summary_by_currency``.
    params : mapping, optional
        The method's parameters (JSON-serialisable); None sends an empty object.

    Returns
    -------
    str
        Compact JSON.
    """
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params or {})})


@dataclass(frozen=True)
class Response:
    """A JSON-RPC result.

    Attributes
    ----------
    request_id : int
        The ``id`` it answers.
    result : Any
        The decoded ``result``.
    us_in : int or None
        Deribit's ``usIn``: when the venue received the request, microseconds since the epoch
        (what a positions snapshot is as of); None when the response has none.
    """

    request_id: int
    result: Any
    us_in: int | None = None


@dataclass(frozen=True)
class ErrorResponse:
    """A JSON-RPC error.

    Attributes
    ----------
    request_id : int or None
        The ``id`` it answers (None when the venue could not read one).
    code : int
        The error code.
    message : str
        The venue's message.
    """

    request_id: int | None
    code: int
    message: str


@dataclass(frozen=True)
class Notification:
    """A subscription notification.

    Attributes
    ----------
    channel : str
        E.g. ``markprice.options.btc_usd``.
    data : Any
        The decoded ``params.data``.
    """

    channel: str
    data: Any


@dataclass(frozen=True)
class Heartbeat:
    """A ``heartbeat`` notification.

    Attributes
    ----------
    test_request : bool
        The venue asks for a ``public/test`` answer (else the connection is closed).
    """

    test_request: bool


@dataclass(frozen=True)
class Malformed:
    """A frame (or entry) that is not what the protocol says.

    Attributes
    ----------
    reason : str
        What was wrong (never the frame's text).
    """

    reason: str


Message = Response | ErrorResponse | Notification | Heartbeat | Malformed


def classify(raw: str | bytes) -> Message:
    """What one received frame is (see the module docstring); anything else is :class:`Malformed`.

    Parameters
    ----------
    raw : str or bytes
        One received frame.

    Returns
    -------
    Response, ErrorResponse, Notification, Heartbeat or Malformed
        What the frame is; a frame that is not valid JSON-RPC is Malformed with the reason, never an exception.
    """
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return Malformed(f"not JSON: {str(exc)[:80]}")
    if not isinstance(msg, dict):
        return Malformed(f"not a JSON object but {type(msg).__name__}")
    method = msg.get("method")
    params = msg.get("params")
    if method == "subscription":
        if isinstance(params, dict) and isinstance(params.get("channel"), str) and "data" in params:
            return Notification(params["channel"], params["data"])
        return Malformed("subscription without params.channel/params.data")
    if method == "heartbeat":
        kind = params.get("type") if isinstance(params, dict) else None
        if kind in ("heartbeat", "test_request"):
            return Heartbeat(kind == "test_request")
        return Malformed(f"heartbeat of unknown type {kind!r}")
    rid = msg.get("id")
    if "error" in msg:
        err = msg["error"]
        code = err.get("code") if isinstance(err, dict) else None
        text = err.get("message") if isinstance(err, dict) else None
        return ErrorResponse(
            rid if isinstance(rid, int) and not isinstance(rid, bool) else None,
            code if isinstance(code, int) and not isinstance(code, bool) else -1,
            str(text)[:200] if text is not None else "",
        )
    if isinstance(rid, int) and not isinstance(rid, bool) and "result" in msg:
        us_in = msg.get("usIn")
        return Response(
            rid, msg["result"], us_in if isinstance(us_in, int) and not isinstance(us_in, bool) and us_in > 0 else None
        )
    return Malformed("neither a response, a notification nor a heartbeat")


def _number(value: Any) -> float:
    """A finite float, or NaN for anything else (bools, text, null, inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    out = float(value)
    return out if math.isfinite(out) else math.nan


@dataclass(frozen=True)
class MarkUpdate:
    """Option marks from one ``markprice.options`` notification (rows that passed the checks).

    ``iv_pct`` is in percent (Deribit sends decimal here, percent in book summaries; the
    chain keeps percent); ``mark_price`` in coin; ``ts_ms`` in ms since the epoch.

    Attributes
    ----------
    names : tuple of str
        Instrument names.
    mark_price : ndarray
        Coin.
    iv_pct : ndarray
        Percent.
    ts_ms : ndarray
        Epoch milliseconds.
    dropped : int
        Entries dropped.
    """

    names: tuple[str, ...]
    mark_price: FloatArray
    iv_pct: FloatArray
    ts_ms: FloatArray
    dropped: int


def parse_marks(data: Any) -> MarkUpdate | Malformed:
    """The entries of a ``markprice.options`` notification; bad entries are dropped and counted.

    Parameters
    ----------
    data : Any
        The notification's data (a list of entries).

    Returns
    -------
    MarkUpdate or Malformed
        The marks, or Malformed with the reason if the data are not a list of marks.
    """
    if not isinstance(data, list):
        return Malformed("markprice.options data is not a list")
    entries = [e if isinstance(e, dict) else {} for e in data]
    names = [e.get("instrument_name") for e in entries]
    price = np.array([_number(e.get("mark_price")) for e in entries], dtype=float)
    iv = np.array([_number(e.get("iv")) for e in entries], dtype=float)
    ts = np.array([_number(e.get("timestamp")) for e in entries], dtype=float)
    named = np.array([isinstance(n, str) and 0 < len(n) <= 64 for n in names], dtype=bool)
    ok = named & (price >= 0) & (iv > 0) & (iv < 10.0) & (ts > 0)
    keep = np.flatnonzero(ok)
    return MarkUpdate(tuple(str(names[i]) for i in keep), price[keep], 100.0 * iv[keep], ts[keep], int(len(entries) - keep.size))


@dataclass(frozen=True)
class PriceUpdate:
    """One instrument's or index's price: ``deribit_price_index`` (name = index name) or a ticker.

    Attributes
    ----------
    name : str
        Index or instrument name.
    price : float
        USD.
    ts_ms : float
        Epoch milliseconds.
    """

    name: str
    price: float
    ts_ms: float


def parse_index(data: Any) -> PriceUpdate | Malformed:
    """A ``deribit_price_index`` notification's data.

    Parameters
    ----------
    data : Any
        The notification's ``params.data`` as decoded from JSON, untrusted: anything that is not an object with the fields below
        is answered with :class:`Malformed`, never an exception.

    Returns
    -------
    PriceUpdate or Malformed
        Malformed unless it has ``index_name``, a positive ``price`` and a ``timestamp``.
    """
    return _price_update(data, "deribit_price_index", "index_name", "price")


def parse_ticker(data: Any) -> PriceUpdate | Malformed:
    """A ``ticker`` notification's data (a future's or perpetual's mark).

    Parameters
    ----------
    data : Any
        The notification's ``params.data`` as decoded from JSON, untrusted: anything that is not an object with the fields below
        is answered with :class:`Malformed`, never an exception.

    Returns
    -------
    PriceUpdate or Malformed
        Malformed unless it has ``instrument_name``, a positive ``mark_price`` and a ``timestamp``.
    """
    return _price_update(data, "ticker", "instrument_name", "mark_price")


def _price_update(data: Any, channel: str, name_key: str, price_key: str) -> PriceUpdate | Malformed:
    """One named positive price with its timestamp from an untrusted notification, or Malformed naming ``channel``."""
    if not isinstance(data, dict):
        return Malformed(f"{channel} data is not an object")
    price, ts, name = _number(data.get(price_key)), _number(data.get("timestamp")), data.get(name_key)
    if not (isinstance(name, str) and price > 0 and ts > 0):
        return Malformed(f"{channel} needs {name_key}, a positive {price_key} and a timestamp")
    return PriceUpdate(name, price, ts)


@dataclass(frozen=True)
class StateUpdate:
    """An ``instrument.state`` notification: a listing created, started, settled or closed.

    Attributes
    ----------
    name : str
        The instrument.
    state : str
        Its new state.
    ts_ms : float
        Epoch milliseconds.
    """

    name: str
    state: str
    ts_ms: float


def parse_state(data: Any) -> StateUpdate | Malformed:
    """An ``instrument.state`` notification's data.

    Parameters
    ----------
    data : Any
        The notification's ``params.data`` as decoded from JSON, untrusted: anything that is not an object with the fields below
        is answered with :class:`Malformed`, never an exception.

    Returns
    -------
    StateUpdate or Malformed
        Malformed unless it names an instrument and a known state.
    """
    if not isinstance(data, dict):
        return Malformed("instrument.state data is not an object")
    name, state, ts = data.get("instrument_name"), data.get("state"), _number(data.get("timestamp"))
    if not (isinstance(name, str) and isinstance(state, str) and state in GONE_STATES | LIVE_STATES):
        return Malformed(f"instrument.state needs instrument_name and a known state, got {str(state)[:20]!r}")
    return StateUpdate(name, state, ts)


@dataclass(frozen=True)
class SummaryRows:
    """A ``public/get_book_summary_by_currency`` (kind=option) result as columns.

    Prices in coin, ``mark_iv`` in percent, ``underlying_price``/``index_price`` in USD,
    ``ts_ms`` = ``creation_timestamp``; ``underlying_index`` names the future (or ``SYN.``
    synthetic) each option's forward is.

    Attributes
    ----------
    names, underlying_index : tuple of str
        Per option.
    mark_price, bid_price, ask_price : ndarray
        Coin (NaN: no quote).
    mark_iv : ndarray
        Percent.
    underlying_price, index_price : ndarray
        USD.
    ts_ms : ndarray
        Epoch milliseconds.
    dropped : int
        Entries dropped.
    """

    names: tuple[str, ...]
    underlying_index: tuple[str, ...]
    mark_price: FloatArray
    mark_iv: FloatArray
    bid_price: FloatArray
    ask_price: FloatArray
    underlying_price: FloatArray
    index_price: FloatArray
    ts_ms: FloatArray
    dropped: int


def parse_book_summary(result: Any) -> SummaryRows | Malformed:
    """Book summaries with the fields the chain needs; entries without them are dropped and counted.

    Parameters
    ----------
    result : Any
        The method's result (a list).

    Returns
    -------
    SummaryRows or Malformed
        The summary rows, or Malformed with the reason.
    """
    if not isinstance(result, list):
        return Malformed("get_book_summary_by_currency result is not a list")
    entries = [e if isinstance(e, dict) else {} for e in result]

    def col(key: str) -> FloatArray:
        return np.array([_number(e.get(key)) for e in entries], dtype=float)

    names = [e.get("instrument_name") for e in entries]
    und = [e.get("underlying_index") for e in entries]
    price, iv, fwd, ts = col("mark_price"), col("mark_iv"), col("underlying_price"), col("creation_timestamp")
    index = col("estimated_delivery_price")
    index = np.where(np.isfinite(index), index, fwd)
    ok = np.array([isinstance(n, str) and 0 < len(n) <= 64 for n in names], dtype=bool)
    ok &= (price >= 0) & (iv > 0) & (fwd > 0) & (ts > 0) & (index > 0)
    keep = np.flatnonzero(ok)
    # null or 0 (no quote on that side) is NaN: the rule of the file reader, pricing.chain.book_summary_rows
    bid, ask = col("bid_price"), col("ask_price")
    bid, ask = np.where(bid > 0, bid, np.nan), np.where(ask > 0, ask, np.nan)
    return SummaryRows(
        names=tuple(str(names[i]) for i in keep),
        underlying_index=tuple(str(und[i]) if isinstance(und[i], str) else "" for i in keep),
        mark_price=price[keep],
        mark_iv=iv[keep],
        bid_price=bid[keep],
        ask_price=ask[keep],
        underlying_price=fwd[keep],
        index_price=index[keep],
        ts_ms=ts[keep],
        dropped=int(len(entries) - keep.size),
    )


def future_names(result: Any) -> tuple[str, ...]:
    """Names of the active futures and perpetuals in a ``public/get_instruments`` (kind=future) result.

    Parameters
    ----------
    result : Any
        The JSON-RPC ``result`` as decoded, untrusted: anything but a list gives no names.

    Returns
    -------
    tuple of str
        Instrument names of the active futures and perpetuals, in the result's order.
    """
    if not isinstance(result, list):
        return ()
    return tuple(
        str(e["instrument_name"])
        for e in result
        if isinstance(e, dict) and isinstance(e.get("instrument_name"), str) and e.get("is_active", True) is not False
    )
