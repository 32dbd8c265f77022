"""API tokens for the Office.js server: made once, stored only as SHA-256 hashes.

A token is 32 random bytes (``secrets.token_urlsafe``); the tokens file keeps ``user_id hash``
lines and is read at every check (so revoking is deleting a line). Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

ENV = "CLEARQUOTE_TOKENS_FILE"
_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_tokens(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            user, _, digest = line.partition(" ")
            out.append((user, digest.strip()))
    return out


def check_token(header: str) -> str | None:
    """The user id a token belongs to, or None (no tokens file, unknown token)."""
    path = os.environ.get(ENV)
    token = header.removeprefix("Bearer ").strip()
    if not path or not token or len(token) > 512 or not Path(path).is_file():
        return None
    digest = _digest(token)
    found = None
    for user, stored in read_tokens(Path(path)):
        if hmac.compare_digest(digest, stored):
            found = user
    return found


def new_token(user: str, path: Path) -> str:
    """A fresh token for ``user``, its hash appended to ``path`` (created 0600); returns the token."""
    if not _USER.fullmatch(user):
        raise ValueError(f"user: {user[:70]!r} must be 1-64 letters, digits, _ . @ -")
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(f"{user} {_digest(token)}\n")
    return token
