"""The headless engine on small hand-built books: semantics, order, the fast path's rule, bad input."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from formulas.tokens.operand import XlError
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.workbook.book import BookError
from addin.workbook.engine import recalc, recalculate, validate
from addin.workbook.functions import ELEMENTWISE
from addin.workbook.refs import _REF, MISSING, _outside_strings, fill_missing, parse_ref, r1c1, shape_key
from pricing.black import black76_price

XLAM = Path(__file__).resolve().parents[2] / "addin" / "excel" / "addin.clearquote.xlam"


def book(path: Path, fill) -> Path:  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    fill(wb, ws)
    wb.save(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "formula",
    [
        "=A2*100+$B$1",
        "=LOG10(A2)+ATAN2(B3,C3)",
        '="A1"&B2',
        "=SUM(Sheet2!A1:A3)+'My S''heet'!$C$4",
        "=SUM(A:A)+SUM(2:3)",
        "=SUM($A:$A,B2)",
        "=Rate2025*A2",
        "=CQ_RFQ(B2:D2,P!$A$1:$B$201,M!$B$2,FALSE)",
    ],
)
def test_fast_shape_key_equals_the_general_one(formula: str) -> None:

    assert shape_key(formula, 2, 5) == _shape_key_reference(formula, 2, 5)


def test_shape_key_groups_copied_formulas_and_ignores_text() -> None:
    assert shape_key("=A2*2+$B$1", 2, 3) == shape_key("=A3*2+$B$1", 3, 3)
    assert shape_key('="A2"&A2', 2, 3) != shape_key('="A3"&A3', 3, 3)  # the literal is data, not a reference
    assert shape_key("=LOG10(A2)", 2, 2) == "=LOG10(R[0]C[-1]:R[0]C[-1])"


def test_fill_missing_marks_only_omitted_catalogue_arguments() -> None:
    ours = lambda name: name.upper().startswith("CQ")  # noqa: E731
    assert fill_missing('=CQ_IM(A1:B5,,"span")', ours) == f'=CQ_IM(A1:B5,"{MISSING}","span")'
    assert fill_missing("=SUM(1,,2)+CQ_X()", ours) == "=SUM(1,,2)+CQ_X()"
    assert fill_missing("=CQ_X( 1 , , 2)", ours).count(MISSING) == 1


def test_black_column_stacked_equals_engine_and_errors_stay_in_their_row(tmp_path: Path) -> None:
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws.append(["cp", "F", "K", "T", "vol", "price", "x100", "net"])
        for i in range(2, 402):
            vol = -0.2 if i == 77 else 0.3 + 0.001 * i
            ws.append(
                [
                    "C" if i % 2 else "P",
                    60000,
                    40000 + 100 * i,
                    0.25,
                    vol,
                    f"=CQ_BLACK(A{i},B{i},C{i},D{i},E{i})",
                    f"=F{i}*100",
                    f"=IF(G{i}>5,G{i}-5,0)",
                ]
            )
        ws["J1"] = "=SUM(G2:G401)"

    res = recalculate(book(tmp_path / "b.xlsx", fill))
    assert res.stats.stacked_groups == 3 and res.stats.per_row_cells == 1
    v = res.book.sheet("S", "S").values
    rows = [i for i in range(2, 402) if i != 77]
    expect = black76_price(
        ["C" if i % 2 else "P" for i in rows], 60000.0, [40000.0 + 100 * i for i in rows], 0.25, [0.3 + 0.001 * i for i in rows]
    )
    # 1e-12: the catalogue and a direct call may round differently (ITM legs via parity), ~1e-14 seen
    np.testing.assert_allclose([v[i, 6] for i in rows], expect, rtol=1e-12)
    assert isinstance(v[77, 6], XlError) and "vol" in v[77, 6].reason
    assert isinstance(v[77, 8], XlError) and isinstance(v[1, 10], XlError)  # propagated by IF and SUM, as in Excel


WHITELIST_CASES = {
    "IF": "IF(A{r}>0.5,A{r},-A{r})",
    "IFERROR": "IFERROR(1/(A{r}-0.5),0)",
    "IFNA": "IFNA(A{r},0)",
    "_XLFN.IFNA": "_xlfn.IFNA(A{r},0)",
    "ISERROR": "ISERROR(1/(A{r}-0.5))",
    "ISERR": "ISERR(A{r})",
    "ISNA": "ISNA(A{r})",
    "ISNUMBER": "ISNUMBER(B{r})",
    "ISTEXT": "ISTEXT(B{r})",
    "ISNONTEXT": "ISNONTEXT(B{r})",
    "ISBLANK": "ISBLANK(C{r})",
    "ISLOGICAL": "ISLOGICAL(A{r}>1)",
    "NOT": "NOT(A{r}>0.5)",
    "ABS": "ABS(A{r}-0.5)",
    "SIGN": "SIGN(A{r}-0.5)",
    "ROUND": "ROUND(A{r},3)",
    "ROUNDUP": "ROUNDUP(A{r},2)",
    "ROUNDDOWN": "ROUNDDOWN(A{r},2)",
    "INT": "INT(A{r}*10)",
    "TRUNC": "TRUNC(A{r}*10)",
    "SQRT": "SQRT(A{r})",
    "EXP": "EXP(A{r})",
    "LN": "LN(A{r})",
    "LOG": "LOG(A{r},3)",
    "LOG10": "LOG10(A{r})",
    "POWER": "POWER(A{r},1.5)",
    "MOD": "MOD(A{r}*10,3)",
    "DATE": "DATE(2026,1+INT(A{r}*12),1)",
    "YEAR": "YEAR(46000+A{r}*900)",
    "MONTH": "MONTH(46000+A{r}*900)",
    "DAY": "DAY(46000+A{r}*900)",
    "HOUR": "HOUR(A{r})",
    "MINUTE": "MINUTE(A{r})",
    "UPPER": "UPPER(B{r})",
    "LOWER": "LOWER(B{r})",
    "TRIM": "TRIM(B{r})",
    "LEN": "LEN(B{r})",
    "LEFT": "LEFT(B{r},2)",
    "RIGHT": "RIGHT(B{r},2)",
    "MID": "MID(B{r},2,2)",
    "EXACT": 'EXACT(B{r},"ab")',
    "VALUE": 'VALUE("1"&ROUND(A{r},2))',
    "NORMSDIST": "NORMSDIST(A{r}-0.5)",
    "NORM.S.DIST": "NORM.S.DIST(A{r}-0.5,TRUE)",
    "_XLFN.NORM.S.DIST": "_xlfn.NORM.S.DIST(A{r}-0.5,TRUE)",
    "NORMDIST": "NORMDIST(A{r},0.5,0.2,TRUE)",
    "NORM.DIST": "NORM.DIST(A{r},0.5,0.2,TRUE)",
    "_XLFN.NORM.DIST": "_xlfn.NORM.DIST(A{r},0.5,0.2,FALSE)",
}


def test_every_whitelisted_function_gives_the_same_stacked_as_row_by_row(tmp_path: Path) -> None:
    """The fast path's whitelist is exact: one call over 60 stacked rows = 60 calls (HEADLESS §3)."""
    assert set(WHITELIST_CASES) == set(ELEMENTWISE)
    rng = np.random.default_rng(7)

    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 61):
            ws.cell(r, 1, float(rng.uniform(0.01, 1)))
            ws.cell(r, 2, ["ab", " Xy ", "abc", 3.0][r % 4])
            for j, formula in enumerate(WHITELIST_CASES.values()):
                ws.cell(r, 4 + j, "=" + formula.format(r=r))

    path = book(tmp_path / "w.xlsx", fill)
    fast, slow = recalculate(path), recalculate(path, stack=False)
    assert fast.stats.stacked_groups == len(WHITELIST_CASES) and slow.stats.stacked_groups == 0
    a, b = fast.book.sheet("S", "S").values[1:, 4:], slow.book.sheet("S", "S").values[1:, 4:]
    for x, y in zip(a.ravel(), b.ravel()):
        assert (str(x) == str(y)) if isinstance(x, (XlError, str)) else x == pytest.approx(y, rel=1e-15)


