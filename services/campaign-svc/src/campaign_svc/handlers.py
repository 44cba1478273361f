"""campaign-svc's bus commands (the protocol: genfleet_common/messages/campaigns.py)."""

from __future__ import annotations

from dataclasses import dataclass

from campaign_svc.campaigns import Campaigns
from campaign_svc.reports import Reports
from campaign_svc.store import CampaignStore
from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.messages import (
    CampaignList,
    CampaignRef,
    CampaignRequest,
    CampaignStatus,
    CampaignSteps,
    DiffRequest,
    Empty,
    ReportRequest,
)

LIST_LIMIT = 100


@dataclass
class Handlers:
    campaigns: Campaigns
    store: CampaignStore
    reports: Reports

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.CAMPAIGN_START: (CampaignRequest, self.campaigns.start),
            subjects.CAMPAIGN_STATUS: (CampaignRef, self.status),
            subjects.CAMPAIGN_STEPS: (CampaignRef, self.steps),
            subjects.CAMPAIGN_LIST: (Empty, self.list),
            subjects.CAMPAIGN_PAUSE: (CampaignRef, self.pause),
            subjects.CAMPAIGN_RESUME: (CampaignRef, self.resume),
            subjects.CAMPAIGN_STOP: (CampaignRef, self.stop),
            subjects.CAMPAIGN_RERUN: (CampaignRef, self.rerun),
            subjects.CAMPAIGN_REPORT: (ReportRequest, self.reports.report),
            subjects.CAMPAIGN_DIFF: (DiffRequest, self.reports.diff),
        }

    async def status(self, ref: CampaignRef) -> CampaignStatus:
        return await self.store.get(ref.campaign_id)

    async def steps(self, ref: CampaignRef) -> CampaignSteps:
        status = await self.store.get(ref.campaign_id)
        return CampaignSteps(campaign_id=ref.campaign_id, steps=await self.store.all_steps(status))

    async def list(self, _: Empty) -> CampaignList:
        return CampaignList(campaigns=await self.store.recent(LIST_LIMIT))

    async def pause(self, ref: CampaignRef) -> CampaignStatus:
        return await self.campaigns.pause(ref.campaign_id, paused=True)

    async def resume(self, ref: CampaignRef) -> CampaignStatus:
        return await self.campaigns.pause(ref.campaign_id, paused=False)

    async def stop(self, ref: CampaignRef) -> CampaignStatus:
        return await self.campaigns.stop(ref.campaign_id)

    async def rerun(self, ref: CampaignRef) -> CampaignStatus:
        return await self.campaigns.rerun(ref.campaign_id)
