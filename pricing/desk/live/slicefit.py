"""One expiry's refit as a pure job — the SVI fit and every acceptance check — and the process that runs it.

A live refit is :func:`fit_and_check`: fit raw SVI to the expiry's quotes (warm-started from
the last slice, or cold), measure the fit error, and decide whether the new slice may replace
the last one (butterfly-free on the penalty grid, within the RMSE limit, no calendar arbitrage
against its neighbours that the previous slice did not already have). Everything it needs
travels in one :class:`RefitJob` and everything it decides comes back in one
:class:`RefitOutcome`, so :class:`FitProcess` runs a whole refit in one round trip over a pipe:
the source's refit thread sends the job, blocks in ``recv`` without the GIL, and takes the GIL
once more to read the answer — it computes nothing else while the feed's decoding thread runs.

Bits: the job is pickled (exact for floats and arrays) and the worker runs the same code on the
same machine, so a refit in the worker is the same bits as the same refit in the thread
(``tests/live/test_slicefit.py``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

import numpy as np

from pricing._typing import FloatArray
from pricing.surface import ExpiryFit
from pricing.svi import SviSmile, fit_svi, penalty_grid


class Fit(Protocol):
    """:func:`pricing.svi.fit_svi`'s signature, as a refit calls it."""

    def __call__(
        self, k: FloatArray, vol: FloatArray, t_years: float, weights: FloatArray | None = None, *, start: SviSmile | None = None
    ) -> SviSmile: ...


@dataclass(frozen=True)
class FittedSlice:
    """A smile and its fit diagnostics (the quoted log-moneyness range the calendar check uses).

    Attributes
    ----------
    smile : SviSmile
        The expiry's raw-SVI smile.
    fit : ExpiryFit
        Its diagnostics; ``k_min``/``k_max`` are the quoted range.
    """

    smile: SviSmile
    fit: ExpiryFit


@dataclass(frozen=True)
class RefitJob:
    """Everything one expiry's refit reads (picklable: it crosses to :class:`FitProcess`).

    Attributes
    ----------
    expiry : numpy.datetime64
        The expiry refitted.
    k : ndarray
        Log-moneyness ln(K/F) of its out-of-the-money quotes.
    vols : ndarray
        Their mark implied vols, decimal.
    vegas : ndarray
        Their fit weights (Black vega).
    t_years : float
        Time to expiry, years ACT/365.
    forward : float
        The expiry's forward, USD.
    start : SviSmile or None
        The warm start (the last good slice), None for a cold fit.
    last : FittedSlice or None
        The slice the refit would replace (its calendar excess is the bar a new one must not raise).
    earlier, later : FittedSlice or None
        The neighbouring expiries' current slices (None: none, or about to be refitted themselves).
    max_rmse_vol_pts : float
        The largest accepted fit error, vol points.
    """

    expiry: np.datetime64
    k: FloatArray
    vols: FloatArray
    vegas: FloatArray
    t_years: float
    forward: float
    start: SviSmile | None
    last: FittedSlice | None
    earlier: FittedSlice | None
    later: FittedSlice | None
    max_rmse_vol_pts: float


@dataclass(frozen=True)
class RefitOutcome:
    """A refit's result: the new slice and why it may not be used ("" when it may).

    Attributes
    ----------
    slice : FittedSlice
        The fitted smile and its diagnostics.
    reason : str
        Empty when the slice passes every check; otherwise the first check it fails, e.g.
        ``"butterfly arbitrage"`` or ``"calendar arbitrage vs the earlier expiry, Δw 1.2e-03"``.
    seconds : float
        How long the fit and the checks took where they ran (``time.perf_counter``); not compared.
    """

    slice: FittedSlice
    reason: str
    seconds: float = field(default=0.0, compare=False)


