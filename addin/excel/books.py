"""The workbook commands of ``clearquote``: recalc, validate, demo, functions: the headless
engine (:mod:`addin.headless`) with the catalogue's binding (:mod:`addin.excel.catalogue`), which
this host composes; registered on the command line by :mod:`addin.excel.commands`.

Exit codes (docs/cli.md): 0 done; 1 validate found mismatches; 2 bad input (not a workbook,
missing sheet, circular reference, unknown function, bad option) with nothing written; 3
recalculated and written, but formulas read input cells that hold error values (listed).
A run on a cluster (``--scheduler``/``--workers``) goes through the command line's cluster,
handed in as :class:`addin.commands.CliServices`: this host imports no other.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from addin.commands import CliServices, Exit
from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.excel.errors import ExcelUsageError
from addin.headless import BookError, ExcelError, Result, isolation, recalc, show, validate
from addin.headless.isolation import Budget
from addin.progress import progress_bar
from addin.tables import table_text

SHOW_MAX = 25


def _report(result: Result, out: TextIO, err: TextIO | None = None) -> int:
    s = result.stats
    secs = sum(result.seconds.values())
    host = f", {s.host_calls:,} catalogue calls in {s.host_batches:,} batches" if s.host_calls else ""
    print(
        f"{s.formulas:,} formulas{host}, {s.passes} pass{'es' if s.passes != 1 else ''} of the formula engine, in {secs:.2f} s "
        f"(read {result.seconds.get('read', 0):.2f}, plan {result.seconds.get('plan', 0):.2f}, "
        f"evaluate {result.seconds.get('evaluate', 0):.2f}, write {result.seconds.get('write', 0):.2f})",
        file=out,
    )
    if result.repairs:
        print(repairs_note(result.repairs), file=out)
    if s.kept:
        print(f"{len(s.kept)} Excel-semantics rewrites the formula engine refused; those formulas ran as written:", file=out)
        for line in s.kept[:SHOW_MAX]:
            print(f"  {line}", file=out)
    if result.circular_note():
        print(result.circular_note(), file=out)
    errors = result.errors()
    if errors:
        print(f"{len(errors):,} formula cells are errors:", file=out)
        for cell, code, reason in errors[:SHOW_MAX]:
            print(f"  {cell}: {code}{' ' + reason if reason else ''}", file=out)
        if len(errors) > SHOW_MAX:
            print(f"  ... and {len(errors) - SHOW_MAX:,} more", file=out)
    bad_inputs = result.read_input_errors()
    if bad_inputs:
        err = err or sys.stderr
        print(f"error: {len(bad_inputs)} input cells read by formulas hold error values:", file=err)
        for line in bad_inputs[:SHOW_MAX]:
            print(f"  {line}", file=err)
        return Exit.INPUT_ERRORS
    return Exit.OK


def repairs_note(repairs: list[str]) -> str:
    """The package defects repaired before the book was read (:mod:`addin.headless.repair`), one a line."""
    lines = [f"the package has {len(repairs)} defects Excel repairs on open; computed as repaired:"]
    lines += [f"  {r}" for r in repairs[:SHOW_MAX]]
    if len(repairs) > SHOW_MAX:
        lines.append(f"  ... and {len(repairs) - SHOW_MAX:,} more")
    return "\n".join(lines)


def cmd_recalc(
    books: list[str],
    out: str | None,
    in_place: bool,
    cache: str | None,
    quiet: bool,
    scheduler: str | None = None,
    workers: int | None = None,
    budget: Budget | None = None,
    cli: CliServices | None = None,
) -> int:
    # A new file opens with numbers everywhere (LibreOffice too); the user's own file, replaced
    # in place, keeps every formula unless another mode is asked for.
    if out and len(books) > 1:
        raise ExcelUsageError("-o names one output; with several books each is written beside its input (BOOK-recalc.xlsx)")
    mode = cache or ("all" if in_place else "libreoffice")
    budget = budget or Budget()
    if scheduler is not None or workers is not None:
        return _on_cluster(cli, books, scheduler, workers, recalc_task, out, in_place, mode, budget)
    return _each(books, quiet, "recalc", lambda book, **bar: recalc_task(book, out, in_place, mode, budget, **bar))


def _recalc_book(book: str, out: str | None, in_place: bool, mode: str) -> tuple[int, str, str]:
    """One book, in its own child process: (exit code, what the command prints, its warnings)."""
    result, target = recalc(
        book, out, CATALOGUE_FUNCTIONS, in_place=in_place, cache=mode, progress=_child_progress, on_plan=_child_plan, budget=None
    )  # in the book's child already
    text, err = io.StringIO(), io.StringIO()
    code = _report(result, text, err)
    text.write(f"wrote {target} ({_cache_note(result, mode)})\n")
    return code, text.getvalue(), err.getvalue()


def _validate_book(book: str, rtol: float, atol: float) -> tuple[int, str, str]:
    import contextlib

    v = validate(book, CATALOGUE_FUNCTIONS, rtol=rtol, atol=atol, progress=_child_progress, on_plan=_child_plan, budget=None)
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        code = _validation(Path(book).name, v, rtol, atol)
    return code, text.getvalue(), ""


def _child_plan(n: int) -> None:
    isolation.report("plan", n)


def _child_progress(n: int) -> None:
    isolation.report("progress", n)


def _isolated(
    target: str, book: str, args: tuple[Any, ...], budget: Budget | None, **bar: Callable[[int], None]
) -> tuple[int, str, str | None, str]:
    """One book in a child within ``budget``: (exit code, output, the refusal or None, warnings).
    A book the child refuses, or that runs out of memory or time or crashes, is a refusal
    naming it; on a Dask worker the task itself always completes."""
    try:
        code, text, err = isolation.run(target, args, book, budget, **bar)
    except BookError as exc:
        return Exit.BAD_INPUT, "", str(exc), ""
    return code, text, None, err


def recalc_task(
    book: str, out: str | None, in_place: bool, mode: str, budget: Budget | None = None, **bar: Callable[[int], None]
) -> tuple[int, str, str | None, str]:
    return _isolated("addin.excel.books:_recalc_book", book, (book, out, in_place, mode), budget, **bar)


def _validate_task(
    book: str, rtol: float, atol: float, budget: Budget | None = None, **bar: Callable[[int], None]
) -> tuple[int, str, str | None, str]:
    return _isolated("addin.excel.books:_validate_book", book, (book, rtol, atol), budget, **bar)


def _on_cluster(
    cli: CliServices | None,
    books: list[str],
    scheduler: str | None,
    workers: int | None,
    task: Callable[..., Any],
    *shared: Any,
) -> int:
    """One task a book on a Dask cluster (each task evaluates its book in a child of the
    worker); outputs printed here in the books' order, refusals as :func:`_each` does."""
    if cli is None:
        raise ExcelUsageError("--scheduler/--workers: a cluster run needs the command line's cluster (clearquote)")
    paths = [str(Path(b).resolve()) for b in books]
    with cli.cluster(scheduler, workers) as client:
        results = cli.run_tasks(client, task, paths, *shared, label="book", passthrough=(BookError,))
    return _print_results(results, len(books))


