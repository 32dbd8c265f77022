"""CELL's information types that read a cell's formatting, which IronCalc 0.9.1 answers #VALUE!.

Microsoft, "CELL function": ``CELL(info_type, [reference])``, information about the upper-left
cell of ``reference``:

* ``"format"``: a text code for the cell's number format (the function's table: General "G",
  ``0`` "F0", ``#,##0`` ",0", ``0.00`` "F2", ``#,##0.00`` ",2", ``$#,##0_);($#,##0)`` "C0",
  with ``[Red]`` in the negative section "C0-", ``0%`` "P0", ``0.00E+00`` "S2", ``# ?/?``
  "G", ``m/d/yy`` (also ``m/d/yy h:mm``, ``mm/dd/yy``) "D4", ``d-mmm-yy`` "D1", ``d-mmm``
  "D2", ``mmm-yy`` "D3", ``mm/dd`` "D5", ``h:mm AM/PM`` "D7", ``h:mm:ss AM/PM`` "D6",
  ``h:mm`` "D9", ``h:mm:ss`` "D8"); "-" appended when negative values are shown in color,
  "()" when positive (or all) values are shown in parentheses;
* ``"color"``: 1 when negative values are shown in color, else 0;
* ``"parentheses"``: 1 when positive or all values are shown in parentheses, else 0;
* ``"prefix"``: for a cell holding text, ``'`` left-aligned (and General, which aligns text
  left), ``"`` right-aligned, ``^`` centred, ``\\`` fill-aligned; "" for anything else.

A format the table does not list is classified the same way: its category (percent,
scientific, currency, thousands, fixed, date, time) and the decimals of its positive section.

These are read from the style of the cell, which no formula changes, so a call with a literal
``info_type`` and a plain reference is replaced by its answer before the formula engine sees it
(``prefix`` keeps an ISTEXT of the cell, the one part that depends on the value). ``"width"``,
``"protect"`` and a ``"filename"`` with Excel's full path are not computed (the engine's
style model holds neither the column's width in characters nor the protection).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import top_left
from addin.headless.formula import Call, formula, parse, rewrite_calls, significant, split_ref
from addin.headless.numfmt import split_sections

#: The style of a cell: (number format code, horizontal alignment), None when unknown.
Style = Callable[[str | None, int, int], tuple[str, str] | None]

_CALL = re.compile(r'(?<![\w.])CELL\s*\(\s*"(format|color|parentheses|prefix)"', re.I)
#: What Excel ignores when it reads a format's meaning: quoted text, escaped and padded or
#: repeated characters (``\\(``, ``_)``, ``*-``), and bracketed conditions other than a currency.
_NOISE = re.compile(r'"[^"]*"|\\.|_.|\*.|\[(?!\$)[^\]]*\]')
_COLOR = re.compile(r"\[(?:black|blue|cyan|green|magenta|red|white|yellow|color\s*\d+)\]", re.I)
_LOCALE = re.compile(r"\[\$-[^\]]*\]")  # [$-409]: a locale, no symbol
_CURRENCY = re.compile(r"[$€£¥]")
_PREFIX = {"left": "'", "general": "'", "right": '"', "center": "^", "centercontinuous": "^", "fill": "\\"}


def needs_cell_info(text: str) -> bool:
    """Whether ``text`` asks CELL for a formatting information type (cheap test)."""
    return ("CELL" in text or "cell" in text) and _CALL.search(text) is not None


def _decimals(core: str) -> int:
    """Digit placeholders after the first decimal point of the number part."""
    _, dot, after = core.partition(".")
    if not dot:
        return 0
    n = 0
    for ch in after:
        if ch in "0#?":
            n += 1
        elif ch not in ",":
            break
    return n


def _date_code(core: str) -> str:
    low = core.lower()
    has_h, has_s = "h" in low, "s" in low
    has_y, has_d = "y" in low, "d" in low
    text_month = "mmm" in low
    if has_y or has_d:
        if text_month:
            return "D1" if has_d and has_y else "D2" if has_d else "D3"
        return "D4" if has_y else "D5"
    if has_h or has_s:
        ampm = "am/pm" in low or "a/p" in low
        return ("D6" if has_s else "D7") if ampm else ("D8" if has_s else "D9")
    return "D3" if text_month else "G"


def format_code(code: str) -> str:
    """CELL("format")'s answer for a cell whose number format is ``code`` (module docstring)."""
    sections = split_sections(code)  # quotes, escapes and brackets respected (numfmt's reader)
    first = sections[0]
    suffix = "-" if any(_COLOR.search(s) for s in sections[1:2]) else ""
    core = _NOISE.sub("", _LOCALE.sub("", first))
    if "(" in core:
        suffix += "()"
    low = core.lower().strip()
    if not low or low == "general" or low == "@":
        return "G" + suffix
    if "?/" in low or "/?" in low:
        return "G" + suffix
    if re.search(r"[ydhs]|m{1,5}", low.replace("e+", "").replace("e-", "")) and not re.search(r"[0#?]", low):
        return _date_code(low) + suffix
    n = _decimals(low)
    if "%" in low:
        return f"P{n}{suffix}"
    if "e+" in low or "e-" in low:
        return f"S{n}{suffix}"
    if _CURRENCY.search(_LOCALE.sub("", first)):  # "$" quoted or escaped is still the currency
        return f"C{n}{suffix}"
    if re.search(r"[0#?],[0#?]", low):
        return f",{n}{suffix}"
    if re.search(r"[0#?]", low):
        return f"F{n}{suffix}"
    return "G" + suffix


