"""Opening a market source from the text a user types: bundled data, a chain file, or a live feed.

:func:`open_market` turns ``bundled``, ``bundled:2025-12-31``, a chain CSV, a Deribit
book-summary JSON, or a ``deribit...``/``replay:`` live spec into a
:class:`~pricing.desk.market.MarketSource`. It sits above both :mod:`pricing.desk.market` (the
snapshot types, the bundled and file sources) and :mod:`pricing.desk.live` (the feed), which
itself imports :mod:`pricing.desk.market`: imports point one way, no cycle.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pricing.desk.market import BundledSource, FileSource, MarketError, MarketSource, parse_as_of
from pricing.marketdata import BUNDLED_DATES


def open_market(spec: str, *, as_of: str | datetime | None = None, smile: str = "svi") -> MarketSource:
    """The market source a spec names.

    Parameters
    ----------
    spec : str
        ``bundled`` / ``bundled:YYYY-MM-DD``; a path to a Deribit chain ``.csv`` or a
        ``public/get_book_summary_by_currency`` ``.json``; or a live spec (``deribit...``,
        ``replay:FILE``), handed to ``pricing.desk.live.open_live_source``.
    as_of : str or datetime, optional
        The time of a file's rows that carry none (ISO text, UTC unless it names a zone).
    smile : {"svi", "sabr"}
        The smile model fitted to each expiry.

    Returns
    -------
    MarketSource
        A file source has been read once, so a bad file fails here, naming its first bad row.

    Raises
    ------
    MarketError
        The spec names no market, with what is accepted.

    Examples
    --------
    >>> src = open_market("bundled:2026-08-21")
    >>> snap = src.current()
    >>> snap.source, f"{snap.as_of:%Y-%m-%d}", src.current() is snap
    ('bundled:2026-08-21', '2026-08-21', True)
    """
    text = str(spec).strip()
    if not text:
        raise MarketError("--market: give 'bundled[:YYYY-MM-DD]', a chain .csv/.json file, or a live spec")
    low = text.lower()
    when = parse_as_of(as_of)
    if low.startswith("deribit") or low.startswith("replay:"):
        try:
            from pricing.desk.live import open_live_source
        except ImportError:
            raise MarketError(f"--market {text}: live market sources are not available in this build") from None
        source: MarketSource = open_live_source(text, as_of=when)
        return source
    if low.startswith("bundled"):
        day = text.split(":", 1)[1].strip() if ":" in text else None
        if day is not None and day not in BUNDLED_DATES:
            raise MarketError(f"market: no bundled chain for {day!r}; bundled dates are {', '.join(BUNDLED_DATES)}")
        return BundledSource(day, smile)
    file_source = FileSource(Path(text), when, smile)
    file_source.current()
    return file_source
