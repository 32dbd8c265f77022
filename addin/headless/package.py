"""Reading a workbook package safely: limits first, XML without entities, memory per cell present.

A workbook is a zip of XML parts. Before any formula engine sees it, :func:`scan` checks it
the way a hostile file would be checked:

* every XML part is parsed by lxml with entity resolution, DTD loading and network access off,
  and a part that declares a DTD (where billion-laughs and XXE live) is refused; streaming,
  with its decompressed size capped as it is read (a zip bomb of whitespace stops at the cap,
  whatever the zip's header claims);
* cells are counted as they stream, and only formula cells (and the members of array
  formulas) are kept, so memory follows the cells present, never the bounding box
  (one value at XFD1048576 costs one cell);
* a formula longer than Excel's own limit (8,192 characters) and an array formula covering
  more cells than :attr:`Limits.array_cells` are refused with the sheet and cell.

It also reads what the engine needs from the package itself: sheet order and names, defined
names (with their sheet scope), the date system (1900 or 1904), the iterative-calculation
settings, which formulas are legacy CSE arrays or Excel 365 dynamic arrays, and, for
``validate``, the values Excel cached.
"""

from __future__ import annotations

import io
import posixpath
import re
import resource
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from pathlib import Path
from typing import IO, Any

from lxml import etree
from openpyxl.utils import range_boundaries

from addin.headless.a1 import column_letters, column_number
from addin.headless.datatables import DataTable
from addin.headless.datatables import parse as parse_data_table
from addin.headless.eta import has_parameters
from addin.headless.formula import SPACED_WORDS, top_level_intersection
from addin.headless.semantics import needs_own_text
from addin.headless.tables import Table
from addin.headless.values import ERROR_CODES, BookError, ExcelError

SUFFIXES = (".xlsx", ".xlsm")
#: Excel's grid (rows, columns) and its bound on iterative calculation.
MAX_ROWS, MAX_COLUMNS, MAX_ITERATIONS = 1_048_576, 16_384, 32_767
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
#: SpreadsheetML, transitional (what Excel writes) and strict (ISO 29500 strict).
_MAIN = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main")
_SAFE = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False, "remove_comments": True}
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.I)


@dataclass(frozen=True)
class Limits:
    """What the engine accepts; each refusal names the limit (exit 2 from the CLI).

    Attributes
    ----------
    formula_chars : int
        Excel's own limit on a formula's length (8,192 characters).
    nesting : int
        Excel's own limit on nested function calls in one formula (64 levels).
    parentheses : int
        Parentheses open at once in one formula, functions' and grouping ones (255): deeper
        text overflows the formula engine's recursive parser (3,000 levels ended the process
        with SIGSEGV), and Excel's 64 levels of functions leave ample room below it.
    part_bytes : int
        Decompressed size of one XML part (256 MiB; a 100,000-row quote book's sheet is ~60 MiB).
    cells : int
        Cells present in the whole book (values and formulas), 20 million.
    array_cells : int
        Cells one array formula may cover (1 million).
    range_cells : int
        Cells of one range where its blanks count (10 million; a whole column is 1,048,576):
        a larger range is cut to the cells that exist where that keeps the answer, else its
        formula's cell is #NUM! with the reason (:mod:`addin.headless.extent`).
    shared_strings : int
        Strings in ``xl/sharedStrings.xml`` (20 million, as ``cells``: Excel keeps only the strings
        its cells use; in-process, uncapped, this is the only bound). The formula engine's reader holds the
        whole part as a tree, ~:data:`SHARED_STRING_BYTES` a string plus
        :data:`SHARED_STRING_PART_FACTOR` a byte of the part, so under a memory cap
        (``RLIMIT_DATA``, a book's child: ``--max-memory``) the bound is also what the cap
        leaves (:func:`strings_need`): 14 million one-character strings (8.6 MB zipped, under
        ``part_bytes``) took 5.3 GB and aborted the child.
    """

    formula_chars: int = 8192
    nesting: int = 64
    parentheses: int = 255
    part_bytes: int = 256 * 2**20
    cells: int = 20_000_000
    array_cells: int = 1_000_000
    range_cells: int = 10_000_000
    shared_strings: int = 20_000_000


#: Data segment (``RLIMIT_DATA``, what ``--max-memory`` caps) the formula engine (IronCalc 0.9.1)
#: holds for each shared string while it reads the book, bytes, beside its share of the part's
#: bytes (:data:`SHARED_STRING_PART_FACTOR`). Measured: the peak ``VmData`` of a process reading
#: books of N strings of L characters, sampled every 2 ms, less the process's own before the read:
#: 738 B a string for 200,000, 800,000 and 1,600,000 strings of 8 characters (24 B of XML each;
#: 1,131 MiB for 1.6 million), 834 B at 64 characters, 1,218 B at 256, 2,750 B at 1,024: ~722 B a
#: string plus ~2 B a character. 800 leaves ~10% above the count's share.
SHARED_STRING_BYTES = 800
#: The formula engine's data segment per byte of ``xl/sharedStrings.xml`` (the text it holds and
#: the part it reads; markup counted too, which overstates by ~32 B a string), from the same
#: measurement (1.7 to 2.0 B per character).
SHARED_STRING_PART_FACTOR = 2
_SI = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


@dataclass(frozen=True, slots=True)
class FormulaCell:
    """A formula's anchor (its position is the key it is stored under): the array range it
    fills (CSE or spill) and whether it is dynamic. The many plain formulas share :data:`PLAIN`."""

    array: tuple[int, int] | None = None  # last row, last column of the array range
    dynamic: bool = False
    #: The formula as the file writes it, kept only where it holds a structured reference
    #: (``[``): IronCalc's reader turns ``Table1[@Qty]`` into ``Table1`` and loses the rest.
    text: str | None = None


PLAIN = FormulaCell()


@dataclass
class SheetInfo:
    name: str
    part: str
    formulas: dict[tuple[int, int], FormulaCell] = field(default_factory=dict)
    cached: dict[tuple[int, int], Any] = field(default_factory=dict)
    cells: int = 0
    error_cells: int = 0  # cells stored as errors (formula results and inputs), from the byte stream
    dated: bool = False  # a cell typed t="d" (an ISO date), from the byte stream
    escaped: bool = False  # an inline string and an ``_xHHHH_`` escape, from the byte stream
    formatted: bool = False  # conditional formatting or merged cells, from the byte stream (left out of the engine's copy)
    #: Cells with a type but no value (openpyxl's styled empty cell, ``<c r="Z9" s="1" t="n"></c>``):
    #: IronCalc reads them as 0 (``t="s"``: the first shared string); Excel as empty.
    valueless: list[tuple[int, int]] = field(default_factory=list)
    #: Formulas beyond Excel's length or nesting limits (or the engine's parentheses limit), by
    #: anchor, with the reason: each is an error in its own cell, never given to the formula
    #: engine (IronCalc's recursive parser ends the process at 3,000 parentheses).
    refused: dict[tuple[int, int], str] = field(default_factory=dict)
    #: Data tables (What-If Analysis): computed by :mod:`addin.headless.datatables`, their
    #: ``<f>`` left out of the engine's copy (IronCalc refuses a book holding one).
    data_tables: list[DataTable] = field(default_factory=list)
    #: With ``scan(..., calls=...)``: the formulas that are one call, with plain arguments
    #: (:func:`call_text`), of a function ``calls`` says yes to, by anchor, as the file writes
    #: them (without ``=``); the engine's copy may leave them out (:func:`engine_copy`). None:
    #: not looked for, or not every block of the sheet was read by the block step (then none is).
    calls: dict[tuple[int, int], bytes] | None = None


