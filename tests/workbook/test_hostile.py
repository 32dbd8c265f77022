"""Hostile and broken files: refused with the file, sheet and cell and exit 2, before anything is
computed or written; memory follows the cells present. Each case is one the headless issue found."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from addin.cli import main
from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import BookError, Limits, recalculate


def _plain(path: Path, cells: dict[str, object]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in cells.items():
        ws[ref] = v
    wb.save(path)
    return path


def _replace_part(src: Path, dst: Path, part: str, data: bytes | None = None, stream: object = None) -> Path:
    """``src`` with one part's bytes replaced (``stream``: an iterable of chunks written streaming)."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            if info.filename != part:
                b.writestr(info, a.read(info))
            elif stream is not None:
                with b.open(part, "w", force_zip64=True) as out:
                    for chunk in stream:  # type: ignore[attr-defined]
                        out.write(chunk)
            else:
                b.writestr(info, data)
    return dst


def test_far_apart_cells_cost_what_they_are_not_their_bounding_box(tmp_path: Path) -> None:
    """Cells at A1, XFD1, A10000 and XFD1048576 (Excel's last cell): the old engine allocated the
    bounding box (1.4 GB, then a MemoryError). Peak memory of the whole process, measured in a
    child: under 200 MB (measured ~55 MB; Python, lxml and IronCalc themselves take ~50 MB)."""
    path = _plain(tmp_path / "far.xlsx", {"A1": 2.0, "XFD1": 3.0, "A10000": "=A1*XFD1", "XFD1048576": "=A10000+1"})
    # VmHWM, the child's own peak: ru_maxrss would carry the parent's (pytest's) across exec.
    code = (
        "import json,re\nfrom addin.headless import recalculate\n"
        f"r=recalculate({str(path)!r})\n"
        "hwm=int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))/1024\n"
        "print(json.dumps([r.values[('S',1048576,16384)], hwm]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    value, peak_mb = json.loads(out.stdout.strip().splitlines()[-1])
    assert value == 7.0 and peak_mb < 200


def test_an_array_formula_over_millions_of_cells_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from openpyxl.worksheet.formula import ArrayFormula

    path = _plain(tmp_path / "cse.xlsx", {"A1": ArrayFormula("A1:XFD2000", "=1")})
    assert main(["recalc", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "cse.xlsx: S!A1: array formula over A1:XFD2000 covers more than 1,000,000 cells" in err
    assert not (tmp_path / "cse-recalc.xlsx").exists()


def test_a_formula_longer_than_excel_allows_is_an_error_in_its_cell_at_once(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _plain(tmp_path / "src.xlsx", {"A1": "=1+1"})
    with zipfile.ZipFile(src) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    path = _replace_part(
        src, tmp_path / "long.xlsx", "xl/worksheets/sheet1.xml", xml.replace(b"1+1", "+".join(["1"] * 500_000).encode())
    )
    t = time.perf_counter()
    assert main(["recalc", str(path), "-q", "-o", str(tmp_path / "out.xlsx")]) == 0
    assert time.perf_counter() - t < 10  # the old parser was quadratic: > 120 s
    assert "S!A1: #NAME? refused: a formula of 999,999 characters; Excel's limit is 8,192" in capsys.readouterr().out


def test_zip_bombs_of_whitespace_are_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """300 MB of spaces (zipped to ~300 KB) in the sheet XML: the parser stops at its 10 MB text
    limit; in any other part: refused when the stream passes the 256 MiB part cap, whatever the
    zip header claims. Nothing is decompressed beyond the limits, nothing written."""
    src = _plain(tmp_path / "src.xlsx", {"A1": 1.0, "B1": "=A1+1"})
    with zipfile.ZipFile(src) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    head, tail = xml.split(b"<sheetData>", 1)
    spaces = [b" " * (1 << 20)] * 300
    bomb = _replace_part(src, tmp_path / "bomb.xlsx", "xl/worksheets/sheet1.xml", stream=[head + b"<sheetData>", *spaces, tail])
    assert bomb.stat().st_size < 2_000_000
    assert main(["recalc", str(bomb), "-q"]) == 2
    assert "text run over the XML parser's 10 MB limit" in capsys.readouterr().err
    other = _replace_part(src, tmp_path / "bomb2.xlsx", "docProps/app.xml", stream=[b"<x>", *spaces, b"</x>"])
    assert main(["recalc", str(other), "-q"]) == 2
    assert "docProps/app.xml: larger than 256 MiB decompressed (limit part_bytes)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.xlsx", "bomb2.xlsx", "src.xlsx"]


@pytest.mark.parametrize(
    "doctype",
    [
        # billion laughs: entities that expand to 10^9 "lol"s
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>',
        # XXE: an external entity reading a local file
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ],
    ids=["billion-laughs", "xxe"],
)
def test_xml_with_a_dtd_is_refused(tmp_path: Path, capsys, doctype: bytes) -> None:  # type: ignore[no-untyped-def]
    src = _plain(tmp_path / "src.xlsx", {"A1": 1.0, "B1": "=A1+1"})
    with zipfile.ZipFile(src) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    decl, rest = xml.split(b"?>", 1) if xml.startswith(b"<?xml") else (b"", xml)
    bad = (decl + b"?>" if decl else b"") + doctype + rest.replace(b"<sheetData>", b"<sheetData><!-- &lol3; -->", 1)
    path = _replace_part(src, tmp_path / "dtd.xlsx", "xl/worksheets/sheet1.xml", bad)
    assert main(["validate", str(path), "-q"]) == 2
    assert "declares a DTD or entities; refused as unsafe" in capsys.readouterr().err


def test_an_unwritable_output_folder_is_refused_before_computing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = _plain(tmp_path / "b.xlsx", {"A1": 1.0, "B1": "=A1+1"})
    # /proc refuses new files even to root (a mode-0555 folder would not stop root)
    assert main(["recalc", str(path), "-o", "/proc/clearquote-out.xlsx", "-q"]) == 2
    assert "/proc: the output folder is not writable" in capsys.readouterr().err
    assert main(["recalc", str(path), "-o", str(tmp_path / "missing" / "o.xlsx"), "-q"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_in_place_refuses_a_read_only_book(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = _plain(tmp_path / "ro.xlsx", {"A1": 1.0, "B1": "=A1+1"})
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        assert main(["recalc", str(path), "--in-place", "-q"]) == 2
        assert "ro.xlsx: is read-only; --in-place will not replace it" in capsys.readouterr().err
        assert path.read_bytes() == before
    finally:
        path.chmod(0o644)


def test_round_with_a_huge_digits_argument_returns(tmp_path: Path) -> None:
    """ROUND/TRUNC with 1e300 digits never returned in the old engine; Excel returns the number."""
    path = _plain(tmp_path / "r.xlsx", {"A1": 1.5, "B1": "=ROUND(A1,1E+300)", "B2": "=TRUNC(A1,1E+300)"})
    t = time.perf_counter()
    res = recalculate(path)
    assert time.perf_counter() - t < 10 and res.values[("S", 1, 2)] == 1.5


def test_limits_are_parameters_with_named_refusals(tmp_path: Path) -> None:
    path = _plain(tmp_path / "b.xlsx", {f"A{r}": float(r) for r in range(1, 200)} | {"B1": "=SUM(A:A)"})
    with pytest.raises(BookError, match=r"more than 100 cells \(limit cells\)"):
        recalculate(path, CATALOGUE_FUNCTIONS, limits=Limits(cells=100))
    assert recalculate(path, CATALOGUE_FUNCTIONS).values[("S", 1, 2)] == sum(range(1, 200))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_input_is_never_changed(tmp_path: Path) -> None:
    path = _plain(tmp_path / "b.xlsx", {"A1": 1.0, "B1": "=A1+1"})
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    assert main(["recalc", str(path), "-q"]) == 0
    assert main(["validate", str(path), "-q"]) == 1  # openpyxl stores no values: every cell is "no cached value"
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_formulas_are_found_however_the_sheet_xml_is_laid_out(tmp_path: Path) -> None:
    """The fast scan reads formulas from the bytes where Excel writes them (the cell's first
    child); entities are decoded; a formula elsewhere in its cell (another producer's order)
    sends the sheet to the XML parser, so nothing is missed either way."""
    from addin.headless import recalculate

    src = _plain(tmp_path / "src.xlsx", {"A1": 1.0, "B1": '=IF(A1<2,"a&b","c")', "C1": "=A1+1"})
    assert recalculate(src).cell("S", 1, 2) == "a&b"
    with zipfile.ZipFile(src) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    moved = xml.replace(b"<f>A1+1</f><v></v>", b"<v>0</v><f>A1+1</f>").replace(b"<f>A1+1</f><v/>", b"<v>0</v><f>A1+1</f>")
    if moved == xml:  # openpyxl wrote no <v>: put one before the formula
        moved = xml.replace(b"<f>A1+1</f>", b"<v>0</v><f>A1+1</f>")
    assert moved != xml
    res = recalculate(_replace_part(src, tmp_path / "v-first.xlsx", "xl/worksheets/sheet1.xml", moved))
    assert res.cell("S", 1, 3) == 2.0 and res.cell("S", 1, 2) == "a&b"


@pytest.mark.parametrize("formula", ["=VLOOKUP(3,Sheet!A:XFD,2,TRUE)", "=MATCH(3,Sheet!A:XFD)", "=LOOKUP(3,Sheet!A:XFD)"])
def test_an_approximate_lookup_over_a_whole_used_sheet_is_an_error_in_its_cell(tmp_path: Path, formula: str) -> None:
    """The reviewer's book: a value at XFD1048576 makes the used area the whole sheet, and the
    approximate lookups (evaluated by addin/headless/lookups.py over Python values) read 17
    billion cells: the process ran out of memory and the book was lost. Now the call's cell is
    #NUM! naming the limit, and the rest of the book is computed."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet"
    ws["A1"], ws["A2"], ws["A3"], ws["B1"], ws["B2"], ws["B3"] = 1, 2, 3, 10, 20, 30
    ws["XFD1048576"] = 3
    s2 = wb.create_sheet("S2")
    s2["C3"], s2["C4"] = formula, "=1+1"
    wb.save(tmp_path / "ws.xlsx")
    got = recalculate(tmp_path / "ws.xlsx").values
    assert got[("S2", 3, 3)].code == "#NUM!" and "range_cells" in got[("S2", 3, 3)].reason
    assert got[("S2", 4, 3)] == 2.0


def test_countif_and_sumif_over_a_whole_used_sheet_count_the_cells_that_exist(tmp_path: Path) -> None:
    """The reviewer's book: a value at XFD1048576 leaves nothing for the whole-column cut, and
    ``COUNTIF(Sheet!A:XFD,">0")`` was #NUM! (Excel: 7). Oracle: Microsoft's "COUNTIF function"
    and "SUMIF function" (each cell of the range tested against the criterion; a blank cell is
    counted by ``""`` and adds nothing to a sum) over the seven values written."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet"
    values = {"A1": 1, "A2": 2, "A3": 3, "B1": 10, "B2": 20, "B3": 30, "XFD1048576": 3}
    for ref, v in values.items():
        ws[ref] = v
    s2 = wb.create_sheet("S2")
    s2["A1"], s2["A2"] = '=COUNTIF(Sheet!A:XFD,">0")', '=SUMIF(Sheet!A:XFD,">2")'
    s2["A3"], s2["A4"] = '=COUNTIF(Sheet!A1:XFD1048576,"")', '=COUNTIFS(Sheet!A:XFD,"<>3")'
    s2["A5"] = '=SUMIF(Sheet!A:XFD,">100")'
    wb.save(tmp_path / "cif.xlsx")
    got = recalculate(tmp_path / "cif.xlsx").values
    total = 1_048_576 * 16_384
    assert got[("S2", 1, 1)] == 7.0
    assert got[("S2", 2, 1)] == 3 + 10 + 20 + 30 + 3
    assert got[("S2", 3, 1)] == total - 7
    assert got[("S2", 4, 1)] == total - 2
    assert got[("S2", 5, 1)] == 0.0


def _strings_book(path: Path, n: int, prefix: bytes = b"") -> Path:
    """A book whose shared strings part holds ``n`` strings (one-character ``<si>``, as the
    outside audit's bomb: 14 million of them are 8.6 MB zipped), optionally with a namespace
    prefix on every element; A1 reads the first, B1 is a formula over it."""
    src = _plain(path.with_name("plain-" + path.name), {"A1": 0, "B1": "=LEN(A1)"})
    p = prefix + b":" if prefix else b""
    ns = b"xmlns" + (b":" + prefix if prefix else b"") + b'="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?><'
        + p
        + b"sst "
        + ns
        + b"><"
        + p
        + b"si><"
        + p
        + b"t>hello</"
        + p
        + b"t></"
        + p
        + b"si>"
    )
    one = b"<" + p + b"si><" + p + b"t>x</" + p + b"t></" + p + b"si>"
    rel = b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    over = b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            data = a.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", rel + b"</Relationships>")
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", over + b"</Types>")
            elif info.filename == "xl/worksheets/sheet1.xml":  # A1 reads the first string
                data = re.sub(rb'<c r="A1"[^>]*>.*?</c>', b'<c r="A1" t="s"><v>0</v></c>', data)
            b.writestr(info, data)
        with b.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(head)
            for _ in range((n - 1) // 10_000):
                out.write(one * 10_000)
            out.write(one * ((n - 1) % 10_000) + b"</" + p + b"sst>")
    return path


@pytest.mark.parametrize("prefix", [b"", b"x"], ids=["default-namespace", "prefixed"])
def test_shared_strings_beyond_the_limit_are_refused_before_the_formula_engine_reads_them(tmp_path: Path, prefix: bytes) -> None:
    """The bound is exact (the count crosses the reader's 1 MiB blocks: 80,000 strings are
    ~1.4 MB of XML), counts prefixed elements too, and the refusal names the limit."""
    n = 80_000
    path = _strings_book(tmp_path / "strings.xlsx", n, prefix)
    assert recalculate(path, limits=Limits(shared_strings=n)).values[("S", 1, 2)] == 5
    with pytest.raises(
        BookError, match=r"strings\.xlsx: xl/sharedStrings\.xml holds more than 79,999 strings \(limit shared_strings\)"
    ):
        recalculate(path, limits=Limits(shared_strings=n - 1))


def test_shared_strings_beyond_what_the_memory_cap_holds_are_refused_naming_max_memory(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Under ``--max-memory 384`` 300,000 strings need ~235 MiB in the formula engine (800 B a
    string, package.SHARED_STRING_BYTES, measured), more than the cap leaves once the child's
    interpreter and the package reader hold theirs (~270 MiB there): refused with the limit
    named, before the formula engine could abort (the outside audit's 14-million-string bomb
    aborted the child at 5.3 GB: "crashed (SIGABRT)")."""
    path = _strings_book(tmp_path / "bomb.xlsx", 300_000)
    assert main(["recalc", "-q", str(path), "-o", str(tmp_path / "out.xlsx"), "--max-memory", "384"]) == 2
    err = capsys.readouterr().err
    assert "bomb.xlsx: xl/sharedStrings.xml holds at least" in err and "the memory cap of 384 MiB leaves" in err
    assert "limit --max-memory" in err


def test_shared_strings_that_fit_the_memory_cap_are_read(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """800,000 one-character strings under ``--max-memory 1024`` are computed: the formula engine
    needs ~740 B a string (measured, package.SHARED_STRING_BYTES), ~600 MiB here. The bound by
    count alone (1,400 B a string: 766,958 at 1,024 MiB) refused them; it refused the audit's
    1.6 million short strings at the default 2,048 MiB likewise, which read in ~1.1 GiB (measured)."""
    path = _strings_book(tmp_path / "many.xlsx", 800_000)
    out = tmp_path / "out.xlsx"
    assert main(["recalc", "-q", str(path), "-o", str(out), "--max-memory", "1024"]) == 0, capsys.readouterr().err
    assert openpyxl.load_workbook(out, data_only=True)["S"]["B1"].value == 5  # LEN("hello")


def _unbounded(path: str) -> object:
    """In a child: the book evaluated with the shared-strings bound switched off, so the formula
    engine itself meets the memory cap (for the test below)."""
    import addin.headless.package as package

    package.memory_budget = lambda: None
    return recalculate(path, limits=Limits(shared_strings=10**9)).values


def test_a_child_the_formula_engine_aborts_at_the_memory_cap_is_reported_as_over_max_memory(tmp_path: Path) -> None:
    """Rust aborts (SIGABRT) when an allocation fails under the cap, after printing "memory
    allocation of N bytes failed" where the engine's output went: the parent reads it and names
    the limit. 1,048,576 strings need more than 512 MiB there (measured: read at 1,400 MiB)."""
    from addin.headless.isolation import Budget, run

    path = _strings_book(tmp_path / "abort.xlsx", 1 << 20)
    with pytest.raises(BookError) as caught:
        run("tests.workbook.test_hostile:_unbounded", (str(path),), str(path), Budget(max_memory_mib=512, timeout_s=120))
    assert "abort.xlsx: needed more than 512 MiB of memory (limit --max-memory); stopped" in str(caught.value)
