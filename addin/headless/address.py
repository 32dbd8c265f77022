"""ADDRESS's ``sheet_text`` written before the ``!`` as Excel writes it.

Microsoft, "ADDRESS function": ``sheet_text`` is "the name of the worksheet to be used as the
external reference"; its examples write ``ADDRESS(2,3,1,FALSE,"EXCEL SHEET")`` as
``'EXCEL SHEET'!R2C3`` and ``ADDRESS(1,1,,,"Sheet2")`` as ``Sheet2!$A$1``. The text is written
as a reference to that sheet is written in a formula: bare when Excel reads the name unquoted,
else in single quotes with each quote doubled (Microsoft, "Create an external reference (link)
to a cell range in another workbook": "If the name of the other worksheet or workbook contains
spaces or nonalphabetical characters, you must enclose the name (or the path) within single
quotation marks"). A leading workbook in brackets is such an external reference's book
(``[Budget.xlsx]Annual!C10:C25`` in the same page, unquoted) and not itself a reason to quote:
the whole is quoted when the book's name or the sheet's needs it. Excel's cached values agree:
a ``[Book1]Sheet1`` text bare (Excel 2013, POI's function test book), ``'*b?u*'!R[3]C[4]`` and
``!C1`` for an empty text (formulas' test book, corpus).

A name needs quotes (:func:`needs_quotes`) when it holds a character other than a letter, a
digit, ``_`` or ``.``, starts with a digit, or reads as a cell reference (A1 within the grid,
or ``R<n>C<n>``); a book's name (:func:`book_needs_quotes`) only for its characters (``[1]``,
an external link's number, is written bare). IronCalc 0.9.1 applies the sheet rule to the whole
text, so a bracket always quoted: ``'[Book1]Sheet1'!G5``. The rule is applied here where
``sheet_text`` is a text literal: ``ADDRESS(r,c,a,a1,"[Book1]Sheet1")`` becomes
``CONCATENATE("[Book1]Sheet1!",ADDRESS(r,c,a,a1))`` (the address's errors pass through
CONCATENATE); a sheet text computed at run time is left to the formula engine.
"""

from __future__ import annotations

import re

from openpyxl.formula.tokenizer import Token

from addin.headless.a1 import column_number
from addin.headless.formula import Call, render, significant

MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
_PLAIN = re.compile(r"[\w.]*", re.UNICODE)
_A1 = re.compile(r"([A-Za-z]{1,3})(\d+)")
_R1C1 = re.compile(r"[Rr]\d+[Cc]\d+")
_BOOK = re.compile(r"\[([^\[\]]*)\](.*)", re.S)


def _plain_characters(name: str) -> bool:
    """Letters, digits, ``_`` and ``.`` only (any script's letters and digits)."""
    return _PLAIN.fullmatch(name) is not None


def needs_quotes(sheet: str) -> bool:
    """Whether a sheet's name is written in single quotes in a reference (module docstring)."""
    if not sheet:
        return False
    if not _plain_characters(sheet) or sheet[0].isdigit():
        return True
    if _R1C1.fullmatch(sheet):
        return True
    m = _A1.fullmatch(sheet)
    return m is not None and column_number(m.group(1).upper()) <= MAX_COLUMNS and 1 <= int(m.group(2)) <= MAX_ROWS


def book_needs_quotes(book: str) -> bool:
    """Whether a workbook's name in brackets makes the reference quoted: its characters only."""
    return not _plain_characters(book)


def sheet_prefix(text: str) -> str:
    """``sheet_text`` as written before the ``!`` of ADDRESS's result (module docstring)."""
    m = _BOOK.fullmatch(text)
    quoted = book_needs_quotes(m.group(1)) or needs_quotes(m.group(2)) if m else needs_quotes(text)
    return "'" + text.replace("'", "''") + "'" if quoted else text


def address(node: Call) -> str | None:
    """ADDRESS with a text literal as ``sheet_text``, the sheet written by :func:`sheet_prefix`
    before the address of the first four arguments; None (left as written) otherwise."""
    if len(node.args) != 5:
        return None
    sig = significant(node.args[4])
    if len(sig) != 1 or not isinstance(sig[0], Token) or sig[0].subtype != Token.TEXT:
        return None
    text = str(sig[0].value)[1:-1].replace('""', '"')
    prefix = sheet_prefix(text) + "!"
    head = ",".join(render(a) for a in node.args[:4])
    return f'CONCATENATE("{prefix.replace(chr(34), chr(34) * 2)}",{node.name}({head}))'
