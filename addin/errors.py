"""The usage error every host's own error derives from: bad input to a command, never a bug.

Each host names its own (``addin.excel.serve.ServeError``, ...); the command line answers any
of them with exit 2 and the message, never a traceback.
"""

from __future__ import annotations


class UsageError(ValueError):
    """A host was given an option, a file or a setting it cannot use; the message says which and why."""
