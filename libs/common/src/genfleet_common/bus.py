"""The bus: typed request-reply, events and JetStream resources over nats-py.

A service calls `Bus.connect`, registers handlers with `serve`, and on shutdown `close`
drains: subscriptions stop taking new messages, in-flight handlers finish, then the
connection closes. Handlers run as one task per message, so a long action never blocks a
status query arriving on the same subject.

A long command tells its caller that it still works on it (`working`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StreamConfig
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from genfleet_common import working
from genfleet_common.errors import (
    ActionTimeout,
    GenFleetError,
    InvalidInput,
    Malformed,
    ServiceUnavailable,
    error_from_code,
)
from genfleet_common.identities import Identity, client_options, configures_stream
from genfleet_common.logs import get_logger
from genfleet_common.messages import ErrorInfo, Reply
from genfleet_common.metrics import BUS_HANDLED_SECONDS, observed_request
from genfleet_common.settings import Settings

Req = TypeVar("Req", bound=msgspec.Struct)
Res = TypeVar("Res")
Handler = Callable[[Req], Awaitable[Any]]
# A service's commands: subject -> (request type, handler)
Commands = dict[str, tuple[type[Any], Handler[Any]]]

log = get_logger("bus")
_encoder = msgspec.json.Encoder()


def encode(msg: Any) -> bytes:
    return _encoder.encode(msg)


def error_reply(err: GenFleetError) -> bytes:
    info = ErrorInfo(code=err.code.value, message=err.message, detail=err.detail)
    return encode(Reply[None](ok=False, error=info))


class Bus:
    def __init__(self, nc: Client, replicas: int = 1, identity: Identity | None = None) -> None:
        self.nc = nc
        self.identity = identity  # None: connected without one (a server that checks none)
        # JetStream copies of every stream, KV and object store this bus creates: 3 on a
        # 3-node cluster, so that losing one node loses nothing
        self.replicas = replicas
        self.js: JetStreamContext = nc.jetstream()
        self._subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}

    # --- connection ------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str,
        replicas: int = 1,
        connect_timeout_s: float = 10.0,
        **options: Any,
    ) -> Bus:
        """Connect, retrying until `connect_timeout_s` (the server may still be starting).
        `url` may list several servers of a cluster, comma-separated.

        nats-py itself retries (also the first connect, with max_reconnect_attempts=-1), so
        the deadline is what bounds it.
        """
        try:
            async with asyncio.timeout(connect_timeout_s):
                nc = await nats.connect(
                    [server.strip() for server in url.split(",") if server.strip()],
                    name=name,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,  # keep trying for as long as the service lives
                    reconnect_time_wait=0.25,
                    **options,
                )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise ServiceUnavailable(f"cannot reach NATS at {url}: {exc or 'timed out'}") from exc
        return cls(nc, replicas)

    @classmethod
    async def connect_as(
        cls, settings: Settings, identity: Identity, *, name: str = "", **options: Any
    ) -> Bus:
        """Connect to settings.nats_url as `identity` (its seed, inbox, TLS: see
        `identities.client_options`); `name` says which of its processes this is."""
        bus = await cls.connect(
            settings.nats_url,
            name=name or identity.value,
            replicas=settings.nats_replicas,
            **client_options(settings, identity),
            **options,
        )
        bus.identity = identity
        return bus

    async def close(self) -> None:
        """Graceful shutdown: stop taking messages, let in-flight handlers finish, drain."""
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except (TimeoutError, nats.errors.Error):
                # the server went away: closing may find its transport closed already
                with contextlib.suppress(RuntimeError, nats.errors.Error):
                    await self.nc.close()

    # --- serving commands ------------------------------------------------------------------
    def _decoder(self, typ: type[Any]) -> msgspec.json.Decoder[Any]:
        dec = self._decoders.get(typ)
        if dec is None:
            dec = self._decoders[typ] = msgspec.json.Decoder(typ)
        return dec

    async def serve(
        self, subject: str, request_type: type[Req], handler: Handler[Req], *, queue: str
    ) -> Subscription:
        """Answer requests on `subject` with `handler`, as one member of queue group `queue`.

        Every request gets exactly one reply: the handler's result, or a typed error for a
        message that does not decode, a value that does not validate, or a handler failure.
        """
        decoder = self._decoder(request_type)

        async def on_message(msg: Msg) -> None:
            task = asyncio.create_task(self._answer(msg, decoder, handler))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        sub = await self.nc.subscribe(subject, queue=queue, cb=on_message)
        self._subs.append(sub)
        await self.nc.flush()  # the server knows the subscription before we say we serve
        return sub

    async def serve_all(self, commands: Commands, *, queue: str) -> None:
        """`serve` each of a service's commands."""
        for subject, (request_type, handler) in commands.items():
            await self.serve(subject, request_type, handler, queue=queue)

    async def _answer(
        self, msg: Msg, decoder: msgspec.json.Decoder[Any], handler: Handler[Any]
    ) -> None:
        started = time.perf_counter()
        outcome = "ok"
        notices = working.Notices.asked(self.nc, msg)
        try:
            try:
                request = decoder.decode(msg.data)
            except msgspec.ValidationError as exc:
                raise InvalidInput(f"invalid request: {exc}") from exc
            except msgspec.DecodeError as exc:
                raise Malformed(f"malformed request: {exc}") from exc
            result = await handler(request)
            payload = encode(Reply[Any](ok=True, data=result))
        except GenFleetError as err:
            payload, outcome = error_reply(err), err.code.value
        except Exception as exc:
            log.exception("handler failed", extra={"subject": msg.subject})
            payload = error_reply(GenFleetError(f"internal error: {type(exc).__name__}: {exc}"))
            outcome = "internal"
        finally:
            if notices is not None:
                notices.stop()
        if msg.reply:
            try:
                await msg.respond(payload)
            except nats.errors.Error as exc:
                log.warning("could not reply", extra={"subject": msg.subject, "error": str(exc)})
        BUS_HANDLED_SECONDS.labels(msg.subject, outcome).observe(time.perf_counter() - started)

    # --- calling commands ------------------------------------------------------------------
    async def request(
        self, subject: str, request: msgspec.Struct, reply_type: type[Res], *, timeout: float
    ) -> Res:
        """Send a command and return its typed result, or raise the typed remote error."""
        with observed_request(subject):
            try:
                raw = await working.request(self.nc, subject, encode(request), timeout=timeout)
            except nats.errors.NoRespondersError as exc:
                raise ServiceUnavailable(f"no service answers {subject}") from exc
            except nats.errors.TimeoutError as exc:
                raise ActionTimeout(f"no answer on {subject} within {timeout:g} s") from exc
            reply = self._decoder(Reply[reply_type]).decode(raw.data)  # type: ignore[valid-type]
            if not reply.ok:
                err = reply.error or ErrorInfo(code="internal", message="error reply without error")
                raise error_from_code(err.code, err.message, err.detail)
            return reply.data  # type: ignore[no-any-return]

    async def wait_ready(self, subject: str, *, timeout_s: float = 30.0) -> None:
        """Wait until some service answers on `subject` (any reply, even an error, counts)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self.nc.request(subject, b"{}", timeout=1)
                return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(f"no service answers {subject}") from exc
                await asyncio.sleep(0.05)

    # --- events ----------------------------------------------------------------------------
    async def publish(self, subject: str, message: Any) -> None:
        """Publish an event. The EVENTS stream captures it; live subscribers get it at once."""
        await self.nc.publish(subject, encode(message))

    # --- JetStream resources, created idempotently -----------------------------------------
    async def ensure_stream(self, config: StreamConfig) -> None:
        name = config.name
        assert name is not None
        if config.num_replicas is None:
            config = dataclasses.replace(config, num_replicas=self.replicas)
        try:
            await self.js.stream_info(name)
        except nats.js.errors.NotFoundError:
            await self.js.add_stream(config)
            return
        if configures_stream(self.identity, name):
            await self.js.update_stream(config)
        # else: its owner keeps its configuration (identities); this client uses it as it is

    async def ensure_kv(
        self, bucket: str, *, history: int = 1, ttl_s: float | None = None
    ) -> KeyValue:
        try:
            return await self.js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            return await self.js.create_key_value(
                bucket=bucket, history=history, ttl=ttl_s, replicas=self.replicas
            )

    async def ensure_object_store(self, bucket: str) -> ObjectStore:
        try:
            return await self.js.object_store(bucket)
        except nats.js.errors.BucketNotFoundError:
            return await self.js.create_object_store(
                bucket, config=ObjectStoreConfig(bucket=bucket, replicas=self.replicas)
            )