def calendar_excess(inner: FittedSlice | None, outer: FittedSlice | None) -> float:
    """max(w_inner − w_outer) over the log-moneyness both slices quoted: > 0 is calendar arbitrage.

    Parameters
    ----------
    inner, outer : FittedSlice or None
        The earlier and the later expiry's slices (None: nothing to compare, 0).

    Returns
    -------
    float
        The largest excess of the earlier total variance over the later one (0 when either is None).

    Notes
    -----
    The grid is the one :meth:`pricing.surface.VolSurface.calendar_violations` uses for a file's
    surface: 41 points on the quoted range common to both (beyond it both are extrapolated).
    """
    if inner is None or outer is None:
        return 0.0
    lo, hi = max(inner.fit.k_min, outer.fit.k_min), min(inner.fit.k_max, outer.fit.k_max)
    k = np.linspace(lo, hi, 41) if hi > lo else np.array([0.0])
    return float(np.max(inner.smile.total_variance(k) - outer.smile.total_variance(k)))


def fit_and_check(job: RefitJob, fit: Fit = fit_svi) -> RefitOutcome:
    """Fit one expiry and decide whether the new slice may replace the last one.

    Parameters
    ----------
    job : RefitJob
        The expiry's quotes, the warm start, and the slices it is checked against.
    fit : Fit
        The SVI fit (:func:`pricing.svi.fit_svi`; tests inject others).

    Returns
    -------
    RefitOutcome
        The slice, and the first failed check ("" if none).

    Notes
    -----
    Checks, in order (the ones :func:`pricing.surface.build_surface` reports for a file):
    finite parameters; butterfly-free on :func:`pricing.svi.penalty_grid` (Gatheral & Jacquier
    2014, g(k) >= 0); RMSE to the marks within ``max_rmse_vol_pts``; calendar: for each
    neighbour, :func:`calendar_excess` of the new slice must not exceed max(that of the last
    slice, 0) + 1e-10 (an existing violation the new fit does not worsen is the market's, not
    the refit's).
    """
    t0 = time.perf_counter()
    smile = fit(job.k, job.vols, job.t_years, weights=job.vegas, start=job.start)
    grid = penalty_grid(job.k)
    err = np.sqrt(np.maximum(smile.total_variance(job.k), 0.0) / job.t_years) - job.vols
    free = bool(smile.butterfly_free(grid))
    fit_info = ExpiryFit(
        job.expiry,
        job.t_years,
        job.forward,
        int(job.k.size),
        float(np.sqrt(np.mean(err**2)) * 100.0),
        float(np.abs(err).max() * 100.0),
        free,
        float(job.k.min()),
        float(job.k.max()),
    )
    new = FittedSlice(smile, fit_info)
    reason = _reason(new, free, job)
    return RefitOutcome(new, reason, time.perf_counter() - t0)


def _reason(new: FittedSlice, free: bool, job: RefitJob) -> str:
    s = new.smile
    if not np.all(np.isfinite([s.a, s.b, s.rho, s.m, s.sigma])):
        return "non-finite parameters"
    if not free:
        return "butterfly arbitrage"
    if new.fit.rmse_vol_pts > job.max_rmse_vol_pts:
        return f"RMSE {new.fit.rmse_vol_pts:.2f} vol pts above {job.max_rmse_vol_pts:g}"
    checks = (
        ("calendar arbitrage vs the earlier expiry", calendar_excess(job.earlier, new), calendar_excess(job.earlier, job.last)),
        ("calendar arbitrage vs the later expiry", calendar_excess(new, job.later), calendar_excess(job.last, job.later)),
    )
    for name, new_x, old_x in checks:
        if new_x > max(old_x, 0.0) + 1e-10:
            return f"{name}, Δw {new_x:.2e}"
    return ""


#: The fit worker's niceness (``os.nice``): under contention for the cores, the feed's decoding,
#: the publication and the quotes (the parent process) run first; a refit is off the quote's path.
FIT_NICE = 10


