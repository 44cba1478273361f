"""Bus commands as the gateway sends them: the reply's data comes back as raw JSON bytes.

`Bus.request` decodes a reply into typed Structs; the gateway mostly passes data through to
the client unchanged, so it decodes only the reply's envelope and keeps `data` as
`msgspec.Raw`. Errors are the same typed errors `Bus.request` raises.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import nats.errors

from genfleet_common import subjects, working
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import (
    ActionTimeout,
    GenFleetError,
    ServiceUnavailable,
    error_from_code,
)
from genfleet_common.messages import ErrorInfo
from genfleet_common.metrics import observed_request

T = TypeVar("T")


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
        service = subjects.namespace(subject) or subject
        try:
            # a long one ends at once if the service that took it stops (working)
            msg = await working.request(nc, subject, encode(request), timeout=timeout)
        except working.Abandoned as exc:
            raise ServiceUnavailable(
                f"{service}-svc stopped while it worked on {subject}: what it did is unknown"
                + ("; read the app's status" if service == subjects.CONTAINER else "")
            ) from exc
        except nats.errors.NoRespondersError as exc:
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
