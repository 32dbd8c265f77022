"""Names for the LET and LAMBDA variables the rewrites introduce, never a name the formula uses.

A rewrite that binds a value once (``LET(x, v, ...)``) or lifts a call over an array
(``LAMBDA(x, ...)``) needs a variable name. A LET or LAMBDA name shadows a defined name of the
same spelling inside its body (Microsoft, "LET function": names are "any valid name"; names in
formulas are not case-sensitive), so a fixed name such as ``_cqz1`` turned a book's own defined
name ``_cqz1`` in the same formula into the rewrite's value (the auditor's finding 5). Every
rewrite therefore draws its names from :class:`LetNames`, made from the formula it rewrites:
a drawn name is none of the identifiers the text holds (the book's names it refers to, the
names earlier rewrites bound, LET names its author wrote) and none of the book's defined names
(IronCalc 0.9.1 refuses a LET whose name is a defined name of the book, #VALUE!, even where the
formula does not refer to it), compared without regard to case, and no two draws are alike.
The book's names are given once for the book being prepared (:func:`book_names`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Identifiers as Excel spells names: a letter, underscore or backslash, then letters, digits,
#: underscores and periods (Microsoft, "Names in formulas").
_IDENTIFIER = re.compile(r"[A-Za-z_\\][\w.]*")


_BOOK: ContextVar[frozenset[str]] = ContextVar("book_names", default=frozenset())


def is_book_name(name: str) -> bool:
    """Whether ``name`` is a defined name of the book being prepared (:func:`book_names`; case-insensitive)."""
    return name.upper() in _BOOK.get()


@contextmanager
def book_names(names: Iterable[str]) -> Iterator[None]:
    """While the block runs, every :class:`LetNames` also avoids these defined names."""
    token = _BOOK.set(frozenset(n.upper() for n in names))
    try:
        yield
    finally:
        _BOOK.reset(token)


class LetNames:
    """Fresh variable names for one rewrite of ``text`` (module docstring).

    Parameters
    ----------
    text
        The formula being rewritten, as the rewrite receives it.
    """

    def __init__(self, text: str) -> None:
        self._taken = {m.group(0).upper() for m in _IDENTIFIER.finditer(text)} | _BOOK.get()
        self._drawn = 0

    def __call__(self, stem: str) -> str:
        """A new name ``_cq<stem><k>`` that the text does not hold and no earlier draw gave."""
        while True:
            self._drawn += 1
            name = f"_cq{stem}{self._drawn}"
            if name.upper() not in self._taken:
                self._taken.add(name.upper())
                return name
