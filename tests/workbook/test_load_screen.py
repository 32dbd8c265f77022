"""A formula the formula engine cannot load is an error in its own cell; the book is never lost.

Outside reference: Microsoft's function reference (support.microsoft.com, "Excel functions
(alphabetical)"), whose Syntax section of each function lists its required and optional
arguments: SLOPE(known_y's, known_x's), CORREL(array1, array2), RSQ(known_y's, known_x's),
STEYX(known_y's, known_x's), INTERCEPT(known_y's, known_x's), FORECAST(x, known_y's, known_x's)
and FORECAST.LINEAR likewise. Excel refuses to enter a call with more or fewer ("You've entered
too many arguments for this function"), so no value of Excel's exists for one a file holds: the
engine gives ``#NAME?``, its code for a formula it cannot take as written (as for a formula over
Excel's length or nesting limits, :mod:`addin.headless.package`), with the reason. Every other
cell keeps the value Excel gives it: SUM(1, 2, 4) = 7 (Microsoft, "SUM function").
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from addin.headless import ExcelError, recalculate
from addin.headless.arity import MANY, fault, table
from addin.headless.isolation import Budget, run

#: Calls outside their function's arity that IronCalc 0.9.1's loader panics on (index out of
#: bounds in its static analysis): before the screen, each lost the whole book.
PANICKING = [
    "SLOPE(A1:A3,A1:A3,1)",
    "CORREL(A1:A3,A1:A3,A1:A3)",
    "RSQ(A1:A3,A1:A3,1)",
    "STEYX(A1:A3,A1:A3,1)",
    "INTERCEPT(A1:A3,A1:A3,1)",
    "FORECAST(1,A1:A3,A1:A3,1)",
    "_xlfn.FORECAST.LINEAR(1,A1:A3,A1:A3,1)",
]


def values_of(path: str) -> dict[tuple[str, int, int], Any]:
    """Every formula's value (run in a book's child by the tests: a panic costs the child only)."""
    return dict(recalculate(Path(path)).values)


def _book(path: Path, formulas: list[str]) -> Path:
    """Inputs 1, 2, 4 in A1:A3, B1 = SUM(A1:A3), then ``formulas`` down column C."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for i, v in enumerate([1, 2, 4], 1):
        ws.cell(i, 1).value = v
    ws["B1"] = "=SUM(A1:A3)"
    for i, f in enumerate(formulas, 1):
        ws.cell(i, 3).value = "=" + f
    wb.save(path)
    return path


@pytest.mark.parametrize("call", PANICKING)
def test_a_call_with_too_many_arguments_is_an_error_in_its_cell_and_the_book_is_kept(tmp_path: Path, call: str) -> None:
    book = _book(tmp_path / "b.xlsx", [call, "A1*10", "C1"])
    got = recalculate(book).values
    assert got[("S", 1, 2)] == 7.0 and got[("S", 2, 3)] == 10.0  # the other cells keep Excel's values
    bad = got[("S", 1, 3)]
    name = re.sub(r"^_xlfn\.", "", call.split("(")[0])
    assert isinstance(bad, ExcelError) and bad.code == "#NAME?"
    assert f"{name} called with" in bad.reason and "too many" in bad.reason
    assert isinstance(got[("S", 3, 3)], ExcelError)  # what reads it reads an error


def test_a_shared_formula_whose_master_is_out_of_arity_is_an_error_in_every_cell_of_its_group(tmp_path: Path) -> None:
    """Excel writes the other cells of a shared group as the master's text (ECMA-376 Part 1,
    18.3.1.40 ``f``, ``t="shared"``): every one of them makes the call the master makes."""
    book = _book(tmp_path / "b.xlsx", ["SLOPE(A1:A3,A1:A3,1)", "PLACEHOLDER2()", "PLACEHOLDER3()", "A2*10"])
    shared = tmp_path / "shared.xlsx"
    with zipfile.ZipFile(book) as zi, zipfile.ZipFile(shared, "w") as zo:
        for item in zi.infolist():
            data = zi.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<f>SLOPE(", b'<f t="shared" ref="C1:C3" si="0">SLOPE(')
                data = re.sub(rb"<f>PLACEHOLDER\d\(\)</f>", b'<f t="shared" si="0"/>', data)
            zo.writestr(item, data)
    got = recalculate(shared).values
    assert got[("S", 1, 2)] == 7.0 and got[("S", 4, 3)] == 20.0
    for row in (1, 2, 3):
        v = got[("S", row, 3)]
        assert isinstance(v, ExcelError) and v.code == "#NAME?" and "SLOPE called with 3 arguments" in v.reason


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("=SLOPE(A1:A3,A1:A3,1)", "SLOPE called with 3 arguments; Excel takes 2 (too many)"),
        ("=SUM()", "SUM called with 0 arguments; Excel takes at least 1 (too few)"),
        ("=PI(1)", "PI called with 1 argument; Excel takes 0 (too many)"),
        ('=IF(A1,{1,2;3,4},"a,b",1)', "IF called with 4 arguments; Excel takes 2 to 3 (too many)"),
        ("=MAX(SUM(1,2),_xlfn.FORECAST.LINEAR(1,A1:A3))", "FORECAST.LINEAR called with 2 arguments; Excel takes 3 (too few)"),
        ("=ROUND(1,)", None),  # an empty argument is an argument (ROUND(1,) is ROUND(1,0))
        ('=IF(A1,{1,2;3,4},"a,b")', None),  # commas of an array constant and of a string
        ("=CORREL((A1,A2),B1)", None),  # a union in parentheses is one argument
        ("='a,(b'!A1+ABS(1)", None),  # a quoted sheet name
        ("=SUM(T[[#This Row],[a]],1)", None),  # a structured reference's comma
        ("=MY_HOST(1,2,3,4,5,6,7)", None),  # not an Excel function: not checked here
    ],
)
def test_the_arity_of_each_call_is_read_from_the_text(text: str, why: str | None) -> None:
    """Counts as Microsoft's Syntax sections give them (SLOPE 2, SUM 1..255, PI none, IF 2..3,
    FORECAST.LINEAR 3, ROUND 2); 255 arguments is Excel's limit ("Excel specifications and limits")."""
    assert fault(text) == why


