"""``clearquote fix-acceptor`` and ``clearquote fix-log``: start the gateway; read or export its journal."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from addin.fix.errors import FixUsageError
from addin.fix.front import DEFAULT_LIMITS, Front, FrontLimits, LimitError, behind_front, loopback_port


def _quickfix() -> Any:
    try:
        import quickfix
    except ImportError:
        raise FixUsageError(
            "fix-acceptor needs QuickFIX: install the 'fix' extra (pip install -e '.[fix]'; it builds from source, ~7 min)"
        ) from None
    return quickfix


def dictionary_path() -> Path:
    """The FIX 4.4 data dictionary QuickFIX installs (``<prefix>/share/quickfix/FIX44.xml``)."""
    import sysconfig

    return Path(sysconfig.get_paths()["data"]) / "share" / "quickfix" / "FIX44.xml"


def write_settings(
    path: Path, role: str, port: int, base: Path, host: str = "127.0.0.1", clients: tuple[str, ...] = ("CLIENT",)
) -> Path:
    """A QuickFIX settings file: FIX 4.4 sessions between CLEARQUOTE (acceptor) and each of ``clients``."""
    where = f"SocketAcceptHost={host}\nSocketAcceptPort" if role == "acceptor" else f"SocketConnectHost={host}\nSocketConnectPort"
    sessions = "".join(
        "[SESSION]\nBeginString=FIX.4.4\n"
        + (
            f"SenderCompID=CLEARQUOTE\nTargetCompID={c}\n"
            if role == "acceptor"
            else f"SenderCompID={c}\nTargetCompID=CLEARQUOTE\n"
        )
        for c in clients
    )
    path.write_text(
        "[DEFAULT]\n"
        f"ConnectionType={role}\n"
        f"{where}={port}\n"
        f"FileStorePath={base / role / 'store'}\n"
        f"FileLogPath={base / role / 'log'}\n"
        "StartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\nReconnectInterval=1\n"
        f"UseDataDictionary=Y\nDataDictionary={dictionary_path()}\nValidateUserDefinedFields=N\n" + sessions
    )
    return path


def build_desk(
    portfolio: str | None,
    market: str,
    params: str | None,
    overrides: Mapping[str, Any] | None = None,
    as_of: str | None = None,
    credentials: str | None = None,
) -> Any:
    """The desk from the same files ``clearquote quote`` takes (checked before anything starts).

    The params file is the desk's configuration (its limits too); ``overrides`` are the
    command-line flags given (``max_contracts``, ``quote_validity_s``, ...), each replacing that
    one field. Defaults live in the configuration's own types, never here.

    On a live market the book follows the venue: the account's positions from the private API
    (an API key from ``credentials`` or the environment), or ``portfolio`` re-read when it
    changes; the gateway's fills join that same book.
    """
    from addin.fix.desk import Desk, MarketSource
    from addin.tables import read_table
    from pricing.desk import Book
    from pricing.desk.live import is_live_spec
    from pricing.errors import PricingInputError

    try:
        rows = read_table(Path(params))[1:] if params else []
        if not is_live_spec(market):
            if credentials:
                raise FixUsageError("--credentials: the account's positions come with a live --market (deribit...)")
            book = Book.from_table(read_table(Path(portfolio)), Path(portfolio).name).start if portfolio else Book.empty().start
            source = MarketSource(market, as_of)
            source.current()
            return Desk(source, rows, book, overrides=overrides)
        from pricing.desk.live.account import load_credentials
        from pricing.desk.live.book import account_positions, file_positions
        from pricing.desk.live.watch import PositionsFile

        key = load_credentials(Path(credentials) if credentials else None)
        if key is not None and portfolio:
            raise FixUsageError("give the book either from the account (--credentials / environment) or --portfolio, not both")
        if portfolio:
            Book.from_table(read_table(Path(portfolio)), Path(portfolio).name)  # a bad file fails now, naming its row
        source = MarketSource(market, as_of, key)
        venue = account_positions(source.source) if key is not None else None
        if portfolio:
            venue = file_positions(PositionsFile(Path(portfolio)))
        return Desk(source, rows, Book.empty().start, venue=venue, overrides=overrides)
    except PricingInputError as exc:
        raise FixUsageError(str(exc)) from None


def settle_heap() -> None:
    """Move everything alive at start-up out of the cyclic garbage collector's sight (``gc.freeze``).

    Why: the start-up heap (the engine's modules, numba's compiled kernels, the market and the
    book) is millions of objects that live as long as the process; every full (generation-2)
    collection walked all of them, ~100 ms with every thread stopped, about every 4 s under
    bench-fix's load, and those pauses were the tail of tick to FIX quote (docs/live.md, "Where
    tick to FIX quote goes"). Objects created later are collected as before; a start-up object
    that becomes cyclic garbage later is not (it is freed by reference counting only).
    """
    import gc

    gc.collect()
    gc.freeze()


def kill_path(journal: str | Path, kill_file: str | None = None) -> Path:
    """The file whose existence is the kill switch (default: the journal's path + ``.kill``)."""
    return Path(kill_file) if kill_file else Path(f"{journal}.kill")


def open_checked(journal: str | Path, readonly: bool = False) -> Any:
    """The journal, or exit 2 naming its path (a directory, under a file, corrupt, another SQLite
    file's tables, unwritable); ``readonly`` opens it to read only (``fix-log``)."""
    from addin.fix.journal import JournalError, open_journal

    try:
        return open_journal(journal, readonly=readonly)
    except JournalError as exc:
        raise FixUsageError(str(exc)) from None


#: Test hook: ``CLEARQUOTE_FIX_CLOCK=2026-08-21T10:00:00+00:00`` starts the wall clock that admission
#: checks expiry against at that time (it then runs at the real rate), so end-to-end tests can quote
#: the bundled market's options after they expired in real time. Unset (always, outside tests): the real clock.
CLOCK_HOOK = "CLEARQUOTE_FIX_CLOCK"


def _test_clock() -> Any:
    import os
    from datetime import UTC, datetime

    raw = os.environ.get(CLOCK_HOOK, "")
    if not raw:
        return None
    try:
        start = datetime.fromisoformat(raw)
    except ValueError:
        raise FixUsageError(f"{CLOCK_HOOK}={raw!r}: not an ISO time (a test hook; leave it unset)") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    offset = start - datetime.now(UTC)
    print(f"clearquote fix: {CLOCK_HOOK} is set (a test hook): admission's clock starts at {start.isoformat()}", flush=True)
    return lambda: datetime.now(UTC) + offset


class Serving:
    """The gateway served by a QuickFIX acceptor, started and stopped in one order (docs/fix.md, "Stopping").

    ``clearquote fix-acceptor`` and ``python -m bench live-fix`` both serve through this, so the
    order below holds for both:

    1. **The host's own sends end first.** :meth:`poll` (the kill switch and the market-move
       QuoteCancels: the only messages not sent from QuickFIX's threads) runs on the thread that
       called :meth:`start`, and so does :meth:`stop`: no poll is in flight when the engine stops,
       and a poll after :meth:`stop` began sends nothing.
    2. **The engine stops and every thread it runs is joined.** The acceptor is QuickFIX's
       ``ThreadedSocketAcceptor``, whose ``stop()`` logs each session out (waiting up to 10 s for
       the logouts), closes the sockets and joins every thread it started before it returns: when
       :meth:`stop` returns no callback into the gateway is running or can start. (The other
       acceptor, ``SocketAcceptor``, closes its socket server from the stopping thread while its
       own thread, woken by that close, closes and deletes the same server: 1.16's stop() is a
       use-after-free, a segmentation fault in ``SocketServer::close`` in 3 of 3 60-s runs of
       bench live-fix and within 5 start/stop cycles in 5 of 5 runs; tests/host/test_fix_shutdown.py.)
       With the framing front end (``front``), its public port closes first (no new connection),
       the connections already open carry the engine's Logouts out, and once the engine has
       stopped the front closes every connection and its thread is joined.
    3. **Then the journal closes**, never under a callback still journaling.
    4. **References live as long as the engine.** QuickFIX holds the application, the settings and
       the store and log factories by C++ reference; this object holds them. The application gets
       each SessionID as a value of its own (:func:`shielded`), not QuickFIX's reference into a
       session, so it stays valid when the engine is rebuilt on another port (below) or stopped.

    With the front, :meth:`start` makes QuickFIX's loopback port safe before serving: QuickFIX takes
    no port 0, so the port is picked free a moment before QuickFIX binds it, and another process may
    take it in between. A start that QuickFIX cannot bind, or whose port :func:`addin.fix.listener.check`
    finds another socket listening on, is retried on a fresh port with a new engine (the old one
    stopped and destroyed first), up to :data:`UPSTREAM_TRIES` times, then exit 2 naming each cause;
    the front serves only once the listener is this process's, confined to the loopback device.

    And throughout: QuickFIX calls the gateway through :func:`shielded`, so no exception of the
    gateway's reaches the engine's threads (which would hang the process, see :func:`quiet`).

    Parameters
    ----------
    app : QuoteGateway
        The application (any ``quickfix.Application`` with a ``poll()``).
    settings : str
        The QuickFIX settings file.
    journal : object, optional
        Closed by :meth:`stop` once the engine has stopped (anything with ``close()``).
    front : FrontLimits, optional
        Serve the settings' public port through the framing front end (:mod:`addin.fix.front`) with
        these limits, QuickFIX on a loopback port of its own (checked, confined to the loopback device);
        None: QuickFIX listens on the settings' address itself (no message size, logon deadline or
        connection limit; QuickFIX 1.16 binds every interface whatever ``SocketAcceptHost`` says).
    on_event : callable, optional
        Where the front reports its refusals (a line of text each).
    allow_unconfined : bool
        With the front: serve even when QuickFIX's listener cannot be confined to the loopback device
        (``--allow-unconfined-quickfix``). Default False: that start fails closed, exit 2 naming the cause,
        since QuickFIX would then take connections from the network past every limit of the front.
    """

    #: The framing front end on the public port (None: QuickFIX listens there itself).
    front: Front | None = None

    def __init__(
        self,
        app: Any,
        settings: str,
        journal: Any = None,
        front: FrontLimits | None = None,
        on_event: Callable[[str], None] | None = None,
        allow_unconfined: bool = False,
    ) -> None:
        fix = _quickfix()
        self._allow_unconfined = allow_unconfined
        self._fix = fix
        self.app = app
        self.journal = journal
        self.front = None
        self._path = settings
        self._report = quiet(on_event or (lambda text: None))
        # The Logon check asks the front (once it exists) whether it relayed the Logon; without it, nothing is asked.
        self.shield = shielded(app, getattr(app, "on_event", None), vouch=self._vouch)
        try:
            if front is None:
                self.settings = fix.SessionSettings(settings)
            else:
                self.settings = self._behind_front(fix, settings, front, self._report)
        except fix.ConfigError as exc:
            if self.front is not None:
                self.front.stop()
            raise FixUsageError(f"{settings}: {exc}") from None
        try:
            self._engine()
        except BaseException:
            if self.front is not None:
                self.front.stop()  # the public port it bound is released
            raise
        self._owner: int | None = None
        self._stopping = False

    def _vouch(self, token: str | None) -> bool:
        """Whether a Logon with RawData ``token`` came through the front (always, with no front)."""
        return self.front is None or self.front.vouch(token)

    def _engine(self) -> None:
        """QuickFIX's acceptor over ``self.settings`` (and the factories it holds by reference)."""
        fix = self._fix
        self.stores = fix.FileStoreFactory(self.settings)
        self.logs = fix.FileLogFactory(self.settings)
        self.acceptor = fix.ThreadedSocketAcceptor(self.shield, self.stores, self.settings, self.logs)

    def _behind_front(self, fix: Any, settings: str, limits: FrontLimits, on_event: Callable[[str], None]) -> Any:
        """QuickFIX's settings moved to a loopback port, and the front bound on the public one (exit 2 if taken)."""
        try:
            self._text = Path(settings).read_text(encoding="utf-8")
            upstream = loopback_port()
            public, begins, moved = behind_front(self._text, upstream)
        except (OSError, UnicodeDecodeError, LimitError) as exc:
            raise FixUsageError(f"{settings}: {exc}") from None
        self.front = Front(limits, public, ("127.0.0.1", upstream), begins, on_event)
        try:
            self.public = self.front.bind()
        except OSError as exc:
            raise FixUsageError(
                f"{settings}: the front cannot listen on {public[0] or '*'}:{public[1]}: {exc.strerror}"
            ) from None
        self.upstream = ("127.0.0.1", upstream)
        return self._parsed(fix, moved)

    @staticmethod
    def _parsed(fix: Any, text: str) -> Any:
        """``quickfix.SessionSettings`` of a settings text (QuickFIX reads a file: written to a temporary one)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="clearquote-fix-") as tmp:  # QuickFIX parses it here, then it goes
            path = Path(tmp) / "behind-front.cfg"
            path.write_text(text, encoding="utf-8")
            return fix.SessionSettings(str(path))

    def start(self) -> None:
        """Listen (QuickFIX, then the front on the public port); the calling thread becomes the one that polls and stops.

        With the front: QuickFIX's port is retried and checked first (the class docstring); after
        :data:`UPSTREAM_TRIES` failures, ``FixUsageError`` naming each port and cause (exit 2), with
        nothing left listening.
        """
        owner = threading.get_ident()
        if self.front is None:
            try:
                self.acceptor.start()
            except self._fix.RuntimeError as exc:  # the settings' port taken, the host not this machine's
                raise FixUsageError(f"{self._path}: QuickFIX could not listen: {exc}") from None
            self._owner = owner
            self._confine_loopback_host()
            return
        failures: list[str] = []
        while self._upstream_failure(failures):
            if len(failures) >= UPSTREAM_TRIES:  # nothing of QuickFIX's runs: stop() closes the front and the journal
                raise FixUsageError(
                    f"{self._path}: QuickFIX could not listen on a loopback port of its own in {len(failures)} tries: "
                    + "; ".join(failures)
                )
            self._report(f"front: QuickFIX's loopback {failures[-1]}; trying another port")
            self._move_upstream()
        self._owner = owner  # QuickFIX runs: stop() stops it, from this thread only
        self.front.start()

    def _confine_loopback_host(self) -> None:
        """Without the front: where the settings name a loopback ``SocketAcceptHost``, QuickFIX's listener is
        confined to the loopback device (QuickFIX 1.16 binds every interface whatever the host says)."""
        import ipaddress

        from addin.fix.listener import confine, listeners, own_sockets

        ports: set[int] = set()
        for sid in self.settings.getSessions():
            section = self.settings.get(sid)
            if not (section.has("SocketAcceptHost") and section.has("SocketAcceptPort")):
                continue
            host = section.getString("SocketAcceptHost").strip()
            try:
                loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False  # a host name: what it resolves to is not this check's to guess
            if loopback:
                ports.add(section.getInt("SocketAcceptPort"))
        mine = own_sockets()
        for port in sorted(ports):
            for listener in listeners(port) or []:
                why = confine(listener) if listener.inode in mine else None
                if why is not None:
                    self._report(f"QuickFIX's listener is not confined to the loopback device: {why}")

    def _upstream_failure(self, failures: list[str]) -> bool:
        """Start QuickFIX on ``self.upstream`` and check its listener; True (the cause added to ``failures``) if it
        must be tried again elsewhere, False once it listens there alone, confined to loopback where possible."""
        from addin.fix.listener import check, confine

        assert self.front is not None
        port = self.upstream[1]
        try:
            self.acceptor.start()
        except self._fix.RuntimeError as exc:  # quickfix.RuntimeError, not the builtin's: it could not bind
            failures.append(f"port {port}: {exc}")
            return True
        public = self.front.public_inode()
        verdict = check(port, exclude=frozenset() if public is None else frozenset({public}))
        if verdict.problem is not None:
            failures.append(f"port {port}: {verdict.problem}")
            self.acceptor.stop()  # no connection has reached it: the front is not serving yet
            return True
        if not verdict.checked:
            self._report(f"front: QuickFIX's listener on 127.0.0.1:{port} is not checked on this platform (no /proc/net/tcp)")
        for listener in verdict.ours:
            why = confine(listener)
            if why is None:
                continue
            if self._allow_unconfined:
                self._report(f"front: QuickFIX's listener is not confined to the loopback device: {why} (allowed)")
                continue
            # Fail closed: an unconfined wildcard listener takes connections from every interface, past the
            # front's limits. Nothing has connected to it yet (the front is not serving), so stopping is clean.
            self.acceptor.stop()
            raise FixUsageError(  # short: the CLI cuts an error at 300 characters, and the cause must show
                f"QuickFIX's listener could not be confined to the loopback device ({why}): not serving "
                "(reachable past the front); --allow-unconfined-quickfix serves anyway"
            )
        return False

    def _move_upstream(self) -> None:
        """A fresh loopback port and a new engine for it; the old engine is destroyed first (its sessions leave
        QuickFIX's registry, where the new engine's register under the same SessionIDs)."""
        assert self.front is not None
        port = loopback_port()
        _, _, moved = behind_front(self._text, port)
        self.acceptor = None
        self.stores = self.logs = None
        self.settings = self._parsed(self._fix, moved)
        self._engine()
        self.upstream = ("127.0.0.1", port)
        self.front.upstream = self.upstream

    def _on_owner(self, what: str) -> None:
        if self._owner is not None and threading.get_ident() != self._owner:
            raise RuntimeError(f"Serving.{what}: called from another thread than the one that started the acceptor")

    def poll(self) -> None:
        """The gateway's poll (kill switch, market moves); nothing once :meth:`stop` has begun."""
        self._on_owner("poll")
        if not self._stopping:
            self.app.poll()

    def stop(self) -> None:
        """Stop in the order of the class docstring; a second call does nothing."""
        self._on_owner("stop")
        if self._stopping:
            return
        self._stopping = True
        try:
            begin = getattr(self.app, "begin_stop", None)
            if begin is not None:  # no order is filled once the Logout is under way
                begin()
            if self.front is not None:
                self.front.stop_accepting()  # no new connection; open ones carry QuickFIX's Logouts out
            if self._owner is not None:
                self.acceptor.stop()
        finally:
            if self.front is not None:
                self.front.stop()  # every connection closed and the front's thread joined
            if self.journal is not None:
                self.journal.close()


#: QuickFIX's loopback port is tried this many times (each a fresh port) before the start is refused.
UPSTREAM_TRIES = 5


def quiet(on_event: Callable[[str], None]) -> Callable[[str], None]:
    """``on_event`` that never raises: the gateway calls it from QuickFIX's callbacks (logon, logout).

    Why: an exception out of a QuickFIX callback makes QuickFIX's Python binding call
    ``Py_Exit(1)`` from its own thread; the interpreter's finalization then waits for the main
    thread, itself waiting in ``stop()`` for that thread: the acceptor hangs, SIGTERM no longer
    stops it (reproduced: ``fix-acceptor`` whose stdout reader had gone, BrokenPipeError on the
    first logon; tests/host/test_fix_shutdown.py). An event that cannot be printed is lost, never
    the acceptor.
    """

    def report(text: str) -> None:
        try:
            on_event(text)
        except Exception:  # see above: nothing may leave a QuickFIX callback
            return

    return report


def shielded(app: Any, on_event: Callable[[str], None] | None = None, vouch: Callable[[str | None], bool] | None = None) -> Any:
    """A ``quickfix.Application`` that calls ``app``'s callbacks and lets no unexpected exception out.

    What QuickFIX is meant to see still reaches it: ``DoNotSend`` from ``toApp``; ``FieldNotFound``,
    ``IncorrectDataFormat``, ``IncorrectTagValue`` and ``UnsupportedMessageType`` from ``fromApp``
    (QuickFIX answers them with a reject); those and ``RejectLogon`` from ``fromAdmin``. Anything
    else is reported through ``on_event`` (never raising, :func:`quiet`) and stops there: its message
    goes unanswered by the application, where before the process hung (an exception out of a
    callback makes QuickFIX's binding call ``Py_Exit(1)`` from its own thread).

    Parameters
    ----------
    app : quickfix.Application
        The gateway (or any application).
    on_event : callable, optional
        Where a swallowed exception is reported (a line of text).
    vouch : callable, optional
        The Logon check: given a Logon's RawData (96) (None if absent), whether the front relayed it
        (:meth:`addin.fix.front.Front.vouch`); a Logon it does not vouch for is refused with ``RejectLogon``
        before the application sees it, so a local process that connects to QuickFIX's loopback port
        directly, past the front, cannot log on. None: no check (``--no-front``).

    Returns
    -------
    quickfix.Application
        The shield to give the acceptor; it holds ``app``.
    """
    fix = _quickfix()
    report = quiet(on_event or (lambda text: None))
    malformed = (fix.FieldNotFound, fix.IncorrectDataFormat, fix.IncorrectTagValue)
    to_app: tuple[type[BaseException], ...] = (fix.DoNotSend,)
    from_app = (*malformed, fix.UnsupportedMessageType)
    from_admin = (*malformed, fix.RejectLogon)

    def guard(call: Callable[..., None], passes: tuple[type[BaseException], ...], *args: Any) -> None:
        try:
            call(*args)
        except passes:
            raise
        except Exception as exc:  # see the docstring: nothing else may reach QuickFIX's thread
            report(f"{getattr(call, '__name__', 'callback')} failed: {type(exc).__name__}: {exc}")

    created: set[str] = set()

    class Shield(fix.Application):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.app = app

        def onCreate(self, sid: Any) -> None:
            # A value of the app's own (QuickFIX passes a reference into its session, which dies with
            # the engine), once per session: Serving rebuilds the engine when its port was taken.
            if str(sid) in created:
                return
            created.add(str(sid))
            own = fix.SessionID(
                sid.getBeginString().getValue(),
                sid.getSenderCompID().getValue(),
                sid.getTargetCompID().getValue(),
                sid.getSessionQualifier(),
            )
            guard(app.onCreate, (), own)

        def onLogon(self, sid: Any) -> None:
            guard(app.onLogon, (), sid)

        def onLogout(self, sid: Any) -> None:
            guard(app.onLogout, (), sid)

        def toAdmin(self, message: Any, sid: Any) -> None:
            guard(app.toAdmin, (), message, sid)

        def fromAdmin(self, message: Any, sid: Any) -> None:
            if vouch is not None and _is_logon(message) and not vouch(_raw_data(message)):
                report(f"{sid}: a Logon that did not come through the front end refused")
                raise fix.RejectLogon("a Logon must come through the acceptor's front end")
            guard(app.fromAdmin, from_admin, message, sid)

        def toApp(self, message: Any, sid: Any) -> None:
            guard(app.toApp, to_app, message, sid)

        def fromApp(self, message: Any, sid: Any) -> None:
            guard(app.fromApp, from_app, message, sid)

    return Shield()


def _warm(desk: Any) -> None:
    """Price through the desk once before serving (:meth:`addin.fix.desk.Desk.warm`), saying how long it took;
    a failure is reported, not fatal: the gateway refuses or answers each request on its own."""
    import time

    t0 = time.perf_counter()
    try:
        count = desk.warm()
    except Exception as exc:  # the warm-up is an optimisation: serving decides per request, as before
        print(f"clearquote fix: pricing warm-up failed ({type(exc).__name__}: {exc}); serving anyway", flush=True)
        return
    print(f"clearquote fix: pricing path warm ({count} requests in {time.perf_counter() - t0:.1f} s)", flush=True)


def _is_logon(message: Any) -> bool:
    """Whether a QuickFIX message is a Logon (MsgType 35=A in its header); never raises."""
    try:
        return bool(message.getHeader().getField(35) == "A")
    except Exception:  # no MsgType: not a Logon (QuickFIX would not have parsed it as one)
        return False


def _raw_data(message: Any) -> str | None:
    """A message's RawData (96), None if absent; never raises."""
    try:
        return str(message.getField(96)) if message.isSetField(96) else None
    except Exception:  # unreadable: as absent
        return None


def _line(text: str) -> None:
    """One event on stdout in one write: the front's thread and QuickFIX's print at once, and print()
    writes the text and its newline separately (two events could share a line)."""
    import sys

    sys.stdout.write(f"clearquote fix: {text}\n")
    sys.stdout.flush()


def run_acceptor(
    settings: str,
    portfolio: str | None,
    market: str,
    params: str | None,
    journal: str,
    overrides: Mapping[str, Any] | None = None,
    as_of: str | None = None,
    stop: threading.Event | None = None,
    kill_file: str | None = None,
    credentials: str | None = None,
    front: FrontLimits | None = DEFAULT_LIMITS,
    allow_unconfined: bool = False,
) -> int:
    """Start the QuickFIX acceptor and serve until SIGTERM/SIGINT (or ``stop``); stop in :class:`Serving`'s order.

    Everything is checked before it listens: the settings, the desk's files, and the journal
    (replayed into the order book; an unreadable row is quarantined and named, not fatal).
    ``front``: the framing front end's limits (the default: on, with its defaults); None serves
    QuickFIX on the settings' address directly (``--no-front``). ``allow_unconfined``: serve even if
    QuickFIX's loopback listener cannot be confined to the loopback device (:class:`Serving`).
    """
    import faulthandler

    _quickfix()
    from addin.fix.gateway import QuoteGateway, describe

    if not Path(settings).is_file():
        raise FixUsageError(f"{settings}: no such QuickFIX settings file")
    desk = build_desk(portfolio, market, params, overrides, as_of, credentials)
    book = open_checked(journal)
    clock = _test_clock()
    # Once every input is checked and before any port listens (Serving binds the public one): the first client's
    # quote never waits for the engine's kernels to compile inside QuickFIX's callback.
    _warm(desk)
    say = quiet(_line)
    try:
        app = QuoteGateway(
            desk,
            book,
            on_event=say,
            kill_file=kill_path(journal, kill_file),
            **({} if clock is None else {"clock": clock}),
        )
        serving = Serving(app, settings, book, front=front, on_event=say, allow_unconfined=allow_unconfined)
    except BaseException:
        book.close()
        raise
    done = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    if not faulthandler.is_enabled():
        faulthandler.enable()  # a native crash prints every thread's Python stack (stderr)
    serving.poll()
    settle_heap()
    try:
        serving.start()
    except BaseException:
        serving.stop()  # what started is stopped, the public port released, the journal closed
        raise
    where = "no front: QuickFIX on the settings' address"
    if serving.front is not None:
        host, port = serving.public
        where = f"front on {host}:{port}, QuickFIX on {serving.upstream[0]}:{serving.upstream[1]}"
    print(f"clearquote fix: accepting ({settings}; {where}; journal {journal}: {describe(book)})", flush=True)
    try:
        while not done.wait(0.2):
            try:
                serving.poll()
            except Exception as exc:  # a failed check is reported; the acceptor keeps serving
                print(f"clearquote fix: poll failed: {type(exc).__name__}: {exc}", flush=True)
    finally:
        serving.stop()
    print("clearquote fix: stopped", flush=True)
    return 0


def fix_log(journal: str, out: str | None, table: str) -> int:
    """Print the journal (or export both tables to xlsx, atomically)."""
    from addin.tables import table_text

    if not Path(journal).is_file():
        raise FixUsageError(f"{journal}: no such journal (the acceptor's --journal)")
    book = open_checked(journal, readonly=True)  # fix-log never writes to the journal
    try:
        if out:
            if Path(out).suffix.lower() != ".xlsx":
                raise FixUsageError(f"{out}: the export is an .xlsx workbook")
            _export(book, Path(out))
            print(f"wrote {out}")
            return 0
        cols, rows = labelled(table, *book.table(table))
        print(table_text([cols, *[[("" if v is None else v) for v in r] for r in rows]]))
        return 0
    finally:
        book.close()


def labelled(name: str, cols: list[str], rows: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A journal table as ``fix-log`` shows it: ``fills`` with each fill's venue label last.

    The label is :func:`pricing.desk.fills.fill_label` of the row's session, ClOrdID and QuoteID,
    the one the gateway gives the fill in the live book: the desk books the trade at the venue
    under it (Deribit's order ``label``), and finds the venue's trade for a fill by it. A
    rejected order has none. Computed from the row (the journal stores the three parts), so a
    journal written before this column existed shows it too. Other tables are returned as they are.
    """
    from pricing.desk.fills import fill_label

    parts = ("session", "cl_ord_id", "quote_id", "status")
    if name != "fills" or not set(parts) <= set(cols):
        return cols, rows
    i, j, k, st = (cols.index(c) for c in parts)
    labels = [fill_label(str(r[i]), str(r[j]), str(r[k])) if r[st] == "filled" else None for r in rows]
    return [*cols, "label"], [(*r, label) for r, label in zip(rows, labels)]


def fix_admin(journal: str, action: str, kill_file: str | None = None) -> int:
    """``clearquote fix-admin kill|resume|status``: the kill switch of the acceptor on ``journal``.

    ``kill`` creates the file the acceptor watches (it stops quoting and filling, and cancels every
    live quote with a QuoteCancel 35=Z within 0.2 s); ``resume`` removes it.
    """
    path = kill_path(journal, kill_file)
    if action == "kill":
        try:
            path.write_text("kill switch: set by clearquote fix-admin\n", encoding="utf-8")
        except OSError as exc:
            raise FixUsageError(f"{path}: cannot set the kill switch ({exc.strerror})") from None
        print(f"kill switch on: {path}")
    elif action == "resume":
        path.unlink(missing_ok=True)
        print(f"kill switch off: {path} removed")
    else:
        print(f"kill switch {'on' if path.exists() else 'off'} ({path})")
    return 0


def _export(journal: Any, path: Path) -> None:
    """Both tables as sheets in the project's table style, written beside ``path`` and renamed."""
    from openpyxl import Workbook

    from addin.style import table_sheet
    from addin.tables import csv_safe, write_atomic

    def write(tmp: str) -> None:
        wb = Workbook()
        wb.remove(wb.active)
        for name in ("quotes", "fills", "cancels", "quarantine"):
            cols, rows = labelled(name, *journal.table(name))
            # Text from a client's message never becomes a formula in the desk's workbook.
            table_sheet(wb.create_sheet(name), [cols, *[[csv_safe(v) for v in r] for r in rows]])
        wb.save(tmp)

    write_atomic(path, write)
