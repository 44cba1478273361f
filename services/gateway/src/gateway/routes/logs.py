"""The log follow WebSocket: an app's container logs, live.

The gateway picks the follow's stream id and subscribes to its subject before it asks
container-svc to start the follow, so the first chunk (the tail) cannot be missed. Every
LogChunk is forwarded as one JSON text frame, as container-svc sent it. The last chunk has
`end: true` and a `reason`; the socket then closes with 1000 and that reason. When the
client goes away first, the gateway sends `container.logs_unfollow`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Mapping

import msgspec
import nats.errors
from fastapi import FastAPI
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from starlette.websockets import WebSocket

from gateway.auth import Role, authenticate_ws
from gateway.commands import decode
from gateway.context import Context
from gateway.envelope import log
from gateway.routes.events import parse_int, until_disconnect
from gateway.wsutil import close, close_with_error
from genfleet_common import subjects
from genfleet_common.errors import GenFleetError, InvalidInput, ServiceUnavailable
from genfleet_common.fleet import validate_app_number, validate_model_name
from genfleet_common.messages import FollowReply, FollowRequest, UnfollowRequest

DEFAULT_TAIL = 100
MAX_TAIL = 10_000
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class _End(msgspec.Struct):
    end: bool = False
    reason: str = ""


def follow_query(model: str, app: str, params: Mapping[str, str]) -> FollowRequest:
    validate_model_name(model)
    try:
        number = validate_app_number(int(app))
    except ValueError:
        raise InvalidInput(f"invalid app number {app[:40]!r}") from None
    service = params.get("service") or None
    if service is not None and not _SERVICE.fullmatch(service):
        raise InvalidInput(f"invalid service name {service[:40]!r}")
    tail = parse_int(params, "tail")
    tail = DEFAULT_TAIL if tail is None else tail
    if not 0 <= tail <= MAX_TAIL:
        raise InvalidInput(f"tail must be 0..{MAX_TAIL}")
    return FollowRequest(
        model=model, app=number, service=service, tail=tail, stream_id=secrets.token_hex(8)
    )


def register(app: FastAPI, ctx: Context) -> None:
    @app.websocket("/api/apps/{model}/{app}/logs/follow")
    async def follow(ws: WebSocket, model: str, app: str) -> None:
        """Query: token, service (default: all), tail (default 100). Frames: LogChunk."""
        await ws.accept()
        if await authenticate_ws(ws, Role.VIEWER) is None:
            return
        ended = asyncio.Event()
        end = _End()

        async def forward(msg: Msg) -> None:
            nonlocal end
            if ended.is_set():
                return
            try:
                await ws.send_text(msg.data.decode())
                chunk = decode(msg.data, _End)
            except Exception:  # the client went away mid-send, or a chunk we cannot read
                ended.set()
                return
            if chunk.end:
                end = chunk
                ended.set()

        subs: list[Subscription] = []
        try:
            request = follow_query(model, app, ws.query_params)
            nc = ctx.bus.nc
            try:
                subs.append(await nc.subscribe(subjects.log_stream(request.stream_id), cb=forward))
            except nats.errors.Error as exc:
                raise ServiceUnavailable(f"the message bus (NATS) failed: {exc}") from exc
            raw = await ctx.commands.call(subjects.CONTAINER_LOGS_FOLLOW, request)
            reply = decode(raw, FollowReply)
            if reply.subject != subjects.log_stream(request.stream_id):
                # a container-svc that ignores the requested id: its subject, late but usable
                subs.append(await nc.subscribe(reply.subject, cb=forward))
        except GenFleetError as err:
            await _unsubscribe(subs)
            await close_with_error(ws, err)
            return
        except Exception:
            log.exception("log follow failed", extra={"model": model, "app": app})
            await _unsubscribe(subs)
            await close(ws, 1011, "internal error")
            return
        try:
            await until_disconnect(ws, ended)
        finally:
            if end.end:
                await close(ws, 1000, end.reason or "follow ended")
            else:  # the client left (or could not be written to): stop the follow
                with contextlib.suppress(GenFleetError):
                    await ctx.commands.call(
                        subjects.CONTAINER_LOGS_UNFOLLOW,
                        UnfollowRequest(stream_id=reply.stream_id),
                        timeout_s=5.0,
                    )
            await _unsubscribe(subs)


async def _unsubscribe(subs: list[Subscription]) -> None:
    for sub in subs:
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()