@dataclass
class Package:
    path: Path
    sheets: list[SheetInfo]
    date1904: bool
    iterate: bool
    iterate_count: int
    iterate_delta: float
    names: list[tuple[str, int | None, str]]
    tables: list[Table] = field(default_factory=list)
    #: Parts already read whole through the size cap (the worksheets): not read again for it.
    capped: frozenset[str] = frozenset()
    #: Of those, the parts holding a cell typed ``t="d"`` (seen as they were read: an ISO date
    #: the engine's copy gives as a serial, :func:`engine_copy`).
    dated: frozenset[str] = frozenset()
    #: Of those, the parts that may hold an inline string with an ``_xHHHH_`` escape (both seen
    #: as they were read): the engine's copy gives the text decoded (:func:`engine_copy`).
    escaped: frozenset[str] = frozenset()
    #: The cells of :attr:`SheetInfo.calls` in a sheet's XML (:func:`cut_pattern`), None when there are none.
    cut: re.Pattern[bytes] | None = None
    #: The application that saved the book (``docProps/app.xml``'s ``<Application>``), None when
    #: the file does not say: CHAR and CODE follow its platform's character set
    #: (:func:`addin.headless.charset.code_page`).
    application: str | None = None
    #: Whether the book holds a VBA project (``xl/vbaProject.bin``, an ``.xlsm``): a call of a
    #: name that is no function may then be one of its macros (:func:`addin.headless.offline.vba_reason`).
    macros: bool = False
    #: Of those, the parts holding conditional formatting or merged cells (seen as they were
    #: read): the engine's copy leaves them out (:func:`engine_copy`).
    formatted: frozenset[str] = frozenset()


class _Capped(io.RawIOBase):
    """A part's bytes, refusing to deliver more than ``cap`` (the zip header's size is not trusted),
    refusing a DTD in the prolog, and counting cell tags on the way (for the cell limit)."""

    def __init__(self, raw: IO[bytes], cap: int, what: str) -> None:
        self.raw, self.cap, self.what, self.seen, self.cells, self.errors = raw, cap, what, 0, 0, 0
        #: Whether a cell typed ``t="d"`` went by; ``_open`` is the tag still open at the end of
        #: the last block (a tag never holds ``<``), searched again with the next block.
        self.dated, self._open = False, b""
        #: An inline string and an ST_Xstring escape seen (anywhere in the part: a false positive
        #: only costs the copy's rewrite of that part)
        self.inline, self.xescape = False, False
        #: Conditional formatting or merged cells seen; ``_tail`` the end of the last block, so
        #: that a tag cut between two blocks is still found
        self.formatted, self._tail = False, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self.raw.read(len(buf))
        if self.seen == 0 and _DTD.search(data[:65536]):
            raise BookError(f"{self.what}: declares a DTD or entities; refused as unsafe (billion laughs, XXE)")
        self.seen += len(data)
        if self.seen > self.cap:
            raise BookError(f"{self.what}: larger than {self.cap // 2**20} MiB decompressed (limit part_bytes); refused")
        self.cells += data.count(b"<c ") + data.count(b"<c>") + data.count(b":c ")
        self.errors += data.count(b't="e"')
        if not self.dated:
            self._date_typed(data)
        if not self.inline:
            self.inline = b"inlineStr" in data
        if not self.xescape:
            self.xescape = _XESCAPE_BYTES.search(data) is not None
        if not self.formatted:
            edge = self._tail + data[:_TAG_LENGTH]
            self.formatted = any(tag in edge or tag in data for tag in _PRESENTATION_TAGS)
            self._tail = data[-_TAG_LENGTH:]
        buf[: len(data)] = data
        return len(data)

    def _date_typed(self, data: bytes) -> None:
        text = self._open + data
        if b'"d"' in text and _DATE_TYPED.search(text):
            self.dated = True
            return
        start = text.rfind(b"<")
        # a tag longer than 64 KiB is no cell Excel or any writer makes: not carried further
        self._open = text[start:] if start >= 0 and len(text) - start <= 65536 else b""


def check_file(path: Path) -> None:
    """Refuse, with the reason, anything that is not an existing .xlsx/.xlsm workbook."""
    if not path.exists():
        raise BookError(f"{path}: no such file")
    if path.is_dir():
        raise BookError(f"{path}: is a folder, not a workbook")
    if path.suffix.lower() not in SUFFIXES:
        raise BookError(
            f"{path.name}: not an Excel workbook (the engine reads {', '.join(SUFFIXES)}; save .xls/.ods/.csv as .xlsx first)"
        )
    if not zipfile.is_zipfile(path):
        raise BookError(f"{path.name}: not a workbook (not an Office Open XML zip; is it a renamed or damaged file?)")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_small(z: zipfile.ZipFile, name: str, limits: Limits, book: str) -> Any:
    with z.open(name) as raw:
        data = _Capped(raw, limits.part_bytes, f"{book}: {name}").read()
    try:
        return etree.fromstring(data, etree.XMLParser(**_SAFE))
    except etree.XMLSyntaxError as exc:
        raise BookError(f"{book}: {name} is not well-formed XML ({exc})") from None


def _part(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base, target))


def scan(
    path: Path | str, limits: Limits | None = None, *, cached: bool = False, calls: Callable[[str], bool] | None = None
) -> Package:
    """The workbook's structure and formula cells, checked against ``limits``; ``cached`` also
    keeps the values the file stores for formula cells and array members (for ``validate``);
    ``calls`` (without ``cached``), asked once per function name as written: whether to keep
    the text of each formula that is one call of it with plain arguments (:attr:`SheetInfo.calls`)."""
    path = Path(path)
    check_file(path)
    limits = limits or Limits()
    book = path.name
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BookError(f"{book}: cannot be opened as a zip ({exc})") from None
    with z:
        names = set(z.namelist())
        if "xl/workbook.xml" not in names:
            raise BookError(f"{book}: a zip without xl/workbook.xml, so not an Excel workbook")
        wb = _read_small(z, "xl/workbook.xml", limits, book)
        rels = _read_small(z, "xl/_rels/workbook.xml.rels", limits, book) if "xl/_rels/workbook.xml.rels" in names else None
        targets = {r.get("Id"): r.get("Target", "") for r in (rels if rels is not None else []) if isinstance(r.tag, str)}
        sheets: list[SheetInfo] = []
        date1904, iterate, count, delta = False, False, 100, 0.001
        dnames: list[tuple[str, int | None, str]] = []
        for el in wb.iter():
            tag = _local(el.tag) if isinstance(el.tag, str) else ""
            if tag == "workbookPr":
                # any workbookPr saying so (Excel may write a second one, in x15 extension markup,
                # without the attribute: it must not turn the first one's flag off)
                date1904 = date1904 or el.get("date1904", "0").strip().lower() in ("1", "true")
            elif tag == "calcPr":
                iterate = el.get("iterate", "0").lower() in ("1", "true")
                count, delta = _iteration(el, book)
            elif tag == "sheet":
                rid = el.get(f"{{{_REL_NS}}}id") or el.get("id")
                sheets.append(SheetInfo(el.get("name", ""), _part("xl", targets.get(rid, ""))))
            elif tag == "definedName":
                scope = el.get("localSheetId")
                dnames.append((el.get("name", ""), int(scope) if scope is not None else None, (el.text or "").strip()))
        _count_shared_strings(z, names, limits, book)
        strings: list[str] | None = None
        total = 0
        texts = _Calls(call_text(s.name for s in sheets), calls) if calls is not None and not cached else None
        for s in sheets:
            if s.part not in names:
                continue  # a chart sheet or a dangling relationship: nothing to compute
            need_strings = _scan_sheet(z, s, limits, book, cached, texts)
            total += s.cells
            if total > limits.cells:
                raise BookError(f"{book}: more than {limits.cells:,} cells (limit cells); refused")
            if need_strings and strings is None:
                strings = _shared_strings(z, limits, book) if "xl/sharedStrings.xml" in names else []
            if need_strings:
                for key, v in s.cached.items():
                    if isinstance(v, _SharedIndex):
                        s.cached[key] = strings[v.index] if 0 <= v.index < len(strings or []) else None
        tables = [t for s in sheets for t in _tables(z, s, names, limits, book)]
        application = _application(z, names, limits, book)
    capped = frozenset(s.part for s in sheets if s.part in names)
    dated = frozenset(s.part for s in sheets if s.part in names and s.dated)
    escaped = frozenset(s.part for s in sheets if s.part in names and s.escaped)
    formatted = frozenset(s.part for s in sheets if s.part in names and s.formatted)
    cut = texts.cut() if texts is not None and any(s.calls for s in sheets) else None
    macros = any(n.lower().endswith("vbaproject.bin") for n in names)
    return Package(
        path, sheets, date1904, iterate, count, delta, dnames, tables, capped, dated, escaped, cut, application, macros, formatted
    )


