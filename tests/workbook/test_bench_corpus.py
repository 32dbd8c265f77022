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