def test_aggregates_and_running_totals_are_not_stacked_and_stay_exact(tmp_path: Path) -> None:
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 51):
            ws.cell(r, 1, float(r)), ws.cell(r, 2, float(2 * r))
            ws.cell(r, 3, f"=SUM(A{r},B{r})")  # HEADLESS: stacked, SUM would add all rows
            ws.cell(r, 4, "=C1" if r == 1 else f"=D{r - 1}+C{r}")  # reads its own column
            ws.cell(r, 5, f"=MAX(A{r}:B{r})")
        ws["F1"] = "=D50"

    res = recalculate(book(tmp_path / "a.xlsx", fill))
    v = res.book.sheet("S", "S").values
    assert [v[r, 3] for r in (1, 50)] == [3.0, 150.0]
    assert v[50, 4] == sum(3.0 * r for r in range(1, 51)) == v[1, 6]
    assert v[7, 5] == 14.0 and res.stats.stacked_groups == 0


def test_names_cross_sheet_order_and_arrays(tmp_path: Path) -> None:
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        other = wb.create_sheet("Inputs 2")
        other["A1"], other["A2"] = 3.0, "=S!B1*2"  # reads a later formula on another sheet
        ws["B1"] = "=rate*10"
        ws["A1"] = 0.05
        ws["C1"] = ArrayFormula("C1:D2", '=CQ_INSTRUMENT("BTC-25DEC26-100000-C")')
        ws["E1"] = "='Inputs 2'!A2+spot"
        wb.defined_names["rate"] = openpyxl.workbook.defined_name.DefinedName("rate", attr_text="S!$A$1")
        wb.defined_names["spot"] = openpyxl.workbook.defined_name.DefinedName("spot", attr_text="100")

    res = recalculate(book(tmp_path / "n.xlsx", fill))
    s = res.book.sheet("S", "S").values
    assert s[1, 2] == pytest.approx(0.5) and s[1, 5] == pytest.approx(101.0)
    assert s[1, 3] == s[2, 3] == "BTC" and s[1, 4] == "option"  # Excel repeats a one-row result down a taller range


