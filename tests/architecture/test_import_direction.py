"""Imports point one way: ``addin -> udfs -> pricing`` (DESIGN.md, "Layout").

Two checks:
- static: every ``import`` statement in every module of the product (top level and inside
  functions, so lazy imports count too) names only packages its layer may use;
- dynamic: importing every module of ``pricing`` (in a fresh interpreter) loads no Excel
  library and no upper layer, transitively.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What each layer must never import (top-level package names).
FORBIDDEN = {
    "pricing": {"xlwings", "xlwings_server", "openpyxl", "formulas", "udfs", "addin", "workbooks", "bench", "QuantLib", "pandas"},
    "udfs": {"addin", "workbooks", "bench", "QuantLib", "openpyxl", "formulas"},
    "addin": {"bench", "QuantLib", "formulas"},  # except addin/cli/__init__.py, which reaches the benchmarks lazily
    # the generic engine is handed its host functions; it knows no catalogue and no pricing
    "addin/headless": {
        "udfs",
        "pricing",
        "bench",
        "QuantLib",
        "formulas",
        "workbooks",
        "addin.workbook",
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


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_every_module_imports_only_what_its_layer_may(layer: str) -> None:
    bad = []
    for path in _modules(layer):
        for line, name in _imports(path):
            for banned in FORBIDDEN[layer]:
                if name == banned or name.startswith(banned + "."):
                    if layer == "addin" and path == ROOT / "addin" / "cli" / "__init__.py" and banned.startswith("bench"):
                        continue
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
    from addin.workbook.catalogue import PREFIXES, function_table
    from udfs.catalogue import PREFIX

    assert all(k.startswith(PREFIXES) for k in function_table()) and PREFIXES[0] == PREFIX + "_"


def test_udfs_never_import_addin_at_run_time() -> None:
    code = "import sys, udfs, udfs.store, udfs.names; print(','.join(m for m in ('addin', 'workbooks', 'bench') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