#: How the relationship type of the extended properties part ends (transitional, strict).
_EXTENDED = ("/extended-properties", "/extendedProperties")


def _application(z: zipfile.ZipFile, names: set[str], limits: Limits, book: str) -> str | None:
    """``<Application>`` of the extended properties part (found through the package's
    relationships, ``docProps/app.xml`` where they do not name it); None when absent, empty or
    unreadable (metadata: a damaged part costs the platform's guess, never the book)."""
    part = "docProps/app.xml"
    try:
        if "_rels/.rels" in names:
            for r in _read_small(z, "_rels/.rels", limits, book):
                if isinstance(r.tag, str) and r.get("Type", "").endswith(_EXTENDED):
                    part = _part("", r.get("Target", part))
        if part not in names:
            return None
        props = _read_small(z, part, limits, book)
    except BookError:
        return None
    found = next((el.text for el in props if isinstance(el.tag, str) and _local(el.tag) == "Application"), None)
    return (found.strip() or None) if found else None


def _iteration(calc_pr: Any, book: str) -> tuple[int, float]:
    """``iterateCount`` and ``iterateDelta`` of ``<calcPr>``, within Excel's own bounds
    (Options > Formulas: Maximum Iterations 1 to 32,767; Maximum Change not negative)."""
    text_count, text_delta = calc_pr.get("iterateCount", "100"), calc_pr.get("iterateDelta", "0.001")
    try:
        count, delta = int(text_count), float(text_delta)
    except ValueError:
        raise BookError(f"{book}: calcPr iterateCount={text_count!r} iterateDelta={text_delta!r} are not numbers") from None
    if not 1 <= count <= MAX_ITERATIONS:
        raise BookError(
            f"{book}: calcPr iterateCount={count:,}; Excel allows 1 to {MAX_ITERATIONS:,} iterations (File > Options > Formulas)"
        )
    if not (delta >= 0 and delta == delta and delta != float("inf")):
        raise BookError(f"{book}: calcPr iterateDelta={text_delta}; Excel's Maximum Change is a number >= 0")
    return count, delta


def nesting(text: str) -> tuple[int, int]:
    """(deepest nesting of function calls, deepest nesting of parentheses) of a formula,
    outside string literals and quoted sheet names.

    Notes
    -----
    Called only for formulas with more than 64 ``(``: fewer cannot exceed either limit.
    """
    fn_depth = depth = deepest_fn = deepest = 0
    stack: list[bool] = []
    quote = ""
    prev = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            is_fn = prev.isalnum() or prev in "._"
            stack.append(is_fn)
            depth += 1
            fn_depth += is_fn
            deepest, deepest_fn = max(deepest, depth), max(deepest_fn, fn_depth)
        elif ch == ")" and stack:
            fn_depth -= stack.pop()
            depth -= 1
        prev = ch
    return deepest_fn, deepest


def _tables(z: zipfile.ZipFile, s: SheetInfo, names: set[str], limits: Limits, book: str) -> list[Table]:
    """The tables (``xl/tables/*.xml``) a worksheet's relationships point to."""
    rels_part = posixpath.join(posixpath.dirname(s.part), "_rels", posixpath.basename(s.part) + ".rels")
    if rels_part not in names:
        return []
    out: list[Table] = []
    for rel in _read_small(z, rels_part, limits, book):
        if not isinstance(rel.tag, str) or not rel.get("Type", "").endswith("/table"):
            continue
        part = _part(posixpath.dirname(s.part), rel.get("Target", ""))
        if part not in names:
            continue
        t = _read_small(z, part, limits, book)
        try:
            c1, r1, c2, r2 = range_boundaries(t.get("ref", ""))
        except (ValueError, TypeError):
            continue
        # names are ST_Xstring: a line break in a header is stored as _x000a_ (ECMA-376 Part 1, 22.9.2.19)
        columns = tuple(
            _xstring(c.get("name", "")) for c in t.iter() if isinstance(c.tag, str) and _local(c.tag) == "tableColumn"
        )
        name = t.get("displayName") or t.get("name", "")
        heads, totals = int(t.get("headerRowCount", "1")), int(t.get("totalsRowCount", "0"))
        out.append(Table(name, s.name, r1 or 1, c1 or 1, r2 or r1 or 1, c2 or c1 or 1, heads, totals, columns))
    return out


class _SharedIndex:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _value(t: str | None, v: str | None, inline: str | None) -> Any:
    # text values are ST_Xstring: a control character is stored as _x0001_ (ECMA-376 Part 1,
    # 22.9.2.19), which Excel shows as the character; CHAR(1)'s cached value is that character
    if t == "inlineStr":
        return inline if inline is None else _xstring(inline)
    if v is None:
        return None
    if t == "s":
        return _SharedIndex(int(v))
    if t == "str":
        return _xstring(v)
    if t == "b":
        return v.strip() in ("1", "true")
    if t == "e":
        code = v.strip().upper()
        return ExcelError(code if code in ERROR_CODES else "#VALUE!")
    if t == "d":
        return v
    try:
        return float(v)
    except ValueError:
        return v


def _scan_sheet(z: zipfile.ZipFile, s: SheetInfo, limits: Limits, book: str, cached: bool, texts: _Calls | None = None) -> bool:
    """Stream one worksheet; returns whether a kept cached value is a shared string.

    Without ``cached`` only ``<f>`` elements reach Python (the cells are counted from the byte
    stream); with it every ``<c>`` does, for the stored values. Finished rows are dropped as
    the parser goes, so memory stays that of one row.
    """
    if not cached:
        with z.open(s.part) as raw:
            capped = _Capped(raw, limits.part_bytes, f"{book}: sheet {s.name!r}")
            if _formulas_from_bytes(capped, s, limits, book, texts):
                if capped.cells > limits.cells:
                    raise BookError(f"{book}: sheet {s.name!r} has more than {limits.cells:,} cells (limit cells); refused")
                s.cells, s.error_cells, s.dated = capped.cells, capped.errors, capped.dated
                s.escaped = capped.inline and capped.xescape
                s.formatted = capped.formatted
                return False
    spans: dict[int, list[tuple[int, int]]] = {}
    need_strings = False
    leaf = "c" if cached else "f"
    tags = [f"{{{ns}}}{t}" for ns in _MAIN for t in (leaf, "row")]
    with z.open(s.part) as raw:
        capped = _Capped(raw, limits.part_bytes, f"{book}: sheet {s.name!r}")
        stream = io.BufferedReader(capped, 1 << 20)
        try:
            for _, el in etree.iterparse(stream, events=("end",), tag=tags, **_SAFE):
                tag = el.tag.rsplit("}", 1)[-1]
                if tag == "row":
                    el.clear()
                    while el.getprevious() is not None:
                        del el.getparent()[0]
                    if capped.cells > limits.cells:
                        raise BookError(f"{book}: sheet {s.name!r} has more than {limits.cells:,} cells (limit cells); refused")
                    continue
                if tag == "f":  # without cached values only formulas reach Python
                    _formula_only(s, el, limits, book, spans)
                else:
                    need_strings |= _cell(s, el, limits, book, spans, cached)
        except BookError:
            raise
        except etree.XMLSyntaxError as exc:
            if "Resource limit exceeded" in str(exc):
                raise BookError(
                    f"{book}: sheet {s.name!r} holds a text run over the XML parser's 10 MB limit (a whitespace or data bomb?); refused"
                ) from None
            raise BookError(f"{book}: sheet {s.name!r} is not well-formed XML ({exc})") from None
    s.cells = capped.cells
    s.error_cells = capped.errors
    s.dated = capped.dated
    s.escaped = capped.inline and capped.xescape
    s.formatted = capped.formatted
    return need_strings


