"""Content-keyed object store: fitted surfaces, markets, parsed tables, margin results.

Excel recalculates a formula whenever an input changes, and a sheet of 500 ``CQ_RFQ`` calls
passes the same chain range 500 times. Everything expensive is therefore kept here under a
hash of the *values* it was built from (:func:`udfs.excel.content_key`): the first call
fits, the other 499 find it. Objects a sheet refers to by name get a **handle**, a text
such as ``CQ.MARKET#3f9c2a71d0 BTC,ETH 2026-08-21 08:00Z``: the part before the first space
identifies the object, the rest is for the reader. Handles are content hashes, so the same
inputs give the same handle in every session; a handle whose object is gone (Python
restarted, or evicted from this LRU) asks for the creating cell to be recalculated.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from udfs.excel import InputError

T = TypeVar("T")
HANDLE_PREFIX = "CQ."


@dataclass
class Entry:
    kind: str
    value: Any
    label: str
    created: float = field(default_factory=time.time)
    hits: int = 0


class ObjectStore:
    """A thread-safe LRU of built objects keyed by (kind, content key).

    ``builds`` counts how many times each kind was actually built (not found): a test reads
    it to prove that 500 formulas sharing one chain fit the surface once.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._building: dict[tuple[str, str], threading.Lock] = {}
        self.builds: dict[str, int] = {}

    def get(self, kind: str, key: str, build: Callable[[], T], label: Callable[[T], str] | None = None) -> T:
        """The object for ``(kind, key)``, built once (other threads wait for the builder)."""
        k = (kind, key)
        with self._lock:
            if k in self._items:
                entry = self._items[k]
                entry.hits += 1
                self._items.move_to_end(k)
                return entry.value  # type: ignore[no-any-return]
            gate = self._building.setdefault(k, threading.Lock())
        with gate:
            with self._lock:
                if k in self._items:
                    return self._items[k].value  # type: ignore[no-any-return]
            value = build()
            with self._lock:
                self._items[k] = Entry(kind, value, label(value) if label else "")
                self.builds[kind] = self.builds.get(kind, 0) + 1
                self._building.pop(k, None)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        return value

    def handle(self, kind: str, key: str) -> str:
        """The handle text of a stored object (its label after a space)."""
        entry = self._items.get((kind, key))
        ident = f"{HANDLE_PREFIX}{kind}#{key[:10]}"
        return f"{ident} {entry.label}".strip() if entry else ident

    def resolve(self, text: str, kind: str) -> Any:
        """The object behind a handle text; an unknown handle raises :class:`InputError`."""
        ident = text.strip().split(" ", 1)[0]
        head = f"{HANDLE_PREFIX}{kind}#"
        if not ident.upper().startswith(head.upper()):
            raise InputError(f"{text!r} is not a {kind.lower()} handle (expected {head}...)")
        short = ident[len(head) :].lower()
        with self._lock:
            for (k, key), entry in reversed(self._items.items()):
                if k == kind and key.startswith(short):
                    entry.hits += 1
                    return entry.value
        raise InputError(
            f"handle {ident} is not in this Python session (restarted or evicted): recalculate the cell that created it (Ctrl+Alt+F9)"
        )

    def listing(self) -> list[tuple[str, str, str, int]]:
        """(handle, kind, created UTC, hits) of every stored object, newest first."""
        with self._lock:
            items = list(self._items.items())[::-1]
        return [
            (self.handle(k, key), k, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created)), e.hits)
            for (k, key), e in items
            if e.label
        ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.builds.clear()


STORE = ObjectStore()
