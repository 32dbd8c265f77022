"""CHAR and CODE in the character set of the platform that saved the book.

Microsoft, "CHAR function" and "CODE function": the character (or the code) "is from the
character set used by your computer": the *Macintosh character set* on a Mac, *ANSI*
(Windows-1252 in the Western locales) on Windows. A book's cached values are those of the
Excel that last computed it, which is the one that saved it: ``docProps/app.xml`` names it in
``<Application>`` ("Microsoft Macintosh Excel" on a Mac; "Microsoft Excel", "Microsoft Excel
Online", "Excel Android" elsewhere). A book without that part (openpyxl, XlsxWriter,
LibreOffice may leave it out or name themselves) is read as Windows, Excel's most common
platform, and :attr:`~addin.headless.package.Package.application` keeps what the file said.

Formulas' function test book (saved by Excel for Mac) caches ``CHAR(128)`` as "Ä" and
``UNICODE(CHAR(128))`` as 196: Mac OS Roman, the table of Python's ``mac_roman`` codec, which
matches all 255 of that book's cached CHAR cells (and its CODE and UNICODE cells of them).

IronCalc 0.9.1 computes both in Windows-1252 whatever the book: its CHAR is Windows' table,
including the five bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D), which it
maps to the C1 control characters of the same number, as Windows' own conversion
(``MultiByteToWideChar``) does; no Excel-cached value of those five was found (the corpus's only
CHAR cells are in the Mac book), so that choice is documented, not verified. Its CODE of a
character outside Windows-1252 is #VALUE!; Excel's is 63, the code of "?" (the replacement
character of the conversion; forum reports of Excel on Windows, e.g. CODE of "ɸ" is 63: not
Microsoft's wording, and not in the corpus).

The rewrite, for every formula of a book (:func:`charset_rewrite`); a literal argument
(``CHAR(10)``, ``CHAR(200)``, ``CODE("Ä")``) is answered at once (``UNICHAR(200's code point)``,
the number), the common case, so only calls of cells and expressions carry a table:

* ``CHAR(x)`` in a Mac book: ``LET(c,CHAR(x),IF(CODE(c)<128,c,MID("ÄÅÇ…",CODE(c)-127,1)))``,
  the text holding the Mac characters of bytes 128-255. IronCalc's CHAR still
  reads ``x`` (truncated; text numbers, logicals; #VALUE! outside 1-255; errors passed on) and
  its CODE gives back the byte of its own character. In a Windows book CHAR is left as written.
* ``CODE(t)`` in a Mac book: ``LET(f,LEFT(t,1),u,UNICODE(f),IF(u<128,u,IFERROR(FIND(f,"ÄÅÇ…")+127,63)))``,
  the text Mac OS Roman's upper half (FIND is case-sensitive: the character itself); LEFT reads ``t`` as CODE does (a number as its text, TRUE as "TRUE",
  an error passed on, empty text giving UNICODE's #VALUE!, Excel's CODE("")). In a Windows
  book the engine's CODE (Windows-1252) is kept and only its failure on non-empty text, a
  first character outside the page, becomes 63:
  ``LET(x,t,u,CODE(x),IF(ISERROR(u),IF(OR(ISERROR(x),LEN(x)=0),u,63),u))``.
* UNICODE and UNICHAR are Unicode on every platform: the code point of a CHAR result is the
  character's own (the Mac book caches ``UNICODE(CHAR(128))`` 196, the code point of "Ä").

Calls inside an array formula are lifted element by element first
(:mod:`addin.headless.lifting`), so the rewrite sees one value per call.
"""

from __future__ import annotations

import math
import re
from functools import cache

from openpyxl.formula.tokenizer import Token

from addin.headless.formula import Call, formula, parse, render, rewrite_calls, significant
from addin.headless.letnames import LetNames

#: The code pages: Python's codec names.
MAC, WINDOWS = "mac_roman", "cp1252"
#: The bytes Windows-1252 leaves undefined; Windows maps each to the C1 control of its number.
UNDEFINED_1252 = frozenset((0x81, 0x8D, 0x8F, 0x90, 0x9D))
#: What CODE gives for a character outside the code page: "?" (module docstring).
NOT_IN_CODE_PAGE = 63