def _cell(s: SheetInfo, cell: Any, limits: Limits, book: str, spans: dict[int, list[tuple[int, int]]], cached: bool) -> bool:
    """Record one ``<c>``: its formula, and (``cached``) its stored value; True for a shared string."""
    m = _CELL_REF.fullmatch(cell.get("r", ""))
    if m is None:
        return False  # cells without r are rare (Excel always writes it); IronCalc places them
    row, col = int(m.group(2)), column_number(m.group(1).upper())
    f = v = inline = None
    for child in cell:
        name = child.tag.rsplit("}", 1)[-1] if isinstance(child.tag, str) else ""
        if name == "f":
            f = child
        elif name == "v":
            v = child.text
        elif name == "is":
            inline = "".join(t.text or "" for t in child.iter() if isinstance(t.tag, str) and t.tag.endswith("}t"))
    if f is not None:
        _formula(s, f, row, col, limits, book, spans)
    if not cached:
        return False
    if f is None and not any(c1 <= col <= c2 for c1, c2 in spans.get(row, ())):
        return False  # an input cell (input error values are found through the engine: Run.read_input_errors)
    value = _value(cell.get("t"), v, inline)
    s.cached[(row, col)] = value
    return isinstance(value, _SharedIndex)


def _formula_only(s: SheetInfo, f: Any, limits: Limits, book: str, spans: dict[int, list[tuple[int, int]]]) -> None:
    m = _CELL_REF.fullmatch(f.getparent().get("r", ""))
    if m is not None:
        _formula(s, f, int(m.group(2)), column_number(m.group(1).upper()), limits, book, spans)


def _formula(
    s: SheetInfo, f: Any, row: int, col: int, limits: Limits, book: str, spans: dict[int, list[tuple[int, int]]]
) -> None:
    # cm (cell metadata: a dynamic array formula) is an attribute of the cell, not of <f>
    parent = f.getparent()
    if f.get("t") == "dataTable":
        _data_table(s, dict(f.attrib), row, col, limits, book, spans)
        return
    dynamic = parent is not None and parent.get("cm") is not None
    _record(s, f.text or "", f.get("t"), f.get("ref"), dynamic, row, col, limits, book, spans)


def _data_table(
    s: SheetInfo, attrs: dict[str, str], row: int, col: int, limits: Limits, book: str, spans: dict[int, list[tuple[int, int]]]
) -> None:
    """Keep a data table (its results are array members of the anchor, for ``validate`` and the writer)."""
    t = parse_data_table(attrs.get("ref"), attrs, row, col)
    if t is None:
        raise BookError(f"{book}: {s.name}!{column_letters(col)}{row}: data table range {attrs.get('ref')!r} is not a range")
    r1, c1, r2, c2 = t.area
    if (r2 - r1 + 1) * (c2 - c1 + 1) > limits.array_cells:
        raise BookError(
            f"{book}: {s.name}!{column_letters(col)}{row}: data table over {attrs.get('ref')} covers more than "
            f"{limits.array_cells:,} cells (limit array_cells); refused"
        )
    s.data_tables.append(t)
    s.formulas[(r1, c1)] = FormulaCell((r2, c2), False, None)
    for r in range(r1, r2 + 1):  # the results' cached values are read like an array's
        spans.setdefault(r, []).append((c1, c2))


def over_limits(text: str, limits: Limits) -> str | None:
    """Why a formula is beyond Excel's limits (Microsoft, "Excel specifications and limits":
    8,192 characters, 64 levels of nested functions) or the engine's parentheses limit, or None."""
    if len(text) > limits.formula_chars:
        return f"a formula of {len(text):,} characters; Excel's limit is {limits.formula_chars:,}"
    if text.count("(") > min(limits.nesting, limits.parentheses):
        fns, parens = nesting(text)
        if fns > limits.nesting:
            return f"functions nested {fns} levels deep; Excel's limit is {limits.nesting}"
        if parens > limits.parentheses:
            return f"parentheses nested {parens} levels deep; the engine's limit is {limits.parentheses} (limit parentheses)"
    return None


def _record(
    s: SheetInfo,
    text: str,
    kind: str | None,
    ref: str | None,
    dynamic: bool,
    row: int,
    col: int,
    limits: Limits,
    book: str,
    spans: dict[int, list[tuple[int, int]]],
) -> None:
    """Keep one formula: refuse the book for a formula beyond Excel's grid or the array limit;
    one beyond Excel's length or nesting is kept as refused (an error in its cell, the reason
    listed); note its array range."""
    if row > MAX_ROWS or col > MAX_COLUMNS:
        raise BookError(f"{book}: {s.name}: a formula at row {row:,}, column {col:,}, beyond Excel's grid of 1,048,576 x 16,384")
    array = None
    if kind == "array" and ref:
        try:
            c1, r1, c2, r2 = range_boundaries(ref)
        except (ValueError, TypeError):
            raise BookError(f"{book}: {s.name}!{column_letters(col)}{row}: array range {ref!r} is not a range") from None
        r2, c2 = r2 or r1, c2 or c1
        if (r2 - row + 1) * (c2 - col + 1) > limits.array_cells:
            raise BookError(
                f"{book}: {s.name}!{column_letters(col)}{row}: array formula over {ref} covers more than "
                f"{limits.array_cells:,} cells (limit array_cells); refused"
            )
        array = (r2, c2)
        for r in range(row, r2 + 1):
            spans.setdefault(r, []).append((col, c2))
    why = over_limits(text, limits)
    if why is not None:
        if kind == "shared":  # its group's other cells are written as the master's text
            raise BookError(f"{book}: {s.name}!{column_letters(col)}{row}: the master of a shared formula has {why}")
        s.refused[(row, col)] = why
        s.formulas[(row, col)] = PLAIN if array is None and not dynamic else FormulaCell(array, dynamic)
        return
    # the text as the file has it, where the engine's reader loses something: a structured
    # reference (IronCalc reads ``Table1[@Qty]`` as ``Table1``), parentheses around a comparison,
    # a LAMBDA parameter (which may be spelled like a defined name: addin.headless.eta), an
    # intersection at the formula's top level (IronCalc reads ``=E:E 11:11`` as ``=@E:E``)
    own = "[" in text or needs_own_text(text) or has_parameters(text) or top_level_intersection(text)
    structured = "=" + text if own else None
    plain = array is None and not dynamic and structured is None
    s.formulas[(row, col)] = PLAIN if plain else FormulaCell(array, dynamic, structured)


# ----------------------------------------------------------------------------- formulas from the bytes

