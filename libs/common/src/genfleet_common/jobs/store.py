"""Each job's status in a JetStream KV bucket, so any gateway or replica answers for any job.

Keys: `<noun>.<id>` the status; `running.<model>.app<N>` the id of the app's job in progress
(created atomically: a second start is refused, whichever replica it reaches);
`history.<model>.app<N>` the app's job ids, newest first. Updates are revision-checked, so a
stop and a worker picking the job never overwrite each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import Busy, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import JobStatus

HISTORY_LENGTH = 50
S = TypeVar("S", bound=JobStatus)
_enc = msgspec.json.Encoder()
_ids = msgspec.json.Decoder(list[str])


def _app_key(kind: str, model: str, app: int) -> str:
    # model names hold only [A-Za-z0-9._-] (the registry checks), all valid in KV keys
    return f"{kind}.{model}.app{app}"


class JobStore(Generic[S]):
    def __init__(self, kv: KeyValue, status_type: type[S], noun: str, key: str) -> None:
        self.kv = kv
        self.noun = noun  # "scan", "load test", ...: in messages
        self._prefix = key  # "scan", "perf", ...: the kind's name, in keys
        self._decode = msgspec.json.Decoder(status_type)

    async def get(self, job_id: str) -> S:
        return (await self._entry(job_id))[0]

    async def _entry(self, job_id: str) -> tuple[S, int]:
        try:
            entry = await self.kv.get(f"{self._prefix}.{job_id}")
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(f"no {self.noun} {job_id}") from exc
        assert entry.value is not None and entry.revision is not None
        return self._decode.decode(entry.value), entry.revision

    async def create(self, status: S) -> None:
        """Record a new job and claim its app; Busy when the app has one in progress."""
        key = _app_key("running", status.model, status.app)
        try:
            await self.kv.create(key, status.job_id.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            running = await self.running(status.model, status.app)
            raise Busy(
                f"a {self.noun} of {status.model}/app{status.app} is already running ({running})"
            ) from None
        await self.kv.put(f"{self._prefix}.{status.job_id}", _enc.encode(status))
        await self._add_history(status)

    async def running(self, model: str, app: int) -> str | None:
        try:
            entry = await self.kv.get(_app_key("running", model, app))
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def release(self, status: S) -> None:
        """The app may have a new job (this one is over)."""
        if await self.running(status.model, status.app) == status.job_id:
            await self.kv.delete(_app_key("running", status.model, status.app))

    async def update(self, job_id: str, change: Callable[[S], S | None]) -> S:
        """Apply `change` to the current status, retrying on a concurrent update.
        `change` returns None to leave the status as it is."""
        while True:
            current, revision = await self._entry(job_id)
            changed = change(msgspec.structs.replace(current))
            if changed is None:
                return current
            try:
                await self.kv.update(
                    f"{self._prefix}.{job_id}", _enc.encode(changed), last=revision
                )
                return changed
            except nats.js.errors.KeyWrongLastSequenceError:
                continue

    async def history(self, model: str, app: int) -> list[S]:
        found = []
        for job_id in await self._history_ids(model, app):
            try:
                found.append(await self.get(job_id))
            except NotFound:
                continue
        return found

    async def latest(self, model: str, app: int) -> S | None:
        """The app's newest job, or None when it never had one."""
        for job_id in await self._history_ids(model, app):
            try:
                return await self.get(job_id)
            except NotFound:  # expired from the bucket: an older one may remain
                continue
        return None

    async def latest_per_app(self, fleet: Fleet, model: str | None = None) -> dict[str, S]:
        """Each app's newest job keyed "Model/appN", of the fleet or one model (NotFound for
        an unknown model); apps that never had a job are absent."""
        apps = list(fleet.model(model).apps) if model else fleet.apps()
        found = await asyncio.gather(*(self.latest(a.model, a.number) for a in apps))
        return {a.key: s for a, s in zip(apps, found, strict=True) if s is not None}

    async def _history_ids(self, model: str, app: int) -> list[str]:
        try:
            entry = await self.kv.get(_app_key("history", model, app))
        except nats.js.errors.KeyNotFoundError:
            return []
        return _ids.decode(entry.value or b"[]")

    async def _add_history(self, status: S) -> None:
        key = _app_key("history", status.model, status.app)
        while True:
            try:
                entry = await self.kv.get(key)
                ids, last = _ids.decode(entry.value or b"[]"), entry.revision
            except nats.js.errors.KeyNotFoundError:
                ids, last = [], None
            ids = [status.job_id, *ids][:HISTORY_LENGTH]
            try:
                if last is None:
                    await self.kv.create(key, _enc.encode(ids))
                else:
                    await self.kv.update(key, _enc.encode(ids), last=last)
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                continue
