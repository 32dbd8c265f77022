"""Each host's commands come to ``clearquote`` through the installed entry points
(``addin.commands.GROUP``), so the command line imports no other host
(``tests/architecture/test_import_direction.py`` holds that); here: every command the README and
docs/cli.md name is registered and listed by ``clearquote --help``, and a plugin that cannot load
or register is exit 2 naming it, never a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from addin.cli import _parser, main
from addin.commands import GROUP

ROOT = Path(__file__).resolve().parents[2]
#: Commands the docs name in a table cell after a first one (`clearquote structures`, `xva-example`, ...).
ALSO = {"xva-example", "margin-example"}


def documented() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8") + (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    return set(re.findall(r"`clearquote ([a-z][a-z0-9-]*)", text)) | ALSO


def registered() -> set[str]:
    sub = next(a for a in _parser()._actions if a.dest == "command")
    return set(sub.choices or ())


def test_every_documented_command_is_registered_and_listed_by_help() -> None:
    names = documented()
    assert {"recalc", "validate", "serve", "fix-acceptor", "block-rfq", "quote"} <= names  # the scrape found the table
    assert names - registered() == set()
    out = subprocess.run(
        [sys.executable, "-m", "addin.cli", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    listed = set(re.search(r"\{([a-z0-9,-]+)\}", out).group(1).split(","))  # type: ignore[union-attr]
    assert names - listed == set()


def test_the_hosts_commands_come_from_their_entry_points() -> None:
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    assert eps == {"excel": "addin.excel.commands:register", "fix": "addin.fix.commands:register"}
    without = _parser_with([])
    assert {"recalc", "serve", "fix-acceptor", "block-rfq"} & without == set()  # none of them is the CLI's own
    assert {"quote", "backtest", "warmup"} <= without


def _parser_with(eps: list[EntryPoint]) -> set[str]:
    import importlib.metadata as md

    real = md.entry_points
    md.entry_points = lambda **kw: eps  # type: ignore[assignment,misc]
    try:
        return registered()
    finally:
        md.entry_points = real


def _raises(sub: object, cli: object) -> None:
    raise RuntimeError("this plugin's register is broken")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("addin.no_such_host.commands:register", "ModuleNotFoundError"),
        ("addin.fix.commands:no_such_function", "AttributeError"),
        (f"{__name__}:_raises", "this plugin's register is broken"),
    ],
)
def test_a_missing_or_broken_plugin_is_exit_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, why: str
) -> None:
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda **kw: [EntryPoint("broken", value, GROUP)])
    assert main(["quote", "--help"]) == 2
    err = capsys.readouterr().err
    assert "command plugin 'broken'" in err and value in err and why in err, err
    assert "Traceback" not in err
