"""How a host adds its commands to ``clearquote``: the standard entry-point plugin mechanism.

A host package names a register function under the entry-point group :data:`GROUP` in
``pyproject.toml`` (``[project.entry-points."clearquote.commands"]``). The command line finds the
installed ones (``importlib.metadata.entry_points(group=GROUP)``) and calls each with its
sub-command parsers; the host adds its commands there, each with ``set_defaults(handler=...)``,
the function that runs it (parsed arguments in, exit code out). What the command line itself
owns (its Dask cluster, the kernels' warm-up and compile notice) is handed in as
:class:`CliServices`. So the command line imports no other host, and a host's commands live
beside the code they run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

#: The entry-point group every host's register function is listed under.
GROUP = "clearquote.commands"


class Exit(IntEnum):
    """Exit codes, the same for every command of every host (docs/cli.md, "Exit codes")."""

    OK = 0
    FAILED = 1  # validate found mismatches, or some quote rows failed
    BAD_INPUT = 2  # usage or bad input: nothing was written
    INPUT_ERRORS = 3  # recalc wrote the book, but formulas read input cells holding errors
    INTERRUPTED = 130


@dataclass(frozen=True)
class CliServices:
    """What the command line lends a host's commands.

    Attributes
    ----------
    pricing_ready : callable
        The kernels' notice and compile announcements; a command that may never price (a
        workbook without catalogue calls) calls it when the engine is first needed, and sets
        ``lazy_pricing=True`` on its parser so the command line does not call it up front.
    cluster_args : callable
        Adds ``--scheduler``/``--workers`` to a command's parser.
    cluster : callable
        ``cluster(scheduler, workers)``: a context manager yielding the Dask client, or None.
    run_tasks : callable
        ``run_tasks(client, fn, items, *shared, label=..., passthrough=...)``: ``[fn(item, *shared)]``,
        on the cluster when a client is given; exceptions of ``passthrough`` types are raised as
        they are.
    warm : callable
        Compiles (or loads) every numba kernel; returns their names.
    """

    pricing_ready: Callable[[], None]
    cluster_args: Callable[[argparse.ArgumentParser], None]
    cluster: Callable[[str | None, int | None], AbstractContextManager[Any]]
    run_tasks: Callable[..., list[Any]]
    warm: Callable[[], Sequence[str]]


#: What a command's handler is: the parsed arguments in, the exit code out (0 done, 2 bad input).
Handler = Callable[[argparse.Namespace], int]


class Register(Protocol):
    """A host's entry point: add its sub-commands (each with ``handler=``) to ``subparsers``."""

    def __call__(self, subparsers: SubParsers, cli: CliServices) -> None: ...
