"""``clearquote feed record``: keep every raw frame of a live market, to replay it with ``--market replay:FILE``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from addin.cli.output import Exit


def cmd_feed_record(market: str, to: str, seconds: float | None) -> int:
    """Record ``market`` into ``to`` until ``seconds`` pass or Ctrl-C; print what was kept."""
    from pricing.desk.live import LiveLimits, is_live_spec, open_live_source, parse_spec
    from pricing.desk.live.record import Recorder
    from pricing.errors import PricingInputError

    if not is_live_spec(market) or market.strip().lower().startswith("replay:"):
        raise PricingInputError(
            f"--market {market!r}: record a live market: deribit, deribit-test or deribit:ws[s]://HOST:PORT/PATH"
        )
    if seconds is not None and not seconds > 0:
        raise PricingInputError(f"--seconds: {seconds!r} must be > 0")
    spec = parse_spec(market)
    recorder = Recorder(Path(to), spec.text, spec.currencies)
    t0 = time.monotonic()
    try:
        with open_live_source(market, limits=LiveLimits(), recorder=recorder, fit=False) as source:
            print(f"recording {spec.label} to {to} (Ctrl-C to stop)", file=sys.stderr, flush=True)
            try:
                while seconds is None or time.monotonic() - t0 < seconds:
                    time.sleep(0.2)
            except KeyboardInterrupt:
                pass
            status = source.status
    finally:
        recorder.close()
    print(
        f"recorded {recorder.frames} frames in {time.monotonic() - t0:.1f} s to {to} "
        f"({Path(to).stat().st_size / 1e6:.2f} MB; {status.reconnects} reconnects, {status.malformed} malformed)"
    )
    return Exit.OK
