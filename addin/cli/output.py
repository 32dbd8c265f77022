"""What every ``clearquote`` command shares on output: the exit codes and the table printer."""

from __future__ import annotations

from enum import IntEnum

from addin.tables import cell_text as cell_text
from addin.tables import records_text as records_text
from addin.tables import table_text as table_text
from addin.tables import write_atomic as write_atomic


class Exit(IntEnum):
    """Exit codes, the same for every command (docs/cli.md, "Exit codes")."""

    OK = 0
    FAILED = 1  # validate found mismatches, or some quote rows failed
    BAD_INPUT = 2  # usage or bad input: nothing was written
    INPUT_ERRORS = 3  # recalc wrote the book, but formulas read input cells holding errors
    INTERRUPTED = 130