#: A cell whose first child is its formula, as Excel and openpyxl write them (any namespace prefix).
CELL_F = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*)>\s*<(?:[A-Za-z_][\w.-]*:)?f\b([^>]*?)(?:/>|>([^<]*)</(?:[A-Za-z_][\w.-]*:)?f>)"
)
#: A cell without content (``<c .../>`` or ``<c ...></c>``): its attributes, to look for ``t=``
#: in (:func:`_valueless`). Possessive: each ``<c`` is passed over once, never backtracked
#: into (a lazy pattern looking for ``t=`` itself was ~3x slower on a 70 MB sheet).
_EMPTY_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*+)(?:(?<=/)>|>\s*</(?:[A-Za-z_][\w.-]*:)?c>)")
_T_ATTR = re.compile(rb'\st\s*=\s*"[^"]*"')
_ANY_F = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_ATTRS = re.compile(rb'([\w:.-]+)\s*=\s*"([^"]*)"')
R_ATTR = re.compile(rb'(?:^|\s)r\s*=\s*"\$?([A-Za-z]{1,3})\$?(\d+)"')
_CM_ATTR = re.compile(rb'(?:^|\s)cm\s*=\s*"')
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#\d+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


#: Bytes read without a row starting before the bytes scan hands the sheet to the XML parser
#: (whose 10 MB limit on one text run refuses a whitespace bomb).
_ROW_BYTES = 10 * 2**20


def _last_row_start(data: bytes) -> int:
    """Where the last ``<row`` (or ``<x:row``) tag of ``data`` starts, -1 if none."""
    best = max(data.rfind(b"<row "), data.rfind(b"<row>"))
    k = max(data.rfind(b":row "), data.rfind(b":row>"))
    if k > best:
        start = data.rfind(b"<", 0, k)
        if start >= 0 and re.fullmatch(rb"<[A-Za-z_][\w.-]*", data[start:k]):
            best = start
    return best


def _unescape(text: str) -> str:
    if "&" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] == "#":
            return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))
        return _NAMED[e]

    return _ENTITY.sub(one, text)


#: The common formula cell as Excel and openpyxl write it, in one match: ``r`` first (upper-case
#: letters, a row without ``$`` or a leading 0), attributes whose values hold neither ``"`` nor
#: ``>``, then a bare ``<f>`` (no attribute: no array, shared or data table formula) whose text
#: holds no ``[`` (a structured reference) and no markup. The groups: the column letters, the
#: row, the other attributes, the formula's text.
_PLAIN_F = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[\w:.-]+="[^">]*")*)\s*>\s*<f\s*>([^<\[]*)</f>')


def _plain_block(
    data: bytes,
    formulas: dict[tuple[int, int], FormulaCell],
    limits: Limits,
    columns: dict[bytes, int],
    calls: tuple[dict[tuple[int, int], bytes], _Calls] | None = None,
) -> bool:
    """Record every formula of ``data`` (whole rows) as :data:`PLAIN` in one step, when each of
    them is the common formula (:data:`_PLAIN_F`) that the per-cell loop of
    :func:`_formulas_from_bytes` would record as :data:`PLAIN`; False, with nothing recorded,
    when any is not (that loop then reads the block).

    Notes
    -----
    The per-cell conditions are checked over the whole block at once (``map``, ``max``,
    ``join``: no Python loop per cell), and conservatively: a block where any formula is over
    64 ``(``, holds ``&amp;``, a cell attribute holds ``cm`` (a dynamic array) or a cell is
    beyond Excel's grid goes to the per-cell loop, which decides each cell.

    ``calls``: where to note, by anchor, the text of each of these formulas that is a call
    :class:`_Calls` keeps.
    """
    found = _PLAIN_F.findall(data)
    # every formula is one of those: each holds a "<f", so no other "<f" (and no prefixed
    # "<x:f") means no other formula, else the exact count decides
    if (data.count(b"<f") != len(found) or b":f" in data) and len(found) != len(_ANY_F.findall(data)):
        return False  # another kind of formula (or one written another way) is in the block
    if not found:
        return True
    letters, digits, attrs, raws = zip(*found, strict=True)
    longest = max(map(len, raws))
    if longest > limits.formula_chars or (longest > 64 and max(map(bytes.count, raws, repeat(b"("))) > 64):
        return False
    joined = b"\x00".join(raws)
    if b"&amp;" in joined or b"cm" in b"\x00".join(attrs) or SPACED_WORDS.search(joined) is not None:
        return False
    rows = list(map(int, digits))
    for name in set(letters).difference(columns):
        columns[name] = column_number(name.decode())
    cols = list(map(columns.__getitem__, letters))
    if max(rows) > MAX_ROWS or max(cols) > MAX_COLUMNS:
        return False
    keys = list(zip(rows, cols))  # one tuple a cell, for both tables
    formulas.update(zip(keys, repeat(PLAIN)))
    if calls is not None:
        noted, keep = calls
        wanted = keep.pattern(b"\x00" + joined)
        if wanted is not None:
            noted.update(compress(zip(keys, raws), map(wanted.fullmatch, raws)))
    return True


#: What may stand in :func:`call_text` for an argument. A cell reference written as Excel
#: writes it (upper-case column letters up to ``WZZ``, rows up to 999,999: a bound below
#: Excel's grid, so no reference is beyond it); a number as Excel writes one; TRUE or FALSE.
#: No string, name, range, array, error, expression or empty argument.
_CALL_CELL = rb"\$?(?:[A-Z]{1,2}|[A-W][A-Z]{2})\$?[1-9][0-9]{0,5}"
_CALL_NUMBER = rb"-?[0-9]+(?:\.[0-9]+)?(?:E[+-]?[0-9]+)?"
#: A sheet name a formula writes without quotes, and that reads as nothing else (a cell, an
#: R1C1 reference, a boolean: Excel quotes those).
_BARE_SHEET = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_LOOKS_LIKE_CELL = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc]?[0-9]*|TRUE|FALSE", re.I)


def call_text(sheets: Iterable[str]) -> re.Pattern[bytes]:
    """The formula texts (as a file writes them, without ``=``) that are one call of a function
    with plain arguments: ``CQ_BLACK(D2,G2,C2,H2,I2)``, ``CQ_FORWARD(Market!$B$1,Market!$B$3,B2)``.

    Notes
    -----
    The group is the function's name as written. Each argument is a cell reference (on one of
    ``sheets`` whose name needs no quotes, or on the formula's own sheet), a number or a
    boolean, each in the one spelling Excel writes. Such a text reads the same to any reader:
    the engine takes it from the file instead of asking the formula engine for its own
    rendering (which differs only in the function name's case).
    """
    names = sorted({n for n in sheets if _BARE_SHEET.fullmatch(n) and not _LOOKS_LIKE_CELL.fullmatch(n)}, key=len, reverse=True)
    sheet = rb"(?:(?i:" + b"|".join(re.escape(n.encode()) for n in names) + rb")!)?" if names else b""
    arg = rb"(?:" + sheet + _CALL_CELL + rb"|" + _CALL_NUMBER + rb"|TRUE|FALSE)"
    return re.compile(rb"([A-Za-z_][\w.]*)\((?:" + arg + rb"(?:," + arg + rb")*)?\)")


#: The function name each formula of a block starts with (the block's texts joined by NUL, a NUL first).
_HEADS = re.compile(rb"\x00([A-Za-z_][\w.]*)\(")


