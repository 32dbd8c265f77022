"""Strict Open XML (ISO/IEC 29500 Strict) read by mapping its namespaces, as Excel does on open.

Excel's "Strict Open XML Spreadsheet" format is the transitional one with other namespace and
relationship-type URIs (``http://purl.oclc.org/ooxml/...`` for
``http://schemas.openxmlformats.org/...``; ISO/IEC 29500-1:2016 and the mapping in
ECMA-376 Part 1, Annex A/B) and ``conformance="strict"`` on ``<workbook>``. The formula engine and
the writer read transitional only, so a strict book is given to them as a transitional copy:
every XML part with the URIs mapped, every other byte as is. The output of ``recalc`` is then
transitional, as Excel saves a strict book it opened unless told otherwise.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from addin.headless.values import BookError

_STRICT = b"http://purl.oclc.org/ooxml/"
_TRANSITIONAL_PKG = b"http://schemas.openxmlformats.org/package/2006/relationships/"
_TRANSITIONAL_DOC = b"http://schemas.openxmlformats.org/officeDocument/2006/"

#: Strict URI prefixes and their transitional ones, the specific before the general.
MAPPING: tuple[tuple[bytes, bytes], ...] = (
    (_STRICT + b"officeDocument/relationships/metadata/core-properties", _TRANSITIONAL_PKG + b"metadata/core-properties"),
    (_STRICT + b"officeDocument/relationships/extendedProperties", _TRANSITIONAL_DOC + b"relationships/extended-properties"),
    (_STRICT + b"officeDocument/relationships/customProperties", _TRANSITIONAL_DOC + b"relationships/custom-properties"),
    (_STRICT + b"officeDocument/relationships/customXml", _TRANSITIONAL_DOC + b"relationships/customXml"),
    (_STRICT + b"officeDocument/relationships", _TRANSITIONAL_DOC + b"relationships"),
    (_STRICT + b"officeDocument/extendedProperties", _TRANSITIONAL_DOC + b"extended-properties"),
    (_STRICT + b"officeDocument/customProperties", _TRANSITIONAL_DOC + b"custom-properties"),
    (_STRICT + b"officeDocument/docPropsVTypes", _TRANSITIONAL_DOC + b"docPropsVTypes"),
    (_STRICT + b"officeDocument/sharedTypes", _TRANSITIONAL_DOC + b"sharedTypes"),
    (_STRICT + b"officeDocument/math", _TRANSITIONAL_DOC + b"math"),
    (_STRICT + b"officeDocument/bibliography", _TRANSITIONAL_DOC + b"bibliography"),
    (_STRICT + b"spreadsheetml/main", b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"),
    (_STRICT + b"drawingml/", b"http://schemas.openxmlformats.org/drawingml/2006/"),
    (_STRICT + b"officeDocument/", _TRANSITIONAL_DOC),
)

#: Bytes of ``xl/workbook.xml`` looked at for the strict namespace (it is declared on the root).
_HEAD = 4096


def is_strict(path: Path) -> bool:
    """Whether the workbook at ``path`` is Strict Open XML (its main part's namespace)."""
    try:
        with zipfile.ZipFile(path) as z, z.open("xl/workbook.xml") as fh:
            head = fh.read(_HEAD)
    except (KeyError, OSError, zipfile.BadZipFile):
        return False  # scan refuses such a file with its own reason
    return _STRICT + b"spreadsheetml/main" in head


def to_transitional(data: bytes) -> bytes:
    """One part's bytes with every strict URI mapped (and the conformance mark dropped)."""
    if _STRICT not in data:
        return data
    for strict, transitional in MAPPING:
        data = data.replace(strict, transitional)
    return data.replace(b' conformance="strict"', b"")


def transitional_copy(src: Path, dst: Path, part_bytes: int) -> Path:
    """``src`` (a strict book) as a transitional package at ``dst``.

    Every part is read through ``part_bytes`` (the decompressed size the zip header claims is
    checked, and the read is capped), as :func:`~addin.headless.package.scan` would.
    """
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            if info.file_size > part_bytes:
                raise BookError(
                    f"{src.name}: {info.filename} larger than {part_bytes // 2**20} MiB decompressed (limit part_bytes)"
                )
            with z.open(info) as fh:
                data = fh.read(part_bytes + 1)
            if len(data) > part_bytes:
                raise BookError(
                    f"{src.name}: {info.filename} larger than {part_bytes // 2**20} MiB decompressed (limit part_bytes)"
                )
            name = info.filename
            if name.endswith((".xml", ".rels", ".vml")):
                data = to_transitional(data)
            out.writestr(info, data)
    return dst