def _print_results(results: list[tuple[int, str, str | None, str]], n_books: int) -> int:
    code = Exit.OK
    for c, text, refusal, err in results:
        if refusal is not None:
            if n_books == 1:
                raise BookError(refusal)
            print(f"clearquote: error: {refusal}", file=sys.stderr)
        sys.stdout.write(text)
        sys.stderr.write(err)
        code = max(code, c)
    return code


def _each(books: list[str], quiet: bool, label: str, task: Callable[..., tuple[int, str, str | None, str]]) -> int:
    """``task`` over several books, each in a child of this process: a refused, crashed or
    stopped book is reported with its name (exit 2 in the end) and the others still run; one
    book alone raises, as every command does."""
    code = Exit.OK
    for book in books:
        with progress_bar(label, quiet) as (on_plan, step):
            result = task(book, on_plan=on_plan, progress=step)
        code = max(code, _print_results([result], len(books)))
    return code


def _cache_note(result: Result, mode: str) -> str:
    frozen = len(result.host_arrays) if mode == "libreoffice" else 0
    if mode in ("all", "catalogue"):
        return f"cache {mode}: every formula kept, with its value"
    if not frozen:
        return "cache libreoffice: every formula kept with its value; opens with numbers in Excel and LibreOffice"
    return (
        f"cache libreoffice: every formula's value stored; {frozen:,} cells of catalogue array formulas stored as values "
        "so that LibreOffice shows them; --cache all keeps them as formulas for Excel with the add-in"
    )


