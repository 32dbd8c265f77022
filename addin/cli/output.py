"""What every ``clearquote`` command shares on output: the exit codes and the table printer."""

from __future__ import annotations

from addin.commands import Exit as Exit
from addin.tables import cell_text as cell_text
from addin.tables import check_output as check_output
from addin.tables import records_text as records_text
from addin.tables import table_text as table_text
from addin.tables import write_atomic as write_atomic
