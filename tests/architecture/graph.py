"""The import graph of the product, computed from the source with ``ast`` (no module is imported).

Every ``import`` counts, at the top of a module or inside a function (a lazy import is still a
dependency), and so does ``importlib.import_module(NAME)``, ``__import__(NAME)`` or xlwings'
``import_udfs(NAME, ...)`` when ``NAME`` is a string literal or a module-level constant bound to
one (``UDF_MODULE = "addin.excel.classic"``). ``from package import name`` is an edge to ``package.name`` when that is a module,
else to ``package``. Used by ``test_import_direction.py`` (the plan of the parts, no cycles) and
to write ``docs/layout.md`` and the README's "Layout" block::

    python -m tests.architecture.graph > docs/layout.md
    python -m tests.architecture.graph --readme
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The product's top-level packages (what ships, plus the workbook builders and the dev benches).
PACKAGES = ("pricing", "udfs", "addin", "workbooks", "bench")

#: The parts of the layout, most specific first: a module belongs to the first part it starts with.
PARTS: tuple[tuple[str, str], ...] = (
    ("pricing.desk", "the desk service: market sources, book, configuration, typed RFQs, Desk.quote"),
    ("pricing.accel", "optional numba kernels (a leaf: no other part of the engine)"),
    ("pricing", "the engine: vectorised numpy/scipy pricing, margin, XVA"),
    ("udfs", "the Excel function catalogue"),
    ("addin.excel", "Excel hosts: COM add-in, xlwings Server, the catalogue's headless binding"),
    ("addin.headless", "the workbook engine (no catalogue, no pricing)"),
    ("addin.cli", "the clearquote command line (its own commands; the other hosts' come through entry points)"),
    ("addin.fix", "FIX 4.4 gateway and Block RFQ over the desk service"),
    ("addin.clearquote", "the desktop add-in's entry, named by the .xlam's file (its ribbon calls addin.clearquote.main)"),
    (
        "addin",
        "shared host plumbing: table files, atomic writes, xlsx style, the usage error, the command-plugin protocol and exit codes",
    ),
    ("workbooks", "builders of the desk workbooks"),
    ("bench", "developer benchmarks (not shipped)"),
)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@cache
def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for p in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in p.parts:
                out[module_name(p)] = p
    return out


def _target(name: str) -> str | None:
    """The product module an imported name resolves to (None: outside the product)."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, absolute names (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    constants = _string_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            for a in node.names:
                full = f"{base}.{a.name}"
                out.append((node.lineno, full if full in modules() else base))
        elif (name := _dynamic_import(node, constants)) is not None:
            out.append((node.lineno, name))
    return out


#: Calls whose first argument is a module imported by name: ``importlib.import_module``,
#: ``__import__`` and xlwings' ``import_udfs`` (it imports the module to declare its functions).
DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__", "import_udfs"})


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (or ``NAME: str = "text"``) bindings, for names bound exactly
    once at the top of the module (a name rebound anywhere at the top is not a constant)."""
    found: dict[str, str] = {}
    rebound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if not isinstance(t, ast.Name):
                continue
            if t.id in found or t.id in rebound or not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                rebound.add(t.id)
                found.pop(t.id, None)
            else:
                found[t.id] = value.value
    return found


def _dynamic_import(node: ast.AST, constants: dict[str, str] | None = None) -> str | None:
    """The module of ``import_module(X)``, ``__import__(X)`` or ``import_udfs(X, ...)`` (bare or as
    an attribute: ``importlib.import_module``, ``xw.import_udfs``) where ``X`` is a string literal
    or a module-level string constant (``constants``), else None. A name computed at run time
    cannot be known from the source. These are imports as much as an ``import`` statement is: a
    cycle through one is a cycle."""
    if not (isinstance(node, ast.Call) and node.args):
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called not in DYNAMIC_IMPORTERS:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        name = arg.value
    elif isinstance(arg, ast.Name) and constants and arg.id in constants:
        name = constants[arg.id]
    else:
        return None
    return None if name.startswith(".") else name


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the product modules it imports (itself excluded)."""
    out = {}
    for name, path in modules().items():
        targets = {_target(n) for _, n in imports_of(path)}
        out[name] = frozenset(t for t in targets if t is not None and t != name)
    return out


def cycles(edges: dict[str, frozenset[str]] | None = None) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    g = edges if edges is not None else graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(found)


def part_of(module: str) -> str:
    for part, _ in PARTS:
        if module == part or module.startswith(part + "."):
            return part
    raise KeyError(module)


def part_edges() -> dict[str, set[str]]:
    """Part -> the other parts its modules import."""
    out: dict[str, set[str]] = {part: set() for part, _ in PARTS}
    for mod, targets in graph().items():
        me = part_of(mod)
        out[me] |= {part_of(t) for t in targets} - {me}
    return out


def _mermaid_id(part: str) -> str:
    return part.replace(".", "_")


def layout_markdown() -> str:
    """``docs/layout.md``: the parts, what each imports, as a table and a Mermaid diagram."""
    edges = part_edges()
    lines = [
        "# Layout: the parts and their imports",
        "",
        "Generated from the source by `python -m tests.architecture.graph > docs/layout.md`;",
        "`tests/architecture/test_import_direction.py` fails when this file is not current, when a part",
        "imports a part it may not, or when any modules import each other in a cycle.",
        "",
        "```mermaid",
        "graph TD",
    ]
    for part, _ in PARTS:
        for target in sorted(edges[part]):
            lines.append(f"    {_mermaid_id(part)}[{part}] --> {_mermaid_id(target)}[{target}]")
    lines += ["```", "", "| part | what it is | imports |", "|---|---|---|"]
    for part, what in PARTS:
        lines.append(f"| `{part}` | {what} | {', '.join(f'`{t}`' for t in sorted(edges[part])) or '—'} |")
    return "\n".join(lines) + "\n"


README_START = "<!-- layout:start (generated by python -m tests.architecture.graph --readme) -->"
README_END = "<!-- layout:end -->"


def readme_arrows() -> str:
    """The README's "Layout" block: each part and the parts it imports, one line each."""
    edges = part_edges()
    width = max(len(p) for p, _ in PARTS)
    rows = [f"{part:<{width}} -> {', '.join(sorted(edges[part])) or '(nothing)'}" for part, _ in PARTS]
    return "\n".join([README_START, "```text", *rows, "```", README_END])


def update_readme(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(head + readme_arrows() + tail, encoding="utf-8")


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


if __name__ == "__main__":
    if sys.argv[1:] == ["--cycles"]:
        _print(" <-> ".join(c) for c in cycles())
    elif sys.argv[1:] == ["--readme"]:
        update_readme(ROOT / "README.md")
    else:
        sys.stdout.write(layout_markdown())
