"""TEXTBEFORE and TEXTAFTER as Excel computes them (addin/headless/textparts.py).

Oracle: Microsoft, "TEXTAFTER function" and "TEXTBEFORE function" (support.microsoft.com):
instance_num 1 by default, negative from the end; match_mode 0/1; match_end 1 treats the end
of the text as a delimiter; if_not_found instead of #N/A; "#VALUE! if instance_num = 0 or if
instance_num is greater than the length of text"; "#N/A if delimiter isn't contained in text"
or "if instance_num is greater than the number of occurrences". Its examples' data cells are
not printed with the results; A2 "Little Red Riding Hood's red hood" and A3 "Little red riding
hood's red hood" are the texts the printed results imply. Coercion where Microsoft is silent:
the cached values of formulas' ``test.xlsx`` (``../shared/corpus/excel``, sheet "TEXT" rows 44-45
and sheet "EXTRA" H30:H34, copied here as literals with their cells named).

The property's rule is Python's own ``str.split``/``str.rsplit`` (non-overlapping occurrences
from the start or from the end): the text after the n-th delimiter is the delimiter joining
the pieces after the n-th split. Results are text: compared exactly.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from addin.cli import main
from addin.headless import ExcelError, recalculate
from addin.headless.textparts import fill_defaults, textafter, textbefore
from tests.workbook.bookkit import compute


def _rule(after: bool, text: str, delim: str, n: int) -> str:
    """Excel's result by Python's split (module docstring); #N/A when too few occurrences."""
    if n == 0:
        return "#VALUE!"
    if not text:
        return ""  # Microsoft: "If text is an empty string, Excel returns empty text"
    if abs(n) > len(text):
        return "#VALUE!"
    parts = text.split(delim) if n > 0 else text.rsplit(delim)
    if abs(n) > len(parts) - 1:
        return "#N/A"
    k = n if n > 0 else len(parts) - 1 + n
    return delim.join(parts[k + 1 :] if after else parts[: k + 1]) if n < 0 else delim.join(parts[k:] if after else parts[:k])


def _code(v: object) -> object:
    return v.code if isinstance(v, ExcelError) else v


_ALPHABET = st.text(alphabet="ab,;-", max_size=12)


@settings(max_examples=1500, deadline=None)
@given(_ALPHABET, st.text(alphabet="ab,;-", min_size=1, max_size=3), st.integers(-14, 14), st.booleans())
def test_each_instance_from_either_end_is_pythons_split(text: str, delim: str, n: int, after: bool) -> None:
    fn = textafter if after else textbefore
    (got,) = fn([[text, delim, float(n)]])
    assert _code(got) == _rule(after, text, delim, n)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="abAB,", max_size=10), st.text(alphabet="abAB,", min_size=1, max_size=2), st.integers(-10, 10), st.booleans()
)
def test_case_insensitive_matching_is_the_rule_on_lower_case_with_the_texts_own_letters(
    text: str, delim: str, n: int, after: bool
) -> None:
    """match_mode 1: the occurrences are those of the lower-cased texts; the result is cut from
    the text as written (its own capitals kept)."""
    fn = textafter if after else textbefore
    (got,) = fn([[text, delim, float(n), 1.0]])
    want = _rule(after, text.lower(), delim.lower(), n)
    if want.startswith("#"):
        assert _code(got) == want
    else:
        assert isinstance(got, str) and got.lower() == want
        assert got in text and (text.endswith(got) if after else text.startswith(got))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=6), st.floats(allow_nan=True), st.booleans(), st.none()),
    st.one_of(
        st.text(max_size=2),
        st.floats(-3, 3),
        st.none(),
        st.lists(st.lists(st.text(max_size=2), min_size=1, max_size=2), min_size=1, max_size=2),
    ),
    st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.booleans(), st.none()), max_size=4),
)
def test_hostile_arguments_are_text_or_excel_errors_never_exceptions(text: object, delim: object, rest: list[object]) -> None:
    for fn in (textafter, textbefore):
        (got,) = fn([[text, delim, *rest]])
        # text cut from the text, an error, or if_not_found's own value (any value, a blank as 0)
        if_not_found = rest[3] if len(rest) == 4 else None
        assert isinstance(got, str | ExcelError) or got == (0.0 if if_not_found is None else if_not_found)