class _Calls:
    """The one-call formulas :func:`scan` keeps: :func:`call_text` with its function one of
    those ``host`` says yes to (asked once a name, as names first appear in a block)."""

    def __init__(self, texts: re.Pattern[bytes], host: Callable[[str], bool]) -> None:
        self.texts = texts
        self.host = host
        self.verdict: dict[bytes, bool] = {}
        self.wanted: re.Pattern[bytes] | None = None  # texts, restricted to the names said yes to

    def pattern(self, joined: bytes) -> re.Pattern[bytes] | None:
        """The pattern of the kept texts for a block whose formulas are ``joined`` (NUL first
        and between): every name in the block has been asked about."""
        new = set(_HEADS.findall(joined)).difference(self.verdict)
        if new:
            for name in new:
                self.verdict[name] = bool(self.host(name.decode()))
            yes = [n for n, said in self.verdict.items() if said]
            self.wanted = restricted(self.texts, yes) if yes else None
        return self.wanted

    def cut(self) -> re.Pattern[bytes] | None:
        """The ``<f>`` elements of the kept texts (:func:`cut_pattern`), None when none is kept."""
        return cut_pattern(self.wanted) if self.wanted is not None else None


def restricted(texts: re.Pattern[bytes], names: Iterable[bytes]) -> re.Pattern[bytes]:
    """``texts`` (:func:`call_text`) with the function one of ``names`` (as written)."""
    alternatives = rb"(?:" + b"|".join(re.escape(n) for n in sorted(names)) + rb")"
    return re.compile(texts.pattern.replace(rb"([A-Za-z_][\w.]*)", alternatives, 1))


def cut_pattern(wanted: re.Pattern[bytes]) -> re.Pattern[bytes]:
    """The ``<f>`` elements whose whole text ``wanted`` matches (:func:`restricted`).

    Notes
    -----
    In a sheet whose every block the block step read (:func:`_plain_block`), each ``<f``
    is a bare ``<f>`` inside a :data:`_PLAIN_F` cell, whose text runs to ``</f>``: so these
    elements are exactly the formulas of the cells whose text the scan kept, and
    :func:`engine_copy` removes them with a plain replacement (no group: one step in C).
    """
    return re.compile(rb"<f\s*>" + wanted.pattern + rb"</f>")


def _formulas_from_bytes(stream: IO[bytes], s: SheetInfo, limits: Limits, book: str, texts: _Calls | None = None) -> bool:
    """The sheet's formulas found in its bytes, a block of whole rows at a time (``stream`` is
    the capped, DTD-checked part). False, with nothing kept, when a formula is not where Excel
    writes it (first child of its cell): the XML parser then reads the sheet. ``texts``: the
    one-call formulas to note in :attr:`SheetInfo.calls` (kept only when every block is read
    by the block step)."""
    spans: dict[int, list[tuple[int, int]]] = {}
    calls: tuple[dict[tuple[int, int], bytes], _Calls] | None = ({}, texts) if texts is not None else None
    columns: dict[bytes, int] = {}
    formulas = s.formulas
    tail = b""
    while True:
        chunk = stream.read(1 << 20)
        data = tail + chunk
        if chunk:
            cut = _last_row_start(data)
            if cut <= 0:
                if len(data) > _ROW_BYTES:
                    s.formulas.clear()
                    return False  # 10 MB without a row boundary: the parser, with its text limit, decides
                tail = data
                continue
            data, tail = data[:cut], data[cut:]
        _valueless(data, s)
        if not _plain_block(data, formulas, limits, columns, calls):
            calls = None  # a block of other cells: no formula of this sheet is left out of the engine's copy
            if not _block_cells(data, s, limits, book, spans, columns):
                s.formulas.clear()
                return False
        if not chunk:
            s.calls = calls[0] if calls is not None else None
            return True


def _valueless(data: bytes, s: SheetInfo) -> None:
    """Note the typed cells without a value in ``data`` (:attr:`SheetInfo.valueless`)."""
    for m in _EMPTY_CELL.finditer(data):
        if _T_ATTR.search(m.group(1)) is None:
            continue  # an empty cell with no type (a styled blank): Excel and IronCalc agree
        ref = R_ATTR.search(m.group(1))
        if ref is not None:
            s.valueless.append((int(ref.group(2)), column_number(ref.group(1).decode().upper())))


def _block_cells(
    data: bytes, s: SheetInfo, limits: Limits, book: str, spans: dict[int, list[tuple[int, int]]], columns: dict[bytes, int]
) -> bool:
    """Record the formulas of ``data`` (whole rows) one cell at a time; False when a formula is
    not the first child of its cell or a cell has no ``r`` (the XML parser then reads the sheet)."""
    formulas = s.formulas
    found = 0
    for m in CELL_F.finditer(data):
        ref = R_ATTR.search(m.group(1))
        if ref is None:
            return False
        letters = ref.group(1)
        col = columns.get(letters)
        if col is None:
            col = columns[letters] = column_number(letters.decode().upper())
        raw = m.group(3) or b""
        found += 1
        row = int(ref.group(2))
        if (
            not m.group(2).strip()
            and b"[" not in raw
            and len(raw) <= limits.formula_chars
            and b"cm" not in m.group(1)
            and raw.count(b"(") <= 64
            and not (b"&amp;" in raw and (b"&lt;" in raw or b"&gt;" in raw or b"=" in raw))
            and (b" " not in raw or SPACED_WORDS.search(raw) is None)
            and col <= MAX_COLUMNS
            and row <= MAX_ROWS
        ):
            formulas[(row, col)] = PLAIN  # the common formula: no array, no table, short
            continue
        f = dict(_ATTRS.findall(m.group(2))) if m.group(2).strip() else {}
        text = _unescape(raw.decode("utf-8"))
        kind, area = f.get(b"t"), f.get(b"ref")
        if kind == b"dataTable":
            _data_table(s, {k.decode(): v.decode() for k, v in f.items()}, row, col, limits, book, spans)
            continue
        dynamic = _CM_ATTR.search(m.group(1)) is not None
        _record(
            s, text, kind.decode() if kind else None, area.decode() if area else None,
            dynamic, row, col, limits, book, spans,
        )  # fmt: skip
    return found == len(_ANY_F.findall(data))


def memory_budget() -> int | None:
    """This process's data-segment cap in bytes (a book's child: ``--max-memory``), None if uncapped."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    return None if soft == resource.RLIM_INFINITY else soft


def data_in_use() -> int:
    """This process's data segment now (``VmData``, what ``RLIMIT_DATA`` compares), bytes; 0 where
    ``/proc`` does not say."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def strings_need(count: int, part_bytes: int) -> int:
    """The data segment the formula engine needs to read ``count`` shared strings from a part of
    ``part_bytes`` bytes (:data:`SHARED_STRING_BYTES`, :data:`SHARED_STRING_PART_FACTOR`)."""
    return count * SHARED_STRING_BYTES + part_bytes * SHARED_STRING_PART_FACTOR


def _count_shared_strings(z: zipfile.ZipFile, parts: set[str], limits: Limits, book: str) -> int:
    """The strings of ``xl/sharedStrings.xml`` (its ``<si>`` elements, counted in the bytes,
    nothing built), refused with the limit named past :attr:`Limits.shared_strings`, or when
    what the formula engine needs to read them (:func:`strings_need`: their count and the part's
    bytes) is more than the memory cap leaves (the cap less what this process holds already):
    before the formula engine reads the part, whose allocation failure would abort the process."""
    if "xl/sharedStrings.xml" not in parts:
        return 0
    cap = memory_budget()
    room = None if cap is None else max(0, cap - data_in_use())
    n = size = 0
    carry = b""
    early = False  # stopped reading: the counts are lower bounds
    with z.open("xl/sharedStrings.xml") as raw:
        stream = _Capped(raw, limits.part_bytes, f"{book}: xl/sharedStrings.xml")
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            data = carry + chunk
            # a start tag holds one "<", at its start: the text before the last "<" is whole
            cut = data.rfind(b"<")
            cut = cut if cut >= 0 and len(data) - cut < 256 else len(data)
            n += len(_SI.findall(data, 0, cut))
            carry = data[cut:]
            if n > limits.shared_strings or (room is not None and strings_need(n, size) > room):
                early = True
                break
        n += len(_SI.findall(carry))
    if n > limits.shared_strings:
        raise BookError(
            f"{book}: xl/sharedStrings.xml holds more than {limits.shared_strings:,} strings (limit shared_strings); refused"
        )
    if room is not None and cap is not None and strings_need(n, size) > room:
        least = "at least " if early else ""
        raise BookError(
            f"{book}: xl/sharedStrings.xml holds {least}{n:,} strings in {least}{size / 2**20:,.1f} MiB, which the "
            f"formula engine needs ~{strings_need(n, size) / 2**20:,.0f} MiB to read (~{SHARED_STRING_BYTES} bytes a "
            f"string and {SHARED_STRING_PART_FACTOR} a byte of the part), more than the {room / 2**20:,.0f} MiB the "
            f"memory cap of {cap / 2**20:,.0f} MiB leaves (limit --max-memory); refused"
        )
    return n


