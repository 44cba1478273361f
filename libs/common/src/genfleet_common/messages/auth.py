"""Who may do what, afterwards: token revocations and the audit trail of mutating calls."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from msgspec import Meta

from genfleet_common.messages.base import Message

TokenId = Annotated[str, Meta(pattern=r"^[0-9a-f]{16}$")]


class Revocation(Message, kw_only=True):
    """A token id no gateway accepts any more (KV TOKENS_BUCKET, key `revoked.<id>`)."""

    token_id: TokenId
    by: str  # the admin who revoked it (their token's sub)
    at: float = msgspec.field(default_factory=time.time)
    reason: Annotated[str, Meta(max_length=500)] = ""


class AuditRecord(Message, kw_only=True):
    """One mutating HTTP call and its outcome (stream AUDIT_STREAM)."""

    at: float  # when the call came in
    sub: str  # who: the token's sub; "" without a valid token
    token_id: str = ""
    role: str = ""
    method: str
    path: str
    status: int  # the HTTP status it got
    ms: float  # how long it took
    client: str = ""  # the peer address
