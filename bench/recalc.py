"""``python -m bench recalc``: recalculating generated quote books, beside formulas' ExcelModel.

Each book has one RFQ per row and seven per-row formulas (forward, time, vol and Black price
from the catalogue; notional, side adjustment and rounding by ordinary Excel formulas) plus a
total. Every measurement runs in its own process (so peak memory is that run's, read from
``VmHWM``), end to end: read the file, evaluate, write the recalculated copy. The
bundled market is built before the clock starts in both engines (it is a cached, one-off
~9 s SVI fit of two chains, the same for any book size).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from openpyxl import Workbook

EXPIRY_CODES = ("25SEP26", "30OCT26", "25DEC26")  # listed BTC expiries of the bundled 2026-08-21 chain


def _serials() -> tuple[float, tuple[float, ...]]:
    """The bundled market's time and the book's expiries (08:00 UTC) as Excel serials."""
    from datetime import datetime

    from openpyxl.utils.datetime import to_excel

    from pricing.chain import load_bundled_chain

    chain = load_bundled_chain("BTC", "2026-08-21")
    as_of = to_excel(chain.as_of.replace(tzinfo=None))
    expiries = tuple(to_excel(datetime.strptime(code, "%d%b%y").replace(hour=8)) for code in EXPIRY_CODES)
    return float(as_of), tuple(float(e) for e in expiries)


def generate(path: Path, rows: int) -> Path:
    """A quote book of ``rows`` RFQs with per-row formulas (write-only openpyxl: fast, small)."""
    as_of, expiries = _serials()
    wb = Workbook(write_only=True)
    mk = wb.create_sheet("Market")
    mk.append(["market", '=CQ_MARKET("bundled")'])
    mk.append(["as_of", as_of])
    mk.append(["underlying", "BTC"])  # CQ_VOL/CQ_FORWARD take one underlying per call
    ws = wb.create_sheet("RFQs")
    ws.append(
        [
            "underlying",
            "expiry",
            "strike",
            "cp",
            "quantity",
            "side",
            "forward",
            "t_years",
            "vol",
            "price",
            "premium",
            "quoted",
            "rounded",
        ]
    )
    for i in range(rows):
        r = i + 2
        ws.append(
            [
                "BTC",
                expiries[i % 3],
                60_000.0 + 1_000.0 * (i % 41),
                "C" if i % 2 else "P",
                float(1 + i % 25),
                "buy" if i % 3 else "sell",
                f"=CQ_FORWARD(Market!$B$1,Market!$B$3,B{r})",
                f"=CQ_OPTION_TIME(Market!$B$2,B{r})",
                f"=CQ_VOL(Market!$B$1,Market!$B$3,C{r},B{r})",
                f"=CQ_BLACK(D{r},G{r},C{r},H{r},I{r})",
                f"=J{r}*E{r}",
                f'=IF(F{r}="buy",K{r}*1.002,K{r}*0.998)',
                f"=ROUND(L{r},2)",
            ]
        )
    sm = wb.create_sheet("Summary")
    sm.append(["total", f"=SUM(RFQs!M2:M{rows + 1})"])
    wb.save(path)
    return path


def time_recalc(kind: str, path: str | Path) -> float:
    """Seconds to read, recalculate and write the book ``path`` with ``kind`` ("clearquote" or
    "formulas", the ExcelModel peer), in this process; the bundled market is built first."""
    return timed_recalc(kind, path)[0]


def timed_recalc(kind: str, path: str | Path) -> tuple[float, float]:
    """:func:`time_recalc`'s wall seconds, and the CPU seconds of this process meanwhile (all
    its threads: on a shared machine the wall time counts other jobs' time slices, the CPU time
    does not)."""
    return _time_recalc(kind, path)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t[0], time.process_time() - t[1]


def _time_recalc(kind: str, path: str | Path) -> tuple[float, float]:
    if kind == "ironcalc":  # the formula engine alone: load, evaluate, its own writer (catalogue cells #NAME?)
        import ironcalc as ic

        target = Path(path).with_name(f"ic-{Path(path).stem}.xlsx")
        target.unlink(missing_ok=True)  # IronCalc refuses to replace a file (a repeated run)
        t = _clock()
        with _quiet():
            model = ic.load_from_xlsx(str(path), "en", "UTC")
            model.evaluate()
            model.save_to_xlsx(str(target))
        return _since(t)
    if kind == "formualizer":  # load and evaluate (its writer cannot keep this package): catalogue cells #NAME?
        import formualizer as fz

        t = _clock()
        wb = fz.load_workbook(str(path))
        wb.evaluate_all()
        return _since(t)
    import udfs

    udfs.CQ_MARKET("bundled")  # warm: the market fit is not what is measured
    t = _clock()
    if kind in ("clearquote", "per-cell"):  # per-cell: host calls one a cell, the path before columns
        from addin.excel.catalogue import CATALOGUE_FUNCTIONS
        from addin.headless import recalc

        # budget=None: the engine in this process, as the peers run (the CLI adds a child's start-up, ~0.5-1 s)
        out = Path(path).with_name(f"out-{Path(path).stem}.xlsx")
        recalc(path, out, CATALOGUE_FUNCTIONS, columns=kind == "clearquote", budget=None)
    else:
        import formulas

        from bench.peers import formulas_with_catalogue

        formulas_with_catalogue()
        model = formulas.ExcelModel().loads(str(path)).finish()
        model.calculate()
        model.write(dirpath=str(Path(path).parent / "formulas-out"))
    return _since(t)


def _quiet() -> Any:
    """IronCalc prints load notes on stdout, where the child reports its measurement."""
    import contextlib
    import os

    @contextlib.contextmanager
    def muted() -> Any:
        saved = os.dup(1)
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(saved, 1)
                os.close(saved)

    return muted()


def peak_mb() -> float:
    """This process's own peak RSS: VmHWM on Linux (``ru_maxrss`` carries the parent's peak across exec)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(kind: str, path: str) -> None:
    seconds, cpu = timed_recalc(kind, path)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb()}))


