"""numpydoc's section rules, parsed here because numpydoc (the package) is not in the lock.

A docstring (as :func:`inspect.getdoc` cleans it) is split into sections the way numpydoc's
``NumpyDocString`` does: a section starts at a line followed by an underline of at least as many
``-`` as the title has characters. In ``Parameters``, ``Attributes``, ``Returns``..., an entry is a
line at the section's own indentation, ``name : type`` or ``name``, several names separated by
``, `` (``x1, x2 : float``); its description is the indented lines under it. Every entry of a
``Parameters``, ``Attributes``, ``Returns`` or ``Yields`` section must have one (:func:`undescribed`).

:func:`public_callables` walks every module of a package and yields what must carry such a
docstring: each public function defined there, each public method of a public class, and each
public class whose constructor takes parameters.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

#: numpydoc's section titles (numpydoc.docscrape.NumpyDocString.sections); any other underlined
#: title is an error there too.
SECTIONS = frozenset(
    {
        "Parameters",
        "Returns",
        "Yields",
        "Receives",
        "Raises",
        "Warns",
        "Other Parameters",
        "Attributes",
        "Methods",
        "See Also",
        "Notes",
        "Warnings",
        "References",
        "Examples",
    }
)
#: Sections whose body is a list of ``name : type`` entries.
NAMED = frozenset({"Parameters", "Other Parameters", "Attributes", "Receives"})
#: Sections whose every entry must carry a description (the indented lines under it): a type alone
#: (``data : Any``) tells the caller nothing about units, shape or meaning.
DESCRIBED = NAMED | frozenset({"Returns", "Yields"})


class DocstringError(ValueError):
    """A docstring numpydoc would reject (an unknown or repeated section)."""


def sections(doc: str) -> dict[str, list[str]]:
    """The docstring's sections: title -> body lines (the summary is under ``""``).

    Raises :class:`DocstringError` on an unknown or repeated section title, as numpydoc does.
    """
    lines = doc.expandtabs().splitlines()
    out: dict[str, list[str]] = {"": []}
    current = ""
    i = 0
    while i < len(lines):
        title = lines[i].strip()
        under = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if title and under and set(under) == {"-"} and len(under) >= len(title):
            if title not in SECTIONS:
                raise DocstringError(f"unknown section {title!r}")
            if title in out:
                raise DocstringError(f"section {title!r} appears twice")
            out[title] = []
            current = title
            i += 2
            continue
        out[current].append(lines[i])
        i += 1
    return out


def entry_names(body: list[str]) -> list[str]:
    """The names a ``Parameters``-style section body lists, in order (``*args`` keeps its star)."""
    text = [line for line in body if line.strip()]
    if not text:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in text)
    names: list[str] = []
    for line in text:
        if len(line) - len(line.lstrip()) != indent:
            continue  # a description line
        head = line.strip().split(" : ", 1)[0].rstrip(" :")
        names.extend(n.strip() for n in head.split(","))
    return [n for n in names if n]


def entries(body: list[str]) -> list[tuple[str, list[str]]]:
    """Each entry of a section body with its description: ``(head line, description lines)``.

    An entry is a line at the body's least indentation; its description is the non-blank lines
    indented deeper beneath it, up to the next entry. Blank lines are dropped.
    """
    text = [line for line in body if line.strip()]
    if not text:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in text)
    out: list[tuple[str, list[str]]] = []
    for line in text:
        if len(line) - len(line.lstrip()) == indent:
            out.append((line.strip(), []))
        else:
            out[-1][1].append(line.strip())
    return out


def undescribed(parsed: dict[str, list[str]]) -> list[str]:
    """``"Section: head"`` for each entry of a :data:`DESCRIBED` section with no description line."""
    return [
        f"{title}: {head}" for title in sorted(DESCRIBED & parsed.keys()) for head, desc in entries(parsed[title]) if not desc
    ]


@dataclass(frozen=True)
class Callable_:
    """One public callable to check: its dotted name, the object, and what kind it is."""

    name: str
    obj: Any
    kind: str  # "function", "method" or "class"


def modules(package: ModuleType, skip: frozenset[str] = frozenset()) -> Iterator[ModuleType]:
    """Every public module of ``package`` (a ``_private`` module or a skipped prefix is left out)."""
    yield package
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or any(info.name == s or info.name.startswith(s + ".") for s in skip):
            continue
        yield importlib.import_module(info.name)


def _function(obj: Any) -> Callable[..., Any] | None:
    """The Python function behind a module attribute (numba's dispatcher keeps it as ``py_func``)."""
    if inspect.isfunction(obj):
        return obj
    inner = getattr(obj, "py_func", None) or getattr(obj, "__wrapped__", None)
    return inner if inspect.isfunction(inner) else None


def _skips_constructor(cls: type) -> bool:
    """Classes built by their machinery, not by a documented constructor: enums, protocols, typed dicts."""
    return (
        issubclass(cls, enum.Enum)
        or bool(getattr(cls, "_is_protocol", False))
        or typing.is_typeddict(cls)
        or (issubclass(cls, BaseException) and "__init__" not in vars(cls))
    )


def public_callables(package: ModuleType, skip: frozenset[str] = frozenset()) -> Iterator[Callable_]:
    """Each public function, public class and public method defined in the modules of ``package``."""
    for module in modules(package, skip):
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            qual = f"{module.__name__}.{name}"
            if inspect.isclass(obj):
                if not _skips_constructor(obj) and constructor_parameters(obj):
                    yield Callable_(qual, obj, "class")
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, staticmethod | classmethod):
                        member = member.__func__
                    fn = _function(member)
                    if fn is not None:
                        yield Callable_(f"{qual}.{attr}", fn, "method")
            elif (fn := _function(obj)) is not None:
                yield Callable_(qual, fn, "function")


