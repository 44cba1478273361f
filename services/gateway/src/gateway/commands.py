"""Bus commands as the gateway sends them: the reply's data comes back as raw JSON bytes.

`Bus.request` decodes a reply into typed Structs; the gateway mostly passes data through to
the client unchanged, so it decodes only the reply's envelope and keeps `data` as
`msgspec.Raw`. Errors are the same typed errors `Bus.request` raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
import nats.errors
from nats.aio.msg import Msg

from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import (
    ActionTimeout,
    GenFleetError,
    ServiceUnavailable,
    error_from_code,
)
from genfleet_common.messages import Empty, ErrorInfo
from genfleet_common.metrics import observed_request

T = TypeVar("T")

# A container command that may run long (one app's start waits for its health: minutes) is
# watched: when no container-svc answers at all any more (it died), the caller hears so within
# seconds instead of at the end of the long timeout. One started again meanwhile cannot
# answer the lost request either; then the timeout still ends it.
WATCH_AFTER_S = 15.0
WATCH_EVERY_S = 2.0
_WATCHED = subjects.command(subjects.CONTAINER, "")


class RawReply(msgspec.Struct, kw_only=True):
    ok: bool
    data: msgspec.Raw = msgspec.Raw(b"null")
    error: ErrorInfo | None = None


_reply_decoder = msgspec.json.Decoder(RawReply)
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decode(raw: msgspec.Raw | bytes, typ: type[T]) -> T:
    """Decode part of a reply into a (usually slim) Struct; unknown fields are skipped."""
    dec = _decoders.get(typ)
    if dec is None:
        dec = _decoders[typ] = msgspec.json.Decoder(typ)
    result: T = dec.decode(raw)
    return result


class Commands:
    def __init__(self, bus: Bus, timeout_s: float) -> None:
        self.bus = bus
        self.timeout_s = timeout_s

    async def call(
        self, subject: str, request: msgspec.Struct, *, timeout_s: float | None = None
    ) -> msgspec.Raw:
        """Send a command; its reply's `data` as raw JSON, or the typed error it reported."""
        with observed_request(subject):
            return await self._call(subject, request, timeout_s)

    async def _call(
        self, subject: str, request: msgspec.Struct, timeout_s: float | None
    ) -> msgspec.Raw:
        nc = self.bus.nc
        if not nc.is_connected:
            raise ServiceUnavailable("the message bus (NATS) is not reachable")
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            pending = nc.request(subject, encode(request), timeout=timeout)
            if timeout > WATCH_AFTER_S and subject.startswith(_WATCHED):
                msg = await self._watched(subject, pending)
            else:
                msg = await pending
        except nats.errors.NoRespondersError as exc:
            service = subject.split(".")[2] if subject.count(".") >= 3 else subject
            raise ServiceUnavailable(
                f"{service}-svc is not running (no service answers {subject})"
            ) from exc
        except nats.errors.TimeoutError as exc:
            raise ActionTimeout(f"no answer on {subject} within {timeout:g} s") from exc
        except nats.errors.Error as exc:  # connection closed or draining
            raise ServiceUnavailable(f"the message bus (NATS) failed: {exc}") from exc
        try:
            reply = _reply_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            raise GenFleetError(f"undecodable reply on {subject}: {exc}") from exc
        if not reply.ok:
            err = reply.error or ErrorInfo(code="internal", message="error reply without error")
            raise error_from_code(err.code, err.message, err.detail)
        return reply.data

    async def _watched(self, subject: str, pending: Awaitable[Msg]) -> Msg:
        """The reply, unless container-svc is gone meanwhile (ServiceUnavailable)."""
        task = asyncio.ensure_future(pending)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=WATCH_EVERY_S)
                if done:
                    return task.result()
                if await self._none_answers(subjects.CONTAINER_FLEET):
                    raise ServiceUnavailable(
                        f"container-svc stopped while it worked on {subject}: what it did is"
                        " unknown; read the app's status"
                    )
        finally:
            task.cancel()

    async def _none_answers(self, subject: str) -> bool:
        """True only when the server says nobody serves `subject` (a slow answer, or a bus
        that is away, says nothing about the service)."""
        try:
            await self.bus.nc.request(subject, encode(Empty()), timeout=WATCH_EVERY_S)
        except nats.errors.NoRespondersError:
            return True
        except (nats.errors.Error, TimeoutError):
            return False
        return False
