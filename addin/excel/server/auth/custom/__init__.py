"""Token authentication for small teams and tests (xlwings Server's ``custom`` provider).

xlwings Server imports ``auth.custom`` from the project directory before its own placeholder
(which accepts a hard-coded ``"test-token"``). Tokens are never stored: the file named by
``CLEARQUOTE_TOKENS_FILE`` holds one ``user_id sha256-hex`` line per token
(``clearquote token USER --tokens FILE`` makes one). The ``Authorization`` header carries the
token, with or without ``Bearer``. Production uses Entra ID (``XLWINGS_AUTH_PROVIDERS=["entraid"]``).
"""

from __future__ import annotations

from fastapi import status
from fastapi.exceptions import HTTPException
from xlwings_server.models import User

from addin.excel.tokens import check_token


async def validate_token(token_string: str) -> User:
    user = check_token(token_string)
    if user is None:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="clearquote: a valid token is required")
    return User(id=user, name=user)