def _shared_strings(z: zipfile.ZipFile, limits: Limits, book: str) -> list[str]:
    out: list[str] = []
    with z.open("xl/sharedStrings.xml") as raw:
        stream = io.BufferedReader(_Capped(raw, limits.part_bytes, f"{book}: xl/sharedStrings.xml"), 1 << 20)
        try:
            for _, el in etree.iterparse(stream, events=("end",), tag=[f"{{{ns}}}si" for ns in _MAIN], **_SAFE):
                text = "".join(t.text or "" for t in el.iter() if isinstance(t.tag, str) and t.tag.endswith("}t"))
                out.append(_xstring(text))  # ST_Xstring (see _value)
                el.clear()
        except etree.XMLSyntaxError as exc:
            raise BookError(f"{book}: xl/sharedStrings.xml is not well-formed XML ({exc})") from None
    return out


def _relative_targets(rels: bytes, base: str) -> bytes:
    return re.sub(
        rb'Target="/([^"]*)"', lambda m: b'Target="' + posixpath.relpath(m.group(1).decode(), base).encode() + b'"', rels
    )


def engine_copy(
    src: Path,
    dst: Path,
    limits: Limits,
    capped: frozenset[str] = frozenset(),
    drop: dict[str, set[tuple[int, int]]] | None = None,
    date1904: bool = False,
    dated: frozenset[str] = frozenset(),
    cut: Mapping[str, tuple[re.Pattern[bytes], int]] | None = None,
    cut_done: set[str] | None = None,
    escaped: frozenset[str] = frozenset(),
    formatted: frozenset[str] = frozenset(),
) -> Path:
    """The package a formula engine can open: ``src`` itself, or a copy at ``dst`` whose
    relationship targets are made relative.

    openpyxl writes absolute targets (``/xl/comments/comment1.xml``) that IronCalc cannot
    resolve; Excel reads both. Only ``.rels`` parts change; the engine's copy is never written
    back (the writer patches the original). Every part is read through the size cap first, so
    no part the engine will decompress is larger than :attr:`Limits.part_bytes` (``capped``:
    the parts :func:`scan` has read whole through the cap already). ``drop``: by sheet part,
    the (row, column) of formulas the engine must never parse (:attr:`SheetInfo.refused`):
    their ``<f>`` is left out of the copy. Cells typed ``t="d"`` (an ISO 8601 date, as Strict
    books and openpyxl's ``iso_dates`` write them; IronCalc reads them as not implemented) are
    given as the date's serial in the book's date system (:func:`iso_serial`); ``dated``: the
    parts of ``capped`` that hold such cells (:attr:`Package.dated`, seen by :func:`scan` as it
    read them: those parts are not decompressed again here).

    ``cut``: by sheet part, a pattern (:func:`cut_pattern`) and how many cells it must match
    there: the ``<f>`` of those cells is left out of the copy (formulas the engine evaluates
    itself, which the formula engine would parse for nothing), when it matches exactly that
    many (each part where it did is added to ``cut_done``; elsewhere the part is copied whole).
    Only parts that appear once in the zip are cut.

    ``escaped``: the parts of ``capped`` that may hold an inline string with an ``_xHHHH_``
    escape (:attr:`Package.escaped`): its text is given decoded (:func:`_decoded_inline`), as
    Excel reads it (ECMA-376 Part 1, 22.9.2.19 ST_Xstring); IronCalc 0.9.1 decodes the escapes
    of shared strings only.

    ``formatted``: the parts of ``capped`` holding conditional formatting or merged cells
    (:attr:`Package.formatted`); every sheet's ``<conditionalFormatting>`` and ``<mergeCells>``
    are left out of the copy (:func:`_without_presentation`).
    """
    drop = {part: cells for part, cells in (drop or {}).items() if cells}
    fix = bool(drop)
    typed: set[str] = set()
    inline: set[str] = set()
    styled: set[str] = set()
    with zipfile.ZipFile(src) as z:
        seen = [i.filename for i in z.infolist()]
        once = {n for n in capped if seen.count(n) == 1} if capped else set()
        cut = {part: how for part, how in (cut or {}).items() if how[1] and seen.count(part) == 1}
        fix = fix or bool(cut)
        for info in z.infolist():
            sheet = info.filename.startswith("xl/worksheets/")
            if info.filename in once:
                # read through the cap by scan already (a name held twice is read again), which
                # saw its dates and escapes
                dates, escapes = info.filename in dated, info.filename in escaped
                rules = info.filename in formatted
            else:
                with z.open(info) as raw:
                    stream = _Capped(raw, limits.part_bytes, f"{src.name}: {info.filename}")
                    while chunk := stream.read(1 << 20):
                        if info.filename.endswith(".rels") and b'Target="/' in chunk:
                            fix = True
                    dates, escapes = stream.dated, stream.inline and stream.xescape
                    rules = stream.formatted
            if sheet and dates:
                fix = True
                typed.add(info.filename)
            if sheet and escapes:  # an inline string and an ``_xHHHH_`` escape in the part
                fix = True
                inline.add(info.filename)
            if sheet and rules:
                fix = True
                styled.add(info.filename)
        if not fix:
            return src
        # a temporary file the engine reads once: stored, not compressed again
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as out:
            for info in z.infolist():
                data = z.read(info)
                if info.filename in cut:
                    pattern, expected = cut[info.filename]
                    without, n = pattern.subn(b"", data)
                    if n == expected:
                        data = without
                        if cut_done is not None:
                            cut_done.add(info.filename)
                data = _fixed(info.filename, data, drop, typed, inline, date1904, styled)
                out.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    return dst


def _fixed(
    part: str,
    data: bytes,
    drop: dict[str, set[tuple[int, int]]],
    typed: set[str],
    inline: set[str],
    date1904: bool,
    styled: frozenset[str] | set[str] = frozenset(),
) -> bytes:
    """One part of :func:`engine_copy`'s copy: relative targets, formulas dropped, ISO dates as
    serials, inline strings' escapes decoded, conditional formatting left out, where each applies."""
    if part.endswith(".rels") and b'Target="/' in data:
        data = _relative_targets(data, posixpath.dirname(posixpath.dirname(part)) or ".")
    if part in drop:
        data = _without_formulas(data, drop[part])
    if part in typed:
        data = _serial_dates(data, date1904)
    if part in inline and _XESCAPE_BYTES.search(data):
        data = _decoded_inline(data)
    if part in styled:
        data = _without_presentation(data)
    return data


#: The sheet elements that change how cells look, never a value (:func:`_without_presentation`).
_PRESENTATION_TAGS = (b"conditionalFormatting", b"mergeCell")
_TAG_LENGTH = max(map(len, _PRESENTATION_TAGS))
_PRESENTATION = re.compile(
    rb"<((?:[A-Za-z_][\w.-]*:)?(?:conditionalFormatting|mergeCells))\b(?:[^>]*/>|.*?</\1\s*>)",
    re.S,
)


