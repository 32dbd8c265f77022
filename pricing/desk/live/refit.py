"""A surface that follows the market: each expiry refitted when its marks move, warm-started, validated.

Per currency a :class:`SurfaceKeeper` holds the last good slice of every expiry. On each new
chain it refits an expiry when

- any of its marks moved more than ``RefitPolicy.move_vol_pts`` vol points since its last fit, or
- its last fit is older than ``RefitPolicy.every_s`` seconds, or
- its listed strikes changed (a listing or a settlement),

warm-starting raw SVI from the last fit (:func:`pricing.svi.fit_svi` ``start=``; a cold fit if
the warm one is not butterfly-free or fits badly — a possible local optimum; not for calendar
arbitrage, which a cold start of the same quotes cannot remove). A refit is accepted only if it passes the checks a file's
surface reports (:func:`pricing.surface.build_surface`): butterfly-free on the penalty grid, no
calendar arbitrage against the neighbouring slices that the previous slice did not already
have, and a fit error within ``max_rmse_vol_pts``. A rejected refit keeps the last good slice
and flags it. Between refits a slice keeps its total variance at fixed log-moneyness
ln(K/F) while the forward and the time move with the chain (sticky moneyness).

The keeper runs on the source's refit thread, never on the event loop. Each attempt at a refit
(the fit and every check) is one :class:`pricing.desk.live.slicefit.RefitJob`, run in the fit
process in one round trip (:class:`pricing.desk.live.slicefit.FitProcess`): the thread only
picks the quotes, sends the job and keeps or rejects the slice.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from pricing._typing import FloatArray
from pricing.chain import OptionChain
from pricing.daycount import DAYS_PER_YEAR
from pricing.desk.live.slicefit import Fit, FittedSlice, RefitJob, RefitOutcome, fit_and_check
from pricing.errors import PricingInputError
from pricing.surface import ExpiryFit, VolSurface, otm_quotes
from pricing.svi import SviSmile, fit_svi


@dataclass(frozen=True)
class RefitPolicy:
    """When an expiry is refitted and when a refit is accepted (defaults in ``docs/live.md``).

    Attributes
    ----------
    move_vol_pts : float
        Refit when a mark of the expiry moved more than this, vol points (0.25 = 0.25 %).
    every_s : float
        Refit at least this often, seconds.
    max_rmse_vol_pts : float
        Reject a refit whose RMSE to the marks is larger, vol points.
    min_quotes : int
        As :func:`pricing.surface.build_surface`: expiries with fewer OTM marks are left out.
    min_t_years : float
        As :func:`pricing.surface.build_surface`: expiries closer than this are left out, years
        (default one day, ``1 / DAYS_PER_YEAR``).
    fit_process : bool
        Refit (fit and checks) in a process of its own
        (:class:`pricing.desk.live.slicefit.FitProcess`, one per Python process, shared by every
        source), so a refit shares no GIL with the feed's decoding; False: on the refit thread.
    """

    move_vol_pts: float = 0.25
    every_s: float = 60.0
    max_rmse_vol_pts: float = 5.0
    min_quotes: int = 5
    min_t_years: float = 1.0 / DAYS_PER_YEAR
    fit_process: bool = True

    def __post_init__(self) -> None:
        if not (self.move_vol_pts > 0 and self.every_s > 0 and self.max_rmse_vol_pts > 0 and self.min_quotes >= 3):
            raise PricingInputError(f"refit policy: {self} needs positive thresholds and min_quotes >= 3")


@dataclass(frozen=True)
class Slice:
    """The last good fit of one expiry and what it was fitted to.

    Attributes
    ----------
    smile : SviSmile
        The fitted SVI smile of the expiry.
    fit : ExpiryFit
        The fit's diagnostics (residuals, flags) as :func:`pricing.surface.build_surface` reports them.
    fitted_at : datetime
        UTC.
    fitted_mono : float
        ``time.monotonic()`` of the fit.
    names : tuple of str
        The options fitted.
    iv_ref : ndarray
        Their mark IVs then, percent.
    flag : str
        Why the slice is a kept last-good one ("" when it is fresh).
    cold_failed_mono : float or None
        ``time.monotonic()`` when a cold retry of this expiry last failed validation too (None:
        never); another cold retry waits ``RefitPolicy.every_s`` after it.
    """

    smile: SviSmile
    fit: ExpiryFit
    fitted_at: datetime
    fitted_mono: float
    names: tuple[str, ...]
    iv_ref: FloatArray
    flag: str = ""
    cold_failed_mono: float | None = None


def _rows(chain: OptionChain, expiry: np.datetime64) -> tuple[tuple[str, ...], FloatArray]:
    mask = chain.expiry == expiry
    return tuple(n for n, m in zip(chain.names, mask) if m), chain.mark_iv[mask]


class SurfaceKeeper:
    """The live surface of one currency (mutable; the refit thread only).

    Parameters
    ----------
    currency : str
        The underlying whose surface is kept, e.g. ``"BTC"``.
    policy : RefitPolicy
        When to refit (time and move triggers) and what to refuse.
    fit : Fit
        The SVI fit a refit in this thread calls (:func:`pricing.svi.fit_svi`; tests inject others).
    process : callable, optional
        Runs a whole refit (fit and checks) elsewhere, one call per attempt:
        :class:`pricing.desk.live.slicefit.FitProcess`. None: :func:`fit_and_check` with ``fit``
        in this thread.
    """

    def __init__(
        self,
        currency: str,
        policy: RefitPolicy,
        fit: Fit = fit_svi,
        process: Callable[[RefitJob], RefitOutcome] | None = None,
    ) -> None:
        self.currency = currency
        self.policy = policy
        #: The SVI fit of a refit run here (:func:`pricing.svi.fit_svi`).
        self.fit = fit
        #: Where refits run when not here (:class:`pricing.desk.live.slicefit.FitProcess`).
        self.process = process
        #: Replaced whole on every change (copy-on-write): a reader on another thread keeps a consistent set.
        self.slices: dict[np.datetime64, Slice] = {}
        #: Seconds per refit of one expiry, the last 10,000: warm-started ones, and first (cold) fits.
        self.durations_s: deque[float] = deque(maxlen=10_000)
        self.cold_durations_s: deque[float] = deque(maxlen=10_000)
        self.rejected = 0
        #: Warm refits that failed validation and were fitted cold (the second attempt).
        self.fallbacks = 0
        #: Cold retries not made: the last one of the expiry failed too, less than ``every_s`` ago.
        self.cold_skipped = 0
        #: Expiries whose warm refit failed and whose cold retry waits (``refit(mode="warm")``).
        self.cold_due: set[np.datetime64] = set()
        #: Seconds of the fit and its checks themselves (where they ran) per warm refit, the last 10,000.
        self.work_s: deque[float] = deque(maxlen=10_000)
        #: Seconds per queued cold retry (``refit(mode="cold")``), the last 10,000.
        self.cold_retry_durations_s: deque[float] = deque(maxlen=10_000)

    def _due(self, chain: OptionChain, expiry: np.datetime64, now: float) -> bool:
        last = self.slices.get(expiry)
        if last is None or now - last.fitted_mono >= self.policy.every_s:
            return True
        names, iv = _rows(chain, expiry)
        if names != last.names:
            return True
        return bool(np.max(np.abs(iv - last.iv_ref)) * 100.0 > self.policy.move_vol_pts)

    def due(self, chain: OptionChain, now: float | None = None) -> list[np.datetime64]:
        """Expiries of ``chain`` to refit now (slices of expiries the chain no longer has are dropped).

        Parameters
        ----------
        chain : OptionChain
            The current chain of the underlying.
        now : float, optional
            ``time.monotonic()``.

        Returns
        -------
        list of numpy.datetime64
            The expiries whose smile must be refitted now, under the refit policy.
        """
        now = time.monotonic() if now is None else now
        uniq, t_all, _ = chain.expiries()
        live = [e for e, t in zip(uniq, t_all) if t >= self.policy.min_t_years]
        if any(e not in live for e in self.slices):
            self.slices = {e: v for e, v in self.slices.items() if e in live}
        return [e for e in live if self._due(chain, e, now)]

    def update(self, chain: OptionChain, now: float | None = None) -> VolSurface:
        """The surface for ``chain``: due expiries refitted (validated), the others kept.

        Parameters
        ----------
        chain : OptionChain
            The current chain of the underlying.
        now : float, optional
            ``time.monotonic()``.

        Returns
        -------
        VolSurface
            The surface after refitting the expiries that were due; the others keep their last good fit.
        """
        now = time.monotonic() if now is None else now
        work = self.due(chain, now)
        for expiry in work:
            self.refit(chain, expiry, now, pending=set(work))
        return self.surface(chain)

    def refit(
        self,
        chain: OptionChain,
        expiry: np.datetime64,
        now: float,
        pending: set[np.datetime64] | None = None,
        mode: str = "auto",
    ) -> None:
        """Refit one expiry; ``pending`` are expiries about to be refitted too (not checked against).

        Neighbours still waiting for their own refit are stale: a market that moved as a whole
        would make each refit look like calendar arbitrage against them. Each pair is checked once,
        when the later of the two is refitted, against the fresh slice.

        ``mode``: ``auto``, warm-started from the last slice and, if that fails validation, cold
        at once; ``warm``, warm only, a failure queues the cold retry in :attr:`cold_due` (the
        source's refit thread runs it when no warm refit is due, so a 0.4 s cold fit never holds
        up another expiry's refit); ``cold``, that queued retry.

        Parameters
        ----------
        chain : OptionChain
            The current chain of the underlying.
        expiry : numpy.datetime64
            The expiry to refit.
        now : float
            ``time.monotonic()``.
        pending : set of numpy.datetime64, optional
            Expiries about to be refitted too: their stale slices are not checked against; ``expiry`` is removed from it.
        mode : {'auto', 'warm', 'cold'}
            How to fit, as above.
        """
        t0 = time.perf_counter()
        if pending is not None:
            pending.discard(expiry)
        self.cold_due.discard(expiry)
        q = otm_quotes(chain, expiry)
        if q.k.size < self.policy.min_quotes:
            self.slices = {e: v for e, v in self.slices.items() if e != expiry}
            return
        last = self.slices.get(expiry)
        names, iv = _rows(chain, expiry)
        earlier, later = self._neighbours(expiry, pending or set())
        reason = ""
        starts: list[SviSmile | None] = [last.smile, None] if last is not None else [None]
        if mode == "cold":
            starts = [None]
        cold_failed = last.cold_failed_mono if last is not None else None
        cold_allowed = cold_failed is None or now - cold_failed >= self.policy.every_s
        if len(starts) > 1 and (mode == "warm" or not cold_allowed):
            # Warm only: either the cold retry is queued (mode warm), or a cold fit of this
            # expiry failed validation lately: the marks are in a shape SVI cannot fit
            # arbitrage-free from any start (~0.4 s each time, for the same answer); the timer
            # tries cold again.
            starts = starts[:1]
        tried_cold = False
        worked_s = 0.0
        for n, start in enumerate(starts):
            tried_cold = start is None
            job = RefitJob(
                expiry,
                q.k,
                q.vols,
                q.vegas,
                q.t_years,
                q.forward,
                start,
                FittedSlice(last.smile, last.fit) if last is not None else None,
                earlier,
                later,
                self.policy.max_rmse_vol_pts,
            )
            # One call: the fit and every check (in the fit process, one round trip).
            outcome = self.process(job) if self.process is not None else fit_and_check(job, self.fit)
            smile, fit, reason = outcome.slice.smile, outcome.slice.fit, outcome.reason
            worked_s += outcome.seconds
            if not reason or reason.startswith("calendar"):
                break  # a cold start cannot help against a neighbour's slice: the same data, the same optimum
            if start is not None and n + 1 < len(starts):
                self.fallbacks += 1
            elif start is not None and mode == "warm" and cold_allowed:
                self.cold_due.add(expiry)
            elif start is not None:
                self.cold_skipped += 1
        if mode == "cold":
            self.cold_retry_durations_s.append(time.perf_counter() - t0)
        else:
            (self.durations_s if last is not None else self.cold_durations_s).append(time.perf_counter() - t0)
            if last is not None:
                self.work_s.append(worked_s)
        stamp = datetime.now(UTC)
        if not reason:
            self.slices = {**self.slices, expiry: Slice(smile, fit, stamp, now, names, iv.copy())}
        elif last is not None:
            self.rejected += 1
            flag = f"{str(expiry)[:10]}: refit rejected ({reason}); last good slice from {last.fitted_at:%H:%M:%S}Z kept"
            failed = now if tried_cold and not reason.startswith("calendar") else cold_failed
            kept = Slice(last.smile, last.fit, last.fitted_at, now, names, iv.copy(), flag, failed)
            self.slices = {**self.slices, expiry: kept}
        else:
            flag = f"{str(expiry)[:10]}: first fit not validated ({reason})"
            self.slices = {**self.slices, expiry: Slice(smile, fit, stamp, now, names, iv.copy(), flag)}

    def _neighbours(self, expiry: np.datetime64, pending: set[np.datetime64]) -> tuple[FittedSlice | None, FittedSlice | None]:
        """The slices either side of ``expiry`` a refit is checked against (pending ones are stale: skipped)."""
        keys = sorted(e for e in self.slices if e not in pending)
        before = [e for e in keys if e < expiry]
        after = [e for e in keys if e > expiry]
        prev = self.slices[before[-1]] if before else None
        nxt = self.slices[after[0]] if after else None
        return (
            FittedSlice(prev.smile, prev.fit) if prev is not None else None,
            FittedSlice(nxt.smile, nxt.fit) if nxt is not None else None,
        )

    def surface(self, chain: OptionChain, slices: dict[np.datetime64, Slice] | None = None) -> VolSurface:
        """The kept slices on the chain's current forwards and times.

        Parameters
        ----------
        chain : OptionChain
            The current chain of the underlying: the slices are placed on its forwards and times to expiry.
        slices : dict, optional
            A value of :attr:`slices` read earlier (default: the current one). :attr:`slices` is
            replaced whole, never changed in place, whenever a slice changes: the same dict is
            the same slices, so a reader that took it once builds its surface, flags and fit
            times from one state even while the refit thread lands a refit.

        Returns
        -------
        VolSurface
            The last good slice of every expiry still in the chain.
        """
        slices = self.slices if slices is None else slices
        if not slices:
            raise PricingInputError(f"chain {self.currency}: no expiry with enough marks to fit a smile")
        uniq, t_all, fwd_all = chain.expiries()
        where = {e: i for i, e in enumerate(uniq)}
        keys = [e for e in sorted(slices) if e in where]  # a slice whose expiry just left the chain waits for due()
        ts = np.array([t_all[where[e]] for e in keys])
        fwds = np.array([fwd_all[where[e]] for e in keys])
        return VolSurface(
            chain.underlying,
            chain.spot,
            np.array(keys),
            ts,
            fwds,
            tuple(slices[e].smile for e in keys),
            "svi",
            tuple(slices[e].fit for e in keys),
        )

    def fit_times(self, slices: dict[np.datetime64, Slice] | None = None) -> dict[str, datetime]:
        """Expiry (YYYY-MM-DD) -> when its slice was last fitted (UTC).

        Parameters
        ----------
        slices : dict, optional
            A value of :attr:`slices` read earlier (default: the current one; see :meth:`surface`).

        Returns
        -------
        dict of str to datetime
            Expiry code to when its smile was last fitted, UTC.
        """
        kept = self.slices if slices is None else slices
        return {str(e)[:10]: s.fitted_at for e, s in sorted(kept.items())}

    def flags(self, slices: dict[np.datetime64, Slice] | None = None) -> list[str]:
        """The kept last-good slices' flags, prefixed by the currency.

        Parameters
        ----------
        slices : dict, optional
            A value of :attr:`slices` read earlier (default: the current one; see :meth:`surface`).

        Returns
        -------
        list of str
            ``"<currency> <flag>"`` for each kept slice that carries a flag, expiries ascending.
        """
        kept = self.slices if slices is None else slices
        return [f"{self.currency} {s.flag}" for _, s in sorted(kept.items()) if s.flag]
