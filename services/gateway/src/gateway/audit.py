"""The audit trail: every mutating HTTP call (POST, PUT, PATCH, DELETE) and its outcome -
who (the token's sub and id), what (method and path), when, the status it got - goes to the
AUDIT stream. Reads are not recorded. A record that cannot be stored is logged, and the call
itself is never failed for it.

A pure ASGI middleware (not BaseHTTPMiddleware): reads pass straight through at no cost.
"""

from __future__ import annotations

import time
from typing import Any

import nats.errors
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.asgisend import StatusRecorder
from gateway.auth import AuthFailure, TokenVerifier
from gateway.context import Context
from gateway.envelope import log
from genfleet_common import subjects
from genfleet_common.bus import encode
from genfleet_common.errors import GenFleetError
from genfleet_common.messages import AuditRecord

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLISH_TIMEOUT_S = 2.0


class AuditMiddleware:
    def __init__(self, app: ASGIApp, ctx: Context, verifier: TokenVerifier) -> None:
        self.app = app
        self.ctx = ctx
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        at, started = time.time(), time.perf_counter()
        recorder = StatusRecorder(send)
        try:
            await self.app(scope, receive, recorder)
        finally:
            ms = (time.perf_counter() - started) * 1000
            record = self._record(scope, at, recorder.status, ms)
            await self._store(record)

    def _record(self, scope: Scope, at: float, status: int, ms: float) -> AuditRecord:
        sub = token_id = role = ""
        token = _bearer(scope)
        if token:
            try:
                principal = self.verifier.verify(token)
                sub, token_id, role = principal.sub, principal.jti, principal.role.value
            except AuthFailure:
                pass  # recorded as nobody: the call was refused with 401
        client = scope.get("client")
        return AuditRecord(
            at=at,
            sub=sub,
            token_id=token_id,
            role=role,
            method=scope["method"],
            path=scope["path"],
            status=status,
            ms=round(ms, 3),
            client=str(client[0]) if client else "",
        )

    async def _store(self, record: AuditRecord) -> None:
        try:
            await self.ctx.bus.js.publish(subjects.AUDIT, encode(record), timeout=PUBLISH_TIMEOUT_S)
        except (GenFleetError, TimeoutError, nats.errors.Error) as exc:
            log.warning(
                "audit record not stored",
                extra={"error": str(exc) or type(exc).__name__, "record": _short(record)},
            )


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _short(record: AuditRecord) -> dict[str, Any]:
    return {
        "sub": record.sub,
        "method": record.method,
        "path": record.path,
        "status": record.status,
    }
