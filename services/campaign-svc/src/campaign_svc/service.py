"""campaign-svc wiring: settings, fleet, bus, the campaigns bucket, the step adapters, the
campaign workers, the commands, shutdown."""

from __future__ import annotations

import asyncio
import os
import socket

from campaign_svc.campaigns import Campaigns
from campaign_svc.handlers import Handlers
from campaign_svc.placement import OneHost
from campaign_svc.reports import Reports
from campaign_svc.runner import Runner
from campaign_svc.steps import Analysis, Batch, Perf, Scan, SpecTest, StepJob
from campaign_svc.store import CampaignStore, campaigns_kv
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.identities import Identity
from genfleet_common.jobs import JobWorker, jobs_stream
from genfleet_common.jobs.records import OUTAGE_S
from genfleet_common.logs import get_logger
from genfleet_common.messages import Action, CampaignJob, Step
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM
from genfleet_common.triage import TriageStore

log = get_logger("campaign")

# Campaigns one campaign-svc runs at once (more wait, QUEUED): a campaign mostly waits on jobs
CONCURRENCY = 4


class CampaignService:
    def __init__(self, settings: Settings, fleet: Fleet) -> None:
        self.settings = settings
        self.fleet = fleet
        self.name = f"{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.bus: Bus | None = None
        self.workers: list[JobWorker[CampaignJob]] = []

    async def start(self) -> Bus:
        settings = self.settings
        bus = await Bus.connect_as(settings, Identity.CAMPAIGN, name=f"campaign-svc {self.name}")
        self.bus = bus
        await bus.ensure_stream(EVENTS_STREAM)
        store = CampaignStore(await campaigns_kv(bus))
        reports = await bus.ensure_object_store(subjects.REPORTS_BUCKET)
        batches = BatchStore(await batches_kv(bus), outage_s=OUTAGE_S)
        steps: dict[Step, StepJob] = {
            Step.DEPLOY: Batch(bus, settings, batches, Action.START),
            Step.SCAN: Scan(bus, settings, reports, Step.SCAN),
            Step.DAST: Scan(bus, settings, reports, Step.DAST),
            Step.PERF: Perf(bus, settings),
            Step.ANALYSIS: Analysis(bus, settings),
            Step.SPECTEST: SpecTest(bus, settings),
        }
        runner = Runner(
            bus, store, self.fleet, settings, self.name, steps,
            teardown=Batch(bus, settings, batches, Action.STOP), placement=OneHost(),
        )  # fmt: skip
        for _ in range(CONCURRENCY):
            worker = JobWorker(
                bus, runner, CampaignJob, kind=subjects.CAMPAIGN,
                stream=jobs_stream(subjects.CAMPAIGN_JOBS_STREAM, subjects.CAMPAIGN_JOB),
                durable=subjects.CAMPAIGN_WORKERS, ack_wait_s=settings.campaign_ack_wait_s,
                max_attempts=settings.campaign_max_attempts,
            )  # fmt: skip
            await worker.start()
            self.workers.append(worker)
        campaigns = Campaigns(bus, store, self.fleet, settings, runner)
        triage = TriageStore(await bus.ensure_kv(subjects.TRIAGE_BUCKET, history=1))
        handlers = Handlers(campaigns, store, Reports(store, reports, bus, triage))
        await bus.serve_all(handlers.commands(), queue=subjects.CAMPAIGN_QUEUE)
        log.info("ready", extra={"worker": self.name})
        return bus

    async def stop(self) -> None:
        """Drain: no new commands; running campaigns go back to the queue (their jobs go on)."""
        await asyncio.gather(*(w.stop() for w in self.workers))
        if self.bus is not None:
            await self.bus.close()


async def run(settings: Settings) -> None:
    service = CampaignService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("campaign", service.start, service.stop)
