"""Excel's number formats, as the TEXT function renders them.

What is implemented follows Microsoft's "Number format codes" and "TEXT function", with the
details Excel's cached values in the corpus show (pycel's text.xlsx, IronCalc's TEXT.xlsx):

* up to four sections ``positive;negative;zero;text``; one numeric section puts a minus before a
  negative number whose shown value is not zero; two sections give zero the first; a last
  section holding ``@`` (the second, third or fourth) is the text section, and ``@`` anywhere
  else makes the format invalid (#VALUE!);
* digit placeholders ``0`` (a digit or 0), ``#`` (a digit or nothing; trailing decimal zeros
  dropped), ``?`` (a digit or a space); the first ``.`` is the decimal point and any later one a
  literal; digits beyond the integer placeholders go to the leftmost one; with no integer
  placeholder the integer digits are written before the point;
* a comma after a digit placeholder groups thousands when a placeholder follows it at once,
  divides by 1,000 when no placeholder follows it at all, and is dropped otherwise; a comma
  after anything else is a literal; ``%`` multiplies by 100; values are rounded half away from
  zero on their 15 significant digits, as Excel keeps them;
* literals: ``"text"``, ``\\c``, ``_c`` (a space), ``*c`` (a fill, nothing in TEXT), colours in
  brackets, and any other character that is not a code (``$ - + ( ) : / x w``);
* dates and times on Excel's 1900 calendar (serial 60 is 29 February 1900): ``y yy yyyy m mm
  mmm mmmm mmmmm d dd ddd dddd h hh m mm s ss`` (``m`` is minutes after an hour or before a
  second), ``AM/PM`` and ``A/P``, elapsed ``[h] [m] [s]``, fractions of a second (``ss.000``);
  a negative serial or one past 9999-12-31 is #VALUE!.

Everything else (``General``, scientific ``E+``, fractions ``# ?/?``, conditions ``[>100]``,
locales ``[$-409]``, lower-case ``am/pm``, era codes) raises :class:`Unsupported`, and the
caller lets the formula engine answer as it does today.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from addin.headless.serials import excel_serial, excel_ymd
from addin.headless.values import ExcelError

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MAX_SERIAL = 2958466  # 10000-01-01: the first serial Excel cannot show as a date


class Unsupported(Exception):
    """A format (or value) this module does not render; the formula engine's answer is used."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # "lit", "digit", "point", "comma", "percent", "date", "elapsed", "ampm", "at"
    text: str


