"""Defined names cost linear time: the engine never asks IronCalc for its whole list of names
(``Model.get_defined_name_list`` is quadratic in IronCalc 0.9.1: 17.7 s at 20,000 names, an
outside audit), and the decision it takes instead (every ``definedName`` of ``workbook.xml`` is
the reader's, under its name and scope) is checked against that list on generated books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.workbook.defined_name import DefinedName

import addin.headless.engine as engine
from addin.headless import recalculate
from addin.headless.package import Limits, scan

# Texts of every kind Excel writes for a name (Microsoft, "Define and use names in formulas"):
# absolute and relative references, ranges, whole columns, named formulas, constants (number,
# text, logical), array constants, errors, deleted references, 3-D and external references.
_TEXTS = [
    "S!$A$1",
    "S!$A$1:$A$3",
    "S!A1",
    "S!$A:$A",
    "SUM(S!$A$1:$A$3)",
    "0.07",
    "-1.5E3",
    '"text"',
    "TRUE",
    "{1,2,3}",
    "#REF!",
    "S!#REF!",
    "T!$B$2",
    "'T'!$B$2*2",
    "S:T!$A$1",
    "[1]Other!$A$1",
    "LAMBDA(x,x+1)",
    "S!$A$1+T!$B$2",
]
# Excel refuses a name that reads as a cell (``n5`` is column N, row 5) or as R1C1.
_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,12}", fullmatch=True).filter(lambda n: not _looks_like_cell(n))


def _looks_like_cell(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[A-Za-z]{1,3}\d+|[RrCc]\d*|[Rr]\d*[Cc]\d*|true|false", name, re.I)) or name.lower().startswith(
        "_xlnm"
    )


def _book(path: Path, names: list[tuple[str, int | None, str]]) -> Path:
    wb = openpyxl.Workbook()
    s = wb.active
    s.title = "S"
    t = wb.create_sheet("T")
    for r in range(1, 4):
        s.cell(row=r, column=1, value=r)
    t["B2"] = 10
    for name, scope, text in names:
        dn = DefinedName(name, attr_text=text, localSheetId=scope)
        if scope is None:
            wb.defined_names[name] = dn
        else:
            (s if scope == 0 else t).defined_names[name] = dn
    s["C1"] = "=1+1"
    wb.save(path)
    return path


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(_NAME, st.sampled_from([None, 0, 1]), st.sampled_from(_TEXTS)),
        max_size=12,
        unique_by=lambda t: (t[0].upper(), t[1]),
    )
)
def test_the_reader_keeps_every_defined_name_under_its_name_and_scope(tmp_path: Path, names: list[Any]) -> None:
    """The invariant ``_Run._defined_names`` rests on: the names IronCalc loads are exactly the
    package's (name, scope) pairs, for names of every kind and scope (on small books, where
    asking IronCalc for its list is cheap)."""
    path = _book(tmp_path / "names.xlsx", names)
    pkg = scan(path)
    model = engine._load(pkg, Limits())
    run = engine._Run(model, pkg, {}, Limits())
    loaded = {(d["name"].upper(), d.get("scope")) for d in model.get_defined_name_list()}
    expected = set()
    for name, scope, _ in pkg.names:
        si = None if scope is None else run.index[pkg.sheets[scope].name]
        expected.add((name.upper(), si))
    assert loaded == expected


class _NoList:
    """The formula engine's model, refusing the quadratic call."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def get_defined_name_list(self) -> Any:
        raise AssertionError("get_defined_name_list is quadratic in the number of names (IronCalc 0.9.1)")

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._model, attr)


def test_names_are_taken_without_asking_the_formula_engine_for_its_list(tmp_path: Path, monkeypatch: Any) -> None:
    """A book with many names of every kind is evaluated without ``get_defined_name_list``, and the
    values are Excel's: constants through the scratch cells, references and formulas by IronCalc."""
    many = [(f"nm_{i}", None, f"S!$A${i % 3 + 1}") for i in range(2000)]
    mine = [("Rate", None, "0.07"), ("Label", 1, '"x"'), ("Total", None, "SUM(S!$A$1:$A$3)"), ("Local", 0, "S!$A$3")]
    path = _book(tmp_path / "many.xlsx", many + mine)
    wb = openpyxl.load_workbook(path)
    s, t = wb["S"], wb["T"]
    s["D1"], s["D2"], s["D3"], s["D4"], t["C1"] = "=Rate*100", "=Total", "=nm_1999+Local", "=nm_4", '=Label&"y"'
    wb.save(path)
    real = engine._load
    monkeypatch.setattr(engine, "_load", lambda pkg, limits: _NoList(real(pkg, limits)))
    v = recalculate(path).values
    assert abs(v[("S", 1, 4)] - 7.0) < 1e-12  # 0.07*100 in binary floating point
    assert v[("S", 2, 4)] == 6  # 1+2+3
    assert v[("S", 3, 4)] == 2 + 3  # nm_1999 -> $A$(1999 % 3 + 1) = A2; Local -> A3
    assert v[("S", 4, 4)] == 2  # nm_4 -> A2
    assert v[("T", 1, 3)] == "xy"
