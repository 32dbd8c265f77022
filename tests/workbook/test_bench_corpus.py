"""``python -m bench corpus`` as a measuring tool: every book reported (skipped ones with the
reason), none ends the run, each engine in a child with a time limit, the same cells compared
for every engine, a refusal or crash counted as disagreement on every cell."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pytest

from addin.cli import main
from bench.__main__ import main as bench_main


def _cached_book(folder: Path, name: str, cells: dict[str, object]) -> Path:
    """A book with cached values (written by ``recalc``: it stands in for Excel's here)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for ref, v in cells.items():
        ws[ref] = v
    src = folder / f"src-{name}"
    wb.save(src)
    assert main(["recalc", "-q", str(src), "-o", str(folder / name), "--cache", "all"]) == 0
    src.unlink()
    return folder / name


def test_every_book_is_reported_and_refusals_count_as_disagreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _cached_book(corpus, "a.xlsx", {"A1": 2.0, "B1": "=A1*3", "B2": '=A1&"x"'})
    (corpus / "broken.xlsx").write_text("not a zip")
    deep = openpyxl.Workbook()
    deep.active["A1"] = "=1+1"
    deep.save(corpus / "deep.xlsx")
    # the master of a shared formula beyond Excel's 8,192 characters: the book is refused
    with zipfile.ZipFile(corpus / "deep.xlsx") as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    long = b'<f t="shared" ref="A1:A2" si="0">' + b"+".join([b"1"] * 5000) + b"</f>"
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"<f>1+1</f>", long)
    with zipfile.ZipFile(corpus / "deep.xlsx", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    _cached_book(corpus, "z.xlsx", {"A1": 1.0, "B1": "=A1+1"})
    capsys.readouterr()
    assert bench_main(["corpus", "--corpus", str(corpus), "--engines", "clearquote,ironcalc", "--timeout", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    books = {b["book"]: b for b in out["books"]}
    assert set(books) == {"a.xlsx", "broken.xlsx", "deep.xlsx", "z.xlsx"}  # every book, in order, none ended the run
    assert "not a workbook" in out["skipped"]["broken.xlsx"]
    assert books["deep.xlsx"]["clearquote"]["status"] == "refused"  # a shared formula's master beyond Excel's limit
    assert books["deep.xlsx"]["clearquote"]["compared"] == books["deep.xlsx"]["ironcalc"]["compared"] == 1
    assert books["deep.xlsx"]["clearquote"]["agree"] == 0
    for name in ("a.xlsx", "z.xlsx"):
        assert books[name]["clearquote"] == books[name]["clearquote"] | {"status": "ok"}
        assert books[name]["clearquote"]["agree"] == books[name]["clearquote"]["compared"] > 0
    t = out["totals"]["clearquote"]
    assert t["books"] == 3 and t["full"] == 2 and t["refused"] == 1
    assert t["compared"] == out["totals"]["ironcalc"]["compared"]  # the same cells for every engine


def test_the_reference_decodes_cached_text_escapes() -> None:
    """Excel stores CHAR(1)'s value as ``_x0001_`` (an ST_Xstring escape, ECMA-376 Part 1, 22.9.2.19;
    ``_x005f_`` escapes the underscore itself); openpyxl keeps the escape, so the bench's reference
    decodes it, as ``validate`` does, and both count the same cells."""
    from bench.corpus import _stored

    ws = openpyxl.Workbook().active
    ws["A1"] = "a_x0001_b"
    ws["A2"] = "no escape"
    ws["A3"] = "_x005f_x0041_"
    assert _stored(ws["A1"], False, set()) == _stored_text("a\x01b")
    assert _stored(ws["A2"], False, set()) == _stored_text("no escape")
    assert _stored(ws["A3"], False, set()) == _stored_text("_x0041_")


def _stored_text(text: str) -> list[object]:
    from bench.corpus import norm

    return list(norm(text, False))


def test_the_json_names_each_disagreeing_cell_the_books_computable_offline_and_peak_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the issue's must-show needs from a run: the share of fully agreeing books among those
    computable offline (a book with a cube function, an external link or an add-in's function is
    not), the cells that disagree with their formula (to group failures by cause) and each child's
    peak memory (the bound: no book over 2 GB)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _cached_book(corpus, "a.xlsx", {"A1": 2.0, "B1": "=A1*3"})
    # a cached value Excel would not have written: the cell must be listed as disagreeing
    with zipfile.ZipFile(corpus / "a.xlsx") as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    assert b"<v>6.0</v>" in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"<v>6.0</v>", b"<v>7</v>")
    with zipfile.ZipFile(corpus / "a.xlsx", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    _cached_book(corpus, "cube.xlsx", {"A1": 1.0, "B1": "=A1+1", "C1": '=CUBEVALUE("c","m")'})
    capsys.readouterr()
    assert bench_main(["corpus", "--corpus", str(corpus), "--engines", "clearquote,ironcalc", "--timeout", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    books = {b["book"]: b for b in out["books"]}
    assert books["a.xlsx"]["clearquote"]["differ"] == [["S", 1, 2, "=A1*3", ["num", 7.0], ["num", 6.0]]]
    assert books["a.xlsx"]["offline"] == []
    assert books["cube.xlsx"]["offline"] and "CUBEVALUE" in books["cube.xlsx"]["offline"][0]
    assert books["cube.xlsx"]["clearquote"]["differ"] == []  # the cube cell is left out, B1 agrees
    for e in ("clearquote", "ironcalc"):
        t = out["totals"][e]
        assert (t["computable"], t["full_computable"], t["full"]) == (1, 0, 1)
        assert 0 < t["peak_mib"] < 2048 and all(0 < b[e]["peak_mib"] <= t["peak_mib"] for b in books.values())


def test_a_formula_cell_the_reference_does_not_list_does_not_stop_the_strip(tmp_path: Path) -> None:
    """openpyxl's reading (the bench's reference) can miss a formula cell the engine's reader
    sees (an unseen LibreOffice book lost 300 of them); the stripped copy then keeps that cell's
    value, which is not compared, instead of the book being skipped with "not found in the sheet
    XML"; the listed cells lose theirs."""
    from bench.corpus import reference, strip

    book = _cached_book(tmp_path, "b.xlsx", {"A1": 2.0, "B1": "=A1*3", "C1": "=A1+1"})
    ref = reference(book)
    ref["cells"] = [c for c in ref["cells"] if (c[1], c[2]) != (1, 3)]  # C1 not listed
    strip(book, tmp_path / "s.xlsx", ref)
    with zipfile.ZipFile(tmp_path / "s.xlsx") as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    assert b"<f>A1*3</f><v>" not in xml and b"<f>A1+1</f><v>3.0</v>" in xml
