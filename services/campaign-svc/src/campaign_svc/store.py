"""Where campaigns live: the `genfleet-campaigns` KV bucket.

    campaign.<id>                          the CampaignStatus (plan, manifest, state, counts)
    step.<id>.<model>.app<N>.<step>        one StepRecord per app x step
    recent                                 the newest campaigns' ids, newest first
    reuse.<fingerprint>                    a step result a later campaign may take over

Every write of a record is revision-checked (genfleet_common.jobs.records): a user's pause or
stop and the runner's progress never overwrite each other. Campaigns are research records:
they do not expire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Conflict, NotFound
from genfleet_common.jobs.records import OUTAGE_S, Records, prepend_id, read_ids
from genfleet_common.messages import CampaignStatus, Step, StepRecord

RECENT_KEY = "recent"
RECENT_LENGTH = 200
_enc = msgspec.json.Encoder()
_record = msgspec.json.Decoder(StepRecord)


async def campaigns_kv(bus: Bus) -> KeyValue:
    return await bus.ensure_kv(subjects.CAMPAIGNS_BUCKET)


def step_id(campaign_id: str, model: str, app: int, step: Step) -> str:
    """A step record's id (its key after "step."). Model names hold only [A-Za-z0-9._-]
    (the registry checks), all valid in KV keys."""
    return f"{campaign_id}.{model}.app{app}.{step.value}"


class CampaignStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        # campaign-svc runs campaigns: their records outlast a nats-server's restart
        self.campaigns: Records[CampaignStatus] = Records(
            kv, CampaignStatus, "campaign", "campaign", outage_s=OUTAGE_S
        )
        self.steps: Records[StepRecord] = Records(
            kv, StepRecord, "step", "campaign step", outage_s=OUTAGE_S
        )

    # --- campaigns -------------------------------------------------------------------------
    async def add(self, status: CampaignStatus, records: list[StepRecord]) -> None:
        """A new campaign with its step records; Conflict when its id is taken. The steps are
        written first: whoever reads the campaign finds every step."""
        if await self._exists(status.campaign_id):
            raise Conflict(f"campaign id {status.campaign_id} is taken: choose another")
        await self.put_steps(records)
        if not await self.campaigns.put_new(status.campaign_id, status):
            raise Conflict(f"campaign id {status.campaign_id} is taken: choose another")
        await prepend_id(self.kv, RECENT_KEY, status.campaign_id, RECENT_LENGTH)

    async def _exists(self, campaign_id: str) -> bool:
        try:
            await self.campaigns.get(campaign_id)
        except NotFound:
            return False
        return True

    async def get(self, campaign_id: str) -> CampaignStatus:
        return await self.campaigns.get(campaign_id)

    async def update(
        self, campaign_id: str, change: Callable[[CampaignStatus], CampaignStatus | None]
    ) -> CampaignStatus:
        return await self.campaigns.update(campaign_id, change)

    async def recent(self, limit: int) -> list[CampaignStatus]:
        """The newest campaigns, newest first, their manifests without the per-app entries."""
        ids = (await read_ids(self.kv, RECENT_KEY))[:limit]
        found = await asyncio.gather(*(self._summary(i) for i in ids))
        return [s for s in found if s is not None]

    async def _summary(self, campaign_id: str) -> CampaignStatus | None:
        try:
            status = await self.get(campaign_id)
        except NotFound:
            return None
        status.manifest.apps = []
        return status

    # --- steps -----------------------------------------------------------------------------
    async def put_steps(self, records: list[StepRecord]) -> None:
        for start in range(0, len(records), 200):  # bounded: a fleet has thousands
            await asyncio.gather(*(self.put_step(r) for r in records[start : start + 200]))

    async def put_step(self, record: StepRecord) -> None:
        await self.steps.put(_step_id(record), record)

    async def update_step(
        self, record: StepRecord, change: Callable[[StepRecord], StepRecord | None]
    ) -> StepRecord:
        return await self.steps.update(_step_id(record), change)

    async def all_steps(self, status: CampaignStatus) -> list[StepRecord]:
        """Every app x step of the campaign, by app (in the campaign's order), then step."""
        ids = []
        for key in status.apps:
            model, _, number = key.rpartition("/app")
            ids += [step_id(status.campaign_id, model, int(number), s) for s in status.steps]
        found: list[StepRecord] = []
        for start in range(0, len(ids), 200):
            found += await asyncio.gather(*(self.steps.get(i) for i in ids[start : start + 200]))
        return found

    # --- results a later campaign may reuse ------------------------------------------------
    async def remember(self, record: StepRecord) -> None:
        await self.kv.put(f"reuse.{record.fingerprint}", _enc.encode(record))

    async def reusable(self, fingerprint: str) -> StepRecord | None:
        try:
            entry = await self.kv.get(f"reuse.{fingerprint}")
        except nats.js.errors.KeyNotFoundError:
            return None
        return _record.decode(entry.value or b"")


def _step_id(record: StepRecord) -> str:
    return step_id(record.campaign_id, record.model, record.app, record.step)
