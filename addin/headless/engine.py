"""Recalculating a workbook: IronCalc for Excel's functions, host functions evaluated here, in passes.

Why IronCalc: measured on 155 workbooks saved by Excel (``python -m bench corpus``, README
"Headless engine"), it agrees with Excel on more books than any other engine we could run
here, and fastest. It has no custom-function interface, so functions this project provides
(the catalogue, passed in as a :data:`FunctionTable`) are evaluated outside it:

1. each formula that calls a host function is cut at the call (:func:`addin.headless.formula.host_calls`):
   a call that is the whole formula writes its result into the formula's own cell(s); a call
   nested in Excel's functions writes into a scratch cell the rewritten formula refers to;
2. **passes**: IronCalc evaluates the book; every host call whose arguments are no longer
   pending and changed since the last pass is evaluated, all calls of one function in one
   batch (the table's function decides how to vectorise: the catalogue stacks rows); results
   are written; repeat until no argument changes. The number of passes is the depth of the
   host-call chain plus one (a market handle feeding 10,000 RFQ rows: three);
3. values are read back from IronCalc for every formula cell and array member.

A formula that is one call of a host function with plain arguments is not given to IronCalc
at all (:func:`_evaluated_here`): it could not compute it, and parsing it on load was most of
its load of a quote book; :meth:`_Run.prepare` reads its text from the file (``scan``'s
``SheetInfo.calls``) and gives it back to IronCalc when it is not taken as a host call.

Legacy (non-array) formulas get Excel's implicit intersection first (:func:`addin.headless.formula.intersect`).
Volatile cells (NOW, TODAY, RAND, RANDBETWEEN, RANDARRAY) and every cell whose value moves
with them are found by one extra evaluation with the volatile functions shifted, and are
reported so that ``validate`` skips them instead of calling them mismatches.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from operator import is_not
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from addin.headless.bound_names import bound_names, needs_bound_names
from addin.headless.cellinfo import cell_info, needs_cell_info, style_of
from addin.headless.charset import charset_rewrite, code_page, needs_charset
from addin.headless.choosecols import needs_number_arrays, number_arrays
from addin.headless.circular import ITERATION
from addin.headless.columns import Template, relative_cell, template, varies
from addin.headless.comparisons import excel_comparisons, needs_comparisons
from addin.headless.datatables import compute as compute_data_tables
from addin.headless.dates1904 import in_1904, needs_1904, rewrite_1904
from addin.headless.datetext import date_text, needs_date_text
from addin.headless.engine_bounds import BeyondEngine, BoundedModel
from addin.headless.eta import eta_expanded, keeps_file_text, needs_eta, own_parameters
from addin.headless.excel_functions import excel_functions
from addin.headless.extent import CellRefused, clip, fit, has_huge, needs_clip
from addin.headless.formula import (
    LIFTING,
    PLAIN_CELL,
    HostCall,
    array_literal,
    bare_name,
    broadcast,
    day_zero,
    excel_dates,
    function_keys,
    host_calls,
    index_ranges,
    intersect,
    intersected_arguments,
    map_ranges,
    needs_dates,
    needs_day_zero,
    needs_index_ranges,
    needs_intersection,
    needs_reference_operators,
    references,
    split_ref,
    structured,
    top_level_intersection,
)
from addin.headless.host import ENGINE_ANSWER, Apply, FunctionTable, HostFunction, Typed
from addin.headless.host_arguments import (
    element,
    gather,
    intersect_host_arguments,
    lifted_calls,
    lifted_shape,
    needs_host_intersection,
    shape_pending,
    spread,
    takes_one_value,
)
from addin.headless.index_refs import index_refs, needs_index_refs
from addin.headless.isformula import isformula_arrays, needs_isformula
from addin.headless.isolation import NATIVE_OUTPUT_ENV
from addin.headless.letnames import LetNames, book_names
from addin.headless.lifting import lift, needs_lifting
from addin.headless.local_names import local_names
from addin.headless.names import formulatext_of_names, mentions, needs_formulatext, write_out
from addin.headless.names import pattern as name_pattern
from addin.headless.offline import offline_reason, vba_reason
from addin.headless.one_wide_helpers import one_wide
from addin.headless.package import MAX_COLUMNS, MAX_ROWS, PLAIN, Limits, Package, engine_copy, formula_strings, scan
from addin.headless.refops import reference_operators
from addin.headless.repair import repaired_copy
from addin.headless.scan_errors import scan_errors
from addin.headless.semantics import (
    fifteen_digits,
    grouped_comparisons,
    names_arrays,
    needs_fifteen_digits,
    needs_one_cell_ranges,
    needs_own_text,
    needs_rewrite,
    one_cell_ranges,
    whole_array_arguments,
)
from addin.headless.semantics import rewrite as excel_semantics
from addin.headless.sheetcount import needs_sheet_count, sheet_count
from addin.headless.strict import is_strict, transitional_copy
from addin.headless.tables import mention, resolve
from addin.headless.text_limit import needs_text_limit, text_limit
from addin.headless.textparts import fill_defaults
from addin.headless.toolpak_arrays import range_refused
from addin.headless.values import ERROR_CODES, BookError, ExcelError, address, quote_sheet
from addin.headless.visible import Skipped, active_filter, needs_visible, visible
from addin.headless.zero_lookups import needs_zero_lookups, zero_lookups

#: A defined name that is a constant (``Rate = 0.07``, ``"EUR"``, ``TRUE``): IronCalc loads it but gives #NAME?.
_CONSTANT = re.compile(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|"(?:[^"]|"")*"|TRUE|FALSE', re.I)
_STRINGS = re.compile(r'"(?:[^"]|"")*"')
_VOLATILE = re.compile(r"\b(NOW|TODAY|RAND|RANDBETWEEN|RANDARRAY)\s*\(", re.I)
#: A constant argument: a number, a string, TRUE/FALSE or an error value.
_LITERAL = re.compile(r'[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|"(?:[^"]|"")*"|TRUE|FALSE|#[A-Z0-9/!?]+', re.I)
_SHIFT = {"NOW": "(NOW()+1.25)", "TODAY": "(TODAY()+1)"}
SCRATCH = "__clearquote_host"
_SCRATCH_CELL = re.compile(re.escape(f"'{SCRATCH}'!") + r"\$A\$(\d+)(?![\w$:])")


def _host_values(text: str, rows: set[int]) -> str:
    """A nested host call's one-value result, read from its scratch cell as a *value*:
    ``IF(TRUE,'scratch'!$A$n)``. Excel's functions return values, not references, and the
    difference shows: SUM, COUNT and AVERAGE skip text in a reference but convert text given
    as a value (Microsoft, "SUM function": "If an argument is an array or reference, only
    numbers in that array or reference are counted"), so ``SUM(FIXED(1,0))`` is 1, not 0;
    ``ISREF(FIXED(1,0))`` is FALSE. Found by the generative test (docs/headless-semantics.md)."""
    return _SCRATCH_CELL.sub(lambda m: f"IF(TRUE,{m.group(0)})" if int(m.group(1)) in rows else m.group(0), text)


#: Where the host calls' expression arguments are evaluated, each in a region of its own shape.
ARRAYS = "__clearquote_args"
#: Where the functions a host function calls through the formula engine are evaluated (a
#: LAMBDA given to GROUPBY: :data:`addin.headless.host.Apply`); emptied after each batch.
APPLY = "__clearquote_apply"
#: One call with plain arguments: the function's name, and arguments without parentheses,
#: strings, arrays or brackets (what needs no rewrite and no tokenizer).
_PLAIN_CALL = re.compile(r"^=\s*([A-Za-z_][\w.]*)\(([^()\"'{}\[\]#]*)\)\s*$")
#: A pending host result, as text nobody types: calls whose arguments hold it wait for the next pass.
PENDING = "\u2063clearquote:pending"
MAX_PASSES = 64
#: What IronCalc gives for a function it knows by name but has not implemented.
NOT_IMPLEMENTED = "#N/IMPL!"
#: What IronCalc gives for a formula its parser cannot read (and every formula reading it):
#: not an Excel code. Excel shows #NAME? for formula text it cannot read.
UNPARSED = "#ERROR!"


@dataclass(slots=True)
class _Call:
    id: int
    fn: HostFunction
    sheet: int  # IronCalc sheet index of the formula
    row: int
    col: int
    args: list[str]
    whole: bool
    target: tuple[int, int, int]  # (sheet, row, col) of the result's top-left
    shape: tuple[int, int] | None  # array range size for a whole CSE call
    dynamic: bool
    fallback: int | None = None  # scratch row where the engine computes the call itself
    refs: list[Any] = field(default_factory=list)  # per argument, once: _compact references
    lifted: bool = False  # evaluated once per element of its one-value arrays (host_arguments.spread)


@dataclass(slots=True)
class _Column:
    """A run of one host call filled down a column (rows ``first``..``last`` of ``col``): the
    same formula in R1C1 form in each row (:mod:`addin.headless.columns`), evaluated as one
    unit when its inputs are known statically (:meth:`_Run._schedule`), else expanded back into
    one :class:`_Call` a row.

    ``args`` per argument: ``None`` (omitted), ``("const", value)``, ``("ref", compact
    reference)`` (the same cell or range in every row) or ``("rel", sheet, col, offset)``
    (the cell ``offset`` rows from the formula's own row); ``fmt`` is the formula's template
    (what a cell below must render to, to join).
    """

    id: int
    fn: HostFunction
    sheet: int
    col: int
    first: int
    last: int
    args: list[Any]
    fmt: Template


#: Column ids are apart from call ids (which grow as columns are expanded into calls).
_COLUMN_BASE = 1 << 40


@dataclass(slots=True)
class _Expr:
    """An expression argument: its formula, the scratch row measuring it (ROWS, COLUMNS), and
    the region of the arguments sheet it spills into (first row, rows, columns)."""

    formula: str
    row: int
    at: int
    shape: tuple[int, int]


@dataclass
class Stats:
    formulas: int = 0
    host_calls: int = 0
    host_batches: int = 0
    passes: int = 0
    exact_calls: int = 0  # host calls evaluated once, in dependency order (see _Run._schedule)
    iterations: int = 0  # rounds of iterative calculation over circular references
    intersected: int = 0
    kept: list[str] = field(default_factory=list)


@dataclass
class Result:
    """A recalculated book: every formula cell's value, keyed by (sheet title, row, col)."""

    package: Package
    values: dict[tuple[str, int, int], Any]
    anchors: dict[str, set[tuple[int, int]]]
    host_cells: set[tuple[str, int, int]]
    host_arrays: set[tuple[str, int, int]]
    volatile: set[tuple[str, int, int]]
    stats: Stats
    seconds: dict[str, float] = field(default_factory=dict)
    run: Any = None
    #: What must live as long as the result: the transitional copy of a strict book, which
    #: ``package.path`` names and the writer copies from.
    keep: Any = None
    #: Cells no offline engine can compute (external links, cube functions, add-ins' functions)
    #: and their dependents, with the reason: ``validate`` skips them as it skips volatile cells.
    offline: dict[tuple[str, int, int], str] = field(default_factory=dict)
    #: Cells in circular references (sheet title, row, col), each given Excel's value
    #: (:mod:`addin.headless.circular`).
    circular: list[tuple[str, int, int]] = field(default_factory=list)
    #: The spill range of each dynamic array formula whose result spilled beyond the range the
    #: file wrote (sheet title -> (row, col) -> "C1:C5"), written back as the formula's ``ref``.
    spill_refs: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)
    #: The package defects repaired before the book was read, as Excel repairs them on open
    #: (:mod:`addin.headless.repair`), one reason each; the book computed is the repaired one.
    repairs: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.package.path

    def cell(self, sheet: str, row: int, col: int) -> Any:
        """Any cell's value after the calculation (formula cells as computed, inputs as given)."""
        key = (sheet, row, col)
        if key in self.values:
            return self.values[key]
        si = self.run.names.get(sheet.upper()) if self.run is not None else None
        return None if si is None else self.run._value(si, row, col)

    def used(self, sheet: str) -> tuple[int, int]:
        """(last row, last column) holding anything on ``sheet``."""
        si = self.run.names.get(sheet.upper())
        if si is None:
            raise BookError(f"{self.path.name}: no sheet {sheet!r}")
        _, max_row, _, max_col = self.run.model.get_sheet_dimensions(si)
        return max_row, max_col

    def circular_note(self) -> str | None:
        """One line naming the cells in circular references and what they were given, or None."""
        return circular_note(self.circular, self.package, self.stats.iterations)

    def read_input_errors(self) -> list[str]:
        """Input (non-formula) cells holding an error value that some formula reads."""
        return self.run.read_input_errors() if self.run is not None else []

    def errors(self) -> list[tuple[str, str, str]]:
        """(cell, code, reason) for every formula cell whose value is an error."""
        return [
            (address(s, r, c), v.code, v.reason)
            for (s, r, c), v in sorted(self.values.items(), key=lambda kv: kv[0])
            if isinstance(v, ExcelError)
        ]


def recalculate(
    path: Path | str,
    functions: FunctionTable | None = None,
    *,
    limits: Limits | None = None,
    cached: bool = False,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    columns: bool = True,
) -> Result:
    """Evaluate every formula of the workbook at ``path`` (only read), with ``functions`` as host functions.

    ``cached=True`` also reads the values the file stores (``Result.package.sheets[i].cached``).
    ``columns=False`` evaluates a host call filled down a column one call a cell instead of
    as one unit (the same values: tests compare the two).
    Raises :class:`BookError` for files refused by :class:`~addin.headless.package.Limits` or unreadable.

    Python's cyclic garbage collector is paused meanwhile: with a million live objects (a
    100,000-row book) its full collections took about half the evaluation (measured 14.9 s
    against 8.1 s), and the engine makes no reference cycles worth collecting.
    """
    with gc_paused():
        return _recalculate(path, functions, limits, cached, progress, on_plan, columns)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block (on again after, if it was on).

    What the block left alive joins the oldest generation without a collection: the collector
    would otherwise walk all of it at the first allocation after the block (everything made
    while it was off is still "young"): a 10,000-row book left ~1 million tuples and dicts
    (its formula tables, the values), walked in 68 ms between the evaluation and the save, and
    ~0.7 s at 100,000 rows, finding nothing (the engine makes no reference cycles). ``freeze``
    then ``unfreeze`` moves every tracked object to the oldest generation without visiting
    one; a later full collection visits them as it would have. Done only when nothing else
    in the process is frozen (``addin.fix.run.settle_heap`` freezes its start-up heap): unfreezing
    would hand that back to the collector.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _recalculate(
    path: Path | str,
    functions: FunctionTable | None,
    limits: Limits | None,
    cached: bool,
    progress: Callable[[int], None] | None,
    on_plan: Callable[[int], None] | None,
    columns: bool = True,
) -> Result:
    t0 = time.perf_counter()
    keep: list[tempfile.TemporaryDirectory[str]] = []
    part_bytes = (limits or Limits()).part_bytes
    if is_strict(Path(path)):  # Strict Open XML: read as the transitional copy Excel makes on open
        keep.append(tempfile.TemporaryDirectory(prefix="clearquote-strict-"))
        path = transitional_copy(Path(path), Path(keep[-1].name) / Path(path).name, part_bytes)
    # package defects Excel repairs on open: read as the repaired copy (a sound book is handed on as is)
    repairing = tempfile.TemporaryDirectory(prefix="clearquote-repair-")
    repairs = repaired_copy(Path(path), Path(repairing.name) / Path(path).name, part_bytes)
    if repairs:
        keep.append(repairing)
        path = Path(repairing.name) / Path(path).name
    else:
        repairing.cleanup()
    # columns: the host calls with plain arguments are left out of the formula engine's copy (_cuts)
    pkg = scan(path, limits, cached=cached, calls=_evaluated_here(functions or {}) if columns else None)
    model = _load(pkg, limits or Limits())
    t1 = time.perf_counter()
    run = _Run(model, pkg, functions if functions is not None else {}, limits or Limits(), columns)
    run.prepare()
    if on_plan is not None:
        on_plan(run.stats.formulas)
    t2 = time.perf_counter()
    run.passes()
    compute_data_tables(run)
    values = run.collect()
    volatile = run.volatile_dependents(values)
    offline = run.offline_dependents()
    if progress is not None:
        progress(run.stats.formulas)
    t3 = time.perf_counter()
    seconds = {"read": t1 - t0, "plan": t2 - t1, "evaluate": t3 - t2}
    run.release()
    return Result(
        pkg,
        values,
        run.anchors(),
        run.host_cells,
        run.host_arrays,
        volatile,
        run.stats,
        seconds,
        run,
        keep or None,
        offline,
        run.circular,
        run.spill_refs,
        repairs,
    )


def _cuts(pkg: Package) -> dict[str, tuple[re.Pattern[bytes], int]]:
    """By sheet part, the formulas the formula engine is not given (:func:`engine_copy`'s
    ``cut``): the host calls with plain arguments :func:`scan` kept (:func:`_evaluated_here`).
    Refused cells are left out of ``SheetInfo.calls`` here (they are errors in their cells,
    never prepared; their ``<f>`` is left out of the copy anyway)."""
    if pkg.cut is None:
        return {}
    out = {s.part: (pkg.cut, len(s.calls)) for s in pkg.sheets if s.calls}
    for s in pkg.sheets:
        if s.calls:
            for cell in s.refused:
                s.calls.pop(cell, None)
    return out


def _evaluated_here(functions: FunctionTable) -> Callable[[str], bool]:
    """Whether a call of the function named so (as written) is left out of the formula
    engine's copy: a host function evaluated here (no ``fallback``, which needs the formula
    engine's own answer; not SUBTOTAL or AGGREGATE, whose cells prepare looks for).

    The formula engine cannot compute such a call (it is ``#NAME?`` to it) and the engine
    writes its result over it, so parsing it on load is work for nothing: at 10,000 quote-book
    rows four formulas in seven, more than half of IronCalc's load. :meth:`_Run.prepare` takes
    their text from the file instead, and gives a formula back to the formula engine when it
    is not taken as a host call after all."""
    table = _Merged(excel_functions(), functions)

    def host(name: str) -> bool:
        key = bare_name(name)
        return key in table and not table[key].fallback and not needs_visible(key + "(")

    return host


def _load(pkg: Package, limits: Limits) -> Any:
    """The formula engine's model of ``pkg``, its copy without the refused cells; a call outside
    its function's arity is refused first (:func:`addin.headless.loadscreen.screen`): Excel
    takes none, and IronCalc 0.9.1 answers some with a wrong value and panics on others."""
    from addin.headless.loadscreen import screen

    screen(pkg)
    return _load_once(pkg, limits)


def _load_once(pkg: Package, limits: Limits) -> Any:
    import ironcalc as ic

    with tempfile.TemporaryDirectory(prefix="clearquote-") as tmp:
        drop = {s.part: {*s.refused, *((t.area[0], t.area[1]) for t in s.data_tables)} for s in pkg.sheets}
        cut = _cuts(pkg)
        done: set[str] = set()
        copy = engine_copy(
            pkg.path,
            Path(tmp) / f"book{pkg.path.suffix.lower()}",
            limits,
            pkg.capped,
            drop,
            pkg.date1904,
            pkg.dated,
            cut,
            done,
            pkg.escaped,
            pkg.formatted,
        )
        for s in pkg.sheets:
            if s.calls is not None and s.part not in done:
                s.calls = None  # not cut after all: the formula engine has them
        # in a book's child, a file its parent reads should the engine abort (addin.headless.isolation)
        chatter = Path(os.environ.get(NATIVE_OUTPUT_ENV) or Path(tmp) / "stderr")
        try:
            # IronCalc prints notes such as "Unexpected type (empty) in Sheet!B1" (an empty cached
            # value, as openpyxl writes) straight to the process's stdout: kept for a failure only.
            with _native_output_to(chatter):
                model = ic.load_from_xlsx(str(copy), "en", "UTC")
            # read: what it printed is no failure's reason, and must not become the reason given
            # for a crash later in this child (the parent reports the file's last line)
            with contextlib.suppress(OSError):
                chatter.write_bytes(b"")
            # every formula the engine writes from here on is checked against what IronCalc survives
            return BoundedModel(model)
        except BaseException as exc:  # the Rust side raises WorkbookError or, on a bug, a panic
            if isinstance(exc, KeyboardInterrupt):
                raise
            said = chatter.read_text(errors="replace") if chatter.exists() else ""
            # a panic's backtrace says where in the engine, not why: its first line is kept
            said = said.split("stack backtrace:")[0].strip()[-300:]
            raise BookError(
                f"{pkg.path.name}: the formula engine cannot read it ({type(exc).__name__}: {exc}){' ' + said if said else ''}"
            ) from None


@contextlib.contextmanager
def _native_output_to(path: Path) -> Iterator[None]:
    """File descriptors 1 and 2 redirected to ``path`` (what a native library prints there)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "wb") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


@functools.lru_cache(maxsize=4096)
def excel_function(name: str) -> bool:
    """Whether ``name`` (bare, upper case) is an Excel function: in openpyxl's list of Excel's
    functions, or one the formula engine knows (a call with no arguments is not ``#NAME?`` in a
    scratch model of its own: a wrong argument count is another error)."""
    from openpyxl.utils.formulas import FORMULAE

    if name in FORMULAE:
        return True
    import ironcalc as ic

    model = ic.create("probe", "en", "UTC")
    model.set_user_input(0, 1, 1, f"={name}()")
    model.evaluate()
    return bool(model.get_formatted_cell_value(0, 1, 1) != "#NAME?")


class _Run:
    def __init__(self, model: Any, pkg: Package, functions: FunctionTable, limits: Limits, columns: bool = True) -> None:
        self.model = model
        self.pkg = pkg
        self._present: dict[int, list[tuple[int, int]]] | None = None  # _used, read once
        self._extents: dict[int, tuple[int, int]] = {}  # _extent, by sheet
        self.circular: list[tuple[str, int, int]] = []  # cells in circular references (collect)
        self.limits = limits
        self.functions = _Merged(excel_functions(pkg.date1904), in_1904(functions) if pkg.date1904 else functions)
        self.code_page = code_page(pkg.application)  # CHAR and CODE: the saving platform's character set
        self.stats = Stats()
        props = model.get_worksheets_properties()
        by_name = {p["name"].upper(): i for i, p in enumerate(props)}
        self.index: dict[str, int] = {}
        for s in pkg.sheets:
            if s.name.upper() in by_name:
                self.index[s.name] = by_name[s.name.upper()]
                for r, c in s.valueless:  # IronCalc's 0 (or first shared string) for a typed empty cell
                    sj = by_name[s.name.upper()]
                    if model.get_cell_content(sj, r, c) != "" and not model.get_cell_formula(sj, r, c):
                        # a member of an array formula's range is the formula's: IronCalc refuses
                        with contextlib.suppress(Exception):
                            model.range_clear_contents(sj, r, c, r, c)
        self.names = {p["name"].upper(): i for i, p in enumerate(props)}
        self.titles = [p["name"] for p in props]
        #: The book's worksheets, counted before the engine adds sheets of its own (sheetcount)
        self.worksheets = len(props)
        self.calls: list[_Call] = []
        #: Runs of one plain host call filled down a column (see _Column); off: one call a cell.
        self.use_columns = columns
        self.columns: list[_Column] = []
        self._open: dict[tuple[int, int], tuple[_Column, _Call]] = {}  # (sheet, col) -> its last run
        self._absorbed: set[int] = set()  # calls that became the first row of a column
        #: (sheet, col) -> [(first row, values)]: the numbers columns wrote (None: read the
        #: cell), which collect takes as they are instead of reading them back
        self._written: dict[tuple[int, int], list[tuple[int, list[float | None]]]] = {}
        #: (sheet, col) -> [text, its row, last row repeating it, template]: a formula prepare
        #: left as written, and the rows below that repeat it
        self._as_written: dict[tuple[int, int], list[Any]] = {}
        #: (sheet, column) -> [formula as written, its row, last row, its template, its rewrite,
        #: the rewrite's template]: a rewritten formula filled down (:meth:`_rewrites_above`)
        self._rewritten: dict[tuple[int, int], list[Any]] = {}
        self.scratch: int | None = None
        self.scratch_rows = 0
        self.volatile_cells: list[tuple[int, int, int, str]] = []
        self.offline_cells: dict[tuple[str, int, int], str] = {}
        self.spills: dict[int, list[tuple[int, int, int]]] = {}
        self.host_cells: set[tuple[str, int, int]] = set()
        self.host_arrays: set[tuple[str, int, int]] = set()
        self.range_names = frozenset(n.upper() for n, _, text in pkg.names if ":" in text and not n.startswith("_xlnm."))
        self.defined = {(n.upper(), scope): text for n, scope, text in pkg.names}
        self._defined_upper = frozenset(n for n, _ in self.defined)
        #: Names whose definition no offline engine can compute (``[1]!MonthNames``: a name of
        #: another workbook), with the reason, and the regex finding them in a formula
        self._offline_names: dict[str, str] = {}
        for n, _, text in pkg.names:
            why = offline_reason(text, function_keys(text), self.functions) if text else None
            if why is not None and not n.startswith("_xlnm."):
                self._offline_names[n.upper()] = why
        self._offline_words = (
            re.compile(r"(?<![\w.!\]'])(" + "|".join(map(re.escape, self._offline_names)) + r")(?![\w.(!\['])", re.I)
            if self._offline_names
            else None
        )
        #: Names by (upper-case name, scope sheet title or None), and the regex finding those the
        #: engine does not evaluate (addin.headless.names)
        self.name_texts = {
            # a deleted reference in the text (``S!$A$1:#REF!``) read as #REF! before the text is parsed
            (n.upper(), pkg.sheets[scope].name if scope is not None and scope < len(pkg.sheets) else None): _sheet_errors(
                text.lstrip("=")
            )
            for n, scope, text in pkg.names
            if text and not n.startswith("_xlnm.")
        }
        self.name_words = name_pattern(self.name_texts)
        self.book_sheets = [s.name for s in pkg.sheets]
        self.reasons: dict[tuple[int, int, int], str] = {}
        self.consts: dict[tuple[int, int], Any] = {}  # constant arguments: literals and array constants
        self.arg_exprs: dict[tuple[int, int], _Expr] = {}  # expression arguments, by (call id, position)
        self.arrays: int | None = None
        self.arrays_rows = 0
        self.applied: int | None = None  # the APPLY sheet, once made
        #: Nested calls of a host function whose result's shape is known once computed (GROUPBY
        #: inside INDEX): call id -> (the formula's record [sheet, row, col, text], the scratch
        #: reference the text holds for it, the shape of the region it points at).
        self.respill: dict[int, tuple[list[Any], str, tuple[int, int]]] = {}
        self.moved = False
        self._refs: dict[tuple[str, int], tuple[int, int, int, int, int] | None] = {}
        #: Cells whose formula as written calls SUBTOTAL or AGGREGATE (noted before any rewrite),
        #: and what those functions leave out of each sheet, read when first needed (visible)
        self._subtotals: set[tuple[int, int, int]] = set()
        self._skips: dict[int, Skipped] | None = None
        #: By sheet index, the host calls left out of the formula engine's copy (_cuts): their
        #: text as the file has it, until prepare takes them as host calls or gives them back
        self._cut = {self.index[s.name]: s.calls for s in pkg.sheets if s.calls and s.name in self.index}

    # ------------------------------------------------------------------ prepare

    def _defined_names(self) -> None:
        """Names IronCalc cannot evaluate (constants such as ``Rate = 0.07``) are given to it
        as scratch cells holding their value, under the same name and scope.

        Notes
        -----
        IronCalc's xlsx reader keeps every ``definedName`` of ``workbook.xml`` under its name
        and scope (``localSheetId``), whatever its text: checked on every book of the shared
        corpus and of the holdout, and over generated books (tests/workbook/test_names_scale.py).
        So a name whose text is not a constant is the formula engine's already and is left to
        it, and a constant one exists to be pointed at its scratch cell. IronCalc is not asked
        for its list: ``Model.get_defined_name_list`` is quadratic in the number of names in
        0.9.1 (17.7 s at 20,000 names; docs/headless-semantics.md, limits).
        """
        for name, scope, text in self.pkg.names:
            if name.startswith("_xlnm.") or not text:
                continue
            si = None
            if scope is not None:
                if scope >= len(self.pkg.sheets) or self.pkg.sheets[scope].name not in self.index:
                    continue
                si = self.index[self.pkg.sheets[scope].name]
            text = _sheet_errors(text)  # ``Sheet1!#REF!`` (a name whose cells were deleted) is #REF!
            if not _CONSTANT.fullmatch(text.lstrip("=").strip()):
                continue  # a reference or an expression (LAMBDA, LET...): IronCalc evaluates those itself
            sheet = self._scratch_sheet()
            self.scratch_rows += 1
            cell = f"'{SCRATCH}'!$C${self.scratch_rows}"
            try:
                self.model.update_cell_with_formula(sheet, self.scratch_rows, 3, "=" + text.lstrip("="))
                try:
                    self.model.update_defined_name(name, si, name, si, cell)
                except Exception:  # not the reader's after all (a case the check above never met)
                    self.model.new_defined_name(name, si, cell)
            except Exception as exc:  # a name Excel itself would not accept: its users get #NAME?
                self.stats.kept.append(f"defined name {name}: {exc}")

    def prepare(self) -> None:
        # the rewrites' LET/LAMBDA names avoid the book's defined names (addin.headless.letnames)
        with book_names(n for n, _, _ in self.pkg.names):
            self._prepare()

    def _prepare(self) -> None:
        # the cells the book holds before anything spills: a dynamic array's spill cells are
        # those the engine fills beyond them (collected by _spilled)
        self._held: set[tuple[int, int, int]] | None = None
        self._formula_cells_of: dict[int, frozenset[tuple[int, int]]] = {}
        self.spill_refs: dict[str, dict[tuple[int, int], str]] = {}
        if any(fc.dynamic for _, _, _, _, fc in self._special_formulas()):
            self._held = set(self.model.get_all_cells())
            self._held.update((si, r, c) for si, cells in self._cut.items() for r, c in cells)  # held by the book
        self._defined_names()
        hosts: dict[str, bool] = {}
        tables = mention(self.pkg.tables) if self.pkg.tables else None
        for s in self.pkg.sheets:  # beyond Excel's limits: left out of the engine's copy
            for (r, c), why in s.refused.items():
                if s.name in self.index:
                    self.stats.formulas += 1
                    self._refuse_cell(self.index[s.name], r, c, s.formulas[(r, c)], "#NAME?", f"refused: {why}")
        cut = self._cut
        for _, si, r, c, fc in self._formulas():
            raw = cut[si].get((r, c)) if si in cut else None
            if raw is None:
                text = self.model.get_cell_formula(si, r, c)
                if not text:
                    continue
            else:
                text = "=" + raw.decode()
            text = self._decoded_strings(si, r, c, fc, text, raw is None)
            self.stats.formulas += 1
            try:
                if raw is not None:
                    if self._takes_cut(si, r, c, fc, text):
                        continue
                    text = self._give_back(si, r, c, text)
                self._prepare_cell(si, r, c, fc, text, tables, hosts)
            except BookError:
                raise
            except CellRefused as exc:
                self._refuse_cell(si, r, c, fc, exc.code, exc.reason)
            except Exception as exc:  # the tokenizer or the engine refuses text Excel would not have saved
                self._refuse_cell(si, r, c, fc, "#NAME?", f"the formula cannot be parsed ({type(exc).__name__}: {exc})")
        self._open = {}
        self._as_written = {}
        self._rewritten = {}
        if self._absorbed:  # the first rows of columns are the columns' now
            self.calls = [c for c in self.calls if c.id not in self._absorbed]
            renumbered: dict[int, int] = {}
            for i, call in enumerate(self.calls):
                renumbered[call.id] = i
                call.id = i
            # the nested calls whose blocks are sized once computed follow their calls' new ids
            self.respill = {renumbered[k]: v for k, v in self.respill.items() if k in renumbered}
            self._absorbed = set()

    def _decoded_strings(self, si: int, r: int, c: int, fc: Any, text: str, loaded: bool) -> str:
        """The formula with its string literals' ST_Xstring escapes decoded
        (:func:`addin.headless.package.formula_strings`), before anything reads its text; the
        formula engine, which keeps them as written, is given the decoded text where it
        ``loaded`` the formula (a formula cut out of its copy is given its text later)."""
        if "_x" not in text:
            return text
        decoded = formula_strings(text)
        if decoded != text and loaded:
            self._set_formula(si, r, c, fc, decoded, text)
        return decoded

    def _takes_cut(self, si: int, r: int, c: int, fc: Any, text: str) -> bool:
        """Whether a host call left out of the formula engine's copy is taken as a host call:
        the cell above filled down, or a plain host call (what :meth:`_prepare_one` would find
        first for this text; the formula-engine shortcuts between cannot apply to a host call)."""
        if self.use_columns and self._extends_column(si, r, c, text):
            return True
        return self._plain_host_call(si, r, c, fc, text)

    def _give_back(self, si: int, r: int, c: int, text: str) -> str:
        """A formula left out of the formula engine's copy, given to it after all (its text as
        the file writes it); the formula engine's own text of it, as it would have loaded it."""
        self.model.update_cell_with_formula(si, r, c, text)
        return str(self.model.get_cell_formula(si, r, c) or text)

    def _prepare_cell(
        self, si: int, r: int, c: int, fc: Any, text: str, tables: re.Pattern[str] | None, hosts: dict[str, bool]
    ) -> None:
        if needs_visible(text):  # the cells SUBTOTAL/AGGREGATE leave out depend on the rows: no shortcut
            self._subtotals.add((si, r, c))
            if self._any_skipped():
                self._prepare_visible(si, r, c, fc, text, tables, hosts)
                return
        self._prepare_one(si, r, c, fc, text, tables, hosts)

    def _prepare_one(
        self, si: int, r: int, c: int, fc: Any, text: str, tables: re.Pattern[str] | None, hosts: dict[str, bool]
    ) -> None:
        """The rewrites one formula needs for Excel's semantics, and its host calls cut out."""
        if self.use_columns and fc.array is None and not fc.dynamic and fc.text is None:
            if self._extends_column(si, r, c, text):
                return  # the host call above, filled down: one string comparison, no parsing
            if self._repeats_above(si, r, c, text):
                return  # the formula above filled down, which needed nothing: neither does this one
            if self._rewrites_above(si, r, c, fc, text):
                return  # the formula above filled down, rewritten by text alone: its rewrite filled down
        if fc.array is None and self._plain_host_call(si, r, c, fc, text):
            return  # =CQ_BLACK(D2,G2,C2,H2,I2): the common formula, recorded without the tokenizer
        original = text
        plain = self.use_columns and fc.array is None and not fc.dynamic and fc.text is None
        pure = plain and self._text_only(text, tables)
        text = self._excel_text(si, r, c, fc, text, tables)
        keys = function_keys(text)
        hoisted = any(hosts.setdefault(k, k in self.functions) for k in keys) and self._hoist(si, r, c, fc, text)
        if not hoisted:
            if needs_index_ranges(text):
                text = index_ranges(text)
                pure = False
            if fc.array is None and not fc.dynamic and needs_intersection(text, self.range_names):
                new = intersect(text, self.range_names)
                self.stats.intersected += new != text
                pure = pure and new == text
                text = new
            text = _filled(fc, r, c, text)
            if needs_text_limit(text):  # last: the bound wraps the text as IronCalc will evaluate it
                text = text_limit(text)
            if text != original:
                self._set_formula(si, r, c, fc, text, original)
        volatile = _VOLATILE.search(text) is not None
        if volatile:
            self.volatile_cells.append((si, r, c, text))
        why = self._offline(fc.text or original, keys)
        if why is not None:
            self.offline_cells[(self.titles[si], r, c)] = why
        elif not (hoisted or volatile or any(hosts.get(k) for k in keys)):
            self._remember(si, r, c, fc, original, text, pure)

    def _offline(self, text: str, keys: set[str]) -> str | None:
        """Why a formula (as the file has it) cannot be computed offline, None when it can: an
        external link, a cube or add-in function (:func:`offline_reason`), a macro of the book's
        VBA project (:func:`vba_reason`), a name of another workbook."""
        why = offline_reason(text, keys, self.functions)
        if why is None and self.pkg.macros and keys:
            why = vba_reason(keys, self.functions, self._defined_upper, excel_function)
        if why is None and self._offline_words is not None:
            used = self._offline_words.search(_STRINGS.sub('""', text))
            if used is not None:
                why = f"reads the name {used.group(1)}, which {self._offline_names[used.group(1).upper()]}"
        return why

    def _remember(self, si: int, r: int, c: int, fc: Any, original: str, text: str, pure: bool) -> None:
        """Note a formula the rows below may repeat: left as written (:meth:`_repeats_above`) or
        rewritten from its text alone (:meth:`_rewrites_above`)."""
        if self.use_columns and text == original and not (fc.text or fc.array or fc.dynamic):
            self._as_written[(si, c)] = [original, r, r, None]  # left to the formula engine as written
        elif pure and text != original:
            self._rewritten[(si, c)] = [original, r, r, None, text, None]

    def _text_only(self, text: str, tables: re.Pattern[str] | None) -> bool:
        """Whether :meth:`_excel_text` rewrites ``text`` from its text alone, the same way at
        every row: no structured reference, name, 3-D reference, ``@``, or range to the sheet's
        edge or over the range limit (those rewrites read the book: its names, tables, used
        cells), nor reference operators (their areas depend on the addresses). The rest (comparisons, 1904 dates, IronCalc's semantics, fifteen digits, date
        parts, date text, one-cell ranges) move operands without reading their addresses, so the
        rewrite of a formula filled down is the rewrite filled down."""
        if "@" in text and ":" in text:
            return False
        if tables is not None and tables.search(text):
            return False
        if (self.name_words is not None or ":" in text) and mentions(text, self.name_words):
            return False
        if needs_reference_operators(text):  # an intersection's area is read from the addresses
            return False
        if needs_index_refs(text):  # the cell INDEX picks is read from the addresses
            return False
        return not (needs_clip(text) or has_huge(text, self.limits.range_cells) or needs_cell_info(text))

    def _rewrites_above(self, si: int, r: int, c: int, fc: Any, text: str) -> bool:
        """Whether ``text`` is the formula above it filled down (the same in R1C1 form) when
        that one was rewritten from its text alone (:meth:`_text_only`): this one's rewrite is
        then that rewrite filled down (string substitution, no tokenizer), placed at once."""
        seen = self._rewritten.get((si, c))
        if seen is None or seen[2] != r - 1:
            return False
        if seen[3] is None:  # the templates are made when a second row comes
            seen[3], seen[5] = template(seen[0], seen[1]), template(seen[4], seen[1])
        if seen[3].render(r) != text:
            del self._rewritten[(si, c)]
            return False
        seen[2] = r
        self._set_formula(si, r, c, fc, seen[5].render(r), text)
        return True

    def _repeats_above(self, si: int, r: int, c: int, text: str) -> bool:
        """Whether ``text`` is the formula above it filled down (the same in R1C1 form), when
        that one was left to the formula engine as written: every check of :meth:`_prepare_one`
        looks at what filling down keeps (functions, names, range sizes, host calls), so this
        one is left as written too, and is not looked at again."""
        seen = self._as_written.get((si, c))
        if seen is None or seen[2] != r - 1:
            return False
        if seen[3] is None:  # the template is made when a second row comes
            seen[3] = template(seen[0], seen[1])
        if seen[3].render(r) != text:
            del self._as_written[(si, c)]
            return False
        seen[2] = r
        return True

    def _excel_text(self, si: int, r: int, c: int, fc: Any, text: str, tables: re.Pattern[str] | None) -> str:
        """The formula rewritten where the formula engine departs from Excel (names, the
        file's own text, huge ranges, structured references, dates, IronCalc's semantics)."""
        # in an array formula, names written in it may hold arrays (before lifting adds its own)
        arrays_named = (fc.array is not None or bool(fc.dynamic)) and names_arrays(text)
        if fc.array is None and not fc.dynamic and "@" in text and ":" in text:
            text = whole_array_arguments(text)
        if fc.text is not None:
            text = _file_text(formula_strings(fc.text), text, tables)
        if tables is not None and tables.search(text):
            text = structured(text, lambda ref, si=si, r=r, c=c: resolve(ref, self.pkg.tables, self.titles[si], r, c))
        text = local_names(text)  # before names are written out: a LET name the book defines stays the LET's
        text = self._as_named(si, r, c, text)
        if (self.name_words is not None or ":" in text) and mentions(text, self.name_words):
            text = write_out(text, self.titles[si], r, c, self.name_texts, self.book_sheets)
        text = _forms_ironcalc_lacks(text)
        array_formula = fc.array is not None or bool(fc.dynamic)
        text = self._book_text(si, text, array_formula)
        text = one_wide(text)  # BYROW over one column: each row one value (addin.headless.one_wide_helpers)
        text = self._bound_names(si, text)
        text = scan_errors(text)  # an error at a later value is that value only: addin.headless.scan_errors
        if needs_lifting(text, array_formula):  # one-value parameters given arrays: addin.headless.lifting
            text = lift(text, array_formula, _Hoisted(self.functions), partial(self._reads_arrays, si), self._host_lifts)
        if needs_zero_lookups(text):  # IronCalc's exact lookups of 0 match blanks: addin.headless.zero_lookups
            text = zero_lookups(text, array_formula, partial(self._reads_arrays, si))
        if needs_one_cell_ranges(text):
            text = one_cell_ranges(text)
        if fc.array is None and not fc.dynamic and needs_comparisons(text):  # scalar formulas: see comparisons
            text = excel_comparisons(text)
        if needs_date_text(text):
            text = date_text(text)
        text = _defaults_and_early_dates(text)
        if self.pkg.date1904 and needs_1904(text):
            text = rewrite_1904(text)
        if needs_rewrite(text):
            text = excel_semantics(text, self.pkg.date1904)
        if needs_charset(text):  # after lifting: one value a call (addin.headless.charset)
            text = charset_rewrite(text, self.code_page)
        if needs_fifteen_digits(text, arrays_named):  # see fifteen_digits
            text = fifteen_digits(text)
        if needs_dates(text):
            text = excel_dates(text)
        return text

    def _as_named(self, si: int, r: int, c: int, text: str) -> str:
        """The rewrites that read names and 3-D references as the book writes them, so before
        those are written out: FORMULATEXT of a name (:func:`formulatext_of_names`), and the sheet
        counts, which must not see the engine's own sheets (:mod:`addin.headless.sheetcount`)."""
        if needs_formulatext(text):
            text = formulatext_of_names(text, self.titles[si], r, c, self.name_texts)
        if needs_sheet_count(text):
            text = sheet_count(text, self.book_sheets, self.worksheets)
        return text

    def _bound_names(self, si: int, text: str) -> str:
        """Host calls reading LET names or LAMBDA parameters given what the names stand for,
        before they are cut out of the formula (:mod:`addin.headless.bound_names`)."""
        if not needs_bound_names(text) or not any(k in self.functions for k in function_keys(text)):
            return text
        return bound_names(text, self.functions, partial(self._takes, si), partial(self._span, si))

    def _takes(self, si: int, key: str, args: list[str]) -> bool:
        """Whether the host function ``key`` takes a call of these argument texts (cut out of the formula)."""
        fn = self.functions.get(key)
        return fn is not None and (fn.takes is None or fn.takes([(self._arg_kind(a, si), a) for a in args]))

    def _book_text(self, si: int, text: str, array_formula: bool = False) -> str:
        """The rewrites that read the book, not only the formula's text: SUBTOTAL/AGGREGATE's hidden
        rows and nested subtotals left out, ranges to the sheet's edge cut to the used cells, huge
        ranges to the cells that exist, CELL's formatting answers from the cell's style, ISFORMULA
        of a range in an array formula from the cells holding formulas
        (:mod:`addin.headless.visible`, :mod:`addin.headless.extent`, :mod:`addin.headless.cellinfo`,
        :mod:`addin.headless.isformula`)."""
        if array_formula and needs_isformula(text):
            text = isformula_arrays(text, lambda sheet: self._formula_cells(sheet, si))
        if needs_visible(text) and self._any_skipped():
            text = visible(text, lambda sheet: self._skipped(sheet, si))
        if needs_clip(text):
            text = clip(text, lambda sheet: self._extent(sheet, si))
        if has_huge(text, self.limits.range_cells):
            text = fit(text, self.limits.range_cells, lambda sheet: self._used(sheet, si))
        if needs_cell_info(text):
            text = cell_info(text, lambda sheet, r, c: self._style(sheet, si, r, c))
        return text

    def _formula_cells(self, sheet: str | None, si: int) -> frozenset[tuple[int, int]] | None:
        """The cells of a sheet that hold a formula as the file has them: each formula's cell and
        every cell of an array formula's or a dynamic array's range; None for no such sheet."""
        index = si if sheet is None else self.names.get(sheet.upper())
        if index is None or index >= len(self.titles):
            return None
        cached = self._formula_cells_of.get(index)
        if cached is None:
            info = next((s for s in self.pkg.sheets if s.name == self.titles[index]), None)
            cells: set[tuple[int, int]] = set()
            for (r, c), fc in info.formulas.items() if info is not None else ():
                r2, c2 = fc.array or (r, c)
                cells.update((rr, cc) for rr in range(r, r2 + 1) for cc in range(c, c2 + 1))
            cached = self._formula_cells_of[index] = frozenset(cells)
        return cached

    def _style(self, sheet: str | None, si: int, r: int, c: int) -> tuple[str, str] | None:
        index = si if sheet is None else self.names.get(sheet.upper())
        return None if index is None else style_of(self.model, index, r, c)

    def _prepare_visible(
        self, si: int, r: int, c: int, fc: Any, text: str, tables: re.Pattern[str] | None, hosts: dict[str, bool]
    ) -> None:
        """A formula calling SUBTOTAL or AGGREGATE in a book with hidden rows or nested
        subtotals: rewritten on its own (:mod:`addin.headless.visible`), never through the
        column shortcuts, which assume a formula filled down needs the rewrite filled down."""
        columns, self.use_columns = self.use_columns, False
        try:
            self._prepare_one(si, r, c, fc, text, tables, hosts)
        finally:
            self.use_columns = columns

    def _any_skipped(self) -> bool:
        """Whether SUBTOTAL/AGGREGATE may leave anything out in this book: a hidden row within
        a sheet's used rows, or a cell calling either function."""
        if self._skips is None:
            self._skips = {}
            for sheet in self.pkg.sheets:
                si = self.index.get(sheet.name)
                if si is None:
                    continue
                # the sheet's dimensions (styled empty cells included: a bound, read at once, not a scan of the cells)
                _, last, _, _ = self.model.get_sheet_dimensions(si)
                hidden = frozenset(r for r in range(1, last + 1) if self.model.is_row_hidden(si, r))
                self._skips[si] = Skipped(
                    hidden,
                    bool(hidden) and active_filter(self.pkg.path, sheet.part),
                    frozenset(),
                    (last + 1, 1) if last < MAX_ROWS else None,
                )
            for _, si, r, c, _fc in self._formulas():  # those not prepared yet still hold their text
                if (si, r, c) not in self._subtotals and needs_visible(self.model.get_cell_formula(si, r, c) or ""):
                    self._subtotals.add((si, r, c))
            # complete now: the cells prepared so far were noted before their rewrite, the rest read above
            nested: dict[int, set[tuple[int, int]]] = {}
            for si, r, c in self._subtotals:
                nested.setdefault(si, set()).add((r, c))
            for si, cells in nested.items():
                had = self._skips.get(si)
                if had is not None:
                    self._skips[si] = Skipped(had.hidden, had.filtered, frozenset(cells), had.blank)
        return any(k.hidden or k.nested for k in self._skips.values())

    def _skipped(self, sheet: str | None, si: int) -> Skipped | None:
        index = si if sheet is None else self.names.get(sheet.upper())
        return None if index is None or self._skips is None else self._skips.get(index)

    def _extent(self, sheet: str | None, si: int) -> tuple[int, int] | None:
        """The last used (row, column) of ``sheet`` (None: sheet ``si``), (0, 0) when it holds
        no cell, None when it is unknown."""
        index = si if sheet is None else self.names.get(sheet.upper())
        if index is None:
            return None
        if index not in self._extents:
            cells = self._used(None, index) or []
            self._extents[index] = (max((r for r, _ in cells), default=0), max((c for _, c in cells), default=0))
        return self._extents[index]

    def _used(self, sheet: str | None, si: int) -> list[tuple[int, int]] | None:
        """(row, column) of every cell holding a value or a formula on ``sheet`` (None: sheet
        ``si``), array formulas' ranges whole; styled empty cells are left out (the sheet's
        dimensions count them: openpyxl's one bold cell at Z1048576 spans the grid)."""
        index = si if sheet is None else self.names.get(sheet.upper())
        if index is None:
            return None
        if self._present is None:
            present: dict[int, list[tuple[int, int]]] = {}
            for sj, r, c in self.model.get_all_cells():
                if self.model.get_cell_content(sj, r, c) != "":
                    present.setdefault(sj, []).append((r, c))
            for _, sj, r, c, fc in self._formulas():
                if fc.array is not None:
                    present.setdefault(sj, []).extend(self._members(r, c, fc))
            for sj, cells in self._cut.items():  # the host calls the formula engine was not given
                have = set(present.get(sj, ()))
                present.setdefault(sj, []).extend(k for k in cells if k not in have)
            self._present = present
        return self._present.get(index, [])

    def _refuse_cell(self, si: int, r: int, c: int, fc: Any, code: str, reason: str) -> None:
        """A formula the engine cannot take becomes an error in its own cell(s), with the reason,
        as Excel shows #NAME? for text it cannot read; the rest of the book is computed."""
        r2, c2 = fc.array or (r, c)
        with contextlib.suppress(Exception):
            self.model.range_clear_all(si, r, c, r2, c2)
        for rr in range(r, r2 + 1):
            for cc in range(c, c2 + 1):
                self.model.set_user_input(si, rr, cc, code)
                self.reasons[(si, rr, cc)] = reason

    def _set_formula(self, si: int, r: int, c: int, fc: Any, text: str, original: str) -> None:
        """Replace a formula by its Excel-semantics rewrite; where the engine refuses the
        rewrite, the formula stays as written."""
        try:
            self._place(si, r, c, fc, text)
        except BeyondEngine:
            raise  # the rewrite is the formula's meaning: the original would compute something else
        except Exception as exc:  # IronCalc's WorkbookError: keep the original
            self.stats.kept.append(f"{address(self.titles[si], r, c)}: {exc}")
            with contextlib.suppress(Exception):
                self._place(si, r, c, fc, original)

    def _place(self, si: int, r: int, c: int, fc: Any, text: str) -> None:
        if fc.array is None:
            self.model.update_cell_with_formula(si, r, c, text)
            return
        # IronCalc keeps a loaded array as one block: it is cleared whole before it is rewritten
        self.model.range_clear_all(si, r, c, fc.array[0], fc.array[1])
        self.model.set_user_array_formula(si, r, c, fc.array[1] - c + 1, fc.array[0] - r + 1, text)

    def _scratch_sheet(self) -> int:
        if self.scratch is None:
            self.model.add_sheet(SCRATCH)
            self.scratch = len(self.model.get_worksheets_properties()) - 1
            self.names[SCRATCH.upper()] = self.scratch
            self.titles.append(SCRATCH)
        return self.scratch

    def _reads_arrays(self, si: int, key: str, args: list[str]) -> bool:
        """Whether lifting leaves this call as written: a host function with a ``takes`` rule that
        takes it (its call is cut out whole), or one with a fallback that takes it and evaluates
        it element by element itself (:mod:`addin.headless.host_arguments`: it declares its
        one-value parameters). A call the rule declines stays with the formula engine and is
        lifted like any call (formulas' test book: ``{=NPV(C33:G33,C33:G33)}`` is NPV at the
        first rate once NPV had a host rule for array constants, #VALUE! while it was skipped)."""
        fn = self.functions.get(key)
        if fn is None:
            return False
        if not fn.fallback:  # cut out whole when it takes the call (_Hoisted: always, without a rule)
            return fn.takes is None or fn.takes([(self._arg_kind(a, si), a) for a in args])
        return fn.scalars != frozenset() and (fn.takes is None or fn.takes([(self._arg_kind(a, si), a) for a in args]))

    def _host_lifts(self, key: str, arrays: list[bool]) -> bool:
        """Whether a host call given arrays at the arguments ``arrays`` marks returns an array: one
        of them is at a one-value parameter (the host evaluates it element by element)."""
        fn = self.functions.get(key)
        return fn is not None and any(a and takes_one_value(fn, k) for k, a in enumerate(arrays))

    def _arg_kind(self, text: str, si: int) -> str:
        t = text.strip()
        if not t:
            return "empty"
        if t.startswith("{") and t.endswith("}"):
            return "array"
        if _LITERAL.fullmatch(t):
            return "literal"
        ref = self._ref(t, si)
        if ref is None:
            return "expression"
        return "cell" if ref[1] == ref[3] and ref[2] == ref[4] else "range"

    def _judged(self, si: int, args: list[str], seen: list[str]) -> list[tuple[str, str]]:
        """(kind, text) pairs for a ``takes`` rule: each argument's kind as written, its text as
        Excel reads it (``seen``: with a plain formula's ``@``), so only the rules that read the
        text see the intersection."""
        return [(self._arg_kind(a, si), b) for a, b in zip(args, seen, strict=True)]

    def _plain_host_call(self, si: int, r: int, c: int, fc: Any, text: str) -> bool:
        """Record ``text`` if it is one host call with plain arguments (no nested call, string,
        array or structured reference: none of the rewrites applies), and say whether it was."""
        m = _PLAIN_CALL.match(text)
        if m is None:
            return False
        key = bare_name(m.group(1))
        fn = self.functions.get(key)
        if fn is None or fn.fallback or (key == "AGGREGATE" and self._any_skipped()):
            return False  # AGGREGATE's references are cut to the cells it counts first (_excel_text)
        inner = m.group(2).strip()
        args = [a.strip() for a in inner.split(",")] if inner else []
        if ":" in inner and any(":" in a and takes_one_value(fn, k) for k, a in enumerate(args)):
            return False  # a range at a one-value parameter is intersected first (host_arguments)
        # a plain formula's ranges as Excel reads them there (is_host in _hoist)
        plain = ":" in inner and fn.takes is not None and not fc.dynamic
        seen = intersected_arguments(key, args, self.range_names) if plain else args
        if fn.takes is not None and not fn.takes(self._judged(si, args, seen)):
            return False
        call = _Call(len(self.calls), fn, si, r, c, args, True, (si, r, c), None, bool(fc.dynamic))
        self.calls.append(call)
        self.stats.host_calls += 1
        if self.use_columns and not fc.dynamic and fc.text is None:
            column = self._column_from(call, text)
            if column is not None:
                self._open[(si, c)] = (column, call)
        return True

    def _extends_column(self, si: int, r: int, c: int, text: str) -> bool:
        """Whether ``text`` at (r, c) is the host call of the cell above, filled down (the
        same formula in R1C1 form): it then joins that cell's column."""
        opened = self._open.get((si, c))
        if opened is None:
            return False
        column, first = opened
        if column.last != r - 1 or column.fmt.render(r) != text:
            return False
        if column.last == column.first:  # the second row: the run becomes a column
            self._absorbed.add(first.id)
            column.id = _COLUMN_BASE + len(self.columns)
            self.columns.append(column)
        column.last = r
        self.stats.host_calls += 1
        return True

    def _column_from(self, call: _Call, text: str) -> _Column | None:
        """The column a plain host call starts, if cells below repeat it; None when an
        argument is neither a constant, a fixed reference nor a relative cell (an expression,
        a constant name, a relative range: those stay one call a cell)."""
        fmt = template(text, call.row)
        args: list[Any] = []
        slots = 0
        for a in call.args:
            if not a:
                args.append(None)
                continue
            if varies(a, call.row):
                ref = self._ref(a, call.sheet) if relative_cell(a, call.row) is not None else None
                if ref is None:
                    return None
                args.append(("rel", ref[0], ref[2], ref[1] - call.row))
                slots += 1
                continue
            ref = self._ref(a, call.sheet)
            if ref is not None:
                args.append(("ref", _compact(ref)))
            else:
                value = _literal(a)
                if value is None:
                    return None
                args.append(("const", Typed(value) if call.fn.typed else value))
        if slots != len(fmt.offsets):
            return None  # a relative row outside the arguments (cannot happen in a plain call)
        return _Column(-1, call.fn, call.sheet, call.col, call.row, call.row, args, fmt)

    def _expand(self, column: _Column) -> None:
        """A column that is not evaluated as one unit, back to one call a row (as the
        per-cell path records them: references parsed, constants kept)."""
        for r in range(column.first, column.last + 1):
            call = _Call(
                len(self.calls), column.fn, column.sheet, r, column.col, [], True, (column.sheet, r, column.col), None, False
            )
            for j, a in enumerate(column.args):
                if a is None:
                    call.args.append("")
                    call.refs.append(None)
                    continue
                call.args.append(_GIVEN)
                if a[0] == "const":
                    self.consts[(call.id, j)] = a[1]
                    call.refs.append(None)
                elif a[0] == "ref":
                    call.refs.append(a[1])
                else:
                    call.refs.append(_cell_key(a[1], r + a[3], a[2]))
            self.calls.append(call)

    def _column_args(self, column: _Column, ranges: dict[Any, Any]) -> list[list[Any]]:
        """A column's arguments, one list a row: each relative argument read once down its
        column, each fixed one read once (as :meth:`_exact_args` reads them)."""
        n = column.last - column.first + 1
        cols: list[Any] = []
        for a in column.args:
            if a is None:
                cols.append([None] * n)
            elif a[0] == "const":
                cols.append([a[1]] * n)
            elif a[0] == "ref":
                key = a[1]
                if isinstance(key, int):
                    v = self._value(key >> 36, (key >> 15) & 0x1FFFFF, key & 0x7FFF)
                else:
                    if key not in ranges:
                        ranges[key] = self._block(key)[0]
                    v = ranges[key]
                cols.append([v] * n)
            else:
                _, s2, c2, off = a
                get, first = self.model.get_cell_value, column.first + off
                values = [get(s2, r, c2) for r in range(first, column.last + off + 1)]
                for k, v in enumerate(values):
                    if type(v) is str:  # _value's cases (an error, a blank, IronCalc's own code) are all text
                        values[k] = self._value(s2, first + k, c2)
                cols.append(values)
        if not cols:
            return [[] for _ in range(n)]
        return [list(row) for row in zip(*cols)]

    def _write_column(self, column: _Column, results: list[Any]) -> None:
        """A column's results, one write a cell (a finite number directly; anything else as
        :meth:`_write` writes a plain call's result)."""
        si, c = column.sheet, column.col
        put = self.model.update_cell_with_number
        written: list[float | None] = []
        for r, res in zip(range(column.first, column.last + 1), results, strict=True):
            if type(res) is float and math.isfinite(res):
                put(si, r, c, res)
                written.append(res)
                if self.reasons:
                    self.reasons.pop((si, r, c), None)
            else:
                self._write(_Call(-1, column.fn, si, r, c, [], True, (si, r, c), None, False), res)
                written.append(None)
        self._written.setdefault((si, c), []).append((column.first, written))

    def _hoist(self, si: int, r: int, c: int, fc: Any, text: str) -> bool:
        """Cut the host calls out of one formula; False when it has none the functions take.

        A range at a host function's one-value parameter is first intersected (a plain formula)
        or the call's result is a whole array (element by element): :mod:`addin.headless.host_arguments`."""
        if fc.array is None and not fc.dynamic and needs_host_intersection(text, self.functions):
            text = intersect_host_arguments(text, r, c, self.functions, partial(self._span, si))
        base = len(self.calls)
        rows: list[int] = []
        shapes: list[tuple[int, int] | None] = []
        array_formula = fc.array is not None or bool(fc.dynamic)
        plain = not array_formula
        # the calls Excel evaluates element by element: their results are whole arrays (host_arguments)
        lifted = self._lifted_calls(text, array_formula)
        # a range the Analysis ToolPak's functions refuse is #VALUE!, not lifted (toolpak_arrays)
        lifted = {
            (key, args) for key, args in lifted if not range_refused(self.functions[key], [self._arg_kind(a, si) for a in args])
        }
        last: list[Any] = [None]
        nesting = _Nesting()

        def is_host(key: str, args: list[str]) -> bool:
            fn = self.functions.get(key)
            kinds = [self._arg_kind(a, si) for a in args]
            # a rule judges the arguments as Excel reads them: intersected in a plain formula
            # (``=COUNT(A1:A3*2)`` counts one value there: addin.headless.array_aggregates)
            seen = intersected_arguments(key, args, self.range_names) if plain and fn is not None and fn.takes else args
            taken = fn is not None and (fn.takes is None or fn.takes(nesting.judged(args, self._judged(si, args, seen))))
            if taken and fn is not None:
                here = nesting.lifted(fn, key, args, kinds, lifted)
                last[0] = self._lifted_block(fn, args, kinds, si) if here else None
            return taken

        def scratch_ref(k: int) -> str:
            self._scratch_sheet()  # the sheet exists before a formula refers to it
            while len(rows) <= k:
                shape = last[0]
                self.scratch_rows += 1
                rows.append(self.scratch_rows)
                shapes.append(shape)
                if shape is not None:  # a block of the result's shape, its own rows
                    self.scratch_rows += shape[0] - 1
            shape = shapes[k]
            if shape is None:
                return nesting.placed(f"'{SCRATCH}'!$A${rows[k]}", False)
            return nesting.placed(f"'{SCRATCH}'!$A${rows[k]}:${get_column_letter(shape[1])}${rows[k] + shape[0] - 1}", True)

        new_text, calls = host_calls(text, is_host, scratch_ref)  # a refusal: prepare makes the cell an error
        nesting.check()
        values = {
            rows[k]
            for k, call in enumerate(calls)
            if not call.whole and shapes[k] is None and not self.functions[call.key].spills
        }
        if values:
            new_text = _host_values(new_text, values)
        records: dict[int, list[Any]] = {}  # the formula's one record, shared by its spilling calls
        if calls and not calls[-1].whole:
            # an expression over a host block fills its array range as any array formula does
            new_text = _filled(fc, r, c, new_text)
            self.model.update_cell_with_formula(si, r, c, new_text)
        for k, call in enumerate(calls):
            if call.whole:
                shape = (fc.array[0] - r + 1, fc.array[1] - c + 1) if fc.array else None
                target = (si, r, c)
                cells = {
                    (self.titles[si], r + i, c + j) for i in range((shape or (1, 1))[0]) for j in range((shape or (1, 1))[1])
                }
                self.host_cells.update(cells)
                if shape is not None:
                    self.host_arrays.update(cells)
            else:
                shape, target = shapes[k], (self._scratch_sheet(), rows[k], 1)
                self.host_cells.add((self.titles[si], r, c))
            fn = self.functions[call.key]
            self.calls.append(_Call(base + k, fn, si, r, c, call.args, call.whole, target, shape, bool(fc.dynamic)))
            self.calls[-1].lifted = (call.key, tuple(call.args)) in lifted
            if (fn.spills or self._sized_later(self.calls[-1])) and not call.whole and shape is None:
                # the result's shape is known once computed: its block is sized then (_respilled)
                record = records.setdefault(0, [si, r, c, new_text])
                self.respill[base + k] = (record, f"'{SCRATCH}'!$A${rows[k]}", (1, 1))
            if fn.fallback:
                own = (call.key, tuple(call.args)) in lifted
                self.calls[-1].fallback = self._fallback(fn, call.key, call.args, si, own)
        self.stats.host_calls += len(calls)
        return bool(calls)

    def _lifted_calls(self, text: str, array_formula: bool) -> set[tuple[str, tuple[str, ...]]]:
        """The host calls of ``text`` evaluated element by element (:func:`lifted_calls`); none
        without a range, an array constant or an array context (the common case, skipped)."""
        if array_formula or ":" in text or "{" in text or not LIFTING.isdisjoint(function_keys(text)):
            return set(lifted_calls(text, array_formula, self.functions))
        return set()

    def _lifted_block(self, fn: HostFunction, args: list[str], kinds: list[str], si: int) -> tuple[int, int] | None:
        """The shape of the scratch block a lifted host call's result is written to, from the
        arguments' text (:func:`lifted_shape`); None: one cell, also when an expression at a
        one-value parameter decides the shape once evaluated (:meth:`_sized_later`)."""
        if shape_pending(fn, kinds):
            return None
        return lifted_shape(fn, args, partial(self._span, si))

    def _sized_later(self, call: _Call) -> bool:
        """Whether a lifted call's block is sized once its arguments are evaluated (an expression
        at a one-value parameter, :func:`shape_pending`): it is then resized (:meth:`_respilled`)."""
        return call.lifted and shape_pending(call.fn, [self._arg_kind(a, call.sheet) for a in call.args])

    def _fallback(self, fn: HostFunction, key: str, args: list[str], si: int, lifted: bool) -> int:
        """The scratch row where the formula engine computes a call itself (its answer where the
        host function gives :data:`ENGINE_ANSWER`). Evaluated element by element (``lifted``, an
        array at a one-value parameter): a block of the result's shape, each cell the call of
        that element (``INDEX`` of each array, Excel's broadcast: one row or column repeats,
        ``#N/A`` beyond a smaller array), so each element's answer is the engine's own."""
        sheet = self._scratch_sheet()
        first = self.scratch_rows + 1
        span = partial(self._span, si)
        shape = lifted_shape(fn, args, span) if lifted else None
        h, w = shape or (1, 1)
        for i in range(h):
            for j in range(w):
                picked = [a if shape is None else element(fn, k, a, i, j, span) for k, a in enumerate(args)]
                own = _relocate(f"{key}({','.join(picked)})", self.titles[si])
                self.model.update_cell_with_formula(sheet, first + i, 6 + j, "=" + own)
        self.scratch_rows += h
        return first

    # ------------------------------------------------------------------ passes

    def _schedule(self, exprs: dict[tuple[int, int], _Expr]) -> dict[int, tuple[int, ...]]:
        """The host calls whose inputs are known statically, with the host calls they wait for.

        A call is *exact* when every argument is a constant, an input cell (no formula) or a cell
        another exact call writes: it is evaluated once, after the calls it waits for (level by
        level, before the formula engine's first evaluation: none of its inputs needs one), and
        its arguments are read once. Any other call (an argument that is a formula, an
        expression, a range of more than 64 cells, a dependency that is not exact, a function
        with a fallback) is evaluated in the passes, whenever its arguments' values change.
        Books with dynamic-array host calls (whose spill cells are written as results) are all
        evaluated the second way.
        """
        if any(c.dynamic and c.whole for c in self.calls):
            for column in self.columns:
                self._expand(column)
            self.columns = []
            return {}
        formula_cells = _FormulaCells(self)
        writer: dict[int, int] = {}  # _cell_key(sheet, row, col) -> the call writing the cell
        for call in self.calls:
            si, r, c = call.target
            h, w = call.shape or (1, 1)
            writer.update((_cell_key(si, r + i, c + j), call.id) for i in range(h) for j in range(w))
        placed: dict[tuple[int, int], list[_Column]] = {}
        for column in self.columns:
            si, c, cid = column.sheet, column.col, column.id
            writer.update((_cell_key(si, r, c), cid) for r in range(column.first, column.last + 1))
            placed.setdefault((si, c), []).append(column)
        deps: dict[int, tuple[int, ...]] = {}
        for call in self.calls:
            if call.fn.fallback or call.fn.applies:
                continue  # the formula engine computes its fallback or the functions it calls, in the passes
            need = self._waits_for(call, exprs, writer, formula_cells)
            if need is not None:
                deps[call.id] = tuple(need)  # a tuple: 400,000 empty or small sets cost ~80 MB
        for column in self.columns:
            need = self._column_waits_for(column, writer, formula_cells, placed)
            if need is not None and column.id not in need:  # reading its own cells: one call a row
                deps[column.id] = tuple(need)
        changed = True
        while changed:  # a call waiting for a call that is not exact is not exact either
            changed = False
            for cid in list(deps):
                if any(d not in deps for d in deps[cid]):
                    del deps[cid]
                    changed = True
        self._keep_exact_columns(deps)
        if self._break_column_cycles(deps):
            return self._schedule(exprs)  # once more, with those columns as one call a row
        return deps

    def _break_column_cycles(self, deps: Mapping[int, tuple[int, ...]]) -> bool:
        """Columns that wait for one another in a cycle (F reads H's row above, H reads F's
        row: no cell is circular, but neither column can go first) go back to one call a row,
        which the levels then order row by row; True when any did. Kahn's order over the
        units: what is never ready is in a cycle or waits for one."""
        if not self.columns:
            return False
        waiting = {u: len(set(d)) for u, d in deps.items()}
        users: dict[int, list[int]] = {}
        for u, d in deps.items():
            for w in set(d):
                users.setdefault(w, []).append(u)
        ready = [u for u, n in waiting.items() if n == 0]
        while ready:
            for v in users.get(ready.pop(), ()):
                waiting[v] -= 1
                if waiting[v] == 0:
                    ready.append(v)
        stuck = [c for c in self.columns if waiting[c.id] > 0]
        for column in stuck:
            self._expand(column)
        self.columns = [c for c in self.columns if waiting[c.id] == 0]
        return bool(stuck)

    def _keep_exact_columns(self, exact: Mapping[int, Any]) -> None:
        """A column that is not exact goes back to one call a row (evaluated in the passes)."""
        kept = []
        for column in self.columns:
            if column.id in exact:
                kept.append(column)
            else:
                self._expand(column)
        self.columns = kept

    def _column_waits_for(
        self,
        column: _Column,
        writer: dict[int, int],
        formula_cells: _FormulaCells,
        placed: Mapping[tuple[int, int], list[_Column]],
    ) -> set[int] | None:
        """:meth:`_waits_for` for a column: the calls and columns its rows read, None when a
        row reads anything else that may change (``placed``: the columns by sheet and column)."""
        need: set[int] = set()
        for a in column.args:
            if a is None or a[0] == "const":
                continue
            if a[0] == "ref":
                if not self._key_waits(a[1], writer, formula_cells, need):
                    return None
                continue
            _, si, c, off = a
            if (si, c) not in formula_cells.columns():
                continue  # a column of inputs: no formula, so no writer, in any of its rows
            r1, r2 = column.first + off, column.last + off
            covering = [k.id for k in placed.get((si, c), ()) if k.first <= r1 and r2 <= k.last]
            if covering:  # all written by one column (another column's results, the common case)
                need.add(covering[0])
                continue
            for r in range(r1, r2 + 1):
                w_id = writer.get(_cell_key(si, r, c))
                if w_id is not None:
                    need.add(w_id)
                elif (si, r, c) in formula_cells:
                    return None
        return need

    def _key_waits(self, key: Any, writer: dict[int, int], formula_cells: _FormulaCells, need: set[int]) -> bool:
        """Add the writers of a reference's cells to ``need``; False when it reads a formula
        no call writes, or a range of more than 64 cells."""
        if isinstance(key, int):
            w_id = writer.get(key)
            if w_id is not None:
                need.add(w_id)
                return True
            return (key >> 36, (key >> 15) & 0x1FFFFF, key & 0x7FFF) not in formula_cells
        ref = _wide(key)
        if ref is None or (ref[3] - ref[1] + 1) * (ref[4] - ref[2] + 1) > 64:
            return False
        si, r1, c1, r2, c2 = ref
        for rr in range(r1, r2 + 1):
            for cc in range(c1, c2 + 1):
                w_id = writer.get(_cell_key(si, rr, cc))
                if w_id is not None:
                    need.add(w_id)
                elif (si, rr, cc) in formula_cells:
                    return False
        return True

    def _waits_for(
        self,
        call: _Call,
        exprs: dict[tuple[int, int], _Expr],
        writer: dict[int, int],
        formula_cells: _FormulaCells,
    ) -> set[int] | None:
        """The host calls whose results ``call`` reads, None when it reads anything else that
        may change (a formula, an expression, a range of more than 64 cells)."""
        need: set[int] = set()
        for j, arg in enumerate(call.args):
            if not arg or (call.id, j) in self.consts:
                continue
            if not self._key_waits(call.refs[j], writer, formula_cells, need):
                return None
        return need

    def passes(self) -> None:
        """Evaluate the host calls: the exact ones first, level by level (their arguments are
        inputs, constants and one another's results, none of which needs the formula engine),
        then the formula engine and the other calls in passes until nothing changes."""
        seen: dict[int, Any] = {}
        exprs = self._expression_cells()
        self.arg_exprs = exprs  # what an expression argument reads: the volatile closure (_host_refs)
        exact = self._schedule(exprs)
        self.stats.exact_calls = len(exact) + sum(c.last - c.first for c in self.columns)
        for call in self.calls:
            if call.id not in exact:
                self._write(call, PENDING)
        self._levels(exact)
        for n in range(MAX_PASSES):
            self.model.evaluate()
            self.stats.passes = n + 1
            blocks: dict[tuple[int, int, int, int, int], tuple[Any, str | None]] = {}
            todo: dict[str, list[tuple[_Call | _Column, list[list[Any]]]]] = {}
            for call in self.calls:
                if call.id in exact:
                    continue
                args, fps = self._args(call, exprs, blocks)
                if any(fp is None for fp in fps):
                    continue  # an argument is still pending
                key = hash("\x00".join(fps))  # type: ignore[arg-type]  # 64-bit: a collision between passes ~1e-19
                if seen.get(call.id) == key:
                    continue
                seen[call.id] = key
                todo.setdefault(call.fn.name, []).append((call, [args]))
            if not todo:
                if self.moved:  # an expression argument moved to a region of its new shape
                    self.moved = False
                    continue
                self._unresolved(seen, exact)
                return
            self._run(todo)
        raise BookError(f"{self.pkg.path.name}: catalogue results still changing after {MAX_PASSES} passes (a circular chain?)")

    def _levels(self, exact: dict[int, tuple[int, ...]]) -> None:
        """The exact calls, each once its dependencies are written (calls waiting for one
        another in a cycle are left to the passes, as any other call)."""
        done: set[int] = set()
        left: list[_Call | _Column] = [c for c in self.calls if c.id in exact]
        left.extend(self.columns)
        while left:
            ready = [c for c in left if all(d in done for d in exact[c.id])]
            if not ready:
                for c in left:  # a cycle through calls: the passes settle it, one call a row
                    del exact[c.id]
                    if isinstance(c, _Column):
                        n = len(self.calls)
                        self._expand(c)
                        for call in self.calls[n:]:
                            self._write(call, PENDING)
                    else:
                        self._write(c, PENDING)
                self.columns = [c for c in self.columns if c.id in exact]
                return
            ranges: dict[Any, Any] = {}
            todo: dict[str, list[tuple[_Call | _Column, list[list[Any]]]]] = {}
            for unit in ready:
                if isinstance(unit, _Column):
                    todo.setdefault(unit.fn.name, []).append((unit, self._column_args(unit, ranges)))
                else:
                    todo.setdefault(unit.fn.name, []).append((unit, [self._exact_args(unit, ranges)]))
            self._run(todo)
            done.update(c.id for c in ready)
            left = [c for c in left if c.id not in done]

    def _run(self, todo: Mapping[str, list[tuple[_Call | _Column, list[list[Any]]]]]) -> None:
        """Evaluate each function's calls of this pass in one batch and write the results
        (a call brings one row of arguments, a column one a cell)."""
        for batch in todo.values():
            self.stats.host_batches += 1
            fn = batch[0][0].fn
            # a lifted call is one call an element of its one-value arrays (host_arguments.spread)
            plan = [
                (unit, rows, spread(fn, rows[0]) if isinstance(unit, _Call) and unit.lifted else None) for unit, rows in batch
            ]
            plan = [(unit, rows if each is None else each[1], each) for unit, rows, each in plan]
            calls = [row for _, rows, _ in plan for row in rows]
            applies = [self._applier(unit.sheet) for unit, rows, _ in plan for _ in rows] if fn.applies else None
            results = _evaluate(fn, calls, applies)
            k = 0
            for unit, rows, each in plan:
                n = len(rows)
                if isinstance(unit, _Column):
                    self._write_column(unit, results[k : k + n])
                    k += n
                    continue
                res = results[k] if each is None else gather(each[0], results[k : k + n])
                k += n
                if res is ENGINE_ANSWER:
                    assert self.scratch is not None and unit.fallback is not None
                    res = self._value(self.scratch, unit.fallback, 6)
                elif isinstance(res, list) and unit.fallback is not None:  # element by element
                    res = self._engine_elements(res, unit.fallback)
                self._write(unit, res)

    def _applier(self, si: int) -> Apply:
        """The :data:`Apply` of a host call whose formula is on sheet ``si``."""
        return partial(self._apply, self.titles[si])

    def _apply(self, sheet: str, items: list[tuple[str, list[list[Any]]]]) -> list[Any]:
        """Each item's function called by the formula engine on its argument columns (module
        constant APPLY): the columns written as cells (blanks kept), one formula an item, one
        evaluation for the batch, the sheet emptied after."""
        if not items:
            return []
        if self.applied is None:
            self.model.add_sheet(APPLY)
            self.applied = len(self.model.get_worksheets_properties()) - 1
            self.titles.append(APPLY)
        si, row, width = self.applied, 1, 1
        anchors: list[int] = []
        for text, columns in items:
            refs = []
            for k, values in enumerate(columns):
                col = 2 + k
                for i, v in enumerate(values):
                    self._put(si, row + i, col, v)
                letter = get_column_letter(col)
                refs.append(f"'{APPLY}'!${letter}${row}:${letter}${row + max(len(values), 1) - 1}")
            width = max(width, 1 + len(columns))
            with book_names(n for n, _, _ in self.pkg.names):
                name = LetNames(text)("ap")
            own = _relocate(_plain_names(text), sheet)
            # one value a call: an array result is #CALC! (Excel's nested arrays)
            formula = f"=LET({name},{own}({','.join(refs)}),IF(ROWS({name})*COLUMNS({name})=1,{name},#CALC!))"
            self.model.update_cell_with_formula(si, row, 1, formula)
            anchors.append(row)
            row += max([len(c) for c in columns] + [1])
        self.model.evaluate()
        results = []
        for (text, _), r in zip(items, anchors, strict=True):
            v = self._value(si, r, 1)
            if isinstance(v, ExcelError) and "cannot parse" in v.reason and "(" not in text:
                # an eta-reduced function the engine cannot call with one range (IF): Excel's #VALUE!
                v = ExcelError("#VALUE!", f"{text} does not take the values as its one argument")
            results.append(v)
        self.model.range_clear_all(si, 1, 1, row, width)
        for key in [k for k in self.reasons if k[0] == si]:
            del self.reasons[key]
        return results

    def _engine_elements(self, grid: list[Any], row: int) -> list[Any]:
        """A lifted result with each :data:`ENGINE_ANSWER` element replaced by the engine's answer
        for that element (the fallback block at ``row``, :meth:`_fallback`)."""
        assert self.scratch is not None
        return [
            [self._value(self.scratch, row + i, 6 + j) if v is ENGINE_ANSWER else v for j, v in enumerate(line)]
            if isinstance(line, list)
            else line
            for i, line in enumerate(grid)
        ]

    def _unresolved(self, seen: dict[int, Any], exact: Mapping[int, Any]) -> None:
        stuck = [c for c in self.calls if c.id not in seen and c.id not in exact]
        if not stuck:
            return
        for c in stuck:
            self._write(c, ExcelError("#N/A", "its arguments depend on its own result through catalogue functions"))
        self.model.evaluate()
        self.stats.passes += 1

    def _expression_cells(self) -> dict[tuple[int, int], _Expr]:
        """The host calls' arguments that are expressions, not references: each is evaluated by
        the engine in a region of the arguments sheet, sized by its ROWS and COLUMNS, so an
        array (``A2:A13^{1,2}``) reaches the host function whole, as Excel passes it."""
        out: dict[tuple[int, int], _Expr] = {}
        by_text: dict[str, _Expr] = {}
        for call in self.calls:
            call.refs = [_compact(self._ref(arg, call.sheet)) if arg else None for arg in call.args]
            for j, arg in enumerate(call.args):
                if arg and call.refs[j] is None:
                    const = array_literal(arg) if arg.startswith("{") else _literal(arg)
                    if const is not None:
                        typed = call.fn.typed and not arg.startswith("{")
                        self.consts[(call.id, j)] = Typed(const) if typed else const
                        continue
                    formula = _relocate(arg, self.titles[call.sheet])
                    e = by_text.get(formula)
                    if e is None:
                        sheet = self._scratch_sheet()
                        self.scratch_rows += 1
                        self.model.update_cell_with_formula(sheet, self.scratch_rows, 4, f"=ROWS({formula})")
                        self.model.update_cell_with_formula(sheet, self.scratch_rows, 5, f"=COLUMNS({formula})")
                        # placed once its shape is known: a value placed earlier could spill over the next
                        e = by_text[formula] = _Expr(formula, self.scratch_rows, 0, (0, 0))
                    out[(call.id, j)] = e
            # parsed now: only whether each argument was given matters from here on (a
            # 100,000-row book's 400,000 argument texts are ~80 MB)
            call.args = [_GIVEN if a else "" for a in call.args]
        return out

    def _place_expr(self, e: _Expr, shape: tuple[int, int]) -> None:
        if self.arrays is None:
            self.model.add_sheet(ARRAYS)
            self.arrays = len(self.model.get_worksheets_properties()) - 1
            self.titles.append(ARRAYS)
        if e.shape != (0, 0):
            self.model.clear_cell_contents(self.arrays, e.at, 1)
        e.at, e.shape = self.arrays_rows + 1, shape
        self.arrays_rows += shape[0]
        self.model.update_cell_with_formula(self.arrays, e.at, 1, "=" + e.formula)

    def _expr_value(self, e: _Expr) -> tuple[Any, str | None]:
        """An expression argument's value (one value, or rows), its fingerprint (None: pending,
        also when it was first measured or its shape changed, and it was placed in a region of
        that shape for the next pass)."""
        assert self.scratch is not None
        h, w = (self.model.get_cell_value(self.scratch, e.row, col) for col in (4, 5))
        shape = (int(h), int(w)) if isinstance(h, float) and isinstance(w, float) and h >= 1 and w >= 1 else (1, 1)
        if shape[0] * shape[1] > self.limits.array_cells:
            return ExcelError("#VALUE!", f"an array argument of {shape[0]:,} x {shape[1]:,} cells (limit array_cells)"), "big"
        if shape != e.shape or self.arrays is None:
            self._place_expr(e, shape)
            self.moved = True
            return None, None
        if shape == (1, 1):
            v = self._value(self.arrays, e.at, 1)
            return v, None if v == PENDING else repr(v)
        return self._block((self.arrays, e.at, 1, e.at + shape[0] - 1, shape[1]))

    def _span(self, sheet: int, text: str) -> tuple[int, int, int, int] | None:
        """(row1, col1, row2, col2) of a reference or range name, else None."""
        ref = self._ref(text.strip(), sheet)
        return None if ref is None else ref[1:]

    def _ref(self, text: str, sheet: int) -> tuple[int, int, int, int, int] | None:
        """(sheet, row1, col1, row2, col2) of a reference or range name, else None (memoised)."""
        m = PLAIN_CELL.fullmatch(text)
        if m is not None:  # the common argument, B2 or $B$2: parsed each time, not memoised
            letters = m.group(1)
            col = _COLUMNS.get(letters)
            if col is None:
                col = 0
                for ch in letters.upper():
                    col = col * 26 + ord(ch) - 64
                _COLUMNS[letters] = col
            row = int(m.group(2))
            return sheet, row, col, row, col
        key = (text, sheet)
        if key not in self._refs:
            self._refs[key] = self._parse_ref(text, sheet)
        return self._refs[key]

    def _parse_ref(self, text: str, sheet: int) -> tuple[int, int, int, int, int] | None:
        parsed = split_ref(text.lstrip("@"))
        if parsed is None:
            name = self.defined.get((text.upper(), sheet)) or self.defined.get((text.upper(), None))
            if name is None:
                return None
            parsed = split_ref(name.lstrip("="))
            if parsed is None or parsed[0] is None:
                return None
        sheet_name, a1 = parsed
        si = self.names.get(sheet_name.upper()) if sheet_name is not None else sheet
        if si is None:
            return None
        from openpyxl.utils import range_boundaries

        c1, r1, c2, r2 = range_boundaries(a1.replace("$", ""))
        if r1 is None or r2 is None or c1 is None or c2 is None:
            _, max_row, _, max_col = self.model.get_sheet_dimensions(si)
            r1, r2 = r1 or 1, r2 or max_row
            c1, c2 = c1 or 1, c2 or max_col
        return si, r1, c1, r2, c2

    def _args(
        self, call: _Call, exprs: dict[tuple[int, int], _Expr], blocks: dict[Any, tuple[Any, str | None]]
    ) -> tuple[list[Any], list[str | None]]:
        values: list[Any] = []
        fps: list[str | None] = []
        for j, arg in enumerate(call.args):
            if not arg:
                values.append(None)
                fps.append("")
                continue
            const = self.consts.get((call.id, j))
            if const is not None:
                values.append(const)
                fps.append(repr(const))
                continue
            e = exprs.get((call.id, j))
            if e is not None:
                v, fp = self._expr_value(e)
                values.append(v)
                fps.append(fp)
                continue
            key = call.refs[j]
            assert key is not None
            if key not in blocks:
                blocks[key] = self._block(_wide(key))  # type: ignore[arg-type]
            block, fp = blocks[key]
            values.append(block)
            fps.append(fp)
        return values, fps

    def _exact_args(self, call: _Call, ranges: dict[Any, Any]) -> list[Any]:
        """An exact call's argument values: no fingerprint (it runs once), one cell read as it
        is, a range once per level."""
        values: list[Any] = []
        for j, key in enumerate(call.refs):
            if isinstance(key, int):
                values.append(self._value(key >> 36, (key >> 15) & 0x1FFFFF, key & 0x7FFF))
            elif key is not None:
                if key not in ranges:
                    ranges[key] = self._block(key)[0]
                values.append(ranges[key])
            else:
                values.append(self.consts.get((call.id, j)) if call.args[j] else None)
        return values

    def _block(self, ref: tuple[int, int, int, int, int]) -> tuple[Any, str | None]:
        """The values of a reference (one cell: the value; else rows) and their fingerprint,
        None while any of them is a pending host result."""
        si, r1, c1, r2, c2 = ref
        if r1 == r2 and c1 == c2:
            v = self._value(si, r1, c1)
            return v, None if v == PENDING else repr(v)
        n = (r2 - r1 + 1) * (c2 - c1 + 1)
        if n > self.limits.range_cells:
            # read as Python values, a whole sheet is billions of cells (the process died at 2 GB): the
            # call that reads it gets the error in its cell instead, the rest of the book is computed
            e = ExcelError(
                "#NUM!",
                f"a host function reads a range of {n:,} cells; at most {self.limits.range_cells:,} are read (limit range_cells)",
            )
            return e, repr(e)
        rows = [[self._value(si, r, c) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
        pending = any(v == PENDING for row in rows for v in row)
        return rows, None if pending else repr(rows)

    def _value(self, si: int, r: int, c: int) -> Any:
        v = self.model.get_cell_value(si, r, c)
        if isinstance(v, str) and v[:1] == "#" and (v in ERROR_CODES or v in (NOT_IMPLEMENTED, UNPARSED)):
            import ironcalc as ic

            if v == NOT_IMPLEMENTED:  # IronCalc's own code, which Excel does not have: never passed on as text
                return ExcelError("#NAME?", "a function this formula calls is not implemented by the formula engine")
            if self.model.get_cell_type(si, r, c) == ic.CellType.ErrorValue:
                if v == UNPARSED:
                    return ExcelError("#NAME?", "the formula engine cannot parse this formula (or a formula it reads)")
                return ExcelError(v)
        if v == "" and self.model.is_empty_cell(si, r, c):
            return None
        return v

    def _write(self, call: _Call, result: Any) -> None:
        if call.shape is None and isinstance(result, list) and len(result) == 1 and len(result[0]) == 1:
            result = result[0][0]  # a stacked row's one value
        if type(result) is float and call.shape is None and math.isfinite(result):
            self.model.update_cell_with_number(*call.target, result)
            if self.reasons:
                self.reasons.pop(call.target, None)
            return
        si, r, c = call.target
        grid = result if isinstance(result, list) else [[result]]
        grid = [row if isinstance(row, list) else [row] for row in grid] or [[None]]
        if call.shape is not None:
            h, w = call.shape
            # the range may still hold its array formula (a result written before any other)
            self.model.range_clear_all(si, r, c, r + h - 1, c + w - 1)
            for i in range(h):
                for j in range(w):
                    self._put(si, r + i, c + j, _broadcast(grid, i, j))
        elif call.whole and call.dynamic and (len(grid) > 1 or len(grid[0]) > 1):
            for cell in self.spills.pop(call.id, []):
                self.model.clear_cell_contents(*cell)
            cells = [(si, r + i, c + j) for i, row in enumerate(grid) for j in range(len(row))]
            self.spills[call.id] = cells[1:]
            for (s, rr, cc), v in zip(cells, (v for row in grid for v in row)):
                self._put(s, rr, cc, v)
        elif call.id in self.respill:
            self._respilled(call, grid)
        else:
            self._put(si, r, c, grid[0][0])

    def _respilled(self, call: _Call, grid: list[list[Any]]) -> None:
        """A nested call's array result (its shape known once computed: ``HostFunction.spills``)
        written to a scratch region of its shape, and the formula pointed at that region; a
        new shape takes a new region and the passes go on (the formula is evaluated again)."""
        record, ref, shape = self.respill[call.id]
        h, w = len(grid), max(len(row) for row in grid)
        si, r, c = call.target
        if (h, w) != shape:
            old_h, old_w = shape
            self.model.range_clear_all(si, r, c, r + old_h - 1, c + old_w - 1)
            first = self.scratch_rows + 1
            self.scratch_rows += h
            call.target = (si, first, 1)
            si, r, c = call.target
            new = f"'{SCRATCH}'!$A${first}" + (f":${get_column_letter(w)}${first + h - 1}" if (h, w) != (1, 1) else "")
            # a one-value result read as a value (_host_values) becomes the block itself: an array
            wrapped = f"IF(TRUE,{new})" if (h, w) == (1, 1) else new
            record[3] = re.sub(
                re.escape(f"IF(TRUE,{ref})") + "|" + re.escape(ref) + r"(?![\w$:])",
                lambda m: wrapped if m.group(0).startswith("IF(") else new,
                record[3],
            )
            self.respill[call.id] = (record, new, (h, w))
            self.model.update_cell_with_formula(record[0], record[1], record[2], record[3])
            self.moved = True
        for i in range(h):
            for j in range(w):
                self._put(si, r + i, c + j, grid[i][j] if j < len(grid[i]) else None)

    def _put(self, si: int, r: int, c: int, v: Any) -> None:
        m = self.model
        if isinstance(v, ExcelError) and v.reason:
            self.reasons[(si, r, c)] = v.reason
        else:
            self.reasons.pop((si, r, c), None)
        if isinstance(v, ExcelError):
            m.set_user_input(si, r, c, v.code)
        elif v is None:
            m.clear_cell_contents(si, r, c)
        elif isinstance(v, bool):
            m.update_cell_with_bool(si, r, c, v)
        elif isinstance(v, (int, float)):
            f = float(v)
            if f != f or f in (float("inf"), float("-inf")):
                m.set_user_input(si, r, c, "#NUM!")
            else:
                m.update_cell_with_number(si, r, c, f)
        else:
            m.update_cell_with_text(si, r, c, str(v))

    # ------------------------------------------------------------------ results

    def _formulas(self) -> Iterator[tuple[str, int, int, int, Any]]:
        """(sheet title, IronCalc index, row, col, FormulaCell) of every formula anchor."""
        for s in self.pkg.sheets:
            si = self.index.get(s.name)
            if si is not None:
                for (r, c), fc in s.formulas.items():
                    yield s.name, si, r, c, fc

    def _special_formulas(self) -> Iterator[tuple[str, int, int, int, Any]]:
        """:meth:`_formulas` without the plain ones (:data:`PLAIN`: no array, not dynamic, no
        text of its own), which a quote book's are: they are passed over in C (``compress``),
        not one Python step each."""
        for s in self.pkg.sheets:
            si = self.index.get(s.name)
            if si is not None and s.formulas:
                cells = s.formulas
                for (r, c), fc in compress(cells.items(), map(partial(is_not, PLAIN), cells.values())):
                    yield s.name, si, r, c, fc

    @staticmethod
    def _members(r: int, c: int, fc: Any) -> list[tuple[int, int]]:
        """The cells a formula fills: its array range, or itself."""
        r2, c2 = fc.array or (r, c)
        return [(rr, cc) for rr in range(r, r2 + 1) for cc in range(c, c2 + 1)]

    def collect(self) -> dict[tuple[str, int, int], Any]:
        out = self._collect(self._written)
        circular = [k for k, v in out.items() if isinstance(v, ExcelError) and v.code == "#CIRC!"]
        self.circular = sorted(circular)
        if circular:
            from addin.headless.circular import settle

            settle(self, circular)
            out = self._collect({})  # every cell read back: settling may have written any
        self._written = {}
        return out

    def release(self) -> None:
        """Drop what only the evaluation needed (the calls, their references and constants):
        a 100,000-row book's calls hold ~400 MB that saving the result does not need. The
        cells of plain host calls join ``host_cells`` here, after the evaluation's peak."""
        self.host_cells.update((self.titles[c.sheet], c.row, c.col) for c in self.calls if c.whole and c.shape is None)
        for column in self.columns:
            title = self.titles[column.sheet]
            self.host_cells.update((title, r, column.col) for r in range(column.first, column.last + 1))
        self.calls = []
        self.columns = []
        self.spills = {}
        self.consts = {}
        self.arg_exprs = {}
        self._refs = {}
        self._cut = {}
        for s in self.pkg.sheets:  # the file's texts of 400,000 host calls at 100,000 rows: not sent back
            s.calls = None

    def _collect(
        self, written: Mapping[tuple[int, int], list[tuple[int, list[float | None]]]]
    ) -> dict[tuple[str, int, int], Any]:
        """Every formula cell's value: read from the formula engine, or as a column wrote it
        (``written``: the same float the engine would give back, without asking it)."""
        out: dict[tuple[str, int, int], Any] = {}
        for name, si, r, c, fc in self._formulas():
            if fc.array is None:
                v = None
                for first, values in written.get((si, c), ()):
                    if 0 <= r - first < len(values):
                        v = values[r - first]
                        break
                out[(name, r, c)] = self._final(si, r, c) if v is None else v
                continue
            for rr, cc in self._members(r, c, fc):
                out[(name, rr, cc)] = self._final(si, rr, cc)
            if fc.dynamic:
                spilled = self._spilled(si, r, c, fc)
                for rr, cc in spilled:
                    out.setdefault((name, rr, cc), self._final(si, rr, cc))
                if spilled and max(spilled) != (fc.array or (r, c)):
                    last = max(spilled)
                    self.spill_refs.setdefault(name, {})[(r, c)] = (
                        f"{get_column_letter(c)}{r}:{get_column_letter(max(cc for _, cc in spilled))}{last[0]}"
                    )
        for cells in self.spills.values():
            for si, r, c in cells:
                out[(self.titles[si], r, c)] = self._final(si, r, c)
        return out

    def _spilled(self, si: int, r: int, c: int, fc: Any) -> list[tuple[int, int]]:
        """The cells a dynamic array formula at (r, c) spilled into, as the engine filled them:
        the rectangle down and right of the anchor over cells the book did not hold (a file's
        spill range as written, XlsxWriter's ``ref="C1"`` among them, may be smaller than the
        result). At most ``array_cells`` cells."""
        held = self._held or set()
        r2, c2 = fc.array or (r, c)

        def free(rr: int, cc: int) -> bool:
            if rr <= r2 and cc <= c2:
                return True
            return (si, rr, cc) not in held and self.model.get_cell_value(si, rr, cc) is not None

        last_r, last_c = r, c
        while last_r < MAX_ROWS and free(last_r + 1, c) and (last_r - r + 2) <= self.limits.array_cells:
            last_r += 1
        while last_c < MAX_COLUMNS and free(r, last_c + 1) and (last_c - c + 2) * (last_r - r + 1) <= self.limits.array_cells:
            last_c += 1
        return [(rr, cc) for rr in range(r, last_r + 1) for cc in range(c, last_c + 1) if (rr, cc) != (r, c)]

    def _final(self, si: int, r: int, c: int) -> Any:
        v = self._value(si, r, c)
        if isinstance(v, ExcelError):
            reason = self.reasons.get((si, r, c), "")
            return ExcelError(v.code, reason) if reason else v
        if v == PENDING:
            return ExcelError("#N/A", "never computed")
        return v

    def anchors(self) -> dict[str, set[tuple[int, int]]]:  # every sheet, also those without formulas
        return {s.name: set(s.formulas) for s in self.pkg.sheets}

    def volatile_dependents(self, values: dict[tuple[str, int, int], Any]) -> set[tuple[str, int, int]]:
        """Cells that call a volatile function or depend on one.

        Two ways, united: the static closure over the formulas' references (what Excel itself
        recalculates when a volatile cell changes), and one extra evaluation with NOW/TODAY
        shifted, which also catches dependencies through INDIRECT, OFFSET and names.
        """
        if not self.volatile_cells:
            return set()
        out = self._volatile_closure()
        for si, r, c, text in self.volatile_cells:
            shifted = re.sub(r"\b(NOW|TODAY)\s*\(\s*\)", lambda m: _SHIFT[m.group(1).upper()], text, flags=re.I)
            if shifted != text:
                self.model.update_cell_with_formula(si, r, c, shifted)
        self.model.evaluate()
        for key, before in values.items():
            si = self.names.get(key[0].upper())
            if si is None or key in out:
                continue
            if not _same_value(before, self._value(si, key[1], key[2])):
                out.add(key)
        return out

    def _formula_refs(self) -> tuple[list[tuple[tuple[str, int, int], list[tuple[int, int, int, int, int]]]], dict[Any, Any]]:
        """Each formula's referenced rectangles (sheet index, r1, c1, r2, c2), and its array extent."""
        rects: list[tuple[tuple[str, int, int], list[tuple[int, int, int, int, int]]]] = []
        extent: dict[tuple[str, int, int], list[tuple[str, int, int]]] = {}
        hosts = self._host_refs()
        for name, si, r, c, fc in self._formulas():
            extent[(name, r, c)] = [(name, rr, cc) for rr, cc in self._members(r, c, fc)]
            text = self.model.get_cell_formula(si, r, c) or ""
            try:
                refs = [self._ref(t, si) for t in references(text)]
            except Exception:  # the tokenizer refuses text Excel would not save; no references then
                refs = []
            rects.append(((name, r, c), [x for x in refs if x is not None] + hosts.get((si, r, c), [])))
        return rects, extent

    def _host_refs(self) -> dict[tuple[int, int, int], list[tuple[int, int, int, int, int]]]:
        """What each formula's host calls read, by the formula's cell: a host call is cut out of
        the formula engine's copy (to a scratch cell, or left out whole), so that copy no longer
        shows the cells it reads, and a cell reading TODAY() through TEXT or a lookup would drop
        out of the volatile closure (``=TEXT(A1,"ddd")`` with ``A1=TODAY()`` was a mismatch)."""
        out: dict[tuple[int, int, int], list[tuple[int, int, int, int, int]]] = {}
        for call in self.calls:
            found = out.setdefault((call.sheet, call.row, call.col), [])
            for j, arg in enumerate(call.args):
                key = call.refs[j] if j < len(call.refs) else None
                if key is not None:
                    wide = _wide(key)
                    if wide is not None:
                        found.append(wide)
                else:
                    e = self.arg_exprs.get((call.id, j))
                    text = e.formula if e is not None else arg if arg != _GIVEN else ""
                    if not text:
                        continue
                    try:
                        found.extend(x for x in (self._ref(t, call.sheet) for t in references("=" + text)) if x is not None)
                    except Exception:  # text the tokenizer refuses: nothing read
                        pass
        for column in self.columns:
            for r in range(column.first, column.last + 1):
                found = out.setdefault((column.sheet, r, column.col), [])
                for a in column.args:
                    if a is not None and a[0] == "ref":
                        wide = _wide(a[1])
                        if wide is not None:
                            found.append(wide)
                    elif a is not None and a[0] == "rel":
                        found.append((a[1], r + a[3], a[2], r + a[3], a[2]))
        return out

    def circular_note(self) -> str | None:
        """One line naming the cells in circular references and what they were given, or None."""
        return circular_note(self.circular, self.package, self.stats.iterations)

    def read_input_errors(self) -> list[str]:
        """Input cells holding an error value (as the file stores them) that a formula reads."""
        if not any(s.error_cells for s in self.pkg.sheets):
            return []  # the file stores no error value anywhere: nothing to look for
        found = self._input_error_cells()
        if not found:
            return []
        rects, _ = self._formula_refs()
        hits = []
        for sheet, r, c, code in found:
            si = self.names.get(sheet.upper())
            if any(x[0] == si and x[1] <= r <= x[3] and x[2] <= c <= x[4] for _, refs in rects for x in refs):
                hits.append(f"{address(sheet, r, c)} holds {code}")
        return hits

    def _input_error_cells(self) -> list[tuple[str, int, int, str]]:
        import ironcalc as ic

        outputs = {(name, rr, cc) for name, _, r, c, fc in self._formulas() for rr, cc in self._members(r, c, fc)}
        found = []
        for si, r, c in self.model.get_all_cells():
            if (
                si >= len(self.titles)
                or self.titles[si] in (SCRATCH, ARRAYS, APPLY, ITERATION)
                or (self.titles[si], r, c) in outputs
            ):
                continue
            if self.model.get_cell_type(si, r, c) == ic.CellType.ErrorValue and not self.model.get_cell_formula(si, r, c):
                found.append((self.titles[si], r, c, str(self.model.get_cell_value(si, r, c))))
        return found

    def _volatile_closure(self) -> set[tuple[str, int, int]]:
        """The volatile cells and every formula cell that reads one, transitively (array ranges whole)."""
        return self._closure([(self.titles[si], r, c) for si, r, c, _ in self.volatile_cells])

    def offline_dependents(self) -> dict[tuple[str, int, int], str]:
        """Cells that cannot be computed offline (an external workbook, a cube function, an
        add-in's function: :mod:`addin.headless.offline`) and every cell that reads one, with
        the reason of the cell it comes from."""
        if not self.offline_cells:
            return {}
        out: dict[tuple[str, int, int], str] = {}
        for seed, why in self.offline_cells.items():
            for key in self._closure([seed]):
                out.setdefault(key, why)
        return out

    def _closure(self, seeds: list[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
        """``seeds`` and every formula cell that reads one, transitively (array ranges whole)."""
        rects, extent = self._formula_refs()
        marked: set[tuple[str, int, int]] = set()
        frontier = list(seeds)
        while frontier:
            new_cells: dict[int, list[tuple[int, int]]] = {}
            for key in frontier:
                for cell in extent.get(key, [key]):
                    if cell not in marked:
                        marked.add(cell)
                        si = self.names.get(cell[0].upper())
                        if si is not None:
                            new_cells.setdefault(si, []).append((cell[1], cell[2]))
            frontier = []
            for key, refs in rects:
                if key in marked:
                    continue
                if any(r1 <= r <= r2 and c1 <= c <= c2 for si, r1, c1, r2, c2 in refs for r, c in new_cells.get(si, ())):
                    frontier.append(key)
        return marked


class _FormulaCells:
    """Whether a cell holds a formula or belongs to an array formula's range, from the scan's
    own tables (no set of every formula cell is built)."""

    def __init__(self, run: _Run) -> None:
        self.sheets = {run.index[s.name]: s.formulas for s in run.pkg.sheets if s.name in run.index}
        self.members: set[tuple[int, int, int]] = set()
        self._columns: set[tuple[int, int]] | None = None
        for _, si, r, c, fc in run._special_formulas():
            if fc.array is not None:
                self.members.update((si, rr, cc) for rr, cc in run._members(r, c, fc))

    def __contains__(self, key: tuple[int, int, int]) -> bool:
        formulas = self.sheets.get(key[0])
        return (formulas is not None and (key[1], key[2]) in formulas) or key in self.members

    def columns(self) -> set[tuple[int, int]]:
        """(sheet, column) of every column holding a formula or an array member (made once)."""
        if self._columns is None:
            cols = {(si, c) for si, formulas in self.sheets.items() for _, c in formulas}
            cols.update((si, c) for si, _, c in self.members)
            self._columns = cols
        return self._columns


class _Merged(Mapping[str, HostFunction]):
    """The engine's own Excel functions, then the caller's (which may load lazily: only
    ``in`` and ``[]`` are used, never iteration)."""

    def __init__(self, own: dict[str, HostFunction], caller: FunctionTable) -> None:
        self.own, self.caller = own, caller

    def __contains__(self, key: object) -> bool:
        return key in self.own or key in self.caller

    def __getitem__(self, key: str) -> HostFunction:
        return self.own[key] if key in self.own else self.caller[key]

    def __iter__(self) -> Any:
        return iter(self.own)

    def __len__(self) -> int:
        return len(self.own)


class _Nesting:
    """Lifted host calls nested in one formula (``MATCH(MATCH(A1:A3,{1,2,3}),{1,2,3})``): the
    scratch references their results are cut out to, so a call given one is lifted too. An
    inner lifted call's result is an array value, not a range: a one-value parameter given it
    is evaluated element by element in any formula, as one given an array constant is
    (Microsoft, "Guidelines and examples of array formulas")."""

    def __init__(self) -> None:
        self.blocks: set[str] = set()  # blocks of a known shape
        self.pending: set[str] = set()  # one cell, the block sized once computed (_Run._sized_later)
        self.last_pending = False  # the call just judged is sized once computed
        self.refused: list[str] = []

    def lifted(self, fn: HostFunction, key: str, args: list[str], kinds: list[str], lifted: set[Any]) -> bool:
        """Whether a host call the engine takes is evaluated element by element (in ``lifted``,
        which gets it, or given a lifted call's result at a one-value parameter)."""
        given = [a for k, a in enumerate(args) if takes_one_value(fn, k) and (a in self.blocks or a in self.pending)]
        here = (key, tuple(args)) in lifted or bool(given)
        if here:
            lifted.add((key, tuple(args)))
        if any(a in self.pending for a in given):
            self.refused.append(key)
        self.last_pending = here and shape_pending(fn, kinds)
        return here

    def judged(self, args: list[str], judged: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A ``takes`` rule's (kind, text) pairs with a call's one cell whose block is sized once
        computed judged as what it is, an array (a "range")."""
        return [("range", t) if a in self.pending else (k, t) for a, (k, t) in zip(args, judged, strict=True)]

    def placed(self, ref: str, block: bool) -> str:
        """``ref``, where the call just judged is cut out to (a block of known shape or one cell)."""
        if block:
            self.blocks.add(ref)
        elif self.last_pending:
            self.pending.add(ref)
        return ref

    def check(self) -> None:
        """Refuse the formula where a lifted call reads a block sized once computed: its
        arguments are fixed before, so it would read one element only; an error with the
        reason, never a wrong number."""
        if self.refused:
            raise CellRefused(
                "#VALUE!", f"{self.refused[0]} is given, element by element, an array whose shape is known only once computed"
            )


class _Hoisted:
    """The host functions whose calls are cut out of a formula whatever their arguments (all but
    the ``fallback`` ones, which take calls of cells and constants only): a call of one inside a
    LAMBDA could not read the LAMBDA's parameter, so :func:`~addin.headless.lifting.lift` leaves
    it as written."""

    def __init__(self, functions: FunctionTable) -> None:
        self.functions = functions

    def __contains__(self, key: object) -> bool:
        # a function with a ``takes`` rule is cut out only for the calls it takes: the others stay
        # with the formula engine and are lifted like any call (Engine._reads_arrays decides them)
        return (
            isinstance(key, str)
            and key in self.functions
            and not self.functions[key].fallback
            and self.functions[key].takes is None
        )


#: Column letters seen in references, as numbers.
_COLUMNS: dict[str, int] = {}

#: An argument's text once it has been parsed into ``_Call.refs``, a constant or an expression.
_GIVEN = "(given)"


def _forms_ironcalc_lacks(text: str) -> str:
    """The formula without the forms of Excel's that IronCalc cannot parse or evaluate, written as
    forms it can: eta-reduced functions (``BYROW(r,_xleta.SUM)``, :mod:`addin.headless.eta`), the
    reference operators union and intersection (:mod:`addin.headless.refops`), arrays of column
    or row numbers (:mod:`addin.headless.choosecols`)."""
    if needs_eta(text):
        text = eta_expanded(text)
    text = _sheet_errors(text)  # first: a deleted reference inside a union or intersection poisons it
    if needs_reference_operators(text):
        text = reference_operators(text)
    if needs_number_arrays(text):
        text = number_arrays(text)
    if needs_index_refs(text):  # INDEX as a range end: addin.headless.index_refs
        text = index_refs(text)
    return text


#: A sheet-qualified error reference (``'1'!#REF!``, ``Sheet1!#REF!``: what Excel writes where
#: the cells a reference or a name pointed at were deleted), outside string literals.
_SHEET_ERROR = re.compile(r"(\"(?:[^\"]|\"\")*\")|(?:'(?:[^']|'')+'|[A-Za-z_\\][\w.]*)!(#REF!)", re.I)
#: A range with a deleted end (``$A$1:#REF!``, ``#REF!:B2``, what Excel writes where one corner's
#: cells were deleted), outside string literals: the whole range is #REF!.
_RANGE_TO_ERROR = re.compile(
    r"(\"(?:[^\"]|\"\")*\")|(?<![\w.$])\$?(?:[A-Za-z]{1,3}\$?\d*|\d+):#REF!|#REF!:\$?(?:[A-Za-z]{1,3}\$?\d*|\d+)(?![\w.$])",
    re.I,
)


def _sheet_errors(text: str) -> str:
    """``Sheet1!#REF!`` written as ``#REF!``: Excel evaluates a deleted reference to #REF!
    whatever sheet it names (Microsoft, "How to correct a #REF! error"); IronCalc 0.9.1 cannot
    parse the sheet-qualified form and gave #NAME?. A range with a deleted corner is #REF! too
    (the tokenizer could not read ``$A$1:#REF!``)."""
    if "!#REF!" in text.upper():
        text = _SHEET_ERROR.sub(lambda m: m.group(1) or "#REF!", text)
    upper = text.upper()
    if ":#REF!" in upper or "#REF!:" in upper:  # ``S!$A$1:S!#REF!``: the sheet first, then the range
        text = _RANGE_TO_ERROR.sub(lambda m: m.group(1) or "#REF!", text)
        if "!#REF!" in text.upper():
            text = _SHEET_ERROR.sub(lambda m: m.group(1) or "#REF!", text)
    return text


def _defaults_and_early_dates(text: str) -> str:
    """TEXTBEFORE/TEXTAFTER's omitted arguments filled (a cheap test first), and EDATE/EOMONTH of
    Excel's first 61 serials on its calendar (:func:`addin.headless.formula.day_zero`: before the
    1900 calendar's rewrites of the MONTH and DAY it writes)."""
    text = fill_defaults(text)
    return day_zero(text) if needs_day_zero(text) else text


def _file_text(own: str, text: str, tables: re.Pattern[str] | None) -> str:
    """The formula as the file has it (``own``) where the engine's reader loses something, else
    the reader's ``text``."""
    if needs_own_text(own):
        return grouped_comparisons(own)  # the reader dropped parentheses the file has (semantics)
    if keeps_file_text(own):
        return own_parameters(own)  # LAMBDA parameters spelled like the book's names (eta)
    if tables is not None and tables.search(own):
        return own  # the reader dropped the structured reference's brackets
    if top_level_intersection(own):
        return own  # the reader dropped an intersection's right-hand side (``=E:E 11:11`` read as ``=@E:E``)
    return text


def _cell_key(si: int, r: int, c: int) -> int:
    """A cell as one int (row below 2^21, column below 2^15): a dict key without a tuple."""
    return (si << 36) | (r << 15) | c


def _compact(ref: tuple[int, int, int, int, int] | None) -> Any:
    """A reference as kept per argument: one cell as its :func:`_cell_key` (an int, a third of
    a tuple's memory: a 100,000-row book holds 400,000 of them), a range as the tuple."""
    if ref is not None and ref[1] == ref[3] and ref[2] == ref[4]:
        return _cell_key(ref[0], ref[1], ref[2])
    return ref


def _wide(ref: Any) -> tuple[int, int, int, int, int] | None:
    """The (sheet, row1, col1, row2, col2) form of a :func:`_compact` reference."""
    if isinstance(ref, int):
        si, r, c = ref >> 36, (ref >> 15) & 0x1FFFFF, ref & 0x7FFF
        return si, r, c, r, c
    return ref


def _literal(text: str) -> Any:
    """The value of a constant argument (a number, a string, TRUE/FALSE, an error), else None."""
    t = text.strip()
    if not _LITERAL.fullmatch(t):
        return None
    if t.startswith('"'):
        return t[1:-1].replace('""', '"')
    up = t.upper()
    if up in ("TRUE", "FALSE"):
        return up == "TRUE"
    if up.startswith("#"):
        return ExcelError(up) if up in ERROR_CODES else None
    return float(t)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, ExcelError) or isinstance(b, ExcelError):
        return a == b
    return a == b or (a is None and b == "") or (b is None and a == "")


def _filled(fc: Any, r: int, c: int, text: str) -> str:
    """``text``, the formula of a legacy array formula's cell (r, c), written to fill its array
    range as Excel does (:func:`~addin.headless.formula.broadcast`: one row or column repeated,
    #N/A beyond the result); any other formula as it is."""
    if fc.array is not None and not fc.dynamic and (fc.array[0] > r or fc.array[1] > c):
        return broadcast(text, fc.array[0] - r + 1, fc.array[1] - c + 1)
    return text


def _broadcast(grid: list[list[Any]], i: int, j: int) -> Any:
    """Excel filling an array range from a result: one row/column repeats, beyond the result #N/A."""
    h, w = len(grid), max(len(row) for row in grid)
    ii = 0 if h == 1 else i
    jj = 0 if w == 1 else j
    if ii >= h or jj >= len(grid[ii]):
        return ExcelError("#N/A")
    return grid[ii][jj]


def _relocate(expr: str, sheet: str) -> str:
    """An argument expression moved to the scratch sheet: sheet-less references get the formula's sheet."""

    def qualified(operand: str) -> str | None:
        ref = split_ref(operand.lstrip("@"))
        return f"{quote_sheet(sheet)}!{ref[1]}" if ref is not None and ref[0] is None else None

    return map_ranges("=" + expr, qualified).lstrip("=")


def _plain_names(text: str) -> str:
    """A function's text as the formula engine reads it: without the file's ``_xlfn.``,
    ``_xlpm.`` and ``_xlws.`` prefixes."""
    return re.sub(r"\b_xl(?:fn|pm|ws)\.", "", text, flags=re.I)


def _evaluate(fn: HostFunction, calls: list[list[Any]], applies: list[Apply] | None = None) -> list[Any]:
    """Every call's result; a host function that raises fails only the calls that raise.

    A batch that raises is evaluated again call by call (why: one hostile cell must not turn
    every call of the function in the book into an error), so each call's result is what it
    would be alone, and only a call that raises on its own is #VALUE! with the reason.
    """
    try:
        return _batch(fn, calls, applies)
    except Exception as exc:  # a host function must not raise; if it does, only the failing calls say so
        if len(calls) == 1:
            return [_raised(fn, exc)]
    out: list[Any] = []
    for k, args in enumerate(calls):
        try:
            out.extend(_batch(fn, [args], None if applies is None else applies[k : k + 1]))
        except Exception as exc:
            out.append(_raised(fn, exc))
    return out


def _batch(fn: HostFunction, calls: list[list[Any]], applies: list[Apply] | None) -> list[Any]:
    results = fn.evaluate(calls, applies) if applies is not None else fn.evaluate(calls)  # type: ignore[call-arg]
    if len(results) != len(calls):
        return [ExcelError("#VALUE!", f"{fn.name}: {len(results)} results for {len(calls)} calls")] * len(calls)
    return list(results)


def _raised(fn: HostFunction, exc: Exception) -> ExcelError:
    """The error of a call that raised, the exception its reason."""
    return ExcelError("#VALUE!", f"{fn.name}: {type(exc).__name__}: {str(exc)[:200]}")


__all__ = ["ENGINE_ANSWER", "SCRATCH", "BookError", "FunctionTable", "HostCall", "HostFunction", "Result", "Stats", "recalculate"]


def circular_note(circular: list[tuple[str, int, int]], package: Any, iterations: int) -> str | None:
    """One line naming the cells in circular references and the value they were given, or None.

    Parameters
    ----------
    circular : list of (sheet, row, column)
        The cells in a circular reference or fed by one (1-based rows and columns).
    package : Package
        The book's package: its ``iterate``, ``iterate_count`` and ``iterate_delta`` (``calcPr``).
    iterations : int
        Rounds of iteration the evaluation made (when the book iterates).
    """
    if not circular:
        return None
    shown = ", ".join(address(s, r, c) for s, r, c in circular[:20])
    more = f" and {len(circular) - 20:,} more" if len(circular) > 20 else ""
    how = (
        f"iterated as the book asks (iterateCount {package.iterate_count:,}, iterateDelta {package.iterate_delta:g}; "
        f"{iterations:,} rounds)"
        if package.iterate
        else "0, as Excel shows them while iterative calculation is off"
    )
    return f"{len(circular):,} cells in circular references or fed by one: {shown}{more}; their value: {how}"
