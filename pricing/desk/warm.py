"""The book's quote basis built when a live snapshot is published, not when the first request on it comes.

A live source publishes a new snapshot several times a second (each currency's marks, each
refit). The first quote on a new snapshot used to rebuild the book's basis itself (1,000
positions revalued over every margin scenario: ~12 ms on a quiet machine, several times that
under load), after waiting for the request thread to be free. :class:`BasisWarmer` listens to
the source and builds that same basis on a thread of its own as soon as the snapshot is out.

The rule for which snapshot a quote uses does not change: :meth:`pricing.desk.service.Desk.quote`
prices on the source's current snapshot at the call (or the one its host passes), checks its
age against the staleness limit, and names it. The warmer only builds, for the newest snapshot,
the basis :meth:`pricing.desk.book.Book.basis` would build for that quote (the same cache and
key, under the book's lock): a quote that comes while it builds waits for it instead of
building a second time, and one that comes after finds it ready. A snapshot superseded while
the warmer was busy is skipped (only the newest is built), as the requests themselves skip it.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from pricing.desk.book import Book
from pricing.desk.config import DeskConfig


class _Listened(Protocol):
    def current(self) -> Any: ...

    def listen(self, callback: Any) -> Any: ...


class BasisWarmer:
    """Builds the book's basis on each new snapshot of a source, on a daemon thread of its own.

    Parameters
    ----------
    source : object
        A market source with ``listen(callback) -> stop`` (:meth:`pricing.desk.live.LiveSource.listen`)
        and ``current()``; its ``alive`` attribute, when it has one, ends the thread once False.
    book : Book
        The desk's book.
    config : callable
        Returns the desk's configuration now (it may be replaced while the desk runs).

    Notes
    -----
    ``builds`` counts the snapshots it built a basis for; :meth:`wait_built` waits for a given
    snapshot (tests, and a host that wants to know).
    """

    def __init__(self, source: _Listened, book: Book, config: Any) -> None:
        self.source = source
        self.book = book
        self.config = config
        self.builds = 0
        self._done: str | None = None
        self._pending = False
        self._closing = False
        self._cond = threading.Condition()
        self._stop_listening = source.listen(self._wake)
        self._thread = threading.Thread(target=self._run, name="clearquote-basis", daemon=True)
        self._thread.start()
        self._wake()  # the snapshot there is now

    def _wake(self) -> None:
        """The source's listener: note the new snapshot and return (it runs on the publishing thread)."""
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if self._closing or not getattr(self.source, "alive", True):
                    return
                self._pending = False
            try:
                snap = self.source.current()
                config: DeskConfig = self.config()
                built = self.book.prepare(snap, config)
            except Exception:  # the quote on this snapshot meets the same error and refuses with it
                continue
            with self._cond:
                if built:
                    self.builds += 1
                    self._done = snap.snapshot_id
                    self._cond.notify_all()

    def wait_built(self, snapshot_id: str, timeout: float) -> bool:
        """Wait until the basis on snapshot ``snapshot_id`` was built here (or ``timeout`` seconds pass).

        Parameters
        ----------
        snapshot_id : str
            The snapshot's id.
        timeout : float
            Seconds.

        Returns
        -------
        bool
            True when it was built.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._done == snapshot_id, timeout)

    @property
    def running(self) -> bool:
        """True while the thread runs (until :meth:`close`, or its source is no longer alive)."""
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the thread to end (after its source went, say).

        Parameters
        ----------
        timeout : float
            Seconds.
        """
        self._thread.join(timeout)

    def close(self) -> None:
        """Stop listening and end the thread (idempotent)."""
        self._stop_listening()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=30.0)
