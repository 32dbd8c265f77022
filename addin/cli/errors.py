"""The command line's own errors: a command given an option, a file or a value it cannot use,
or a cluster run it cannot complete. ``main`` answers both with exit 2 and the message, never a
traceback. Never the headless engine's ``BookError``, which is kept for workbooks the engine
refuses (the Excel host's workbook commands, ``addin.excel.books``, answer those).
"""

from __future__ import annotations

from addin.errors import UsageError


class CliUsageError(UsageError):
    """A command's option, file or value it cannot use; the message names it and says what is allowed."""


class ClusterError(CliUsageError):
    """A ``--scheduler``/``--workers`` run that cannot start or finish (no scheduler, dask missing,
    a task lost more often than the scheduler allows); the message names the task."""


class PluginError(CliUsageError):
    """A host's command plugin (entry point of ``addin.commands.GROUP``) that cannot be loaded or
    cannot register its commands; the message names the entry point and the reason."""
