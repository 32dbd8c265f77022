"""Excel's wildcard matcher (addin.headless.wildcards) against a reference and a time bound.

Guarantee 1: on any text and pattern, :func:`compile_wildcard` agrees with ``re.fullmatch`` of
the pattern translated the way the engine translated it before (``*`` -> ``.*``, ``?`` -> ``.``,
``~x`` -> ``x``, ``re.I | re.S``); the reference is Python's own regular-expression engine, run on
small inputs where its backtracking is affordable. The alphabet is ASCII letters, the three
wildcard characters and case-sensitive non-ASCII letters whose ``re.I`` folding is one-to-one.

Guarantee 2: the audit's case (``*a*a*a*b`` over 1,000 ``a``, 161 s through ``re``) is decided,
and a linear-bounded matcher makes at most len(text) * len(pattern) steps; this test counts no
time, it checks the answer (a pattern with many stars over a long text, no match).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from addin.headless.wildcards import compile_wildcard

_TEXT = st.text(alphabet="aAbB~*?ßéÉ.\n", max_size=10)
_PATTERN = st.text(alphabet="aAbB~*?ßéÉ.", max_size=8)


def _reference(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "~" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.I | re.S)


@settings(max_examples=2000, deadline=None)
@given(_PATTERN, _TEXT)
def test_agrees_with_the_regular_expression(pattern: str, text: str) -> None:
    assert compile_wildcard(pattern).fullmatch(text) == (_reference(pattern).fullmatch(text) is not None)


def test_the_audit_pattern_is_decided() -> None:
    # /tmp audit F4: "*a*a*a*b" over 1,000 "a" took 161 s with re.fullmatch
    assert compile_wildcard("*a" * 3 + "*b").fullmatch("a" * 1000) is False
    assert compile_wildcard("*a" * 40 + "*b").fullmatch("a" * 20_000) is False
    assert compile_wildcard("*a" * 40 + "*b").fullmatch("a" * 20_000 + "b") is True


def test_escapes_and_case() -> None:
    assert compile_wildcard("~*").fullmatch("*") and not compile_wildcard("~*").fullmatch("a")
    assert compile_wildcard("a~").fullmatch("a~")
    assert compile_wildcard("~~").fullmatch("~") and not compile_wildcard("~~").fullmatch("~~")
    assert compile_wildcard("AB?").fullmatch("abc")
    assert not compile_wildcard("ß").fullmatch("SS")
