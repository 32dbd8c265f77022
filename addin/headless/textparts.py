"""TEXTBEFORE and TEXTAFTER as Excel computes them (IronCalc 0.9.1: TEXTAFTER "not
implemented", TEXTBEFORE without Excel's error rules).

Microsoft, "TEXTBEFORE function" and "TEXTAFTER function":
``TEXTAFTER(text, delimiter, [instance_num], [match_mode], [match_end], [if_not_found])``;
instance_num 1 by default, "A negative number starts searching text from the end";
match_mode 0 case-sensitive (the default), 1 case-insensitive; match_end 1 "Treats the end of
text as a delimiter"; if_not_found the "Value returned if no match is found. By default, #N/A";
"When searching with an empty delimiter value, TEXTAFTER matches immediately. It returns the
entire text when searching from the front (if instance_num is positive) and empty text when
searching from the end"; "Excel returns a #VALUE! error if instance_num = 0 or if
instance_num is greater than the length of text"; "#N/A if delimiter isn't contained in
text" and "if instance_num is greater than the number of occurrences of delimiter in text".

Argument coercion, as the corpus book's cached values show (formulas' ``test.xlsx``, sheet
"TEXT", rows 44-45, and sheet "EXTRA", H30:H34): text is its text (a number as Excel writes it,
TRUE/FALSE, a blank ""); delimiter may be an array, any of whose texts delimits (a number its
text); instance_num, match_mode and match_end are truncated numbers (TRUE 1, FALSE 0, numeric
text its number, other text #VALUE!, a *blank cell* 0, so a blank instance_num is #VALUE!),
match_mode and match_end must be 0 or 1 (10 is #VALUE!); the first error among text, the
delimiters, instance_num, match_mode and match_end is the result; if_not_found is read only
when nothing is found. An *omitted* argument (``TEXTAFTER(A2," ",,,1)``, Microsoft's own
example) takes its default: :func:`fill_defaults` writes it into the formula, since the host
function sees a blank cell and an omitted argument alike.

Empty text (``""``, a blank cell) gives empty text whatever the delimiter, instance_num or
match_end (Microsoft, both pages, on text: "If text is an empty string, Excel returns empty
text"; the corpus holds no cached value of either function over empty text), after the errors
above and instance_num 0 (#VALUE!), which Microsoft names without exception.

Occurrences are found without overlap, from the start for a positive instance_num and from
the end for a negative one; where several delimiters match at one place the longest is taken
(Excel's choice is not documented); an empty delimiter matches at every position (so it
"matches immediately" from either end). With match_end 1 the end of the text (the start, for a
negative instance_num) counts as one more occurrence unless an occurrence already ends there.

Over arrays (text, instance_num or the flags given a range in an array formula) the function
is lifted element by element; the delimiter array is a set of delimiters, not lifted.
"""

from __future__ import annotations

import math
import re
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, significant
from addin.headless.host import elementwise
from addin.headless.numeric_text import whole_argument
from addin.headless.values import ExcelError

_CALLS = re.compile(r"\bTEXT(?:BEFORE|AFTER)\s*\(", re.I)
#: What an omitted argument is (positions 2-5): instance_num 1, match_mode 0, match_end 0,
#: if_not_found #N/A.
_DEFAULTS = {2: "1", 3: "0", 4: "0", 5: "NA()"}


def needs_defaults(text: str) -> bool:
    """Cheap test before tokenising: a TEXTBEFORE/TEXTAFTER call that may omit an argument."""
    return ",," in text.replace(" ", "") or ",)" in text.replace(" ", "") if _CALLS.search(text) else False


def fill_defaults(text: str) -> str:
    """The formula with each omitted optional argument of TEXTBEFORE/TEXTAFTER written as its
    default (module docstring)."""
    if not needs_defaults(text):
        return text
    nodes = parse(text)
    filled = 0

    def walk(seq: list[Any]) -> None:
        nonlocal filled
        for node in seq:
            if not isinstance(node, Call):
                continue
            for a in node.args:
                walk(a)
            if node.key not in ("TEXTBEFORE", "TEXTAFTER"):
                continue
            for i, arg in enumerate(node.args):
                if i in _DEFAULTS and not significant(arg):
                    node.args[i] = [Token(_DEFAULTS[i], Token.OPERAND, Token.RANGE)]
                    filled += 1

    walk(nodes)
    return formula(nodes) if filled else text