def constructor_parameters(cls: type) -> list[str]:
    """The names a class's constructor takes (a dataclass's ``init`` fields, else ``__init__``'s).

    A ``_private`` dataclass field (a cache, a lock) is not part of the documented constructor.
    """
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]
    init = cls.__dict__.get("__init__")
    if init is None:
        for base in cls.__mro__[1:]:
            if base is object:
                return []
            if "__init__" in vars(base) or dataclasses.is_dataclass(base):
                return constructor_parameters(base)
        return []
    return signature_names(init)


def signature_names(fn: Callable[..., Any]) -> list[str]:
    """The parameters a docstring must name: ``self``/``cls`` left out, ``*args``/``**kwargs`` starred."""
    names = []
    for p in inspect.signature(fn).parameters.values():
        if p.name in ("self", "cls"):
            continue
        star = "*" if p.kind is inspect.Parameter.VAR_POSITIONAL else "**" if p.kind is inspect.Parameter.VAR_KEYWORD else ""
        names.append(star + p.name)
    return names


def _returns_something(fn: Callable[..., Any]) -> str | None:
    """``"Returns"``, ``"Yields"`` or ``None``, from the return annotation (pricing is typed: mypy strict)."""
    ann = inspect.signature(fn, eval_str=False).return_annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", repr(ann))
    if ann is inspect.Signature.empty or text in ("None", "NoReturn", "Never"):
        return None
    # A @contextmanager's generator sits under its wrapper: it documents what it yields to ``with``.
    generator = inspect.isgeneratorfunction(inspect.unwrap(fn))
    if generator or text.startswith(("Iterator", "Generator", "collections.abc.Iterator")):
        return "Yields" if generator else "Returns"
    return "Returns"


def problems(item: Callable_) -> list[str]:
    """What the callable's docstring lacks or gets wrong under numpydoc's rules (empty: it is fine)."""
    doc = inspect.getdoc(item.obj) or ""
    if not doc.strip():
        return ["no docstring"]
    try:
        parsed = sections(doc)
    except DocstringError as e:
        return [str(e)]
    found: list[str] = [f"no description under {entry!r}" for entry in undescribed(parsed)]
    if item.kind == "class":
        wanted = constructor_parameters(item.obj)
        documented = set(entry_names(parsed.get("Parameters", []))) | set(entry_names(parsed.get("Attributes", [])))
        if missing := [n for n in wanted if n not in documented]:
            found.append(f"Parameters/Attributes do not name {missing}")
        if extra := [n for n in entry_names(parsed.get("Parameters", [])) if n not in wanted]:
            found.append(f"Parameters names {extra}, which the constructor does not take")
        return found
    wanted = signature_names(item.obj)
    if wanted or "Parameters" in parsed:
        named = entry_names(parsed.get("Parameters", []))
        if "Parameters" not in parsed:
            found.append("no Parameters section")
        elif named != wanted:
            found.append(f"Parameters names {named}, the signature takes {wanted}")
    need = _returns_something(item.obj)
    if need and need not in parsed:
        found.append(f"no {need} section")
    return found
