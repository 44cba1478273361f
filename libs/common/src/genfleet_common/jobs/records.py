"""Records in a JetStream KV bucket: one Struct per id under a key prefix, updated with a
revision check, and lists of ids kept newest first.

A revision-checked update reads the value with its revision and writes only if nobody wrote
in between, else reads again: two writers (a stop, a worker's progress) never overwrite each
other's change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import NotFound

T = TypeVar("T", bound=msgspec.Struct)
_enc = msgspec.json.Encoder()
_ids = msgspec.json.Decoder(list[str])


class Records(Generic[T]):
    def __init__(self, kv: KeyValue, record_type: type[T], prefix: str, noun: str) -> None:
        self.kv = kv
        self.noun = noun  # "scan", "batch", ...: in messages
        self._prefix = prefix  # in keys: "<prefix>.<id>"
        self._decode = msgspec.json.Decoder(record_type)

    def key(self, record_id: str) -> str:
        return f"{self._prefix}.{record_id}"

    async def get(self, record_id: str) -> T:
        return (await self._entry(record_id))[0]

    async def _entry(self, record_id: str) -> tuple[T, int]:
        """The record and its revision; NotFound when there is none."""
        try:
            entry = await self.kv.get(self.key(record_id))
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(f"no {self.noun} {record_id}") from exc
        assert entry.value is not None and entry.revision is not None
        return self._decode.decode(entry.value), entry.revision

    async def put(self, record_id: str, record: T) -> None:
        await self.kv.put(self.key(record_id), _enc.encode(record))

    async def put_new(self, record_id: str, record: T) -> bool:
        """Write a new record; False (nothing written) when the id is taken."""
        try:
            await self.kv.create(self.key(record_id), _enc.encode(record))
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
            try:
                await self.kv.update(self.key(record_id), _enc.encode(changed), last=revision)
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
