"""How the CLI reads its input files: any Unicode encoding its byte-order mark names, JSON of
bounded nesting, and a clear error (exit 2) for anything else, never a traceback."""

from __future__ import annotations

import argparse
import codecs
import json
import re
from pathlib import Path
from typing import Any

from addin.headless.values import BookError

#: Byte-order marks and their encodings, longest first (UTF-32 LE starts with UTF-16 LE's BOM).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(raw: bytes, name: str) -> str:
    """The text of a file: the encoding its BOM names (UTF-8, UTF-16, UTF-32), else UTF-8."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raw, used = raw[len(bom) :], encoding
            break
    else:
        used = "utf-8"
    try:
        return raw.decode(used)
    except UnicodeDecodeError as exc:
        raise BookError(
            f"{name}: not {used.upper()} text (byte {exc.start}); save it as UTF-8, or as UTF-16/32 with a byte-order mark"
        ) from None


def read_text(path: Path, what: str = "") -> str:
    """A text file's contents (:func:`decode`), or :class:`BookError` naming it."""
    label = f"{what} {path.name}".strip()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BookError(f"{label}: no such file") from None
    except OSError as exc:
        raise BookError(f"{label}: cannot be read ({exc.strerror})") from None
    return decode(raw, label)


def load_json(text: str, name: str) -> Any:
    """JSON text as Python values; malformed or too deeply nested JSON is :class:`BookError`.

    Python's parser stops at the interpreter's recursion limit (about 1,000 levels) with a
    RecursionError; no input the CLI reads nests more than a few levels.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise BookError(f"{name}: the JSON nests too deeply to be an input") from None
    except ValueError as exc:
        raise BookError(f"{name}: not JSON ({str(exc)[:120]})") from None


#: Scheduler address schemes clearquote's cluster runs use (dask.distributed's TCP and TLS comms).
SCHEMES = ("tcp", "tls")
_ADDRESS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})")


def scheduler_address(text: str) -> str:
    """``--scheduler``: ``tcp://HOST:PORT`` or ``tls://HOST:PORT``, checked when the arguments
    are parsed (exit 2 before anything is computed)."""
    m = _ADDRESS.fullmatch(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not SCHEME://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    if m["scheme"].lower() not in SCHEMES:
        raise argparse.ArgumentTypeError(f"scheme {m['scheme'][:20]!r} is not one of {', '.join(SCHEMES)}")
    if not 0 < int(m["port"]) < 65536:
        raise argparse.ArgumentTypeError(f"port {m['port']} is not between 1 and 65535")
    return text.strip()


#: The most local worker processes ``--workers`` starts.
MAX_WORKERS = 64


def worker_count(text: str) -> int:
    """``--workers``: a whole number from 1 to :data:`MAX_WORKERS`, checked when the arguments are parsed."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    if not 1 <= n <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{n} is not between 1 and {MAX_WORKERS}")
    return n
