"""Tokens: an admin creates tokens for people and programs, and revokes them by id."""

from __future__ import annotations

import time
from enum import Enum
from typing import Annotated

import msgspec
from fastapi import Depends, FastAPI
from msgspec import Meta
from starlette.responses import Response

from gateway.auth import MAX_TTL_S, Principal, Role, create_token, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from genfleet_common.errors import InvalidInput
from genfleet_common.messages import Revocation
from genfleet_common.tokens import TOKEN_ID_RE, token_id


class TokenRequest(msgspec.Struct, kw_only=True):
    """A token to make: for whom, which role, how long."""

    sub: Annotated[
        str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
    ]
    role: Role = Role.VIEWER
    ttl_s: Annotated[int, Meta(ge=60, le=MAX_TTL_S)] = 30 * 24 * 3600  # seconds valid


REQUEST = JsonBody(TokenRequest)


class TokenInfo(msgspec.Struct, kw_only=True):
    token: str
    token_id: str  # what `POST /api/tokens/{token_id}/revoke` names
    role: Role
    sub: str
    expires_at: int  # Unix time


def checked_id(token_id: str) -> str:
    if not TOKEN_ID_RE.fullmatch(token_id):
        raise InvalidInput(f"a token id is 16 hex digits, not {token_id[:40]!r}")
    return token_id


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["auth"]

    @app.post(
        "/api/tokens",
        tags=tags,
        dependencies=[Depends(require(Role.ADMIN))],
        responses=answers(TokenInfo, 400, 401, 403, 422),
        openapi_extra=REQUEST.doc,
    )
    async def tokens(body: Annotated[TokenRequest, Depends(REQUEST)]) -> Response:
        """Create a token (admin only). `POST /api/tokens/{token_id}/revoke` ends it early."""
        now = int(time.time())
        token = create_token(ctx.settings.secret_key, body.sub, body.role, body.ttl_s, now=now)
        return ok(
            TokenInfo(
                token=token,
                token_id=token_id(token),
                role=body.role,
                sub=body.sub,
                expires_at=now + body.ttl_s,
            )
        )

    @app.post(
        "/api/tokens/{token_id}/revoke",
        tags=tags,
        responses=answers(Revocation, 401, 403, 422, 503),
    )
    async def revoke(
        token_id: str, who: Annotated[Principal, Depends(require(Role.ADMIN))]
    ) -> Response:
        """Revoke a token by its id (admin only): every gateway refuses it from now on, on
        every request and WebSocket. Revoking an id twice is harmless."""
        revocation = Revocation(token_id=checked_id(token_id), by=who.sub)
        await ctx.revocations.revoke(revocation)
        return ok(revocation)

    @app.get(
        "/api/tokens/revoked",
        tags=tags,
        dependencies=[Depends(require(Role.ADMIN))],
        responses=answers(list[Revocation], 401, 403, 503),
    )
    async def revoked() -> Response:
        """Every revoked token id, oldest first (admin only)."""
        return ok(await ctx.revocations.list())
