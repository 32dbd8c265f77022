"""Session functions: the version and the object store's contents (repository inspection)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from udfs.catalogue import excel_function
from udfs.excel import titled
from udfs.store import STORE

INFO = "clearquote info"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


@excel_function(
    "VERSION",
    category=INFO,
    args={},
    returns="two columns: component and version (clearquote, numpy, scipy, xlwings, Python)",
    example="=CQ_VERSION()",
)
def version_() -> list[list[Any]]:
    """Versions of clearquote and the libraries its numbers depend on (for audit trails)."""
    import sys

    return [
        ["clearquote", _version("clearquote")],
        ["numpy", np.__version__],
        ["scipy", _version("scipy")],
        ["xlwings", _version("xlwings")],
        ["python", sys.version.split()[0]],
    ]


@excel_function(
    "HANDLES",
    category=INFO,
    args={"headers": "TRUE (default) adds a header row"},
    returns="one row per object held for the sheet's handles (markets): handle, kind, created (UTC), times used",
    example="=CQ_HANDLES()",
)
def handles(headers: Any = True) -> list[list[Any]]:
    """What the session's object store holds (newest first)."""
    return titled(
        headers,
        ("handle", "kind", "created_utc", "hits"),
        [list(r) for r in STORE.listing()] or [["(no objects)", "", "", ""]],
        default=True,
    )
