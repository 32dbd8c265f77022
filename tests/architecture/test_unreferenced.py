"""No dead functions: every public function or method defined in ``pricing``, ``udfs`` and ``addin``
is named somewhere else in the repository, or is an entry point something outside the code calls:
a catalogue function (registered by ``@excel_function("NAME", ...)``; Excel calls it as
``CQ_NAME``, and that name must be in the function reference in ``docs/``), or a name listed with
its caller in :data:`CALLED_BY_NAME`.

A function counts as used when its name appears, outside its own ``def``, in any tracked Python
file (product, tests, benches, builders; as a name, an attribute, an imported name, or a string
that is a dotted path such as ``getattr(m, "name")``, ``__all__`` or ``"pkg.mod:name"``), in a
Python block or doctest line of ``docs/`` or the README, in ``pyproject.toml`` (the console
script) or in the JavaScript test harness. Docstrings and prose do not count: a function named only
in prose is documentation of nothing. The check is by name (a method ``x.quote`` and a function
``quote`` are one name), so it finds a name no code uses, not every unused definition: what it
cannot see is said in :data:`CALLED_BY_NAME`.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("pricing", "udfs", "addin")
#: Names the code never writes because something outside it calls them by name (a framework, a
#: protocol, Excel), each with the caller. Every entry must still be defined in the scanned parts
#: and still be unreferenced, or the test fails (a stale excuse is removed, not kept).
CALLED_BY_NAME: dict[str, str] = {
    "validate_token": "xlwings Server's custom authentication hook (auth/custom), looked up by name",
    "readable": "io.RawIOBase protocol: io.BufferedReader asks it (the capped zip-part reader)",
    "readinto": "io.RawIOBase protocol: io.BufferedReader reads through it",
}
#: The decorator that makes a function a catalogue entry (Excel names it, not the code).
CATALOGUE_DECORATOR = "excel_function"

_DOTTED = re.compile(r"^[A-Za-z_][\w.:]*$")
_FENCE = re.compile(r"```(?:python|py|pycon)\n(.*?)```", re.S)
_DOCTEST = re.compile(r"^\s*(?:>>>|\.\.\.) (.*)$", re.M)
_WORD = re.compile(r"[A-Za-z_]\w*")


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes (module, class, function): prose, not references."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def python_names(source: str) -> Counter[str]:
    """Every name a Python source uses: names, attributes, imported names and aliases, keyword
    arguments, and the parts of a string that is a dotted path (docstrings excluded)."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found[node.id] += 1
        elif isinstance(node, ast.Attribute):
            found[node.attr] += 1
        elif isinstance(node, ast.alias):
            found.update(node.name.split("."))
        elif isinstance(node, ast.keyword) and node.arg:
            found[node.arg] += 1
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            if _DOTTED.match(node.value):
                found.update(re.split(r"[.:]", node.value))
    return found


def text_names(text: str, markdown: bool) -> Counter[str]:
    """The names in the code of a document: its Python blocks and doctest lines (markdown), or all
    of it (a TOML or JavaScript file)."""
    if not markdown:
        return Counter(_WORD.findall(text))
    code = [*_FENCE.findall(text), *_DOCTEST.findall(text)]
    return Counter(w for block in code for w in _WORD.findall(block))


@cache
def references() -> Counter[str]:
    found: Counter[str] = Counter()
    for path in _tracked("*.py"):
        if path != Path(__file__).resolve():  # this file's allow-list names them: not a use
            found += python_names(path.read_text(encoding="utf-8"))
    for path in _tracked("*.md"):
        found += text_names(path.read_text(encoding="utf-8"), markdown=True)
    for path in [*_tracked("pyproject.toml", "*/pyproject.toml"), *_tracked("*.js")]:
        if "package-lock" not in path.name:
            found += text_names(path.read_text(encoding="utf-8"), markdown=False)
    return found


def _catalogue_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """``NAME`` of ``@excel_function("NAME", ...)`` on a function, else None."""
    for d in node.decorator_list:
        if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == CATALOGUE_DECORATOR:
            if d.args and isinstance(d.args[0], ast.Constant) and isinstance(d.args[0].value, str):
                return d.args[0].value
    return None


def public_functions(source: str) -> list[tuple[int, str, str | None]]:
    """(line, name, catalogue name or None) of the public functions and methods a module defines
    (not ``_private``, not ``__dunder__``; a helper nested in a function is the function's own)."""
    tree = ast.parse(source)
    out = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                out.append((node.lineno, node.name, _catalogue_name(node)))
            elif isinstance(node, ast.ClassDef):
                visit(node.body)
            elif isinstance(node, (ast.If, ast.Try)):  # definitions under a guard (optional imports)
                visit([*node.body, *node.orelse, *getattr(node, "handlers", [])])
            elif isinstance(node, ast.ExceptHandler):
                visit(node.body)

    visit(tree.body)
    return out


def _docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))


@cache
def unreferenced() -> list[tuple[str, str, str | None]]:
    """(where, name, catalogue name or None) of every public function no code names."""
    refs = references()
    out = []
    for package in SCANNED:
        for path in _tracked(f"{package}/*.py", f"{package}/**/*.py"):
            for line, name, excel in public_functions(path.read_text(encoding="utf-8")):
                if refs[name] == 0:
                    out.append((f"{path.relative_to(ROOT)}:{line}", name, excel))
    return sorted(set(out), key=str)


def test_every_public_function_is_used_or_an_entry_point() -> None:
    docs = _docs()
    dead = [
        f"{where} {name}"
        for where, name, excel in unreferenced()
        if name not in CALLED_BY_NAME and not (excel and re.search(rf"\bCQ_{re.escape(excel)}\b", docs))
    ]
    assert not dead, "remove these, use them, or list them with their caller in CALLED_BY_NAME:\n" + "\n".join(dead)


def test_every_excuse_is_still_needed() -> None:
    names = {name for _, name, _ in unreferenced()}
    stale = sorted(set(CALLED_BY_NAME) - names)
    assert not stale, f"defined nowhere or referenced now, remove from CALLED_BY_NAME: {stale}"


def test_the_finder_finds_a_dead_function_and_not_a_used_one() -> None:
    """The check can fail: a function named nowhere is found; one called, imported, named in a
    dotted string or in a doctest is not; a name in a docstring alone does not save it."""
    module = (
        'def dead():\n    """Only prose names live_in_prose."""\n'
        "def called(): pass\ndef imported(): pass\ndef by_string(): pass\ndef live_in_prose(): pass\n"
        "class K:\n    def method(self): pass\n    def __repr__(self): return ''\n    def _private(self): pass\n"
    )
    user = "from m import imported\ncalled()\ngetattr(m, 'pkg.m:by_string')\nK().method()\n"
    refs = python_names(user) + text_names("```python\n>>> x = 1\n```\n", markdown=True)
    defined = [name for _, name, _ in public_functions(module)]
    assert defined == ["dead", "called", "imported", "by_string", "live_in_prose", "method"]
    assert [n for n in defined if refs[n] == 0] == ["dead", "live_in_prose"]
    assert text_names("see `dead` below\n>>> dead()\n", markdown=True)["dead"] == 1  # a doctest line counts
    catalogue = '@excel_function("SOME_NAME", category="x")\ndef some_name(x): pass\n'
    assert public_functions(catalogue) == [(2, "some_name", "SOME_NAME")]
