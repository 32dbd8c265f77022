"""The committed locks match pyproject.toml: every requirement of the project (and of the extras
each lock covers) is pinned there, exactly once per platform marker, inside its range, with hashes.

A host test of the install path, not of numbers. The README's commands install only through
these locks, so a dependency added to pyproject.toml without re-locking would install nowhere.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"main.lock": ("fast",), "test.lock": ("fast", "test", "server", "dev")}
HOW = "regenerate the locks as requirements/README.md says (uv pip compile ... -o requirements/<name>.lock)"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.M)


def _pins(lock: Path) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for name, version in _PIN.findall(lock.read_text(encoding="utf-8")):
        pins.setdefault(canonicalize_name(name), set()).add(version)
    return pins


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs + [
        Requirement(line)
        for line in (ROOT / "requirements/build.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_pins_every_requirement_in_range(lock_name: str) -> None:
    lock = ROOT / "requirements" / lock_name
    assert lock.is_file(), f"{lock} is missing: {HOW}"
    pins = _pins(lock)
    problems = []
    for req in _requirements(LOCKS[lock_name]):
        versions = pins.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{req.name} is not in {lock_name}")
        elif not all(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{req.name}: {lock_name} pins {sorted(versions)}, outside {req.specifier}")
    assert not problems, "; ".join(problems) + f": {HOW}"


@pytest.mark.parametrize("lock_name", sorted(LOCKS))
def test_lock_has_one_version_and_hashes(lock_name: str) -> None:
    text = (ROOT / "requirements" / lock_name).read_text(encoding="utf-8")
    multi = {n: v for n, v in _pins(ROOT / "requirements" / lock_name).items() if len(v) > 1}
    # One version per package on every platform and Python: the same numbers everywhere.
    assert not multi, f"{lock_name} pins several versions of {multi}: {HOW} (keep --fork-strategy fewest)"
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in e for e in entries if "==" in e), f"{lock_name} has entries without hashes: {HOW}"
