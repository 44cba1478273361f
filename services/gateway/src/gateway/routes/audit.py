"""The audit trail, for admins: the newest mutating calls and their outcomes."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Annotated

import msgspec
import nats.js.errors
from fastapi import Depends, FastAPI, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from genfleet_common import subjects
from genfleet_common.messages import AuditRecord

MAX_LIMIT = 1000
_CHUNK = 100  # reads in flight at once
_decode = msgspec.json.Decoder(AuditRecord).decode


async def newest_records(ctx: Context, limit: int) -> list[AuditRecord]:
    """The newest `limit` records of the AUDIT stream, oldest first."""
    js = ctx.bus.js
    try:
        state = (await js.stream_info(subjects.AUDIT_STREAM)).state
    except nats.js.errors.NotFoundError:
        return []
    if not state.messages:
        return []
    first = max(state.first_seq, state.last_seq - limit + 1)
    seqs = list(range(first, state.last_seq + 1))

    async def one(seq: int) -> AuditRecord | None:
        try:
            msg = await js.get_msg(subjects.AUDIT_STREAM, seq)
        except nats.js.errors.NotFoundError:
            return None  # aged out meanwhile
        return _decode(msg.data or b"")

    found: list[AuditRecord] = []
    for start in range(0, len(seqs), _CHUNK):
        chunk = await asyncio.gather(*(one(seq) for seq in seqs[start : start + _CHUNK]))
        found += [record for record in chunk if record is not None]
    return found


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["auth"]

    @app.get(
        "/api/audit",
        tags=tags,
        dependencies=[Depends(require(Role.ADMIN))],
        responses=answers(list[AuditRecord], 401, 403, 422, 503),
    )
    async def audit(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> Response:
        """The newest mutating calls (POST): who, what, when, the status it got; oldest first
        (admin only). Kept 90 days."""
        return ok(await newest_records(ctx, limit))
