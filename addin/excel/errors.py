"""The Excel host's usage error: what its commands (``recalc``, ``validate``, ``demo``, ``serve``,
``token``) answer for an option or a file they cannot use. The command line answers it with exit 2
and the message. A workbook the headless engine refuses stays its ``BookError`` (passed on as it is).
"""

from __future__ import annotations

from addin.errors import UsageError


class ExcelUsageError(UsageError):
    """An option or file an Excel-host command cannot use; the message names it and why."""