def split_sections(fmt: str) -> list[str]:
    """The ``;``-separated sections of a format, quotes, escapes and brackets respected."""
    out, cur, i = [], [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == '"':
            j = fmt.find('"', i + 1)
            j = len(fmt) - 1 if j < 0 else j
            cur.append(fmt[i : j + 1])
            i = j + 1
        elif ch in "\\_*" and i + 1 < len(fmt):
            cur.append(fmt[i : i + 2])
            i += 2
        elif ch == "[":
            j = fmt.find("]", i)
            j = len(fmt) - 1 if j < 0 else j
            cur.append(fmt[i : j + 1])
            i = j + 1
        elif ch == ";":
            out.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(ch)
            i += 1
    out.append("".join(cur))
    return out


_TOKEN = re.compile(
    r'"(?P<quoted>[^"]*)"?|\\(?P<escaped>.?)|_(?P<space>.?)|\*(?P<fill>.?)|\[(?P<bracket>[^\]]*)\]?'
    r"|(?P<ampm>AM/PM|A/P|a/p)|(?P<badampm>(?i:am/pm))|(?P<date>[yY]+|[mM]+|[dD]+|[hH]+|[sS]+)"
    r"|(?P<general>(?i:general))|(?P<digit>[0#?])|(?P<point>\.)|(?P<comma>,)|(?P<percent>%)|(?P<at>@)"
    r"|(?P<unsupported>[eEbBgG])|(?P<lit>.)",
    re.S,
)
_SIMPLE = {"digit", "point", "comma", "percent", "at", "ampm"}


def _token(m: re.Match[str]) -> _Tok | None:
    kind = m.lastgroup or "lit"
    text = m.group(kind)
    if kind in _SIMPLE:
        return _Tok(kind, text)
    if kind in ("quoted", "escaped", "lit"):
        return _Tok("lit", text)
    if kind == "space":
        return _Tok("lit", " ")
    if kind == "fill":
        return None  # a fill: TEXT has no width to fill
    if kind == "date":
        return _Tok("date", text.lower())
    if kind == "bracket":
        b = text.lower()
        if b in ("h", "hh", "m", "mm", "s", "ss"):
            return _Tok("elapsed", b[0])
        if b.isalpha() or re.fullmatch(r"color\d+", b):
            return None  # a colour
        if _CONDITION.fullmatch(f"[{text}]"):
            return None  # a condition: chosen by _conditional before the section is shown
    # General, scientific E+, era and Buddhist years, lower-case am/pm, conditions, locales
    raise Unsupported(text)


def _tokens(section: str) -> list[_Tok]:
    return [t for t in (_token(m) for m in _TOKEN.finditer(section)) if t is not None]


def _is_date(toks: list[_Tok]) -> bool:
    return any(t.kind in ("date", "elapsed", "ampm") for t in toks)


# ----------------------------------------------------------------------------- numbers


def _round(x: float, places: int) -> Decimal:
    d = Decimal(f"{x:.15g}")
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _comma_roles(toks: list[_Tok], point: int | None) -> dict[int, str]:
    """What each comma does: after a placeholder (or such a comma) it groups (a placeholder
    follows at once), scales (no placeholder follows) or vanishes; else it is a literal."""
    digits_at = [k for k, t in enumerate(toks) if t.kind == "digit"]
    role: dict[int, str] = {}
    for k, t in enumerate(toks):
        if t.kind != "comma":
            continue
        prev = toks[k - 1] if k else None
        if prev is None or not (prev.kind == "digit" or (prev.kind == "comma" and role.get(k - 1) != "lit")):
            role[k] = "lit"
        elif not any(d > k for d in digits_at):
            role[k] = "scale"
        elif k + 1 < len(toks) and toks[k + 1].kind == "digit" and (point is None or k < point):
            role[k] = "group"
        else:
            role[k] = "drop"
    return role


def _literal(t: _Tok, role: str | None) -> str:
    if t.kind == "at":
        raise ValueError("@ in a number section")
    if t.kind == "comma":
        return "," if role == "lit" else ""
    return t.text


def _pad(ph: str) -> tuple[str, str] | None:
    return ("d", "0") if ph == "0" else ("l", " ") if ph == "?" else None


def _integer(toks: list[_Tok], digits: str, role: dict[int, str], has_point: bool) -> list[tuple[str, str]]:
    """The integer part as items right to left: ("d", digit) or ("l", literal). Placeholders
    take digits from the right, the leftmost one all that remain."""
    placeholders = [k for k, t in enumerate(toks) if t.kind == "digit"]
    items: list[tuple[str, str]] = []
    rest = digits
    for k in range(len(toks) - 1, -1, -1):
        t = toks[k]
        if t.kind != "digit":
            text = _literal(t, role.get(k))
            if text:
                items.append(("l", text))
            continue
        take = rest if k == placeholders[0] else rest[-1:]
        rest = rest[: len(rest) - len(take)]
        if take:
            items.extend(("d", ch) for ch in reversed(take))
        elif (pad := _pad(t.text)) is not None:
            items.append(pad)
    if not placeholders and rest and has_point:
        items[0:0] = [("d", ch) for ch in reversed(rest)]  # the digits stand before the point
    return items


def _grouped(items: list[tuple[str, str]], group: bool) -> str:
    out: list[str] = []
    seen = 0
    for kind, text in items:
        if kind == "d":
            seen += 1
            if group and seen > 3 and seen % 3 == 1:
                out.append(",")
        out.append(text)
    return "".join(reversed(out))


def _decimals(toks: list[_Tok], frac: str, role: dict[int, str], offset: int) -> str:
    """The decimal part, left to right; past the last significant digit # shows nothing and ? a space."""
    keep = len(frac.rstrip("0"))
    out: list[str] = []
    di = 0
    for k, t in enumerate(toks):
        if t.kind == "digit":
            out.append(frac[di] if di < keep or t.text == "0" else ("" if t.text == "#" else " "))
            di += 1
        else:
            out.append(_literal(t, role.get(offset + k)))
    return "".join(out)


def _number(x: float, toks: list[_Tok]) -> tuple[str, bool]:
    """A non-negative number in one numeric section, and whether it shows as zero (rounded to
    the section's decimals and scaled as it is), which decides a single section's minus."""
    if any(t.kind == "lit" and t.text == "/" for t in toks) and sum(t.kind == "digit" for t in toks) > 1:
        raise Unsupported("fraction")
    point = next((k for k, t in enumerate(toks) if t.kind == "point"), None)
    role = _comma_roles(toks, point)
    scale = sum(r == "scale" for r in role.values())
    pct = sum(t.kind == "percent" for t in toks)
    int_toks = toks if point is None else toks[:point]
    dec_toks = [] if point is None else toks[point + 1 :]
    places = sum(t.kind == "digit" for t in dec_toks)
    d = _round(x * 100**pct / 1000**scale, places)
    int_str, _, frac = format(d, "f").partition(".")
    items = _integer(int_toks, int_str.lstrip("0"), role, point is not None)
    text = _grouped(items, "group" in role.values())
    if point is not None:
        text += "." + _decimals(dec_toks, frac.ljust(places, "0")[:places], role, point + 1)
    return text, d == 0


# ----------------------------------------------------------------------------- dates


def _check_date(v: float) -> None:
    if v < 0 or v >= _MAX_SERIAL:
        raise ValueError("a negative number or one past 9999-12-31 cannot be shown as a date or time")


def _subsecond_places(toks: list[_Tok]) -> int:
    """Digit placeholders right after a seconds code and a point: fractions of a second."""
    places = 0
    for k, t in enumerate(toks):
        if t.kind == "point" and k and toks[k - 1].kind in ("date", "elapsed") and toks[k - 1].text[0] == "s":
            j = k + 1
            while j < len(toks) and toks[j].kind == "digit":
                j += 1
            places = max(places, j - k - 1)
    return places


@dataclass(frozen=True)
class _Clock:
    """A serial broken down as Excel shows it, rounded to the format's precision."""

    day: int
    year: int
    month: int
    mday: int
    hour: int
    minute: int
    second: int
    sub: int
    total_s: int

    @classmethod
    def of(cls, v: float, places: int) -> _Clock:
        unit = 10**places
        ticks = int(Decimal(repr(v)) * 86400 * unit + Decimal("0.5"))
        total_s, sub = divmod(ticks, unit)
        day, secs = divmod(total_s, 86400)
        hh, rem = divmod(secs, 3600)
        mi, ss = divmod(rem, 60)
        y, mo, dd = excel_ymd(day) if day < _MAX_SERIAL else (0, 1, 1)
        return cls(day, y, mo, dd, hh, mi, ss, sub, total_s)


def _date_code(c: str, clock: _Clock, minute: bool, twelve: bool) -> str:
    n = len(c)
    if c[0] == "y":
        return f"{clock.year % 100:02d}" if n <= 2 else f"{clock.year:04d}"
    if c[0] == "m" and n <= 2 and minute:
        return f"{clock.minute:0{n}d}"
    if c[0] == "m":
        name = _MONTHS[clock.month - 1]
        return [str(clock.month), f"{clock.month:02d}", name[:3], name, name[0]][min(n, 5) - 1]
    if c[0] == "d" and n <= 2:
        return f"{clock.mday:0{n}d}"
    if c[0] == "d":
        wd = _DAYS[(clock.day + 5) % 7]  # serial 1 is a Sunday and the cycle never breaks
        return wd[:3] if n == 3 else wd
    if c[0] == "h":
        h = (clock.hour % 12 or 12) if twelve else clock.hour
        return f"{h:0{min(n, 2)}d}"
    return f"{clock.second:0{min(n, 2)}d}"


def _date(v: float, toks: list[_Tok]) -> str:
    places = _subsecond_places(toks)
    clock = _Clock.of(v, places)
    twelve = any(t.kind == "ampm" for t in toks)
    codes = [k for k, t in enumerate(toks) if t.kind in ("date", "elapsed")]
    out: list[str] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        if t.kind == "date":
            pos = codes.index(k)
            prev = toks[codes[pos - 1]].text[0] if pos else ""
            nxt = toks[codes[pos + 1]].text[0] if pos + 1 < len(codes) else ""
            out.append(_date_code(t.text, clock, prev == "h" or nxt == "s", twelve))
        elif t.kind == "elapsed":
            out.append(str({"h": clock.total_s // 3600, "m": clock.total_s // 60, "s": clock.total_s}[t.text]))
        elif t.kind == "ampm":
            pm = clock.hour >= 12
            out.append({"AM/PM": "PM" if pm else "AM", "A/P": "P" if pm else "A", "a/p": "p" if pm else "a"}[t.text])
        elif t.kind == "point" and places and k + 1 < len(toks) and toks[k + 1].kind == "digit":
            j = k + 1
            while j < len(toks) and toks[j].kind == "digit":
                j += 1
            out.append("." + f"{clock.sub:0{places}d}"[: j - k - 1])
            k = j
            continue
        elif t.kind == "digit":
            raise Unsupported("digits in a date format")
        else:
            out.append(_literal(t, "lit"))
        k += 1
    return "".join(out)


# ----------------------------------------------------------------------------- values

_NUM = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_TIME = re.compile(r"\s*(\d+):(\d+)(?::(\d+))?(\.\d*)?\s*")
_ISO = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d+):(\d+)(?::(\d+(?:\.\d*)?))?)?\s*")


def text_number(s: str) -> float | None:
    """The number Excel reads in a text argument, None for text; :class:`Unsupported` where
    Excel may read one this module does not (currency, thousands separators, month names)."""
    if _NUM.fullmatch(s):
        return float(s)
    m = _TIME.fullmatch(s)
    if m is not None:
        a, b, c, f = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        # h:m, h:m:s[.f] or m:s.f: the leading parts within their usual range, the last below
        # 10,000 (what Excel's cached values show: "23:9999" is a time, "24:99" text)
        if c is not None:
            parts, limits = [a, b, int(c)], [24, 60]
            value = a / 24 + b / 1440 + (int(c) + float(f or "0")) / 86400
        elif f and len(f) > 1:
            parts, limits = [a, b], [60]
            value = a / 1440 + (b + float(f)) / 86400
        else:
            parts, limits = [a, b], [24]
            value = a / 24 + b / 1440
        lead_ok = all(p < lim for p, lim in zip(parts, limits, strict=False))
        if lead_ok and parts[-1] < 10000:
            return value
        if not lead_ok and parts[-1] >= limits[-1]:
            return None  # text, as Excel reads "60:99"
        raise Unsupported(s)
    m = _ISO.fullmatch(s)
    if m is not None:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        try:
            serial = excel_serial(y, mo, d)
        except ValueError:
            return None
        h, mi, sec = int(m.group(4) or 0), int(m.group(5) or 0), float(m.group(6) or 0)
        return serial + h / 24 + mi / 1440 + sec / 86400
    if any(ch.isdigit() for ch in s):
        raise Unsupported(s)
    return None


def _sections(fmt: str) -> tuple[list[list[_Tok]], str | None] | ExcelError:
    """The numeric sections (tokenised) and the text section of a format."""
    sections = split_sections(fmt)
    has_at = [any(t.kind == "at" for t in _tokens(sec)) for sec in sections]
    text_sec: str | None = None
    numeric = sections[:3]
    if len(sections) >= 4:
        text_sec = sections[3]
    elif len(sections) > 1 and has_at[-1]:
        text_sec, numeric = sections[-1], sections[:-1]
    elif has_at[0]:
        if any(t.kind in ("digit", "date", "elapsed") for t in _tokens(sections[0])):
            return ExcelError("#VALUE!", "the format mixes @ with number codes")
        text_sec, numeric = sections[0], []
    parsed = [_tokens(sec) for sec in numeric]
    if any(t.kind == "at" for toks in parsed for t in toks):
        return ExcelError("#VALUE!", "@ in a number section of the format")
    return parsed, text_sec


def _show(x: float, parsed: list[list[_Tok]]) -> str:
    if not parsed:
        raise Unsupported("General")
    if len(parsed) == 1:
        toks, auto_minus = parsed[0], True
    elif len(parsed) == 2:
        toks, auto_minus = (parsed[1] if x < 0 else parsed[0]), False
    else:
        toks, auto_minus = (parsed[0] if x > 0 else parsed[1] if x < 0 else parsed[2]), False
    if not _is_date(toks):
        body, zero = _number(abs(x), toks)
        return "-" + body if auto_minus and x < 0 and not zero else body
    y = -x if x < 0 and not auto_minus else x
    codes = [t for t in toks if t.kind in ("date", "elapsed", "ampm", "point", "digit")]
    if len(codes) == 1 and codes[0].kind == "elapsed":
        # one elapsed code alone ([h], [m], [s]) counts like a number: a minus, any size
        return ("-" if y < 0 else "") + _date(abs(y), toks)
    _check_date(y)
    return _date(y, toks)


#: A section's condition, ``[<10]``, ``[>= 2.5]`` (spaces allowed), and its comparison.
_CONDITION = re.compile(r"\[\s*(<=|>=|<>|<|>|=)\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*\]")
_COMPARE = {
    "<": float.__lt__,
    ">": float.__gt__,
    "<=": float.__le__,
    ">=": float.__ge__,
    "=": float.__eq__,
    "<>": float.__ne__,
}


def _conditional(fmt: str, x: float) -> str | None:
    """TEXT of a number under a format of one section with a condition (``[<10]0 "Wow"``); None
    when the format has no condition.

    Microsoft, "Number format codes": a condition in brackets applies the section only to
    numbers meeting it. With one section, a number meeting it is shown by that section (a minus
    before a negative one, as for any one section); a number that does not is shown in General
    (Excel's cached values on an unseen book: 10 under ``[<10]# "Wow"`` is ``10``, 1.5 is
    ``2 Wow``). Only whole numbers below 1E11 are written in General here (their digits); other
    numbers, and formats of several sections with conditions, are left to the formula engine
    (:class:`Unsupported`).
    """
    sections = split_sections(fmt)
    found = [_CONDITION.search(sec) for sec in sections]
    if not any(found):
        return None
    m = found[0]
    if len(sections) != 1 or m is None:
        raise Unsupported("conditions in a format of several sections")
    if _COMPARE[m.group(1)](x, float(m.group(2))):
        return _show(x, [_tokens(sections[0][: m.start()] + sections[0][m.end() :])])
    if x == int(x) and abs(x) < 1e11:
        return str(int(x))
    raise Unsupported("General")


def render(value: Any, fmt: str) -> str | ExcelError:
    """TEXT(value, fmt); :class:`Unsupported` where the formula engine should answer."""
    if isinstance(value, ExcelError):
        return value
    if isinstance(value, bool):
        if "@" in fmt:
            raise Unsupported("a logical value with a text section")
        return "TRUE" if value else "FALSE"
    spec = _sections(fmt)
    if isinstance(spec, ExcelError):
        return spec
    parsed, text_sec = spec
    if isinstance(value, str):
        num = text_number(value)
        if num is None:
            if text_sec is None:
                return value
            return "".join(value if t.kind == "at" else _literal(t, "lit") for t in _tokens(text_sec))
        value = num
    x = 0.0 if value is None else float(value)
    if not math.isfinite(x):
        return ExcelError("#NUM!")
    conditional = _conditional(fmt, x)
    if conditional is not None:
        return conditional
    try:
        return _show(x, parsed)
    except ValueError as exc:
        return ExcelError("#VALUE!", str(exc))


__all__ = ["Unsupported", "render", "split_sections", "text_number"]
