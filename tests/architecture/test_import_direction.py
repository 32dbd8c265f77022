"""Imports point one way: ``addin -> udfs -> pricing`` (the design note ``../shared/DESIGN.md``, beside
the repository, not in it: "Layout").

Checks:
- the plan: for every part of the layout, the parts it MAY import (:data:`MAY_IMPORT`); every
  import statement of every module (top level and inside functions, so lazy imports count too)
  is checked against it, from the import graph computed with ``ast`` (``graph.py``);
- no cycle between modules (strongly connected components of that graph);
- ``docs/layout.md`` is the graph's current picture (``python -m tests.architecture.graph``);
- static: every module's imports name no third-party package its layer must not use;
- dynamic: importing every module of ``pricing`` (in a fresh interpreter) loads no Excel
  library and no upper layer, transitively.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.architecture.graph import PARTS, cycles, graph, layout_markdown, part_of, readme_arrows

ROOT = Path(__file__).resolve().parents[2]
#: What each part of the layout may import (besides itself), and why. A part not listed here may
#: not be imported by it.
MAY_IMPORT: dict[str, set[str]] = {
    # the kernels: numba or numpy only; the adapters to engine types sit beside their callers
    "pricing.accel": set(),
    "pricing": {"pricing.accel"},
    # the application service sits on the engine; nothing in the engine knows it
    "pricing.desk": {"pricing", "pricing.accel"},
    # the catalogue: thin wrappers over the engine and the desk service
    "udfs": {"pricing", "pricing.accel", "pricing.desk"},
    # the workbook engine is handed its host functions: no catalogue, no pricing
    "addin.headless": set(),
    # shared host plumbing (table files, atomic writes, the xlsx style, the usage error)
    "addin": {"addin.headless"},
    # the desktop add-in's entry (its module name is the .xlam's file name): re-exports the ribbon action
    "addin.clearquote": {"addin.excel"},
    # Excel hosts and the catalogue's binding for the headless engine
    "addin.excel": {"udfs", "addin.headless", "addin"},
    # FIX and Block RFQ go to the desk service (and engine types), never the catalogue
    "addin.fix": {"pricing", "pricing.desk", "addin"},
    # the command line: the desk service and the engine directly; the other hosts' commands come
    # in through entry points (addin/commands.py), so it imports no other host
    "addin.cli": {"pricing", "pricing.accel", "pricing.desk", "addin"},
    "workbooks": {"pricing", "udfs", "addin", "addin.headless", "addin.excel"},
    # developer benchmarks: outside the shipped package, may use anything
    "bench": {part for part, _ in PARTS} - {"bench"},
}
#: Module cycles tolerated for now: none (the last, the headless engine <-> excel_functions <->
#: numfmt, is gone). An entry here must be a cycle that exists: the test fails once it is gone.
KNOWN_CYCLES: list[list[str]] = []
#: What each layer must never import (top-level package names).
FORBIDDEN = {
    "pricing": {"xlwings", "xlwings_server", "openpyxl", "formulas", "udfs", "addin", "workbooks", "bench", "QuantLib", "pandas"},
    "udfs": {"addin", "workbooks", "bench", "QuantLib", "openpyxl", "formulas"},
    "addin": {"bench", "QuantLib", "formulas"},
    # the generic engine is handed its host functions; it knows no catalogue and no pricing
    "addin/headless": {
        "udfs",
        "pricing",
        "bench",
        "QuantLib",
        "formulas",
        "workbooks",
        "addin.cli",
        "addin.excel",
    },
    "workbooks": {"bench", "QuantLib"},
}


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def test_every_part_imports_only_the_parts_it_may() -> None:
    assert set(MAY_IMPORT) == {part for part, _ in PARTS}
    bad = []
    for module, targets in sorted(graph().items()):
        me = part_of(module)
        for target in sorted(targets):
            other = part_of(target)
            if other != me and other not in MAY_IMPORT[me]:
                bad.append(f"{module} ({me}) imports {target} ({other})")
    assert not bad, bad


def test_no_module_cycles() -> None:
    found = cycles()
    assert [c for c in found if c not in KNOWN_CYCLES] == [], found
    assert all(c in found for c in KNOWN_CYCLES), "a known cycle is gone: remove it from KNOWN_CYCLES"


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: a two-module and a three-module loop are found, a chain is not."""
    edges = {
        "a": frozenset({"b"}),
        "b": frozenset({"a"}),
        "c": frozenset({"d"}),
        "d": frozenset({"e"}),
        "e": frozenset({"c"}),
        "f": frozenset({"a"}),
    }
    assert cycles(edges) == [["a", "b"], ["c", "d", "e"]]