def test_every_function_s_arity_is_within_excel_s_limit() -> None:
    assert all(0 <= low <= high <= MANY for low, high in table().values())


_KINDS = {"number": "1", "range": "A1:A3", "text": '"a"', "boolean": "TRUE", "error": "#N/A", "array": "{1,2;3,4}", "empty": ""}


@settings(max_examples=10, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: each example is a child process
@given(
    names=st.lists(st.sampled_from(sorted(table())), min_size=1, max_size=8, unique=True),
    kinds=st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=8),
    data=st.data(),
)
def test_no_generated_call_loses_the_book(
    tmp_path_factory: pytest.TempPathFactory, names: list[str], kinds: list[str], data: Any
) -> None:
    """Generated calls of the functions the engine knows, with 0 to max+1 arguments of mixed
    kinds, through the engine in a book's child (a panic would cost the child: the test sees
    it as a lost book): the book is always read, B1 keeps SUM(1, 2, 4) = 7, and a call outside
    its arity is ``#NAME?`` with the reason."""
    formulas = []
    for name in names:
        low, high = table()[name]
        count = data.draw(st.integers(0, min(high, low + 3) + 1), label=f"{name} arguments")
        args = ",".join(_KINDS[kinds[i % len(kinds)]] for i in range(count))
        formulas.append(f"{name}({args})")
    book = _book(tmp_path_factory.mktemp("fuzz") / "b.xlsx", formulas)
    got = run("tests.workbook.test_load_screen:values_of", (str(book),), book.name, Budget(timeout_s=120))
    assert got[("S", 1, 2)] == 7.0
    for row, f in enumerate(formulas, 1):
        why = fault("=" + f)
        if why is not None:
            v = got[("S", row, 3)]
            assert isinstance(v, ExcelError) and v.code == "#NAME?", (f, v)


def test_a_panic_s_reason_is_its_message_not_its_backtrace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A book the screen cannot save (here a sheet whose relationship names a part that is no
    worksheet, the styles part, which IronCalc 0.9.1 panics on: "index out of bounds"; a missing
    relationship id, this test's first book, is now repaired: test_package_repair.py) is refused
    with the engine's message."""
    from addin.headless import BookError

    monkeypatch.setenv("RUST_BACKTRACE", "1")
    book = _book(tmp_path / "b.xlsx", ["A1+1"])
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(book) as zi, zipfile.ZipFile(broken, "w") as zo:
        for item in zi.infolist():
            data = zi.read(item.filename)
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = re.sub(rb'(relationships/worksheet" Target=")[^"]*"', rb'\1/xl/styles.xml"', data, count=1)
            zo.writestr(item, data)
    with pytest.raises(BookError) as caught:
        run("tests.workbook.test_load_screen:values_of", (str(broken),), broken.name, Budget(timeout_s=120))
    assert "PanicException: index out of bounds" in str(caught.value) and "backtrace" not in str(caught.value)


@pytest.mark.parametrize("call", ["LOG10(1,2)", "ATAN2(1)", "DEC2BIN()"])
def test_a_function_whose_name_holds_digits_is_checked_too(tmp_path: Path, call: str) -> None:
    """LOG10(number), ATAN2(x_num, y_num), DEC2BIN(number, [places]) (Microsoft's reference pages)."""
    got = recalculate(_book(tmp_path / "b.xlsx", [call])).values
    assert got[("S", 1, 2)] == 7.0
    v = got[("S", 1, 3)]
    assert (
        isinstance(v, ExcelError)
        and v.code == "#NAME?"
        and v.reason.startswith("refused: " + call.split("(")[0] + " called with")
    )
