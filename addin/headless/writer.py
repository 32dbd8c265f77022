"""Writing results as cached values into a copy of the workbook, atomically.

Why not openpyxl: it writes formulas with an empty ``<v/>`` (no cached value) and, to keep
styles, charts, tables and a VBA project, would need a full (not streaming) load and a full
re-serialisation. Instead the package is copied member by member and only the worksheet
XML is edited: each formula cell (``<c><f>..</f></c>``) gets ``<v>`` and ``t``, each member of
a CSE array range gets its value (inserted if the producer left it out, as openpyxl does).
Every other byte (styles, drawings, charts, names, tables, ``vbaProject.bin``) is copied as is.
The result goes to a temporary file in the target folder and is renamed over the target
only when complete, so a failure never leaves a half-written workbook.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries

from addin.headless.values import BookError, ExcelError

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_ROW = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_F = re.compile(rb"<f\b[^>]*?(?:/>|>.*?</f>)", re.S)
_R = re.compile(rb'\br="([A-Z]*)(\d+)"')
_T = re.compile(rb'\s+t="[^"]*"')
#: A formula cell as Excel and openpyxl write it: <c r="G2" ...><f ...>..</f><v>..</v></c>; the
#: groups are the column letters, the attributes up to and including r="..", the row, the
#: attributes after it, and the <f> element. The lookahead (the cell's start tag is followed by
#: <f) and the possessive [^>]*+ change no match (the text up to the first > is the attributes
#: either way); they only spare the input cells the backtracking (1.01 -> 0.56 s on a
#: 100,000-row quote book's sheet).
_FCELL = re.compile(
    rb'<c\b(?=[^>]*+><f)((?:[^>]*?\s)?r="([A-Z]*)(\d+)")([^>]*+)>(<f\b[^>]*?(?:/>|>[^<]*</f>))(?:<v>[^<]*</v>|<v\s*/>)?</c>'
)
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DIM = re.compile(rb'<dimension\s+ref="([^"]*)"\s*/>')
_DATA = re.compile(rb"<sheetData\b[^>]*?(?:/>|>(.*?)</sheetData>)", re.S)

#: zlib level of the worksheets the writer rewrites (the other members keep zlib's default, 6).
#: Measured on a 100,000-row quote book's 86 MB sheet (load ~3 on 2 cores): level 1 took 1.25 s
#: and gave 17.8 MB, level 6 took 3.19 s and gave 14.4 MB. Any level is a valid deflate stream
#: for every reader; the file is ~20% larger for 2.5x less time.
REWRITTEN_LEVEL = 1

# cell updates per sheet title: {row: {col: value}}; value None strips the cached value
Updates = Mapping[str, Mapping[int, Mapping[int, Any]]]
STRIP = object()


class Frozen:
    """A value to store with the cell's formula removed (the cell becomes a constant)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its XML part name, from the workbook and its relationships."""
    wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    parts = {}
    for s in wb.iterfind("m:sheets/m:sheet", _NS):
        target = targets.get(s.get(_REL), "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        parts[s.get("name", "")] = os.path.normpath(part).replace(os.sep, "/")
    return parts


def serialize(value: Any) -> tuple[bytes, bytes]:
    """(type attribute, ``<v>`` element) for a computed value."""
    if value is STRIP:
        return b"", b""
    if isinstance(value, ExcelError):
        return b' t="e"', b"<v>" + value.code.encode() + b"</v>"
    if isinstance(value, bool):
        return b' t="b"', b"<v>1</v>" if value else b"<v>0</v>"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return b' t="e"', b"<v>#NUM!</v>"
        return b"", b"<v>" + repr(float(value)).encode() + b"</v>"
    if value is None:
        return b' t="str"', b"<v></v>"
    text = escape(_BAD_XML.sub("", str(value)))
    return b' t="str"', b"<v>" + text.encode("utf-8") + b"</v>"


def _cell(attrs: bytes, inner: bytes | None, value: Any, ref: str | None = None) -> bytes:
    frozen = isinstance(value, Frozen)
    t, v = serialize(value.value if frozen else value)
    f = None if frozen else _F.search(inner or b"")
    ftext = f.group(0) if f else b""
    if ref is not None and ftext:
        ftext = _with_ref(ftext, ref)
    return b"<c" + _T.sub(b"", attrs) + t + b">" + ftext + v + b"</c>"


def _with_ref(f: bytes, ref: str) -> bytes:
    """An array formula's ``<f>`` with its ``ref`` (the range it fills) set to ``ref``."""
    head, sep, rest = f.partition(b">")
    head = re.sub(rb'\sref="[^"]*"', b"", head)
    return head + f' ref="{ref}"'.encode() + sep + rest


def _row(
    attrs: bytes,
    inner: bytes | None,
    row: int,
    ups: Mapping[int, Any],
    formulas: set[tuple[int, int]],
    done: set[tuple[int, int]],
    refs: Mapping[tuple[int, int], str] | None = None,
) -> bytes:
    out: list[bytes] = []
    pending = sorted(ups)
    k, col = 0, 0
    for m in _CELL.finditer(inner or b""):
        r = _R.search(m.group(1))
        col = column_index_from_string(r.group(1).decode()) if r and r.group(1) else col + 1
        while k < len(pending) and pending[k] < col:
            out.append(_new(row, pending[k], ups[pending[k]], formulas))
            k += 1
        if k < len(pending) and pending[k] == col:
            if (row, col) in formulas and not _F.search(m.group(2) or b""):
                raise BookError(f"internal: formula cell {get_column_letter(col)}{row} has no <f> in the sheet XML")
            out.append(_cell(m.group(1), m.group(2), ups[col], (refs or {}).get((row, col))))
            done.add((row, col))
            k += 1
        else:
            out.append(m.group(0))
    while k < len(pending):
        out.append(_new(row, pending[k], ups[pending[k]], formulas))
        k += 1
    return b"<row" + attrs + b">" + b"".join(out) + b"</row>"


def _new(row: int, col: int, value: Any, formulas: set[tuple[int, int]]) -> bytes:
    if (row, col) in formulas:
        raise BookError(f"internal: formula cell {get_column_letter(col)}{row} not found in the sheet XML")
    return _cell(f' r="{get_column_letter(col)}{row}"'.encode(), None, value)


def _new_row(row: int, ups: Mapping[int, Any], formulas: set[tuple[int, int]]) -> bytes:
    """A ``<row>`` the producer left out (it only holds members of an array range)."""
    return f'<row r="{row}">'.encode() + b"".join(_new(row, c, v, formulas) for c, v in sorted(ups.items())) + b"</row>"


def _in_place(xml: bytes, ups: Mapping[int, Mapping[int, Any]], formulas: set[tuple[int, int]]) -> list[bytes] | None:
    """The worksheet with every update made in one pass over its formula cells, or
    None when an update is not a formula cell written as Excel writes one (an array member
    without ``<f>``, a cell without ``r``): :func:`rewrite_sheet` then goes row by row and
    inserts what is missing."""
    wanted = sum(len(cols) for cols in ups.values())
    if wanted != len(formulas):
        return None
    found = [0]
    columns: dict[bytes, int] = {}

    def one(m: re.Match[bytes]) -> bytes:
        letters, row_text = m.group(2), m.group(3)
        if not letters:
            raise _NoRef
        cols = ups.get(int(row_text))
        if cols is None:
            return m.group(0)
        col = columns.get(letters)
        if col is None:
            col = columns[letters] = column_index_from_string(letters.decode())
        if col not in cols:
            return m.group(0)
        found[0] += 1
        value = cols[col]
        attrs = m.group(1) + m.group(4)
        if b't="' in attrs:
            attrs = _T.sub(b"", attrs)
        if type(value) is float and math.isfinite(value):  # the common value: a number, no type attribute
            return b"<c" + attrs + b">" + m.group(5) + b"<v>" + repr(value).encode() + b"</v></c>"
        if isinstance(value, Frozen):  # stored as a constant: the formula goes
            t, v = serialize(value.value)
            return b"<c" + attrs + t + b">" + v + b"</c>"
        t, v = serialize(value)
        return b"<c" + attrs + t + b">" + m.group(5) + v + b"</c>"

    out = []
    try:
        for chunk in _chunks(xml):
            spliced = _splice(chunk, ups, columns)
            if spliced is None:  # a value or a cell the block step does not take: cell by cell
                out.append(_FCELL.sub(one, chunk))
            else:
                out.append(spliced[0])
                found[0] += spliced[1]
    except _NoRef:
        return None
    return out if found[0] == wanted else None


def _splice(chunk: bytes, ups: Mapping[int, Mapping[int, Any]], columns: dict[bytes, int]) -> tuple[bytes, int] | None:
    """``chunk`` with every formula cell's cached value set in one step, and the number of
    cells, when each formula cell in it has an update that is a finite float and no ``t``
    attribute (a quote book's cells); None otherwise (:func:`_in_place` then substitutes cell
    by cell).

    Notes
    -----
    The same bytes as the cell-by-cell substitution: ``<c`` + the attributes + ``>`` + the
    ``<f>`` element + ``<v>repr(value)</v></c>``. The cells are found by one ``split`` and the
    output is assembled by slice assignment and one ``join``; the values are looked up with
    ``map`` (no Python loop per cell).
    """
    parts = _FCELL.split(chunk)
    k = len(parts) // 6  # split gives the text before each match, its 5 groups, the text after the last
    if k == 0:
        return chunk, 0
    letters = parts[2::6]
    if b"" in letters:
        return None  # a cell without a column letter: the substitution refuses it
    heads, tails = parts[1::6], parts[4::6]
    if b't="' in b"\x00".join(heads) or b't="' in b"\x00".join(tails):
        return None  # a type attribute to strip
    for name in set(letters).difference(columns):
        columns[name] = column_index_from_string(name.decode())
    rowmaps = list(map(ups.get, map(int, parts[3::6])))
    if None in rowmaps:
        return None
    try:
        values = list(map(dict.get, rowmaps, map(columns.__getitem__, letters)))
    except TypeError:  # a mapping of rows that is not a dict
        return None
    if set(map(type, values)) != {float} or not all(map(math.isfinite, values)):
        return None
    numbers = "\x00".join(map(repr, values)).encode().split(b"\x00")
    out: list[bytes] = [b""] * (9 * k + 1)
    out[0::9] = parts[0::6]
    out[1::9] = [b"<c"] * k
    out[2::9] = heads
    out[3::9] = tails
    out[4::9] = [b">"] * k
    out[5::9] = parts[5::6]
    out[6::9] = [b"<v>"] * k
    out[7::9] = numbers
    out[8::9] = [b"</v></c>"] * k
    return b"".join(out), k


def _chunks(xml: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """The part in pieces of about ``size`` bytes cut after a ``</row>`` (a cell never spans
    two), so a substitution's intermediate pieces stay small for a 100 MB sheet."""
    pos = 0
    while pos < len(xml):
        end = xml.find(b"</row>", pos + size)
        end = len(xml) if end < 0 else end + len(b"</row>")
        yield xml[pos:end]
        pos = end


class _NoRef(Exception):
    pass


def rewrite_sheet(
    xml: bytes,
    ups: Mapping[int, Mapping[int, Any]],
    formulas: set[tuple[int, int]],
    refs: Mapping[tuple[int, int], str] | None = None,
) -> list[bytes]:
    """The worksheet XML with cached values set for ``ups`` ({row: {col: value}}), in pieces
    (written one after the other; never joined into one more copy of a large sheet); ``refs``:
    a new ``ref`` for the array formulas at those (row, col), their spill ranges."""
    fast = None if refs else _in_place(xml, ups, formulas)  # formula cells live in sheetData only: no copies
    if fast is not None:
        return fast  # no cell was added, so <dimension> stands
    data = _DATA.search(xml)
    if data is None:
        raise BookError("internal: worksheet XML without <sheetData> (a namespace prefix the writer does not handle?)")
    inner = data.group(1) or b""
    out: list[bytes] = []
    rows = sorted(ups)
    k, pos, row = 0, 0, 0
    done: set[tuple[int, int]] = set()
    for m in _ROW.finditer(inner):
        r = _R.search(m.group(1))
        row = int(r.group(2)) if r else row + 1
        out.append(inner[pos : m.start()])
        while k < len(rows) and rows[k] < row:
            out.append(_new_row(rows[k], ups[rows[k]], formulas))
            k += 1
        if k < len(rows) and rows[k] == row:
            out.append(_row(m.group(1), m.group(2), row, ups[row], formulas, done, refs))
            k += 1
        else:
            out.append(m.group(0))
        pos = m.end()
    out.append(inner[pos:])
    while k < len(rows):
        out.append(_new_row(rows[k], ups[rows[k]], formulas))
        k += 1
    missing = formulas - done
    if missing:
        r, c = min(missing)
        raise BookError(f"internal: formula cell {get_column_letter(c)}{r} not found in the sheet XML")
    body = b"<sheetData>" + b"".join(out) + b"</sheetData>"
    return [_dimension(xml[: data.start()], ups) + body + xml[data.end() :]]


def _dimension(head: bytes, ups: Mapping[int, Mapping[int, Any]]) -> bytes:
    """Widen ``<dimension>`` to cover inserted array members (readers trust it to stop)."""
    m = _DIM.search(head)
    if m is None or not ups:
        return head
    try:
        c1, r1, c2, r2 = range_boundaries(m.group(1).decode())
    except (ValueError, TypeError):
        return head
    r2 = max(r2 or 1, max(ups))
    c2 = max(c2 or 1, max(max(cols) for cols in ups.values() if cols))
    ref = f"{get_column_letter(c1 or 1)}{r1 or 1}:{get_column_letter(c2)}{r2}".encode()
    return head[: m.start()] + b'<dimension ref="' + ref + b'"/>' + head[m.end() :]


def _members(z: zipfile.ZipFile, replaced: Mapping[str, list[bytes]]) -> Iterator[tuple[zipfile.ZipInfo, list[bytes]]]:
    for info in z.infolist():
        yield info, replaced[info.filename] if info.filename in replaced else [z.read(info)]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_cached(
    src: Path,
    dst: Path,
    updates: Updates,
    formulas: Mapping[str, set[tuple[int, int]]],
    refs: Mapping[str, Mapping[tuple[int, int], str]] | None = None,
) -> None:
    """Copy ``src`` to ``dst`` with cached values set; atomic (temporary file, then rename);
    ``refs``: the spill ranges of dynamic array formulas, by sheet title (:func:`rewrite_sheet`)."""
    with zipfile.ZipFile(src) as z:
        parts = sheet_parts(z)
        replaced = {}
        for title, ups in updates.items():
            if not ups:
                continue
            part = parts[title]
            replaced[part] = rewrite_sheet(z.read(part), ups, formulas.get(title, set()), (refs or {}).get(title))
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
        try:
            with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as out:
                for info, pieces in _members(z, replaced):
                    level = REWRITTEN_LEVEL if info.filename in replaced else None
                    if len(pieces) == 1:
                        out.writestr(info, pieces[0], compress_type=info.compress_type, compresslevel=level)
                        continue
                    member = zipfile.ZipInfo(info.filename, info.date_time)
                    member.compress_type, member.external_attr = info.compress_type, info.external_attr
                    member._compresslevel = level  # what ZipFile.open(member, "w") compresses at
                    with out.open(member, "w", force_zip64=sum(map(len, pieces)) > 2**31 - 1) as stream:
                        for piece in pieces:
                            stream.write(piece)
                out.close()
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, os.stat(dst).st_mode & 0o777 if dst.exists() else 0o666 & ~_umask())
            os.replace(tmp, dst)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
