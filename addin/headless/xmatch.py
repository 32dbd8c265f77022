"""XMATCH as Excel searches: every match mode and search mode, over values of mixed types.

Microsoft, "XMATCH function": ``XMATCH(lookup_value, lookup_array, [match_mode],
[search_mode])``; match_mode 0 exact (the default), -1 exact or next smaller item, 1 exact or
next larger item, 2 a wildcard match (``*``, ``?``, ``~``); search_mode 1 first to last (the
default), -1 last to first, 2 a binary search over an array sorted ascending, -2 descending
("If not sorted, invalid results will be returned"). Where Microsoft is silent the rules below
are those Excel's cached values show (formulas' test book, sheets LOOKUP rows 162-197 and EXTRA
rows 72-94: 36 XMATCH and 21 XLOOKUP cells IronCalc 0.9.1 got wrong):

* **One order for all values**, Excel's sort order (Microsoft, "Sort data in a range or
  table": numbers, then text, then logical values FALSE before TRUE, then errors, blank cells
  last): a number is below every text, a text below every logical. The next smaller or larger
  item is searched in that order over every value, not only those of the lookup value's type:
  ``XMATCH(4,{TRUE,4.1,FALSE,1.1},1,2)`` finds TRUE at 1 (a binary search meets it first).
* **A blank lookup value** sorts after everything and equals only a blank cell: exact over
  values is #N/A, next smaller is the largest item (``XMATCH(blank,{"a",2.1,"c bau c",4.1},-1)``
  is 3), next larger #N/A. IronCalc read it as 0 or FALSE. (That it finds a blank cell of a
  range is not in the cached values: it follows the order, blanks equal to each other.)
* **Text** compares case-insensitively and with Unicode case folding in match modes 0, -1
  and 1 (``"ß"`` equals ``"ss"``: ``XMATCH("ß",{1,"ss",2.1},0)`` is 2 in Excel), but not in the
  wildcard mode 2, where ``*``, ``?`` and ``~`` are patterns and ``"ß"`` does not match ``"ss"``.
  Match mode 3 (a regular expression, Excel 365's newest mode) searches a text item for the
  pattern, case-sensitively (Python's ``re``, not Excel's PCRE2: constructs beyond the common
  subset are not guaranteed); an invalid pattern is #VALUE!.
* **The linear search** (search modes 1, -1) returns the first (or last) item equal to the
  lookup value, else the first (or last) of the nearest items on the asked side; blank cells
  and errors in the array are never found. **The binary search** (2, -2) is Excel's bisection
  (midpoint ``(lo + hi) // 2`` of 1-based bounds, an equal midpoint returned at once), so over
  an unsorted array it finds what Excel finds, e.g. ``XMATCH(4.1,{"","a",1.1,4.1},0,2)`` is
  #N/A; blank cells sort last and errors after logicals in it.
* **Arguments**: a match mode outside -1..3 or a search mode outside ±1, ±2 is #VALUE!
  (Excel: 4, -2 and search mode 0 are #VALUE!), so are the wildcard and regular-expression
  modes with a binary search ("XLOOKUP function": wildcards are not available with a binary
  search); a lookup array of several rows and columns is #VALUE!; an error as the lookup value,
  a mode or the array is that error. Modes are truncated numbers; a lookup value, match mode
  or search mode given as an array is searched element by element, broadcast as Excel
  broadcasts (``XMATCH("ß",{"ß","ss"},{0,1},1)`` is ``{1,1}``).
"""

from __future__ import annotations

import re
from typing import Any

from addin.headless.a1 import column_number
from addin.headless.bounded_regex import first_search
from addin.headless.formula import split_ref
from addin.headless.host import elementwise, may_hold_array
from addin.headless.numeric_text import whole_argument
from addin.headless.values import ExcelError
from addin.headless.wildcards import Wildcard, compile_wildcard

_NA = "#N/A"
#: Excel's sort order of the kinds of value (Microsoft, "Sort data in a range or table").
_NUMBER, _TEXT, _LOGICAL, _ERROR, _BLANK = range(5)
_MATCH_MODES = frozenset((-1, 0, 1, 2, 3))
_SEARCH_MODES = frozenset((-1, 1, -2, 2))


def _kind(v: Any) -> int:
    if v is None:
        return _BLANK
    if isinstance(v, bool):
        return _LOGICAL
    if isinstance(v, (int, float)):
        return _NUMBER
    if isinstance(v, str):
        return _TEXT
    return _ERROR


