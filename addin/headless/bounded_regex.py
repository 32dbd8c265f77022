"""A regular-expression search with a wall-time limit per call (XMATCH match_mode 3).

Why: Python's ``re`` backtracks, and a pattern such as ``(a+)+$`` over a 31-character cell
takes about a minute (2**31 paths); nothing inside ``re`` can be interrupted, so the search
runs in a forked child that the parent kills at the limit. The runaway call is then #VALUE!
with the reason in its cell, and the rest of the book completes.

Guarantees (tests/workbook/test_xmatch_bounds.py):

* a search returns the first matching position, -1 for none, or an :class:`ExcelError`; it
  never raises and never takes more than ``limit_s`` (default :data:`REGEX_LIMIT_S`, 2 s) plus
  the fork's cost;
* the child cannot touch the parent's state: it writes one line to a pipe and leaves with
  ``os._exit``; a child that dies without a word is #VALUE! naming that.

Cost: one fork per regex-mode call (a few milliseconds on a book's child; measured in
docs/headless-semantics.md). Without ``os.fork`` (Windows) the search runs in process,
unbounded.
"""

from __future__ import annotations

import os
import re
import select
import signal
import time
import warnings
from collections.abc import Sequence

from addin.headless.values import ExcelError

#: Wall seconds one regex-mode call may search before it is #VALUE!.
REGEX_LIMIT_S = 2.0


def _scan(pattern: re.Pattern[str], texts: Sequence[tuple[int, str]]) -> int:
    return next((i for i, t in texts if pattern.search(t) is not None), -1)


def first_search(pattern: re.Pattern[str], texts: Sequence[tuple[int, str]], limit_s: float = REGEX_LIMIT_S) -> int | ExcelError:
    """The position of the first ``(position, text)`` whose text ``pattern`` searches to a match,
    -1 for none; #VALUE! when the search passes ``limit_s`` wall seconds or its child dies."""
    if not texts:
        return -1
    if not hasattr(os, "fork"):
        return _scan(pattern, texts)
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded, fork() may deadlock": the child only runs re
        pid = os.fork()
    if pid == 0:  # the child: search, say the answer, leave without running the parent's cleanup
        code = 0
        try:
            os.close(r)
            os.write(w, f"{_scan(pattern, texts)}\n".encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        data, deadline = b"", time.monotonic() + limit_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                return ExcelError(
                    "#VALUE!", f"XMATCH: the regular expression {pattern.pattern[:50]!r} ran past its {limit_s:g} s limit"
                )
            chunk = os.read(r, 64)
            if not chunk:
                break
            data += chunk
        line = data.decode().strip()
        if not line.lstrip("-").isdigit():
            return ExcelError("#VALUE!", f"XMATCH: the search of {pattern.pattern[:50]!r} failed in its child")
        return int(line)
    finally:
        os.close(r)
        try:
            os.kill(pid, signal.SIGKILL)  # not yet reaped, so the pid is still this child
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


__all__ = ["REGEX_LIMIT_S", "first_search"]
