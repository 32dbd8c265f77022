"""Live markets in the catalogue: ``CQ_MARKET("deribit")`` and every ``market`` argument that names one.

A live spec (``deribit``, ``deribit-test``, ``deribit:ws[s]://HOST:PORT/PATH``,
``replay:FILE[@SPEED]``; :mod:`pricing.desk.live.spec`) is opened once per process
(:func:`pricing.desk.live.open_live_source`, fitted) and kept open; each use takes the source's
*current* snapshot. The market a cell gets is that snapshot, frozen, under a key made of the spec
and the snapshot's id: recalculating the cell (the add-in's refresh, a streaming function's next
tick) gives the newer snapshot. The store holds one snapshot per spec per user (its family,
:class:`udfs.store.ObjectStore`): the newer replaces the older, with what was built on it, so a
stream never fills its user's store; the older handle then asks for a recalculation.

The handle's label names the snapshot and its age when it was taken (``... snapshot 1f2e...
as of 08:00:01Z, marks 0.4 s old at 08:00:02Z``): a sheet shows how old the market it prices on
is. A snapshot older than its source's staleness limit is refused, with the age named.

Which live markets a process may open is :func:`allowed`: any in a desktop session (the user's
own machine and network); on a server only those its operator named (``clearquote serve --live
SPEC``, the environment variable :data:`ENV`): a cell must not make a shared server connect
wherever it says.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pricing.errors import DataError, PricingInputError
from udfs.excel import InputError, content_key

if TYPE_CHECKING:
    from pricing.desk.live import LiveLimits, LiveSource
    from pricing.desk.market import MarketSnapshot

#: The live specs a server offers, one per line (a spec may hold a comma: ``deribit#BTC,ETH``;
#: never a line break); unset: any (a desktop session).
ENV = "CLEARQUOTE_LIVE_MARKETS"
#: The separator of :data:`ENV` (:func:`offer` writes it; a spec is one cell's text on one line).
SEPARATOR = "\n"

#: The limits sources are opened with (None: :class:`pricing.desk.live.LiveLimits`' defaults).
LIMITS: LiveLimits | None = None

#: Seconds a live market that could not be opened is refused without trying again (a dead
#: endpoint named by a streaming cell would otherwise hold a server thread for the connect
#: timeout on every look).
RETRY_S = 10.0

# ``_lock`` guards only the tables (never held while a source dials); each spec has its own
# opening lock, so a dead endpoint that takes its connect timeout to fail holds up only the cells
# that name it, and an open market is read without any lock.
_lock = threading.Lock()
_opening: dict[str, threading.Lock] = {}
_sources: dict[str, LiveSource] = {}
_failed: dict[str, tuple[float, str]] = {}


def is_live(text: str) -> bool:
    """True when a market cell's text names a live market (``deribit...``, ``replay:...``)."""
    from pricing.desk.live.spec import is_live_spec

    return is_live_spec(text)


def allowed() -> tuple[str, ...] | None:
    """The live specs this process may open (None: any)."""
    value = os.environ.get(ENV)
    if value is None:
        return None
    return tuple(s.strip() for s in value.split(SEPARATOR) if s.strip())


def offer(specs: list[str]) -> None:
    """Make ``specs`` the live markets this process offers (the server's ``--live``), as a list:
    a spec with a comma stays one spec. A spec with a line break (or a NUL) is refused."""
    for spec in specs:
        if any(c in spec for c in (SEPARATOR, "\r", "\x00")):
            raise ValueError(f"--live: a live market spec is one line of text: {spec[:80]!r}")
    os.environ[ENV] = SEPARATOR.join(s.strip() for s in specs)


def source(spec: str) -> LiveSource:
    """The process's open source for ``spec`` (opened on first use, reopened if it was closed).

    Raises :class:`InputError` naming the spec for one this process may not open or cannot open.
    """
    from pricing.desk.live import open_live_source

    text = spec.strip()
    offered = allowed()
    if offered is not None and text not in offered:
        names = ", ".join(offered) if offered else "none (start the server with --live SPEC)"
        raise InputError(f"market: this server does not offer that live market; it offers {names}")
    src = _sources.get(text)  # a dict read is atomic: an open market costs no lock
    if src is not None and src.alive:
        return src
    with _lock:
        gate = _opening.setdefault(text, threading.Lock())
    with gate:  # one opening per spec: two cells asking for the same spec share one connection
        src = _sources.get(text)
        if src is not None and src.alive:
            return src
        failed = _failed.get(text)
        if failed is not None and time.monotonic() - failed[0] < RETRY_S:
            raise InputError(failed[1])
        try:
            src = open_live_source(text, limits=LIMITS)
        except (DataError, PricingInputError) as exc:
            reason = f"market: {exc}"
            with _lock:
                _failed[text] = (time.monotonic(), reason)
            raise InputError(reason) from None
        with _lock:
            _sources[text] = src
            _failed.pop(text, None)
        return src


def live_snapshot(spec: str, smile: str = "svi") -> tuple[str, MarketSnapshot]:
    """The live market's current snapshot as ``(content key, snapshot labelled with its age)``;
    :func:`udfs.market.make_market` stores it in the caller's scope under that key."""
    from pricing.desk.live.source import LiveMarketSnapshot

    if smile != "svi":
        raise InputError("smile: a live market is fitted with svi (its refits are warm-started raw SVI)")
    text = spec.strip()
    snap = source(text).current()
    if not isinstance(snap, LiveMarketSnapshot):  # opened fitted, so never; a clear error if that changes
        raise InputError(f"market: {text} has no fitted snapshot yet")
    now = datetime.now(UTC)
    age = snap.age_s(now)
    if age > snap.max_age_s:
        raise InputError(f"market: {text} is stale: {snap.age_text(now)} (limit {snap.max_age_s:g} s)")
    label = (
        f"{text} snapshot {snap.snapshot_id[:12]} as of {snap.as_of:%Y-%m-%d %H:%M:%S}Z, marks {age:.1f} s old at {now:%H:%M:%S}Z"
    )
    return content_key("live", text, snap.snapshot_id), replace(snap, label=label)


def summary() -> str:
    """One line per open live market: its newest snapshot and the age of its marks (for the
    desktop add-in's status bar after a refresh); empty when none is open."""
    with _lock:
        sources = list(_sources.items())
    parts = []
    for text, src in sources:
        try:
            snap = src.current()
        except DataError as exc:
            parts.append(f"{text}: {exc}")
            continue
        age = snap.age_s()
        stale = " STALE" if age > snap.max_age_s else ""
        parts.append(f"{text}: snapshot {str(snap.snapshot_id)[:12]}, marks {age:.1f} s old{stale}")
    return "; ".join(parts)


def close_all() -> None:
    """Close every source this process opened (at exit; tests)."""
    with _lock:
        sources = list(_sources.values())
        _sources.clear()
        _failed.clear()
        _opening.clear()
    for s in sources:
        s.close()


atexit.register(close_all)
