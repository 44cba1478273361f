"""Auth: HS256 JWTs signed with the install's secret key, and roles viewer < operator < admin.

HTTP routes take `Authorization: Bearer <token>`; WebSockets take `?token=<token>` (browsers
cannot set headers on a WebSocket), or the header from clients that can.
A missing, invalid, expired or revoked token is 401; a valid token whose role is too low is
403. Revoked token ids come from KV (see `revocations`), checked on every request and socket.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import msgspec
from fastapi import HTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from gateway.wsutil import close
from genfleet_common.tokens import ALGORITHM, MAX_TTL_S, TOKEN_ID_RE, Role, create_token

__all__ = ["MAX_TTL_S", "AuthFailure", "Principal", "Role", "TokenVerifier", "create_token"]

REQUIRED_CLAIMS = ["sub", "role", "iat", "exp", "jti"]


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    role: Role
    exp: int
    jti: str  # the token's id


class AuthFailure(Exception):
    """Why a token was not accepted: `status` is 401 (who are you?) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TokenVerifier:
    """Checks tokens. A token that verified once is remembered with its principal: the
    outcome depends only on the token and the key, and `exp` is checked again on every use,
    so the memo never admits a token that verification would refuse."""

    MEMO_SIZE = 4096

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the gateway needs a secret key to verify tokens")
        self._secret = secret
        self._options: Any = {"require": REQUIRED_CLAIMS}
        self._memo: dict[str, Principal] = {}
        self.revoked: set[str] = set()  # token ids; kept up to date by `revocations`

    def verify(self, token: str) -> Principal:
        """The token's principal, or AuthFailure(401)."""
        known = self._memo.get(token)
        if known is not None:
            if known.jti in self.revoked:
                raise AuthFailure(401, f"token {known.jti} was revoked")
            if known.exp > time.time():
                return known
            del self._memo[token]
            raise AuthFailure(401, "token expired")
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], options=self._options)
        except jwt.ExpiredSignatureError as exc:
            raise AuthFailure(401, "token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthFailure(401, f"invalid token: {exc}") from exc
        sub, role, exp = claims.get("sub"), claims.get("role"), claims.get("exp")
        jti = claims.get("jti")
        if (
            not isinstance(sub, str)
            or role not in _ROLES
            or not isinstance(exp, int)
            or not isinstance(jti, str)
            or not TOKEN_ID_RE.fullmatch(jti)
        ):
            raise AuthFailure(401, "invalid token: bad claims")
        if jti in self.revoked:
            raise AuthFailure(401, f"token {jti} was revoked")
        principal = Principal(sub=sub, role=Role(role), exp=exp, jti=jti)
        if len(self._memo) >= self.MEMO_SIZE:
            self._memo.clear()
        self._memo[token] = principal
        return principal

    def authorize(self, token: str | None, role: Role) -> Principal:
        """The principal if `token` is valid and its role at least `role`, else AuthFailure."""
        if not token:
            raise AuthFailure(401, "missing token")
        principal = self.verify(token)
        if principal.role.rank < role.rank:
            raise AuthFailure(403, f"needs role {role.value}, token has {principal.role.value}")
        return principal


_ROLES = frozenset(r.value for r in Role)

_BEARER_HEADERS = {"WWW-Authenticate": "Bearer"}


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if value and scheme.lower() == "bearer" else None


def _verifier(conn: HTTPConnection) -> TokenVerifier:
    verifier: TokenVerifier = conn.app.state.token_verifier
    return verifier


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets a request through with a token of at least `role`.

    It reads the header itself (no HTTPBearer sub-dependency: one level less to solve on
    every request); openapi.install documents the bearer scheme on the routes that use it.
    """

    async def dependency(conn: HTTPConnection) -> Principal:
        try:
            return _verifier(conn).authorize(bearer_token(conn), role)
        except AuthFailure as exc:
            headers = _BEARER_HEADERS if exc.status == 401 else None
            raise HTTPException(exc.status, exc.message, headers=headers) from None

    dependency.__name__ = f"require_{role.value}"
    return dependency


# WebSockets are accepted first and then closed with these codes, so that browsers (which
# see only "1006 abnormal closure" when a handshake is refused) can tell why.
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403


def ws_token(ws: WebSocket) -> str | None:
    return ws.query_params.get("token") or bearer_token(ws)


async def authenticate_ws(ws: WebSocket, role: Role) -> Principal | None:
    """After `accept`: the principal, or None once the socket is closed with 4401/4403."""
    try:
        return _verifier(ws).authorize(ws_token(ws), role)
    except AuthFailure as exc:
        code = WS_UNAUTHENTICATED if exc.status == 401 else WS_FORBIDDEN
        await close(ws, code, exc.message)
        return None
