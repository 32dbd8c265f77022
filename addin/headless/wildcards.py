"""Excel's wildcard match in linear-bounded time: ``*`` any run, ``?`` one character, ``~`` escapes.

Microsoft, "Using wildcard characters in searches" (and MATCH, XMATCH match_mode 2, VLOOKUP,
COUNTIF): ``?`` is any single character, ``*`` any number of characters, ``~`` followed by
``?``, ``*`` or ``~`` is that character itself. A ``~`` ending the pattern is a ``~`` (as
before this module). The match is of the whole text, case-insensitive character by
character (so ``"ß"`` does not match ``"SS"``).

Why not a regular expression: ``*`` translated to ``.*`` makes Python's backtracking engine
exponential in the number of stars (``*a*a*a*b`` over 1,000 characters took 161 s). The
matcher here is the greedy two-pointer glob with one remembered star: each text position is
retried at most once per pattern position, so the worst case is O(len(text) * len(pattern))
steps and there is no backtracking explosion. It agrees with ``re.fullmatch`` of the
translated pattern (tests/property/test_wildcards.py).
"""

from __future__ import annotations

from dataclasses import dataclass

#: A pattern token: a literal character (folded), or one of these two markers.
_STAR = object()
_ANY = object()


def _fold(ch: str) -> str:
    """One character's case-insensitive form, as ``re.I`` compares: its lower case when that
    is one character (``"İ".lower()`` is two, so it stays)."""
    low = ch.lower()
    return low if len(low) == 1 else ch


@dataclass(frozen=True)
class Wildcard:
    """A compiled wildcard pattern; :meth:`fullmatch` tells whether a text is matched."""

    tokens: tuple[object, ...]

    def fullmatch(self, text: str) -> bool:
        """Whether the whole of ``text`` matches, in O(len(text) * len(pattern)) steps."""
        toks = self.tokens
        n, m = len(text), len(toks)
        i = j = 0
        star_j, star_i = -1, 0
        while i < n:
            if j < m and toks[j] is not _STAR and (toks[j] is _ANY or toks[j] == _fold(text[i])):
                i += 1
                j += 1
            elif j < m and toks[j] is _STAR:
                star_j, star_i = j, i  # the star first matches nothing
                j += 1
            elif star_j >= 0:
                star_i += 1  # the last star takes one more character; earlier stars need not change
                i, j = star_i, star_j + 1
            else:
                return False
        while j < m and toks[j] is _STAR:
            j += 1
        return j == m


def compile_wildcard(pattern: str) -> Wildcard:
    """The pattern's tokens: ``~x`` the literal ``x``, ``*`` and ``?`` markers, the rest literals."""
    out: list[object] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern):
            out.append(_fold(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            if not out or out[-1] is not _STAR:  # runs of stars are one star
                out.append(_STAR)
        else:
            out.append(_ANY if ch == "?" else _fold(ch))
        i += 1
    return Wildcard(tuple(out))


__all__ = ["Wildcard", "compile_wildcard"]
