"""Each host its own usage error: the headless engine's ``BookError`` (a workbook the engine
refuses) is raised only by the engine (``addin/headless``) and by the host code that really
recalculates workbooks; a bad option, file or notification elsewhere raises the host's own
error (``addin.cli.errors``, ``addin.fix.errors``, ``addin.excel.serve.ServeError``), each a
:class:`addin.errors.UsageError` that the command line answers with exit 2.

Read from the syntax tree: every ``raise`` whose exception is the engine's ``BookError`` under
whatever name or module alias the file imported it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from addin.cli.errors import CliUsageError, ClusterError
from addin.errors import UsageError
from addin.excel.errors import ExcelUsageError
from addin.excel.serve import ServeError
from addin.fix.errors import FixUsageError

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "addin/headless"
#: The modules where BookError is defined and re-exported.
BOOK_ERROR_HOMES = ("addin.headless", "addin.headless.values")
#: Host code that recalculates or validates workbooks and passes the engine's refusal on.
RECALCULATES = {Path("addin/excel/books.py")}
SCANNED = ("addin", "udfs", "pricing", "bench", "workbooks")


def book_error_raises(source: str) -> list[int]:
    """Line numbers of every ``raise`` of the headless engine's ``BookError`` in ``source``."""
    tree = ast.parse(source)
    names: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in BOOK_ERROR_HOMES:
            names.update(a.asname or a.name for a in node.names if a.name == "BookError")
            if node.module == "addin.headless":
                modules.update(a.asname or a.name for a in node.names if a.name == "values")
        elif isinstance(node, ast.Import):
            modules.update(a.asname for a in node.names if a.name in BOOK_ERROR_HOMES and a.asname)

    def is_book_error(exc: ast.expr | None) -> bool:
        target = exc.func if isinstance(exc, ast.Call) else exc
        if isinstance(target, ast.Name):
            return target.id in names
        if isinstance(target, ast.Attribute) and target.attr == "BookError":
            return ast.unparse(target.value) in modules | set(BOOK_ERROR_HOMES)
        return False

    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Raise) and is_book_error(node.exc)]


def test_the_check_finds_book_error_under_any_name() -> None:
    source = (
        "from addin.headless.values import BookError as BE\n"
        "import addin.headless.values as v\n"
        "from pricing.desk.book import BookError\n"
        "def f(x):\n"
        "    if x == 1:\n"
        "        raise BE('a')\n"
        "    if x == 2:\n"
        "        raise v.BookError('b')\n"
        "    if x == 3:\n"
        "        raise addin.headless.values.BookError\n"
        "    raise BookError('the positions book, another error')\n"
    )
    assert book_error_raises(source) == [6, 8, 10]


def test_no_host_raises_the_engine_book_error_for_what_is_not_a_workbook() -> None:
    found = {}
    for part in SCANNED:
        for path in sorted((ROOT / part).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.as_posix().startswith(ENGINE) or rel in RECALCULATES:
                continue
            lines = book_error_raises(path.read_text(encoding="utf-8"))
            if lines:
                found[str(rel)] = lines
    assert found == {}, found


@pytest.mark.parametrize("error", [CliUsageError, ClusterError, FixUsageError, ServeError, ExcelUsageError])
def test_each_host_error_is_a_usage_error_in_its_own_package(error: type[Exception]) -> None:
    assert issubclass(error, UsageError)
    assert error.__module__.startswith(("addin.cli", "addin.fix", "addin.excel"))
