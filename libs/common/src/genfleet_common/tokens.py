"""API tokens: HS256 JWTs signed with the install's secret key, with a role and an id.

The gateway verifies them; the CLI mints them locally (whoever holds the secret key, which
lives in the state dir with mode 0600, is the admin of the install). The id (`jti`) is what
a revocation names (KV TOKENS_BUCKET, `revoked.<id>`); every gateway refuses a revoked id.
"""

from __future__ import annotations

import re
import secrets
import time
from enum import StrEnum

import jwt

ALGORITHM = "HS256"
MAX_TTL_S = 366 * 24 * 3600
TOKEN_ID_RE = re.compile(r"[0-9a-f]{16}")


class Role(StrEnum):
    VIEWER = "viewer"  # read everything
    OPERATOR = "operator"  # viewer + lifecycle and batch actions
    ADMIN = "admin"  # operator + creating tokens

    @property
    def rank(self) -> int:
        return {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}[self]


def create_token(
    secret: str, sub: str, role: Role | str, ttl_s: float, *, now: int | None = None
) -> str:
    """A signed token for `sub` with `role`, valid for `ttl_s` seconds from `now`."""
    if not secret:
        raise ValueError("cannot sign a token without a secret key")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be in (0, {MAX_TTL_S}]")
    iat = int(time.time()) if now is None else now
    claims = {
        "sub": sub,
        "role": Role(role).value,
        "iat": iat,
        "exp": iat + int(ttl_s),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_id(token: str) -> str:
    """The id of a token this install made, read without verifying it (for display)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims.get("jti", ""))
