"""Excel's number formats, as the TEXT function renders them.

Sources: Microsoft, "Number format codes", "Review guidelines for customizing a number format",
"TEXT function", "Display numbers in scientific (exponential) notation", "Display numbers as
fractions", "Format numbers as dates or times", "Available number formats" (General); where they
are silent, Excel's cached values (the corpus' pycel text.xlsx, IronCalc TEXT.xlsx and formulas'
test.xlsx; Apache POI's format test books in the unseen holdout), named at each rule.

* up to four sections ``positive;negative;zero;text``; one numeric section puts a minus before a
  negative number whose shown value is not zero; two sections give zero the first; a last
  section holding ``@`` (the second, third or fourth) is the text section, the fourth is it even
  without ``@``, and ``@`` anywhere else makes the format invalid (#VALUE!); a logical is text
  to TEXT (the text section shows it);
* conditions ``[<10]``, ``[>=5]``, ``[<>3]`` (spaces allowed) choose sections: the first whose
  condition holds, a second without a condition for the rest, a third for what neither takes;
  one section whose condition fails leaves the number to General; a negative number in a
  section chosen so is written with its minus unless only negative numbers can reach that
  section (``[<0]"neg"0;0`` of -3 is ``neg3``, ``[>=1]0;0`` of -2 is ``-2``);
* a section of only a colour and/or a condition (``[Red][<=100]``) shows the number in General;
  a section that is really empty (``;;``) shows nothing;
* digit placeholders ``0``, ``#``, ``?`` (a space, and a space for a separator between two of
  them); the first ``.`` is the decimal point and any later one a literal; a comma groups between
  placeholders, scales by 1,000 at the end or right before the point, and is dropped otherwise;
  ``%`` multiplies by 100; values are rounded half away from zero on their 15 significant digits;
* ``General``: at most 11 characters, scientific notation with up to 5 decimals past that;
* scientific ``E+``/``E-`` (``e`` too): the exponent a multiple of the integer placeholders,
  the sign right before the exponent's digits; fractions ``# ?/?``, ``?/8``, ``# ??/??`` (the
  nearest fraction, or a fixed denominator), literals around the bar allowed;
* literals: ``"text"``, ``\\c``, ``_c`` (a space), ``*c`` (a fill, nothing in TEXT), colours,
  ``[$€-2]`` (the symbol; English locale ids, others only for numbers), other characters;
* dates and times on Excel's 1900 calendar (serial 60 is 29 February 1900): ``y yy yyyy m mm
  mmm mmmm mmmmm d dd ddd dddd h hh m mm s ss`` (``m`` is minutes after an hour or a second or
  before a second), ``AM/PM`` (any case) and ``A/P``, elapsed ``[h] [mm] [ss]`` (a plain code of
  the same unit shows the elapsed count too), fractions of a second (``ss.000``); a negative
  serial or one past 9999-12-31 is #VALUE!, except for one elapsed code alone.

What is left raises :class:`Unsupported` and the formula engine answers: era and Buddhist years
(``e`` alone, ``g``, ``B1``/``B2``), ``[DBNum]``/``[NatNum]``, other calendars in a locale tag,
non-English month names, General beside digit placeholders, two conditional sections that
both fail with no third section.

The work is linear in the format's length (Excel allows 32,767 characters): every pass over the
tokens is one pass, and no regular expression can backtrack over a run twice.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
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
    r"|(?P<ampm>(?i:am/pm)|A/P|a/p)|(?P<date>[yY]+|[mM]+|[dD]+|[hH]+|[sS]+)"
    r"|(?P<general>(?i:general))|(?P<exp>[eE][+-])|(?P<digit>[0#?])|(?P<point>\.)|(?P<comma>,)|(?P<percent>%)"
    r"|(?P<at>@)|(?P<unsupported>[eEbBgG])|(?P<lit>.)",
    re.S,
)
_SIMPLE = {"digit", "point", "comma", "percent", "at", "exp"}
_GENERAL = [_Tok("general", "General")]


_COND = re.compile(r"\s*(<=|>=|<>|<|>|=)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*")
#: Windows locale ids whose month and day names are the English ones this module writes.
_ENGLISH = {0x0000, 0x0409, 0x0809, 0x0C09, 0x1009, 0x1409, 0x1809, 0x1C09, 0x2009, 0x2409, 0x2809, 0x2C09, 0x3009}


def _bracket(text: str) -> _Tok | None:
    """A ``[...]`` code: elapsed time, a condition, a currency/locale tag or a colour.

    Microsoft, "Number format codes": ``[h]``/``[m]``/``[s]`` elapsed time, ``[>100]`` a
    condition, ``[Red]``/``[Color10]`` a colour, ``[$€-2]`` a currency symbol with a locale id.
    """
    b = text.lower()
    if re.fullmatch(r"h+|m+|s+", b):
        return _Tok("elapsed", b)
    if _COND.fullmatch(text):
        return _Tok("cond", text)
    if b.startswith("$"):
        symbol, _, locale = text[1:].partition("-")
        try:
            lcid = int(locale, 16) if locale else 0
        except ValueError:
            raise Unsupported(text) from None
        if lcid >> 16 or lcid in (0xF800, 0xF400):
            raise Unsupported(text)  # another calendar or numeral system, or the system's long date/time
        return _Tok("locale" if lcid & 0xFFFF not in _ENGLISH else "lit", symbol)
    if b.isalpha() or re.fullmatch(r"color\d+", b):
        return None  # a colour
    raise Unsupported(text)  # DBNum, NatNum and other codes


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
    if kind == "ampm":
        # am/pm in any case is written AM or PM (DateFormatTests' cached values); A/P and a/p keep their case
        return _Tok("ampm", "AM/PM" if len(text) == 5 else text)
    if kind == "general":
        return _Tok("general", text)
    if kind == "bracket":
        return _bracket(text)
    # era and Buddhist years (e, g, b1, b2)
    raise Unsupported(text)


def _tokens(section: str) -> list[_Tok]:
    return [t for t in (_token(m) for m in _TOKEN.finditer(section)) if t is not None]


def _is_date(toks: list[_Tok]) -> bool:
    return any(t.kind in ("date", "elapsed", "ampm") for t in toks)


# ----------------------------------------------------------------------------- numbers


def _round(x: float | Decimal, places: int) -> Decimal:
    d = Decimal(f"{x:.15g}")
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _comma_roles(toks: list[_Tok], point: int | None, scientific: bool = False) -> dict[int, str]:
    """What each comma does. After a placeholder (or such a comma) it groups when a placeholder
    follows at once, scales by 1,000 when no placeholder follows at all or when its run of commas
    stands right before the decimal point (``#,.#,`` of 9876543 is ``9.9``, NumberFormatTests' rule),
    and vanishes otherwise; after anything else it is a literal. In a scientific mantissa a comma
    never scales (NumberFormatApproxTests' rule: ``#,e-#`` of 987654.321 is ``1e6``).

    One pass from the right finds, for every position, whether its run of commas ends at the
    point and whether a placeholder follows; one pass from the left assigns the roles, so the
    work is linear in the number of tokens (an outside audit timed the earlier rescans at 16 s
    for a format of 32,767 commas)."""
    n = len(toks)
    before_point = [False] * n  # the run of commas starting here ends right before the point
    digit_after = [False] * n  # a placeholder stands somewhere after this position
    seen_digit, next_is_point = False, False
    for k in range(n - 1, -1, -1):
        digit_after[k] = seen_digit
        kind = toks[k].kind
        if kind == "comma":
            before_point[k] = next_is_point
        else:
            next_is_point = kind == "point"
        seen_digit = seen_digit or kind == "digit"
    role: dict[int, str] = {}
    for k, t in enumerate(toks):
        if t.kind != "comma":
            continue
        prev = toks[k - 1] if k else None
        if prev is None or not (prev.kind == "digit" or (prev.kind == "comma" and role.get(k - 1) != "lit")):
            role[k] = "lit"
        elif not scientific and (before_point[k] or not digit_after[k]):
            role[k] = "scale"
        elif k + 1 < n and toks[k + 1].kind == "digit" and (point is None or k < point):
            role[k] = "group"
        else:
            role[k] = "drop"
    return role


def _literal(t: _Tok, role: str | None) -> str:
    if t.kind == "at":
        raise ValueError("@ in a number section")
    if t.kind == "comma":
        return "," if role == "lit" else ""
    if t.kind in ("general", "exp", "cond", "unsupported"):
        raise Unsupported(t.text)  # a code this module does not know, or where it cannot place it
    return t.text


def _pad(ph: str) -> tuple[str, str] | None:
    return ("d", "0") if ph == "0" else ("p", " ") if ph == "?" else None


def _integer(toks: list[_Tok], digits: str, role: dict[int, str], has_point: bool) -> list[tuple[str, str]]:
    """The integer part as items right to left: ("d", digit), ("p", a ? pad) or ("l", literal).
    Placeholders take digits from the right, the leftmost one all that remain."""
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
    """Items joined left to right, a thousands separator every third position; a separator
    between two ``?`` pads is a space (NumberFormatTests' rule: ``?,?????????`` of 7654321 is
    ``"    7,654,321"``, the fourth space the separator's)."""
    out: list[str] = []
    seen = 0
    for kind, text in items:
        if kind in ("d", "p"):
            seen += 1
            if group and seen > 3 and seen % 3 == 1:
                out.append("," if kind == "d" else " ")
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


def _number(x: float | Decimal, toks: list[_Tok], scientific: bool = False) -> tuple[str, bool]:
    """A non-negative number in one numeric section, and whether it shows as zero (rounded to
    the section's decimals and scaled as it is), which decides a single section's minus.

    ``scientific``: ``toks`` is the mantissa of a scientific format, already scaled: no percent
    or comma scaling, and a zero mantissa shows every integer placeholder as 0 (what Excel's
    cached values show in NumberFormatApproxTests: ``??.??E-?`` of 0 is ``00.  E0``).
    """
    point = next((k for k, t in enumerate(toks) if t.kind == "point"), None)
    role = _comma_roles(toks, point, scientific)
    scale = sum(r == "scale" for r in role.values())
    pct = 0 if scientific else sum(t.kind == "percent" for t in toks)
    int_toks = toks if point is None else toks[:point]
    dec_toks = [] if point is None else toks[point + 1 :]
    places = sum(t.kind == "digit" for t in dec_toks)
    # scaleb moves the decimal exponent: exact, and linear in the count of % and commas (a
    # power 1000**scale of a 32,000-comma format is a 96,000-digit integer)
    d = _round(Decimal(f"{x:.15g}").scaleb(2 * pct - 3 * scale), places)
    int_str, _, frac = format(d, "f").partition(".")
    int_digits = int_str.lstrip("0")
    if scientific and d == 0:
        int_digits = "0" * max(1, sum(t.kind == "digit" for t in int_toks))
    items = _integer(int_toks, int_digits, role, point is not None)
    text = _grouped(items, "group" in role.values())
    if point is not None:
        text += "." + _decimals(dec_toks, frac.ljust(places, "0")[:places], role, point + 1)
    return text, d == 0


def _is_fraction(toks: list[_Tok]) -> int | None:
    """The index of a fraction's ``/``: a literal ``/`` with a digit placeholder somewhere
    before it and a placeholder or a denominator's digit after it, only literals between
    (NumberFormatTests' rule: ``# ?=/=?`` of 0.75 is `` 3=/=4``, ``=/=`` its bar).

    One pass: the last code before each ``/`` is carried along, the first code after it is
    found by one forward scan shared by every ``/`` (linear in the tokens)."""
    last_code: _Tok | None = None
    no_bar_until = 0  # a / before this index shares a failed scan's first code: not a bar
    for k, t in enumerate(toks):
        if t.kind == "lit" and t.text == "/" and k >= no_bar_until and last_code is not None and last_code.kind == "digit":
            j = k + 1
            while j < len(toks) and toks[j].kind == "lit" and not toks[j].text.isdigit():
                j += 1
            if j < len(toks) and (toks[j].kind == "digit" or toks[j].text.isdigit()):
                return k
            no_bar_until = j  # every / up to j meets the same first code after it
        if t.kind != "lit":
            last_code = t
    return None


def _denominator(q: int, den_toks: list[_Tok], fixed: bool) -> str:
    """A denominator: written digits as they are; 0 placeholders pad it on the left
    (NumberFormatTests' rule: ``#/000`` of 0.75 is ``3/004``), ? placeholders with spaces on the right."""
    if fixed:
        return str(q)
    if all(t.text == "0" for t in den_toks):
        return str(q).zfill(len(den_toks))
    return str(q) + "".join(" " if t.text == "?" else "0" if t.text == "0" else "" for t in den_toks[len(str(q)) :])


def _fraction(x: float, toks: list[_Tok], slash: int) -> tuple[str, bool]:
    """``# ?/?``, ``# ??/??``, ``?/8`` (Microsoft, "Display numbers as fractions", "Number format
    codes").

    Notes
    -----
    With an integer part the fraction is ``x - floor(x)``, without one ``x`` itself (improper).
    ``n`` denominator placeholders allow any denominator up to ``10**n - 1`` and the nearest
    fraction is taken (:meth:`fractions.Fraction.limit_denominator`); written digits fix the
    denominator and the numerator is rounded half up. A zero fraction beside an integer part is
    blanked: spaces where the fraction has a ``?`` (the width kept), nothing otherwise.
    """
    from fractions import Fraction

    def den_digit(t: _Tok) -> bool:
        return t.kind == "digit" or (t.kind == "lit" and t.text.isdigit())

    d0 = next(j for j in range(slash + 1, len(toks)) if den_digit(toks[j]))
    j = d0
    while j < len(toks) and den_digit(toks[j]):
        j += 1
    den_toks, tail = toks[d0:j], toks[j:]
    n1 = max(k for k in range(slash) if toks[k].kind == "digit") + 1
    i = n1
    while i > 0 and toks[i - 1].kind == "digit":
        i -= 1
    num_toks = toks[i:n1]
    bar = "".join(_literal(t, "lit") for t in toks[n1:d0])
    head = toks[:i]
    int_at = [k for k, t in enumerate(head) if t.kind == "digit"]
    if any(t.kind in ("point", "percent", "exp", "general", "digit") for t in tail) or any(
        t.kind in ("point", "percent", "exp", "general") for t in head
    ):
        raise Unsupported("a fraction with decimals, percent or exponent")
    fixed = None if all(t.kind == "digit" for t in den_toks) else int("".join(t.text for t in den_toks))
    if fixed == 0:
        raise ValueError("a fraction over 0")
    d = Decimal(f"{x:.15g}")
    whole = int(d) if int_at else 0
    frac = d - whole
    if fixed is not None:
        q = fixed
        p = int((frac * q).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    else:
        f = Fraction(frac).limit_denominator(10 ** len(den_toks) - 1)
        p, q = f.numerator, f.denominator
    if int_at and p == q:
        whole, p = whole + 1, 0
    role = _comma_roles(head, None)
    lead = head[: int_at[-1] + 1] if int_at else head
    between = head[int_at[-1] + 1 :] if int_at else []
    int_text = _grouped(_integer(lead, str(whole) if whole else "", role, False), "group" in role.values()) if int_at else ""
    if not int_at:
        int_text = "".join(_literal(t, "lit") for t in head)
    shown_zero = whole == 0 and p == 0
    sep = "".join(_literal(t, "lit") for t in between)
    end = "".join(_literal(t, "lit") for t in tail)
    ph = "".join(head[k].text for k in int_at) + "".join(t.text for t in num_toks)
    den = _denominator(q, den_toks, fixed is not None)
    if int_at and p == 0:
        # a whole number (NumberFormatTests' cached values): with a 0 in the numerator the
        # fraction is written 0/1, a zero integer part blank (its ? as 0s) and the literal before
        # the numerator with it; else the fraction is blanked, as spaces if any placeholder is ?
        if "0" in (t.text for t in num_toks):
            int_text = "".join(
                "0" if kind == "p" and whole == 0 else text
                for kind, text in reversed(_integer(lead, str(whole) if whole else "", role, False))
            )
            if not any(ch.isdigit() for ch in int_text):
                sep = ""
            num = _grouped(_integer(num_toks, "0", {}, False), False)
            den = _denominator(1 if fixed is None else q, den_toks, fixed is not None)
            return int_text + sep + num + bar + den + end, shown_zero
        if whole == 0:
            int_text = _grouped(_integer(lead, "0", role, False), False)
        width = len(sep) + len(num_toks) + len(bar) + len(den_toks)
        blank = " " * width if "?" in ph + "".join(t.text for t in den_toks) else ""
        return int_text + blank + end, shown_zero
    num = _grouped(_integer(num_toks, str(p) if p else "0", {}, False), False)
    if int_at and whole == 0 and not any(ch.isdigit() for ch in int_text):
        # an integer part of 0 shown blank takes the literal before the numerator with it: as
        # spaces where a placeholder before the bar is ?, else away (NumberFormatTests)
        sep = " " * len(sep) if "?" in ph else ""
    return int_text + sep + num + bar + den + end, shown_zero


def _scientific(x: float, toks: list[_Tok]) -> tuple[str, bool]:
    """``0.00E+00`` and its kin (Microsoft, "Display numbers in scientific (exponential)
    notation" and "Number format codes": ``E+`` writes the exponent's sign always, ``E-`` only
    when negative; ``##0.0E+0`` makes the exponent a multiple of the integer placeholders).

    Notes
    -----
    With ``n`` integer placeholders the exponent is a multiple of ``n`` (``n`` > 1) or the
    mantissa has one integer digit; the mantissa is rounded to the decimals, and a mantissa that
    rounds up to ``10**n`` moves the exponent one step. The sign stands right before the
    exponent's first digit, after any literal between ``E+`` and it, and ``#`` writes at least one
    exponent digit (NumberFormatApproxTests' rule: ``#|e+|#`` of 987654.321 is ``1|e|+6``).
    """
    k = next(i for i, t in enumerate(toks) if t.kind == "exp")
    mant, exp_toks = toks[:k], toks[k + 1 :]
    if any(t.kind == "exp" for t in exp_toks) or not any(t.kind == "digit" for t in exp_toks):
        raise ValueError("a scientific format needs one exponent with digit placeholders")
    point = next((i for i, t in enumerate(mant) if t.kind == "point"), None)
    int_ph = sum(t.kind == "digit" for t in (mant if point is None else mant[:point]))
    places = sum(t.kind == "digit" for t in mant[point + 1 :]) if point is not None else 0
    step = max(int_ph, 1)
    d = Decimal(f"{x:.15g}")
    exponent = 0
    m = Decimal(0)
    if d != 0:
        e = d.adjusted()
        exponent = (e // int_ph) * int_ph if int_ph > 1 else e - int_ph + 1
        m = _round(d.scaleb(-exponent), places)
        if m >= 10**int_ph:
            exponent += step
            m = _round(d.scaleb(-exponent), places)
    body, _ = _number(m, mant, scientific=True)
    first = next(i for i, t in enumerate(exp_toks) if t.kind == "digit")
    sign = "-" if exponent < 0 else "+" if toks[k].text[1] == "+" else ""
    role = {i: "drop" for i, t in enumerate(exp_toks) if t.kind == "comma"}
    head = "".join(_literal(t, "lit") for t in exp_toks[:first])
    tail = exp_toks[first:]
    tail_role = {i - first: r for i, r in role.items() if i >= first}
    digits = _grouped(_integer(tail, str(abs(exponent)), tail_role, False), False)
    return body + toks[k].text[0] + head + sign + digits, m == 0


def general(x: float) -> str:
    """``General`` as TEXT writes it (Microsoft, "Available number formats": General "uses
    scientific (exponential) notation for large numbers (12 or more digits)").

    Notes
    -----
    What GeneralFormatTests' cached values show: at most 11 characters besides the minus; a
    number whose integer part fits is written in decimals rounded to what the 11 characters leave
    (``-3.14159265358979`` is ``-3.141592654``, 2E-9 is ``0.000000002``), else in scientific
    notation with at most 5 decimals and a 2-digit exponent (``9.87654E+11``, ``2E-10``). Where both fit,
    the scientific form is used only when it shows more significant digits (our reading: the
    books never show a tie broken the other way).
    """
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = Decimal(f"{abs(x):.15g}")
    e = d.adjusted()
    fixed: str | None = None
    if -10 < e < 11:
        places = max(0, 10 - max(e, 0) - 1) if e >= 0 else 9
        q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        text = format(q, "f")
        text = text.rstrip("0").rstrip(".") if "." in text else text
        if len(text) <= 11 and q != 0:
            fixed = text
    s = _round(d.scaleb(-e), 5)
    if s >= 10:
        e += 1
        s = _round(d.scaleb(-e), 5)
    mant = format(s, "f").rstrip("0").rstrip(".")
    sci = f"{mant}E{'-' if e < 0 else '+'}{abs(e):02d}"
    if fixed is not None:
        sig_fixed = len(fixed.replace(".", "").lstrip("0").rstrip("0") or "0")
        sig_sci = len(mant.replace(".", "").rstrip("0") or "0")
        if sig_sci <= sig_fixed:
            return sign + fixed
    return sign + sci


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


def _elapsed(unit: str, clock: _Clock) -> int:
    return {"h": clock.total_s // 3600, "m": clock.total_s // 60, "s": clock.total_s}[unit]


def _date_code(c: str, clock: _Clock, minute: bool, twelve: bool, elapsed: set[str]) -> str:
    """One date or time code. A plain ``h``, ``m`` (minutes) or ``s`` of a unit that the format
    also shows elapsed (``[h]``) shows the elapsed count too (ElapsedFormatTests' rule:
    ``[h]" h, that is "h`` of 1.5 is ``36 h, that is 36``)."""
    n = len(c)
    if c[0] == "y":
        return f"{clock.year % 100:02d}" if n <= 2 else f"{clock.year:04d}"
    if c[0] == "m" and n <= 2 and minute:
        return f"{_elapsed('m', clock) if 'm' in elapsed else clock.minute:0{n}d}"
    if c[0] == "m":
        name = _MONTHS[clock.month - 1]
        # mmmmm is the initial; six or more m the full name again (formulas' test.xlsx: mmmmmm of 130 is May)
        return [str(clock.month), f"{clock.month:02d}", name[:3], name, name[0], name][min(n, 6) - 1]
    if c[0] == "d" and n <= 2:
        return f"{clock.mday:0{n}d}"
    if c[0] == "d":
        wd = _DAYS[(clock.day + 5) % 7]  # serial 1 is a Sunday and the cycle never breaks
        return wd[:3] if n == 3 else wd
    if c[0] == "h":
        h = _elapsed("h", clock) if "h" in elapsed else (clock.hour % 12 or 12) if twelve else clock.hour
        return f"{h:0{min(n, 2)}d}"
    return f"{_elapsed('s', clock) if 's' in elapsed else clock.second:0{min(n, 2)}d}"


def _date(v: float, toks: list[_Tok]) -> str:
    places = _subsecond_places(toks)
    clock = _Clock.of(v, places)
    twelve = any(t.kind == "ampm" for t in toks)
    elapsed = {t.text[0] for t in toks if t.kind == "elapsed"}
    if any(t.kind == "locale" for t in toks) and any(
        t.kind == "ampm" or (t.kind == "date" and t.text[0] in "md" and len(t.text) > 2) for t in toks
    ):
        raise Unsupported("month or day names in another language")
    codes = [k for k, t in enumerate(toks) if t.kind in ("date", "elapsed")]
    position = {k: pos for pos, k in enumerate(codes)}  # a dict, not codes.index: linear work
    out: list[str] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        if t.kind == "date":
            pos = position[k]
            prev = toks[codes[pos - 1]].text[0] if pos else ""
            nxt = toks[codes[pos + 1]].text[0] if pos + 1 < len(codes) else ""
            # m is minutes after an hour, before a second (Microsoft) or after a second
            # (ElapsedFormatTests' rule: s:m of 0.0455 is 31:5)
            out.append(_date_code(t.text, clock, prev in ("h", "s") or nxt == "s", twelve, elapsed))
        elif t.kind == "elapsed":
            out.append(f"{_elapsed(t.text[0], clock):0{len(t.text)}d}")
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
        elif t.kind in ("digit", "exp", "general", "percent"):
            raise Unsupported("number codes in a date format")
        else:
            out.append(_literal(t, "lit"))
        k += 1
    return "".join(out)


# ----------------------------------------------------------------------------- values

_NUM = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
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


@dataclass(frozen=True)
class _Section:
    """One numeric section: its tokens (without the condition) and its condition, if any."""

    toks: list[_Tok]
    cond: tuple[str, float] | None


def _safe_tokens(text: str) -> list[_Tok]:
    """The tokens of a section; a code this module does not know makes the section one
    ``unsupported`` token, which raises :class:`Unsupported` only if the section is chosen (a
    condition or a sign may choose another: the formulas test book's ``[<=1]x;[<=2]a;b`` of 1
    is ``x``). Its conditions are kept (read from the same tokenizer's brackets, one pass)."""
    try:
        return _tokens(text)
    except Unsupported as exc:
        conds = [
            _Tok("cond", m.group("bracket"))
            for m in _TOKEN.finditer(text)
            if m.lastgroup == "bracket" and _COND.fullmatch(m.group("bracket"))
        ]
        return [*conds, _Tok("unsupported", str(exc))]


#: a section of only bracket codes: colours, a condition (the tokenizer kept nothing else).
_ONLY_BRACKETS = re.compile(r"(?:\s*\[[^\]]*\])+\s*")


def _section(text: str) -> _Section:
    toks = _safe_tokens(text)
    conds = [t for t in toks if t.kind == "cond"]
    if len(conds) > 1:
        raise ValueError("more than one condition in a section")
    cond = None
    if conds:
        m = _COND.fullmatch(conds[0].text)
        assert m is not None  # the token was made from this pattern
        cond = (m.group(1), float(m.group(2)))
    kept = [t for t in toks if t.kind != "cond"]
    if not kept and _ONLY_BRACKETS.fullmatch(text):
        # Microsoft, "Number format codes": [Red][<=100];[Blue][>100] shows numbers <= 100 in
        # red and the rest in blue, so a section of only a colour and/or a condition shows the
        # number in General; a section that is really empty (;; hides values) shows nothing
        kept = _GENERAL
    return _Section(kept, cond)


def _sections(fmt: str) -> tuple[list[_Section], str | None] | ExcelError:
    """The numeric sections and the text section of a format."""
    sections = split_sections(fmt)
    if len(sections) > 4:
        return ExcelError("#VALUE!", "a format has at most four sections")
    has_at = [any(t.kind == "at" for t in _safe_tokens(sec)) for sec in sections]
    text_sec: str | None = None
    numeric = sections[:3]
    if len(sections) >= 4:
        text_sec = sections[3]
    elif len(sections) > 1 and has_at[-1]:
        text_sec, numeric = sections[-1], sections[:-1]
    elif has_at[0]:
        if any(t.kind in ("digit", "date", "elapsed", "general", "exp") for t in _safe_tokens(sections[0])):
            return ExcelError("#VALUE!", "the format mixes @ with number codes")
        text_sec, numeric = sections[0], []
    try:
        parsed = [_section(sec) for sec in numeric]
    except ValueError as exc:
        return ExcelError("#VALUE!", str(exc))
    if any(t.kind == "at" for sec in parsed for t in sec.toks):
        return ExcelError("#VALUE!", "@ in a number section of the format")
    return parsed, text_sec


_TESTS = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "=": lambda a, b: a == b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<>": lambda a, b: a != b,
}


def _route(x: float, parsed: list[_Section]) -> int | None:
    """The index of the section a condition-bearing format sends ``x`` to; -1 for General, None
    where no section takes it.

    Microsoft, "Number format codes": conditions in brackets choose sections
    (``[Red][<=100];[Blue][>100]``). The first section whose condition holds shows the value; a
    second section without a condition takes the rest; a third takes what neither takes; one
    section whose condition fails leaves the value to General (FormatConditionTests' rule:
    ``[<5]0" small"`` of 7 is ``7``).
    """
    for i, sec in enumerate(parsed[:2]):
        if sec.cond is not None and _TESTS[sec.cond[0]](x, sec.cond[1]):
            return i
    if len(parsed) == 2 and parsed[1].cond is None:
        return 1
    if len(parsed) >= 3:
        return 2
    if len(parsed) == 1:
        return -1
    return None


def _only_negatives_reach(index: int, parsed: list[_Section]) -> bool:
    """Whether every number the conditions send to section ``index`` is negative.

    Notes
    -----
    The route is constant between the conditions' thresholds, so it is enough to try the
    non-negative candidates 0, every threshold and its two neighbouring doubles, and the
    largest double: if none reaches the section, no number >= 0 does.
    """
    candidates = {0.0, math.inf}
    for sec in parsed:
        if sec.cond is not None:
            t = sec.cond[1]
            candidates.update((t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)))
    return not any(_route(c, parsed) == index for c in candidates if c >= 0)


def _choose(x: float, parsed: list[_Section]) -> tuple[list[_Tok], bool]:
    """The section that shows ``x`` and whether a minus is written before it.

    Microsoft, "Number format codes": sections are positive;negative;zero; one numeric
    section writes the minus itself. With conditions (:func:`_route`) a negative number in a
    section writes its minus unless only negative numbers can reach that section: Excel 2019's
    values reported in SheetJS issues 2594 and 2573 (``[>=-1]0;0`` of -2 is ``2``, ``[>=1]0;0``
    of -2 is ``-2``, ``[<=-25]General;...`` of -25 is ``25``) and Apache POI pull request 229
    (``[<-10]#" Wow"`` of -20 is ``20 Wow``, ``[>-10]#" Wow"`` of -5 is ``-5 Wow``, both by
    TEXT in Excel). LibreOffice emulates the case of a threshold 0 (``[<0]``): its formatter's
    "real negative" subformats (svl zformat, ``IsFirstSubformatRealNegative``). General, where
    one failing condition leaves the number, writes its own minus.
    """
    if not parsed:
        return _GENERAL, True
    if any(sec.cond is not None for sec in parsed):
        index = _route(x, parsed)
        if index is None:
            raise Unsupported("no condition holds")
        if index == -1:
            return _GENERAL, True
        return parsed[index].toks, x < 0 and not _only_negatives_reach(index, parsed)
    if len(parsed) == 1:
        return parsed[0].toks, True
    if len(parsed) == 2:
        return (parsed[1].toks if x < 0 else parsed[0].toks), False
    return (parsed[0].toks if x > 0 else parsed[1].toks if x < 0 else parsed[2].toks), False


def _numeric(x: float, toks: list[_Tok]) -> tuple[str, bool]:
    """A non-negative number in a numeric section: General, scientific, fraction or decimal."""
    if any(t.kind == "general" for t in toks):
        k = next(i for i, t in enumerate(toks) if t.kind == "general")
        rest = toks[:k] + toks[k + 1 :]
        if any(t.kind in ("digit", "exp", "general", "point", "percent") for t in rest):
            raise Unsupported("General beside number codes")
        lit = [_literal(t, "lit") for t in toks[:k]], [_literal(t, "lit") for t in toks[k + 1 :]]
        return "".join(lit[0]) + general(x) + "".join(lit[1]), x == 0
    if any(t.kind == "exp" for t in toks):
        return _scientific(x, toks)
    slash = _is_fraction(toks)
    if slash is not None:
        return _fraction(x, toks, slash)
    return _number(x, toks)


def _show(x: float, parsed: list[_Section]) -> str:
    toks, auto_minus = _choose(x, parsed)
    if not _is_date(toks):
        body, zero = _numeric(abs(x), toks)
        return "-" + body if auto_minus and x < 0 and not zero else body
    y = -x if x < 0 and not auto_minus else x
    codes = [t for t in toks if t.kind in ("date", "elapsed", "ampm", "point", "digit")]
    if len(codes) == 1 and codes[0].kind == "elapsed":
        # one elapsed code alone ([h], [m], [s]) counts like a number: a minus, any size. Any
        # other code beside it makes a negative value #VALUE! in Excel 16 (pycel's text.xlsx:
        # [h]:m of -1); Mac Excel 2008 wrote the minus and the time there (POI's ElapsedFormatTests, not
        # followed: the current Excel is the reference)
        return ("-" if y < 0 else "") + _date(abs(y), toks)
    _check_date(y)
    return _date(y, toks)


def _text_section(text: str, sec: str) -> str:
    return "".join(text if t.kind == "at" else _literal(t, "lit") for t in _tokens(sec))


def render(value: Any, fmt: str) -> str | ExcelError:
    """TEXT(value, fmt); :class:`Unsupported` where the formula engine should answer.

    Any format either renders, or is an :class:`ExcelError` (#VALUE! for a format Excel
    refuses), or raises :class:`Unsupported` (a code this module does not know): never another
    exception.
    """
    if isinstance(value, ExcelError):
        return value
    with localcontext() as ctx:
        # exact decimal arithmetic for any double and any number of placeholders: 309 integer
        # digits at most, and a format is at most 32,767 characters (1E+20 with "0.000000000"
        # needs 30 digits, past decimal's default 28)
        ctx.prec = 40_000
        return _render(value, fmt)


def _render(value: Any, fmt: str) -> str | ExcelError:
    try:
        spec = _sections(fmt)
        if isinstance(spec, ExcelError):
            return spec
        parsed, text_sec = spec
        if isinstance(value, bool):
            # a logical is text to TEXT: the text section shows it (TextFormatTests' rule: TRUE in
            # ;;;"x" is x, in ;;;-@- is -TRUE-), else it is written as is
            word = "TRUE" if value else "FALSE"
            return word if text_sec is None else _text_section(word, text_sec)
        if isinstance(value, str):
            num = text_number(value)
            if num is None:
                return value if text_sec is None else _text_section(value, text_sec)
            value = num
        x = 0.0 if value is None else float(value)
        if not math.isfinite(x):
            return ExcelError("#NUM!")
        return _show(x, parsed)
    except ValueError as exc:
        return ExcelError("#VALUE!", str(exc))
    except (ArithmeticError, IndexError, KeyError, StopIteration) as exc:
        # a format this module misreads must never take the sheet down: the engine answers
        raise Unsupported(f"{fmt!r}: {exc}") from exc


__all__ = ["Unsupported", "general", "render", "split_sections", "text_number"]
