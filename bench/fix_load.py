"""The FIX client of ``python -m bench live-fix``, in a process of its own (no GIL shared with the acceptor).

``python -m bench.fix_load SETTINGS REQUESTS.json OUT.json``: log on as bench-fix's initiator
does, send single-leg QuoteRequests one at a time (the next when the previous answer arrived:
bench-fix's rate) cycling through REQUESTS until SIGTERM, then write OUT.json: per request the
``time.monotonic()`` of the send and of its answer (the message naming its QuoteReqID; the
gateway's QuoteCancels of earlier quotes, 35=Z, are counted apart), the answer's MsgType, the
Quote's market tag (5040, the snapshot it was priced on) or the refusal's text. ``time.monotonic()`` is CLOCK_MONOTONIC, one clock for
every process of the machine (Linux), so the bench compares these times with the acceptor's.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

#: Requests sent before the measured ones (the book's basis, the kernels, the journal), as bench-fix.
WARM = 20


def main(argv: list[str]) -> int:
    import quickfix as fix

    from addin.fix.client import RecordingClient, quote_request
    from addin.fix.gateway import TAG_MARKET

    settings_path, requests_path, out_path = argv
    requests: list[tuple[str, float, str]] = [tuple(r) for r in json.loads(open(requests_path).read())]  # type: ignore[misc]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = RecordingClient()
    settings = fix.SessionSettings(settings_path)
    initiator = fix.SocketInitiator(client, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
    initiator.start()
    client.logged_on.get(timeout=60)
    rows: list[dict[str, Any]] = []
    i = cancels = 0
    print("sending", flush=True)
    while not stop.is_set():
        name, qty, side = requests[i % len(requests)]
        msg = quote_request(f"L{i}", [{"symbol": name, "qty": qty, "side": side}])
        sent = time.monotonic()
        fix.Session.sendToTarget(msg, client.session)
        while True:  # the answer to this request; QuoteCancels (35=Z) of earlier quotes come between
            _, reply = client.inbox.get(timeout=60)
            answered = time.monotonic()
            kind = reply.getHeader().getField(35)
            if kind == "Z":
                cancels += 1
                continue
            if not reply.isSetField(131) or reply.getField(131) == f"L{i}":
                break
        market = reply.getField(TAG_MARKET) if kind == "S" and reply.isSetField(TAG_MARKET) else ""
        text = reply.getField(58) if kind != "S" and reply.isSetField(58) else ""
        if i >= WARM:
            rows.append({"sent": sent, "answered": answered, "type": kind, "market": market, "text": text})
        i += 1
    initiator.stop()
    with open(out_path, "w") as fh:
        json.dump({"answers": rows, "cancels": cancels}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
