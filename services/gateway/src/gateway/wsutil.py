"""How WebSocket routes end: close codes 4000 + the HTTP status the same error would get.

4401 no/invalid/expired token, 4403 role too low, 4404 unknown model/app, 4422 bad query
value, 4503 engine, container-svc or NATS unavailable, 4504 timeout, 4500 a bug.
"""

from __future__ import annotations

import contextlib

from starlette.websockets import WebSocket, WebSocketState

from gateway.envelope import http_status
from genfleet_common.errors import GenFleetError

MAX_REASON_BYTES = 123  # a close frame's reason is at most 123 bytes of UTF-8


def close_reason(text: str) -> str:
    raw = text.encode()
    if len(raw) <= MAX_REASON_BYTES:
        return text
    return raw[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


def close_code(err: GenFleetError) -> int:
    return 4000 + http_status(err.code.value)


async def close(ws: WebSocket, code: int = 1000, reason: str = "") -> None:
    """Close unless the client already went away."""
    if ws.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):  # the client may vanish meanwhile
        await ws.close(code=code, reason=close_reason(reason))


async def close_with_error(ws: WebSocket, err: GenFleetError) -> None:
    await close(ws, close_code(err), err.message)