@pytest.mark.parametrize(
    ("fill", "message"),
    [
        (
            lambda wb, ws: (ws.__setitem__("A1", "=B1+1"), ws.__setitem__("B1", "=A1*2")),
            "circular reference: S!A1 -> S!B1 -> S!A1",
        ),
        (lambda wb, ws: ws.__setitem__("A1", "=NOPE(1)"), "unknown function NOPE"),
        (lambda wb, ws: ws.__setitem__("A1", '=__import__("os")'), "unknown function __IMPORT__"),
        (lambda wb, ws: ws.__setitem__("A1", "=Missing!A1"), "refers to sheet 'Missing'"),
        (lambda wb, ws: ws.__setitem__("A1", '=INDIRECT("B1")'), "INDIRECT builds references"),
        (lambda wb, ws: ws.__setitem__("A1", "=undefined_name*2"), "unknown name undefined_name"),
    ],
)
def test_bad_books_fail_with_the_cell_and_nothing_written(tmp_path: Path, capsys, fill, message) -> None:  # type: ignore[no-untyped-def]
    path = book(tmp_path / "bad.xlsx", fill)
    before = digest(path)
    assert main(["recalc", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "bad.xlsx, sheet 'S', cell A1" in err and message in err
    assert digest(path) == before and not (tmp_path / "bad-recalc.xlsx").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.xlsx"]  # no temporary file left behind


def test_not_a_workbook_and_missing_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.xlsx").write_text("not a zip")
    assert main(["recalc", str(tmp_path / "x.xlsx")]) == 2
    assert "x.xlsx: not a workbook" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "none.xlsx")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_error_in_an_input_cell_is_reported_and_exit_3(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"], ws["A2"] = 1.0, "#N/A"
        ws["A2"].data_type = "e"
        ws["B1"], ws["B2"] = "=A1*2", "=A2*2"

    path = book(tmp_path / "e.xlsx", fill)
    assert main(["recalc", str(path), "-q"]) == 3
    assert "S!A2 holds #N/A" in capsys.readouterr().err


def test_recalc_never_overwrites_the_input_unless_asked_and_writes_atomically(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = book(tmp_path / "b.xlsx", lambda wb, ws: (ws.__setitem__("A1", 2.0), ws.__setitem__("B1", "=A1*3")))
    before = digest(path)
    with pytest.raises(BookError, match="overwrite the input"):
        recalc(path, path)
    with pytest.raises(BookError, match="keep the input's type"):
        recalc(path, tmp_path / "b.xlsm")
    import addin.workbook.writer as w

    def broken(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(w, "rewrite_sheet", broken)
    with pytest.raises(RuntimeError):
        recalc(path, in_place=True)
    assert digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["b.xlsx"]
    monkeypatch.undo()
    recalc(path, in_place=True)
    assert openpyxl.load_workbook(path, data_only=True)["S"]["B1"].value == 6.0
    assert openpyxl.load_workbook(path)["S"]["B1"].value == "=A1*3"  # the formula is kept


def test_xlsm_keeps_its_vba_project_and_every_other_part(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calc"
    ws["A1"], ws["B1"] = 4.0, '=CQ_BLACK("C",100,100,1,A1/20)'
    plain = tmp_path / "m.xlsx"
    wb.save(plain)
    src = tmp_path / "m.xlsm"  # a macro book: the add-in's real VBA project, declared as Excel does
    with zipfile.ZipFile(plain) as a, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as b:
        for n in a.namelist():
            data = a.read(n)
            if n == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                ).replace(
                    b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1
                )
            if n == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>',
                )
            b.writestr(n, data)
        with zipfile.ZipFile(XLAM) as x:
            b.writestr("xl/vbaProject.bin", x.read("xl/vbaProject.bin"))
    with zipfile.ZipFile(src) as z:
        assert "xl/vbaProject.bin" in z.namelist()
    _, out = recalc(src)
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        assert a.namelist() == b.namelist() and "xl/vbaProject.bin" in b.namelist()
        changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert len(changed) == 1 and changed[0].startswith("xl/worksheets/")
    assert openpyxl.load_workbook(out, data_only=True)["Calc"]["B1"].value == pytest.approx(7.965567455405804, rel=1e-12)


def test_validate_finds_a_tampered_value(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        for r in range(1, 20):
            ws.cell(r, 1, float(r))
            ws.cell(r, 2, f"=A{r}^2")

    path = book(tmp_path / "t.xlsx", fill)
    _, out = recalc(path)
    assert main(["validate", str(out), "-q"]) == 0
    from addin.workbook.writer import write_cached

    bad = tmp_path / "t-bad.xlsx"
    write_cached(out, bad, {"S": {7: {2: 50.0}}}, {"S": {(7, 2)}})
    assert main(["validate", str(bad), "-q"]) == 1
    text = capsys.readouterr().out
    assert "1 of 19 formula cells differ" in text and "S!B7" in text and "50" in text
    _, mism, n = validate(path)  # never recalculated: no cached values at all
    assert n == 19 and all("no cached value" in m.why for m in mism)


def test_an_omitted_catalogue_argument_takes_its_default_as_in_excel(tmp_path: Path) -> None:
    def fill(wb, ws):  # type: ignore[no-untyped-def]
        ws["A1"] = '=CQ_BLACK("C",100,100,1,0.2,,"linear")'  # rate omitted: 0, not a typed 0 by accident
        ws["A2"] = '=CQ_BLACK("C",100,100,1,0.2,0,"linear")'
        ws["A3"] = '=CQ_BLACK("C",100,100,1,0.2,,"nonsense")'

    v = recalculate(book(tmp_path / "m.xlsx", fill)).book.sheet("S", "S").values
    assert v[1, 1] == v[2, 1] == pytest.approx(7.965567455405804, rel=1e-12)
    assert isinstance(v[3, 1], XlError) and "settle" in v[3, 1].reason


def _shape_key_reference(formula: str, row: int, col: int) -> str:
    """The general (slower) form of ``shape_key``: every reference through ``parse_ref`` (the oracle for the fast path)."""

    def rewrite(segment: str) -> str:
        def one(m: re.Match[str]) -> str:
            ref = parse_ref(m.group(0))
            if ref is None:
                return m.group(0)
            return r1c1(ref, row, col)

        return _REF.sub(one, segment)

    return _outside_strings(formula, rewrite)