def cmd_validate(
    books: list[str],
    rtol: float,
    atol: float,
    quiet: bool,
    scheduler: str | None = None,
    workers: int | None = None,
    budget: Budget | None = None,
    cli: CliServices | None = None,
) -> int:
    budget = budget or Budget()
    if scheduler is not None or workers is not None:
        return _on_cluster(cli, books, scheduler, workers, _validate_task, rtol, atol, budget)
    return _each(books, quiet, "validate", lambda book, **bar: _validate_task(book, rtol, atol, budget, **bar))


def _validation(name: str, v: Any, rtol: float, atol: float) -> int:
    skipped = (
        f"; {v.skipped_volatile:,} volatile cells skipped (NOW/TODAY/RAND and what depends on them)" if v.skipped_volatile else ""
    )
    for why, n in v.skipped_offline.items():
        skipped += f"; {n:,} cells not computable offline skipped (a formula {why}, or reads one)"
    mismatches = v.mismatches
    if v.result.repairs:
        print(f"{name}: {repairs_note(v.result.repairs)}")
    if v.result.circular_note():
        print(f"{name}: {v.result.circular_note()}")
    if not mismatches:
        print(f"{name}: all {v.compared:,} formula cells match the stored values (rtol {rtol:g}, atol {atol:g}){skipped}")
        return Exit.OK
    print(
        f"{name}: {len(mismatches):,} of {v.compared:,} formula cells differ from the stored values (rtol {rtol:g}, atol {atol:g}){skipped}"
    )
    width = max(len(m.cell) for m in mismatches[:SHOW_MAX])
    print(f"  {'cell'.ljust(width)}  {'stored':>22}  {'computed':>22}  why")
    for m in mismatches[:SHOW_MAX]:
        print(f"  {m.cell.ljust(width)}  {show(m.stored):>22}  {show(m.computed):>22}  {m.why}")
    if len(mismatches) > SHOW_MAX:
        print(f"  ... and {len(mismatches) - SHOW_MAX:,} more")
    return Exit.FAILED


def bundled_book(name: str) -> Path:
    """A workbook shipped in the package (``workbooks/``)."""
    ref = resources.files("workbooks").joinpath(name)
    if not ref.is_file():
        raise BookError(f"the bundled workbook {name} is missing from the installation")
    return Path(str(ref))


def _cell(v: Any) -> Any:
    """A computed cell for the printed table: blank, an error's text, or the value."""
    return show(v) if isinstance(v, ExcelError) else v


def cmd_demo(out: str | None, quiet: bool) -> int:
    src = bundled_book("quote_book.xlsx")
    target = Path(out) if out else Path.cwd() / "quote_book-recalc.xlsx"
    print(f"clearquote demo: recalculating the bundled quote book ({src.name}) on the bundled Deribit market ...")
    with progress_bar("recalc", quiet) as (on_plan, step):
        result, target = recalc(
            src, target, CATALOGUE_FUNCTIONS, cache="libreoffice", progress=step, on_plan=on_plan, budget=None
        )  # the bundled book, and the table below reads the live result
    last_row, last_col = result.used("RFQs")
    header = [result.cell("RFQs", 1, c) for c in range(1, last_col + 1)]
    # The quote columns as the book lays them out, from rfq_id to the ask (price and edge follow).
    keep = list(range(1, header.index("ask") + 2))
    rows = [[header[c - 1] for c in keep]]
    for r in range(2, last_row + 1):
        if result.cell("RFQs", r, 1) is None:
            continue
        rows.append([_cell(result.cell("RFQs", r, c)) for c in keep])
    print(table_text(rows))
    s_rows, _ = result.used("Summary")
    print()
    print(
        table_text(
            [["summary", "value"]]
            + [
                [_cell(result.cell("Summary", r, 1)), _cell(result.cell("Summary", r, 2))]
                for r in range(2, s_rows + 1)
                if result.cell("Summary", r, 1) is not None
            ]
        )
    )
    print()
    code = _report(result, sys.stdout)
    print(f"wrote {target} ({_cache_note(result, 'libreoffice')})")
    return code


def cmd_functions(out: TextIO = sys.stdout) -> int:
    from addin.excel.catalogue import signatures

    buf = io.StringIO()
    for _, signature, summary in signatures():
        print(f"{signature}\n    {summary}", file=buf)
    print(buf.getvalue(), end="", file=out)
    print(
        "Excel functions: IronCalc's (the formula engine: IF, SUM, INDEX, MATCH, COUNTIFS, XLOOKUP, INDIRECT, OFFSET, LET, ...);"
        " a function it does not know gives #NAME? in its cell only, as in Excel.",
        file=out,
    )
    return Exit.OK
