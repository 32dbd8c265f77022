"""``python -m bench corpus``: formula engines against Excel's own cached values, one rule for all.

For each workbook of a corpus saved by Excel (default ``../shared/corpus/excel`` beside the
project, or ``--corpus DIR``):

1. the reference is read with openpyxl (independent of the engine's own reader): every formula
   cell and member of an array formula, with the value Excel cached;
2. a copy is made with those cached values removed (the engine's writer, ``STRIP``), so no
   engine can score on Excel's numbers;
3. each engine recalculates the copy in its own process (a hang or a crash is that engine's
   result for that book, after ``--timeout`` seconds) and every reference cell is compared:
   numbers within 1e-9 relative or absolute, errors by code, text and booleans exactly;
4. cells that call NOW/TODAY/RAND/RANDBETWEEN/RANDARRAY, or depend on one (the book's own
   dependency closure, computed once and applied to every engine alike), are left out.

Engines: ``clearquote`` (this project's headless engine), ``ironcalc`` (the formula engine it is
built on, alone), ``formulas`` (vinci1it2000's ExcelModel), ``formualizer`` when installed.
The table is the measured basis of the engine choice in the README ("Headless engine").
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ENGINES = ("clearquote", "ironcalc", "formulas", "formualizer")
ROOT = Path(__file__).resolve().parents[1]


def default_corpus() -> Path | None:
    env = os.environ.get("CLEARQUOTE_CORPUS")
    if env:
        return Path(env)
    guess = ROOT.parent / "shared" / "corpus" / "excel"
    return guess if guess.is_dir() else None


# ----------------------------------------------------------------------------- values


def norm(v: Any, epoch_1904: bool = False) -> list[Any]:
    """Any engine's value as [kind, value]."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel

    try:
        import numpy as np

        if isinstance(v, np.generic):
            v = v.item()
    except ImportError:  # pragma: no cover
        pass
    if v is None or (isinstance(v, str) and v == ""):
        return ["blank", None]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, (int, float)):
        return ["num", float(v)]
    if isinstance(v, (datetime, date, dtime, timedelta)):
        return ["num", float(to_excel(v, CALENDAR_MAC_1904 if epoch_1904 else CALENDAR_WINDOWS_1900))]
    if hasattr(v, "code") and type(v).__name__ == "ExcelError":
        return ["err", v.code]
    if isinstance(v, dict) and v.get("type") == "Error":
        return ["err", "#" + str(v.get("kind", "")).upper()]
    if isinstance(v, list):
        while isinstance(v, list) and v:
            v = v[0]
        return norm(v, epoch_1904)
    return ["str", str(v)]


def same(a: list[Any], b: list[Any]) -> bool:
    """The comparison rule (the same as ``clearquote validate``'s)."""
    if a[0] == "blank" or b[0] == "blank":
        return a[0] == b[0] == "blank" or (a[0] == "blank" and b == ["str", ""]) or (b[0] == "blank" and a == ["str", ""])
    if a[0] == "num" and b[0] == "num":
        return abs(a[1] - b[1]) <= 1e-9 + 1e-9 * abs(b[1])
    return a == b


# ----------------------------------------------------------------------------- reference