def _measure(kind: str, path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-m", "bench.recalc", kind, str(path)], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} on {path.name} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _available(kind: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(kind) is not None


def _median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def run_bench_recalc(sizes: list[int], peer_max: int = 1000, repeats: int = 3, per_cell: bool = False) -> int:
    """Each size: clearquote end to end, beside the formula engines alone on the same book
    (IronCalc: load, evaluate, write; formualizer: load, evaluate), which cannot call the
    catalogue (those cells are #NAME? for them) and so give the floor of the formula work, and
    formulas' ExcelModel with the catalogue registered (up to ``peer_max`` rows).

    clearquote and the engines alone run ``repeats`` times each, interleaved (on a shared
    machine both then see the same load), each run its own process; the table gives medians,
    clearquote's median over IronCalc's (``x IronCalc``), the largest peak, and the 1-minute
    load average before and after the size; ``CPU s`` and ``x IC CPU``: the same for the CPU
    time of the measured section (each process's own: on a loaded machine its wall time also
    counts the time slices other jobs take, its CPU time does not). ``per_cell``: also
    clearquote with host calls one a cell (``columns=False``, the path before columns of
    identical formulas), in the same runs."""
    peers = [k for k in ("ironcalc", "formualizer") if _available(k)] + (["per-cell"] if per_cell else [])
    head = f"{'rows':>8} {'formulas':>9} {'clearquote s':>13} {'peak MB':>8}"
    head += "".join(f" {k + ' s':>14}" for k in peers)
    head += f" {'x IronCalc':>10} {'CPU s':>6} {'IC CPU s':>8} {'x IC CPU':>8}"
    head += f" {'ExcelModel s':>13} {'peak MB':>8} {'ratio':>7} {'load':>11}"
    print(f"medians of {repeats} interleaved runs each; load: 1-minute load average before/after, on {os.cpu_count()} cores")
    print(head)
    for n in sizes:
        load0 = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            path = generate(Path(tmp) / f"book{n}.xlsx", n)
            ours: list[dict[str, float]] = []
            alone: dict[str, list[dict[str, float]]] = {k: [] for k in peers}
            for _ in range(repeats):
                ours.append(_measure("clearquote", path))
                for k in peers:
                    alone[k].append(_measure(k, path))
            peer = _measure("formulas", path) if n <= peer_max else None
        load1 = os.getloadavg()[0]
        mine = _median(ours, "seconds")
        ratio = f"{peer['seconds'] / mine:7.1f}" if peer else "      -"
        peer_s = f"{peer['seconds']:13.2f} {peer['peak_mb']:8.0f}" if peer else f"{'(not run)':>13} {'':>8}"
        alone_s = "".join(f" {_median(alone[k], 'seconds'):14.2f}" for k in peers)
        x_ic = f"{mine / _median(alone['ironcalc'], 'seconds'):10.2f}" if "ironcalc" in alone else f"{'-':>10}"
        cpu = _median(ours, "cpu_seconds")
        if "ironcalc" in alone:
            ic_cpu = _median(alone["ironcalc"], "cpu_seconds")
            x_ic += f" {cpu:6.2f} {ic_cpu:8.2f} {cpu / ic_cpu:8.2f}"
        else:
            x_ic += f" {cpu:6.2f} {'-':>8} {'-':>8}"
        peak = max(r["peak_mb"] for r in ours)
        print(
            f"{n:8,d} {7 * n + 1:9,d} {mine:13.2f} {peak:8.0f}{alone_s} {x_ic} {peer_s} {ratio} {load0:5.1f}/{load1:<5.1f}",
            flush=True,
        )
    print("goals: 10,000 rows <= 1 s and <= 2x IronCalc alone; 100,000 rows <= 10 s and <= 1 GB (process peak, market included)")
    print("IronCalc and formualizer alone compute no catalogue cell (#NAME?): the floor of the formula work, not a peer result")
    return 0


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
