"""Tokens: an admin creates tokens for people and programs."""

from __future__ import annotations

import time
from enum import Enum
from typing import Annotated

import msgspec
from fastapi import Depends, FastAPI
from msgspec import Meta
from starlette.responses import Response

from gateway.auth import MAX_TTL_S, Role, create_token, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers


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
    role: Role
    sub: str
    expires_at: int  # Unix time


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
        """Create a token (admin only). It cannot be revoked before it expires, except by
        changing the install's secret key, which ends every token."""
        now = int(time.time())
        token = create_token(ctx.settings.secret_key, body.sub, body.role, body.ttl_s, now=now)
        return ok(TokenInfo(token=token, role=body.role, sub=body.sub, expires_at=now + body.ttl_s))