def cell_info(text: str, style: Style) -> str:
    """``text`` with each ``CELL("format"|"color"|"parentheses"|"prefix", reference)`` replaced
    by its answer from the cell's style (module docstring); other calls left as written."""
    nodes = parse(text)
    done = rewrite_calls(nodes, lambda call: _answer(call, style))
    return formula(nodes) if done else text


def _answer(call: Call, style: Style) -> str | None:
    if call.key != "CELL" or len(call.args) != 2:
        return None
    kind, ref_arg = significant(call.args[0]), significant(call.args[1])
    if len(kind) != 1 or not isinstance(kind[0], Token) or kind[0].subtype != Token.TEXT:
        return None
    if len(ref_arg) != 1 or not isinstance(ref_arg[0], Token) or ref_arg[0].subtype != Token.RANGE:
        return None
    info = kind[0].value.strip('"').lower()
    value = ref_arg[0].value.lstrip("@")
    ref = split_ref(value)
    at = top_left(ref[1]) if ref is not None else None
    if ref is None or at is None:
        return None
    got = style(ref[0], *at)
    if got is None:
        return None
    code, horizontal = got
    fmt = format_code(code)
    if info == "format":
        return f'"{fmt}"'
    if info == "color":
        return "1" if fmt.endswith("-") else "0"
    if info == "parentheses":
        return "1" if fmt.endswith("()") else "0"
    if info == "prefix":
        mark = _PREFIX.get(horizontal.lower(), "")
        if not mark:
            return '""'
        sheet = value[: len(value) - len(ref[1])]
        cell = f"{sheet}{ref[1].split(':')[0]}"
        return f'IF(ISTEXT({cell}),"{_quote(mark)}","")'
    return None


def _quote(mark: str) -> str:
    return mark.replace('"', '""')


def style_of(model: Any, si: int, row: int, col: int) -> tuple[str, str]:
    """(number format, horizontal alignment) of a cell in IronCalc's model (General, general
    when the style does not say)."""
    st = model.get_cell_style(si, row, col)
    fmt = st.get("num_fmt") or "general"
    horizontal = (st.get("alignment") or {}).get("horizontal") or "general"
    return fmt, horizontal