_CALLS = re.compile(r"(?<![\w.])(CHAR|CODE)\s*\(", re.I)


def code_page(application: str | None) -> str:
    """The code page of CHAR and CODE for a book saved by ``application`` (``docProps/app.xml``'s
    ``<Application>``; None when the file does not say): Mac OS Roman for Excel for Mac,
    Windows-1252 otherwise."""
    return MAC if application is not None and "macintosh" in application.lower() else WINDOWS


def character(byte: int, page: str) -> str:
    """The character of ``byte`` (1-255) in ``page``, as the platform's Excel gives it."""
    if page == WINDOWS and byte in UNDEFINED_1252:
        return chr(byte)
    return bytes([byte]).decode(page)


@cache
def upper_half(page: str) -> tuple[int, ...]:
    """The Unicode code points of bytes 128-255 in ``page``."""
    return tuple(ord(character(b, page)) for b in range(128, 256))


def byte_of(ch: str, page: str) -> int:
    """CODE of the character ``ch`` in ``page``: its byte, 63 outside the page."""
    if ord(ch) < 128:
        return ord(ch)
    half = upper_half(page)
    return half.index(ord(ch)) + 128 if ord(ch) in half else NOT_IN_CODE_PAGE


def _table(page: str) -> str:
    """The page's characters 128-255 as one text literal (one token to parse, where an array
    constant of 128 numbers cost the tokenizer time quadratic in its length); none is ``"``."""
    return '"' + "".join(chr(u) for u in upper_half(page)) + '"'


def needs_charset(text: str) -> bool:
    """Cheap test before tokenising: the formula calls CHAR or CODE."""
    return _CALLS.search(text) is not None


def charset_rewrite(text: str, page: str) -> str:
    """``text`` with CHAR (in a Mac book) and CODE computed in ``page`` (module docstring)."""
    nodes = parse(text)
    fresh = LetNames(text)

    def in_page(node: Call) -> str | None:
        if len(node.args) != 1 or not render(node.args[0]).strip():
            return None  # a wrong number of arguments: the formula engine's own error
        arg = render(node.args[0])
        sig = significant(node.args[0])
        literal = sig[0] if len(sig) == 1 and isinstance(sig[0], Token) and sig[0].type == Token.OPERAND else None
        if node.key == "CHAR" and page != WINDOWS:
            if literal is not None and literal.subtype == Token.NUMBER:
                # CHAR(10), CHAR(160): the character known now, no table in the formula
                n = math.trunc(float(literal.value))
                return f"UNICHAR({ord(character(n, page))})" if 128 <= n <= 255 else None
            c = fresh("ch")
            return f"LET({c},CHAR({arg}),IF(CODE({c})<128,{c},MID({_table(page)},CODE({c})-127,1)))"
        if node.key == "CODE":
            if literal is not None and literal.subtype == Token.NUMBER:
                return None  # a number's text starts with a digit, "-" or ".": ASCII everywhere
            if literal is not None and literal.subtype == Token.TEXT:
                typed = literal.value[1:-1].replace('""', '"')
                return str(byte_of(typed[0], page)) if typed else None  # CODE(""): the engine's #VALUE!
            if page == WINDOWS:
                # the engine's CODE is Windows-1252's; where it fails on text that is not empty,
                # the first character is outside the page: 63 (no table in the formula)
                x, u = fresh("cx"), fresh("co")
                return f"LET({x},{arg},{u},CODE({x}),IF(ISERROR({u}),IF(OR(ISERROR({x}),LEN({x})=0),{u},{NOT_IN_CODE_PAGE}),{u}))"
            f, u = fresh("cf"), fresh("co")
            return (
                f"LET({f},LEFT({arg},1),{u},UNICODE({f}),"
                f"IF({u}<128,{u},IFERROR(FIND({f},{_table(page)})+127,{NOT_IN_CODE_PAGE})))"
            )
        return None

    return formula(nodes) if rewrite_calls(nodes, in_page) else text
