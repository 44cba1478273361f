"""Each job's status in a JetStream KV bucket, so any gateway or replica answers for any job.

Keys: `<noun>.<id>` the status; `running.<model>.app<N>` the id of the app's job in progress
(created atomically: a second start is refused, whichever replica it reaches);
`history.<model>.app<N>` the app's job ids, newest first. Updates are revision-checked, so a
stop and a worker picking the job never overwrite each other.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import Busy, Conflict, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.jobs.records import Records, prepend_id, read_ids
from genfleet_common.messages import JobStatus

HISTORY_LENGTH = 50
S = TypeVar("S", bound=JobStatus)


def _app_key(kind: str, model: str, app: int) -> str:
    # model names hold only [A-Za-z0-9._-] (the registry checks), all valid in KV keys
    return f"{kind}.{model}.app{app}"


class JobStore(Records[S]):
    """get, update (revision-checked) and the rest of a record: see Records."""

    def __init__(
        self, kv: KeyValue, status_type: type[S], noun: str, key: str, *, outage_s: float = 0
    ) -> None:
        # noun: "scan", "load test", ...: in messages; key: the kind's name, in keys
        super().__init__(kv, status_type, key, noun, outage_s=outage_s)

    async def create(self, status: S) -> None:
        """Record a new job and claim its app; Busy when the app has one in progress,
        Conflict when its id (which a caller may choose) is taken."""
        key = _app_key("running", status.model, status.app)
        try:
            await self.kv.create(key, status.job_id.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            running = await self.running(status.model, status.app)
            raise Busy(
                f"a {self.noun} of {status.model}/app{status.app} is already running ({running})"
            ) from None
        if not await self.put_new(status.job_id, status):
            await self.release(status)
            raise Conflict(f"a {self.noun} with the id {status.job_id} exists: choose another")
        key = _app_key("history", status.model, status.app)
        await prepend_id(self.kv, key, status.job_id, HISTORY_LENGTH)

    async def running(self, model: str, app: int) -> str | None:
        try:
            entry = await self.outlasting(lambda: self.kv.get(_app_key("running", model, app)))
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def release(self, status: S) -> None:
        """The app may have a new job (this one is over)."""
        if await self.running(status.model, status.app) == status.job_id:
            key = _app_key("running", status.model, status.app)
            await self.outlasting(lambda: self.kv.delete(key))

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
        return await read_ids(self.kv, _app_key("history", model, app))