def _general(x: float) -> str:
    """A number as Excel writes it in text (15 significant digits, General)."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.15G}"


def as_text(value: Any) -> str | ExcelError:
    """A value where text is expected: a blank "", TRUE/FALSE, a number as Excel writes it."""
    if isinstance(value, ExcelError):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float | int):
        # a cell never holds inf/NaN; an engine value that does is not a number Excel writes
        return _general(float(value)) if math.isfinite(value) else ExcelError("#NUM!")
    return str(value)


def _whole(value: Any) -> int | ExcelError:
    """instance_num, match_mode, match_end: truncated; a blank cell 0; other text #VALUE!."""
    return whole_argument(value, logicals=True)


def _fold(s: str) -> str:
    """Lower case, character by character (so positions do not move)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in s)


def occurrences(text: str, delimiters: list[str], from_end: bool) -> list[tuple[int, int]]:
    """(start, end) of each non-overlapping occurrence of any delimiter, in search order."""
    by_length = sorted(set(delimiters), key=len, reverse=True)
    out: list[tuple[int, int]] = []
    if not from_end:
        i = 0
        while i <= len(text):
            d = next((d for d in by_length if text.startswith(d, i)), None)
            if d is None:
                i += 1
                continue
            out.append((i, i + len(d)))
            i += len(d) or 1
        return out
    j = len(text)
    while j >= 0:
        d = next((d for d in by_length if j - len(d) >= 0 and text.startswith(d, j - len(d))), None)
        if d is None:
            j -= 1
            continue
        out.append((j - len(d), j))
        j -= len(d) or 1
    return out


def _one(after: bool, delimiters: list[str] | ExcelError, args: list[Any]) -> Any:
    text = as_text(args[0])
    if isinstance(text, ExcelError):
        return text
    if isinstance(delimiters, ExcelError):
        return delimiters
    flags = [_whole(args[i]) if i < len(args) else d for i, d in ((2, 1), (3, 0), (4, 0))]
    err = next((f for f in flags if isinstance(f, ExcelError)), None)
    if err is not None:
        return err
    n, mode, end = (int(f) for f in flags)  # type: ignore[call-overload]
    name = "TEXTAFTER" if after else "TEXTBEFORE"
    if mode not in (0, 1) or end not in (0, 1):
        return ExcelError("#VALUE!", f"{name}: match_mode and match_end are 0 or 1")
    if n == 0:
        return ExcelError("#VALUE!", f"{name}: instance_num is 0")
    if not text:
        return ""  # "If text is an empty string, Excel returns empty text" (module docstring)
    if abs(n) > len(text):
        return ExcelError("#VALUE!", f"{name}: instance_num {n} is longer than the text")
    haystack, needles = (_fold(text), [_fold(d) for d in delimiters]) if mode else (text, delimiters)
    found = occurrences(haystack, needles, n < 0)
    if end:
        edge = 0 if n < 0 else len(text)
        if not found or found[-1][1 if n > 0 else 0] != edge:
            found.append((edge, edge))
    if abs(n) > len(found):
        if len(args) > 5:
            return 0.0 if args[5] is None else args[5]
        return ExcelError("#N/A", f"{name}: delimiter not found {abs(n)} time(s)")
    start, stop = found[abs(n) - 1]
    return text[stop:] if after else text[:start]


def _delimiters(value: Any) -> list[str] | ExcelError:
    cells = [v for row in value for v in row] if isinstance(value, list) else [value]
    out: list[str] = []
    for v in cells:
        t = as_text(v)
        if isinstance(t, ExcelError):
            return t
        out.append(t)
    return out


def _function(after: bool) -> Any:
    def evaluate(calls: list[list[Any]]) -> list[Any]:
        out: list[Any] = []
        for args in calls:
            name = "TEXTAFTER" if after else "TEXTBEFORE"
            if not 2 <= len(args) <= 6:
                out.append(ExcelError("#VALUE!", f"{name} takes text, delimiter and up to 4 optional arguments"))
                continue
            delims = _delimiters(args[1])
            lifted = elementwise(lambda a, d=delims: _one(after, d, a))
            out.extend(lifted([[args[0], None, *args[2:]]]))
        return out

    return evaluate


textbefore = _function(after=False)
textafter = _function(after=True)