def test_microsofts_examples_and_the_corpus_cells_through_a_book(tmp_path: Path) -> None:
    a2, a3 = "Little Red Riding Hood's red hood", "Little red riding hood's red hood"
    inputs: dict[str, object] = {
        "A2": a2, "A3": a3, "A4": "Marcus Aurelius", "A5": "Socrates",
        "C44": 0, "D44": 1.9, "E44": 2.3, "F44": 10, "G44": -1, "I44": "1987-08-26", "J44": True,
        "K44": "=#VALUE!", "L44": "=NA()",
    }  # fmt: skip
    s = '"1,2,3,4,5,6,7,8",{"3","4"}'
    cases: dict[str, object] = {
        '=TEXTAFTER(A2,"Red")': " Riding Hood's red hood",
        '=TEXTAFTER(A2,"basket")': "#N/A",
        '=TEXTAFTER(A3,"red",2)': " hood",
        '=TEXTAFTER(A3,"red",-2)': " riding hood's red hood",
        '=TEXTAFTER(A3,"Red",,FALSE)': "#N/A",
        '=TEXTAFTER(A2,"red",3)': "#N/A",
        '=TEXTAFTER(A4," ",,,1)': "Aurelius",
        '=TEXTAFTER(A5," ",,,0)': "#N/A",
        '=TEXTAFTER(A5," ",,,1)': "",
        '=TEXTBEFORE(A5," ",,,1)': "Socrates",
        '=TEXTAFTER("Red riding hood\'s, red hood","hood")': "'s, red hood",
        '=TEXTAFTER("Red riding hood\'s, red hood","")': "Red riding hood's, red hood",
        '=TEXTAFTER("Red riding hood\'s, red hood","",-1)': "",
        '=TEXTBEFORE("Red riding hood\'s, red hood","")': "",
        '=TEXTAFTER("x","y",,,,"none")': "none",
        f"=_xlfn.TEXTAFTER({s},C44)": "#VALUE!",  # R44
        f"=_xlfn.TEXTAFTER({s},D44)": ",4,5,6,7,8",  # S44
        f"=_xlfn.TEXTAFTER({s},E44,F44)": "#VALUE!",  # T44
        f"=_xlfn.TEXTAFTER({s},F44,H44)": "#N/A",  # U44
        f"=_xlfn.TEXTAFTER({s},G44,I44)": "#VALUE!",  # V44
        f"=_xlfn.TEXTAFTER({s},H44,J44)": "#VALUE!",  # W44: a blank cell is 0, not omitted
        f"=_xlfn.TEXTAFTER({s},I44)": "#VALUE!",  # X44
        f"=_xlfn.TEXTAFTER({s},J44)": ",4,5,6,7,8",  # Y44
        f"=_xlfn.TEXTAFTER({s},K44)": "#VALUE!",  # Z44
        f"=_xlfn.TEXTAFTER({s},L44)": "#N/A",  # AA44
        f"=_xlfn.TEXTBEFORE({s},E44)": "1,2,3,",  # T45
        f"=_xlfn.TEXTBEFORE({s},G44)": "1,2,3,",  # V45
        '=_xlfn.TEXTAFTER("1,2,3,4,5,6,7,8",{"9"},1,1,1)': "",  # EXTRA!H30
        '=_xlfn.TEXTAFTER("cc",{9},1,1,0)': "#N/A",  # H32
        '=_xlfn.TEXTAFTER("1,2,3,4,5,6,7,8",{"3","4","5"},-1)': ",6,7,8",  # H33
        '=_xlfn.TEXTAFTER("1,2,3,4,5,6,7,8",{"3","4","5"},2)': ",5,6,7,8",  # H34
    }
    got = compute(tmp_path, list(cases), inputs)
    for (formula, want), value in zip(cases.items(), got, strict=True):
        assert (_code(value) if value is not None else "") == want, formula


