"""Where batches live: the `genfleet-batches` KV bucket, read by any gateway, written by
container-svc (which runs them).

Keys: `batch.<id>` a BatchStatus; `recent` the newest batches' ids, newest first. Entries
expire after a week: a batch is an operation, not a record to keep.
"""

from __future__ import annotations

import asyncio

import msgspec
from nats.js.kv import KeyValue

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Conflict, NotFound
from genfleet_common.jobs.records import Records, prepend_id, read_ids
from genfleet_common.messages import BatchStatus

RECENT_KEY = "recent"
RECENT_LENGTH = 50
TTL_S = 7 * 24 * 3600.0


async def batches_kv(bus: Bus) -> KeyValue:
    return await bus.ensure_kv(subjects.BATCHES_BUCKET, ttl_s=TTL_S)


class BatchStore(Records[BatchStatus]):
    def __init__(self, kv: KeyValue, *, outage_s: float = 0) -> None:
        # outage_s: see Records; container-svc, which runs batches, waits out a bus restart
        super().__init__(kv, BatchStatus, "batch", "batch", outage_s=outage_s)

    async def add(self, status: BatchStatus) -> None:
        """Record a new batch; Conflict when its id is taken (a caller's own id, reused)."""
        if not await self.put_new(status.batch_id, status):
            raise Conflict(f"batch id {status.batch_id} is taken: choose another")
        await prepend_id(self.kv, RECENT_KEY, status.batch_id, RECENT_LENGTH)

    async def recent(self, limit: int) -> list[BatchStatus]:
        """The newest batches, newest first, without their per-app results (a list of
        fleet-wide batches would be megabytes)."""
        ids = (await read_ids(self.kv, RECENT_KEY))[:limit]
        found = await asyncio.gather(*(self._summary(i) for i in ids))
        return [s for s in found if s is not None]

    async def _summary(self, batch_id: str) -> BatchStatus | None:
        try:
            status = await self.get(batch_id)
        except NotFound:  # expired
            return None
        return msgspec.structs.replace(status, results=[])
