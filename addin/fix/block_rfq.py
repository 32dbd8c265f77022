"""Deribit Block RFQ, maker side, offline: a ``block_rfq.maker.{currency}`` notification → the
parameters of two ``private/add_block_rfq_quote`` calls (a bid and an ask).

Our reading of Deribit's API (docs: Block RFQ methods and the maker subscription): the
notification's ``legs`` (``instrument_name``, ``direction``, ``ratio``) define the structure and
``amount`` its size (a leg trades ``amount x ratio``); a maker quote has a ``direction`` (``buy``:
the maker buys the structure as defined, our bid; ``sell``: our ask), the same legs each with a
``price``, and the ``amount``. Option prices are in the coin for coin-settled options (Deribit's
convention, tick 0.0001), in USD for USDC-settled ones. The quote is the structure's all-in price
from the same path as ``CQ_RFQ`` (the book's ΔIM both ways, FVA/KVA/MVA/CCVA, spread); it is
split over the legs by moving each leg's mid against the maker in proportion to |leg value|, so
the legs recombine to the all-in total. A ``hedge`` leg in the notification is the taker's
proposed hedge at its stated price; it is passed through, not priced.

What a live connector adds (not here: no network): authentication, the WebSocket subscription,
``private/add_block_rfq_quote`` / ``edit`` / ``cancel`` calls with rate limits, quote expiry, and
fills arriving on ``block_rfq.maker.quotes`` into the journal as the FIX gateway does.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np

from addin.fix.errors import FixUsageError
from pricing.desk import Leg
from pricing.desk.refusals import Refusal, RefusalCode

#: Deribit's price tick for coin-settled options (coin per contract).
COIN_TICK = 0.0001

#: The desk's refusals that mean the notification itself is unusable (a field the command line
#: answers with exit 2); every other code is a business refusal, kept typed (:class:`BlockRfqRefused`).
INPUT_CODES = frozenset({RefusalCode.BAD_REQUEST, RefusalCode.UNKNOWN_INSTRUMENT, RefusalCode.BAD_QUANTITY})


class BlockRfqRefused(Exception):
    """The desk will not quote this Block RFQ: the typed refusal (not listed, expired, a limit,
    a stale market, price sanity), never turned into a usage error.

    ``clearquote block-rfq`` writes ``{"block_rfq_id", "refused": {"code", "reason"}}`` and exits 1.
    """

    def __init__(self, block_rfq_id: int | str, refusal: Refusal) -> None:
        super().__init__(refusal.text)
        self.block_rfq_id = block_rfq_id
        self.refusal = refusal

    def record(self) -> dict[str, Any]:
        return {"block_rfq_id": self.block_rfq_id, "refused": {"code": self.refusal.code.value, "reason": self.refusal.text}}


def notification_data(payload: Any) -> dict[str, Any]:
    """The Block RFQ object of a notification (the JSON-RPC envelope, its ``params``, or the bare ``data``)."""
    data = payload
    if isinstance(data, dict) and "params" in data:
        data = data["params"]
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    if not isinstance(data, dict):
        raise FixUsageError("block RFQ: expected a JSON object (the notification, its params, or its data)")
    for key in ("block_rfq_id", "amount", "legs"):
        if key not in data:
            raise FixUsageError(f"block RFQ, field {key}: missing")
    if not isinstance(data["legs"], list) or not data["legs"]:
        raise FixUsageError("block RFQ, field legs: a non-empty list of {instrument_name, direction, ratio}")
    return data


#: The largest amount (contracts) or leg ratio read: 1e308 overflowed the quote to NaN.
MAX_AMOUNT = 1e9
#: The largest notification file read.
MAX_FILE_BYTES = 1024 * 1024
#: The smallest size of a leg, amount x ratio, in contracts (coins): Deribit's
#: ``min_trade_amount`` of its BTC and ETH options, 0.1 (Deribit's instrument data,
#: ``public/get_instruments``; not in this project's bundled chain). 1e-300 quoted ~ -5e-297.
MIN_AMOUNT = 0.1
#: The largest hedge price or amount (the desk's size bound, ``pricing.desk.request.MAX_SIZE``).
MAX_HEDGE = 1e15
#: The longest text id, instrument name or hedge field read.
MAX_TEXT = 64
#: The largest integer ``block_rfq_id`` (Deribit's ids are 64-bit integers).
MAX_ID = 2**63 - 1


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
        raise FixUsageError(f"block RFQ, field {field}: must be a text of 1 to {MAX_TEXT} printable characters")
    return value


def _block_id(value: Any) -> int | str:
    """``block_rfq_id``: an integer within 64 bits, or a short printable text (never an object or a float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_ID:
            raise FixUsageError(f"block RFQ, field block_rfq_id: an integer from 0 to 2**63 - 1 (got {len(str(value))} digits)")
        return value
    if isinstance(value, str):
        return _text(value, "block_rfq_id")
    raise FixUsageError("block RFQ, field block_rfq_id: must be an integer or a text")


def _positive(value: Any, field: str, most: float) -> float:
    number = _amount_within(value, field, most)
    if not number > 0:
        raise FixUsageError(f"block RFQ, field {field}: must be > 0")
    return number


def _hedge(value: Any) -> dict[str, Any] | None:
    """The taker's proposed hedge: absent (or null), or an object of instrument_name, direction,
    and a positive finite price and amount within :data:`MAX_HEDGE`; passed through as read."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FixUsageError("block RFQ, field hedge: must be an object {instrument_name, direction, price, amount} or absent")
    _text(value.get("instrument_name"), "hedge.instrument_name")
    if str(value.get("direction", "")).lower() not in ("buy", "sell"):
        raise FixUsageError("block RFQ, field hedge.direction: must be buy or sell")
    for key in ("price", "amount"):
        if key not in value:
            raise FixUsageError(f"block RFQ, field hedge.{key}: missing")
        _positive(value[key], f"hedge.{key}", MAX_HEDGE)
    return value


def _amount(value: Any, field: str) -> float:
    """A JSON number for ``field`` (never TRUE/FALSE, which Python would read as 1/0), at most :data:`MAX_AMOUNT`."""
    return _amount_within(value, field, MAX_AMOUNT)


def _amount_within(value: Any, field: str, most: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FixUsageError(f"block RFQ, field {field}: {str(value)[:40]!r} is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise FixUsageError(f"block RFQ, field {field}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number) or abs(number) > most:
        raise FixUsageError(f"block RFQ, field {field}: {number:g} is beyond {most:g}")
    return number


def _legs(data: dict[str, Any]) -> list[tuple[str, float]]:
    out = []
    for i, leg in enumerate(data["legs"]):
        if not isinstance(leg, dict) or "instrument_name" not in leg:
            raise FixUsageError(f"block RFQ, legs[{i}]: needs instrument_name, direction, ratio")
        # Canonical by pricing.desk.Leg (one home); one leg per instrument is Desk.quote's rule, for every host.
        name = Leg(_text(leg["instrument_name"], f"legs[{i}].instrument_name")).instrument
        direction = str(leg.get("direction", "")).lower()
        if direction not in ("buy", "sell"):
            raise FixUsageError(f"block RFQ, legs[{i}].direction: {leg.get('direction')!r} is not buy or sell")
        ratio = _amount(leg.get("ratio", 1), f"legs[{i}].ratio")
        if not (math.isfinite(ratio) and ratio > 0):
            raise FixUsageError(f"block RFQ, legs[{i}].ratio: must be > 0")
        out.append((name, ratio if direction == "buy" else -ratio))
    return out


def maker_quotes(payload: Any, desk: Any) -> dict[str, Any]:
    """The two ``private/add_block_rfq_quote`` parameter sets for a notification, and the breakdown."""
    from pricing.positions import position_state
    from pricing.xva.risks import leg_premiums

    data = notification_data(payload)
    block_id = _block_id(data["block_rfq_id"])
    legs = _legs(data)
    amount = _amount(data["amount"], "amount")
    if not (math.isfinite(amount) and amount > 0):
        raise FixUsageError("block RFQ, field amount: must be > 0")
    for i, (_, ratio) in enumerate(legs):
        if amount * abs(ratio) < MIN_AMOUNT:
            raise FixUsageError(
                f"block RFQ, field amount: legs[{i}] would trade {amount * abs(ratio):g} contracts, "
                f"under the venue's minimum {MIN_AMOUNT:g}"
            )
    hedge = _hedge(data.get("hedge"))
    from pricing.desk import Quote, RfqRequest

    # Admission (only what the venue lists), limits and price sanity are the desk's, as for every host.
    request = RfqRequest(tuple(Leg(n, r) for n, r in legs), "two-way", amount, ref="block RFQ")
    answer = desk.quote_requests([request])
    refusal = answer.refusals[0]
    if refusal is not None:
        if refusal.code in INPUT_CODES:
            raise FixUsageError(refusal.text)
        raise BlockRfqRefused(block_id, refusal)
    batch, table, market = answer.batch, answer.table, answer.snapshot.market
    market_label = f"{answer.snapshot.source} snapshot {answer.snapshot_id}"
    trade = batch.trades.legs
    unit = position_state(trade.with_quantity(np.ones(len(trade))), market)
    mid_usd = leg_premiums(trade, unit, desk.quote_params)  # USD per contract, as the structure's base counts it
    signs = np.sign(trade.quantity)
    size = np.abs(trade.quantity)  # amount x ratio
    weight = np.abs(mid_usd * size)
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(weight.size, 1.0 / weight.size)
    base = float(table.base[0])
    out: dict[str, Any] = {"block_rfq_id": block_id, "market": market_label, "quotes": []}
    for direction, total, sign_against in (("buy", table.bid["price"][0], -1.0), ("sell", table.ask["price"][0], 1.0)):
        concession = abs(float(total) - base)  # what the maker asks for the risk and costs, USD in all
        per_contract = concession * weight / size
        price_usd = mid_usd + sign_against * signs * per_contract
        spot = np.array([market.spot(u) for u in trade.underlying])
        coin = trade.inverse & (trade.kind == 0)
        price = np.where(coin, price_usd / spot, price_usd)
        # Never in the taker's favour: the maker's bought legs round down, its sold legs up.
        maker_buys = (signs > 0) == (direction == "buy")
        tick = np.where(coin, COIN_TICK, 0.01)
        price = np.where(maker_buys, np.floor(price / tick + 1e-9), np.ceil(price / tick - 1e-9)) * tick
        quote_legs = [
            {"instrument_name": n, "direction": "buy" if s > 0 else "sell", "ratio": abs(r), "price": round(float(px), 8)}
            for (n, r), s, px in zip(legs, signs, price)
        ]
        params: dict[str, Any] = {
            "block_rfq_id": block_id,
            "amount": amount,
            "direction": direction,
            "legs": quote_legs,
            "label": f"clearquote-{block_id}-{direction}",
            "execution_instruction": "all_or_none",
        }
        if hedge is not None:
            params["hedge"] = hedge
        out["quotes"].append(
            {"method": "private/add_block_rfq_quote", "params": params, "all_in_usd": float(total), "mid_usd": base}
        )
    quote = answer.result(0)
    assert isinstance(quote, Quote)  # not refused (above)
    # The desk's figures (pricing.desk.Quote.figures), less the base and the prices given above.
    out["breakdown_usd"] = {k: v for k, v in quote.figures().items() if k != "base" and not k.endswith("_price")}
    return out


def block_rfq(path: str, out: str | None, desk: Any) -> int:
    """``clearquote block-rfq IN.json [-o OUT.json]``."""
    from pathlib import Path

    from addin.tables import write_atomic

    src = Path(path)
    if not src.is_file():
        raise FixUsageError(f"{path}: no such file")
    from addin.tables import decode, load_json

    if src.stat().st_size > MAX_FILE_BYTES:
        raise FixUsageError(f"{src.name}: over {MAX_FILE_BYTES // 1024} KiB; a Block RFQ notification is a few KiB")
    payload = load_json(decode(src.read_bytes(), src.name), src.name)
    try:
        result = maker_quotes(payload, desk)
    except BlockRfqRefused as refused:
        # A business refusal: the typed code and reason, exit 1 (exit 2 is for a notification we cannot read).
        result, status = refused.record(), 1
        print(f"block RFQ refused ({refused.refusal.code.value}): {refused.refusal.text}", file=sys.stderr)
    else:
        status = 0
    try:
        text = json.dumps(result, indent=2, allow_nan=False)
    except ValueError:
        raise FixUsageError(
            "block RFQ: the quote is not a finite number (the amount or a ratio is beyond the engine's range)"
        ) from None
    if out:

        def write(tmp: str) -> None:
            Path(tmp).write_text(text + "\n", encoding="utf-8")

        write_atomic(Path(out), write)
        print(f"wrote {out}")
    else:
        print(text)
    return status
