"""The FIX host's usage error: what ``fix-acceptor``, ``fix-log``, ``fix-admin`` and ``block-rfq``
answer for an option, a settings file, a journal or a Block RFQ notification they cannot use. A
Block RFQ the desk refuses is not this error: it is ``BlockRfqRefused`` (its typed reason, exit 1).

Never the headless engine's ``BookError``: nothing here is a workbook. The command line answers
it with exit 2 and the message (``addin.cli``); over FIX a request the desk refuses is a reject
with the desk's typed reason (``addin.fix.gateway``), not this error.
"""

from __future__ import annotations

from addin.errors import UsageError


class FixUsageError(UsageError):
    """A FIX or Block RFQ input the host cannot use; the message names the field or file and why."""
