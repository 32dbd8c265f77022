"""One expiry's refit as one job (pricing/desk/live/slicefit.py): the fit and every check in the fit
process, one round trip per attempt.

Invariants:
- a refit in the worker is the same bits as the same refit here: the outcome (smile, diagnostics,
  reason) compares equal, accepted or rejected (oracle: ``fit_and_check`` in this process);
- the keeper makes exactly one call per attempt and computes no fit and no check itself when it
  has a process (a fit injected into the keeper is never called);
- a worker that dies mid-refit is replaced: that refit is answered here (the same bits), the
  next one by a new worker;
- an error in the worker is raised in the caller with its type, as a fit in the thread would;
- the worker runs ``FIT_NICE`` below the parent (capped at 19): under contention for the cores the
  feed's decoding, the publication and the quotes run before a refit.
"""

from __future__ import annotations

import dataclasses
import os
import signal

import numpy as np
import pytest

from pricing.chain import OptionChain, load_bundled_chain
from pricing.desk.live.refit import RefitPolicy, SurfaceKeeper
from pricing.desk.live.slicefit import FIT_NICE, FitProcess, FittedSlice, RefitJob, RefitOutcome, fit_and_check
from pricing.surface import otm_quotes


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    return load_bundled_chain("BTC", "2025-12-31")


@pytest.fixture(scope="module")
def worker() -> FitProcess:
    proc = FitProcess()
    yield proc  # type: ignore[misc]
    proc.close()


@pytest.fixture(scope="module")
def keeper(chain: OptionChain) -> SurfaceKeeper:
    k = SurfaceKeeper("BTC", RefitPolicy())
    k.update(chain, now=0.0)
    return k


def _job(
    keeper: SurfaceKeeper, chain: OptionChain, i: int, *, vol_shift: float = 0.005, scale: float = 1.0, warm: bool = True
) -> RefitJob:
    expiries = sorted(keeper.slices)
    e = expiries[i]
    q = otm_quotes(chain, e)

    def fitted(j: int) -> FittedSlice | None:
        if not 0 <= j < len(expiries):
            return None
        s = keeper.slices[expiries[j]]
        return FittedSlice(s.smile, s.fit)

    last = fitted(i)
    assert last is not None
    return RefitJob(
        e,
        q.k,
        q.vols * scale + vol_shift,
        q.vegas,
        q.t_years,
        q.forward,
        last.smile if warm else None,
        last,
        fitted(i - 1),
        fitted(i + 1),
        RefitPolicy().max_rmse_vol_pts,
    )


def test_a_refit_in_the_worker_is_the_same_bits_as_here(worker: FitProcess, keeper: SurfaceKeeper, chain: OptionChain) -> None:
    jobs = [_job(keeper, chain, i) for i in (2, 5, 9)]
    jobs.append(_job(keeper, chain, 4, warm=False))  # cold
    jobs.append(_job(keeper, chain, 7, vol_shift=0.0, scale=0.4))  # below the earlier expiry: calendar arbitrage
    outcomes = [worker(j) for j in jobs]
    assert outcomes == [fit_and_check(j) for j in jobs]
    assert [o.reason for o in outcomes[:4]] == [""] * 4
    assert outcomes[4].reason.startswith("calendar arbitrage vs the earlier expiry")


def test_the_keeper_makes_one_call_per_attempt_and_checks_nothing_itself(keeper: SurfaceKeeper, chain: OptionChain) -> None:
    jobs: list[RefitJob] = []

    def process(job: RefitJob) -> RefitOutcome:
        jobs.append(job)
        return fit_and_check(job)

    def no_fit_here(*args: object, **kwargs: object) -> object:
        raise AssertionError("the keeper fitted in its own thread")

    mine = SurfaceKeeper("BTC", RefitPolicy(), fit=no_fit_here, process=process)  # type: ignore[arg-type]
    mine.slices = dict(keeper.slices)
    target = sorted(mine.slices)[5]
    moved = dataclasses.replace(chain, mark_iv=np.where(chain.expiry == target, chain.mark_iv + 0.005, chain.mark_iv))
    mine.refit(moved, target, now=1.0, mode="warm")
    assert len(jobs) == 1 and jobs[0].start == keeper.slices[target].smile
    assert mine.slices[target].smile != keeper.slices[target].smile and not mine.flags()

    def rejecting(job: RefitJob) -> RefitOutcome:
        jobs.append(job)
        out = fit_and_check(job)
        return RefitOutcome(out.slice, "butterfly arbitrage")  # the worker's verdict is the keeper's

    mine.process = rejecting
    jobs.clear()
    kept = mine.slices[target].smile
    mine.refit(moved, target, now=2.0, mode="warm")
    assert len(jobs) == 1 and mine.slices[target].smile == kept and mine.cold_due == {target}
    assert "refit rejected (butterfly arbitrage)" in mine.flags()[0]


def test_a_worker_that_dies_is_replaced_and_the_refit_still_answered(keeper: SurfaceKeeper, chain: OptionChain) -> None:
    proc = FitProcess()
    try:
        job = _job(keeper, chain, 3)
        expected = fit_and_check(job)
        assert proc(job) == expected
        first = proc.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert proc(job) == expected  # answered here while the worker is replaced
        assert proc.restarts == 1 and proc.pid != first
        assert proc(_job(keeper, chain, 6)) == fit_and_check(_job(keeper, chain, 6))  # by the new worker
        assert proc.restarts == 1
    finally:
        proc.close()


def test_an_error_in_the_worker_is_raised_in_the_caller(worker: FitProcess, keeper: SurfaceKeeper, chain: OptionChain) -> None:
    job = _job(keeper, chain, 3)
    empty = dataclasses.replace(job, k=job.k[:0], vols=job.vols[:0], vegas=job.vegas[:0])
    with pytest.raises(ZeroDivisionError) as here:  # no quotes: the weights' mean divides by zero
        fit_and_check(empty)
    with pytest.raises(ZeroDivisionError) as there:
        worker(empty)
    assert str(there.value) == str(here.value)
    assert worker(job) == fit_and_check(job)  # and the worker keeps serving


def _dies_at_once(conn: object) -> None:
    os._exit(3)  # a worker that cannot start (spawn could not import the parent's __main__, say)


def test_a_worker_that_cannot_start_is_given_up_after_three_deaths(keeper: SurfaceKeeper, chain: OptionChain) -> None:
    """No restart storm: three deaths in a row and refits stay in the caller, with no more spawns."""
    proc = FitProcess(serve=_dies_at_once)
    try:
        job = _job(keeper, chain, 3)
        expected = fit_and_check(job)
        for _ in range(FitProcess.MAX_DEATHS + 2):
            assert proc(job) == expected
        assert proc.restarts == FitProcess.MAX_DEATHS - 1 and proc.deaths_in_a_row == FitProcess.MAX_DEATHS
        assert proc.given_up == "the fit worker died 3 times in a row (exit code 3)"
    finally:
        proc.close()


def test_the_worker_runs_below_the_parent_s_priority(worker: FitProcess, keeper: SurfaceKeeper, chain: OptionChain) -> None:
    """Measured (2026-12-07, ``python -m bench live-fix``, quiet): tick -> FIX quote p99 63, 43, 39, 77 ms
    at the parent's priority, 41, 42, 33 ms with the worker at nice 10 (docs/live.md)."""
    worker(_job(keeper, chain, 3))  # one answer: the worker has started and set its priority
    assert worker.pid is not None
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, mine + FIT_NICE)