def test_a_dynamic_import_with_a_literal_name_is_an_import(tmp_path: Path) -> None:
    """``importlib.import_module("x")``, ``import_module("x")`` and ``__import__("x")`` are edges (the
    review found ``pricing.desk.market`` -> ``pricing.desk.live`` hidden so); a computed name, a relative
    literal and an unrelated call are not."""
    src = tmp_path / "probe.py"
    src.write_text(
        "import importlib\n"
        "from importlib import import_module\n"
        "def f(name):\n"
        "    importlib.import_module('pricing.desk.live')\n"
        "    import_module('pricing.black')\n"
        "    __import__('udfs.market')\n"
        "    importlib.import_module(name)\n"
        "    importlib.import_module('.x', 'pricing')\n"
        "    print('pricing.daycount')\n"
    )
    from unittest import mock

    import tests.architecture.graph as g

    with mock.patch.object(g, "module_name", lambda p: "probe"):  # a file outside the product
        found = [m for _, m in g.imports_of(src)]
    assert found == ["importlib", "importlib", "pricing.desk.live", "pricing.black", "udfs.market"], found


def test_a_dynamic_import_through_a_module_constant_is_an_import(tmp_path: Path) -> None:
    """A module-level string constant passed to ``import_module``/``__import__``/xlwings'
    ``import_udfs`` is an edge (the review found ``addin.clearquote`` -> ``addin.excel.classic``
    hidden so, a part-level loop); a constant rebound, a non-string constant, a local variable and
    a constant passed to another call are not."""
    src = tmp_path / "probe.py"
    src.write_text(
        "import importlib\n"
        "import xlwings as xw\n"
        "UDF_MODULE = 'addin.excel.classic'\n"
        "BLACK: str = 'pricing.black'\n"
        "TWICE = 'udfs.market'\n"
        "TWICE = 'udfs.xva'\n"
        "NUMBER = 3\n"
        "OTHER = 'pricing.daycount'\n"
        "def f():\n"
        "    local = 'pricing.margin'\n"
        "    xw.import_udfs(UDF_MODULE, None)\n"
        "    importlib.import_module(BLACK)\n"
        "    __import__(UDF_MODULE)\n"
        "    importlib.import_module(TWICE)\n"
        "    importlib.import_module(NUMBER)\n"
        "    importlib.import_module(local)\n"
        "    print(OTHER)\n"
    )
    from unittest import mock

    import tests.architecture.graph as g

    with mock.patch.object(g, "module_name", lambda p: "probe"):  # a file outside the product
        found = [m for _, m in g.imports_of(src)]
    assert found == ["importlib", "xlwings", "addin.excel.classic", "pricing.black", "addin.excel.classic"], found


def test_the_desktop_add_in_entry_reaches_the_classic_host() -> None:
    """The ribbon's import of the function module is seen: ``addin.excel.ribbon`` imports
    ``addin.excel.classic`` (through ``import_udfs(UDF_MODULE)`` and directly), and the entry the
    .xlam names (``addin.clearquote``) sits above the desktop host, imported by nothing."""
    g = graph()
    assert "addin.excel.classic" in g["addin.excel.ribbon"]
    assert g["addin.clearquote"] == {"addin.excel.ribbon"}
    assert not [m for m, targets in g.items() if "addin.clearquote" in targets]


def test_layout_doc_and_readme_are_current() -> None:
    doc = ROOT / "docs" / "layout.md"
    assert doc.read_text(encoding="utf-8") == layout_markdown(), "run: python -m tests.architecture.graph > docs/layout.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_arrows() in readme, "run: python -m tests.architecture.graph --readme"
    assert len(readme.splitlines()) <= 300, "the README stays a front page: at most 300 lines"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_every_module_imports_only_what_its_layer_may(layer: str) -> None:
    bad = []
    for path in _modules(layer):
        for line, name in _imports(path):
            for banned in FORBIDDEN[layer]:
                if name == banned or name.startswith(banned + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, bad


def test_importing_all_of_pricing_loads_no_excel_library_nor_upper_layer() -> None:
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in _modules("pricing")]
    names = [n for n in names if not n.endswith("gen_series")]  # a developer script (scipy only)
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "bad = [m for m in ('xlwings', 'openpyxl', 'formulas', 'udfs', 'addin', 'workbooks', 'bench', 'QuantLib', 'pandas') "
        "if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"importing pricing loaded {out.stdout.strip()}"


def test_validating_a_book_without_catalogue_calls_never_loads_pricing_or_numba(tmp_path: Path) -> None:
    """``clearquote validate`` of a plain workbook stays light (the headless issue: 3-12 s before)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"], wb.active["B1"] = 2.0, "=A1*3"
    wb.save(tmp_path / "plain.xlsx")
    code = (
        "import sys\nfrom addin.cli import main\n"
        f"code = main(['validate', {str(tmp_path / 'plain.xlsx')!r}, '-q'])\n"
        "print(code, ','.join(m for m in ('pricing', 'udfs', 'numba', 'scipy', 'formulas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.splitlines()[-1].strip() == "1", out.stdout  # mismatches (no cached values), nothing heavy loaded


def test_catalogue_prefixes_match_the_catalogue() -> None:
    from addin.excel.catalogue import PREFIXES, function_table
    from udfs.catalogue import PREFIX

    assert all(k.startswith(PREFIXES) for k in function_table()) and PREFIXES[0] == PREFIX + "_"


def test_udfs_never_import_addin_at_run_time() -> None:
    code = "import sys, udfs, udfs.store, udfs.names; print(','.join(m for m in ('addin', 'workbooks', 'bench') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