def test_omitted_arguments_are_written_as_their_defaults() -> None:
    assert fill_defaults('=TEXTAFTER(A2," ",,,1)') == '=TEXTAFTER(A2," ",1,0,1)'
    assert fill_defaults('=_xlfn.TEXTBEFORE(A2,",",,1,,)') == '=_xlfn.TEXTBEFORE(A2,",",1,1,0,NA())'
    assert fill_defaults('=TEXTAFTER(A2,",",2)') == '=TEXTAFTER(A2,",",2)'
    assert fill_defaults("=SUM(A1,,B1)") == "=SUM(A1,,B1)"


def test_over_a_range_of_instances_in_an_array_formula_it_is_lifted(tmp_path: Path) -> None:
    """The corpus book's AH44:AW44, ``{=TEXTAFTER("1,...,8",{"3","4"},C44:Q44)}``: one result per
    instance (AH44 cached #VALUE!, the instance 0); the delimiter array is not lifted."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for j, v in enumerate([0, 1.9, 2.3, 10, -1]):
        ws.cell(1, 3 + j).value = v
    ws["A3"] = ArrayFormula("A3:E3", '=_xlfn.TEXTAFTER("1,2,3,4,5,6,7,8",{"3","4"},C1:G1)')
    wb.save(tmp_path / "a.xlsx")
    got = recalculate(tmp_path / "a.xlsx").values
    assert [_code(got[("S", 3, c)]) for c in range(1, 6)] == ["#VALUE!", ",4,5,6,7,8", ",5,6,7,8", "#N/A", ",5,6,7,8"]


def test_recalc_writes_the_parts_a_reader_sees(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["A1"] = "BTC-27DEC24-60000-C"
    ws["B1"] = '=TEXTBEFORE(A1,"-")'
    ws["C1"] = '=TEXTAFTER(A1,"-",-1)'
    ws["D1"] = '=TEXTBEFORE(TEXTAFTER(A1,"-",2),"-")'
    wb.save(tmp_path / "in.xlsx")
    assert main(["recalc", "-q", str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]
    assert [out["B1"].value, out["C1"].value, out["D1"].value] == ["BTC", "C", "60000"]


@settings(max_examples=300, deadline=None)
@given(
    text=st.sampled_from(["", None]),
    delim=st.one_of(st.text(alphabet="ab, ", max_size=3), st.lists(st.text(alphabet="ab,", max_size=2), min_size=1, max_size=3)),
    n=st.integers(-5, 5).filter(lambda k: k != 0),
    mode=st.sampled_from([0.0, 1.0]),
    end=st.sampled_from([0.0, 1.0]),
    after=st.booleans(),
)
def test_empty_text_gives_empty_text(
    text: str | None, delim: str | list[str], n: int, mode: float, end: float, after: bool
) -> None:
    """Microsoft, "TEXTBEFORE function" / "TEXTAFTER function", on text: "If text is an empty
    string, Excel returns empty text" (the corpus holds no cached value over empty text; the
    auditor's ``TEXTBEFORE("",",")`` was #VALUE!). A blank cell is empty text; any delimiter,
    instance other than 0, match_mode and match_end; if_not_found is not read."""
    fn = textafter if after else textbefore
    d: object = [delim] if isinstance(delim, list) else delim
    (got,) = fn([[text, d, float(n), mode, end, "nf"]])
    assert got == ""
    (zero,) = fn([[text, d, 0.0]])
    assert _code(zero) == "#VALUE!"  # instance_num 0 is #VALUE! (Microsoft, "Errors")


def test_empty_text_through_a_book(tmp_path: Path) -> None:
    """The auditor's formula and a blank cell, through the engine."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["B1"] = '=TEXTBEFORE("",",")'
    ws["B2"] = '=TEXTAFTER(A2," ",-1)'
    ws["B3"] = '=LEN(TEXTBEFORE("","x",2))'
    wb.save(tmp_path / "e.xlsx")
    res = recalculate(tmp_path / "e.xlsx")
    assert [res.cell("S", r, 2) for r in (1, 2, 3)] == ["", "", 0.0]