def order(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in Excel's sort order; text
    case-folded (``"ß"`` is ``"ss"``), errors all equal, blanks all equal and last."""
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return -1 if ka < kb else 1
    if ka in (_ERROR, _BLANK):
        return 0
    if ka == _TEXT:
        a, b = a.casefold(), b.casefold()
    return -1 if a < b else 1 if a > b else 0


def _wildcards(x: str) -> Wildcard:
    """Excel's wildcard pattern: ``*`` any run, ``?`` one character, ``~`` escapes the next
    (:mod:`addin.headless.wildcards`: linear, no backtracking)."""
    return compile_wildcard(x)


def _matcher(x: Any, match_mode: int) -> Any:
    """The test of an item being the lookup value in match mode 2 or 3, or an error."""
    if not isinstance(x, str):
        return lambda v: _kind(v) != _ERROR and order(v, x) == 0  # not text: an exact match
    if match_mode == 3:
        try:
            pattern = re.compile(x)
        except re.error as exc:
            return ExcelError("#VALUE!", f"XMATCH: {x!r} is not a regular expression ({exc})")
        return lambda v: isinstance(v, str) and pattern.search(v) is not None
    wild = _wildcards(x)
    return lambda v: isinstance(v, str) and wild.fullmatch(v)


def _linear(x: Any, items: list[Any], match_mode: int, backwards: bool) -> int | ExcelError:
    """0-based position of the first (last, ``backwards``) exact item, else of the nearest on
    the match mode's side; -1 when none; #VALUE! for a regular expression that runs past its
    time limit (:mod:`addin.headless.bounded_regex`)."""
    indices = range(len(items) - 1, -1, -1) if backwards else range(len(items))
    if match_mode == 3 and isinstance(x, str):
        pattern = re.compile(x)  # valid: xmatch_one checked it
        return first_search(pattern, [(i, items[i]) for i in indices if isinstance(items[i], str)])
    if match_mode in (2, 3):
        test = _matcher(x, match_mode)
        return next((i for i in indices if test(items[i])), -1)
    best = -1
    for i in indices:
        v = items[i]
        if v is None and x is None:
            return i  # a blank looked up finds a blank cell
        if _kind(v) in (_ERROR, _BLANK):
            continue  # else an empty or error item is never found
        c = order(v, x)
        if c == 0:
            return i
        if match_mode == 0 or c == 0:
            continue
        if (c < 0) == (match_mode < 0) and (best < 0 or order(v, items[best]) * match_mode < 0):
            best = i  # on the asked side and strictly nearer than the best so far
    return best


def _binary(x: Any, items: list[Any], match_mode: int, descending: bool) -> int:
    """0-based position Excel's bisection finds (module docstring); -1 when none."""
    lo, hi = 1, len(items)
    sign = -1 if descending else 1
    while lo <= hi:
        mid = (lo + hi) // 2
        c = order(items[mid - 1], x) * sign
        if c == 0:
            return mid - 1
        if c < 0:
            lo = mid + 1
        else:
            hi = mid - 1
    if match_mode == 0:
        return -1
    # lo - 1 is the last midpoint below the value (in the array's direction), hi + 1 = lo the last above
    below, above = (hi, lo) if not descending else (lo, hi)
    found = below if match_mode < 0 else above
    return found - 1 if 1 <= found <= len(items) else -1


def _mode(v: Any, allowed: frozenset[int], what: str) -> int | ExcelError:
    if isinstance(v, list):
        return ExcelError("#VALUE!", f"XMATCH: {what} must be one value")
    n = whole_argument(v, logicals=True, name=f"XMATCH {what}")
    if isinstance(n, ExcelError):
        return n
    if n not in allowed:
        return ExcelError("#VALUE!", f"XMATCH: {what} {n} is not one of {sorted(allowed)}")
    return n


def _vector(v: Any) -> list[Any] | ExcelError:
    if isinstance(v, ExcelError):
        return v
    if not isinstance(v, list):
        return [v]
    if len(v) == 1:
        return list(v[0])
    if all(len(row) == 1 for row in v):
        return [row[0] for row in v]
    return ExcelError("#VALUE!", "XMATCH: the lookup array must be one row or one column")


def xmatch_one(x: Any, items: list[Any], match_mode: Any = None, search_mode: Any = None) -> float | ExcelError:
    """The 1-based position XMATCH returns for one lookup value over ``items`` (module docstring)."""
    if isinstance(x, ExcelError):
        return x  # before the modes: XMATCH(#DIV/0!,{...},2,2) is #DIV/0! in Excel's cached values
    mm = _mode(match_mode, _MATCH_MODES, "match_mode")
    if isinstance(mm, ExcelError):
        return mm
    sm = _mode(1 if search_mode is None else search_mode, _SEARCH_MODES, "search_mode")
    if isinstance(sm, ExcelError):
        return sm
    if mm >= 2 and abs(sm) == 2:
        return ExcelError("#VALUE!", "XMATCH: a wildcard or regular-expression match cannot use a binary search")
    if isinstance(x, list):
        return ExcelError("#VALUE!", "XMATCH: lookup_value must be one value")
    if mm in (2, 3) and isinstance(_matcher(x, mm), ExcelError):
        error: ExcelError = _matcher(x, mm)
        return error
    i = _binary(x, items, mm, sm < 0) if abs(sm) == 2 else _linear(x, items, mm, sm < 0)
    if isinstance(i, ExcelError):
        return i
    return ExcelError(_NA) if i < 0 else float(i + 1)


def xmatch(calls: list[list[Any]]) -> list[Any]:
    """XMATCH over every call of a pass; a lookup value or mode given as an array gives the
    array of each element's position (the lookup array taken whole)."""
    out: list[Any] = []
    for args in calls:
        if not 2 <= len(args) <= 4:
            out.append(ExcelError("#VALUE!", "XMATCH takes lookup_value, lookup_array, [match_mode], [search_mode]"))
            continue
        items = _vector(args[1])
        if isinstance(items, ExcelError):
            out.append(items)
            continue
        rest = [args[0], *args[2:]]
        out.extend(elementwise(lambda a, items=items: xmatch_one(a[0], items, *a[1:]))([rest]))
    return out


#: The largest lookup range taken here (cells); a larger one (a whole column) stays with the formula
#: engine, which reads it without Python values.
MAX_CELLS = 100_000
_BOUNDED = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?")
_EXACT_FORWARD = re.compile(r"^\s*(?:0+(?:\.0*)?)?\s*$")
_FORWARD = re.compile(r"^\s*(?:\+?1(?:\.0*)?)?\s*$")
#: What an argument's text may hold besides names: strings, sheet names, A1 references, whole
#: columns and rows, function names (followed by a parenthesis), logicals and error codes.
_NOT_NAMES = re.compile(
    r"\"(?:[^\"]|\"\")*\"|'(?:[^']|'')*'!|[\w.]+!|#[A-Z0-9/!?]+|"
    r"\$?[A-Za-z]{1,3}\$?\d+|\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\$?\d+:\$?\d+|"
    r"[A-Za-z_][\w.]*\s*\(|\b(?:TRUE|FALSE)\b",
    re.I,
)
_IDENTIFIER = re.compile(r"[A-Za-z_\\]")


def _cells(text: str) -> int | None:
    """Cells of a bounded A1 range written in ``text`` (a sheet prefix allowed); None else."""
    ref = split_ref(text.strip())
    if ref is None:
        return None
    m = _BOUNDED.fullmatch(ref[1])
    if m is None:
        return None
    if m.group(3) is None:
        return 1
    rows = abs(int(m.group(4)) - int(m.group(2))) + 1
    cols = abs(column_number(m.group(3).upper()) - column_number(m.group(1).upper())) + 1
    return rows * cols


def _no_names(text: str) -> bool:
    """Whether an argument's text reads no name (a LET or LAMBDA parameter cannot be read from
    the scratch cell a host call's arguments are evaluated in; a defined name stays with the
    formula engine too)."""
    return _IDENTIFIER.search(_NOT_NAMES.sub(" ", text)) is None


def takes(args: list[tuple[str, str]]) -> bool:
    """The XMATCH calls evaluated here: those over an array constant, and those over a bounded
    range of at most :data:`MAX_CELLS` cells whose modes are not both the defaults' exact,
    first-to-last search (which the formula engine computes as Excel does, with blank cells and
    0 handled by :mod:`addin.headless.zero_lookups`) unless the lookup value may be several values
    (IronCalc 0.9.1 does not look each up); never a call whose arguments read a name."""
    if not 2 <= len(args) <= 4 or not all(_no_names(t) for _, t in args):
        return False
    kind, text = args[1]
    if kind == "array":
        return True
    n = _cells(text) if kind in ("range", "cell") else None
    if n is None or n > MAX_CELLS:
        return False
    match_mode = args[2] if len(args) > 2 else ("empty", "")
    search_mode = args[3] if len(args) > 3 else ("empty", "")
    plain = match_mode[0] in ("empty", "literal") and _EXACT_FORWARD.match(match_mode[1]) is not None
    forward = search_mode[0] in ("empty", "literal") and _FORWARD.match(search_mode[1]) is not None
    # a lookup value that may be several values: looked up one by one here (addin.headless.lookups)
    return not (plain and forward) or may_hold_array(*args[0])


__all__ = ["MAX_CELLS", "order", "takes", "xmatch", "xmatch_one"]