#: An XML comment (never part of the content; its text may look like markup).
_COMMENT = re.compile(rb"<!--.*?-->", re.S)


def _without_presentation(data: bytes) -> bytes:
    """The sheet XML without its ``<conditionalFormatting>`` elements (and the ``x14:`` ones
    of its extension list, their container left empty) and its ``<mergeCells>``.

    Merged cells: IronCalc 0.9.1 reads a value stored in a cell that a merge covers (any but
    its top-left) as empty, so a formula reading it got 0. Excel keeps such a value and formulas
    read it (an Excel-saved test book of LibreOffice's, tdf111974, caches results that read
    covered cells; ECMA-376 Part 1, 18.3.1.55/56, gives a merge only a range, no value); a
    merge never changes a value, and the writer patches the original, merges included.

    Conditional formatting changes how a cell looks, never its value (ECMA-376 Part 1,
    18.3.1.18: a format applied "based on the cell values"; Microsoft, "Use conditional
    formatting to highlight information"), and the engine's values come from the formula
    engine's copy only (the writer patches the original, rules included). IronCalc 0.9.1
    evaluates every rule at every cell of its range when it loads a book (``apply_cf_rule``),
    each evaluation computing the cells the rule reads without keeping them: a rule over 2,400
    cells that read exact lookups over whole columns held the load for minutes (measured).
    """
    if b"<!--" in data:  # a tag inside a comment is no tag (XML 1.0, 2.5): comments go first
        data = _COMMENT.sub(b"", data)
    return _PRESENTATION.sub(b"", data)


_CELL_AND_F = re.compile(
    rb"(<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*)>)\s*<(?:[A-Za-z_][\w.-]*:)?f\b[^>]*?(?:/>|>[^<]*</(?:[A-Za-z_][\w.-]*:)?f>)"
)


def _without_formulas(data: bytes, cells: set[tuple[int, int]]) -> bytes:
    """The sheet XML without the ``<f>`` of ``cells`` (row, column): the cell keeps its value."""

    def cut(m: re.Match[bytes]) -> bytes:
        ref = R_ATTR.search(m.group(2))
        if ref is not None and (int(ref.group(2)), column_number(ref.group(1).decode().upper())) in cells:
            return m.group(1)
        return m.group(0)

    return _CELL_AND_F.sub(cut, data)


_DATE_TYPED = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*\st\s*=\s*"d"')
_DATE_CELL = re.compile(
    rb'(<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*?)\st\s*=\s*"d"([^>]*>\s*<(?:[A-Za-z_][\w.-]*:)?v>)([^<]*)(</(?:[A-Za-z_][\w.-]*:)?v>)'
)
_ISO = re.compile(r"(?:(\d{4})-(\d{2})-(\d{2}))?(?:T?(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?(Z|[+-]\d{2}:?\d{2})?")


def iso_serial(text: str, date1904: bool) -> float | None:
    """The serial of an ISO 8601 date/time (``2024-03-01``, ``2024-03-01T12:00:00Z``,
    ``T10:30:00``, as ECMA-376 Part 1, 18.17.4 allows in ``t="d"`` cells) in the book's date
    system: 1900 as Excel counts it (its 29 February 1900), 1904 from 1904-01-01 = 0 (Microsoft,
    "Date systems in Excel"); None for text that is no such date. An offset is dropped: Excel
    keeps wall-clock time."""
    from addin.headless.serials import excel_serial

    m = _ISO.fullmatch(text.strip())
    if m is None or not text.strip() or (m.group(1) is None and m.group(4) is None):
        return None
    day = 0.0
    try:
        if m.group(1) is not None:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if date1904:
                from datetime import date

                day = float((date(y, mo, d) - date(1904, 1, 1)).days)
            else:
                day = float(excel_serial(y, mo, d))
    except ValueError:
        return None
    if m.group(4) is not None:
        day += (int(m.group(4)) * 3600 + int(m.group(5)) * 60 + float(m.group(6) or 0)) / 86400
    return day


def _serial_dates(data: bytes, date1904: bool) -> bytes:
    """The sheet XML with each ``t="d"`` cell's ISO date as a number (its serial)."""

    def number(m: re.Match[bytes]) -> bytes:
        serial = iso_serial(m.group(3).decode("utf-8", "replace"), date1904)
        if serial is None:
            return m.group(1) + b' t="e"' + m.group(2) + b"#VALUE!" + m.group(4)  # not a date: Excel cannot read it either
        return m.group(1) + m.group(2) + repr(serial).encode() + m.group(4)

    return _DATE_CELL.sub(number, data)


_XESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XESCAPE_BYTES = re.compile(rb"_x([0-9A-Fa-f]{4})_")
_INLINE = re.compile(rb"(<(?:[A-Za-z_][\w.-]*:)?is\b[^>]*>)(.*?)(</(?:[A-Za-z_][\w.-]*:)?is>)", re.S)
_T_TEXT = re.compile(rb"(<(?:[A-Za-z_][\w.-]*:)?t\b[^>/]*>)([^<]*)(<)")


def _xml_char(m: re.Match[bytes]) -> bytes:
    """One ``_xHHHH_`` escape as the character in XML (escaped where XML needs it); kept as
    written where XML 1.0 cannot hold the character (C0 controls other than tab and line
    breaks, surrogates, U+FFFE/U+FFFF)."""
    code = int(m.group(1), 16)
    if (code < 0x20 and code not in (0x9, 0xA, 0xD)) or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
        return m.group(0)
    return {0x26: b"&amp;", 0x3C: b"&lt;", 0x3E: b"&gt;"}.get(code) or chr(code).encode("utf-8")


def _decoded_inline(data: bytes) -> bytes:
    """The sheet XML with the ``_xHHHH_`` escapes of every inline string's text decoded
    (:func:`_xml_char`); shared strings, formulas and other values as they are."""

    def texts(m: re.Match[bytes]) -> bytes:
        body = _T_TEXT.sub(lambda t: t.group(1) + _XESCAPE_BYTES.sub(_xml_char, t.group(2)) + t.group(3), m.group(2))
        return m.group(1) + body + m.group(3)

    return _INLINE.sub(texts, data)


def _xstring(text: str) -> str:
    """An ST_Xstring with its ``_xHHHH_`` escapes decoded (``_x005f_`` escapes an underscore)."""
    return _XESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


#: A string literal of a formula (``""`` inside it is one quote).
_FORMULA_STRING = re.compile(r'"(?:[^"]|"")*"')


def formula_strings(text: str) -> str:
    """A formula with the ``_xHHHH_`` escapes of its string literals decoded, as Excel reads them.

    A cell's formula is an ST_Xstring like its text (ECMA-376 Part 1, 18.3.1.40 ``f`` of type
    ST_Formula, itself ST_Xstring, 22.9.2.19): Excel writes the text ``_x000F_`` typed in a
    formula's string as ``_x005F_x000F_`` (``_x005F_`` the underscore) and a control character
    as its escape, and reads both back as the characters; IronCalc 0.9.1 keeps them as written.
    Only string literals are decoded: elsewhere a formula names functions, sheets and defined
    names, which IronCalc reads as the file spells them in the parts that define them. A quote
    a literal decodes to is doubled, so the literal stays one literal.
    """
    if "_x" not in text:
        return text

    def literal(m: re.Match[str]) -> str:
        body = m.group(0)[1:-1]
        # an escape never spans "" (it holds no quote): decode each quote-free piece alone
        return '"' + '""'.join(_xstring(piece).replace('"', '""') for piece in body.split('""')) + '"'

    return _FORMULA_STRING.sub(literal, text)