def reference(path: Path) -> dict[str, Any]:
    """Excel's cached value of every formula cell and array member (openpyxl), and the volatile closure."""
    import warnings

    import openpyxl
    from openpyxl.utils import range_boundaries
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    warnings.filterwarnings("ignore")
    wf = openpyxl.load_workbook(path, data_only=False)
    wv = openpyxl.load_workbook(path, data_only=True)
    epoch = wv.epoch.year == 1904
    sixty: set[tuple[str, int, int]] = set()  # cells whose stored value is serial 60 (see _stored)
    try:
        from addin.headless.package import scan

        for sheet in scan(path, cached=True).sheets:
            sixty.update((sheet.name, r, c) for (r, c), v in sheet.cached.items() if v == 60.0)
    except Exception:  # a book the engine's reader refuses: openpyxl's reading stands
        pass
    cells: dict[tuple[str, int, int], Any] = {}
    formulas: dict[tuple[str, int, int], str] = {}
    for ws in wf.worksheets:
        vs = wv[ws.title]
        for row in ws.iter_rows():
            for c in row:
                v = c.value
                if isinstance(v, ArrayFormula):
                    c1, r1, c2, r2 = range_boundaries(v.ref)
                    for r in range(r1, r2 + 1):
                        for cc in range(c1, c2 + 1):
                            cells.setdefault((ws.title, r, cc), _stored(vs.cell(r, cc), epoch, sixty))
                            formulas.setdefault((ws.title, r, cc), "{" + str(v.text) + "}")
                elif isinstance(v, DataTableFormula) or (isinstance(v, str) and v.startswith("=") and c.data_type == "f"):
                    cells.setdefault((ws.title, c.row, c.column), _stored(vs.cell(c.row, c.column), epoch, sixty))
                    formulas.setdefault((ws.title, c.row, c.column), v if isinstance(v, str) else "{=TABLE()}")
    return {
        "epoch_1904": epoch,
        "cells": [[*k, v, False] for k, v in cells.items()],
        "offline": [],
        "formulas": [formulas.get(k, "") for k in cells],
    }


def closure(book: str, ref_path: str) -> int:
    """The reference's cells marked excluded where they are volatile or not computable offline,
    or read such a cell (the engine's closure, the same for every engine), and the reasons a
    book is not computable offline; run in a child of its own, after :func:`prepare`, so that a
    book the engine cannot finish in time is still measured (every cell compared). The number of
    cells excluded."""
    from addin.headless import recalculate

    ref = json.loads(Path(ref_path).read_text())
    res = recalculate(book)
    excluded = set(res.volatile) | set(res.offline)
    for cell in ref["cells"]:
        cell[4] = (cell[0], cell[1], cell[2]) in excluded
    # a book with a cell no offline engine can compute (external link, cube function, add-in)
    # is not "computable offline": the share of fully agreeing books leaves it out
    ref["offline"] = sorted(set(res.offline.values()))
    Path(ref_path).write_text(json.dumps(ref))
    return len(excluded)


def prepare(book: str, ref_path: str, stripped: str) -> int:
    """The reference of ``book`` written to ``ref_path`` and its stripped copy to ``stripped``
    (run in a child with a time and memory limit: openpyxl on a hostile book may not return);
    the number of reference cells."""
    from addin.headless.package import check_file

    check_file(Path(book))
    ref = reference(Path(book))
    Path(ref_path).write_text(json.dumps(ref))
    strip(Path(book), Path(stripped), ref)
    return len(ref["cells"])


def _stored(cell: Any, epoch: bool, sixty: set[tuple[str, int, int]]) -> list[Any]:
    if cell.data_type == "e":
        return ["err", str(cell.value).upper()]
    if isinstance(cell.value, (datetime, date, dtime, timedelta)) and not epoch:
        # openpyxl turns a date-formatted serial into a datetime, and 59 and 60 both into
        # 1900-02-28 (Python's calendar has no 29 February 1900): ``sixty`` holds the cells
        # whose <v> is 60
        from openpyxl.utils.datetime import to_excel

        serial = float(to_excel(cell.value))
        if serial == 59.0 and (cell.parent.title, cell.row, cell.column) in sixty:
            serial = 60.0
        return ["num", serial]
    if isinstance(cell.value, str) and "_x" in cell.value:
        # openpyxl keeps a cached text's ST_Xstring escapes (CHAR(1) is stored as _x0001_,
        # ECMA-376 Part 1, 22.9.2.19): the value Excel computed is the decoded text
        return norm(_XESCAPE.sub(lambda m: chr(int(m.group(1), 16)), cell.value), epoch)
    return norm(cell.value, epoch)


_XESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def strip(src: Path, dst: Path, ref: dict[str, Any]) -> None:
    from addin.headless.package import Limits, scan
    from addin.headless.writer import STRIP, write_cached

    # the engine's own limits do not apply to the reference: a book beyond them is still run
    # (and its refusal counted as a disagreement)
    unlimited = Limits(formula_chars=2**31, nesting=2**31, parentheses=2**31, cells=2**40, array_cells=2**40)
    pkg = scan(src, unlimited)
    updates: dict[str, dict[int, dict[int, Any]]] = {}
    for sheet, r, c, _, _ in ref["cells"]:
        updates.setdefault(sheet, {}).setdefault(r, {})[c] = STRIP
    # the formula cells the reference lists (openpyxl's reading; a cell it does not list as a
    # formula keeps its value and is not compared): the writer checks each of them was found
    listed = {(sheet, r, c) for sheet, r, c, _, _ in ref["cells"]}
    write_cached(src, dst, updates, {s.name: {k for k in s.formulas if (s.name, *k) in listed} for s in pkg.sheets})


# ----------------------------------------------------------------------------- engines (run in a child)


def _clearquote(path: str, cells: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
    from addin.headless import recalculate

    res = recalculate(path)
    return {k: res.cell(*k) for k in cells}


def _ironcalc(path: str, cells: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
    import ironcalc as ic

    m = ic.load_from_xlsx(path, "en", "UTC")
    m.evaluate()
    idx = {p["name"].upper(): i for i, p in enumerate(m.get_worksheets_properties())}
    out: dict[tuple[str, int, int], Any] = {}
    for s, r, c in cells:
        i = idx.get(s.upper())
        if i is None:
            continue
        v = m.get_cell_value(i, r, c)
        out[(s, r, c)] = ("err", v) if m.get_cell_type(i, r, c) == ic.CellType.ErrorValue else v
    return out


def _formulas(path: str, cells: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
    import re

    import formulas
    import numpy as np
    import schedula
    from formulas.tokens.operand import XlError
    from openpyxl.utils import range_boundaries

    sol = formulas.ExcelModel().loads(path).finish(circular=True).calculate()
    want = {(s.upper(), r, c): (s, r, c) for s, r, c in cells}
    out: dict[tuple[str, int, int], Any] = {}
    for key, rng in sol.items():
        m = re.match(r"^'?\[(.*?)\](.*?)'?!([A-Z$0-9:]+)$", key)
        if not m:
            continue
        sheet, a1 = m.group(2).replace("''", "'").upper(), m.group(3).replace("$", "")
        try:
            c1, r1, c2, r2 = range_boundaries(a1)
        except (ValueError, TypeError):
            continue
        if None in (c1, r1, c2, r2) or (r2 - r1 + 1) * (c2 - c1 + 1) > len(want) + 10:
            continue
        arr = np.asarray(getattr(rng, "value", rng), dtype=object)
        arr = arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(1, -1) if arr.ndim == 1 else arr
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                k = want.get((sheet, r, c))
                if k is not None and r - r1 < arr.shape[0] and c - c1 < arr.shape[1]:
                    v = arr[r - r1, c - c1]
                    out[k] = ("err", str(v)) if isinstance(v, XlError) else None if v is schedula.EMPTY else v
    return out


def _formualizer(path: str, cells: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
    import formualizer as fz

    wb = fz.load_workbook(path)
    wb.evaluate_all()
    names = {n.upper(): n for n in wb.sheet_names}
    return {(s, r, c): wb.get_value(names[s.upper()], r, c) for s, r, c in cells if s.upper() in names}


RUNNERS: dict[str, Callable[[str, list[tuple[str, int, int]]], dict[tuple[str, int, int], Any]]] = {
    "clearquote": _clearquote,
    "ironcalc": _ironcalc,
    "formulas": _formulas,
    "formualizer": _formualizer,
}


def _child(engine: str, book: str, ref_path: str, out_path: str, max_memory_mib: str = "0") -> None:
    if int(max_memory_mib):
        import resource

        cap = int(max_memory_mib) * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (cap, resource.getrlimit(resource.RLIMIT_DATA)[1]))
    ref = json.loads(Path(ref_path).read_text())
    cells = [(s, r, c) for s, r, c, _, _ in ref["cells"]]
    t = time.perf_counter()
    from addin.headless.values import BookError

    try:
        got = RUNNERS[engine](book, cells)
    except BookError as exc:  # the engine refuses the book: a refusal, every cell a disagreement
        print(f"refused: {exc}", file=sys.stderr)
        sys.exit(2)
    seconds = time.perf_counter() - t
    values = []
    for k in cells:
        v = got.get(k, "__missing__")
        if isinstance(v, tuple) and len(v) == 2 and v[0] == "err":
            values.append(["err", str(v[1]).upper()])
        elif isinstance(v, str) and v == "__missing__":
            values.append(["missing", None])
        else:
            values.append(norm(v, ref["epoch_1904"]))
    import resource

    # peak resident size of this child, MiB (Linux reports ru_maxrss in KiB)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out_path).write_text(json.dumps({"seconds": seconds, "values": values, "peak_mib": peak_mib}))


# ----------------------------------------------------------------------------- the run


def available(engine: str) -> bool:
    import importlib.util

    module = {"clearquote": "ironcalc", "ironcalc": "ironcalc", "formulas": "formulas", "formualizer": "formualizer"}[engine]
    return importlib.util.find_spec(module) is not None


#: Memory of one engine's child on one book, MiB (the issue's bound: no book over 2 GB).
MAX_MEMORY_MIB = 2048
#: Disagreeing cells listed per book and engine in ``--json`` (sheet, row, column, formula,
#: Excel's value, the engine's), enough to group the failures by cause.
MAX_DIFFER = 20


def run_one(engine: str, stripped: Path, ref: dict[str, Any], ref_path: Path, timeout: float) -> dict[str, Any]:
    """One engine on one book in a child (``timeout`` seconds, :data:`MAX_MEMORY_MIB`). Every
    reference cell not excluded is compared whatever happens: a refusal, crash or timeout
    counts each of them as a disagreement."""
    out = ref_path.with_suffix(f".{engine}.json")
    compared = sum(1 for *_, excluded in ref["cells"] if not excluded)
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.corpus", engine, str(stripped), str(ref_path), str(out), str(MAX_MEMORY_MIB)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": timeout, "compared": compared, "agree": 0}
    if proc.returncode != 0 or not out.exists():
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        status = "refused" if proc.returncode == 2 else "crash"
        return {
            "status": status,
            "seconds": time.perf_counter() - t,
            "error": f"exit {proc.returncode}: {last[:200]}",
            "compared": compared,
            "agree": 0,
        }
    got = json.loads(out.read_text())
    agree = 0
    differ: list[list[Any]] = []
    formulas = ref.get("formulas") or [""] * len(ref["cells"])
    for (sheet, r, c, stored, excluded), mine, text in zip(ref["cells"], got["values"], formulas):
        if not excluded:
            ok = same(stored, mine)
            agree += ok
            if not ok and len(differ) < MAX_DIFFER:
                differ.append([sheet, r, c, text, stored, mine])
    return {
        "status": "ok",
        "seconds": got["seconds"],
        "compared": compared,
        "agree": agree,
        "peak_mib": round(got.get("peak_mib", 0.0), 1),
        "differ": differ,
    }


def run_bench_corpus(corpus: Path | None, engines: list[str], timeout: float, limit: int | None, as_json: bool) -> int:
    """Every book of ``corpus`` through every engine; every book reported, none ends the run.

    A book whose reference cannot be read (openpyxl refuses it, or it takes longer than
    ``timeout`` or more than :data:`MAX_MEMORY_MIB`) is listed as skipped with the reason, for
    every engine alike. Cells excluded (volatile, or not computable offline, with their
    dependents: the engine's closure) are excluded for every engine.
    """
    from addin.errors import UsageError
    from addin.headless.isolation import Budget, run
    from addin.headless.values import BookError

    if corpus is None or not corpus.is_dir():
        raise UsageError(
            "bench-corpus: give --corpus DIR (a folder of Excel-saved .xlsx/.xlsm books); none found beside the project"
        )
    books = sorted(p for p in corpus.iterdir() if p.suffix.lower() in (".xlsx", ".xlsm"))[:limit]
    engines = [e for e in engines if available(e)]
    totals = {
        e: {
            "books": 0,
            "full": 0,
            "computable": 0,
            "full_computable": 0,
            "compared": 0,
            "agree": 0,
            "refused": 0,
            "crash": 0,
            "timeout": 0,
            "seconds": 0.0,
            "peak_mib": 0.0,
        }
        for e in engines
    }
    per_book: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    budget = Budget(MAX_MEMORY_MIB, timeout)
    with tempfile.TemporaryDirectory(prefix="clearquote-corpus-") as tmp:
        for i, book in enumerate(books, 1):
            print(f"\r{i}/{len(books)} books", end="", file=sys.stderr, flush=True)
            ref_path = Path(tmp) / f"{i}.json"
            stripped = Path(tmp) / f"{i}{book.suffix}"
            try:
                run("bench.corpus:prepare", (str(book), str(ref_path), str(stripped)), book.name, budget)
            except BookError as exc:  # the reference cannot be read: left out for every engine alike, and said
                skipped.append((book.name, str(exc).removeprefix(f"{book.name}: ")[:200]))
                per_book.append({"book": book.name, "skipped": skipped[-1][1]})
                continue
            row: dict[str, Any] = {"book": book.name}
            try:
                run("bench.corpus:closure", (str(book), str(ref_path)), book.name, budget)
            except BookError as exc:  # the engine cannot finish the book: every cell is compared
                row["closure"] = str(exc).removeprefix(f"{book.name}: ")[:200]
            ref = json.loads(ref_path.read_text())
            computable = not ref.get("offline")
            row["offline"] = ref.get("offline", [])
            for e in engines:
                res = run_one(e, stripped, ref, ref_path, timeout)
                row[e] = res
                t = totals[e]
                t["books"] += 1
                t["computable"] += computable
                t["seconds"] += res["seconds"]
                t["compared"] += res["compared"]
                t["agree"] += res["agree"]
                t["peak_mib"] = max(t["peak_mib"], res.get("peak_mib", 0.0))
                if res["status"] != "ok":
                    t[res["status"]] += 1
                    continue
                t["full"] += res["agree"] == res["compared"]
                t["full_computable"] += computable and res["agree"] == res["compared"]
            per_book.append(row)
    print(file=sys.stderr)
    if as_json:
        print(json.dumps({"totals": totals, "books": per_book, "skipped": dict(skipped)}))
        return 0
    print(
        f"{'engine':>12} {'books':>6} {'fully agreeing':>15} {'of computable':>14} {'cells agreeing':>15} "
        f"{'refused':>8} {'crashes':>8} {'timeouts':>9} {'engine s':>9} {'peak MiB':>9}"
    )
    for e, t in totals.items():
        share = t["agree"] / t["compared"] if t["compared"] else math.nan
        print(
            f"{e:>12} {t['books']:>6} {t['full']:>15} {t['full_computable']:>6} of {t['computable']:<5} "
            f"{share:>14.2%} {t['refused']:>8} {t['crash']:>8} {t['timeout']:>9} {t['seconds']:>9.1f} "
            f"{t['peak_mib']:>9.0f}"
        )
    print(
        f"one process per book and engine, {timeout:g} s and {MAX_MEMORY_MIB} MiB each; the same cells compared for every "
        "engine (a refusal, crash or timeout counts every cell as disagreeing); volatile cells, cells not computable "
        "offline and their dependents left out for every engine"
    )
    print(f"{len(skipped)} of {len(books)} books skipped (their reference cannot be read){':' if skipped else ''}")
    for name, why in skipped:
        print(f"  {name}: {why}")
    return 0


if __name__ == "__main__":
    _child(*sys.argv[1:6])