def _serve(conn: Connection) -> None:
    """The worker: answer each job with ("ok", outcome) or ("error", exception) until EOF or None."""
    try:
        os.nice(FIT_NICE)
    except OSError:  # a platform or sandbox without nice: the worker runs at the parent's priority
        pass
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if job is None:
            return
        try:
            answer: tuple[str, Any] = ("ok", fit_and_check(job))
        except Exception as exc:  # the caller re-raises it, as a fit in its own thread would
            answer = ("error", exc)
        try:
            conn.send(answer)
        except (OSError, ValueError):
            return
        except Exception as exc:  # an exception that does not pickle: its text does
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class FitProcess:
    """:func:`fit_and_check` in a process of its own, one round trip per refit.

    The refit shares no GIL with the feed's decoding (measured: a warm refit took ~3x longer
    inside the live process than alone). One worker, started with ``spawn`` (never a fork of a
    process with threads), talking over one pipe: no executor threads between the caller and
    the worker (a ``ProcessPoolExecutor`` hands each call through a manager thread and a queue
    feeder thread, each of which must take the GIL behind a busy decoding thread). Callers on
    several threads take turns (a lock). A worker that dies is replaced and that refit is done
    in the calling thread; after :attr:`MAX_DEATHS` deaths in a row without an answer between
    them (a worker that cannot start: e.g. a ``__main__`` that ``spawn`` cannot import again)
    every later refit is done in the calling thread, and no more workers are started.

    Parameters
    ----------
    serve : callable
        The worker's main function (the pipe's far end in; tests give one that dies).
    """

    #: Worker deaths in a row after which refits stay in the calling thread.
    MAX_DEATHS = 3

    def __init__(self, serve: Callable[[Connection], None] = _serve) -> None:
        self._lock = threading.Lock()
        self._serve = serve
        self._conn, self._proc = self._start()
        #: Workers replaced after dying (the refit was then done in the caller).
        self.restarts = 0
        #: Deaths since the last answer from a worker.
        self.deaths_in_a_row = 0
        #: Why refits now stay in the calling thread ("" while a worker serves them).
        self.given_up = ""

    def _start(self) -> tuple[Connection, Any]:
        ctx = multiprocessing.get_context("spawn")
        here, there = ctx.Pipe()
        proc = ctx.Process(target=self._serve, args=(there,), name="clearquote-fit", daemon=True)
        proc.start()
        there.close()
        return here, proc

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return int(self._proc.pid) if self._proc.pid is not None else None

    def __call__(self, job: RefitJob) -> RefitOutcome:
        """Run one refit in the worker.

        Parameters
        ----------
        job : RefitJob
            The refit.

        Returns
        -------
        RefitOutcome
            As :func:`fit_and_check` returns it here (the same bits).
        """
        with self._lock:
            if self.given_up:
                return fit_and_check(job)
            try:
                self._conn.send(job)
                kind, value = self._conn.recv()
                self.deaths_in_a_row = 0
            except (EOFError, OSError):
                self._replace()
                kind, value = "ok", fit_and_check(job)
        if kind == "error":
            raise value
        assert isinstance(value, RefitOutcome)
        return value

    def _replace(self) -> None:
        self._conn.close()
        self._proc.join(timeout=5)
        self.deaths_in_a_row += 1
        if self.deaths_in_a_row >= self.MAX_DEATHS:
            self.given_up = f"the fit worker died {self.deaths_in_a_row} times in a row (exit code {self._proc.exitcode})"
            return
        self.restarts += 1
        self._conn, self._proc = self._start()

    def close(self) -> None:
        """Stop the worker (waits up to 10 s for it, then kills it)."""
        with self._lock:
            if self.given_up:
                return
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=5)
            self._conn.close()


_shared_lock = threading.Lock()
_shared: FitProcess | None = None


def shared_fit_process() -> FitProcess:
    """The process's one :class:`FitProcess` (started on first use, stopped at exit).

    Returns
    -------
    FitProcess
        The same object for every caller in this process.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FitProcess()
            atexit.register(close_shared_fit_process)
        return _shared


def close_shared_fit_process() -> None:
    """Stop the process's shared :class:`FitProcess`, if one was started (at exit, or earlier by
    a host that must end every process it started before it returns: the test run's end)."""
    global _shared
    with _shared_lock:
        shared, _shared = _shared, None
    if shared is not None:
        shared.close()
