"""The CLI's own argument types: ``--scheduler`` and ``--workers`` checked while the arguments
are parsed (exit 2 with a message, before any market is built). File decoding lives in
:mod:`addin.tables` (shared with the FIX host)."""

from __future__ import annotations

import argparse
import re

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
