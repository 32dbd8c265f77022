"""The desk workbooks: committed and rebuilt copies validate, and two independent formula engines agree on them."""

from __future__ import annotations

import re
from pathlib import Path

import formulas
import openpyxl
import pytest
from formulas.tokens.operand import XlError
from openpyxl.utils import get_column_letter

from addin.cli import main
from addin.excel.catalogue import CATALOGUE_FUNCTIONS
from addin.headless import ExcelError, recalculate, validate
from bench.peers import formulas_with_catalogue
from workbooks.build import BUILDERS, build

HERE = Path(__file__).resolve().parents[2] / "workbooks"
NAMES = tuple(BUILDERS)
OMITTED = re.compile(r"\(\s*,|,\s*,|,\s*\)")


@pytest.mark.parametrize("name", NAMES)
def test_committed_book_validates(name: str) -> None:
    v = validate(HERE / name, CATALOGUE_FUNCTIONS)
    assert v.compared > 10 and v.mismatches == []


def test_the_quote_book_heads_what_cq_rfq_spills() -> None:
    """The RFQs sheet's headers over CQ_RFQ's spill are the engine's summary columns (one home:
    ``pricing.xva.quote.TABLE_COLUMNS``), in the committed book and in a rebuilt one, and the array
    formula spans exactly them."""
    from pricing.xva.quote import TABLE_COLUMNS
    from workbooks.build import quote_book

    want = list(TABLE_COLUMNS["summary"])
    for sheet in (openpyxl.load_workbook(HERE / "quote_book.xlsx")["RFQs"], quote_book()["RFQs"]):
        header = [c.value for c in sheet[1]]
        assert header[4 : 4 + len(want)] == want, header
        spill = sheet["E2"].value
        assert spill.ref == f"E2:{get_column_letter(4 + len(want))}2" and "CQ_RFQ(" in spill.text


def test_rebuilt_books_validate_and_show_the_article_numbers(tmp_path: Path) -> None:
    for path in build(tmp_path):
        assert main(["validate", str(path), "-q"]) == 0
    seed = openpyxl.load_workbook(tmp_path / "seed_example.xlsx", data_only=True)["Seed"]
    assert seed["C29"].value == 568_800 and seed["B31"].value is True  # the article's all-in quote
    assert seed["C23"].value == pytest.approx(12_499.625, abs=1e-6)  # FVA = 950,000 x 5.263% x 90/360
    lab = openpyxl.load_workbook(tmp_path / "margin_lab.xlsx", data_only=True)
    assert lab["Hedge"]["B5"].value is True and lab["Hedge"]["C2"].value < 0 < lab["Hedge"]["C3"].value
    charts = lab["Scenarios"]._charts  # the native histogram survived the engine's write
    assert len(charts) == 1 and charts[0].tagname == "barChart"
    quotes = openpyxl.load_workbook(tmp_path / "quote_book.xlsx", data_only=True)["Summary"]
    assert quotes["B4"].value == 0 and quotes["B3"].value == quotes["B2"].value > 30


def _excelmodel_values(path: Path) -> dict[str, object]:
    formulas_with_catalogue()
    model = formulas.ExcelModel().loads(str(path)).finish()
    out = {}
    for key, value in model.calculate().items():
        sheet, _, cells = key.split("]", 1)[-1].rpartition("!")
        out[f"{sheet.strip(chr(39)).upper()}!{cells}"] = getattr(value, "value", value)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_engine_equals_formulas_excelmodel_on_every_formula_cell(name: str) -> None:
    """A cross-check of two independent engines (IronCalc with the catalogue in passes, and
    ``formulas``' per-cell model with the same catalogue) on every formula anchor.

    Cells whose formula omits an argument are left out: ExcelModel passes 0 there, Excel (and
    this engine) a missing argument. Tolerance: rel 1e-12, the same catalogue functions on the
    same inputs; only the order of sums and Excel-function implementations can differ.
    """
    path = HERE / name
    ours = recalculate(path, CATALOGUE_FUNCTIONS)
    theirs = _excelmodel_values(path)
    wb = openpyxl.load_workbook(path)
    checked = 0
    for sheet in ours.package.sheets:
        for (r, c), fc in sheet.formulas.items():
            text = wb[sheet.name].cell(r, c).value
            text = getattr(text, "text", text)
            if OMITTED.search(str(text)):
                continue
            key = f"{sheet.name.upper()}!{get_column_letter(c)}{r}"
            if fc.array:
                key += f":{get_column_letter(fc.array[1])}{fc.array[0]}"
            value = theirs[key]
            value = value.ravel()[0] if hasattr(value, "ravel") else value
            mine = ours.values[(sheet.name, r, c)]
            if isinstance(mine, ExcelError) or isinstance(value, XlError):
                assert str(mine) == str(value), key
            elif isinstance(mine, float):
                assert float(value) == pytest.approx(mine, rel=1e-12, abs=1e-9), key
            elif isinstance(mine, str) and mine.startswith("CQ.MARKET#"):
                # a handle's hash keys the cell contents as each engine passes them; the label must agree
                assert mine.split(" ", 1)[1] == str(value).split(" ", 1)[1], key
            else:
                assert mine == value or (mine in ("", None) and value in ("", None, 0)), key
            checked += 1
    assert checked >= 10
