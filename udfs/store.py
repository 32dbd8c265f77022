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
(:data:`SCOPE`, set per request from the authenticated user, in the server process and in
its worker processes alike): another user's handle does not resolve, and ``CQ_HANDLES``
lists only the caller's. Each scope is its own LRU with its own quota, in objects and in
**measured** bytes (:func:`measured_bytes`), so one user's calls can only ever evict that
user's objects. The per-key build locks are released whether a build succeeds or fails.

A **family** groups the entries that are versions of one moving thing (a live market's
snapshots, and what is built on them): an entry stored with a family replaces the scope's
earlier entry of the same kind and family, so a live market that publishes a snapshot a second
holds one entry per user, never one per snapshot (a handle of a replaced snapshot asks for a
recalculation, as an evicted one does).
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import types
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
#: Objects per scope (per user on a server; the whole session on the desktop).
MAX_OBJECTS = 256
#: Measured bytes per scope (see :func:`measured_bytes`).
MAX_BYTES = 1 * 2**30

# Shared program objects an entry may refer to but does not own: walking into them would
# count the interpreter (a class, its module, a function's globals) against the entry.
_SHARED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType)


def measured_bytes(obj: Any) -> int:
    """The memory an object holds: ``sys.getsizeof`` of every object reachable from it, once.

    Walks the whole graph (``gc.get_referents``, no depth limit) and counts each object once
    by identity; a numpy array counts its header and, through its ``base`` chain, the buffer
    it views once (``sys.getsizeof`` of an array that owns its data includes ``nbytes``);
    object arrays walk their elements. Classes, modules, functions and code are shared
    program objects and are not counted. ``tests/host/test_store_quota.py`` checks the result
    against the process's resident memory.
    """
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _SHARED):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o, 64)
        if isinstance(o, np.ndarray):
            if o.base is not None:
                stack.append(o.base)
            if o.dtype == object:
                stack.extend(o.ravel().tolist())
            continue
        stack.extend(gc.get_referents(o))
    return total


@dataclass
class Entry:
    kind: str
    value: Any
    label: str
    nbytes: int = 0
    created: float = field(default_factory=time.time)
    hits: int = 0
    family: str | None = None


@dataclass
class _Scope:
    """One user's LRU and its measured size."""

    items: OrderedDict[tuple[str, str], Entry] = field(default_factory=OrderedDict)
    nbytes: int = 0


class ObjectStore:
    """A thread-safe store of built objects: one LRU per scope, keyed by (kind, content key).

    ``capacity`` (objects) and ``max_bytes`` (measured bytes) are quotas **per scope**: a
    build that takes a scope over either evicts that scope's least recently used objects
    and never another scope's (the newest object stays even when it alone is over the
    bytes quota). ``builds`` counts how many times each kind was actually built (not
    found): a test reads it to prove that 500 formulas sharing one chain fit the surface once.
    """

    def __init__(self, capacity: int = MAX_OBJECTS, max_bytes: int = MAX_BYTES) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._scopes: dict[str, _Scope] = {}
        self._lock = threading.RLock()
        self._building: dict[tuple[str, str, str], threading.Lock] = {}
        self.builds: dict[str, int] = {}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(s.items) for s in self._scopes.values())

    @property
    def nbytes(self) -> int:
        """Measured bytes held over every scope."""
        with self._lock:
            return sum(s.nbytes for s in self._scopes.values())

    def usage(self, scope: str | None = None) -> tuple[int, int]:
        """(objects, measured bytes) held for ``scope`` (default: the caller's)."""
        with self._lock:
            s = self._scopes.get(SCOPE.get() if scope is None else scope)
            return (len(s.items), s.nbytes) if s else (0, 0)

    def _find(self, scope: str, k: tuple[str, str]) -> Entry | None:
        s = self._scopes.get(scope)
        entry = s.items.get(k) if s else None
        if entry is not None and s is not None:
            entry.hits += 1
            s.items.move_to_end(k)
        return entry

    def get(
        self, kind: str, key: str, build: Callable[[], T], label: Callable[[T], str] | None = None, family: str | None = None
    ) -> T:
        """The object for ``(kind, key)`` in the caller's scope, built once (other threads wait for
        the builder); with a ``family``, storing it drops the scope's other entry of that kind and family."""
        scope = SCOPE.get()
        k = (kind, key)
        with self._lock:
            found = self._find(scope, k)
            if found is not None:
                return found.value  # type: ignore[no-any-return]
            gate = self._building.setdefault((scope, kind, key), threading.Lock())
        try:
            with gate:
                with self._lock:
                    s = self._scopes.get(scope)
                    if s is not None and k in s.items:
                        return s.items[k].value  # type: ignore[no-any-return]
                value = build()
                size = measured_bytes(value)
                with self._lock:
                    s = self._scopes.setdefault(scope, _Scope())
                    old = s.items.pop(k, None)
                    s.nbytes -= old.nbytes if old else 0
                    if family is not None:
                        for other in [o for o, e in s.items.items() if e.family == family and o[0] == kind and o != k]:
                            s.nbytes -= s.items.pop(other).nbytes
                    s.items[k] = Entry(kind, value, label(value) if label else "", size, family=family)
                    s.nbytes += size
                    self.builds[kind] = self.builds.get(kind, 0) + 1
                    self._evict(s)
        finally:
            with self._lock:
                self._building.pop((scope, kind, key), None)  # also after a failed build: the table stays bounded
        return value

    def _evict(self, s: _Scope) -> None:
        while s.items and (len(s.items) > self.capacity or (s.nbytes > self.max_bytes and len(s.items) > 1)):
            _, old = s.items.popitem(last=False)
            s.nbytes -= old.nbytes

    def handle(self, kind: str, key: str) -> str:
        """The handle text of a stored object (its label after a space)."""
        with self._lock:
            s = self._scopes.get(SCOPE.get())
            entry = s.items.get((kind, key)) if s else None
        ident = f"{HANDLE_PREFIX}{kind}#{key}"
        return f"{ident} {entry.label}".strip() if entry else ident

    def resolve(self, text: str, kind: str) -> Any:
        """The object behind a handle text, in the caller's scope and by its exact id; else
        :class:`InputError` (a prefix or another user's handle never resolves)."""
        ident = text.strip().split(" ", 1)[0]
        head = f"{HANDLE_PREFIX}{kind}#"
        if not ident.upper().startswith(head.upper()):
            raise InputError(f"{text[:80]!r} is not a {kind.lower()} handle (expected {head}...)")
        with self._lock:
            entry = self._find(SCOPE.get(), (kind, ident[len(head) :].lower()))
            if entry is not None:
                return entry.value
        raise InputError(
            f"handle {ident[:60]} is not in this Python session (restarted or evicted): recalculate the cell that created it (Ctrl+Alt+F9)"
        )

    def listing(self) -> list[tuple[str, str, str, int]]:
        """(handle, kind, created UTC, hits) of the caller's stored objects, newest first."""
        with self._lock:
            s = self._scopes.get(SCOPE.get())
            items = list(s.items.items())[::-1] if s else []
        return [
            (self.handle(kind, key), kind, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.created)), e.hits)
            for (kind, key), e in items
            if e.label
        ]

    def clear(self) -> None:
        with self._lock:
            self._scopes.clear()
            self.builds.clear()


STORE = ObjectStore()
