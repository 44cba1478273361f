"""The event WebSocket: container events from the EVENTS stream, live and resumable.

Each client gets its own JetStream ordered push consumer, filtered on the server by
`subjects.event_filter(kind, model, app)`. Without `since` it starts with new events; with
`since=N` at stream sequence N+1, so a client that reconnects with the last `seq` it saw
misses nothing the stream still holds (events older than the stream's retention are gone:
a jump in `seq` shows that). Flow control makes the server wait for a slow client instead
of dropping events. The consumer is deleted when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

import msgspec
import nats.errors
import nats.js.errors
from fastapi import FastAPI
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from starlette.websockets import WebSocket

from gateway.auth import Role, authenticate_ws
from gateway.context import Context
from gateway.envelope import log
from gateway.wsutil import close_with_error
from genfleet_common import subjects
from genfleet_common.errors import GenFleetError, InvalidInput, ServiceUnavailable
from genfleet_common.fleet import validate_app_number, validate_model_name

KINDS = (
    "status", "action", "batch", "engine", "platform", "scan", "perf", "analysis", "campaign",
    "spectest",
)  # fmt: skip


class Frame(msgspec.Struct):
    seq: int
    subject: str
    event: msgspec.Raw  # the event exactly as it was published


_encoder = msgspec.json.Encoder()


def parse_int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, not {raw[:40]!r}") from None


def event_query(params: Mapping[str, str]) -> tuple[str, int | None]:
    """The filter subject and the `since` sequence of an /api/events query."""
    kind = params.get("kind") or "*"
    if kind != "*" and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind[:40]!r}")
    model = params.get("model") or None
    if model is not None:
        validate_model_name(model)
    app = parse_int(params, "app")
    if app is not None:
        validate_app_number(app)
        if model is None:
            raise InvalidInput("app needs model")
    since = parse_int(params, "since")
    if since is not None and since < 0:
        raise InvalidInput("since must be >= 0")
    return subjects.event_filter(kind, model, app), since


async def subscribe_events(
    js: JetStreamContext,
    subject: str,
    since: int | None,
    cb: Callable[[Msg], Awaitable[None]],
) -> JetStreamContext.PushSubscription:
    if since is None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    else:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=since + 1
        )
    try:
        return await js.subscribe(
            subject,
            stream=subjects.EVENTS_STREAM,
            cb=cb,
            ordered_consumer=True,
            config=config,
        )
    except nats.js.errors.NotFoundError as exc:
        raise ServiceUnavailable("the events stream does not exist (yet)") from exc
    except (nats.errors.Error, TimeoutError) as exc:
        raise ServiceUnavailable(f"cannot read the events stream: {exc}") from exc


async def remove(js: JetStreamContext, sub: JetStreamContext.PushSubscription) -> None:
    """Unsubscribe and delete the consumer (the server would only drop it after a while)."""
    with contextlib.suppress(nats.errors.Error, TimeoutError):
        await sub.unsubscribe()
    consumer = getattr(sub, "_consumer", None)  # an ordered consumer renames it on reset
    if consumer:
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
            await js.delete_consumer(subjects.EVENTS_STREAM, consumer)


async def until_disconnect(ws: WebSocket, stop: asyncio.Event) -> None:
    """Return when the client disconnects or `stop` is set; messages from it are ignored."""

    async def receive() -> None:
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    tasks = [asyncio.create_task(receive()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def register(app: FastAPI, ctx: Context) -> None:
    @app.websocket("/api/events")
    async def events(ws: WebSocket) -> None:
        """Query: token, kind (one of KINDS), model, app (needs model),
        since (the last seq seen). Frames: {"seq", "subject", "event"}."""
        await ws.accept()
        if await authenticate_ws(ws, Role.VIEWER) is None:
            return
        gone = asyncio.Event()

        async def forward(msg: Msg) -> None:
            if gone.is_set():
                return
            try:
                frame = Frame(msg.metadata.sequence.stream, msg.subject, msgspec.Raw(msg.data))
                await ws.send_text(_encoder.encode(frame).decode())
            except Exception:  # the client went away mid-send
                gone.set()

        try:
            subject, since = event_query(ws.query_params)
            js = ctx.bus.js
            sub = await subscribe_events(js, subject, since, forward)
        except GenFleetError as err:
            await close_with_error(ws, err)
            return
        log.debug("events client", extra={"filter": subject, "since": since})
        try:
            await until_disconnect(ws, gone)
        finally:
            gone.set()
            await remove(js, sub)
