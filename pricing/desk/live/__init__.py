"""The live desk's market: Deribit API v2 over WebSocket (or a replay of it), as immutable snapshots.

``open_live_source(spec)`` connects, takes a snapshot and keeps it current on its own
event-loop thread; ``current()`` returns the newest :class:`LiveSnapshot`. See ``docs/live.md``.
"""

from pricing.desk.live.source import FeedError, LiveSnapshot, LiveSource, StaleMarket, open_live_source
from pricing.desk.live.spec import LiveLimits, LiveSpec, is_live_spec, parse_spec

__all__ = [
    "FeedError",
    "LiveLimits",
    "LiveSnapshot",
    "LiveSource",
    "LiveSpec",
    "StaleMarket",
    "is_live_spec",
    "open_live_source",
    "parse_spec",
]
