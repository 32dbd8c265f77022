"""Content-keyed object store: fitted surfaces, markets, parsed tables, margin results.

Excel recalculates a formula whenever an input changes, and a sheet of 500 ``CQ_RFQ`` calls
passes the same chain range 500 times. Everything expensive is therefore kept here under a
hash of the *values* it was built from (:func:`udfs.excel.content_key`): the first call
fits, the other 499 find it. Objects a sheet refers to by name get a **handle**, a text
such as ``CQ.MARKET#3f9c2a71d0e1b2c3d4e5f607 BTC,ETH 2026-08-21 08:00Z``: the part before the
first space identifies the object (the whole 96-bit content hash, matched exactly), the rest
is for the reader. Handles are content hashes, so the same inputs give the same handle in
every session; a handle whose object is gone (Python restarted, or evicted from this LRU)
asks for the creating cell to be recalculated.

On a shared server every object lives in the **scope** of the user who built it
(:data:`SCOPE`, set per request from the authenticated user): another user's handle does not
resolve, and ``CQ_HANDLES`` lists only the caller's. The store is bounded in objects and in
bytes (an estimate of each object's arrays and containers), and the per-key build locks are
released whether a build succeeds or fails.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from udfs.excel import InputError

T = TypeVar("T")
HANDLE_PREFIX = "CQ."
#: Whose objects a call sees: "" on the desktop (one user), the authenticated user id on a server.
SCOPE: ContextVar[str] = ContextVar("clearquote_scope", default="")


def approx_bytes(obj: Any, depth: int = 0, seen: set[int] | None = None) -> int:
    """A size estimate: numpy arrays by ``nbytes``, containers and dataclasses walked four deep."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 4:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    size = sys.getsizeof(obj, 64)
    if isinstance(obj, dict):
        items: Any = list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    else:
        return size
    return size + sum(approx_bytes(v, depth + 1, seen) for v in items)


@dataclass
class Entry:
    kind: str
    value: Any
    label: str
    nbytes: int = 0
    created: float = field(default_factory=time.time)
    hits: int = 0


class ObjectStore:
    """A thread-safe LRU of built objects keyed by (scope, kind, content key).

    ``builds`` counts how many times each kind was actually built (not found): a test reads
    it to prove that 500 formulas sharing one chain fit the surface once.
    """

    def __init__(self, capacity: int = 256, max_bytes: int = 2 * 2**30) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[tuple[str, str, str], Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._building: dict[tuple[str, str, str], threading.Lock] = {}
        self.builds: dict[str, int] = {}

    def get(self, kind: str, key: str, build: Callable[[], T], label: Callable[[T], str] | None = None) -> T:
        """The object for ``(kind, key)`` in the caller's scope, built once (other threads wait for the builder)."""
        k = (SCOPE.get(), kind, key)
        with self._lock:
            if k in self._items:
                entry = self._items[k]
                entry.hits += 1
                self._items.move_to_end(k)
                return entry.value  # type: ignore[no-any-return]
            gate = self._building.setdefault(k, threading.Lock())
        try:
            with gate:
                with self._lock:
                    if k in self._items:
                        return self._items[k].value  # type: ignore[no-any-return]
                value = build()
                size = approx_bytes(value)
                with self._lock:
                    self._items[k] = Entry(kind, value, label(value) if label else "", size)
                    self.nbytes += size
                    self.builds[kind] = self.builds.get(kind, 0) + 1
                    self._evict()
        finally:
            with self._lock:
                self._building.pop(k, None)  # also after a failed build: the table stays bounded
        return value

    def _evict(self) -> None:
        while self._items and (len(self._items) > self.capacity or (self.nbytes > self.max_bytes and len(self._items) > 1)):
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes

    def handle(self, kind: str, key: str) -> str:
        """The handle text of a stored object (its label after a space)."""
        entry = self._items.get((SCOPE.get(), kind, key))
        ident = f"{HANDLE_PREFIX}{kind}#{key}"
        return f"{ident} {entry.label}".strip() if entry else ident

    def resolve(self, text: str, kind: str) -> Any:
        """The object behind a handle text, in the caller's scope and by its exact id; else
        :class:`InputError` (a prefix or another user's handle never resolves)."""
        ident = text.strip().split(" ", 1)[0]
        head = f"{HANDLE_PREFIX}{kind}#"
        if not ident.upper().startswith(head.upper()):
            raise InputError(f"{text[:80]!r} is not a {kind.lower()} handle (expected {head}...)")
        k = (SCOPE.get(), kind, ident[len(head) :].lower())
        with self._lock:
            entry = self._items.get(k)
            if entry is not None:
                entry.hits += 1
                self._items.move_to_end(k)
                return entry.value
        raise InputError(
            f"handle {ident[:60]} is not in this Python session (restarted or evicted): recalculate the cell that created it (Ctrl+Alt+F9)"
        )

    def listing(self) -> list[tuple[str, str, str, int]]:
        """(handle, kind, created UTC, hits) of the caller's stored objects, newest first."""
        scope = SCOPE.get()
        with self._lock:
            items = [(k, e) for k, e in self._items.items() if k[0] == scope][::-1]
        return [
            (self.handle(kind, key), kind, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created)), e.hits)
            for (_, kind, key), e in items
            if e.label
        ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.builds.clear()
            self.nbytes = 0


STORE = ObjectStore()
