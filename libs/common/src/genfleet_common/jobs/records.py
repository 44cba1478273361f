"""Records in a JetStream KV bucket: one Struct per id under a key prefix, updated with a
revision check, and lists of ids kept newest first.

A revision-checked update reads the value with its revision and writes only if nobody wrote
in between, else reads again: two writers (a stop, a worker's progress) never overwrite each
other's change.

The services that run jobs make their records outlast a nats-server's restart (`outage_s`):
nats-py holds a request while it reconnects, but one that waits longer than its timeout
fails, and a job whose progress write failed would end ERROR for no fault of its own. Such a
call is made again until the bus is back (a write that had landed before its answer was
lost is then seen by the revision check). Readers that answer users (the gateway) do not
wait: they say the bus is unavailable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Generic, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import NotFound

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")
# What a KV call raises while the nats-server is away or just back (JetStream not ready yet)
BUS_AWAY: tuple[type[BaseException], ...] = (
    TimeoutError,  # nats.errors.TimeoutError is one
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
)
OUTAGE_S = 120.0  # a job's record waits this long for the bus (a restart takes seconds)
RETRY_EVERY_S = 0.5
_enc = msgspec.json.Encoder()
_ids = msgspec.json.Decoder(list[str])


async def outlasting(call: Callable[[], Awaitable[R]], outage_s: float) -> R:
    """`call()`, made again while it fails because the bus is away, for up to `outage_s`."""
    deadline = time.monotonic() + outage_s
    while True:
        try:
            return await call()
        except BUS_AWAY:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(RETRY_EVERY_S)


class Records(Generic[T]):
    def __init__(
        self, kv: KeyValue, record_type: type[T], prefix: str, noun: str, *, outage_s: float = 0
    ) -> None:
        self.kv = kv
        self.noun = noun  # "scan", "batch", ...: in messages
        self.outage_s = outage_s  # how long a call waits for the bus to be back (see above)
        self._prefix = prefix  # in keys: "<prefix>.<id>"
        self._decode = msgspec.json.Decoder(record_type)

    async def outlasting(self, call: Callable[[], Awaitable[R]]) -> R:
        return await outlasting(call, self.outage_s)

    def key(self, record_id: str) -> str:
        return f"{self._prefix}.{record_id}"

    async def get(self, record_id: str) -> T:
        return (await self._entry(record_id))[0]

    async def _entry(self, record_id: str) -> tuple[T, int]:
        """The record and its revision; NotFound when there is none."""
        try:
            entry = await self.outlasting(lambda: self.kv.get(self.key(record_id)))
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(f"no {self.noun} {record_id}") from exc
        assert entry.value is not None and entry.revision is not None
        return self._decode.decode(entry.value), entry.revision

    async def put(self, record_id: str, record: T) -> None:
        data = _enc.encode(record)
        await self.outlasting(lambda: self.kv.put(self.key(record_id), data))

    async def put_new(self, record_id: str, record: T) -> bool:
        """Write a new record; False (nothing written) when the id is taken."""
        try:
            data = _enc.encode(record)
            await self.outlasting(lambda: self.kv.create(self.key(record_id), data))
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def update(self, record_id: str, change: Callable[[T], T | None]) -> T:
        """Apply `change` to (a copy of) the current record, again after a concurrent update.
        `change` returns None to leave the record as it is."""
        while True:
            current, revision = await self._entry(record_id)
            changed = change(msgspec.structs.replace(current))
            if changed is None:
                return current
            write = partial(
                self.kv.update, self.key(record_id), _enc.encode(changed), last=revision
            )
            try:
                await self.outlasting(write)
                return changed
            except nats.js.errors.KeyWrongLastSequenceError:
                continue


async def read_ids(kv: KeyValue, key: str) -> list[str]:
    try:
        entry = await kv.get(key)
    except nats.js.errors.KeyNotFoundError:
        return []
    return _ids.decode(entry.value or b"[]")


async def prepend_id(kv: KeyValue, key: str, record_id: str, keep: int) -> None:
    """Put `record_id` first in the id list at `key`, keeping `keep` ids (revision-checked:
    two writers both land)."""
    while True:
        try:
            entry = await kv.get(key)
            ids, last = _ids.decode(entry.value or b"[]"), entry.revision
        except nats.js.errors.KeyNotFoundError:
            ids, last = [], None
        ids = [record_id, *ids][:keep]
        try:
            if last is None:
                await kv.create(key, _enc.encode(ids))
            else:
                await kv.update(key, _enc.encode(ids), last=last)
            return
        except nats.js.errors.KeyWrongLastSequenceError:
            continue
